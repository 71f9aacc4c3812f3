"""Train a model on one accelerator from a pose + music pack (scripts/pack_device_data.py): encode the latents on
the GPU (one-hot images through TAEF2 by default; `--codec raw`, or an `--init` of the raw model, for raw
coordinates), train with a wall-clock budget, write fp16 weights in ≤ 16 MB shards.
Needs only torch, numpy, safetensors and tqdm (no librosa, soundfile or PyAV). Run through train_device.sh.

    python scripts/train_device.py --pack device/dwm_pack.npz --out weights/onehot --minutes 7
    python scripts/train_device.py --pack device/dwm_pack.npz --out /tmp/w --preset tiny --steps 5   # CPU check
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from pack_device_data import PACK_FORMAT, dequantize

from dance2d.checkpoint import load_checkpoint, read_config, save_sharded
from dance2d.codec import codec_class
from dance2d.codec.base import TRIPLET_ORDERS
from dance2d.data.cache import cache_settings, write_index, write_view
from dance2d.data.config import DataConfig
from dance2d.diffusion.schedule import SCHEDULES
from dance2d.diffusion.target import LOSS_SPACES
from dance2d.pose import PoseSequence
from dance2d.pose.layouts import get_layout
from dance2d.train import TrainConfig, Trainer


def read_pack(pack: Path) -> tuple[dict, dict]:
    """(meta, arrays) of a pack from scripts/pack_device_data.py, every array decompressed once."""
    with np.load(pack) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != PACK_FORMAT:
        raise SystemExit(f"{pack} is a pack of format {meta.get('format', 1)}; remake it with "
                         f"scripts/pack_device_data.py (format {PACK_FORMAT}).")
    return meta, arrays


def pack_views(meta: dict, data: dict, max_views: int | None):
    """Yield a view dict (name, rate, tempo, camera_view, mirrored) with its PoseSequence and music (T, D) float32
    for every packed view, each followed by its mirror; round-robin over songs as packed."""
    v_start = np.cumsum(data["view_lengths"]) - data["view_lengths"]
    g_start = np.cumsum(data["group_lengths"]) - data["group_lengths"]
    n = 0
    for i, g in enumerate(data["view_group"]):
        a, length = v_start[i], data["view_lengths"][i]
        poses = PoseSequence(dequantize(data["xy"][a:a + length], data["visible"][a:a + length]), meta["fps"],
                             meta["layout"], tuple(meta["canvas"]))
        music = data["music"][g_start[g]:g_start[g] + length].astype(np.float32)
        tempo = float(data["tempi"][g])
        view = {"name": str(data["names"][g]), "rate": float(data["rates"][g]),
                "tempo": None if np.isnan(tempo) else tempo, "camera_view": int(data["cameras"][i])}
        for mirrored in (False, True) if meta.get("mirror") else (False,):
            if max_views is not None and n >= max_views:
                return
            n += 1
            yield {**view, "mirrored": mirrored}, poses.mirror() if mirrored else poses, music


def build_cache(pack: Path, out: Path, device: torch.device, codec_name: str, width: int, sigma: float,
                triplets: str, frames: int, max_views: int | None, minutes: float) -> int:
    """One cache view per packed view and its mirror: one-hot images (channels in the given triplet order) encoded
    by TAEF2 on `device`, or raw coordinates, until all are cached or `minutes` have passed (the pack's order
    covers every song early)."""
    meta, data = read_pack(pack)
    cls = codec_class(codec_name)
    on_device = {"device": device, "chunk": 64, "dtype": torch.float32}  # fp32: as generation encodes
    accepted = inspect.signature(cls).parameters  # an image codec runs on the device; the raw one has no weights
    codec = cls(**{k: v for k, v in on_device.items() if k in accepted}).freeze()
    channels = codec.latent_channels(codec.image_channels(len(get_layout(meta["layout"]).joints)))
    config = cache_settings(DataConfig(codec=codec.name, width=width, sigma=sigma, fps=float(meta["fps"]),
                                       layout=meta["layout"], canvas=meta["canvas"], time_stride=codec.time_stride,
                                       latent_channels=channels, frames=frames,
                                       music_dim=int(meta.get("music_dim", 35)), triplets=triplets),
                            chunk_frames=1024)
    views, stats, t0 = [], [], time.time()
    for i, (view, poses, music) in enumerate(pack_views(meta, data, max_views)):
        if time.time() - t0 > 60 * minutes:
            print(f"cache time budget of {minutes:g} min reached after {i} views")
            break
        T = len(poses) // codec.time_stride * codec.time_stride
        if T < frames:
            continue
        fname = f"view{i:05d}.safetensors"
        stats.append(write_view(out / fname, config, codec, poses.slice(0, T), music[:T], np.random.default_rng([0, i]),
                                name=view["name"], rate=view["rate"], mirrored=view["mirrored"]))
        views.append({"file": fname, "frames": T, **view})
    write_index(out, config, views, stats, len(views))
    return len(views)


def plan_steps(trainer: Trainer, max_steps: int, minutes: float, warm: int = 40, probe: int = 100) -> None:
    """Fit the cosine to the time budget: train `warm` then `probe` steps (inside the warm-up, where the learning
    rate does not depend on the planned length), time the probe, and set the run's length (and a warm-up no longer
    than a tenth of it) to what the rest of the budget holds at that rate. Short runs (tests) keep max_steps."""
    cfg, t0 = trainer.cfg, time.time()
    if max_steps <= warm + probe or cfg.warmup < warm + probe:
        return
    cfg.steps = warm
    trainer.fit()
    t = time.time()
    cfg.steps = warm + probe
    trainer.fit()
    rate = (time.time() - t) / probe  # seconds per step, the first kernels and caches excluded
    left = 60 * minutes - (time.time() - t0)
    cfg.steps = max(trainer.step, min(max_steps, trainer.step + int(0.97 * left / rate)))
    cfg.warmup = max(trainer.step, min(cfg.warmup, cfg.steps // 10))
    cfg.time_limit = max(left, 1.0) / 60
    print(f"{rate * 1000:.1f} ms per step: planning {cfg.steps} steps in {left / 60:.1f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", required=True, help=".npz from scripts/pack_device_data.py")
    ap.add_argument("--out", required=True, help="folder for the weight shards, config and log")
    ap.add_argument("--preset", default="small", help="DiT size preset")
    ap.add_argument("--steps", type=int, default=200000, help="optimizer steps (the time budget usually ends first)")
    ap.add_argument("--minutes", type=float, default=6.5, help="training wall-clock budget after caching")
    ap.add_argument("--loss", default="x", choices=LOSS_SPACES,
                    help="loss space of the x-prediction (x: docs/decisions.md, 'Prediction target'; the v loss "
                         "gave scattered joints on the H200: docs/RESULTS.md)")
    ap.add_argument("--patch-w", type=int,
                    help="latent columns per token (default 4 for one-hot, as the shipped model; each token's "
                         "prediction lies in a dim-wide subspace, docs/decisions.md 'Token width'; raw: 1)")
    ap.add_argument("--dim", type=int, help="transformer width (default: the preset's)")
    ap.add_argument("--depth", type=int, help="transformer blocks (default: the preset's)")
    ap.add_argument("--heads", type=int, help="attention heads (default: the preset's)")
    ap.add_argument("--batch", type=int, default=64, help="windows per step")
    ap.add_argument("--lr", type=float, default=4e-4, help="peak learning rate")
    ap.add_argument("--width", type=int, default=256, help="one-hot width W")
    ap.add_argument("--sigma", type=float, default=2.0, help="Gaussian σ of the one-hot vectors, in bins")
    ap.add_argument("--frames", type=int, default=128, help="window T")
    ap.add_argument("--max-views", type=int, help="cache only the first N views (quick checks)")
    ap.add_argument("--cache-minutes", type=float, default=2.0, help="wall-clock budget for encoding the cache")
    ap.add_argument("--triplets", default="spread", choices=TRIPLET_ORDERS,
                    help="channel order of the one-hot image (spread: docs/decisions.md, 'Triplet order')")
    ap.add_argument("--schedule", default="scaled_linear", choices=SCHEDULES,
                    help="noise schedule (scaled_linear_low_snr: docs/decisions.md, 'Terminal SNR')")
    ap.add_argument("--codec", default="taef2", choices=("taef2", "raw"),
                    help="pose representation: one-hot images through TAEF2 (the paper's) or raw coordinates")
    ap.add_argument("--init", help="warm start from a checkpoint (a file or a folder of shards); the cache then uses "
                                   "its codec, width, sigma and triplet order")
    args = ap.parse_args()
    codec = codec_class(args.codec)  # the raw codec's image is one column wide and has no RGB triplets
    rep = {"codec": args.codec, "width": codec.image_width(args.width), "sigma": args.sigma,
           "triplets": args.triplets if codec.uses_triplets else "paper"}
    if args.init:  # the warm start's pose image: its weights learned that one
        saved = DataConfig.from_dict(read_config(args.init)["data"])
        rep = {k: getattr(saved, k) for k in rep}
    patch = {"patch_w": args.patch_w or (4 if rep["codec"] == "taef2" else None),  # None: the trainer's (raw: 1)
             "dim": args.dim, "depth": args.depth, "heads": args.heads}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        n_views = build_cache(Path(args.pack), cache, device, rep["codec"], rep["width"], rep["sigma"],
                              rep["triplets"], args.frames, args.max_views, args.cache_minutes)
        t_cache = time.time() - t0
        cfg = TrainConfig(cache=str(cache), out=str(Path(tmp) / "run"), preset=args.preset, steps=args.steps,
                          batch=args.batch, lr=args.lr, warmup=min(300, max(1, args.steps // 10)),
                          frames=args.frames, prediction="x", loss=args.loss, schedule=args.schedule,
                          sample_every=0, ckpt_every=500,
                          log_every=50, time_limit=args.minutes, init=args.init, preload=True,
                          overrides={k: v for k, v in patch.items() if v is not None})
        trainer = Trainer(cfg)
        plan_steps(trainer, args.steps, args.minutes)
        trainer.fit()
        trainer.save()
        state, config = load_checkpoint(Path(cfg.out) / "last.safetensors")
        half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
        paths = save_sharded(out, half, config, max_bytes=15 * 2**20)
        (out / "log.jsonl").write_bytes((Path(cfg.out) / "log.jsonl").read_bytes())
    summary = {"device": str(device), "views": n_views, "cache_s": round(t_cache, 1),
               "total_s": round(time.time() - t0, 1), "steps": trainer.step, "shards": [p.name for p in paths],
               "mib": round(sum(p.stat().st_size for p in paths) / 2**20, 2)}
    (out / "summary.json").write_text(json.dumps(summary))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
