"""Tests of dance2d.metrics: analytic values, invariances, and a cross-check against a loop re-derivation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SHARED, needs_shared

from dance2d.errors import Dance2DError
from dance2d.metrics import (
    BeatConfig,
    EvalConfig,
    KineticConfig,
    beat_align_score,
    body_proportion_error,
    body_shown,
    div_k,
    evaluate_set,
    facing_width,
    fid_k,
    format_table,
    frechet_distance,
    frechet_distance_diag,
    kinetic_features,
    motion_beats,
    scale_fidelity,
    seam_continuity,
    sequence_bas,
    tempo_responsiveness,
)
from dance2d.metrics.fidelity import BODY18_BONES

DWM = SHARED / "data" / "dance_with_melody"

# A plausible standing OpenPose body-18 pose in [0,1] canvas coordinates (only a test fixture).
REF18 = np.array([
    [0.50, 0.20], [0.50, 0.30], [0.42, 0.30], [0.38, 0.40], [0.36, 0.50], [0.58, 0.30], [0.62, 0.40],
    [0.64, 0.50], [0.45, 0.55], [0.45, 0.70], [0.45, 0.85], [0.55, 0.55], [0.55, 0.70], [0.55, 0.85],
    [0.48, 0.18], [0.52, 0.18], [0.46, 0.19], [0.54, 0.19],
])


def pulsed_motion(fps: float, duration: float, t0: float, period: float) -> np.ndarray:
    """Body-18 sequence translating along x with speed A(1 - cos 2π(t - t0)/P): speed minima at t0 + nP."""
    t = np.arange(int(round(duration * fps)) + 1) / fps
    x = 0.05 * ((t - t0) - period / (2 * np.pi) * np.sin(2 * np.pi * (t - t0) / period))  # (T,)
    kp = np.repeat(REF18[None], t.size, axis=0).copy()  # (T, 18, 2)
    kp[..., 0] += x[:, None]
    return kp


# ----------------------------------------------------------------------------------------------- BAS


def test_bas_is_one_when_speed_minima_sit_on_the_beats():
    fps, period = 25.0, 12 / 25.0
    t0 = 10.5 / fps  # a speed-sample time (frames 10 → 11), so the sampled minimum is exact
    kp = pulsed_motion(fps, 10.0, t0, period)
    music = t0 + period * np.arange(20)
    beats = motion_beats(kp, fps)
    assert beats.size == music.size
    for direction in ("music_to_motion", "motion_to_music"):
        assert sequence_bas(kp, fps, music, direction=direction) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("shift", [0.02, -0.035, 0.08])
def test_bas_of_shifted_beats_is_gaussian_in_the_shift(shift):
    fps, period = 25.0, 12 / 25.0
    t0 = 10.5 / fps
    kp = pulsed_motion(fps, 10.0, t0, period)
    music = t0 + period * np.arange(20) + shift
    cfg = BeatConfig()
    expected = math.exp(-(shift**2) / (2 * cfg.sigma_s**2))
    for direction in ("music_to_motion", "motion_to_music"):
        assert sequence_bas(kp, fps, music, cfg, direction=direction) == pytest.approx(expected, abs=1e-9)


def test_bas_directions_differ_when_beat_counts_differ():
    music = np.array([1.0, 2.0, 3.0, 4.0])
    motion = np.array([1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])  # half-beats: every music beat is hit
    sigma = 0.05
    assert beat_align_score(music, motion, sigma, "music_to_motion") == pytest.approx(1.0)
    off = math.exp(-(0.5**2) / (2 * sigma**2))
    assert beat_align_score(music, motion, sigma, "motion_to_music") == pytest.approx((4 + 3 * off) / 7)
    assert beat_align_score(music, [], sigma) == 0.0
    assert math.isnan(beat_align_score([], motion, sigma))


def test_bas_does_not_depend_on_the_frame_rate():
    t0, period, shift = 0.37, 0.5, 0.02  # minima off the frame grid of both rates
    music = t0 + period * np.arange(1, 17) + shift
    scores = {fps: sequence_bas(pulsed_motion(fps, 9.0, t0, period), fps, music) for fps in (25.0, 60.0)}
    expected = math.exp(-(shift**2) / (2 * BeatConfig().sigma_s**2))
    assert scores[25.0] == pytest.approx(scores[60.0], abs=0.01)
    assert scores[25.0] == pytest.approx(expected, abs=0.02)


def test_beat_config_rejects_unknown_direction():
    with pytest.raises(Dance2DError):
        BeatConfig(direction="both")


# ----------------------------------------------------------------------------------------- FID / DIV


def test_fid_of_identical_sets_is_zero():
    f = np.random.default_rng(0).normal(size=(200, 6)) * [1, 2, 3, 4, 5, 6]
    assert fid_k(f, f) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    var1, var2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(var1) - np.sqrt(var2)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance_diag(mu1, var1, mu2, var2) == pytest.approx(expected, rel=1e-12)
    # full covariance, Σ2 = c·Σ1: tr(Σ1Σ2)^½ = √c·trΣ1, so d² = |Δμ|² + (1 - √c)²·trΣ1
    a = rng.normal(size=(5, 5))
    s1, c = a @ a.T + np.eye(5), 2.5
    full = ((mu1 - mu2) ** 2).sum() + (1 - math.sqrt(c)) ** 2 * np.trace(s1)
    assert frechet_distance(mu1, s1, mu2, c * s1) == pytest.approx(full, rel=1e-9)


def test_fid_k_approaches_the_gaussian_closed_form():
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(20000, 3))  # N(0, I): GT normalisation is then ≈ the identity
    gen = rng.normal(size=(20000, 3)) * [1.0, 2.0, 0.5] + [1.0, 0.0, -0.5]
    expected = frechet_distance_diag([1.0, 0.0, -0.5], [1.0, 4.0, 0.25], np.zeros(3), np.ones(3))
    assert fid_k(gen, gt) == pytest.approx(expected, rel=0.05)


def test_div_of_known_points():
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert div_k(square) == pytest.approx((4 + 2 * math.sqrt(2)) / 6)
    # z-scoring with a GT whose std is 2 on both axes halves every distance
    gt = np.array([[0.0, 0.0], [4.0, 4.0]])
    assert div_k(square, gt) == pytest.approx((4 + 2 * math.sqrt(2)) / 12, rel=1e-8)


def test_feature_size_mismatch_is_a_clear_error():
    with pytest.raises(Dance2DError):
        fid_k(np.zeros((3, 4)), np.zeros((3, 5)))


# ---------------------------------------------------------------------------------------- kinetic


def constant_velocity(fps: float, seconds: float, step: np.ndarray) -> np.ndarray:
    """Body-18 reference pose moving by `step` (canvas units per second) in a straight line."""
    t = np.arange(int(round(seconds * fps)) + 1) / fps
    return REF18[None] + t[:, None, None] * step  # (T, 18, 2)


def test_constant_velocity_has_zero_acceleration_energy_and_analytic_kinetic_energy():
    vel = np.array([0.3, -0.2])  # per second
    cfg = KineticConfig(scale="none")
    for fps in (25.0, 60.0):
        f = kinetic_features(constant_velocity(fps, 2.0, vel), fps, cfg).reshape(-1, 3)
        np.testing.assert_allclose(f[:, 0], vel[0] ** 2, rtol=1e-9)
        np.testing.assert_allclose(f[:, 1], vel[1] ** 2, rtol=1e-9)
        np.testing.assert_allclose(f[:, 2], 0.0, atol=1e-9)
    buggy = kinetic_features(constant_velocity(25.0, 2.0, vel), 25.0, KineticConfig(scale="none",
                                                                                   upstream_accel_bug=True))
    assert (buggy.reshape(-1, 3)[:, 2] > 1.0).all()  # the upstream formula sees |p|/dt², not acceleration


def test_kinetic_invariances():
    rng = np.random.default_rng(3)
    kp = REF18[None] + np.cumsum(rng.normal(0, 0.004, (80, 18, 2)), axis=0)
    base = kinetic_features(kp, 25.0)
    # torso normalisation: a uniformly scaled and shifted copy gives the same features
    np.testing.assert_allclose(kinetic_features(3.0 * kp + 0.7, 25.0), base, rtol=1e-9)
    # the corrected formula is translation invariant; the upstream bug is not
    bug = KineticConfig(upstream_accel_bug=True)
    assert not np.allclose(kinetic_features(kp + 5.0, 25.0, bug), kinetic_features(kp, 25.0, bug))
    # default joints: 14 body joints x 3 features
    assert base.shape == (42,)


def test_missing_joints_are_interpolated():
    kp = constant_velocity(25.0, 2.0, np.array([0.3, 0.1]))
    conf = np.ones(kp.shape[:2])
    conf[10:20, 4] = 0.0
    holey = kp.copy()
    holey[10:20, 4] = 0.0  # detector output for a missing joint
    cfg = KineticConfig(scale="none")
    np.testing.assert_allclose(kinetic_features(holey, 25.0, cfg, conf), kinetic_features(kp, 25.0, cfg),
                               rtol=1e-9, atol=1e-9)
    conf[:, 15] = 0.0  # an eye never seen: not a default joint, so nothing changes
    np.testing.assert_allclose(kinetic_features(holey, 25.0, cfg, conf), kinetic_features(kp, 25.0, cfg),
                               rtol=1e-9, atol=1e-9)
    conf[:, 9] = 0.0  # a knee never seen: a default joint, so a clear error
    with pytest.raises(Dance2DError, match="missing in every frame"):
        kinetic_features(holey, 25.0, cfg, conf)


def test_kinetic_errors_name_the_problem():
    with pytest.raises(Dance2DError, match="joints"):
        kinetic_features(np.zeros((10, 5, 2)), 25.0)
    with pytest.raises(Dance2DError, match="root_relative"):
        KineticConfig(root_relative="pelvis")


# --------------------------------------------------------------------------------------- fidelity


def test_body_proportion_error():
    rng = np.random.default_rng(4)
    copy = REF18[None] + rng.uniform(-0.2, 0.2, (30, 1, 2))  # rigidly translated copies of the reference
    assert body_proportion_error(copy, REF18) == pytest.approx(0.0, abs=1e-12)
    longer = copy.copy()
    longer[:, 4] = longer[:, 3] + 1.5 * (longer[:, 4] - longer[:, 3])  # right forearm 50 % longer
    assert body_proportion_error(longer, REF18) == pytest.approx(0.5 / len(BODY18_BONES))


def test_scale_fidelity_of_a_scaled_copy():
    seq = np.repeat((2.0 * (REF18 - 0.5) + 0.5)[None], 10, axis=0)  # 2x about the canvas centre
    s = scale_fidelity(seq, REF18)
    assert s["scale_ratio"] == pytest.approx(2.0)
    assert s["scale_error"] == pytest.approx(1.0)


def test_facing_width_of_a_turning_body():
    square = np.repeat(REF18[None], 50, axis=0)
    assert facing_width(square) == pytest.approx(1.0)  # always square on
    theta = np.linspace(0.0, 8 * np.pi, 1000, endpoint=False)  # four even turns, seen from the front
    turning = square.repeat(20, axis=0).copy()
    for j, side in ((2, -1.0), (5, 1.0)):  # shoulders at ±0.08 from the neck along the turning shoulder line
        turning[:, j, 0] = 0.5 + side * 0.08 * np.cos(theta)
    # |cos θ| of an even turn: median cos 45° over its 90th percentile cos 9°
    assert facing_width(turning) == pytest.approx(np.cos(np.pi / 4) / np.cos(np.pi / 20), abs=0.01)
    lingering = turning.copy()
    lingering[::2, 5, 0] = lingering[::2, 2, 0] = 0.5  # side-on in every other frame
    assert facing_width(lingering) < 0.3
    hidden = np.ones(square.shape[:2])
    hidden[:, 5] = 0.0  # left shoulder never seen
    assert math.isnan(facing_width(square, confidence=hidden))


def test_body_shown_counts_drawn_body_joints_only():
    square = np.repeat(REF18[None], 40, axis=0)
    assert body_shown(square) == 1.0
    conf = np.ones(square.shape[:2])
    conf[:, 14:] = 0.0  # eyes and ears hidden: not part of the body count
    assert body_shown(square, confidence=conf) == 1.0
    conf[:20, 4] = 0.0  # right wrist missing in half the frames
    conf[:10, 13] = 0.0  # left ankle in a quarter
    assert body_shown(square, confidence=conf) == pytest.approx(1 - (20 + 10) / (40 * 14))
    nan = square.copy()
    nan[5, 7] = np.nan  # a NaN coordinate is not shown either
    assert body_shown(nan) == pytest.approx(1 - 1 / (40 * 14))


def test_seam_continuity_detects_an_injected_jump():
    u = np.array([0.004, 0.0])  # per-frame step
    kp = REF18[None] + np.arange(100)[:, None, None] * u
    assert seam_continuity(kp, [50])["seam_ratio"] == pytest.approx(1.0)
    jumped = kp.copy()
    jumped[50:] += 9 * u  # a segment that starts 9 steps too far
    assert seam_continuity(jumped, [50])["seam_ratio"] == pytest.approx(10.0)
    with pytest.raises(Dance2DError):
        seam_continuity(kp, [0])


def test_tempo_responsiveness_of_a_linear_response():
    bpm = np.array([80.0, 95.0, 110.0, 128.0, 140.0])
    r = tempo_responsiveness(2.0 * bpm - 10.0, bpm)
    assert r["tempo_pearson"] == pytest.approx(1.0)
    assert r["tempo_spearman"] == pytest.approx(1.0)
    assert r["tempo_slope"] == pytest.approx(2.0)


# ----------------------------------------------------------------------------------- evaluate_set


def test_evaluate_set_end_to_end():
    rng = np.random.default_rng(5)
    fps, gen, gt = 25.0, [], []
    for bpm in (80.0, 100.0, 120.0, 140.0):
        period = 60.0 / bpm
        kp = pulsed_motion(fps, 8.0, 0.3, period)
        kp = kp + rng.normal(0, 1e-5, kp.shape)
        music = 0.3 + period * np.arange(int(7.7 / period) + 1)
        conf = np.ones(kp.shape[:2] + (1,))
        gen.append((np.concatenate([kp, conf], axis=2), fps, music, REF18, [100]))
        gt.append((kp, fps))
    out = evaluate_set(gen, gt)
    assert out["FID_k"] == pytest.approx(0.0, abs=1e-4)  # same motions on both sides
    assert out["BAS_music_to_motion"] > 0.9 and out["BAS_motion_to_music"] > 0.9
    assert out["body_proportion_error"] == pytest.approx(0.0, abs=1e-3)
    assert out["scale_ratio"] == pytest.approx(1.0, abs=1e-3)
    assert out["facing_width"] == pytest.approx(1.0, abs=1e-3)  # the shoulders keep their width
    assert out["body_shown"] == 1.0
    assert out["tempo_pearson"] > 0.99 and out["tempo_slope"] == pytest.approx(1.0, abs=0.1)
    assert out["seam_ratio"] == pytest.approx(1.0, abs=0.3)
    assert out["n_windows"] == 12  # three 2.5 s windows of each 8 s dance
    assert out["FID_k_win"] == pytest.approx(0.0, abs=1e-4)
    assert out["DIV_k_win"] == pytest.approx(out["DIV_k_win_gt"], rel=1e-6)
    table = format_table({"ours": out, "baseline": {"FID_k": 1.5}})
    lines = table.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1
    assert "FID_k" in lines[0] and lines[3].startswith("baseline")


def test_evaluate_set_needs_a_common_frame_rate():
    kp = pulsed_motion(25.0, 2.0, 0.3, 0.5)
    gen = [(kp, 25.0, None, None, None)] * 2
    with pytest.raises(Dance2DError, match="kinetic_fps"):
        evaluate_set(gen, [(kp, 25.0), (kp, 30.0)])
    out = evaluate_set(gen, [(kp, 25.0), (kp, 30.0)], EvalConfig(kinetic_fps=25.0))
    assert np.isfinite(out["FID_k"])


def test_windowed_fid_of_a_few_long_dances():
    """FID_k over 2.5 s windows of five 30 s dances: clearly larger for dancers moving faster than the ground
    truth's, and with a half-window hop twice the windows; dances shorter than a window
    give NaN and n_windows 0 instead of an error (the whole-dance FID_k still stands)."""
    rng = np.random.default_rng(0)
    fps = 25.0

    def dance(speed: float, seed: int) -> np.ndarray:
        r = np.random.default_rng(seed)
        t = np.arange(int(30 * fps)) / fps
        kp = np.repeat(REF18[None], t.size, axis=0).copy()
        for j in range(14):  # every joint sways at its own rate and phase
            f, ph = r.uniform(0.3, 1.5), r.uniform(0, 2 * np.pi)
            kp[:, j] += 0.02 * np.stack([np.sin(2 * np.pi * f * speed * t + ph), np.cos(2 * np.pi * f * t + ph)], -1)
        return kp + rng.normal(0, 1e-4, kp.shape)

    gt = [(dance(1.0, s), fps) for s in range(12)]
    same = [(dance(1.0, s), fps, None, None, None) for s in range(100, 105)]
    fast = [(dance(1.6, s), fps, None, None, None) for s in range(100, 105)]
    a, b = evaluate_set(same, gt), evaluate_set(fast, gt)
    assert a["n_windows"] == 5 * 12
    assert b["FID_k_win"] > 2.5 * a["FID_k_win"]
    halves = evaluate_set(same, gt, EvalConfig(window_hop_seconds=1.25))
    assert halves["n_windows"] == 5 * 23
    short = [(x[0][:50], fps, None, None, None) for x in same]
    out = evaluate_set(short, gt)
    assert out["n_windows"] == 0 and math.isnan(out["FID_k_win"]) and np.isfinite(out["FID_k"])
    with pytest.raises(Dance2DError, match="window"):
        evaluate_set(same, gt, EvalConfig(window_seconds=0.1))


# ------------------------------------------------ cross-check: independent loop re-derivation on real 3D


def loop_kinetic(pos: list, dt: float, w: int = 2, up: int = 1) -> list:
    """Published kinetic features, literally: per joint, loops over frames and window offsets, bug included."""
    T, J, D = len(pos), len(pos[0]), len(pos[0][0])
    out = []
    for j in range(J):
        ke_h = ke_v = ee = 0.0
        for i in range(1, T):
            vel, n = [0.0] * D, 0
            for off in range(-w, w + 1):
                k = i + off
                if k - 1 < 0 or k >= T:
                    continue
                for d in range(D):
                    vel[d] += pos[k][j][d] - pos[k - 1][j][d]
                n += 1
            vel = [x / (n * dt) for x in vel]
            ke_h += sum(vel[d] ** 2 for d in range(D) if d != up)
            ke_v += vel[up] ** 2
            acc, n = [0.0] * D, 0
            for off in range(-w, w + 1):
                k = i + off
                if k - 1 < 0 or k + 1 >= T:
                    continue
                for d in range(D):
                    v2 = (pos[k + 1][j][d] - pos[k][j][d]) / dt
                    v1 = pos[k][j][d] - pos[k - 1][j][d] / dt  # the upstream operator precedence
                    acc[d] += (v2 - v1) / dt
                n += 1
            ee += math.sqrt(sum((x / n) ** 2 for x in acc))
        out += [ke_h / (T - 1), ke_v / (T - 1), ee / (T - 1)]
    return out


def loop_fid_div(gen: list, gt: list) -> tuple[float, float]:
    """GT z-scoring, mean/covariance by loops, tr(Σ1Σ2)^½ from eigenvalues; DIV by a double loop."""
    F = len(gt[0])
    mean = [sum(r[f] for r in gt) / len(gt) for f in range(F)]
    std = [math.sqrt(sum((r[f] - mean[f]) ** 2 for r in gt) / len(gt)) for f in range(F)]
    zg = [[(r[f] - mean[f]) / (std[f] + 1e-10) for f in range(F)] for r in gen]
    zt = [[(r[f] - mean[f]) / (std[f] + 1e-10) for f in range(F)] for r in gt]

    def stats(rows):
        n = len(rows)
        mu = [sum(r[f] for r in rows) / n for f in range(F)]
        cov = [[sum((r[a] - mu[a]) * (r[b] - mu[b]) for r in rows) / (n - 1) for b in range(F)] for a in range(F)]
        return mu, np.array(cov)

    mu1, s1 = stats(zg)
    mu2, s2 = stats(zt)
    eig = np.linalg.eigvals(s1 @ s2).real  # eigenvalues of a product of PSD matrices are real, >= 0
    tr_sqrt = sum(math.sqrt(max(e, 0.0)) for e in eig)
    fid = sum((a - b) ** 2 for a, b in zip(mu1, mu2, strict=True)) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    dist, pairs = 0.0, 0
    for a in range(len(zg)):
        for b in range(a + 1, len(zg)):
            dist += math.sqrt(sum((x - y) ** 2 for x, y in zip(zg[a], zg[b], strict=True)))
            pairs += 1
    return float(fid), dist / pairs


def loop_bas(world: np.ndarray, music_frames: list, smooth: float = 5.0, sigma: float = 3.0) -> float:
    """Bailando-style BAS in frames: mean joint displacement, Gaussian smoothing (reflect), strict minima."""
    T, J = world.shape[0], world.shape[1]
    w = world.tolist()
    vel = [sum(math.dist(w[t + 1][j], w[t][j]) for j in range(J)) / J for t in range(T - 1)]
    n, radius = len(vel), int(4.0 * smooth + 0.5)
    weights = [math.exp(-0.5 * (x / smooth) ** 2) for x in range(-radius, radius + 1)]
    total = sum(weights)
    smoothed = []
    for t in range(n):
        acc = 0.0
        for x, wt in zip(range(-radius, radius + 1), weights, strict=True):
            idx = t + x
            idx = -idx - 1 if idx < 0 else (2 * n - idx - 1 if idx >= n else idx)  # half-sample reflection
            acc += wt * vel[idx]
        smoothed.append(acc / total)
    minima = [t for t in range(1, n - 1) if smoothed[t] < smoothed[t - 1] and smoothed[t] < smoothed[t + 1]]
    score = sum(math.exp(-min((m - b) ** 2 for m in minima) / (2 * sigma**2)) for b in music_frames)
    return score / len(music_frames)


def load_world_with_root(name: str) -> np.ndarray:
    """World positions (T, 24, 3) cm: the 23 skeleton points plus the root `center` as joint 23."""
    z = np.load(DWM / name / "skeletons.npz")
    world = z["skeletons"].astype(np.float64) + z["center"][:, None].astype(np.float64)
    return np.concatenate([world, z["center"][:, None].astype(np.float64)], axis=1)


@needs_shared("data", "dance_with_melody")
def test_cross_check_against_loop_reimplementation_on_real_3d():
    fps, win = 25.0, 50
    upstream = KineticConfig(joints=None, root_relative="first_frame", root_joints=(23,), scale="none",
                             up_axis=1, sliding_window=2, upstream_accel_bug=True)
    sets = {}
    for name in ("DANCE_C_2", "DANCE_R_2"):
        world = load_world_with_root(name)
        windows = [world[s:s + win] for s in range(0, 24 * win, win)]
        ours = np.stack([kinetic_features(x, fps, upstream) for x in windows])
        ref = np.array([loop_kinetic((x - x[0, 23]).tolist(), 1.0 / fps) for x in windows])  # root at frame 0
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
        sets[name] = (ours, ref)
    (gen, gen_ref), (gt, gt_ref) = sets["DANCE_C_2"], sets["DANCE_R_2"]
    fid_ref, div_ref = loop_fid_div(gen_ref.tolist(), gt_ref.tolist())
    assert fid_k(gen, gt) == pytest.approx(fid_ref, rel=1e-6)
    assert div_k(gen, gt) == pytest.approx(div_ref, rel=1e-9)

    beat_cfg = BeatConfig(joints=None, smoothing_sigma_s=5.0 / fps, sigma_s=3.0 / fps,
                          centre_speed_samples=False, refine_subframe=False)
    for name in ("DANCE_W_1", "DANCE_C_2"):
        world = load_world_with_root(name)
        music_frames = [round(b * fps * 60.0 / 87.0) for b in range(1, 10_000)]
        music_frames = [f for f in music_frames if f < world.shape[0] - 10]
        ours = sequence_bas(world, fps, np.array(music_frames) / fps, beat_cfg)
        assert ours == pytest.approx(loop_bas(world, music_frames), rel=1e-9)
