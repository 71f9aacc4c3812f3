"""Command line: `dance2d generate | pose | serve | render | prepare | train | evaluate`.

    dance2d generate song.mp3 --out my_dance                 # bundled model, default reference pose
    dance2d generate song.mp3 --ref me.json --samples 3 --seed 7 --out dances
    dance2d generate song.mp3 --ref photo.jpg --out my_dance  # reference pose detected in a photo (or a video)
    dance2d pose photo.jpg --out me.json                     # the reference JSON, and preview.png beside it
    dance2d serve                                            # a local web page on 127.0.0.1
    dance2d render my_dance/poses.npz --music song.mp3 --out my_dance/again.mp4
    dance2d prepare --dataset dwm --root ../shared/data/dance_with_melody --out cache/dwm
    dance2d train --cache cache/dwm --out runs/small --preset small --steps 3000
    dance2d evaluate runs/gen --dataset dwm --root ../shared/data/dance_with_melody --out results.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dance2d.errors import Dance2DError


def _show_progress(a: argparse.Namespace) -> bool:
    """Progress bars only on a terminal, and not under --quiet."""
    return not getattr(a, "quiet", False) and sys.stderr.isatty()


def _note(message: str) -> None:
    print(f"dance2d: {message}", file=sys.stderr)


def _progress_bar(desc: str, unit: str = "seg", eager: bool = False):
    """A progress(done, total) callback. The bar appears at the first update, so early errors print alone; an
    eager bar (made right before the slow part, after the checks) is drawn at once and names the music steps
    before the first segment (the pipeline's progress counts the music-feature step first)."""
    from tqdm import tqdm

    bar = None
    if eager:
        bar = tqdm(desc=desc, total=None, unit=unit, dynamic_ncols=True)
        bar.set_postfix_str("decoding music")

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(desc=desc, total=total, unit=unit, dynamic_ncols=True)
        bar.total = total
        bar.n = done
        if eager:
            bar.set_postfix_str("music features" if done == 0 else "", refresh=False)
        bar.refresh()
        if done == total:
            bar.close()

    def close() -> None:
        if bar is not None:
            bar.close()

    update.close = close
    return update


def _show_notices() -> None:
    """Print dance2d notices (Dance2DNotice warnings) as `dance2d: note: …` lines on stderr."""
    import warnings

    from dance2d.errors import Dance2DNotice

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, Dance2DNotice):
            print(f"dance2d: note: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("always", Dance2DNotice)


def cmd_generate(a: argparse.Namespace) -> None:
    import warnings

    from dance2d import validate
    from dance2d.errors import Dance2DNotice
    from dance2d.music.audio import header_duration, load_audio
    from dance2d.outputs import check_output_folder, write_outputs
    from dance2d.pipeline import Dance2D, crop, default_reference_path
    from dance2d.pose import PoseSequence
    from dance2d.threads import ThreadPolicy

    # Everything that can be checked is checked before the slow part: options, output folder, reference, sizes.
    validate.generation_options(seed=a.seed, steps=a.steps, guidance=a.guidance, num_samples=a.samples,
                                start=a.start, end=a.end, smooth=a.smooth, dynamics=a.dynamics,
                                beat_accent=a.beat_accent, ease_in=a.ease_in, max_gap=a.max_gap, fps=a.fps,
                                bpm=a.bpm, run_up=a.run_up, tempo_sync=not a.no_tempo_sync, prefix="--")
    validate.number("--threads", a.threads, lo=0, hi=1024, integer=True, example="1")
    canvas = validate.parse_canvas(a.canvas) if a.canvas else None
    model_file = a.model if a.model and Path(a.model).exists() else None  # not a bundled model's name
    inputs = [a.song, a.ref, model_file]
    out = check_output_folder(a.out, inputs)
    show = _show_progress(a)
    threads = ThreadPolicy(a.threads)
    try:
        pipe = Dance2D.from_pretrained(a.model)
        ref = _reference_argument(a.ref, a.ref_time, show)  # a photo or video runs through the pose detector
        if isinstance(ref, PoseSequence):
            if canvas is not None:
                raise Dance2DError(f"--canvas gives the image size of a JSON reference; {a.ref} is a photo or "
                                   "video whose size is known, so leave --canvas out.")
        else:
            ref = PoseSequence.load_openpose(ref or default_reference_path(), canvas=canvas)
        with warnings.catch_warnings():  # generate completes it again and says so once
            warnings.simplefilter("ignore", Dance2DNotice)
            _, ref_canvas = pipe.reference_pose(ref, fit=a.no_reframe)  # a bad reference fails before the music
        validate.canvas_size(ref_canvas, f"the reference pose {a.ref or '(default)'}", video=not a.no_video)
        seconds = header_duration(a.song)
        if seconds:
            seconds = max(0.0, min(seconds, a.end or seconds) - (a.start or 0.0))
            frames = int(seconds * (a.fps or pipe.fps)) + 1
            validate.free_space(out, validate.expected_bytes(frames, ref_canvas, a.samples, not a.no_video),
                                f"The output for {seconds:.0f} s of music")
        bar = _progress_bar("generate", "step", eager=True) if show else None
        try:
            wave, sr = load_audio(a.song)  # decoded once: the pipeline resamples it, the video muxes it
            excerpt = crop(wave, sr, a.start, a.end, a.song)  # checks the range, naming the file in errors
            seqs = pipe.generate((wave, sr), ref, seed=a.seed, steps=a.steps, sampler=a.sampler, guidance=a.guidance,
                                 start=a.start, end=a.end, num_samples=a.samples, smooth=a.smooth,
                                 reframe=not a.no_reframe, tempo_sync=not a.no_tempo_sync, beat_accent=a.beat_accent,
                                 dynamics=a.dynamics, ease_in=a.ease_in, max_gap=a.max_gap, rest=not a.no_rest,
                                 retarget=not a.no_retarget, keep_in_frame=a.keep_in_frame, progress=threads.wrap(bar),
                                 feature_progress=_progress_bar("music features", "stage") if show else None,
                                 music_file=a.song, bpm=a.bpm, run_up=a.run_up)
        finally:
            if bar is not None:
                bar.close()
    finally:
        threads.close()
    if a.fps:
        seqs = [s.resample(a.fps) for s in seqs]
    audio = None if a.no_video else (excerpt, sr)
    out = write_outputs(seqs, out, audio, video=not a.no_video, progress=show, inputs=inputs)
    print(f"wrote {len(seqs)} dance(s), {seqs[0].duration:.1f} s at {seqs[0].fps:g} fps, to {out}")


def _reference_argument(ref: str | None, ref_time: float | None, progress: bool):
    """--ref as the pipeline takes it: a photo or a video is run through the pose detector (dance2d[photo])."""
    from dance2d.pose.detect import is_image, is_video, reference_from_media

    if ref is not None and (is_image(ref) or is_video(ref)):
        return reference_from_media(ref, ref_time, progress, say=_note)
    if ref_time is not None:
        raise Dance2DError(f"--ref-time picks a frame of a video, but --ref is {ref or 'not given'}; pass a video "
                           "file as --ref or leave --ref-time out.")
    return ref


def cmd_pose(a: argparse.Namespace) -> None:
    from dance2d.pose.detect import detect_reference, write_reference_json
    from dance2d.render import write_overlay

    out = Path(a.out)
    if out.suffix.lower() != ".json":
        raise Dance2DError(f"--out {out} must be a .json file name, e.g. me.json.")
    preview = Path(a.preview) if a.preview else out.with_name("preview.png")
    found = detect_reference(a.photo, time=a.time, progress=_show_progress(a))
    for note in found.notes:
        _note(note)
    write_reference_json(found.pose, out)
    write_overlay(found.image, found.pose.keypoints[0], preview)
    seen = int((found.pose.keypoints[0, :, 2] > 0.3).sum())
    w, h = found.pose.canvas
    print(f"wrote {out} ({seen} of 18 joints seen, canvas {w}×{h}) and {preview}")


def cmd_serve(a: argparse.Namespace) -> None:
    from dance2d.web import serve

    serve(host=a.host, port=a.port, model=a.model, open_browser=a.open)


def cmd_render(a: argparse.Namespace) -> None:
    from dance2d import validate
    from dance2d.music.audio import load_audio
    from dance2d.outputs import listed_in_manifest, record_written
    from dance2d.pose import PoseSequence
    from dance2d.render import render_poses
    from dance2d.render.video import check_video_target

    seq = PoseSequence.load_npz(a.poses)
    validate.canvas_size(seq.canvas, f"pose file {a.poses}", video=True,
                         advice="use its poses.npz and OpenPose JSON without a video")
    validate.output_poses(seq.keypoints, seq.canvas, f"Pose file {a.poses}")
    out = Path(a.out) if a.out else Path(a.poses).with_name("dance.mp4")
    check_video_target(out, [a.poses, a.music], ours=listed_in_manifest(out))
    audio = load_audio(a.music, 44100) if a.music else None
    seconds = len(audio[0]) / audio[1] if audio else seq.duration
    validate.free_space(out.parent, validate.video_bytes(int(seconds * seq.fps) + 1, seq.canvas, seq.fps),
                        f"The video {out}")
    render_poses(seq.keypoints, seq.canvas, seq.fps, out, audio=audio, progress=_show_progress(a))
    record_written(out)
    print(f"wrote {out}")


def cmd_train(a: argparse.Namespace) -> None:
    from dance2d.train import TrainConfig, train

    cfg = TrainConfig(cache=a.cache, out=a.out, preset=a.preset, rope_index=a.index, reference=a.reference == "on",
                      frames=a.frames, steps=a.steps, batch=a.batch, accum=a.accum, lr=a.lr, warmup=a.warmup,
                      ema=a.ema, seed=a.seed, ckpt_every=a.ckpt_every, sample_every=a.sample_every,
                      log_every=a.log_every, tensorboard=a.tensorboard, threads=a.threads,
                      anchor=a.anchor, prediction=a.prediction, loss=a.loss or a.prediction,
                      velocity_weight=a.velocity_loss, schedule=a.schedule, init=a.init, time_limit=a.time_limit,
                      preload=a.preload, precision=a.precision,
                      overrides={k: v for k, v in (("patch_w", a.patch_w), ("head_hidden", a.head_hidden)) if v})
    path = train(cfg)
    print(f"checkpoint: {path}")


def cmd_prepare(a: argparse.Namespace) -> None:
    from dance2d.prepare import prepare

    rates = tuple(float(r) for r in a.tempo.split(","))
    path = prepare(dataset=a.dataset, root=a.root, out=a.out, split=a.split, codec=a.codec, width=a.width,
                   sigma=a.sigma, fps=a.fps, views=a.views, frames=a.frames, mirror=a.mirror, tempo_rates=rates,
                   seed=a.seed, limit=a.limit, music_dir=a.music_dir, triplets=a.triplets, tempo_to=a.tempo_to)
    print(f"cache index: {path}")


def cmd_evaluate(a: argparse.Namespace) -> None:
    from dance2d.evaluate import evaluate_command

    evaluate_command(a)


def _generate_arguments(g: argparse.ArgumentParser) -> None:
    from dance2d.checkpoint import read_config
    from dance2d.diffusion.samplers import SAMPLERS
    from dance2d.music.drive import MAX_RATE, TEMPO_RANGE
    from dance2d.pipeline import MODELS, STEPS, bundled_model_path, model_settings
    from dance2d.pose.dynamics import DB_PER_DOUBLING, MAX_GAIN, MIN_GAIN
    from dance2d.pose.gaps import GAP_S
    from dance2d.pose.sequence import EASE_IN_S

    own = {}  # the bundled models' generation settings, read from their metadata only
    for name in MODELS:
        try:
            own[name] = model_settings(read_config(bundled_model_path(name)))
        except Dance2DError:  # a missing or unreadable file is reported when it is used, not in every --help
            pass

    def bundled(key: str) -> str:
        """The bundled models' own value of a generation setting, e.g. '2.5 for raw, 4 for onehot'."""
        return ", ".join(f"{v[key]:g} for {name}" for name, v in own.items()) or "read from the model file"

    g.add_argument("song", help="music file (wav, flac, ogg, mp3, m4a)")
    g.add_argument("--ref", help="reference pose: OpenPose JSON of one frame, or a photo (png, jpg, webp) or video "
                                 "of the dancer (needs dance2d[photo]); default: the bundled pose")
    g.add_argument("--ref-time", type=float,
                   help="with a video --ref: the pose at this time in seconds (default: first frame with a person)")
    g.add_argument("--out", default="dance2d_out",
                   help="output folder (default: dance2d_out); replaces an earlier dance2d output, and refuses a "
                        "folder holding anything dance2d did not write")
    g.add_argument("--model", help="bundled model name (raw | onehot) or a checkpoint .safetensors (default: raw)")
    g.add_argument("--seed", type=int, default=0, help="random seed (sample i uses seed + i)")
    g.add_argument("--samples", type=int, default=1, help="number of dances; one sub-folder each")
    g.add_argument("--steps", type=int, default=STEPS, help=f"sampler steps (default {STEPS})")
    g.add_argument("--sampler", choices=sorted(SAMPLERS),
                   help="dpmpp_2m (DPM-Solver++ 2M, the default), ddim, or ddpm (ancestral: fresh noise at every "
                        "step, seeded by --seed)")
    g.add_argument("--guidance", type=float,
                   help="classifier-free guidance scale on the music (default: the model's own, "
                        f"{bundled('guidance')}; 1 = none)")
    g.add_argument("--start", type=float, help="start of the music excerpt in seconds")
    g.add_argument("--end", type=float, help="end of the music excerpt in seconds")
    g.add_argument("--run-up", type=float, metavar="SECONDS",
                   help="with --start, seconds of the music before it that the model dances first and the output "
                        "leaves out (default: all of it, so the excerpt is the whole song's dance cut there, which "
                        "measures far closer to real dancers than a dance started cold mid-song; 0 = start cold, "
                        "quicker)")
    g.add_argument("--fps", type=float, help="output frame rate (default: the model's)")
    g.add_argument("--smooth", type=float,
                   help="temporal Gaussian smoothing of the model's motion, in frames, before the beat and loudness "
                        f"are applied: it takes out the model's jerks (default: the model's own, {bundled('smooth')}; "
                        "0 = the model output)")
    g.add_argument("--canvas", metavar="WxH",
                   help="size in pixels of the image the reference pose was taken from, e.g. 1080x1920 (needed when "
                        "its JSON has no canvas_width/canvas_height; overrides them); also the output canvas")
    g.add_argument("--threads", type=int, default=0,
                   help="CPU threads (default 0 = one per idle core: other busy processes are left their cores)")
    g.add_argument("--no-video", action="store_true", help="skip dance.mp4 (poses, JSON and preview only)")
    g.add_argument("--no-reframe", action="store_true",
                   help="give the model the reference as framed (default: moved into the training data's framing)")
    g.add_argument("--no-retarget", action="store_true",
                   help="keep the model's bone lengths (default: every bone gets the reference's 2D length)")
    g.add_argument("--no-tempo-sync", action="store_true",
                   help="let the model keep its own pace (default: the dance is played at the song's tempo relative "
                        "to the model's home tempo, so faster songs get faster steps)")
    g.add_argument("--bpm", type=float,
                   help="the song's tempo, when the one heard is wrong or for a dance at half or double time "
                        f"(default: heard from the music, at the octave inside {TEMPO_RANGE[0]:g}-{TEMPO_RANGE[1]:g} "
                        "BPM, so a 70 BPM ballad is danced at 140; the dance plays at most "
                        f"{MAX_RATE:g}x faster or slower than the model's own pace)")
    g.add_argument("--beat-accent", type=float,
                   help="how much the dance slows into each beat and speeds up between beats: a pace of 1 - A times "
                        f"on the beat and 1 + A between (default: the model's own, {bundled('beat_accent')}; 0 = even "
                        "pace; with tempo sync)")
    g.add_argument("--dynamics", type=float,
                   help="how much louder passages quicken and enlarge the movements and quieter ones calm them: at "
                        f"strength D, 2^D times as fast per {DB_PER_DOUBLING:g} dB above the song's typical level,"
                        f" between {MIN_GAIN:g}x and {MAX_GAIN:g}x (default: the model's own, {bundled('dynamics')}; "
                        "0 = off)")
    g.add_argument("--ease-in", type=float, default=EASE_IN_S, metavar="SECONDS",
                   help=f"start from the reference pose and move into the dance over this many seconds (default "
                        f"{EASE_IN_S:g}; 0 = start with the model's first frame)")
    g.add_argument("--max-gap", type=float, default=GAP_S, metavar="SECONDS",
                   help=f"where a joint drops out of the model's dance for at most this long, bridge it from the "
                        f"frames on both sides, following its parent joint, and put back a body joint missing "
                        f"between two shown ones (default {GAP_S:g}; 0 = leave missing joints missing)")
    g.add_argument("--keep-in-frame", action=argparse.BooleanOptionalAction, default=True,
                   help="pan the dance smoothly sideways, as a camera would, where the steps would carry the body "
                        "out of the picture's width (default: on; --no-keep-in-frame lets the dancer leave it)")
    g.add_argument("--no-rest", action="store_true",
                   help="dance through silences too (default: where the music is silent for a second or more the "
                        "dancer comes to a stop and stands until it plays again)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.set_defaults(func=cmd_generate)


def _pose_arguments(po: argparse.ArgumentParser) -> None:
    po.add_argument("photo", help="photo (png, jpg, webp) or video of one person, ideally head to feet")
    po.add_argument("--out", default="reference.json", help="OpenPose JSON to write (default: reference.json)")
    po.add_argument("--preview", help="PNG of the skeleton over the photo (default: preview.png beside --out)")
    po.add_argument("--time", type=float, help="video only: the frame at this time in seconds "
                                               "(default: the first frame with a person)")
    po.add_argument("--quiet", action="store_true", help="no progress bar")
    po.set_defaults(func=cmd_pose)


def _serve_arguments(sv: argparse.ArgumentParser) -> None:
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    sv.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    sv.add_argument("--model", help="checkpoint .safetensors (default: the bundled model)")
    sv.add_argument("--open", action="store_true", help="open the page in the default browser")
    sv.set_defaults(func=cmd_serve)


def _render_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("poses", help="poses.npz written by dance2d")
    r.add_argument("--music", help="music file to mux in")
    r.add_argument("--out", help="output .mp4 (default: dance.mp4 beside the poses)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_render)


def _prepare_arguments(pr: argparse.ArgumentParser) -> None:
    from dance2d.codec import CODEC_NAMES
    from dance2d.codec.base import TRIPLET_ORDERS
    from dance2d.data import DATASETS

    pr.add_argument("--dataset", required=True, choices=list(DATASETS), help="dataset reader")
    pr.add_argument("--root", required=True, help="dataset folder")
    pr.add_argument("--out", required=True, help="cache folder")
    pr.add_argument("--split", default="train", help="train | test | all")
    pr.add_argument("--codec", default="taef2", choices=CODEC_NAMES, help="latent codec")
    pr.add_argument("--width", type=int, default=128, help="one-hot resolution W")
    pr.add_argument("--sigma", type=float, default=1.5, help="Gaussian smoothing of the one-hot vectors (bins)")
    pr.add_argument("--triplets", default="paper", choices=list(TRIPLET_ORDERS),
                    help="channel order of the one-hot image's RGB triplets: paper (x0 y0 x1 | …) or spread "
                         "(channels that often share bins kept apart: 5x fewer joints lost to a neighbour, body-18)")
    pr.add_argument("--fps", type=float, default=25.0, help="target frame rate")
    pr.add_argument("--views", type=int, default=2, help="virtual cameras per 3D clip")
    pr.add_argument("--mirror", action="store_true", help="also cache a left-right mirrored copy of every view")
    pr.add_argument("--tempo", default="1.0", help="comma-separated tempo rates, e.g. 0.9,1.0,1.1 (music+motion)")
    pr.add_argument("--tempo-to", type=float, metavar="BPM",
                    help="play every clip at this tempo before the --tempo rates, as generation plays every song to "
                         "the model at its home tempo (e.g. 125; default: each clip at its own tempo)")
    pr.add_argument("--frames", type=int, default=128, help="training window T (reference latents span T)")
    pr.add_argument("--music-dir", help="AIST++ music folder (aistpp2d only)")
    pr.add_argument("--seed", type=int, default=0, help="random seed for cameras and augmentation")
    pr.add_argument("--limit", type=int, help="use only the first N clips (quick tests)")
    pr.set_defaults(func=cmd_prepare)


def _train_arguments(t: argparse.ArgumentParser) -> None:
    from dance2d.diffusion.schedule import SCHEDULES
    from dance2d.diffusion.target import LOSS_SPACES, PREDICTIONS
    from dance2d.model.config import INDEX_MODES, PRESETS
    from dance2d.validate import PRECISIONS

    t.add_argument("--cache", required=True, help="cache folder from `dance2d prepare`")
    t.add_argument("--out", required=True, help="run folder (resumes if it holds a run)")
    t.add_argument("--preset", default="small", choices=sorted(PRESETS), help="model size")
    t.add_argument("--index", default="time_shared", choices=INDEX_MODES, help="music RoPE index")
    t.add_argument("--reference", default="on", choices=["on", "off"], help="reference-pose conditioning")
    t.add_argument("--frames", type=int, default=128, help="frames per training window T")
    t.add_argument("--patch-w", type=int, help="patch width p_w in latent rows (default: the preset's)")
    t.add_argument("--head-hidden", type=int,
                   help="width of a residual MLP in the output layer (default: none, a linear layer as in the paper); "
                        "with --init it grows a released model's head, starting from the same outputs")
    t.add_argument("--steps", type=int, default=3000, help="optimizer steps")
    t.add_argument("--batch", type=int, default=16, help="windows per step per process")
    t.add_argument("--accum", type=int, default=1, help="gradient accumulation micro-steps")
    t.add_argument("--lr", type=float, default=3e-4, help="peak learning rate")
    t.add_argument("--warmup", type=int, default=200, help="warm-up steps")
    t.add_argument("--ema", type=float, default=0.999, help="EMA decay")
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.add_argument("--log-every", type=int, default=25, help="steps between log lines")
    t.add_argument("--ckpt-every", type=int, default=250, help="steps between checkpoints")
    t.add_argument("--sample-every", type=int, default=500, help="steps between sample PNGs (0 = never)")
    t.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0 = default)")
    t.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="compute of the forward pass: auto = bf16 where the device runs it natively (CUDA, AMX or "
                        "AVX-512 BF16 CPUs), else float32; weights and optimizer stay float32")
    t.add_argument("--prediction", default="eps", choices=PREDICTIONS,
                   help="network output: eps (paper), v, or x = the clean latent (JiT; for wide latents)")
    t.add_argument("--loss", choices=LOSS_SPACES, help="space of the MSE loss (default: the prediction's)")
    t.add_argument("--velocity-loss", type=float, default=0.0,
                   help="weight of an EDGE-style loss on frame-to-frame differences of the predicted clean latent")
    t.add_argument("--schedule", default="scaled_linear", choices=SCHEDULES,
                   help="noise schedule: SD's scaled_linear (paper), or scaled_linear_low_snr, the same rescaled to "
                        "a near-zero terminal SNR (Lin et al. 2024; needs --prediction x or v)")
    t.add_argument("--init", help="warm start from a released dance2d checkpoint with the same model config")
    t.add_argument("--time-limit", type=float, default=0.0,
                   help="stop and checkpoint after this many minutes even before --steps (0 = no limit)")
    t.add_argument("--preload", action="store_true",
                   help="hold the whole cache in memory on the training device (fast on a GPU; needs the cache's "
                        "size in free memory)")
    t.add_argument("--anchor", action="store_true",
                   help="anchor the ε skip on the reference latent: ε̂ = σ(Z_τ − α Z_ref) + F")
    t.set_defaults(func=cmd_train)


def _evaluate_arguments(e: argparse.ArgumentParser) -> None:
    from dance2d.data import GT_DATASETS
    from dance2d.metrics import EvalConfig

    e.add_argument("generated", nargs="*", help="folders of generated dances (each with poses.npz files)")
    e.add_argument("--dataset", default="dwm", choices=GT_DATASETS, help="ground-truth dataset")
    e.add_argument("--root", help="ground-truth dataset folder (needed to score generated folders)")
    e.add_argument("--tempo-test", metavar="MUSIC",
                   help="music-response test: dance MUSIC stretched to 96 and 150 BPM, report the step-rate ratio")
    e.add_argument("--tempo-bpm", type=float, metavar="BPM",
                   help="the tempo test music's own tempo when you know it (default: estimated with librosa, which "
                        "can mishear a loop by 2:3)")
    e.add_argument("--tempo-start", type=float, default=0.0, metavar="SECONDS",
                   help="where in the tempo test music its excerpt starts (default 0)")
    e.add_argument("--energy-test", nargs=2, metavar=("CALM", "ENERGETIC"),
                   help="music-response test: dance 10 s of CALM spliced to 10 s of ENERGETIC, report the "
                        "motion-energy ratio after/before")
    e.add_argument("--energy-starts", nargs=2, type=float, default=(0.0, 0.0), metavar=("CALM_S", "ENERGETIC_S"),
                   help="where in CALM and in ENERGETIC their 10 s start (default 0 0)")
    e.add_argument("--dynamics", type=float,
                   help="loudness strength of the music-response tests' dances (default: the model's own)")
    e.add_argument("--framing-test", metavar="MUSIC",
                   help="reference test: dance MUSIC from the reference framed as given, off-centre, larger and "
                        "smaller; report limb-length and on-screen scale errors")
    e.add_argument("--model", help="model for the music-response tests: a name or a .safetensors (default: bundled)")
    e.add_argument("--ref", help="reference pose (OpenPose JSON) for the music-response tests")
    e.add_argument("--response-seeds", type=int, default=3, help="seeds per music-response test")
    e.add_argument("--out", default="results.json", help="JSON file for the results")
    e.add_argument("--fps", type=float, help="evaluation frame rate (default: the generated dances' own)")
    e.add_argument("--clip-seconds", type=float, help="score only the first N seconds of every sequence")
    e.add_argument("--skip-seconds", type=float, default=0.0,
                   help="score the ground truth from N seconds into every song (for dances generated with --start "
                        "N from the ground truth's pose there); songs that end within 5 s of it are left out")
    e.add_argument("--window-seconds", type=float, default=EvalConfig.window_seconds,
                   help="also score FID_k / DIV_k over windows of this length cut from every sequence (FID_k_win: "
                        f"stable with few songs); 0 skips it (default {EvalConfig.window_seconds:g})")
    e.add_argument("--labels", nargs="+", help="row names, one per generated folder (default: folder names)")
    e.add_argument("--seed", type=int, default=0, help="seed of the ground-truth virtual cameras")
    e.set_defaults(func=cmd_evaluate)


COMMANDS = {  # name: (one-line help, function adding its arguments)
    "generate": ("generate a dance for a song", _generate_arguments),
    "pose": ("detect the reference pose in a photo or video frame (needs dance2d[photo])", _pose_arguments),
    "serve": ("a local web page for generating dances (needs dance2d[web])", _serve_arguments),
    "render": ("render poses.npz as an OpenPose-style skeleton video", _render_arguments),
    "prepare": ("build a training cache (windows' latents, music features)", _prepare_arguments),
    "train": ("train a DiT on a prepared cache (works under torchrun)", _train_arguments),
    "evaluate": ("metrics of generated folders against a ground-truth split", _evaluate_arguments),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with `command`, only that sub-command gets its arguments (their defaults and choices
    import the modules that define them, numpy to torch), so `dance2d --version` and `--help` answer at once."""
    from dance2d import __version__

    p = argparse.ArgumentParser(prog="dance2d", description="Music-driven 2D dance pose generation.")
    p.add_argument("--version", action="version", version=f"dance2d {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments) in COMMANDS.items():
        parser = sub.add_parser(name, help=help_text)
        if command is None or command == name:
            add_arguments(parser)
    return p


def _command(argv: list[str]) -> str:
    """The sub-command named on a command line ("" when none is: the top-level options come before it)."""
    return next((a for a in argv if not a.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command(argv)).parse_args(argv)
    _show_notices()
    try:
        args.func(args)
    except Dance2DError as e:
        print(f"dance2d: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dance2d: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
