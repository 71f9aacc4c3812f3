"""Our own 2D metrics for the paper's claims (§3.3 reference conditioning, §4.1 long form and tempo scaling).

body-proportion fidelity, on-screen scale fidelity, continuity at segment seams, tempo responsiveness.
Definitions with formulas are in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from dance2d.errors import Dance2DError
from dance2d.metrics.kinetic import (
    BODY18_BODY_JOINTS,
    BODY18_HIPS,
    BODY18_NECK,
    BODY18_SHOULDERS,
    _check_joint_ids,
    check_keypoints,
    joint_mean,
)

# (parent, child) pairs of OpenPose body-18 whose lengths define the body proportions (face points left out)
BODY18_BONES = (
    (1, 0),  # neck - nose
    (1, 2), (2, 3), (3, 4),  # right shoulder, upper arm, forearm
    (1, 5), (5, 6), (6, 7),  # left shoulder, upper arm, forearm
    (8, 11),  # hip width
    (8, 9), (9, 10),  # right thigh, shank
    (11, 12), (12, 13),  # left thigh, shank
)


@dataclass
class FidelityConfig:
    """Settings of the reference-fidelity and seam metrics (docs/metrics.md)."""

    bones: tuple[tuple[int, int], ...] = BODY18_BONES  # bones compared between generated poses and the reference
    torso_top: tuple[int, ...] = BODY18_NECK  # torso = |mean(top) - mean(bottom)|: the unit of bone ratios
    torso_bottom: tuple[int, ...] = BODY18_HIPS  # lower end of the torso
    percentile: float = 90.0  # per-bone statistic over frames (2D projection only shortens limbs); 50 = median
    bbox_joints: tuple[int, ...] | None = BODY18_BODY_JOINTS  # the body: spans the bounding box, counted by body_shown
    conf_threshold: float = 0.0  # joints with confidence <= this are missing
    shoulders: tuple[int, int] = BODY18_SHOULDERS  # the two joints whose 2D distance measures facing_width


def _split(keypoints: np.ndarray, confidence: np.ndarray | None, threshold: float) -> np.ndarray:
    """Coordinates (T, K, D) with missing joints set to NaN, from keypoints and an optional (T, K) confidence."""
    kp = check_keypoints(keypoints, min_frames=1).copy()
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != kp.shape[:2]:
            raise Dance2DError(f"confidence has shape {conf.shape}: it must be (T, K) = {kp.shape[:2]}.")
        kp[conf <= threshold] = np.nan
    return kp


def _as_frames(pose: np.ndarray) -> np.ndarray:
    """Accept one pose (K, D) or a sequence (T, K, D); return (T, K, D)."""
    p = np.asarray(pose, dtype=np.float64)
    return p[None] if p.ndim == 2 else p


def bone_ratios(keypoints: np.ndarray, cfg: FidelityConfig | None = None,
                confidence: np.ndarray | None = None) -> np.ndarray:
    """Bone length ÷ torso length per frame: (T, K, D) -> (T, B), NaN where a joint is missing."""
    cfg = cfg or FidelityConfig()
    kp = _split(_as_frames(keypoints), confidence, cfg.conf_threshold)
    _check_joint_ids(kp, tuple(j for b in cfg.bones for j in b) + cfg.torso_top + cfg.torso_bottom, "bone joints")
    a, b = np.array(cfg.bones).T
    lengths = np.linalg.norm(kp[:, a] - kp[:, b], axis=-1)  # (T, B)
    torso = np.linalg.norm(joint_mean(kp, cfg.torso_top) - joint_mean(kp, cfg.torso_bottom), axis=-1)  # (T,)
    torso = np.where(torso > 0, torso, np.nan)
    return lengths / torso[:, None]


def body_proportion_error(keypoints: np.ndarray, reference_pose: np.ndarray, cfg: FidelityConfig | None = None,
                          confidence: np.ndarray | None = None, reference_confidence: np.ndarray | None = None
                          ) -> float:
    """Mean over bones of |r̃_b - r_b^ref| / r_b^ref, r̃_b = percentile over frames of the bone/torso ratio."""
    cfg = cfg or FidelityConfig()
    ref_conf = None if reference_confidence is None else np.asarray(reference_confidence)[None]
    ref = bone_ratios(_as_frames(reference_pose), cfg, ref_conf)[0]  # (B,)
    gen = bone_ratios(keypoints, cfg, confidence)  # (T, B)
    ok = np.isfinite(ref) & (ref > 0) & np.isfinite(gen).any(axis=0)
    if not ok.any():
        raise Dance2DError("no bone is visible in both the reference pose and the sequence: check the confidences.")
    stat = np.nanpercentile(gen[:, ok], cfg.percentile, axis=0)  # (B',)
    return float(np.mean(np.abs(stat - ref[ok]) / ref[ok]))


def bbox_height(keypoints: np.ndarray, cfg: FidelityConfig | None = None,
                confidence: np.ndarray | None = None) -> np.ndarray:
    """Vertical extent (max y - min y) of the visible bbox joints per frame: (T, K, D) -> (T,)."""
    cfg = cfg or FidelityConfig()
    kp = _split(_as_frames(keypoints), confidence, cfg.conf_threshold)
    ids = tuple(range(kp.shape[1])) if cfg.bbox_joints is None else tuple(cfg.bbox_joints)
    _check_joint_ids(kp, ids, "FidelityConfig.bbox_joints")
    y = kp[:, list(ids), 1]  # (T, J)
    seen = np.isfinite(y).any(axis=1)
    h = np.full(y.shape[0], np.nan)
    h[seen] = np.nanmax(y[seen], axis=1) - np.nanmin(y[seen], axis=1)
    return h


def scale_fidelity(keypoints: np.ndarray, reference_pose: np.ndarray, cfg: FidelityConfig | None = None,
                   confidence: np.ndarray | None = None, reference_confidence: np.ndarray | None = None
                   ) -> dict[str, float]:
    """On-screen scale: median over frames of bbox height ÷ the reference's, and |that ratio - 1|."""
    cfg = cfg or FidelityConfig()
    ref_conf = None if reference_confidence is None else np.asarray(reference_confidence)[None]
    ref_h = bbox_height(reference_pose, cfg, ref_conf)[0]
    if not np.isfinite(ref_h) or ref_h <= 0:
        raise Dance2DError("the reference pose has no vertical extent: pass a pose with visible body joints.")
    ratio = float(np.nanmedian(bbox_height(keypoints, cfg, confidence) / ref_h))
    return {"scale_ratio": ratio, "scale_error": abs(ratio - 1.0)}


def facing_width(keypoints: np.ndarray, cfg: FidelityConfig | None = None,
                 confidence: np.ndarray | None = None) -> float:
    """How squarely the dancer faces the camera: median over frames of the 2D shoulder width ÷ its own
    `cfg.percentile` (the width when square on). A body turning at an even pace scores ≈ 0.7; one that lingers
    side-on, or a model averaging front and back views (which narrows the shoulders), scores lower."""
    cfg = cfg or FidelityConfig()
    kp = _split(_as_frames(keypoints), confidence, cfg.conf_threshold)
    _check_joint_ids(kp, cfg.shoulders, "FidelityConfig.shoulders")
    width = np.linalg.norm(kp[:, cfg.shoulders[0]] - kp[:, cfg.shoulders[1]], axis=-1)
    width = width[np.isfinite(width)]
    full = np.percentile(width, cfg.percentile) if width.size else np.nan
    if not full > 0:
        return float("nan")
    return float(np.median(width) / full)


def body_shown(keypoints: np.ndarray, cfg: FidelityConfig | None = None,
               confidence: np.ndarray | None = None) -> float:
    """How much of the body is drawn: the fraction of (frame, body joint) pairs shown, over `cfg.bbox_joints`
    (nose, neck, arms, legs). 1 for a whole body in every frame; a model whose arms come and go scores less."""
    cfg = cfg or FidelityConfig()
    kp = _split(_as_frames(keypoints), confidence, cfg.conf_threshold)
    ids = tuple(range(kp.shape[1])) if cfg.bbox_joints is None else tuple(cfg.bbox_joints)
    _check_joint_ids(kp, ids, "FidelityConfig.bbox_joints")
    return float(np.isfinite(kp[:, ids]).all(-1).mean()) if len(kp) else float("nan")


def seam_continuity(keypoints: np.ndarray, seams: list[int] | np.ndarray, confidence: np.ndarray | None = None,
                    conf_threshold: float = 0.0) -> dict[str, float]:
    """Speed across each seam (frame s-1 → s) ÷ the median frame-to-frame speed elsewhere; mean and max over seams."""
    kp = _split(keypoints, confidence, conf_threshold)
    T = kp.shape[0]
    s = np.unique(np.asarray(seams, dtype=np.int64).reshape(-1))
    if s.size == 0:
        return {"seam_ratio": float("nan"), "seam_ratio_max": float("nan")}
    if s.min() < 1 or s.max() > T - 1:
        raise Dance2DError(f"seam frames {s.tolist()} must lie in 1 … {T - 1} (the first frame of a new segment).")
    step = np.nanmean(np.linalg.norm(kp[1:] - kp[:-1], axis=-1), axis=1)  # (T-1,) step k: frame k → k+1
    at_seam = np.zeros(T - 1, dtype=bool)
    at_seam[s - 1] = True
    base = np.nanmedian(step[~at_seam]) if (~at_seam).any() else np.nan
    if not np.isfinite(base) or base <= 0:
        raise Dance2DError("the sequence does not move outside the seams: seam continuity is undefined.")
    ratio = step[s - 1] / base
    return {"seam_ratio": float(np.nanmean(ratio)), "seam_ratio_max": float(np.nanmax(ratio))}


def tempo_responsiveness(motion_beat_rates_bpm: np.ndarray, music_bpms: np.ndarray) -> dict[str, float]:
    """Across tracks: Pearson and Spearman correlation of motion-beat rate with music BPM, and the LS slope."""
    x = np.asarray(music_bpms, dtype=np.float64).reshape(-1)
    y = np.asarray(motion_beat_rates_bpm, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise Dance2DError(f"{y.size} motion-beat rates but {x.size} music tempi: pass one of each per track.")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    nan = float("nan")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"tempo_pearson": nan, "tempo_spearman": nan, "tempo_slope": nan}
    slope = float(np.polyfit(x, y, 1)[0])
    return {
        "tempo_pearson": float(stats.pearsonr(x, y)[0]),
        "tempo_spearman": float(stats.spearmanr(x, y)[0]),
        "tempo_slope": slope,
    }
