"""End-to-end generation benchmark: audio file → poses.npz + OpenPose JSON at default settings. Prints one JSON line.

    python benchmarks/generate.py                                # bundled model, first 180 s of a real track, 2 threads
    python benchmarks/generate.py --model runs/small/last.safetensors --seconds 60 --threads 1
    python benchmarks/generate.py --video                        # also time rendering dance.mp4 separately

The first `--seconds` of `--music` are re-encoded to a temporary .ogg, so the measure includes decoding. The
generation runs in a fresh subprocess (default sampler, steps and guidance; video off) whose peak resident
memory is read back from the kernel. Fields: seconds (music), wall_s (generate + write, model already loaded),
load_s (checkpoint load), realtime_factor = seconds / wall_s, peak_rss_mb, share_* = fractions of wall_s spent
decoding audio and computing features (music), sampling (denoise), in the codec (codec) and writing files
(writing), threads, and video_s with --video.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_MUSIC = Path(__file__).resolve().parents[2] / "shared" / "music" / "nexuiz" / "sixtyfour_.ogg"


def excerpt(src: Path, seconds: float, dst: Path) -> float:
    """Write the first `seconds` of `src` to `dst` (Ogg Vorbis); returns the excerpt's length in seconds."""
    import soundfile as sf

    with sf.SoundFile(str(src)) as f:
        data = f.read(int(round(seconds * f.samplerate)), dtype="float32", always_2d=True)  # (n, channels)
        sr = f.samplerate
    with sf.SoundFile(str(dst), "w", sr, data.shape[1], format="OGG", subtype="VORBIS") as out:
        for s in range(0, len(data), sr):  # one second per call: libsndfile's Vorbis encoder crashes on big writes
            out.write(data[s:s + sr])
    return len(data) / sr


def child(a: argparse.Namespace) -> None:
    """Inside the fresh process: load, generate, write; print the timings as JSON."""
    import torch

    torch.set_num_threads(a.threads)
    from dance2d.outputs import write_outputs
    from dance2d.pipeline import Dance2D

    t0 = time.perf_counter()
    pipe = Dance2D.from_pretrained(a.model)
    t1 = time.perf_counter()
    [seq] = pipe.generate(a.song)
    t2 = time.perf_counter()
    write_outputs([seq], a.out, None, video=False)
    t3 = time.perf_counter()
    res = {"load_s": t1 - t0, "generate_s": t2 - t1, "writing_s": t3 - t2, "frames": len(seq), **pipe.timings}
    if a.video:
        from dance2d.music.audio import load_audio
        from dance2d.render import render_poses

        t4 = time.perf_counter()
        render_poses(seq.keypoints, seq.canvas, seq.fps, Path(a.out) / "dance.mp4", audio=load_audio(a.song, 44100))
        res["video_s"] = time.perf_counter() - t4
    print(json.dumps(res))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="checkpoint .safetensors (default: the bundled model)")
    p.add_argument("--music", default=str(DEFAULT_MUSIC), help="music file whose beginning is used")
    p.add_argument("--seconds", type=float, default=180.0, help="length of the excerpt in seconds")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads in the generating process")
    p.add_argument("--video", action="store_true", help="also render dance.mp4 afterwards and report video_s")
    p.add_argument("--child", nargs=2, metavar=("SONG", "OUT"), help=argparse.SUPPRESS)  # internal: the subprocess
    a = p.parse_args()
    if a.child:
        a.song, a.out = a.child
        child(a)
        return

    with tempfile.TemporaryDirectory(prefix="dance2d_bench_") as tmp:
        song = Path(tmp) / "song.ogg"
        seconds = excerpt(Path(a.music), a.seconds, song)
        cmd = [sys.executable, __file__, "--child", str(song), str(Path(tmp) / "out"), "--threads", str(a.threads)]
        cmd += (["--model", a.model] if a.model else []) + (["--video"] if a.video else [])
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads),
                   NUMBA_NUM_THREADS=str(a.threads))
        run = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True, text=True)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the only child: kilobytes on Linux
    r = json.loads(run.stdout.strip().splitlines()[-1])
    wall = r["generate_s"] + r["writing_s"]
    out = {"seconds": round(seconds, 2), "frames": r["frames"], "wall_s": round(wall, 2),
           "load_s": round(r["load_s"], 2), "realtime_factor": round(seconds / wall, 2),
           "peak_rss_mb": round(peak_kb / 1024, 1)}
    for key in ("music", "denoise", "codec"):
        out[f"share_{key}"] = round(r.get(key, 0.0) / wall, 3)
    out["share_writing"] = round(r["writing_s"] / wall, 3)
    out["threads"] = a.threads
    if "video_s" in r:
        out["video_s"] = round(r["video_s"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
