"""Bridging short gaps where a joint drops out (pose/gaps.py)."""

import numpy as np

from dance2d.pose.gaps import bridge_gaps
from dance2d.pose.layouts import get_layout

LAY = get_layout("openpose18")


def moving_dance(reference_pose: np.ndarray, frames: int = 30) -> np.ndarray:
    """The fixture pose sliding right by 0.004 per frame, its right arm swinging: every joint shown."""
    kp = np.repeat(reference_pose[None], frames, axis=0).copy()
    kp[..., 0] += 0.004 * np.arange(frames)[:, None]
    wrist = LAY.index("r_wrist")
    kp[:, wrist, 1] += 0.05 * np.sin(np.arange(frames) / 3)
    return kp


def test_a_short_gap_follows_the_parent_and_a_long_one_stays_missing(reference_pose):
    kp = moving_dance(reference_pose)
    elbow, wrist = LAY.index("r_elbow"), LAY.index("r_wrist")
    gappy = kp.copy()
    gappy[10:14, wrist, 2] = 0  # 4 frames: bridged
    gappy[10:14, wrist, :2] = 0.9  # whatever the model left there is not used
    gappy[3:20, LAY.index("l_ankle"), 2] = 0  # 17 frames: too long for max_frames=10
    out = bridge_gaps(gappy, 10)
    assert (out[10:14, wrist, 2] == 1).all()
    # the offset from the elbow moves linearly between the frames around the gap
    off = kp[:, wrist, :2] - kp[:, elbow, :2]
    w = (np.arange(10, 14) - 9) / 5
    want = kp[10:14, elbow, :2] + (1 - w)[:, None] * off[9] + w[:, None] * off[14]
    np.testing.assert_allclose(out[10:14, wrist, :2], want, atol=1e-6)
    assert (out[3:20, LAY.index("l_ankle"), 2] == 0).all()
    shown = gappy[..., 2] > 0
    np.testing.assert_array_equal(out[shown], gappy[shown])  # shown joints are untouched


def test_gaps_at_the_ends_stay_missing_and_zero_turns_it_off(reference_pose):
    kp = moving_dance(reference_pose)
    nose = LAY.index("nose")
    kp[:3, nose, 2] = 0  # before the first shown frame: nothing says where it was
    kp[-2:, nose, 2] = 0
    kp[12:14, nose, 2] = 0
    out = bridge_gaps(kp, 10)
    assert (out[:3, nose, 2] == 0).all() and (out[-2:, nose, 2] == 0).all() and (out[12:14, nose, 2] > 0).all()
    np.testing.assert_array_equal(bridge_gaps(kp, 0), kp)


def test_a_child_follows_its_bridged_parent_and_a_batch_is_bridged_dance_by_dance(reference_pose):
    kp = moving_dance(reference_pose)
    elbow, wrist = LAY.index("r_elbow"), LAY.index("r_wrist")
    gappy = kp.copy()
    gappy[8:12, [elbow, wrist], 2] = 0  # the whole forearm drops out
    other = kp.copy()
    other[20:22, elbow, 2] = 0
    out = bridge_gaps(np.stack([gappy, other]), 6)
    assert (out[0, 8:12, [elbow, wrist], 2] == 1).all() and (out[1, 20:22, elbow, 2] == 1).all()
    # the elbow follows the neck-rooted chain and the wrist follows the bridged elbow: the motion is a pure
    # slide here, so bridging it reproduces the hidden truth up to the swing's curvature
    np.testing.assert_allclose(out[0, 8:12, elbow, :2], kp[8:12, elbow, :2], atol=1e-6)
    np.testing.assert_allclose(out[0, 8:12, wrist, :2], kp[8:12, wrist, :2], atol=0.01)
    np.testing.assert_array_equal(out[1, :20], other[:20])
