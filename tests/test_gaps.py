"""Bridging short gaps where a joint drops out (pose/gaps.py)."""

import numpy as np

from dance2d.pose.gaps import bridge_gaps, join_orphans
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


def turning_dance(reference_pose: np.ndarray, canvas=(640, 360), frames: int = 40) -> np.ndarray:
    """The fixture pose turning, growing and sliding on a wide canvas, a similarity map of the pixels per frame: a
    joint keeps its place relative to any two others."""
    size = np.asarray(canvas, float)
    px = reference_pose[:, :2] * size
    centre = px.mean(axis=0)
    kp = np.repeat(reference_pose[None], frames, axis=0).astype(np.float64)
    for t in range(frames):
        a, k = 0.02 * t, 1 + 0.01 * t
        rot = k * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        kp[t, :, :2] = ((px - centre) @ rot.T + centre + [2.0 * t, 0.5 * t]) / size
    return kp.astype(np.float32)


def test_a_missing_elbow_between_shown_joints_is_put_back_where_the_arm_puts_it(reference_pose):
    canvas = (640, 360)
    kp = turning_dance(reference_pose, canvas)
    elbow, knee, ankle = LAY.index("r_elbow"), LAY.index("l_knee"), LAY.index("l_ankle")
    gappy = kp.copy()
    gappy[12:30, elbow, 2] = 0  # 18 frames: longer than any bridged gap
    gappy[12:30, elbow, :2] = 0.9
    gappy[5:9, knee, 2] = 0
    gappy[5:9, ankle, 2] = 0  # no child shown: nothing says where the knee is
    out = join_orphans(gappy, canvas)
    np.testing.assert_allclose(out[12:30, elbow, :2], kp[12:30, elbow, :2], atol=1e-5)
    assert (out[12:30, elbow, 2] > 0).all()
    assert (out[5:9, [knee, ankle], 2] == 0).all()
    shown = gappy[..., 2] > 0
    np.testing.assert_array_equal(out[shown], gappy[shown])  # shown joints are untouched
    # the same dance judged in normalised coordinates (a square canvas) would bend the arm the wrong way
    assert np.abs(join_orphans(gappy, (1, 1))[12:30, elbow, :2] - kp[12:30, elbow, :2]).max() > 1e-3


def test_a_missing_neck_joins_the_shoulders_and_a_joint_never_shown_whole_goes_halfway(reference_pose):
    kp = turning_dance(reference_pose)
    neck, rs, ls = LAY.index("neck"), LAY.index("r_shoulder"), LAY.index("l_shoulder")
    knee, hip, ankle = LAY.index("r_knee"), LAY.index("r_hip"), LAY.index("r_ankle")
    gappy = kp.copy()
    gappy[:, neck, 2] = 0  # the whole dance: body-18 defines the neck as the shoulders' midpoint
    gappy[:, knee, 2] = 0  # no frame shows hip, knee and ankle together
    out = join_orphans(gappy, (640, 360))
    np.testing.assert_allclose(out[:, neck, :2], 0.5 * (kp[:, rs, :2] + kp[:, ls, :2]), atol=1e-6)
    np.testing.assert_allclose(out[:, knee, :2], 0.5 * (kp[:, hip, :2] + kp[:, ankle, :2]), atol=1e-6)
    # dances of a batch are joined each on its own
    both = join_orphans(np.stack([gappy, kp]), (640, 360))
    np.testing.assert_array_equal(both[0], out)
    np.testing.assert_array_equal(both[1], kp)


def test_a_headless_frame_gets_the_nearest_head_carried_with_the_torso_and_single_face_points_stay(reference_pose):
    canvas = (640, 360)
    kp = turning_dance(reference_pose, canvas)
    face = [LAY.index(j) for j in ("nose", "r_eye", "l_eye", "r_ear", "l_ear")]
    gappy = kp.copy()
    gappy[:, LAY.index("l_ear"), 2] = 0  # a head in three-quarter view: one ear never shown
    gappy[20:26][:, face, 2] = 0  # no head at all for six frames
    gappy[30:33, LAY.index("r_eye"), 2] = 0  # an eye the facing hides: stays hidden
    out = join_orphans(gappy, canvas)
    shown_face = [j for j in face if j != LAY.index("l_ear")]
    np.testing.assert_allclose(out[20:26][:, shown_face, :2], kp[20:26][:, shown_face, :2], atol=1e-5)
    assert (out[20:26][:, shown_face, 2] > 0).all()
    assert (out[:, LAY.index("l_ear"), 2] == 0).all() and (out[30:33, LAY.index("r_eye"), 2] == 0).all()
    shown = gappy[..., 2] > 0
    np.testing.assert_array_equal(out[shown], gappy[shown])
