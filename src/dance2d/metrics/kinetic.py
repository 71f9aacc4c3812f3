"""Kinetic features of a keypoint sequence (supplementary §8; fid-kinetic, Onuma et al. 2008) in 2D or 3D.

Per selected joint, three numbers (joint-major order, as upstream):
  KE_h = mean_i |v̄_i,h|²,  KE_v = mean_i |v̄_i,v|²,  EE = mean_i |ā_i|,
with v̄_i / ā_i the velocity / acceleration averaged over a ±w-frame window around frame i
(i = 1 … T-1). Every choice (joints, root, scale, frame time, the upstream acceleration bug) is an
explicit field of `KineticConfig`; docs/metrics.md writes them down with the formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dance2d.errors import Dance2DError

# OpenPose body-18: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8-10 right leg, 11-13 left leg, 14-17 eyes/ears.
BODY18_BODY_JOINTS = tuple(range(14))  # nose, neck, arms, legs: the eyes and ears (14-17) are left out
BODY18_NECK = (1,)  # upper end of the torso
BODY18_HIPS = (8, 11)  # right and left hip: their midpoint is the root and the lower end of the torso
BODY18_SHOULDERS = (2, 5)  # right and left shoulder: their distance says how squarely the dancer faces the camera

ROOT_MODES = ("none", "first_frame", "per_frame")
SCALE_MODES = ("torso", "none")


@dataclass
class KineticConfig:
    """Settings of the kinetic features (supplementary §8); defaults are the 2D OpenPose body-18 choice."""

    joints: tuple[int, ...] | None = BODY18_BODY_JOINTS  # joints that get features; None = every joint
    root_relative: str = "none"  # "none" | "first_frame" (subtract the root at frame 0, as Bailando) | "per_frame"
    root_joints: tuple[int, ...] = BODY18_HIPS  # the root is the mean of these joints
    scale: str = "torso"  # "torso": divide by the sequence's median torso length; "none": keep units
    torso_top: tuple[int, ...] = BODY18_NECK  # torso length = |mean(torso_top) - mean(torso_bottom)|
    torso_bottom: tuple[int, ...] = BODY18_HIPS  # lower end of the torso (mean of these joints)
    up_axis: int = 1  # coordinate axis that is "vertical" (y: image rows in 2D, y-up in AIST++ 3D)
    sliding_window: int = 2  # ±w frames averaged around each frame (upstream: 2)
    upstream_accel_bug: bool = False  # True: the AIST++ API / Bailando acceleration formula, bug included

    def __post_init__(self) -> None:
        """Check the option strings and the window (one clear sentence per problem)."""
        if self.root_relative not in ROOT_MODES:
            raise Dance2DError(f"KineticConfig.root_relative={self.root_relative!r}: use one of {ROOT_MODES}.")
        if self.scale not in SCALE_MODES:
            raise Dance2DError(f"KineticConfig.scale={self.scale!r}: use one of {SCALE_MODES}.")
        if self.sliding_window < 1:
            raise Dance2DError(f"KineticConfig.sliding_window={self.sliding_window}: use a window of at least 1.")


def check_keypoints(keypoints: np.ndarray, min_frames: int = 2) -> np.ndarray:
    """Return keypoints as float64 (T, K, D), D = 2 or 3, or raise a clear error."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] not in (2, 3):
        raise Dance2DError(f"keypoints have shape {kp.shape}: pass an array (T, K, 2) or (T, K, 3).")
    if kp.shape[0] < min_frames:
        raise Dance2DError(f"keypoints have {kp.shape[0]} frames: this metric needs at least {min_frames}.")
    return kp


def fill_missing(keypoints: np.ndarray, confidence: np.ndarray | None, threshold: float = 0.0) -> np.ndarray:
    """Replace joints with confidence <= threshold (or NaN) by linear interpolation in time (held at the ends, §9)."""
    kp = check_keypoints(keypoints, min_frames=1)
    seen = np.isfinite(kp).all(axis=2)  # (T, K)
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != kp.shape[:2]:
            raise Dance2DError(f"confidence has shape {conf.shape}: it must be (T, K) = {kp.shape[:2]}.")
        seen &= conf > threshold
    if seen.all():
        return kp
    out = kp.copy()
    t = np.arange(kp.shape[0])
    for k in np.flatnonzero(~seen.all(axis=0)):
        ok = seen[:, k]
        if not ok.any():
            out[:, k] = np.nan  # never seen: callers that use this joint raise
            continue
        for d in range(kp.shape[2]):
            out[:, k, d] = np.interp(t, t[ok], kp[ok, k, d])
    return out


def resample(keypoints: np.ndarray, fps: float, new_fps: float) -> np.ndarray:
    """Linearly resample a (T, K, D) sequence from fps to new_fps over the same time span."""
    kp = check_keypoints(keypoints, min_frames=1)
    if fps == new_fps:
        return kp
    t_old = np.arange(kp.shape[0]) / fps
    t_new = np.arange(int(np.floor(t_old[-1] * new_fps + 1e-9)) + 1) / new_fps
    flat = kp.reshape(kp.shape[0], -1)  # (T, K·D)
    out = np.stack([np.interp(t_new, t_old, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(len(t_new), *kp.shape[1:])


def joint_mean(keypoints: np.ndarray, joints: tuple[int, ...]) -> np.ndarray:
    """Mean position of a joint group per frame: (T, K, D) -> (T, D)."""
    return keypoints[:, list(joints)].mean(axis=1)


def torso_length(keypoints: np.ndarray, top: tuple[int, ...] = BODY18_NECK,
                 bottom: tuple[int, ...] = BODY18_HIPS) -> float:
    """Median over frames of |mean(top) - mean(bottom)| (the scale unit of the 2D metrics)."""
    kp = check_keypoints(keypoints, min_frames=1)
    _check_joint_ids(kp, tuple(top) + tuple(bottom), "torso joints")
    lengths = np.linalg.norm(joint_mean(kp, top) - joint_mean(kp, bottom), axis=-1)  # (T,)
    lengths = lengths[np.isfinite(lengths)]
    if lengths.size == 0 or np.median(lengths) <= 0:
        raise Dance2DError("the torso length is zero or missing in every frame: pass scale='none' or fix the pose.")
    return float(np.median(lengths))


def prepare_positions(keypoints: np.ndarray, cfg: KineticConfig, confidence: np.ndarray | None = None
                      ) -> np.ndarray:
    """Apply the config's missing-joint fill, root handling and scale; return the selected joints (T, J, D)."""
    kp = fill_missing(check_keypoints(keypoints, min_frames=3), confidence)
    if cfg.root_relative != "none":
        _check_joint_ids(kp, cfg.root_joints, "KineticConfig.root_joints")
        root = joint_mean(kp, cfg.root_joints)  # (T, D)
        kp = kp - (root[:1] if cfg.root_relative == "first_frame" else root)[:, None, :]
    if cfg.scale == "torso":
        kp = kp / torso_length(kp, cfg.torso_top, cfg.torso_bottom)
    joints = tuple(range(kp.shape[1])) if cfg.joints is None else tuple(cfg.joints)
    _check_joint_ids(kp, joints, "KineticConfig.joints")
    pos = kp[:, list(joints)]  # (T, J, D)
    if not np.isfinite(pos).all():
        raise Dance2DError("a selected joint is missing in every frame: drop it from KineticConfig.joints.")
    return pos


def _windowed_mean(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of x[lo[i] : hi[i] + 1] along axis 0 for each i, via a cumulative sum."""
    c = np.concatenate([np.zeros_like(x[:1]), np.cumsum(x, axis=0)], axis=0)  # (N+1, ...)
    count = (hi - lo + 1).reshape(-1, *([1] * (x.ndim - 1)))
    return (c[hi + 1] - c[lo]) / count


def kinetic_features(keypoints: np.ndarray, fps: float, cfg: KineticConfig | None = None,
                     confidence: np.ndarray | None = None) -> np.ndarray:
    """Kinetic feature vector (3·J,) = [KE_h, KE_v, EE] per joint, joint-major (supplementary §8)."""
    cfg = cfg or KineticConfig()
    if fps <= 0:
        raise Dance2DError(f"fps={fps}: the frame rate must be positive.")
    p = prepare_positions(keypoints, cfg, confidence)  # (T, J, D)
    T, _, D = p.shape
    if not 0 <= cfg.up_axis < D:
        raise Dance2DError(f"KineticConfig.up_axis={cfg.up_axis} does not exist for {D}-D keypoints.")
    dt = 1.0 / fps
    w = cfg.sliding_window
    i = np.arange(1, T)  # frames that get a window (upstream loops i = 1 … T-1)

    # velocity terms d_k = p_k - p_{k-1}, k = 1 … T-1 (stored at k-1); window k ∈ [i-w, i+w] ∩ [1, T-1]
    d = p[1:] - p[:-1]  # (T-1, J, D)
    v = _windowed_mean(d, np.maximum(i - w, 1) - 1, np.minimum(i + w, T - 1) - 1) / dt  # (T-1, J, D)
    horiz = [a for a in range(D) if a != cfg.up_axis]
    ke_h = (v[..., horiz] ** 2).sum(-1).mean(0)  # (J,)
    ke_v = (v[..., cfg.up_axis] ** 2).mean(0)  # (J,)

    # acceleration terms a_k, k = 1 … T-2 (stored at k-1); window k ∈ [i-w, i+w] ∩ [1, T-2]
    v2 = (p[2:] - p[1:-1]) / dt  # (T-2, J, D)
    if cfg.upstream_accel_bug:
        v1 = p[1:-1] - p[:-2] / dt  # upstream: the division binds to p_{k-1} only
    else:
        v1 = (p[1:-1] - p[:-2]) / dt
    a = (v2 - v1) / dt  # (T-2, J, D)
    a_bar = _windowed_mean(a, np.maximum(i - w, 1) - 1, np.minimum(i + w, T - 2) - 1)  # (T-1, J, D)
    ee = np.linalg.norm(a_bar, axis=-1).mean(0)  # (J,)
    return np.stack([ke_h, ke_v, ee], axis=1).reshape(-1)  # (3·J,)


def _check_joint_ids(kp: np.ndarray, joints: tuple[int, ...], name: str) -> None:
    """Raise if a joint index does not exist in a (T, K, D) array."""
    bad = [j for j in joints if not 0 <= j < kp.shape[1]]
    if bad:
        raise Dance2DError(
            f"{name} {bad} do not exist in keypoints with {kp.shape[1]} joints: "
            "pass joints that match the layout (e.g. joints=None for all)."
        )
