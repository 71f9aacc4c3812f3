"""Bridge the short gaps where a joint drops out of a dance for a few frames.

The one-hot model loses a joint for a few frames now and then (its channel's peak falls below the presence
threshold, or the joint lands where no body could have it and `anatomy.hide_implausible` hides it): on the
held-out songs about half of its missing joint-frames are in gaps of at most 10 frames between two frames where
the joint is shown. A skeleton video whose arm blinks out for a third of a second reads as a glitch, and a
pose-to-video model draws the arm vanishing. A gap of at most `max_frames` frames with the joint shown on both
sides is bridged: the joint's offset from its parent moves linearly from the offset before the gap to the one
after it, so the bridged joint follows its parent's motion; where the parent is missing too, the joint's own
position is interpolated. Gaps at the start or end of the dance and longer ones stay missing: nothing there says
where the joint was.

A missing joint between two shown ones is another matter: a wrist drawn without its elbow, or shoulders without
the neck that joins them, leaves a piece of the body floating loose (1–6 % of the one-hot model's frames per
joint on the held-out songs; never in the dancers'). `join_orphans` puts such a joint back where the body says it
is: the neck at the shoulders' midpoint (how body-18 defines it), any other joint at the place it had, relative to
its parent and child, in the nearest frame that shows all three. Single face points are left as they are: which
of them show depends on where the dancer faces (an ear without its eye is a head in profile, in a third of the
dancers' frames). A frame with no face point at all is a headless body, which the dancers never show (the one-hot
model: 5.6 % of its frames, raw: 1.9 %): it gets the face points of the nearest frame that has a head, those
that frame shows, placed where they were relative to the neck and the torso (hips' midpoint → neck), which
foreshortens less than the shoulders do when the dancer turns.
"""

from __future__ import annotations

import numpy as np

from dance2d.pose.anatomy import torso_axis
from dance2d.pose.layouts import FACE_JOINTS, get_layout
from dance2d.pose.sequence import per_dance

GAP_S = 0.4  # seconds: the longest gap bridged by default (half of the one-hot model's missing joint-frames)


def _gaps(missing: np.ndarray, max_frames: int) -> list[tuple[int, int]]:
    """[a, b) runs of True in `missing` (T,) of at most max_frames frames, with a shown frame on both sides."""
    edges = np.diff(np.r_[0, missing.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(a, b) for a, b in zip(starts, ends, strict=True)
            if a > 0 and b < len(missing) and b - a <= max_frames]


@per_dance
def bridge_gaps(kp: np.ndarray, max_frames: int, layout: str = "openpose18") -> np.ndarray:
    """A dance (..., T, K, 3) with each joint's interior gaps of at most max_frames frames bridged (module doc); a
    bridged joint gets the smaller of the confidences on the two sides of its gap."""
    if max_frames < 1:
        return kp
    lay = get_layout(layout)
    parent = {c: p for p, c in lay.limbs}
    out = np.array(kp, copy=True)
    present = out[..., 2] > 0  # (T, K), updated as joints are bridged so children can follow bridged parents
    roots = [j for j in range(len(lay.joints)) if j not in parent]
    for j in roots + [c for _, c in lay.limbs]:  # the limb table lists parents before children
        for a, b in _gaps(~present[:, j], max_frames):
            before, after = a - 1, b
            w = ((np.arange(a, b) - before) / (after - before))[:, None]  # (n, 1), in (0, 1)
            p = parent.get(j)
            if p is not None and present[before:after + 1, p].all():
                off = (1 - w) * (out[before, j, :2] - out[before, p, :2]) + w * (out[after, j, :2] - out[after, p, :2])
                out[a:b, j, :2] = out[a:b, p, :2] + off
            else:
                out[a:b, j, :2] = (1 - w) * out[before, j, :2] + w * out[after, j, :2]
            out[a:b, j, 2] = min(out[before, j, 2], out[after, j, 2])
            present[a:b, j] = True
    return out


def _nearest(ref: np.ndarray, t: np.ndarray) -> np.ndarray:
    """For each frame of t, the nearest of the sorted frames ref (the earlier one on a tie)."""
    at = np.searchsorted(ref, t)
    lo, hi = ref[np.maximum(at - 1, 0)], ref[np.minimum(at, len(ref) - 1)]
    return np.where(t - lo <= hi - t, lo, hi)


def _carry(point: np.ndarray, origin: np.ndarray, axis: np.ndarray, origin_to: np.ndarray,
           axis_to: np.ndarray) -> np.ndarray:
    """(n, 2) points placed against (origin_to, axis_to) as `point` lies against (origin, axis): the same distances
    along and across the axis, in lengths of it (a similarity map per row)."""
    r = point - origin
    n2 = np.maximum((axis**2).sum(-1), 1e-12)
    along = (r * axis).sum(-1) / n2
    across = (axis[:, 0] * r[:, 1] - axis[:, 1] * r[:, 0]) / n2
    perp = np.stack([-axis_to[:, 1], axis_to[:, 0]], axis=-1)
    return origin_to + along[:, None] * axis_to + across[:, None] * perp


@per_dance
def join_orphans(kp: np.ndarray, canvas, layout: str = "openpose18") -> np.ndarray:
    """A dance (..., T, K, 3) with every missing body joint (not a face point) whose parent and a child are shown
    put back (module doc): the neck at the shoulders' midpoint, other joints where they were between their parent
    and that child in the nearest frame showing all three (halfway along the segment where no frame does), and a
    frame without any face point the face points of the nearest frame with a head. A joined joint gets the smaller
    of the confidences it was placed from. canvas (W, H): the pixels the normalised keypoints stand for (the
    placement turns with the segment, which needs both axes in the same unit)."""
    lay = get_layout(layout)
    out = np.array(kp, copy=True)
    size = np.asarray(canvas, np.float64)
    px = out[..., :2].astype(np.float64) * size  # (T, K, 2) pixels
    shown = out[..., 2] > 0  # (T, K), updated as joints are joined so a joined parent serves its children
    if {"neck", "r_shoulder", "l_shoulder"} <= set(lay.joints):
        neck, rs, ls = lay.index("neck"), lay.index("r_shoulder"), lay.index("l_shoulder")
        t = ~shown[:, neck] & shown[:, rs] & shown[:, ls]
        px[t, neck] = 0.5 * (px[t, rs] + px[t, ls])
        out[t, neck, 2] = np.minimum(out[t, rs, 2], out[t, ls, 2])
        shown[t, neck] = True
    for p, j in lay.limbs:  # parents before children
        if lay.joints[j] in FACE_JOINTS:  # shown or not by where the dancer faces
            continue
        for c in (c for pp, c in lay.limbs if pp == j):
            t = np.flatnonzero(~shown[:, j] & shown[:, p] & shown[:, c])
            if not len(t):
                continue
            ref = np.flatnonzero(shown[:, p] & shown[:, j] & shown[:, c])
            d = px[t, c] - px[t, p]  # (n, 2)
            if len(ref):
                near = _nearest(ref, t)  # the nearest frame that shows all three
                px[t, j] = _carry(px[near, j], px[near, p], px[near, c] - px[near, p], px[t, p], d)
            else:
                px[t, j] = px[t, p] + 0.5 * d
            out[t, j, 2] = np.minimum(out[t, p, 2], out[t, c, 2])
            shown[t, j] = True
    _join_head(px, out, shown, lay)
    joined = shown & ~(kp[..., 2] > 0)
    out[..., :2] = np.where(joined[..., None], px / size, out[..., :2])
    return out


def _join_head(px: np.ndarray, out: np.ndarray, shown: np.ndarray, lay) -> None:
    """In place: the face points of the nearest frame with a head into every frame without one (module doc)."""
    face = [lay.index(j) for j in FACE_JOINTS if j in lay.joints]
    up, torso = torso_axis(px, shown, lay)  # (T, 2) hips' midpoint → neck, (T,) where neck and hips are shown
    if not face or up is None:
        return
    neck = lay.index("neck")
    headless = np.flatnonzero(torso & ~shown[:, face].any(axis=1))
    ref = np.flatnonzero(torso & shown[:, face].any(axis=1))
    if not len(headless) or not len(ref):
        return
    near = _nearest(ref, headless)  # (n,) the nearest frame with a head
    for j in face:
        take = shown[near, j]
        if not take.any():
            continue
        t, src = headless[take], near[take]
        px[t, j] = _carry(px[src, j], px[src, neck], up[src], px[t, neck], up[t])
        out[t, j, 2] = np.minimum(out[t, neck, 2], out[src, j, 2])
        shown[t, j] = True
