"""Dynamics: faster, bigger movements where the music is louder than usual, calmer ones where it is quieter.

A model trained on a few songs of even loudness does not learn that a loud chorus asks for more than a quiet
verse (docs/RESULTS.md: motion energy 0.96× across a calm → energetic cut). `apply_dynamics` makes the dance move
`gain` times as fast as the model made it, with a gain that follows the music's level (music/drive.py), by scaling
its movement around its own slow course (σ = 1 s): the neck's path, every bone's 2D angle and its foreshortening.
Every bone keeps its full length, so the person stays the person. Gain 1 leaves the dance unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter1d

from dance2d.pose.layouts import FACE_JOINTS, get_layout
from dance2d.pose.sequence import per_dance

STRENGTH = 1.0  # default strength of the loudness-to-movement coupling, unless the model sets its own
DB_PER_DOUBLING = 9.0  # the movement's speed doubles for every 9 dB above the music's typical level (halves below)
MAX_GAIN = 1.6  # the speed is raised by at most this factor
MIN_GAIN = 0.5  # and lowered by at most this one: a quiet passage may be danced half as fast (calmer is always a pose)
BASE_SIGMA_S = 1.0  # std (s) of the running average that the movement is measured from
MATCH_ROUNDS = 2  # rounds of solving the movement factor that gives the speed the gain asks for (94 % of it)
MIN_FACTOR, MAX_FACTOR = 0.3, 2.0  # bounds of that factor (angles turned further from their course than bodies go)
LENGTH_CAP_PERCENTILE = 98  # scaled foreshortening never lengthens a bone past this percentile of its 2D lengths


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


class _Bone(NamedTuple):
    """One bone's 2D length and angle split into their slow course and the movement around it, per frame (T,)."""
    parent: int
    child: int
    both: np.ndarray  # frames that show both joints
    length: np.ndarray
    base_length: np.ndarray  # running average of the length
    cap: float  # LENGTH_CAP_PERCENTILE of the length
    base_angle: np.ndarray  # running (circular) average of the angle
    deviation: np.ndarray  # angle − base_angle, wrapped to (−π, π]


class _Movement(NamedTuple):
    """A dance split into its slow course (running averages, std sigma frames) and its movement around it: the
    neck's path, and each bone's length and angle."""
    neck_ok: np.ndarray  # (T,)
    neck_base: np.ndarray | None  # (T, 2)
    bones: list[_Bone]


def _split_movement(px: np.ndarray, present: np.ndarray, sigma: float, lay) -> _Movement:
    """The factor-independent part of `_scale_movement`, computed once per dance."""
    neck = lay.index("neck")
    ok = present[:, neck]
    neck_base = gaussian_filter1d(_fill(px[:, neck], ok), sigma, axis=0, mode="nearest") if ok.any() else None
    bones = []
    for p, ch in lay.limbs:  # parents come before children (a tree rooted at the neck)
        both = present[:, p] & present[:, ch]
        if not both.any():
            continue
        v = px[:, ch] - px[:, p]
        length = np.linalg.norm(v, axis=-1)
        angle = np.arctan2(v[:, 1], v[:, 0])
        base = _circular_smooth(_fill(angle, both), sigma)
        bones.append(_Bone(p, ch, both, length, gaussian_filter1d(_fill(length, both), sigma, mode="nearest"),
                           float(np.percentile(length[both], LENGTH_CAP_PERCENTILE)), base,
                           np.angle(np.exp(1j * (angle - base)))))
    return _Movement(ok, neck_base, bones)


def _scale_movement(px: np.ndarray, move: _Movement, factor: np.ndarray, lay) -> np.ndarray:
    """Pixels (T, K, 2) whose movement around its slow course (`_split_movement`) is scaled by factor (T,): the
    neck's path, each bone's 2D angle (dev + (factor − 1)·sin dev, which stays continuous when a bone swings past the
    opposite direction) and each bone's 2D length (its foreshortening, never past the bone's LENGTH_CAP_PERCENTILE
    length unless it already was); joints are rebuilt from the neck outward. A joint missing in a frame, or whose
    parent is, keeps its position."""
    out = px.copy()
    neck = lay.index("neck")
    if move.neck_base is not None:
        scaled = move.neck_base + factor[:, None] * (px[:, neck] - move.neck_base)
        out[:, neck] = np.where(move.neck_ok[:, None], scaled, px[:, neck])
    for b in move.bones:
        scaled_length = np.clip(b.base_length + factor * (b.length - b.base_length),
                                np.minimum(b.length, 0.1 * b.cap), np.maximum(b.length, b.cap))
        turned = b.base_angle + b.deviation + (factor - 1) * np.sin(b.deviation)  # ≈ factor × deviation when small
        moved = out[:, b.parent] + scaled_length[:, None] * np.stack([np.cos(turned), np.sin(turned)], -1)
        out[:, b.child] = np.where(b.both[:, None], moved, out[:, b.child])
    return out


def _speed(px: np.ndarray, present: np.ndarray, joints: list[int], sigma: float) -> np.ndarray:
    """Running average (std sigma frames) of the mean speed of `joints` (T,), in pixels per frame."""
    step = np.linalg.norm(np.diff(px[:, joints], axis=0), axis=-1)
    ok = present[1:, joints] & present[:-1, joints]
    speed = np.where(ok, step, 0.0).sum(1) / np.maximum(ok.sum(1), 1)
    return gaussian_filter1d(np.concatenate([speed[:1], speed]), sigma, mode="nearest")


@per_dance
def apply_dynamics(kp: np.ndarray, gain: np.ndarray, canvas, fps: float, layout: str = "openpose18") -> np.ndarray:
    """Make a dance (..., T, K, 3) move gain (T,) times as fast as it does, around its running average.

    The movement (`_scale_movement`: the neck's path, every bone's 2D angle and foreshortening) is scaled by a
    factor per frame, solved in MATCH_ROUNDS rounds so that the body joints' running-average speed comes out gain
    times the dance's own: scaling the movement by the gain itself would leave out the speed that lies in the slow
    course and in foreshortening, and reach about two thirds of the gain (docs/RESULTS.md). The factor stays within
    [MIN_FACTOR, MAX_FACTOR]; every bone keeps its full length, so the person stays the person."""
    gain = np.asarray(gain, np.float64)[:len(kp)]
    if len(kp) < 3 or np.allclose(gain, 1.0):
        return kp
    lay = get_layout(layout)
    c = np.asarray(canvas, np.float64)
    px = kp[..., :2].astype(np.float64) * c  # (T, K, 2) isotropic pixels
    present = kp[..., 2] > 0
    sigma = BASE_SIGMA_S * fps
    body = [j for j, name in enumerate(lay.joints) if name not in FACE_JOINTS]
    move = _split_movement(px, present, sigma, lay)
    own = _speed(px, present, body, sigma)
    moving = own > 1e-3 * max(float(own.max()), 1e-9)  # a dancer standing still has no speed to scale
    factor = gain.copy()
    for _ in range(MATCH_ROUNDS):  # each round corrects the factor by how far the speed it gave missed the gain
        got = _speed(_scale_movement(px, move, factor, lay), present, body, sigma) / np.maximum(own, 1e-9)
        factor = np.where(moving, np.clip(factor * gain / np.clip(got, 0.05, 20.0), MIN_FACTOR, MAX_FACTOR), gain)
    out = _scale_movement(px, move, factor, lay)
    res = np.array(kp, np.float32, copy=True)
    res[..., :2] = np.where(present[..., None], out / c, kp[..., :2])
    return res
