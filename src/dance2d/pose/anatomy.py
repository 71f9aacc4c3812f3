"""Hide joints the model put where no body could have them.

A decoded joint can land far from where its bone allows: the one-hot model's eye and ear channels often peak a
head's width from the nose (19–29 % of its eyes fail the test below on the held-out songs), and now and then a
shoulder or a hip lands away from the body (under 1 % of them). Real dancers' bones
have a largest on-screen length: BONE_LIMITS holds, per body-18 bone, the 99.9th percentile of its 2D length over the
dance's typical torso in the training dances seen by three virtual cameras each (`scripts/bone_limits.py`). A joint
whose bone is more than MARGIN times that long in a frame is hidden in that frame (confidence 0), as a missing joint
is: an eye that cannot be placed is better left out than drawn beside the head. A joint whose parent is missing or
hidden is judged against its nearest shown ancestor with the bones between them added up (a lone wrist may lie an
arm's reach from its shoulder). Bone lengths cannot catch a face point drawn on the chest (half a torso from the
neck is a possible neck–nose bone), so face points are also held to a least height over the neck along the torso
(FACE_MIN_HEIGHT): a real head stays above the neck however far the dancer leans.
"""

from __future__ import annotations

import functools

import numpy as np

from dance2d.pose.layouts import get_layout
from dance2d.pose.retarget import typical_torso
from dance2d.pose.sequence import per_dance

# 99.9th percentile of bone length ÷ typical torso, Dance with Melody training split, camera seeds 0, 1, 2
# (python scripts/bone_limits.py --root ../shared/data/dance_with_melody --seeds 0,1,2)
BONE_LIMITS = {
    ("neck", "r_shoulder"): 0.434, ("neck", "l_shoulder"): 0.435,
    ("r_shoulder", "r_elbow"): 0.907, ("r_elbow", "r_wrist"): 0.783,
    ("l_shoulder", "l_elbow"): 0.923, ("l_elbow", "l_wrist"): 0.751,
    ("neck", "r_hip"): 1.287, ("r_hip", "r_knee"): 1.379, ("r_knee", "r_ankle"): 0.961,
    ("neck", "l_hip"): 1.281, ("l_hip", "l_knee"): 1.402, ("l_knee", "l_ankle"): 0.941,
    ("neck", "nose"): 0.611, ("nose", "r_eye"): 0.194, ("r_eye", "r_ear"): 0.229,
    ("nose", "l_eye"): 0.194, ("l_eye", "l_ear"): 0.247,
}
MARGIN = 1.5  # people differ from the training dancers: a bone may be this much longer than theirs ever looked

# Lowest height of each face point over the neck, measured along the line from the hips' midpoint to the neck in
# lengths of that line (0 = level with the neck, negative = on the hips' side): the 0.1st percentile over the same
# dances and cameras (scripts/bone_limits.py). Real heads sit above the neck however the dancer leans or bows; the
# one-hot model draws face points on the chest (its left eye in 86 % of the frames that show one on the held-out
# songs: the channel's peak falls on the line of another channel of its RGB triplet).
FACE_MIN_HEIGHT = {"nose": 0.109, "r_eye": 0.126, "l_eye": 0.149, "r_ear": -0.016, "l_ear": 0.020}
HEIGHT_SLACK = 0.1  # a face point may sit this much lower (neck–hip lengths) than the training dancers' ever did


@functools.cache
def _reaches(layout: str) -> dict[int, list[tuple[int, float]]]:
    """Per joint: its ancestors from the parent up, each with the summed BONE_LIMITS of the bones between them, as
    far up as the table covers (a joint below a bone outside it, a hand's, gets none)."""
    lay = get_layout(layout)
    parent = {c: p for p, c in lay.limbs}  # a tree rooted at the neck: one parent per joint
    out = {}
    for c in parent:
        chain, reach, child = [], 0.0, c
        while child in parent:
            bone = (lay.joints[parent[child]], lay.joints[child])
            if bone not in BONE_LIMITS:
                break
            reach += BONE_LIMITS[bone]
            child = parent[child]
            chain.append((child, reach))
        out[c] = chain
    return out


def torso_axis(px: np.ndarray, shown: np.ndarray, lay) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(up (T, 2): the hips' midpoint → neck vector of each frame, torso (T,): frames that show the neck and both
    hips with a nonzero such vector), or (None, None) for a layout without a neck and two hips."""
    if not all(j in lay.joints for j in ("neck", "r_hip", "l_hip")):
        return None, None
    neck, hips = lay.index("neck"), [lay.index("r_hip"), lay.index("l_hip")]
    up = px[:, neck] - px[:, hips].mean(axis=1)
    return up, shown[:, neck] & shown[:, hips].all(axis=1) & ((up**2).sum(-1) > 0)


def face_heights(px: np.ndarray, shown: np.ndarray, lay) -> dict[str, np.ndarray]:
    """Per face point of FACE_MIN_HEIGHT in the layout, its height (T,) over the neck along the hips' midpoint →
    neck line, in lengths of that line; NaN in frames that do not show it, the neck and both hips."""
    up, torso = torso_axis(px, shown, lay)
    if up is None:
        return {}
    neck, length2 = lay.index("neck"), (up**2).sum(-1)
    out = {}
    for name in FACE_MIN_HEIGHT:
        if name in lay.joints:
            j = lay.index(name)
            height = ((px[:, j] - px[:, neck]) * up).sum(-1) / np.where(torso, length2, 1.0)
            out[name] = np.where(torso & shown[:, j], height, np.nan)
    return out


def _face_below_neck(px: np.ndarray, shown: np.ndarray, lay) -> np.ndarray:
    """(T, K) True where a shown face point lies lower than FACE_MIN_HEIGHT − HEIGHT_SLACK (`face_heights`)."""
    out = np.zeros_like(shown)
    for name, height in face_heights(px, shown, lay).items():
        with np.errstate(invalid="ignore"):  # NaN (not judged) compares False
            out[:, lay.index(name)] = height < FACE_MIN_HEIGHT[name] - HEIGHT_SLACK
    return out


@per_dance
def hide_implausible(kp: np.ndarray, canvas, layout: str = "openpose18") -> np.ndarray:
    """A dance (..., T, K, 3) with every joint farther from its nearest shown ancestor than MARGIN × the bone limits
    between them (BONE_LIMITS, in typical torso lengths of that dance) hidden in that frame, and every face point
    lower on its frame's torso than real heads go (FACE_MIN_HEIGHT) too; joints below a bone outside the table
    (hands) are not checked. Each dance of a batch is judged on its own torso."""
    lay = get_layout(layout)
    if "neck" not in lay.joints:  # the table and the torso unit are body-18's
        return kp
    px = kp[..., :2].astype(np.float64) * np.asarray(canvas, np.float64)
    present = kp[..., 2] > 0
    torso = typical_torso(px, present, lay)
    if not torso > 0:
        return kp
    hidden, reaches = np.zeros_like(present), _reaches(layout)
    for _, c in lay.limbs:  # parents before children: every ancestor is judged before its descendants
        judged, too_far = np.zeros(len(px), bool), np.zeros(len(px), bool)
        for a, reach in reaches[c]:  # the nearest shown ancestor decides (a hidden one counts as missing)
            shown = present[:, a] & ~hidden[:, a] & ~judged
            too_far |= shown & (np.linalg.norm(px[:, c] - px[:, a], axis=-1) > MARGIN * reach * torso)
            judged |= shown
        hidden[:, c] = present[:, c] & too_far
    hidden |= _face_below_neck(px, present & ~hidden, lay)
    if not hidden.any():
        return kp
    out = np.array(kp, copy=True)
    out[..., 2] = np.where(hidden, 0, kp[..., 2])
    return out
