"""Training benchmark: samples/s and peak memory of the tiny and small presets, and the time per step with the
latent cache against a cache-less step that encodes its windows and references with the codec. Prints one JSON line.

    python benchmarks/train.py --threads 1
    python benchmarks/train.py --cache cache/dwm_w256 --threads 2 --steps 5 --batch 8

Settings default to the bundled one-hot model's data: TAEF2 at W=256 (latent 384×32×T/8), T=128, patch_w=4 for small.
The cache's index.json gives the exact shapes; without one a cache of the same shapes with random latents is
synthesised in a temporary folder. Each measurement runs in a fresh subprocess so peak RSS values do not mix.
`step_s_uncached` = cached step + encoding the batch's B one-hot windows and B repeated references (what a trainer
without the cache would do every step).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dance2d.validate import PRECISIONS

SMALL_PATCH_W = 4  # patch width of the bundled small model
SYNTH_VIEWS, SYNTH_FRAMES = 2, 1024  # views and frames per view of a synthesised cache


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synth_cache(out: Path, frames: int, width: int, views: int = SYNTH_VIEWS, length: int = SYNTH_FRAMES) -> Path:
    """A cache folder with random TAEF2-shaped latents (Cz=384, W'=width/8) and plausible keypoints."""
    from safetensors.numpy import save_file

    from dance2d.data.cache import cache_settings, write_index
    from dance2d.data.config import DataConfig

    rng = np.random.default_rng(0)
    cz, wl, ts, refs = 384, width // 8, 8, 4
    entries = []
    for v in range(views):
        kp = np.concatenate([rng.uniform(0.3, 0.7, (length, 18, 2)), np.ones((length, 18, 1))], -1).astype(np.float32)
        ref_idx = np.sort(rng.choice(length, refs, replace=False))
        ref_z = rng.standard_normal((refs, cz, wl, frames // ts)).astype(np.float16)
        z = rng.standard_normal((cz, wl, length // ts)).astype(np.float16)
        save_file({"z": z, "music": rng.standard_normal((length, 35)).astype(np.float32), "keypoints": kp,
                   "ref_z": ref_z, "ref_poses": kp[ref_idx],
                   "ref_index": ref_idx.astype(np.int64), "z_sum": np.zeros(cz), "z_sumsq": np.zeros(cz)},
                  str(out / f"synth__v{v:03d}.safetensors"))
        entries.append({"file": f"synth__v{v:03d}.safetensors", "name": f"synth{v}", "frames": length, "rate": 1.0,
                        "mirrored": False, "camera_view": 0})
    data = DataConfig(codec="taef2", width=width, sigma=2.0, fps=25.0, layout="openpose18", canvas=(512, 512),
                      time_stride=ts, latent_channels=cz, frames=frames, latent_mean=[0.0] * cz, latent_std=[1.0] * cz)
    n = length // ts  # latent columns per view; sums that give every channel mean 0 and std 1
    stats = [(np.zeros(cz), np.full(cz, float(n)), n, length) for _ in range(views)]
    write_index(out, cache_settings(data, refs_per_view=refs), entries, stats, views)
    return out  # latent statistics: mean 0, std 1


def worker_train(a: argparse.Namespace) -> dict:
    """Median optimizer-step time of one preset on the cache (data loading from the cache included)."""
    from dance2d.train import TrainConfig, Trainer

    overrides = {"patch_w": SMALL_PATCH_W} if a.worker == "small" else {}
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(cache=a.cache, out=out, preset=a.worker, frames=a.frames, steps=a.warmup + a.steps,
                          batch=a.batch, warmup=1, sample_every=0, threads=a.threads, overrides=overrides,
                          precision=a.precision)
        tr = Trainer(cfg)
        for _ in range(a.warmup):
            tr.train_step()
        times = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            tr.train_step()
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    return {"step_s": step, "samples_per_s": a.batch / step, "peak_rss_mb": peak_rss_mb(),
            "patch_w": tr.model_cfg.patch_w, "params_m": sum(p.numel() for p in tr.model.parameters()) / 1e6}


def worker_encode(a: argparse.Namespace) -> dict:
    """Median time to encode one batch's windows and shape-only references with the codec (no cache)."""
    from dance2d.codec import get_codec
    from dance2d.data.windows import WindowDataset

    torch.set_num_threads(a.threads)
    ds = WindowDataset(a.cache, a.frames)
    idx = np.random.default_rng(0).integers(0, len(ds), a.batch)
    items = [ds[int(i)] for i in idx]
    width, sigma = ds.data.width, ds.data.sigma
    codec = get_codec(ds.data.codec)

    def encode_batch() -> None:
        imgs = [codec.to_image(it["keypoints"].numpy(), width, sigma) for it in items]  # B × (C, W, T)
        imgs += [codec.to_image(np.repeat(it["ref_pose"].numpy()[None], a.frames, 0), width, sigma)
                 for it in items]  # the shape-only reference of each window
        codec.encode(torch.from_numpy(np.stack(imgs)))  # (2B, Cz, W', T')

    encode_batch()
    times = []
    for _ in range(max(3, a.steps // 2)):
        t0 = time.perf_counter()
        encode_batch()
        times.append(time.perf_counter() - t0)
    return {"encode_s": statistics.median(times), "peak_rss_mb": peak_rss_mb()}


def run_worker(name: str, a: argparse.Namespace, cache: str) -> dict:
    """Run one measurement in a fresh interpreter and parse its JSON line."""
    cmd = [sys.executable, __file__, "--worker", name, "--cache", cache, "--threads", str(a.threads),
           "--batch", str(a.batch), "--frames", str(a.frames), "--warmup", str(a.warmup), "--steps", str(a.steps),
           "--precision", a.precision]
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", default="cache/dwm_w256", help="cache folder (synthesised when it has no index.json)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per measurement")
    p.add_argument("--batch", type=int, default=8, help="windows per step")
    p.add_argument("--frames", type=int, default=128, help="frames per window T")
    p.add_argument("--width", type=int, default=256, help="one-hot width W of a synthesised cache")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    p.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="training compute (dance2d train --precision; auto = bf16 where the CPU runs it natively)")
    p.add_argument("--worker", choices=["tiny", "small", "encode"], help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        torch.set_num_threads(a.threads)
        res = worker_encode(a) if a.worker == "encode" else worker_train(a)
        print(json.dumps(res))
        return
    with tempfile.TemporaryDirectory() as tmp:
        real = (Path(a.cache) / "index.json").is_file()
        cache = a.cache if real else str(synth_cache(Path(tmp), a.frames, a.width))
        res = {name: run_worker(name, a, cache) for name in ("tiny", "small", "encode")}
    cached = res["small"]["step_s"]
    uncached = cached + res["encode"]["encode_s"]
    out = {"cache": "real" if real else "synthetic", "threads": a.threads, "batch": a.batch, "frames": a.frames,
           "precision": a.precision}
    for name in ("tiny", "small"):
        r = res[name]
        out.update({f"{name}_samples_per_s": round(r["samples_per_s"], 2), f"{name}_step_s": round(r["step_s"], 4),
                    f"{name}_peak_rss_mb": round(r["peak_rss_mb"], 1), f"{name}_params_m": round(r["params_m"], 2),
                    f"{name}_patch_w": r["patch_w"]})
    out.update(step_s_cached=round(cached, 4), encode_s=round(res["encode"]["encode_s"], 4),
               step_s_uncached=round(uncached, 4), uncached_over_cached=round(uncached / cached, 2),
               encode_peak_rss_mb=round(res["encode"]["peak_rss_mb"], 1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
