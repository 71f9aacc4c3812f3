"""2D pose-space evaluation (supplementary §8): FID_k, DIV_k, BAS and our fidelity metrics, from plain numpy.

`evaluate_set` is the one entry point for a whole method; the per-metric functions live in
kinetic.py, fid.py, beat.py and fidelity.py. Every choice is written down in docs/metrics.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dance2d.errors import Dance2DError
from dance2d.metrics.beat import (
    BeatConfig,
    beat_align_score,
    beat_rate_bpm,
    joint_speed,
    motion_beats,
    sequence_bas,
)
from dance2d.metrics.fid import div_k, fid_k, frechet_distance, frechet_distance_diag, normalize_features
from dance2d.metrics.fidelity import (
    BODY18_BONES,
    FidelityConfig,
    body_proportion_error,
    body_shown,
    bone_ratios,
    facing_width,
    scale_fidelity,
    seam_continuity,
    tempo_responsiveness,
)
from dance2d.metrics.kinetic import KineticConfig, fill_missing, kinetic_features, resample, torso_length
from dance2d.metrics.response import energy_ratio, median_step, motion_energy, step_rate

__all__ = [
    "BODY18_BONES", "BeatConfig", "EvalConfig", "FidelityConfig", "KineticConfig", "beat_align_score",
    "beat_rate_bpm", "body_proportion_error", "body_shown", "bone_ratios", "div_k", "energy_ratio", "evaluate_set",
    "facing_width",
    "fid_k", "fill_missing", "format_table", "frechet_distance", "frechet_distance_diag", "joint_speed",
    "kinetic_features", "median_step", "motion_beats", "motion_energy", "normalize_features", "resample",
    "scale_fidelity", "seam_continuity", "sequence_bas", "step_rate", "tempo_responsiveness", "torso_length",
]


@dataclass
class EvalConfig:
    """Settings of `evaluate_set`; the metric settings themselves sit in the three sub-configs."""

    kinetic: KineticConfig = field(default_factory=KineticConfig)  # kinetic features for FID_k / DIV_k
    beat: BeatConfig = field(default_factory=BeatConfig)  # motion beats and BAS σ (both directions are reported)
    fidelity: FidelityConfig = field(default_factory=FidelityConfig)  # body proportion / scale / seams
    canvas: tuple[float, float] | None = None  # (width, height): turns [0,1] x, y into isotropic pixels; None = as is
    kinetic_fps: float | None = None  # resample every sequence to this fps for the kinetic features; None = all equal
    clip_seconds: float | None = None  # kinetic features on the first N seconds only (Bailando: 20 s); None = all
    # FID_k / DIV_k also over windows of this many seconds cut from every sequence (FID_k_win, DIV_k_win): many more
    # feature rows than sequences, so a set of a few songs gets a well-conditioned covariance; None = sequences only
    window_seconds: float | None = 2.5
    window_hop_seconds: float | None = None  # hop between window starts; None = the window (no overlap)
    conf_threshold: float = 0.0  # joints with confidence <= this are missing (interpolated in time for FID/BAS)

    def __post_init__(self) -> None:
        for name in ("window_seconds", "window_hop_seconds"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise Dance2DError(f"EvalConfig.{name}={v!r} must be a positive number of seconds (or None).")


def _split_pose(keypoints: np.ndarray, cfg: EvalConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """(T, K, 2) or (T, K, 3) with x, y, confidence -> isotropic (T, K, 2) coordinates and (T, K) confidence."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim not in (2, 3) or kp.shape[-1] not in (2, 3):
        raise Dance2DError(f"a pose array has shape {kp.shape}: pass (T, K, 2) or (T, K, 3) with x, y, confidence.")
    xy = kp[..., :2]
    if cfg.canvas is not None:
        xy = xy * np.asarray(cfg.canvas, dtype=np.float64)
    return xy, (kp[..., 2] if kp.shape[-1] == 3 else None)


def _kinetic_rows(kp: np.ndarray, fps: float, cfg: EvalConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """Kinetic features (3·J,) of one whole sequence, and of each of its cfg.window_seconds windows (every full
    window, starts cfg.window_hop_seconds apart; none when window_seconds is None or the sequence is shorter), after
    the set-level fps and clip settings."""
    xy, conf = _split_pose(kp, cfg)
    xy = fill_missing(xy, conf, cfg.conf_threshold)
    if cfg.kinetic_fps is not None:
        xy, fps = resample(xy, fps, cfg.kinetic_fps), cfg.kinetic_fps
    if cfg.clip_seconds is not None:
        xy = xy[: int(round(cfg.clip_seconds * fps))]
    whole = kinetic_features(xy, fps, cfg.kinetic)
    if cfg.window_seconds is None:
        return whole, []
    size = int(round(cfg.window_seconds * fps))
    hop = int(round((cfg.window_hop_seconds or cfg.window_seconds) * fps))
    if size < 4 or hop < 1:
        raise Dance2DError(f"EvalConfig window of {cfg.window_seconds} s (hop {cfg.window_hop_seconds} s) at {fps} "
                           "fps is under 4 frames or its hop under 1: use longer windows.")
    return whole, [kinetic_features(xy[s:s + size], fps, cfg.kinetic) for s in range(0, len(xy) - size + 1, hop)]


def _mean(values: list[float]) -> float:
    """Mean of the finite values, NaN when there are none."""
    v = [x for x in values if np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def evaluate_set(generated: Sequence[tuple], ground_truth: Sequence[tuple], cfg: EvalConfig | None = None
                 ) -> dict[str, float]:
    """All 2D pose-space metrics of one method (supplementary §8 and docs/metrics.md).

    generated: (keypoints, fps, music_beats_seconds, reference_pose or None, seams or None) per sequence;
    ground_truth: (keypoints, fps) per sequence. keypoints (T, K, 2) or (T, K, 3) = x, y, confidence.
    """
    cfg = cfg or EvalConfig()
    if len(generated) < 2 or len(ground_truth) < 2:
        raise Dance2DError(f"got {len(generated)} generated and {len(ground_truth)} ground-truth sequences: "
                           "FID_k and DIV_k need at least 2 of each.")
    fps_all = {float(g[1]) for g in generated} | {float(g[1]) for g in ground_truth}
    if cfg.kinetic_fps is None and len(fps_all) > 1:
        raise Dance2DError(f"the sequences have different frame rates {sorted(fps_all)}: set "
                           "EvalConfig.kinetic_fps so the kinetic features share one frame time.")
    gen_rows = [_kinetic_rows(g[0], g[1], cfg) for g in generated]
    gt_rows = [_kinetic_rows(g[0], g[1], cfg) for g in ground_truth]
    gen_feats = np.stack([whole for whole, _ in gen_rows])  # (N, 3·J)
    gt_feats = np.stack([whole for whole, _ in gt_rows])  # (M, 3·J)
    out: dict[str, float] = {
        "FID_k": fid_k(gen_feats, gt_feats),
        "DIV_k": div_k(gen_feats, gt_feats),
        "DIV_k_gt": div_k(gt_feats, gt_feats),
    }
    if cfg.window_seconds is not None:
        gen_win = np.array([row for _, windows in gen_rows for row in windows])
        gt_win = np.array([row for _, windows in gt_rows for row in windows])
        ok = len(gen_win) >= 2 and len(gt_win) >= 2  # sequences shorter than a window give none: NaN, n_windows says
        out.update({"FID_k_win": fid_k(gen_win, gt_win) if ok else float("nan"),
                    "DIV_k_win": div_k(gen_win, gt_win) if ok else float("nan"),
                    "DIV_k_win_gt": div_k(gt_win, gt_win) if ok else float("nan"), "n_windows": float(len(gen_win))})

    bas = {d: [] for d in ("music_to_motion", "motion_to_music")}
    props, scales, seam_mean, seam_max, rates, bpms, steps, facing, shown = [], [], [], [], [], [], [], [], []
    for kp, fps, music, ref, seams in generated:
        xy, conf = _split_pose(kp, cfg)
        steps.append(median_step(fill_missing(xy, conf, cfg.conf_threshold)))
        facing.append(facing_width(xy, cfg.fidelity, conf))
        shown.append(body_shown(xy, cfg.fidelity, conf))
        if music is not None and len(music) > 0:
            span = (xy.shape[0] - 1) / fps
            mb = np.asarray(music, dtype=np.float64).reshape(-1)
            mb = mb[(mb >= 0.0) & (mb <= span)]
            beats = motion_beats(fill_missing(xy, conf, cfg.conf_threshold), fps, cfg.beat)
            for d in bas:
                bas[d].append(beat_align_score(mb, beats, cfg.beat.sigma_s, d))
            rates.append(beat_rate_bpm(beats, duration_s=span))
            bpms.append(beat_rate_bpm(mb))
        if ref is not None:
            ref_xy, ref_conf = _split_pose(ref, cfg)
            props.append(body_proportion_error(xy, ref_xy, cfg.fidelity, conf, ref_conf))
            scales.append(scale_fidelity(xy, ref_xy, cfg.fidelity, conf, ref_conf)["scale_ratio"])
        if seams is not None and len(seams) > 0:
            s = seam_continuity(xy, seams, conf, cfg.fidelity.conf_threshold)
            seam_mean.append(s["seam_ratio"])
            seam_max.append(s["seam_ratio_max"])

    out["BAS_music_to_motion"] = _mean(bas["music_to_motion"])
    out["BAS_motion_to_music"] = _mean(bas["motion_to_music"])
    out["median_step"] = _mean(steps)
    out["facing_width"] = _mean(facing)
    out["body_shown"] = _mean(shown)
    out["body_proportion_error"] = _mean(props)
    out["scale_ratio"] = float(np.median(scales)) if scales else float("nan")
    out["scale_error"] = _mean([abs(r - 1.0) for r in scales])
    out["seam_ratio"] = _mean(seam_mean)
    out["seam_ratio_max"] = float(np.max(seam_max)) if seam_max else float("nan")
    out.update(tempo_responsiveness(np.array(rates), np.array(bpms)))
    out["n_generated"] = float(len(generated))
    out["n_ground_truth"] = float(len(ground_truth))
    return out


def _cell(v: object) -> str:
    """One table cell: 4 significant digits for floats, whole numbers without decimals."""
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return "-"
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e6 else f"{v:.4g}"
    return str(v)


def format_table(rows: dict[str, dict]) -> str:
    """A readable aligned text table: one row per method, one column per metric (union, first-seen order)."""
    cols: list[str] = []
    for metrics in rows.values():
        cols += [c for c in metrics if c not in cols]
    header = ["method", *cols]
    body = [[name, *[_cell(m.get(c, float("nan"))) for c in cols]] for name, m in rows.items()]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *[line(r) for r in body]])
