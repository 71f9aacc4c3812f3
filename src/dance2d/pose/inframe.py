"""Keep the dancer inside the picture's width, as a camera operator would (`dance2d generate --keep-in-frame`).

A dance keeps the reference person's on-screen scale and starts where the person stands, so the dancers' steps
carry the body as far across the picture as they would carry the real person: from a close-up photo (a torso that
fills half the frame) a few sideways steps take the dancer out of it, and a pose-to-video model then has a person
half outside its frame. With `follow_in_frame` the whole dance is shifted sideways, frame by frame, by the least
that keeps every shown joint at least `margin` inside the canvas's width (a body wider than that is centred, which
continues the same shift); the shift is eased (widened by a running maximum, then Gaussian-smoothed over
`ease_s`), so the picture pans smoothly instead of jumping, and the pose itself is never changed. Where the dance
stays inside, nothing moves. It does not pan up or down: a close-up's framing cuts the legs off on purpose, and a
camera that tilted to show the feet whenever they could fit would bob up and down.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from dance2d.pose.sequence import per_dance

MARGIN = 0.02  # fraction of the canvas side kept free between the body and the edge
EASE_S = 0.4  # seconds: the camera starts moving about this long before the body would reach the edge


def _needed_shift(lo: np.ndarray, hi: np.ndarray, margin: float) -> np.ndarray:
    """Per frame (T,) the least shift (canvas = [0, 1]) that brings [lo, hi] inside [margin, 1 − margin], the one
    that centres it where it is wider than that, and 0 where it is inside or has no shown joint (NaN)."""
    inside = np.where(lo < margin, margin - lo, np.where(hi > 1 - margin, 1 - margin - hi, 0.0))
    need = np.where(hi - lo <= 1 - 2 * margin, inside, 0.5 - (lo + hi) / 2)
    return np.where(np.isfinite(lo), need, 0.0)


def _ease(need: np.ndarray, frames: float) -> np.ndarray:
    """A smooth shift (T,) that reaches each frame's need: the positive and negative needs are widened by a running
    maximum of ±2 `frames` and smoothed with a Gaussian of σ = `frames`."""
    if frames <= 0:
        return need
    size = 4 * int(np.ceil(frames)) + 1
    out = np.zeros_like(need)
    for sign in (1.0, -1.0):
        part = np.maximum(sign * need, 0.0)
        if part.any():
            widened = maximum_filter1d(part, size, mode="nearest")
            out += sign * gaussian_filter1d(widened, frames, mode="nearest", truncate=2.0)  # moves ≤ 4σ early
    return out


@per_dance
def follow_in_frame(kp: np.ndarray, fps: float, margin: float = MARGIN, ease_s: float = EASE_S) -> np.ndarray:
    """A dance (..., T, K, 3), x and y in [0, 1] of its canvas, shifted sideways per frame so its shown joints stay
    inside the canvas's width (module doc); y, confidences and the pose's shape are unchanged."""
    shown = kp[..., 2] > 0  # (T, K)
    if not shown.any():
        return kp
    empty = ~shown.any(axis=1)  # (T,) frames that show no joint
    lo = np.where(empty, np.nan, np.where(shown, kp[..., 0], np.inf).min(axis=1))  # (T,)
    hi = np.where(empty, np.nan, np.where(shown, kp[..., 0], -np.inf).max(axis=1))
    out = np.array(kp, copy=True)
    out[..., 0] = kp[..., 0] + _ease(_needed_shift(lo, hi, margin), ease_s * fps)[:, None]
    return out
