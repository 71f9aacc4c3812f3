"""`dance2d serve`: a local web page (Gradio) for a song + a photo (or reference JSON) → skeleton video + zip.

Runs offline: Gradio's analytics are off, the theme's fonts are served by the page's own server, and nothing is
shared publicly (the server listens on 127.0.0.1 unless told otherwise). Every request writes into its own new
temporary folder, so requests running at the same time never touch each other's files. Needs `dance2d[web]`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from dance2d.errors import Dance2DError, Dance2DNotice

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry calls from the server
INSTALL_HINT = "pip install 'dance2d[web]'"
MAX_SAMPLES = 4
KEEP_SECONDS = 6 * 3600  # request folders older than this are removed when a new request starts


def _gradio():
    try:
        import gradio as gr
    except ImportError:
        raise Dance2DError(f"The web page needs Gradio: run {INSTALL_HINT}.") from None
    return gr


class Runner:
    """Turns one request (song, reference file, settings) into a folder of outputs; safe to call from threads."""

    def __init__(self, model: str | None = None, root: str | os.PathLike | None = None) -> None:
        self.model = model
        self.root = Path(root) if root else Path(tempfile.gettempdir()) / "dance2d-web"
        self._pipe = None
        self._lock = threading.Lock()

    def pipeline(self):
        """The model, loaded once on first use."""
        with self._lock:
            if self._pipe is None:
                from dance2d.pipeline import Dance2D

                self._pipe = Dance2D.from_pretrained(self.model)
            return self._pipe

    def new_folder(self) -> Path:
        """A new, private folder for one request (and old request folders swept away)."""
        self.root.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for old in self.root.glob("run-*"):
            try:
                if now - old.stat().st_mtime > KEEP_SECONDS:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        return Path(tempfile.mkdtemp(prefix="run-", dir=self.root))

    def reference(self, ref: str | None, folder: Path, report):
        """(reference for the pipeline, preview image (H, W, 3), notes) from an uploaded photo, video or JSON."""
        from dance2d.pipeline import default_reference_path
        from dance2d.pose import PoseSequence
        from dance2d.pose.detect import detect_reference, is_image, is_video, write_reference_json
        from dance2d.render import draw_frame, overlay

        if ref and (is_image(ref) or is_video(ref)):
            report(0.02, "finding the dancer in the photo")
            found = detect_reference(ref)
            write_reference_json(found.pose, folder / "reference.json")
            return found.pose, overlay(found.image, found.pose.keypoints[0]), found.notes
        if ref and Path(ref).suffix.lower() != ".json":
            raise Dance2DError(f"{Path(ref).name} is not a photo (png, jpg, webp), a video or an OpenPose JSON; "
                               "upload one of those.")
        seq = PoseSequence.load_openpose(ref or default_reference_path())
        seq.meta["source"] = Path(ref).name if ref else "the default reference"
        return seq, draw_frame(seq.keypoints[0], seq.canvas), []

    def run(self, song: str | None, ref: str | None, seed: float = 0, steps: float | None = None, samples: float = 1,
            keep_in_frame: bool = True, report=lambda fraction, desc: None) -> dict:
        """Generate into a new folder; returns its paths: folder, video, zip, preview, notes. keep_in_frame: pan the
        dance sideways to keep the dancer in the picture (the default, as for `generate`)."""
        from PIL import Image

        from dance2d.atomic import atomic_path
        from dance2d.music.audio import load_audio
        from dance2d.outputs import write_outputs
        from dance2d.pipeline import STEPS

        if not song:
            raise Dance2DError("No song uploaded; add a music file (wav, flac, ogg, mp3, m4a).")
        seed, steps, samples = int(seed or 0), int(steps or STEPS), int(samples or 1)
        if not 1 <= samples <= MAX_SAMPLES:
            raise Dance2DError(f"Samples must be between 1 and {MAX_SAMPLES}, not {samples}.")
        folder = self.new_folder()
        ref_pose, preview, notes = self.reference(ref, folder, report)
        with atomic_path(folder / "reference.png", suffix=".png") as tmp:
            Image.fromarray(np.asarray(preview)).save(tmp, format="PNG")
        report(0.05, "loading the model")
        pipe = self.pipeline()
        wave, sr = load_audio(song)  # decoded once: the pipeline resamples it, the video muxes it
        report(0.08, "music features")
        with warnings.catch_warnings(record=True) as said:  # the notes the CLI prints (legs completed, …)
            warnings.simplefilter("always", Dance2DNotice)
            seqs = pipe.generate((wave, sr), ref_pose, seed=seed, steps=steps, num_samples=samples, music_file=song,
                                 keep_in_frame=bool(keep_in_frame),
                                 feature_progress=lambda d, n: report(0.08 + 0.07 * d / n, "music features"),
                                 progress=lambda d, n: report(0.15 + 0.6 * d / n,  # d = 0: the music features
                                                              f"dancing: segment {max(d - 1, 0)} of {n - 1}"))
        notes = notes + [str(w.message) for w in said if issubclass(w.category, Dance2DNotice)]
        if ref:  # the upload's temporary path means nothing to the person who uploaded it: its file name does
            notes = [n.replace(str(ref), Path(ref).name) for n in notes]
        report(0.75, "writing the skeleton video")
        out = write_outputs(seqs, folder / "dance", (wave, sr), video=True, progress=False)
        report(0.95, "packing the zip")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        zip_path = folder / f"dance2d-{stamp}.zip"
        with atomic_path(zip_path, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(out.rglob("*")):
                if f.is_file():
                    z.write(f, Path("dance") / f.relative_to(out))
            for extra in ("reference.json", "reference.png"):
                if (folder / extra).exists():
                    z.write(folder / extra, extra)
        video = out / "dance.mp4" if len(seqs) == 1 else out / "sample_0" / "dance.mp4"
        report(1.0, "done")
        return {"folder": folder, "video": video, "zip": zip_path, "preview": folder / "reference.png",
                "notes": notes, "seconds": seqs[0].duration, "samples": len(seqs)}


def build_app(model: str | None = None, root: str | os.PathLike | None = None):
    """The Gradio Blocks app (not launched)."""
    from dance2d.pipeline import STEPS

    gr = _gradio()
    runner = Runner(model, root)

    def generate(song, ref, seed, steps, samples, keep, progress=gr.Progress()):  # noqa: B008 (Gradio's idiom)
        try:
            res = runner.run(song, ref, seed, steps, samples, keep, report=lambda f, d: progress(f, desc=d))
        except Dance2DError as e:
            raise gr.Error(str(e), print_exception=False) from None
        lines = [f"Done: {res['seconds']:.1f} s of dance"
                 + (f", {res['samples']} samples (the zip holds all; the video shows the first)."
                    if res["samples"] > 1 else ".")]
        lines += res["notes"]
        return str(res["preview"]), str(res["video"]), str(res["zip"]), "\n\n".join(lines)

    with gr.Blocks(title="dance2d", analytics_enabled=False) as app:
        gr.Markdown("# dance2d\nA song and a photo of the dancer → an OpenPose skeleton dance (video, JSON, poses). "
                    "Everything runs on this computer.")
        with gr.Row():
            with gr.Column(scale=1):
                song = gr.Audio(label="Song (wav, flac, ogg, mp3, m4a)", type="filepath", sources=["upload"],
                                elem_id="song")
                ref = gr.File(label="Dancer: photo, video or OpenPose JSON (empty: default pose)",
                              file_types=["image", "video", ".json"], type="filepath", elem_id="reference")
                with gr.Row():
                    seed = gr.Number(label="Seed", value=0, precision=0, elem_id="seed")
                    steps = gr.Slider(1, 50, value=STEPS, step=1, label="Sampler steps", elem_id="steps")
                    samples = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label="Samples", elem_id="samples")
                keep = gr.Checkbox(value=True, label="Keep the dancer in the picture (pan sideways like a camera)",
                                   elem_id="keep-in-frame")
                go = gr.Button("Generate dance", variant="primary", elem_id="generate")
            with gr.Column(scale=2):
                with gr.Row():
                    photo = gr.Image(label="Dancer and detected skeleton", type="filepath", interactive=False,
                                     elem_id="preview", height=420)
                    video = gr.Video(label="Skeleton dance", interactive=False, elem_id="video", height=420)
                status = gr.Markdown(elem_id="status")
                download = gr.File(label="Download all outputs (zip)", interactive=False, elem_id="download")
        go.click(generate, [song, ref, seed, steps, samples, keep], [photo, video, download, status],
                 concurrency_limit=1)
    app.dance2d_root = runner.root  # where request folders go (the only outputs the page serves)
    return app


def serve(host: str = "127.0.0.1", port: int = 7860, model: str | None = None, open_browser: bool = False,
          block: bool = True, root: str | os.PathLike | None = None):
    """Launch the page; with block=False it returns (the Gradio Blocks, its local URL) and keeps serving in the
    background until blocks.close()."""
    gr = _gradio()
    app = build_app(model, root)
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])  # system fonts: nothing to fetch
    app.queue(default_concurrency_limit=1)
    print(f"dance2d: serving on http://{host}:{port} (Ctrl+C stops it)")
    try:
        _, url, _ = app.launch(server_name=host, server_port=port, inbrowser=open_browser, share=False, quiet=True,
                               prevent_thread_lock=not block, theme=theme, footer_links=[], ssr_mode=False,
                               show_error=True, allowed_paths=[str(app.dance2d_root)])
    except OSError as e:
        raise Dance2DError(f"Cannot listen on {host}:{port} ({e}); pick another --port.") from None
    return app, url
