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
"""

from __future__ import annotations

import numpy as np

from dance2d.pose.layouts import get_layout
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
