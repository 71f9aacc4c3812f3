"""Generate dances for the held-out Dance with Melody test songs with several checkpoints, then evaluate them
against the ground truth (docs/RESULTS.md). Each test song is danced from its own first ground-truth pose
(seen by the same seeded virtual camera as the ground-truth rows), for its first --seconds of music.

    python scripts/eval_models.py --root ../shared/data/dance_with_melody --seconds 30 \
        --model bundled=raw \
        --model ablation-base=runs/abl_base/last.safetensors --out runs/eval
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from dance2d.evaluate import ground_truth, run_evaluation, save_results
from dance2d.metrics import format_table
from dance2d.pipeline import REQUIRED_JOINTS, Dance2D
from dance2d.pose import get_layout


def first_full_pose(seq) -> np.ndarray:
    """The first frame whose torso joints are all visible (the reference a user would give)."""
    lay = get_layout(seq.layout)
    idx = [lay.index(j) for j in REQUIRED_JOINTS]
    ok = (seq.keypoints[:, idx, 2] > 0.3).all(1)
    return seq.keypoints[int(np.argmax(ok))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="Dance with Melody folder")
    ap.add_argument("--model", action="append", required=True, help="LABEL=checkpoint.safetensors (repeatable)")
    ap.add_argument("--out", default="runs/eval", help="folder for generated dances and results.json")
    ap.add_argument("--seconds", type=float, default=30.0, help="music seconds per test song")
    ap.add_argument("--fps", type=float, default=25.0, help="evaluation frame rate")
    ap.add_argument("--steps", type=int, default=20, help="sampler steps")
    ap.add_argument("--guidance", type=float, default=2.0, help="classifier-free guidance scale")
    ap.add_argument("--seed", type=int, default=0, help="generation seed and ground-truth camera seed")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--plain-stitch", action="store_true", help="no cross-fade at seams (the paper's stitching)")
    ap.add_argument("--smooth", type=float, default=0.0, help="temporal smoothing in frames (0 = model output)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    tests = ground_truth("dwm", args.root, "test", args.fps, seed=args.seed, with_music=False)
    folders = []
    for spec in args.model:
        label, path = spec.split("=", 1)
        pipe = Dance2D.from_pretrained(path)
        for seq, _ in tests:
            song = Path(seq.meta["source"])
            start = json.loads((song / "config.json").read_text())["start_position"] / 25.0
            end = start + min(args.seconds, seq.duration)
            dance = pipe.generate(song / "audio.ogg", seq.replace(first_full_pose(seq)[None]), seed=args.seed,
                                  steps=args.steps, guidance=args.guidance, start=start, end=end,
                                  blend=not args.plain_stitch, smooth=args.smooth)
            target = out / label / song.name
            target.mkdir(parents=True, exist_ok=True)
            dance.resample(args.fps).save_npz(target / "poses.npz")
        folders.append(str(out / label))
        print(f"generated {label}: {len(tests)} songs", flush=True)
    rows, settings = run_evaluation(folders, "dwm", args.root, fps=args.fps, clip_seconds=args.seconds,
                                    seed=args.seed)
    save_results(out / "results.json", rows, settings)
    print(format_table(rows))


if __name__ == "__main__":
    main()
