"""Teleports of the model spread over a few frames (pose/jumps.py)."""

import numpy as np

from dance2d.pose.jumps import JUMP_RATIO, MAX_FRAMES, spread_jumps


def walking(n: int = 120) -> np.ndarray:
    """A standing body that drifts right and swings its arms (K = 18, [0, 1] of a 512×512 canvas)."""
    from conftest import reference_pose

    base = reference_pose.__wrapped__()
    t = np.arange(n)
    kp = np.repeat(base[None], n, axis=0)
    kp[:, :, 0] += 0.001 * t[:, None]
    kp[:, [4, 7], 1] += 0.01 * np.sin(t / 4)[:, None]
    return kp.astype(np.float32)


def steps(kp: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.diff(kp[:, :14, :2] * 512, axis=0), axis=-1).mean(1)


def test_a_teleport_becomes_a_quick_move_that_arrives_at_the_same_pose():
    kp = walking()
    kp[60:, :14, 0] += 0.05  # the whole body jumps 26 px (a quarter torso) sideways between frames 59 and 60
    out = spread_jumps(kp, (512, 512))
    assert steps(kp).max() > 20 * np.median(steps(kp))
    assert steps(out).max() < JUMP_RATIO * np.median(steps(out))
    np.testing.assert_allclose(out[60 + MAX_FRAMES:], kp[60 + MAX_FRAMES:], atol=1e-6)  # then the same dance
    np.testing.assert_allclose(out[:60], kp[:60])
    assert np.all(np.diff(out[55:75, 1, 0]) > 0)  # the neck moves steadily across, no step back


def test_a_dance_without_jumps_is_left_alone():
    kp = walking()
    assert np.array_equal(spread_jumps(kp, (512, 512)), kp)
    still = np.repeat(kp[:1], 50, axis=0)
    assert np.array_equal(spread_jumps(still, (512, 512)), still)
    batch = np.stack([kp, kp])
    assert np.array_equal(spread_jumps(batch, (512, 512)), batch)


def test_missing_joints_stay_missing():
    kp = walking()
    kp[60:, :14, 0] += 0.05
    kp[58:63, 4] = 0.0  # the right wrist is missing around the jump
    out = spread_jumps(kp, (512, 512))
    assert np.all(out[58:63, 4] == 0.0) and np.isfinite(out).all()


def test_a_burst_of_flicker_is_replaced_by_the_way_between_its_ends():
    kp = walking()
    other = kp.copy()
    other[:, :14, 0] += 0.06  # another pose a quarter torso to the side
    flicker = kp.copy()
    flicker[50:56:2] = other[50:56:2]  # frames 50, 52, 54 flick across and back: six jumps in six frames
    out = spread_jumps(flicker, (512, 512))
    assert steps(flicker)[49:55].min() > 20 * np.median(steps(kp))
    np.testing.assert_allclose(out[49:57, 1, 0], np.linspace(kp[49, 1, 0], kp[56, 1, 0], 8), atol=1e-5)
    assert steps(out).max() < 2 * steps(kp).max()
