"""Train the one-hot + TAEF2 model on one accelerator from a pose + music pack (scripts/pack_device_data.py):
encode the one-hot latents on the GPU, train with a wall-clock budget, write fp16 weights in ≤ 16 MB shards.
Needs only torch, numpy, safetensors and tqdm (no librosa, soundfile or PyAV). Run through train_device.sh.

    python scripts/train_device.py --pack device/dwm_pack.npz --out weights/onehot --minutes 7
    python scripts/train_device.py --pack device/dwm_pack.npz --out /tmp/w --preset tiny --steps 5   # CPU check
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dance2d.checkpoint import load_checkpoint, read_config, save_sharded
from dance2d.codec.base import TRIPLET_ORDERS
from dance2d.codec.taef2 import TAEF2Codec
from dance2d.data.cache import cache_settings, write_index, write_view
from dance2d.data.config import DataConfig
from dance2d.pose import PoseSequence
from dance2d.train import TrainConfig, Trainer


def build_onehot_cache(pack: Path, out: Path, device: torch.device, width: int, sigma: float, triplets: str,
                       frames: int, max_views: int | None) -> None:
    """One cache view per packed view: one-hot images (channels in the given triplet order) encoded by TAEF2 on
    `device`."""
    data = np.load(pack)
    meta = json.loads(str(data["meta"]))
    codec = TAEF2Codec(device=device)
    channels = codec.latent_channels(codec.image_channels(int(data["keypoints"].shape[1])))
    config = cache_settings(DataConfig(codec=codec.name, width=width, sigma=sigma, fps=float(meta["fps"]),
                                       layout=meta["layout"], canvas=meta["canvas"], time_stride=codec.time_stride,
                                       latent_channels=channels, frames=frames,
                                       music_dim=int(meta.get("music_dim", 35)), triplets=triplets),
                            chunk_frames=1024)
    views, stats = [], []
    ends = np.cumsum(data["lengths"])
    starts = ends - data["lengths"]
    kp_all, mu_all = data["keypoints"], data["music"]
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if max_views is not None and i >= max_views:
            break
        T = int(b - a) // codec.time_stride * codec.time_stride
        if T < frames:
            continue
        poses = PoseSequence(kp_all[a:a + T].astype(np.float32), meta["fps"], meta["layout"], tuple(meta["canvas"]))
        fname = f"view{i:05d}.safetensors"
        stats.append(write_view(out / fname, config, codec, poses, mu_all[a:a + T].astype(np.float32),
                                np.random.default_rng([0, i]), name=str(data["names"][i])))
        views.append({"file": fname, "name": str(data["names"][i]).split("__")[0], "frames": T, "rate": 1.0,
                      "mirrored": False, "camera_view": i})
    write_index(out, config, views, stats, len(starts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", required=True, help=".npz from scripts/pack_device_data.py")
    ap.add_argument("--out", required=True, help="folder for the weight shards, config and log")
    ap.add_argument("--preset", default="small", help="DiT size preset")
    ap.add_argument("--steps", type=int, default=200000, help="optimizer steps (the time budget usually ends first)")
    ap.add_argument("--minutes", type=float, default=6.5, help="training wall-clock budget after caching")
    ap.add_argument("--batch", type=int, default=64, help="windows per step")
    ap.add_argument("--lr", type=float, default=4e-4, help="peak learning rate")
    ap.add_argument("--width", type=int, default=256, help="one-hot width W")
    ap.add_argument("--frames", type=int, default=128, help="window T")
    ap.add_argument("--max-views", type=int, help="cache only the first N views (quick checks)")
    ap.add_argument("--triplets", default="spread", choices=TRIPLET_ORDERS,
                    help="channel order of the one-hot image (spread: docs/decisions.md, 'Triplet order')")
    ap.add_argument("--init", help="warm start from a one-hot checkpoint (a file or a folder of shards); the cache "
                                   "then uses its width, sigma and triplet order")
    args = ap.parse_args()
    rep = {"width": args.width, "sigma": 2.0, "triplets": args.triplets}
    if args.init:  # the warm start's pose image: its weights learned that one
        saved = DataConfig.from_dict(read_config(args.init)["data"])
        rep = {k: getattr(saved, k) for k in rep}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        build_onehot_cache(Path(args.pack), cache, device, rep["width"], rep["sigma"], rep["triplets"], args.frames,
                           args.max_views)
        t_cache = time.time() - t0
        cfg = TrainConfig(cache=str(cache), out=str(Path(tmp) / "run"), preset=args.preset, steps=args.steps,
                          batch=args.batch, lr=args.lr, warmup=min(300, max(1, args.steps // 10)),
                          frames=args.frames, prediction="x", loss="v", sample_every=0, ckpt_every=500,
                          log_every=50, time_limit=args.minutes, init=args.init,
                          overrides={"patch_w": 4})
        trainer = Trainer(cfg)
        trainer.fit()
        trainer.save()
        state, config = load_checkpoint(Path(cfg.out) / "last.safetensors")
        half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
        paths = save_sharded(out, half, config, max_bytes=15 * 2**20)
        (out / "log.jsonl").write_bytes((Path(cfg.out) / "log.jsonl").read_bytes())
    summary = {"device": str(device), "cache_s": round(t_cache, 1), "total_s": round(time.time() - t0, 1),
               "steps": trainer.step, "shards": [p.name for p in paths],
               "mib": round(sum(p.stat().st_size for p in paths) / 2**20, 2)}
    (out / "summary.json").write_text(json.dumps(summary))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
