"""Pack poses + frame-aligned music features of a prepared cache into one small .npz for a machine that cannot
decode audio or compute music features (no librosa / soundfile there): scripts/train_device.sh encodes the
one-hot latents from it on the GPU.

    dance2d prepare --dataset dwm --root ../shared/data/dance_with_melody --out cache/dwm_raw_sq --codec raw \
        --fps 25 --views 4 --mirror --tempo 0.8,1.0,1.25 --frames 128
    python scripts/pack_device_data.py cache/dwm_raw_sq device/dwm_pack.npz --max-mib 36

Compact, because the pack travels with the repository (64 MiB in all): the music features of one song at one tempo
are stored once for all its camera views; mirrored views are left out (train_device.py mirrors each view again);
x, y are stored as int16 steps of 1/QUANT of the canvas, delta-coded along time so that deflate packs smooth motion
tightly; visibility as uint8. Views go in round-robin over songs (tempo 1 first), so a smaller budget still covers
every song.
"""

from __future__ import annotations

import argparse
import json
import zlib
from pathlib import Path

import numpy as np
from safetensors import safe_open

from dance2d.atomic import atomic_path
from dance2d.music.drive import pulse_tempo
from dance2d.music.features import get_music_encoder

PACK_FORMAT = 3  # 3: each view's camera
QUANT = 4096  # x, y in steps of 1/4096 of the canvas (0.125 px on 512 px)


def quantize(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (T, K, 3) in canvas units → (delta-coded int16 x, y (T, K, 2); visibility uint8 (T, K))."""
    q = np.round(np.clip(kp[..., :2], -3.0, 4.0) * QUANT).astype(np.int32)
    d = np.diff(q, axis=0, prepend=np.zeros_like(q[:1]))
    if np.abs(d).max() > np.iinfo(np.int16).max:
        raise ValueError("a joint moves further in one frame than int16 steps can code")
    return d.astype(np.int16), (kp[..., 2] > 0).astype(np.uint8)


def dequantize(xy_delta: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Inverse of quantize: (T, K, 3) float32 keypoints."""
    xy = np.cumsum(xy_delta.astype(np.int32), axis=0).astype(np.float32) / QUANT
    return np.concatenate([xy, visible[..., None].astype(np.float32)], axis=-1)


def _packed_bytes(*arrays: np.ndarray) -> int:
    return sum(len(zlib.compress(a.tobytes(), 6)) for a in arrays)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", help="cache folder from `dance2d prepare` (any codec: only poses and music are read)")
    ap.add_argument("out", help="output .npz")
    ap.add_argument("--max-mib", type=float, default=36.0,
                    help="compressed size budget (36: all 396 views of the one-canvas cache, 32.8 MiB)")
    args = ap.parse_args()
    cache = Path(args.cache)
    index = json.loads((cache / "index.json").read_text())
    by_song: dict[str, list[dict]] = {}
    for v in index["views"]:
        if not v.get("mirrored", False):
            by_song.setdefault(v["name"], []).append(v)
    for vs in by_song.values():  # tempo 1 and the first cameras first
        vs.sort(key=lambda v: (v.get("camera_view", 0), abs(np.log(v.get("rate", 1.0)))))
    order = [vs[i] for i in range(max(map(len, by_song.values()))) for vs in by_song.values() if i < len(vs)]
    data = index.get("data", index)  # cache format 2 holds the settings under "data", format 1 at the top
    fps, column = float(data["fps"]), get_music_encoder(data.get("music_encoder", "baseline35")).onset_column
    groups: dict[tuple, int] = {}
    tempi: list[float | None] = []  # each group's tempo for train.home_tempo (no librosa on the GPU machine)
    music, names, rates, xy, vis, view_group, cameras = [], [], [], [], [], [], []
    budget, used = args.max_mib * 2**20, 0
    for v in order:
        with safe_open(str(cache / v["file"]), framework="np") as f:
            kp, m = f.get_tensor("keypoints"), f.get_tensor("music").astype(np.float16)
        d, visible = quantize(kp)
        key = (v["name"], round(float(v.get("rate", 1.0)), 6))
        cost = _packed_bytes(d, visible) + (0 if key in groups else _packed_bytes(m))
        if used + cost > budget:
            break
        if key not in groups:
            groups[key] = len(music)
            music.append(m)
            tempi.append(v["tempo"] if "tempo" in v else  # the cache recorded it; older caches are read here
                         pulse_tempo(m[:, column].astype(np.float32), fps) if column is not None else None)
            names.append(v["name"])
            rates.append(key[1])
        elif len(music[groups[key]]) != len(m):
            raise SystemExit(f"{v['file']}: {len(m)} music frames, but another view of {key} has "
                             f"{len(music[groups[key]])}; rebuild the cache.")
        xy.append(d)
        vis.append(visible)
        view_group.append(groups[key])
        cameras.append(int(v.get("camera_view", 0)))
        used += cost
    meta = {k: data[k] for k in ("fps", "layout", "canvas")}
    meta.update(music_dim=int(music[0].shape[1]), format=PACK_FORMAT, quant=QUANT, mirror=True)
    with atomic_path(Path(args.out), suffix=".npz") as tmp:
        np.savez_compressed(tmp, xy=np.concatenate(xy), visible=np.concatenate(vis),
                            view_lengths=np.array([len(a) for a in xy]), view_group=np.array(view_group),
                            cameras=np.array(cameras),
                            music=np.concatenate(music), group_lengths=np.array([len(m) for m in music]),
                            names=np.array(names), rates=np.array(rates),
                            tempi=np.array([np.nan if t is None else t for t in tempi]), meta=json.dumps(meta))
    print(json.dumps({"views": len(xy), "mirrored_on_device": len(xy), "songs": len(set(names)),
                      "tempo_groups": len(music), "frames": int(sum(map(len, xy))),
                      "mib": round(Path(args.out).stat().st_size / 2**20, 2)}))


if __name__ == "__main__":
    main()
