"""Calibrate a model's home tempo on its training songs: the tempo at which tempo sync makes its dances move as fast
as the dancers (src/dance2d/calibrate.py; docs/decisions.md "Which tempo"). Prints one row per song and one JSON
line; `scripts/bundle_model.py … --home-tempo BPM` stores the result in a model file.

    python scripts/calibrate_tempo.py raw --root ../shared/data/dance_with_melody
    python scripts/calibrate_tempo.py onehot --root ../shared/data/dance_with_melody --songs 16 --home 86
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from dance2d import validate
from dance2d.calibrate import speed_calibration
from dance2d.data import GT_DATASETS
from dance2d.errors import Dance2DError
from dance2d.evaluate import ground_truth
from dance2d.pipeline import Dance2D


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="bundled model name (raw | onehot) or checkpoint path")
    ap.add_argument("--root", required=True, help="dataset folder")
    ap.add_argument("--dataset", default="dwm", choices=GT_DATASETS)
    ap.add_argument("--split", default="train", help="split whose songs are danced (default: the training songs)")
    ap.add_argument("--songs", type=int, help="dance this many of them, evenly spread (default: all)")
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds danced per song, from its dance's start")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--home", type=float, help="dance at this home tempo instead of the model's (to check a value)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fps", type=float, default=25.0)
    a = ap.parse_args()
    try:
        if a.home is not None:
            validate.tempo("--home", a.home, example="86")
    except Dance2DError as e:
        raise SystemExit(str(e)) from None
    torch.set_num_threads(a.threads)
    seqs = [seq for seq, _ in ground_truth(a.dataset, a.root, a.split, a.fps, with_music=False,
                                           clip_seconds=a.seconds)]
    if a.songs and a.songs < len(seqs):
        seqs = [seqs[i] for i in np.linspace(0, len(seqs) - 1, a.songs).round().astype(int)]
    pipe = Dance2D.from_pretrained(a.model)
    if a.home is not None:
        pipe.data = dataclasses.replace(pipe.data, home_tempo=a.home)
    result = speed_calibration(pipe, seqs, seconds=a.seconds, seed=a.seed)
    for r in result["rows"]:
        print(f"{Path(r['name']).name:14s} tempo {r['music_bpm'] or 0:6.1f}  rate {r['rate'] or 0:5.2f}  "
              f"speed (kinetic) {r['kinetic_speed']:.2f}  speed (median step) {r['step_speed']:.2f}")
    print(json.dumps({"model": a.model, "songs": len(seqs), "seconds": a.seconds, "seed": a.seed,
                      **{k: round(result[k], 3) for k in ("home_tempo_now", "kinetic_speed", "step_speed",
                                                          "home_tempo", "home_tempo_step")}}))


if __name__ == "__main__":
    main()
