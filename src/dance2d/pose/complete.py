"""Complete the legs of a cut-off reference pose (a half-body photo) from its torso (issue 10).

The model was trained on whole people; a reference without knees and ankles makes it draw a tangle. Missing knees
and ankles are placed straight down the torso axis (neck → mid-hip) with their typical full lengths
(retarget.FULL_LIMB_PER_TORSO), and if the completed person no longer fits the canvas it is scaled down (about the
top of the body) and moved inside it.
"""

from __future__ import annotations

import numpy as np

from dance2d.pose.layouts import Layout, get_layout
from dance2d.pose.retarget import FULL_LIMB_PER_TORSO

FIT_MARGIN = 0.03  # fraction of the canvas kept free around a person that had to be rescaled
LEGS = (("r_hip", "r_knee", "r_ankle"), ("l_hip", "l_knee", "l_ankle"))


def complete_legs(pose: np.ndarray, canvas: tuple[int, int], layout: str | Layout = "openpose18",
                  threshold: float = 0.3, fit: bool = True) -> tuple[np.ndarray, list[str], float]:
    """(pose, names of the completed joints, scale applied to fit the canvas) for a normalised pose (K, 3) whose
    missing joints have confidence ≤ threshold. Needs a visible neck (or both shoulders) and both hips; a pose
    whose knees and ankles are all there is returned unchanged. fit=False leaves completed joints below the canvas
    (where the photo cut them off) instead of rescaling the person: for a pipeline that reframes the reference."""
    lay = get_layout(layout)
    names = set(lay.joints)
    if not all(j in names for leg in LEGS for j in leg):
        return pose, [], 1.0
    w, h = float(canvas[0]), float(canvas[1])
    px = pose.astype(np.float64).copy()
    px[:, 0] *= w
    px[:, 1] *= h
    seen = px[:, 2] > threshold

    def at(name: str) -> np.ndarray | None:
        i = lay.index(name)
        return px[i, :2] if seen[i] else None

    neck = at("neck") if "neck" in names else None
    if neck is None and at("r_shoulder") is not None and at("l_shoulder") is not None:
        neck = 0.5 * (at("r_shoulder") + at("l_shoulder"))
    hips = [at("r_hip"), at("l_hip")]
    if neck is None or any(hp is None for hp in hips):
        return pose, [], 1.0
    axis = 0.5 * (hips[0] + hips[1]) - neck
    torso = float(np.linalg.norm(axis))
    if torso < 1e-6:
        return pose, [], 1.0
    down = axis / torso
    conf = float(min(px[lay.index(j), 2] for j in ("r_hip", "l_hip")))
    done = []
    for hip_name, knee_name, ankle_name in LEGS:
        hip, knee = at(hip_name), at(knee_name)
        if knee is None:
            knee = hip + FULL_LIMB_PER_TORSO["knee"] * torso * down
            px[lay.index(knee_name)] = (*knee, conf)
            done.append(knee_name)
        if at(ankle_name) is None:
            px[lay.index(ankle_name)] = (*(knee + FULL_LIMB_PER_TORSO["ankle"] * torso * down), conf)
            done.append(ankle_name)
    if not done:
        return pose, [], 1.0
    scale = 1.0
    present = px[:, 2] > 0
    lo, hi = px[present, :2].min(0), px[present, :2].max(0)
    box_lo, box_hi = np.array([w, h]) * FIT_MARGIN, np.array([w, h]) * (1 - FIT_MARGIN)
    if fit and ((lo < 0).any() or (hi > [w, h]).any()):
        size = np.maximum(hi - lo, 1e-6)
        scale = float(min(1.0, *((box_hi - box_lo) / size)))
        anchor = np.array([0.5 * (lo[0] + hi[0]), lo[1]])  # the top of the body stays where it was, if it can
        px[present, :2] = anchor + scale * (px[present, :2] - anchor)
        lo, hi = px[present, :2].min(0), px[present, :2].max(0)
        shift = np.maximum(box_lo - lo, 0) - np.maximum(hi - box_hi, 0)
        px[present, :2] += shift
    out = px.copy()
    out[:, 0] /= w
    out[:, 1] /= h
    out[~present] = 0.0
    return out.astype(np.float32), done, scale
