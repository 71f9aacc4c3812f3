"""Dynamics: bigger movements where the music is louder than usual, smaller where it is quieter.

A model trained on a few songs of even loudness does not learn that a loud chorus asks for more than a quiet
verse (docs/RESULTS.md: motion energy 0.96× across a calm → energetic cut). `apply_dynamics` scales the dance's
movement around its own slow course by a gain that follows the music's level (music/drive.py): the neck's path
and every bone's 2D angle move `gain` times as far from their running averages (σ = 1 s), while every bone keeps its
length in every frame, so the person and the foreshortening stay as generated. Gain 1 leaves the dance unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from dance2d.pose.layouts import get_layout
from dance2d.pose.sequence import per_dance

STRENGTH = 1.0  # default strength of the loudness-to-movement coupling, unless the model sets its own
DB_PER_DOUBLING = 9.0  # the movement doubles for every 9 dB above the music's typical level (halves below)
MAX_GAIN = 1.6  # and is scaled by at most this factor: more turns angles further than bodies go
MIN_GAIN = 0.5  # and by at least this one: a quiet passage may be danced half as big (calmer is always a pose)
BASE_SIGMA_S = 1.0  # std (s) of the running average that the movement is measured from


def dynamics_gain(level_db: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Gain per frame from the relative music level in dB (music/drive.py loudness_db); strength 0 = all ones."""
    g = np.exp2(strength * np.asarray(level_db, np.float64) / DB_PER_DOUBLING)
    return np.clip(g, MIN_GAIN, MAX_GAIN)


def _circular_smooth(angle: np.ndarray, sigma: float) -> np.ndarray:
    """Running average of angles (T,) as the angle of the smoothed unit vectors."""
    c = gaussian_filter1d(np.cos(angle), sigma, mode="nearest")
    s = gaussian_filter1d(np.sin(angle), sigma, mode="nearest")
    return np.arctan2(s, c)


def _fill(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Values (T, ...) with each frame where ok is False taking the nearest ok frame's (for smoothing only)."""
    idx = np.flatnonzero(ok)
    if idx.size in (0, len(ok)):
        return values
    t = np.arange(len(ok))
    j = np.searchsorted(idx, t)
    left, right = idx[np.maximum(j - 1, 0)], idx[np.minimum(j, idx.size - 1)]
    return values[np.where(t - left <= right - t, left, right)]


@per_dance
def apply_dynamics(kp: np.ndarray, gain: np.ndarray, canvas, fps: float, layout: str = "openpose18") -> np.ndarray:
    """Scale a dance's movement (..., T, K, 3) by gain (T,) around its running average, bone lengths kept.

    The neck (the root of the limb tree) moves gain × as far from its running average; each bone's 2D angle turns
    about gain × as far from its running average angle (dev + (gain − 1)·sin dev, which stays continuous when a
    bone swings past the opposite direction), and joints are rebuilt from the neck outward at their own
    per-frame lengths. A joint missing in a frame, or whose parent is, keeps its position."""
    gain = np.asarray(gain, np.float64)[:len(kp)]
    if len(kp) < 3 or np.allclose(gain, 1.0):
        return kp
    lay = get_layout(layout)
    c = np.asarray(canvas, np.float64)
    px = kp[..., :2].astype(np.float64) * c  # (T, K, 2) isotropic pixels
    present = kp[..., 2] > 0
    sigma = BASE_SIGMA_S * fps
    g = gain[:, None]
    out = px.copy()
    neck = lay.index("neck")
    ok = present[:, neck]
    if ok.any():
        base = gaussian_filter1d(_fill(px[:, neck], ok), sigma, axis=0, mode="nearest")
        out[:, neck] = np.where(ok[:, None], base + g * (px[:, neck] - base), px[:, neck])
    for p, ch in lay.limbs:  # parents come before children (a tree rooted at the neck)
        both = present[:, p] & present[:, ch]
        if not both.any():
            continue
        v = px[:, ch] - px[:, p]
        length = np.linalg.norm(v, axis=-1)
        angle = np.arctan2(v[:, 1], v[:, 0])
        base = _circular_smooth(_fill(angle, both), sigma)
        dev = np.angle(np.exp(1j * (angle - base)))  # deviation wrapped to (−π, π]
        turned = base + dev + (gain - 1) * np.sin(dev)  # ≈ gain × dev when small; continuous where dev wraps
        moved = out[:, p] + length[:, None] * np.stack([np.cos(turned), np.sin(turned)], -1)
        out[:, ch] = np.where(both[:, None], moved, out[:, ch])
    res = np.array(kp, np.float32, copy=True)
    res[..., :2] = np.where(present[..., None], out / c, kp[..., :2])
    return res
