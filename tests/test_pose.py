"""Properties of PoseSequence, layouts, conversions, IO and one-hot images."""

import json

import numpy as np
import pytest

from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence, as_layout, get_layout, onehot
from dance2d.pose.convert import coco17_to_body18, dwm23_to_body18
from dance2d.pose.layouts import LAYOUTS


def random_seq(t=20, k=18, seed=0, layout="openpose18"):
    rng = np.random.default_rng(seed)
    kp = np.concatenate([rng.uniform(0.05, 0.95, (t, k, 2)), rng.uniform(0.2, 1.0, (t, k, 1))], -1)
    return PoseSequence(kp.astype(np.float32), 25.0, layout, (640, 480))


def test_layouts_mirror_is_involution_and_swaps_sides():
    for lay in LAYOUTS.values():
        perm = np.array(lay.mirror)
        assert (perm[perm] == np.arange(lay.num_joints)).all()
        for i, name in enumerate(lay.joints):
            if name.startswith("l_"):
                assert lay.joints[perm[i]] == "r_" + name[2:]
    with pytest.raises(Dance2DError, match="Unknown pose layout"):
        get_layout("smpl24")


def test_sequence_validates_input():
    with pytest.raises(Dance2DError, match="shape"):
        PoseSequence(np.zeros((5, 17, 3)), 25.0)
    bad = np.zeros((5, 18, 3))
    bad[2, 3, 0] = np.nan
    with pytest.raises(Dance2DError, match="NaN"):
        PoseSequence(bad, 25.0)
    with pytest.raises(Dance2DError, match="frame rate"):
        PoseSequence(np.zeros((5, 18, 3)), 0)


def test_npz_roundtrip(tmp_path):
    seq = random_seq()
    seq.save_npz(tmp_path / "p.npz")
    back = PoseSequence.load_npz(tmp_path / "p.npz")
    assert np.array_equal(back.keypoints, seq.keypoints)
    assert (back.fps, back.layout, back.canvas) == (seq.fps, seq.layout, seq.canvas)
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(Dance2DError, match="does not exist"):
        PoseSequence.load_npz(tmp_path / "missing.npz")


def test_openpose_json_roundtrip_in_pixels(tmp_path):
    seq = random_seq(t=4)
    seq.save_openpose(tmp_path / "op")
    files = sorted((tmp_path / "op").glob("*.json"))
    assert [f.name for f in files] == ["000000.json", "000001.json", "000002.json", "000003.json"]
    doc = json.loads(files[1].read_text())
    kp = np.array(doc["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    assert np.allclose(kp[:, 0], seq.keypoints[1, :, 0] * 640, atol=1e-3)
    back = PoseSequence.load_openpose(tmp_path / "op", fps=25.0)
    assert back.canvas == (640, 480)
    assert np.allclose(back.keypoints, seq.keypoints, atol=2e-6 * 640)


def test_openpose_hands_roundtrip(tmp_path):
    seq = random_seq(t=2, k=60, layout="openpose18_hands")
    seq.save_openpose(tmp_path)
    doc = json.loads((tmp_path / "000000.json").read_text())
    assert len(doc["people"][0]["hand_left_keypoints_2d"]) == 63
    back = PoseSequence.load_openpose(tmp_path, fps=25.0, hands=True)
    assert np.allclose(back.keypoints, seq.keypoints, atol=1e-4)


@pytest.mark.parametrize("content,match", [
    ("{not json", "malformed"),
    ('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}', "54"),
    ('{"animals": []}', "people"),
])
def test_openpose_bad_json(tmp_path, content, match):
    (tmp_path / "f.json").write_text(content)
    with pytest.raises(Dance2DError, match=match):
        PoseSequence.load_openpose(tmp_path / "f.json", canvas=(10, 10))


def test_openpose_coco_and_body25_inputs(tmp_path):
    coco = np.arange(51, dtype=float).reshape(17, 3) % 7 + 1
    coco[:, 2] = 1
    (tmp_path / "c.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": coco.ravel().tolist()}],
                                                 "canvas_width": 10, "canvas_height": 10}))
    seq = PoseSequence.load_openpose(tmp_path / "c.json")
    assert seq.keypoints.shape == (1, 18, 3)
    assert np.allclose(seq.keypoints[0, 1, :2], (coco[5, :2] + coco[6, :2]) / 2 / 10)


def test_resample_counts_and_linear_motion():
    t = np.arange(50, dtype=np.float32) / 25.0
    kp = np.zeros((50, 18, 3), np.float32)
    kp[..., 0] = 0.1 + 0.01 * t[:, None]
    kp[..., 1] = 0.5
    kp[..., 2] = 1
    seq = PoseSequence(kp, 25.0)
    up = seq.resample(30.0)
    assert len(up) == 60
    tt = np.arange(60) / 30.0
    inside = tt <= t[-1]
    assert np.allclose(up.keypoints[inside, 0, 0], 0.1 + 0.01 * tt[inside], atol=1e-6)
    assert len(seq.resample(12.5)) == 25


def test_resample_keeps_missing_joints_missing():
    seq = random_seq(t=10)
    kp = seq.keypoints.copy()
    kp[4, 3, 2] = 0
    out = seq.replace(kp).resample(50.0)
    assert out.keypoints[8, 3, 2] == 0 and out.keypoints[9, 3, 2] == 0


def test_mirror_involution_and_swaps():
    seq = random_seq()
    m = seq.mirror()
    lay = get_layout("openpose18")
    ls, rs = lay.index("l_shoulder"), lay.index("r_shoulder")
    assert np.allclose(m.keypoints[:, ls, 0], 1 - seq.keypoints[:, rs, 0])
    assert np.allclose(m.mirror().keypoints, seq.keypoints)


def test_coco_to_body18_neck_and_mapping():
    rng = np.random.default_rng(1)
    coco = rng.uniform(size=(3, 17, 3)).astype(np.float32)
    b = coco17_to_body18(coco)
    lay = get_layout("openpose18")
    coco_names = get_layout("coco17").joints
    for j, name in enumerate(lay.joints):
        if name != "neck":
            assert np.array_equal(b[:, j], coco[:, coco_names.index(name)])
    assert np.allclose(b[:, 1, :2], (coco[:, 5, :2] + coco[:, 6, :2]) / 2)
    seq = PoseSequence(coco, 30.0, "coco17")
    assert as_layout(seq, "openpose18").layout == "openpose18"


def test_dwm_to_body18_limbs_and_face():
    rng = np.random.default_rng(2)
    p = rng.normal(size=(4, 23, 3)).astype(np.float32) * 30
    b = dwm23_to_body18(p)
    assert np.allclose(b[:, 2], p[:, 12]) and np.allclose(b[:, 7], p[:, 6]) and np.allclose(b[:, 10], p[:, 18])
    assert np.allclose(b[:, 1], (p[:, 3] + p[:, 12]) / 2)
    head = (p[:, 0] + p[:, 1]) / 2
    assert np.all(np.linalg.norm(b[:, 0] - head, axis=-1) < 12)  # nose sits on the head


@pytest.mark.parametrize("width", [64, 256, 512])
def test_onehot_roundtrip_subbin(width):
    seq = random_seq(t=16)
    x = onehot.encode(seq.keypoints, width, sigma=1.5)
    assert x.shape == (36, width, 16)
    back = onehot.decode(x, refine=True)
    assert np.abs(back[..., :2] - seq.keypoints[..., :2]).max() < 1e-3 / width
    assert np.allclose(back[..., 2], seq.keypoints[..., 2], atol=1e-4)
    plain = onehot.decode(x, refine=False)
    assert np.abs(plain[..., :2] - seq.keypoints[..., :2]).max() <= 0.5 / width + 1e-6


def test_onehot_paper_exact_spike():
    kp = np.array([[[0.3, 0.71, 0.8]]], np.float32)
    x = onehot.encode(kp, 100, sigma=0)
    assert x[0, 30, 0] == pytest.approx(0.8) and x[1, 71, 0] == pytest.approx(0.8)
    assert np.count_nonzero(x) == 2
    back = onehot.decode(x, refine=False)
    assert back[0, 0, 2] == pytest.approx(0.8)  # Eq. 3: min of the two maxima


def test_onehot_missing_and_outside_joints_are_empty():
    kp = np.array([[[0.5, 0.5, 0.0], [1.2, 0.5, 1.0], [0.5, 0.5, 1.0]]], np.float32)
    x = onehot.encode(kp, 32)
    assert x[:4].max() == 0 and x[4:].max() > 0.9
    assert (onehot.decode(x)[0, :2, 2] == 0).all()


def test_onehot_encode_of_a_tensor_is_the_array_encoding_on_its_device():
    """The GPU cache build renders one-hot images from tensors: the same image as from the numpy array."""
    import torch

    kp = np.random.default_rng(1).uniform(-0.1, 1.1, (40, 18, 3)).astype(np.float32)
    kp[..., 2] = kp[..., 2] > 0.2
    for sigma in (0.0, 2.0):
        image = onehot.encode(torch.from_numpy(kp), 64, sigma)
        assert isinstance(image, torch.Tensor) and image.shape == (36, 64, 40)
        assert np.array_equal(image.numpy(), onehot.encode(kp, 64, sigma))
    with pytest.raises(Dance2DError, match="NaN"):
        onehot.encode(torch.full((2, 18, 3), float("nan")), 64)


def test_onehot_batched_decode_matches_single():
    seq = random_seq(t=8)
    x = onehot.encode(seq.keypoints, 64)
    assert np.array_equal(onehot.decode(np.stack([x, x]))[1], onehot.decode(x))


def test_tracking_stays_on_one_of_two_peaks_that_take_turns_and_follows_a_peak_that_moves():
    """A channel with two peaks, 100 bins apart, whose heights alternate frame by frame (as the one-hot model's
    wrists do) flickers under the per-frame argmax; tracked, it stays on one. A single peak sliding 3 bins a frame,
    and one jumping 60 bins for good, are followed exactly."""
    w, t = 256, 40
    bins = np.arange(w)[:, None]
    gauss = lambda centre: np.exp(-0.5 * ((bins - np.asarray(centre)[None]) / 2.0) ** 2)  # noqa: E731
    hi = np.where(np.arange(t) % 2 == 0, 1.0, 0.6)
    twin = hi * gauss(np.full(t, 60)) + hi[::-1] * gauss(np.full(t, 160))  # (W, T)
    slide = gauss(40 + 3 * np.arange(t))
    jump = gauss(np.where(np.arange(t) < 20, 50, 110))
    img = np.stack([twin, twin, slide, slide, jump, jump]).astype(np.float32)  # 3 joints
    flicker = onehot.decode(img, track=0)
    assert np.ptp(flicker[:, 0, 0]) > 0.3  # the argmax jumps between the two peaks
    tracked = onehot.decode(img, track=onehot.TRACK_COST)
    assert np.ptp(tracked[:, 0, 0]) < 1e-3  # one peak all the way
    np.testing.assert_allclose(tracked[:, 1:, :2], flicker[:, 1:, :2], atol=1e-6)  # real motion is followed
    assert np.array_equal(onehot.decode(np.stack([img, img]), track=onehot.TRACK_COST)[1], tracked)  # batched


def test_big_hand_scaling_exact_inverse():
    seq = random_seq(t=3, k=60, layout="openpose18_hands")
    big = onehot.scale_hands(seq.keypoints, "openpose18_hands", 2.0)
    assert np.array_equal(big[:, :18], seq.keypoints[:, :18])
    assert np.allclose(big[:, 18, :2], seq.keypoints[:, 18, :2])  # wrist fixed
    d0 = np.linalg.norm(seq.keypoints[:, 19:39, :2] - seq.keypoints[:, 18:19, :2], axis=-1)
    d1 = np.linalg.norm(big[:, 19:39, :2] - big[:, 18:19, :2], axis=-1)
    assert np.allclose(d1, 2 * d0, rtol=1e-5)
    assert np.allclose(onehot.unscale_hands(big, "openpose18_hands", 2.0), seq.keypoints, atol=1e-6)


def test_a_dance_starts_at_the_reference_pose_and_moves_into_its_own():
    from dance2d.pose.sequence import start_at_pose

    rng = np.random.default_rng(0)
    dance = rng.random((2, 40, 18, 3)).astype(np.float32) + 0.1  # two dances, every joint present
    dance[0, 3, 5, 2] = 0.0  # missing early in the dance: the reference's joint
    dance[0, 8, 5, 2] = 0.0  # missing late in the ease-in: stays missing and where it was
    pose = rng.random((18, 3)).astype(np.float32) + 0.1
    pose[7, 2] = 0.0  # a joint the reference lacks: hidden in the first half of the ease-in, then the dance's
    out = start_at_pose(dance, pose, 10, (640, 480), "openpose18")
    assert np.allclose(out[:, 0, :7, :2], pose[:7, :2]) and np.allclose(out[:, 0, 7, :2], dance[:, 0, 7, :2])
    assert np.array_equal(out[:, 0, :, 2] > 0, np.broadcast_to(pose[:, 2] > 0, (2, 18)))  # the reference's joints
    assert np.all(out[:, :5, 7, 2] == 0) and np.array_equal(out[:, 5:, 7], dance[:, 5:, 7])  # w(5) = ½
    assert np.array_equal(out[:, 10:], dance[:, 10:])
    assert np.array_equal(out[0, 8, 5], dance[0, 8, 5]) and out[0, 3, 5, 2] == pose[5, 2]
    assert np.allclose(out[0, 3, 5, :2] - out[0, 3, 1, :2], pose[5, :2] - pose[1, :2])  # hangs by the pose's bone
    keep = np.ones(out.shape[:-1], bool)
    keep[0, 3, 5] = False
    keep[:, :5, 7] = False
    assert np.array_equal(out[..., 2][keep], dance[..., 2][keep])  # other confidences are the dance's
    gap = np.abs(out[0, :10, 1, :2] - dance[0, :10, 1, :2]).sum(-1)  # the neck slides
    assert np.all(np.diff(gap / np.abs(pose[1, :2] - dance[0, :10, 1, :2]).sum(-1)) < 0)  # ever closer to the dance
    assert np.array_equal(start_at_pose(dance, pose, 0, (640, 480), "openpose18"), dance)


def test_the_ease_in_turns_the_limbs_without_shrinking_them():
    """From a pose with the arms down to one with them up and the right shoulder turned away (a portrait canvas):
    every arm and leg bone keeps its length in every frame (blending joint positions drew the 80 px forearms 3 px
    long halfway), while the shoulder blends as a vector, narrowing like a body that turns."""
    from dance2d.pose.layouts import LIMB_ENDS, get_layout
    from dance2d.pose.sequence import smoothstep, start_at_pose

    canvas = np.array([576.0, 1024.0])
    lay = get_layout("openpose18")
    down = np.zeros((18, 3), np.float32)
    down[:, 2] = 1.0
    px = {"neck": (288, 300), "nose": (288, 240), "r_eye": (278, 230), "l_eye": (298, 230), "r_ear": (268, 235),
          "l_ear": (308, 235), "r_shoulder": (248, 300), "l_shoulder": (328, 300), "r_elbow": (243, 400),
          "l_elbow": (333, 400), "r_wrist": (240, 480), "l_wrist": (336, 480), "r_hip": (263, 480),
          "l_hip": (313, 480), "r_knee": (260, 630), "l_knee": (316, 630), "r_ankle": (258, 770),
          "l_ankle": (318, 770)}
    for name, xy in px.items():
        down[lay.index(name), :2] = np.array(xy) / canvas
    up = down.copy()
    neck, r_sho = lay.index("neck"), lay.index("r_shoulder")
    up[r_sho, 0] = (down[neck, 0] + down[r_sho, 0]) / 2  # the right shoulder half as wide: turned away
    for p, ch in lay.limbs:  # the arms raised: each arm bone mirrored about its upper joint's horizontal
        if lay.joints[ch].endswith(("elbow", "wrist")):
            v = (down[ch, :2] - down[p, :2]) * canvas
            up[ch, :2] = up[p, :2] + np.array([v[0], -v[1]]) / canvas
    dance = np.repeat(up[None], 30, 0)
    out = start_at_pose(dance, down, 20, tuple(canvas), "openpose18")
    assert np.allclose(out[0], down) and np.array_equal(out[20:], dance[20:])
    for p, ch in lay.limbs:
        if lay.joints[ch] in LIMB_ENDS:
            lengths = np.linalg.norm((out[:, ch, :2] - out[:, p, :2]) * canvas, axis=-1)
            assert np.allclose(lengths, np.linalg.norm((down[ch, :2] - down[p, :2]) * canvas), rtol=1e-4)
    w = smoothstep(20)[:, None]
    shoulder = (1 - w) * (down[r_sho, :2] - down[neck, :2]) + w * (up[r_sho, :2] - up[neck, :2])
    assert np.allclose(out[:20, r_sho, :2] - out[:20, neck, :2], shoulder, atol=1e-6)
    assert np.all(np.diff(out[:20, lay.index("r_wrist"), 1]) < 0)  # the wrist rises all the way
