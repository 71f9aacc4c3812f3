"""Hiding joints no body could have placed (pose/anatomy.py)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import SHARED, needs_shared

from dance2d.pose.anatomy import BONE_LIMITS, FACE_MIN_HEIGHT, HEIGHT_SLACK, MARGIN, hide_implausible
from dance2d.pose.layouts import get_layout

LAY = get_layout("openpose18")
CANVAS = (512, 512)


def dance(reference_pose: np.ndarray, frames: int = 20) -> np.ndarray:
    return np.repeat(reference_pose[None], frames, axis=0).copy()


def test_a_real_looking_dance_keeps_every_joint(reference_pose):
    kp = dance(reference_pose)
    np.testing.assert_array_equal(hide_implausible(kp, CANVAS), kp)


def test_a_stray_eye_is_hidden_in_its_frame_only(reference_pose):
    kp = dance(reference_pose)
    eye, nose = LAY.index("l_eye"), LAY.index("nose")
    kp[5, eye, :2] = kp[5, nose, :2] + (0.0, 0.08)  # 0.4 torso from the nose: twice the largest real nose-eye bone
    out = hide_implausible(kp, CANVAS)
    assert out[5, eye, 2] == 0
    hidden = (kp[..., 2] > 0) & (out[..., 2] == 0)
    assert hidden.sum() == 1  # nothing else: its ear is judged against the nose, which it stays near
    np.testing.assert_array_equal(out[..., :2], kp[..., :2])  # coordinates are kept, only shown / hidden changes


def test_a_lone_joint_is_judged_against_its_nearest_shown_ancestor(reference_pose):
    kp = dance(reference_pose)
    torso = 0.20  # neck (0.36) to mid-hip (0.56) in the fixture
    sh, el, wr = LAY.index("r_shoulder"), LAY.index("r_elbow"), LAY.index("r_wrist")
    arm = BONE_LIMITS[("r_shoulder", "r_elbow")] + BONE_LIMITS[("r_elbow", "r_wrist")]
    kp[:, el, 2] = 0  # elbow missing everywhere
    kp[3, wr, :2] = kp[3, sh, :2] + (0.9 * MARGIN * arm * torso, 0.0)  # within an arm's reach: kept
    kp[4, wr, :2] = kp[4, sh, :2] + (0.0, 1.1 * MARGIN * arm * torso)  # beyond it: hidden
    out = hide_implausible(kp, CANVAS)
    assert out[3, wr, 2] == 1 and out[4, wr, 2] == 0
    # a hidden parent counts as missing: an elbow thrown away takes a wrist that is also far along, not a near one
    kp = dance(reference_pose)
    kp[6, el, :2] = kp[6, sh, :2] + (0.0, 0.5)
    kp[6, wr, :2] = kp[6, el, :2] + (0.0, 0.02)
    kp[7, el, :2] = kp[7, sh, :2] + (0.0, 0.5)
    out = hide_implausible(kp, CANVAS)
    assert out[6, el, 2] == 0 and out[6, wr, 2] == 0 and out[7, el, 2] == 0 and out[7, wr, 2] == 1


def test_a_face_drawn_on_the_chest_is_hidden_however_the_dancer_leans(reference_pose):
    """Face points are held above the neck along the torso, not the image's vertical: a nose on the chest is
    hidden, and the same head of a dancer bowing sideways (the whole pose turned 90°) is kept."""
    kp = dance(reference_pose)
    nose, eye, neck = LAY.index("nose"), LAY.index("l_eye"), LAY.index("neck")
    hips = [LAY.index("r_hip"), LAY.index("l_hip")]
    torso = float(np.linalg.norm(kp[0, neck, :2] - kp[0, hips, :2].mean(0)))
    kp[3, nose, :2] = kp[3, neck, :2] + (0.0, 0.3 * torso)  # 0.3 torso below the neck: on the chest
    kp[4, eye, :2] = kp[4, neck, :2] + (0.0, (HEIGHT_SLACK - FACE_MIN_HEIGHT["l_eye"] - 0.05) * torso)  # just above
    kp[5, eye, :2] = kp[5, neck, :2] + (0.0, (HEIGHT_SLACK - FACE_MIN_HEIGHT["l_eye"] + 0.05) * torso)  # just below
    out = hide_implausible(kp, CANVAS)
    hidden = (kp[..., 2] > 0) & (out[..., 2] == 0)
    assert hidden[3, nose] and hidden[5, eye] and not hidden[4].any() and hidden[5].sum() == 1
    assert not np.delete(hidden, [3, 5], axis=0).any()  # (frame 3's eyes go too: a head's width from that nose)
    centre = kp[0, neck, :2]
    turned = kp.copy()  # the dancer lying along the image's x axis: the head points right, the hips left
    rel = kp[..., :2] - centre
    turned[..., 0], turned[..., 1] = centre[0] - rel[..., 1], centre[1] + rel[..., 0]
    np.testing.assert_array_equal(hide_implausible(turned[:3], CANVAS), turned[:3])
    no_hips = kp.copy()
    no_hips[:, hips, 2] = 0  # no torso line to judge by: the face is left as it is
    assert hide_implausible(no_hips, CANVAS)[3, nose, 2] == kp[3, nose, 2]


def test_batches_and_hand_layouts(reference_pose):
    kp = dance(reference_pose)
    bad = kp.copy()
    bad[2, LAY.index("r_ankle"), :2] = (0.95, 0.05)
    out = hide_implausible(np.stack([kp, bad]), CANVAS)
    np.testing.assert_array_equal(out[0], kp)
    assert out[1, 2, LAY.index("r_ankle"), 2] == 0
    hands = np.concatenate([kp, np.tile(kp[:, 4:5], (1, 42, 1))], axis=1)  # 60 joints: hands at the wrists
    hands[:, 18:, :2] += np.float32(0.3)  # hand joints far away are not judged (no table for hands)
    np.testing.assert_array_equal(hide_implausible(hands, CANVAS, "openpose18_hands")[:, 18:], hands[:, 18:])
    coco = kp[:, :17].copy()
    coco[:, 0, :2] = 0.99  # a layout without a neck has no torso unit: left as it is
    np.testing.assert_array_equal(hide_implausible(coco, CANVAS, "coco17"), coco)


@needs_shared("data", "dance_with_melody")
def test_real_held_out_dances_lose_almost_nothing():
    """The table comes from the training songs; the held-out songs' real dances, through other cameras, must keep
    at least 99.9 % of their joints."""
    from dance2d.data import get_dataset

    shown = hidden = 0
    for seq, _ in get_dataset("dwm").ground_truth(SHARED / "data" / "dance_with_melody", "test", fps=25.0, seed=7,
                                                  with_music=False, clip_seconds=30):
        out = hide_implausible(seq.keypoints, seq.canvas)
        shown += int((seq.keypoints[..., 2] > 0).sum())
        hidden += int(((seq.keypoints[..., 2] > 0) & (out[..., 2] == 0)).sum())
    assert shown > 10_000 and hidden <= 0.001 * shown


@needs_shared("data", "dance_with_melody")
def test_the_bone_table_is_what_the_training_dances_measure():
    """BONE_LIMITS and FACE_MIN_HEIGHT are typed in from scripts/bone_limits.py: rerun it and compare, so the tables
    cannot drift from the data or the camera model."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "bone_limits.py"
    res = subprocess.run([sys.executable, str(script), "--root", str(SHARED / "data" / "dance_with_melody"),
                          "--seeds", "0,1,2"], capture_output=True, text=True, check=True)
    measured = json.loads(res.stdout.strip().splitlines()[-1])
    assert {tuple(k.split("-")): v["p99.9"] for k, v in measured["bones"].items()} == BONE_LIMITS
    assert {k: v["p0.1"] for k, v in measured["face_heights"].items()} == FACE_MIN_HEIGHT
