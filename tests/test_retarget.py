"""Keeping the reference person: canonical framing and per-bone retargeting (pose/retarget.py)."""

import numpy as np
import pytest
from conftest import click_track

from dance2d.metrics import body_proportion_error, scale_fidelity
from dance2d.pipeline import Dance2D
from dance2d.pose.layouts import get_layout
from dance2d.pose.retarget import CANONICAL_CENTRE, CANONICAL_TORSO, Framing, retarget_bones

LAY = get_layout("openpose18")


def moved(pose: np.ndarray, scale: float, shift: tuple[float, float]) -> np.ndarray:
    out = pose.copy()
    out[:, :2] = (pose[:, :2] - 0.5) * scale + 0.5 + np.asarray(shift, np.float32)
    return out


def test_framing_puts_the_torso_in_the_canonical_place_and_inverts(reference_pose):
    ref = moved(reference_pose, 0.3, (-0.3, 0.2))  # small, off-centre
    fr = Framing.canonical(ref, (1920, 1080), (512, 512))
    m = fr.to_model(ref)
    neck, hips = m[LAY.index("neck"), :2], (m[LAY.index("r_hip"), :2] + m[LAY.index("l_hip"), :2]) / 2
    assert np.linalg.norm(neck - hips) == pytest.approx(CANONICAL_TORSO, rel=1e-5)
    np.testing.assert_allclose((neck + hips) / 2, CANONICAL_CENTRE, atol=1e-6)
    seq = np.stack([ref, moved(ref, 1.1, (0.01, 0.0))])
    np.testing.assert_allclose(fr.to_user(fr.to_model(seq)), seq, atol=1e-6)


def test_retarget_gives_each_bone_the_reference_length_and_keeps_directions(reference_pose):
    rng = np.random.default_rng(0)
    # a "dance" whose arms are 30 % too long and legs 20 % too short, swinging and foreshortened
    T = 50
    kp = np.repeat(reference_pose[None], T, 0).copy()
    arm = [LAY.index(j) for j in ("r_elbow", "r_wrist", "l_elbow", "l_wrist")]
    leg = [LAY.index(j) for j in ("r_knee", "r_ankle", "l_knee", "l_ankle")]
    kp[:, arm, :2] = kp[:, arm, :2] * 1.3 - 0.3 * kp[:, [LAY.index("neck")], :2]
    kp[:, leg, :2] = kp[:, leg, :2] * 0.8 + 0.2 * kp[:, [LAY.index("neck")], :2]
    kp[..., 0] += 0.02 * np.sin(np.arange(T) / 5)[:, None] * rng.random(18)[None]
    out = retarget_bones(kp, reference_pose, (512, 512))
    assert body_proportion_error(kp[..., :2], reference_pose[:, :2]) > 0.1
    assert body_proportion_error(out[..., :2], reference_pose[:, :2]) < 0.02  # hip width is not a tree bone
    for p, c in LAY.limbs:  # same direction every frame
        a, b = kp[:, c, :2] - kp[:, p, :2], out[:, c, :2] - out[:, p, :2]
        cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert (cos > 0.9999).all()
    np.testing.assert_allclose(out[:, LAY.index("neck")], kp[:, LAY.index("neck")])  # the root does not move


def test_retarget_leaves_missing_joints_missing(reference_pose):
    kp = np.repeat(reference_pose[None], 4, 0).copy()
    kp[1, LAY.index("r_elbow"), 2] = 0  # parent missing: the wrist keeps its place
    out = retarget_bones(kp, reference_pose, (512, 512))
    assert out[1, LAY.index("r_elbow"), 2] == 0
    np.testing.assert_allclose(out[1, LAY.index("r_wrist")], kp[1, LAY.index("r_wrist")])


@pytest.mark.parametrize("scale,shift", [(0.35, (-0.3, 0.25)), (1.3, (0.0, -0.05)), (0.6, (0.3, -0.1))])
def test_generate_frames_the_reference_for_the_model_and_keeps_the_person(tiny_checkpoint, tmp_path, reference_pose,
                                                                          scale, shift):
    """The model sees the reference in the canonical framing; its dance (here: a stand-in that sways with 25 %
    longer arms and 15 % shorter legs) comes back at the reference's place, scale and limb lengths."""
    pipe = Dance2D.from_pretrained(tiny_checkpoint)
    ref = moved(reference_pose, scale, shift)
    seen = {}

    def model_dance(feats, model_ref, seeds, *args, **kw):
        seen["ref"] = model_ref
        n = pipe.plan(len(feats))[2]
        kp = np.repeat(model_ref[None, None], n, 1).repeat(len(seeds), 0).copy()  # (B, n, K, 3)
        neck = model_ref[LAY.index("neck"), :2]
        for j, f in (("r_wrist", 1.25), ("l_wrist", 1.25), ("r_elbow", 1.25), ("l_elbow", 1.25), ("r_ankle", 0.85),
                     ("l_ankle", 0.85), ("r_knee", 0.85), ("l_knee", 0.85)):
            kp[..., LAY.index(j), :2] = neck + f * (model_ref[LAY.index(j), :2] - neck)
        kp[..., :2] += 0.01 * np.sin(np.arange(n) / 4)[None, :, None, None]
        return kp

    pipe._generate = model_dance
    [seq] = pipe.generate(click_track(tmp_path / "s.wav", 4.0), ref, steps=1, smooth=0)
    m = seen["ref"]
    torso = np.linalg.norm(m[LAY.index("neck"), :2] - (m[LAY.index("r_hip"), :2] + m[LAY.index("l_hip"), :2]) / 2)
    assert torso == pytest.approx(CANONICAL_TORSO, rel=1e-4)
    kp = seq.keypoints
    assert body_proportion_error(kp[..., :2], ref[:, :2]) < 0.01
    assert scale_fidelity(kp[..., :2], ref[:, :2])["scale_error"] < 0.01
    assert np.abs(np.median(kp[:, LAY.index("neck"), :2], 0) - ref[LAY.index("neck"), :2]).max() < 0.02
    [plain] = pipe.generate(click_track(tmp_path / "s.wav", 4.0), ref, steps=1, smooth=0, retarget=False)
    assert body_proportion_error(plain.keypoints[..., :2], ref[:, :2]) > 0.05  # what the retargeting removed
