"""Spread the model's rare teleports over a few frames.

The raw-coordinate model now and then moves the whole body to another pose between two frames (a step 8–50×
the median step, 5–40 times in 30 s on the held-out songs); real dancers never do (the largest step of every
training dance is under 5.4× its median). `spread_jumps` turns each such jump into a quick movement: the frames
after it are pulled back towards continuity and released over up to MAX_FRAMES frames, so the dance still arrives
at the pose the model chose, just not in one frame. A burst of jumps (the model flickering between poses) is first
replaced by the straight way from the pose before it to the pose after it.
"""

from __future__ import annotations

import numpy as np

from dance2d.pose.layouts import get_layout
from dance2d.pose.retarget import typical_torso
from dance2d.pose.sequence import per_dance

JUMP_RATIO = 6.0  # a step larger than this many median steps is a jump (training dances: at most 5.4)
JUMP_TORSO = 0.2  # ... and larger than this fraction of the torso (dances that barely move have tiny medians)
TARGET_RATIO = 3.0  # a jump is spread until each of its steps is about this many median steps
MAX_FRAMES = 12  # over at most this many frames (0.5 s at 25 fps)
BURST_GAP = 6  # jumps this few frames apart are one burst: the model flickering between poses
BODY = 14  # body-18's first 14 joints (no eyes or ears) measure the step


def _steps(px: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean displacement (T−1,) of the body joints present in both frames (NaN where none is)."""
    both = present[1:, :BODY] & present[:-1, :BODY]
    d = np.linalg.norm(px[1:, :BODY] - px[:-1, :BODY], axis=-1)
    with np.errstate(invalid="ignore"):
        return np.where(both.any(1), (d * both).sum(1) / both.sum(1), np.nan)


def _bursts(jumps: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) jump of each run of jumps at most BURST_GAP frames apart, for runs of two or more."""
    out, start = [], None
    for i, t in enumerate(jumps):
        start = t if start is None else start
        if i + 1 == len(jumps) or jumps[i + 1] - t > BURST_GAP:
            if t > start:
                out.append((int(start), int(t)))
            start = None
    return out


@per_dance
def spread_jumps(kp: np.ndarray, canvas, layout: str = "openpose18") -> np.ndarray:
    """Dances (..., T, K, 3) in [0, 1] of `canvas` with every jump (a step over JUMP_RATIO median steps and over
    JUMP_TORSO torso lengths) spread over up to MAX_FRAMES frames; other frames and the confidences are kept."""
    if len(kp) < 4:
        return kp
    lay = get_layout(layout)
    c = np.asarray(canvas, np.float64)
    px = kp[..., :2].astype(np.float64) * c
    present = kp[..., 2] > 0
    torso = typical_torso(px, present, lay)
    if not torso > 0:  # no torso to measure a jump against
        return kp
    steps = _steps(px, present)
    median = float(np.nanmedian(steps)) if np.isfinite(steps).any() else 0.0
    limit = max(JUMP_RATIO * median, JUMP_TORSO * torso)
    if not limit > 0:
        return kp
    T = len(px)
    jumps = np.flatnonzero(steps > limit)
    for a, b in _bursts(jumps):  # frames a+1 … b flicker: replace them by the way from frame a to frame b+1
        both = present[a] & present[b + 1]
        f = ((np.arange(a + 1, b + 1) - a) / (b + 1 - a))[:, None, None]
        px[a + 1:b + 1] = np.where(both[None, :, None], (1 - f) * px[a] + f * px[b + 1], px[a + 1:b + 1])
    for t in np.flatnonzero(_steps(px, present) > limit):
        s = _steps(px[t:t + 2], present[t:t + 2])[0]  # again: spreading an earlier jump may have removed it
        if not s > limit:
            continue
        w = int(min(MAX_FRAMES, max(1, np.ceil(s / (TARGET_RATIO * max(median, 1e-9))) - 1)))
        both = present[t] & present[t + 1]
        before = px[t] - px[t - 1] if t > 0 else 0.0
        after = px[t + 2] - px[t + 1] if t + 2 < T else 0.0
        delta = np.where(both[:, None], px[t + 1] - px[t] - 0.5 * (before + after), 0.0)  # the jump, per joint
        k = np.arange(min(w, T - t - 1))  # frame t+1+k keeps (k+1)/(w+1) of the jump
        px[t + 1:t + 1 + len(k)] -= delta * ((w - k) / (w + 1))[:, None, None]
    out = np.array(kp, np.float32, copy=True)
    out[..., :2] = np.where(present[..., None], px / c, kp[..., :2])
    return out
