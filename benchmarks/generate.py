"""End-to-end generation benchmark: audio file → poses.npz + OpenPose JSON at default settings. Prints one JSON line.

    python benchmarks/generate.py                                # bundled model, first 180 s of a real track
    python benchmarks/generate.py --model runs/small/last.safetensors --seconds 60 --threads 1
    python benchmarks/generate.py --video                        # also time rendering dance.mp4 separately
    python benchmarks/generate.py --seconds 30 --background-load 1   # speed beside one busy process, and quiet
    python benchmarks/generate.py --seconds 1200                 # a 20-minute song: peak memory
    python benchmarks/generate.py --float32                      # float32 where the CPU would use bf16

The first `--seconds` of `--music` (looped if the track is shorter) are re-encoded to a temporary .ogg, so the
measure includes decoding. The generation runs in a fresh subprocess (default sampler, steps and guidance; video
off) whose peak resident memory is read back from the kernel. Fields: seconds (music), wall_s (generate + write,
model already loaded), load_s (checkpoint load), realtime_factor = seconds / wall_s, peak_rss_mb, share_* =
fractions of wall_s spent decoding audio and computing features (music), sampling (denoise), in the codec (codec)
and writing files (writing), threads (as given; 0 = dance2d's default policy, see dance2d/threads.py) and
threads_used (what the policy chose at the start), bf16 (whether the model and image codec computed in bf16:
where the CPU runs it natively, unless --float32), video_s with --video. With --background-load N the run is
made twice, first quiet and then beside N busy processes (`while True: pass`): realtime_factor is the loaded
figure, realtime_factor_quiet the quiet one, and load_ratio their quotient.
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
    """Write the first `seconds` of `src` (looped if shorter) to `dst` (Ogg Vorbis); returns its length in s."""
    import numpy as np
    import soundfile as sf

    with sf.SoundFile(str(src)) as f:
        data = f.read(int(round(seconds * f.samplerate)), dtype="float32", always_2d=True)  # (n, channels)
        sr = f.samplerate
    want = int(round(seconds * sr))
    if 0 < len(data) < want:
        data = np.tile(data, (-(-want // len(data)), 1))[:want]
    with sf.SoundFile(str(dst), "w", sr, data.shape[1], format="OGG", subtype="VORBIS") as out:
        for s in range(0, len(data), sr):  # one second per call: libsndfile's Vorbis encoder crashes on big writes
            out.write(data[s:s + sr])
    return len(data) / sr


def child(a: argparse.Namespace) -> None:
    """Inside the fresh process: load, generate, write; print the timings as JSON."""
    from dance2d.outputs import write_outputs
    from dance2d.pipeline import Dance2D
    from dance2d.threads import ThreadPolicy

    policy = ThreadPolicy(a.threads)  # what `dance2d generate --threads` does
    used = policy.threads
    t0 = time.perf_counter()
    pipe = Dance2D.from_pretrained(a.model, fast=not a.float32)
    t1 = time.perf_counter()
    [seq] = pipe.generate(a.song, progress=policy.wrap(None))
    t2 = time.perf_counter()
    write_outputs([seq], a.out, None, video=False)
    t3 = time.perf_counter()
    res = {"load_s": t1 - t0, "generate_s": t2 - t1, "writing_s": t3 - t2, "frames": len(seq), "threads_used": used,
           "bf16": pipe.autocast, **pipe.timings}
    if a.video:
        from dance2d.music.audio import load_audio
        from dance2d.render import render_poses

        t4 = time.perf_counter()
        render_poses(seq.keypoints, seq.canvas, seq.fps, Path(a.out) / "dance.mp4", audio=load_audio(a.song, 44100))
        res["video_s"] = time.perf_counter() - t4
    print(json.dumps(res))


def measure(a: argparse.Namespace, song: Path, out: Path, seconds: float) -> dict:
    """Run the child once in a fresh process; its timings and peak memory."""
    cmd = [sys.executable, __file__, "--child", str(song), str(out), "--threads", str(a.threads)]
    cmd += (["--model", a.model] if a.model else []) + (["--video"] if a.video else [])
    cmd += ["--float32"] if a.float32 else []
    env = dict(os.environ)
    if a.threads:
        env.update(OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads), NUMBA_NUM_THREADS=str(a.threads))
    run = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True, text=True)
    r = json.loads(run.stdout.strip().splitlines()[-1])
    wall = r["generate_s"] + r["writing_s"]
    res = {"seconds": round(seconds, 2), "frames": r["frames"], "wall_s": round(wall, 2),
           "load_s": round(r["load_s"], 2), "realtime_factor": round(seconds / wall, 2)}
    for key in ("music", "denoise", "codec"):
        res[f"share_{key}"] = round(r.get(key, 0.0) / wall, 3)
    res["share_writing"] = round(r["writing_s"] / wall, 3)
    res["threads"], res["threads_used"], res["bf16"] = a.threads, r["threads_used"], r["bf16"]
    if "video_s" in r:
        res["video_s"] = round(r["video_s"], 2)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="checkpoint .safetensors (default: the bundled model)")
    p.add_argument("--music", default=str(DEFAULT_MUSIC), help="music file whose beginning is used (looped)")
    p.add_argument("--seconds", type=float, default=180.0, help="length of the excerpt in seconds")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = dance2d's default policy)")
    p.add_argument("--background-load", type=int, default=0, metavar="N",
                   help="also run beside N busy processes; prints realtime_factor (loaded) and realtime_factor_quiet")
    p.add_argument("--float32", action="store_true",
                   help="compute in float32 even where the CPU runs bf16 natively (Dance2D fast=False)")
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
        quiet = measure(a, song, Path(tmp) / "quiet", seconds)
        if not a.background_load:
            quiet["peak_rss_mb"] = round(peak_mb(), 1)
            print(json.dumps(quiet))
            return
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.background_load)]
        try:
            time.sleep(1.0)  # let them be running when the policy looks
            loaded = measure(a, song, Path(tmp) / "loaded", seconds)
        finally:
            for b in busy:
                b.kill()
                b.wait()
    out = {**loaded, "background_load": a.background_load, "realtime_factor_quiet": quiet["realtime_factor"],
           "threads_used_quiet": quiet["threads_used"],
           "load_ratio": round(loaded["realtime_factor"] / quiet["realtime_factor"], 3),
           "peak_rss_mb": round(peak_mb(), 1)}
    print(json.dumps(out))


def peak_mb() -> float:
    """Largest peak resident memory of the generating processes so far (kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


if __name__ == "__main__":
    main()
