"""How long can each body-18 bone look on screen? 2D bone length ÷ the dance's typical (median) torso over real
dances: the 99.9th percentile over Dance with Melody seen by its virtual cameras is the table `pose/anatomy.py`
hides implausible joints with; the 90th percentile over AIST++'s real 2D keypoints is a bone's full length, the
table `pose/retarget.py` (FULL_LIMB_PER_TORSO) gives foreshortened reference limbs and cut-off legs.

    python scripts/bone_limits.py --root ../shared/data/dance_with_melody --seeds 0,1,2
    python scripts/bone_limits.py --dataset aistpp2d --root ../shared/data/aistpp --seeds 0

Prints one JSON line: under "bones", for each limb (parent-child joint names) the maximum, the 99.9th and the 90th
percentile over all frames of the dataset's reference split (seen by the cameras of each seed, where it has 3D
motion); under "face_heights", for each face point its height over the neck along the hips→neck line in lengths
of that line (anatomy.FACE_MIN_HEIGHT is the 0.1st percentile) with its minimum and 1st percentile.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from dance2d.data import get_dataset
from dance2d.pose.anatomy import FACE_MIN_HEIGHT, face_heights
from dance2d.pose.layouts import get_layout
from dance2d.pose.retarget import typical_torso


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="dataset folder")
    ap.add_argument("--dataset", default="dwm")
    ap.add_argument("--seeds", default="0,1,2", help="camera seeds (one view of every dance per seed)")
    args = ap.parse_args()
    lay = get_layout("openpose18")
    ratios: dict[tuple[int, int], list[np.ndarray]] = {limb: [] for limb in lay.limbs}
    heights: dict[str, list[np.ndarray]] = {name: [] for name in FACE_MIN_HEIGHT}
    ds = get_dataset(args.dataset)
    for seed in (int(s) for s in args.seeds.split(",")):
        for seq, _ in ds.ground_truth(args.root, ds.reference_split, fps=25.0, seed=seed, with_music=False):
            px = seq.keypoints[..., :2].astype(np.float64) * np.asarray(seq.canvas, np.float64)
            present = seq.keypoints[..., 2] > 0
            torso = typical_torso(px, present, lay)
            for p, c in lay.limbs:
                ok = present[:, p] & present[:, c]
                ratios[(p, c)].append(np.linalg.norm(px[ok, c] - px[ok, p], axis=-1) / torso)
            for name, h in face_heights(px, present, lay).items():
                heights[name].append(h[np.isfinite(h)])
    bones = {}
    for (p, c), r in ratios.items():
        r = np.concatenate(r)
        bones[f"{lay.joints[p]}-{lay.joints[c]}"] = {"max": round(float(r.max()), 3),
                                                     "p99.9": round(float(np.percentile(r, 99.9)), 3),
                                                     "p90": round(float(np.percentile(r, 90)), 3)}
    face = {name: {"min": round(float(np.concatenate(h).min()), 3),
                   "p0.1": round(float(np.percentile(np.concatenate(h), 0.1)), 3),
                   "p1": round(float(np.percentile(np.concatenate(h), 1)), 3)} for name, h in heights.items()}
    print(json.dumps({"bones": bones, "face_heights": face}))


if __name__ == "__main__":
    main()
