"""Motion beats and the Beat Align Score (supplementary §8), in seconds so the score does not depend on fps.

Motion beats are the local minima of the Gaussian-smoothed mean joint speed. BAS averages
exp(-d²/(2σ²)) over one beat set, d being the distance (s) to the nearest beat of the other set:
"music_to_motion" averages over music beats (Bailando), "motion_to_music" over motion beats (FACT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema

from dance2d.errors import Dance2DError
from dance2d.metrics.kinetic import BODY18_BODY_JOINTS, _check_joint_ids, check_keypoints, fill_missing

DIRECTIONS = ("music_to_motion", "motion_to_music")
UPSTREAM_FPS = 60.0  # AIST++ frame rate at which Bailando / FACT chose their σ values (in frames)


@dataclass
class BeatConfig:
    """Settings of motion-beat detection and BAS (supplementary §8); times in seconds."""

    joints: tuple[int, ...] | None = BODY18_BODY_JOINTS  # joints whose speeds are averaged; None = every joint
    smoothing_sigma_s: float = 5.0 / UPSTREAM_FPS  # Gaussian σ on the speed curve: Bailando's 5 frames @ 60 fps
    sigma_s: float = 3.0 / UPSTREAM_FPS  # BAS σ: Bailando/FACT's 3 frames @ 60 fps = 0.05 s
    direction: str = "music_to_motion"  # which beat set is averaged over (see module docstring)
    centre_speed_samples: bool = True  # speed of frames k→k+1 sits at (k+½)/fps; False: at k/fps (upstream)
    refine_subframe: bool = True  # parabolic sub-frame position of each minimum; False: whole samples (upstream)

    def __post_init__(self) -> None:
        """Check the direction and the σ values."""
        if self.direction not in DIRECTIONS:
            raise Dance2DError(f"BeatConfig.direction={self.direction!r}: use one of {DIRECTIONS}.")
        if self.sigma_s <= 0 or self.smoothing_sigma_s < 0:
            raise Dance2DError("BeatConfig.sigma_s must be > 0 and smoothing_sigma_s >= 0 (seconds).")


def joint_speed(keypoints: np.ndarray, fps: float, joints: tuple[int, ...] | None = BODY18_BODY_JOINTS,
                confidence: np.ndarray | None = None) -> np.ndarray:
    """Mean over joints of |p_{k+1} - p_k|·fps, k = 0 … T-2: (T, K, D) -> (T-1,)."""
    kp = fill_missing(check_keypoints(keypoints, min_frames=3), confidence)
    ids = tuple(range(kp.shape[1])) if joints is None else tuple(joints)
    _check_joint_ids(kp, ids, "BeatConfig.joints")
    p = kp[:, list(ids)]  # (T, J, D)
    if not np.isfinite(p).all():
        raise Dance2DError("a joint used for motion beats is missing in every frame: drop it from BeatConfig.joints.")
    return np.linalg.norm(p[1:] - p[:-1], axis=-1).mean(axis=1) * fps  # (T-1,)


def motion_beats(keypoints: np.ndarray, fps: float, cfg: BeatConfig | None = None,
                 confidence: np.ndarray | None = None) -> np.ndarray:
    """Motion beat times (s): local minima of the Gaussian-smoothed mean joint speed (§8)."""
    cfg = cfg or BeatConfig()
    if fps <= 0:
        raise Dance2DError(f"fps={fps}: the frame rate must be positive.")
    speed = joint_speed(keypoints, fps, cfg.joints, confidence)  # (T-1,)
    sigma_frames = cfg.smoothing_sigma_s * fps
    if sigma_frames > 0:
        speed = gaussian_filter1d(speed, sigma_frames, mode="reflect")
    idx = argrelextrema(speed, np.less)[0]  # strict minima, never the first or last sample
    pos = idx.astype(np.float64)
    if cfg.refine_subframe and idx.size:
        y0, y1, y2 = speed[idx - 1], speed[idx], speed[idx + 1]
        curv = y0 - 2.0 * y1 + y2  # > 0 at a strict minimum
        pos = pos + np.where(curv > 0, 0.5 * (y0 - y2) / np.where(curv > 0, curv, 1.0), 0.0)
    return (pos + (0.5 if cfg.centre_speed_samples else 0.0)) / fps


def beat_align_score(music_beats_s: np.ndarray, motion_beats_s: np.ndarray, sigma_s: float = 3.0 / UPSTREAM_FPS,
                     direction: str = "music_to_motion") -> float:
    """BAS = mean over the averaged set of exp(-d²/(2σ²)), d = distance (s) to the nearest beat of the other set."""
    if direction not in DIRECTIONS:
        raise Dance2DError(f"direction={direction!r}: use one of {DIRECTIONS}.")
    music = np.sort(np.asarray(music_beats_s, dtype=np.float64).reshape(-1))
    motion = np.sort(np.asarray(motion_beats_s, dtype=np.float64).reshape(-1))
    queries, targets = (music, motion) if direction == "music_to_motion" else (motion, music)
    if queries.size == 0:
        return float("nan")  # nothing to average over
    if targets.size == 0:
        return 0.0  # no beat to align with
    j = np.clip(np.searchsorted(targets, queries), 1, max(targets.size - 1, 1))
    d = np.abs(queries - targets[j - 1])
    if targets.size > 1:
        d = np.minimum(d, np.abs(queries - targets[j]))
    return float(np.exp(-(d**2) / (2.0 * sigma_s**2)).mean())


def sequence_bas(keypoints: np.ndarray, fps: float, music_beats_s: np.ndarray, cfg: BeatConfig | None = None,
                 confidence: np.ndarray | None = None, direction: str | None = None) -> float:
    """BAS of one pose sequence against its music beats; music beats outside the motion's time span are dropped."""
    cfg = cfg or BeatConfig()
    music = np.asarray(music_beats_s, dtype=np.float64).reshape(-1)
    span = (check_keypoints(keypoints, min_frames=3).shape[0] - 1) / fps
    music = music[(music >= 0.0) & (music <= span)]
    motion = motion_beats(keypoints, fps, cfg, confidence)
    return beat_align_score(music, motion, cfg.sigma_s, direction or cfg.direction)


def beat_rate_bpm(beats_s: np.ndarray, duration_s: float | None = None) -> float:
    """Beats per minute: 60 / median inter-beat interval, or count·60/duration when duration is given."""
    b = np.sort(np.asarray(beats_s, dtype=np.float64).reshape(-1))
    if duration_s is not None:
        return float(b.size * 60.0 / duration_s) if duration_s > 0 else float("nan")
    if b.size < 2:
        return float("nan")
    return float(60.0 / np.median(np.diff(b)))
