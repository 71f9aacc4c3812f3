"""Pack poses + frame-aligned music features of a prepared cache into one small .npz for a machine that cannot
decode audio or compute music features (no librosa / soundfile there): scripts/train_device.sh encodes the
one-hot latents from it on the GPU.

    dance2d prepare --dataset dwm --root ../shared/data/dance_with_melody --out cache/dwm_raw_aug --codec raw \
        --fps 25 --views 4 --mirror --tempo 0.8,1.0,1.25 --frames 128
    python scripts/pack_device_data.py cache/dwm_raw_aug device/dwm_pack.npz --max-mib 40
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from safetensors import safe_open

from dance2d.atomic import atomic_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", help="cache folder from `dance2d prepare` (any codec: only poses and music are read)")
    ap.add_argument("out", help="output .npz")
    ap.add_argument("--max-mib", type=float, default=40.0, help="size budget; views are taken round-robin over songs")
    args = ap.parse_args()
    index = json.loads((Path(args.cache) / "index.json").read_text())
    by_song: dict[str, list[dict]] = {}
    for v in index["views"]:
        by_song.setdefault(v["name"], []).append(v)
    order = [vs[i] for i in range(max(map(len, by_song.values()))) for vs in by_song.values() if i < len(vs)]
    kps, music, names, budget = [], [], [], args.max_mib * 2**20
    used = 0
    for v in order:
        with safe_open(str(Path(args.cache) / v["file"]), framework="np") as f:
            kp, m = f.get_tensor("keypoints").astype(np.float16), f.get_tensor("music").astype(np.float16)
        if used + kp.nbytes + m.nbytes > budget:
            break
        kps.append(kp)
        music.append(m)
        names.append(f"{v['name']}__{v['file'].rsplit('__', 1)[1].split('.')[0]}")
        used += kp.nbytes + m.nbytes
    data = index.get("data", index)  # cache format 2 holds the settings under "data", format 1 at the top
    meta = {k: data[k] for k in ("fps", "layout", "canvas")}
    meta["music_dim"] = int(music[0].shape[1])
    with atomic_path(Path(args.out), suffix=".npz") as tmp:
        np.savez_compressed(tmp, keypoints=np.concatenate(kps), music=np.concatenate(music),
                            lengths=np.array([len(k) for k in kps]), names=np.array(names), meta=json.dumps(meta))
    print(json.dumps({"views": len(kps), "songs": len(by_song), "frames": int(sum(map(len, kps))),
                      "mib": round(Path(args.out).stat().st_size / 2**20, 2)}))


if __name__ == "__main__":
    main()
