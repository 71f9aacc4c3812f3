"""Tests for dance2d.data: cameras, Dance with Melody, AIST++, in-the-wild filters, latent cache and windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SHARED, needs_shared
from fixtures_gen import dancing_pixels, synthetic_clip, write_aist_splits, write_wild_video

from dance2d.data import DATASETS, GT_DATASETS, DanceDataset, get_dataset, load_dataset
from dance2d.data.aistpp import load_keypoints2d, load_splits
from dance2d.data.cache import build_cache
from dance2d.data.camera import Camera, face_visibility, sample_camera
from dance2d.data.config import DataConfig
from dance2d.data.dwm import DWM_TEST_SONGS, dwm_split, load_dwm, read_dwm_motion
from dance2d.data.wild import shot_runs
from dance2d.data.windows import WindowDataset
from dance2d.errors import Dance2DError

DWM = SHARED / "data" / "dance_with_melody"
AIST = SHARED / "data" / "aistpp"
needs_dwm = needs_shared("data", "dance_with_melody")
needs_aist = needs_shared("data", "aistpp")


# ---------------------------------------------------------------------------------------------- cameras


@pytest.mark.parametrize("yaw, right", [(0.0, (1.0, 0.0, 0.0)), (90.0, (0.0, 0.0, -1.0)), (180.0, (-1.0, 0.0, 0.0))])
def test_camera_principal_point_and_right(yaw, right):
    target = np.array([30.0, 90.0, -40.0])
    cam = Camera((640, 480), yaw=yaw, elevation=0.0, distance=400.0, focal=800.0, principal=(300.0, 250.0),
                 target=target)
    pts = np.stack([target, target + 100.0 * np.asarray(right), target + [0.0, 100.0, 0.0]])[None]
    uv = cam.project(pts)[0]
    np.testing.assert_allclose(uv[0], [300.0, 250.0], atol=1e-9)
    np.testing.assert_allclose(uv[1], [300.0 + 800.0 * 100.0 / 400.0, 250.0], atol=1e-9)  # 1 m right → right
    assert uv[2, 1] < 250.0 and abs(uv[2, 0] - 300.0) < 1e-9  # 1 m up → higher on screen


def test_camera_elevation_looks_down():
    cam = Camera((640, 480), elevation=30.0, distance=400.0, focal=800.0, principal=(320.0, 240.0))
    uv = cam.project(np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 50.0], [0.0, 0.0, -50.0]]]))[0]
    assert uv[1, 1] > uv[0, 1] > uv[2, 1]  # nearer floor points appear lower when looking down


def test_face_visibility_rule():
    # a head facing +z (right-handed, y up): its left is +x, so the right ear sits at −x
    pts = np.zeros((1, 18, 3))
    pts[0, :, 1] = 160.0
    pts[0, 16] = [-8.0, 160.0, 0.0]  # r_ear
    pts[0, 17] = [8.0, 160.0, 0.0]  # l_ear
    fwd = np.array([[0.0, 0.0, 1.0]])

    def conf(yaw):
        cam = Camera((512, 512), yaw=yaw, distance=400.0, focal=500.0, target=np.array([0.0, 100.0, 0.0]))
        return face_visibility(cam, pts, fwd)[0]

    front, side_left, back = conf(0.0), conf(60.0), conf(180.0)
    assert front[[0, 14, 15, 16, 17]].all()  # frontal: whole face
    assert side_left[[0, 15, 17]].all() and not side_left[[14, 16]].any()  # left side shown: far right eye/ear hidden
    assert not back[[0, 14, 15]].any() and back[[16, 17]].all()  # from behind: ears only


def test_sample_camera_varies_height_and_keeps_dancer_in_frame():
    rng = np.random.default_rng(0)
    T = 200
    body = np.array([[0, 170, 0], [0, 140, 0], [-20, 140, 0], [20, 140, 0], [-10, 90, 0], [10, 90, 0],
                     [-10, 0, 0], [10, 0, 0]], np.float64)
    walk = np.stack([np.linspace(-100, 100, T), np.zeros(T), np.linspace(0, 50, T)], -1)  # (T, 3)
    pts = body[None] + walk[:, None]
    heights = []
    for _ in range(12):
        cam = sample_camera(rng, (512, 512), pts, follow_seconds=None, height_range=(0.35, 0.85))
        uv = cam.project(pts)
        inside = ((uv >= 0) & (uv < 512)).all(-1)
        assert inside.mean() > 0.98
        heights.append(np.median(uv[..., 1].max(1) - uv[..., 1].min(1)) / 512)
    assert min(heights) > 0.15 and max(heights) < 0.9
    assert max(heights) - min(heights) > 0.15


# ---------------------------------------------------------------------------------------------- Dance with Melody


@needs_dwm
@pytest.mark.parametrize("song", ["DANCE_W_1", "DANCE_C_2"])
def test_dwm_audio_alignment(song):
    folder = DWM / song
    clip = load_dwm(folder, fps=25.0)
    start = json.loads((folder / "config.json").read_text())["start_position"]
    T = len(clip.poses)
    assert T == len(np.load(folder / "skeletons.npz")["skeletons"])
    ref, sr = sf.read(folder / "audio.ogg", dtype="float32")
    assert clip.sr == sr
    a, b = round(start / 25 * sr), round((start + T) / 25 * sr)
    assert len(clip.wave) == b - a
    assert abs(len(clip.wave) / sr - T / 25) <= 1 / sr
    np.testing.assert_allclose(clip.wave, ref[a:b], atol=1e-6)


@needs_dwm
def test_dwm_handedness_left_shoulder_on_image_right_when_facing_camera():
    folder = DWM / "DANCE_W_1"
    points, fwd, root, _ = read_dwm_motion(folder)
    front = load_dwm(folder, fps=25.0).poses.keypoints[0]  # camera faces the dancer's front at frame 0
    assert front[5, 0] > front[2, 0]  # l_shoulder right of r_shoulder on the image
    assert front[11, 0] > front[8, 0]  # l_hip right of r_hip
    assert front[0, 2] > 0  # nose visible
    yaw = float(np.degrees(np.arctan2(fwd[0, 0], fwd[0, 2])))
    back_cam = sample_camera(np.random.default_rng(0), (512, 512), points, root=root, yaw=yaw + 180.0)
    back = load_dwm(folder, fps=25.0, camera=back_cam).poses.keypoints[0]
    assert back[5, 0] < back[2, 0]  # seen from behind, the left shoulder is on the image left
    assert back[0, 2] == 0 and back[14, 2] == 0 and back[15, 2] == 0  # face hidden


@needs_dwm
def test_dwm_resample_to_30fps_and_views_vary():
    folder = DWM / "DANCE_W_24"
    c25 = load_dwm(folder, fps=25.0)
    c30 = load_dwm(folder, fps=30.0)
    assert len(c30.poses) == round(len(c25.poses) * 30 / 25)
    assert abs(len(c30.wave) / c30.sr - len(c30.poses) / 30) < 1 / 30
    heights = []
    for s in range(6):
        kp = c30.reproject(np.random.default_rng(s)).keypoints
        assert kp.shape == c30.poses.keypoints.shape
        assert ((kp[..., :2] >= 0) & (kp[..., :2] <= 1)).all()
        heights.append(np.median(kp[:, 1:, 1].max(1) - kp[:, 1:, 1].min(1)))
    assert max(heights) - min(heights) > 0.1


@needs_dwm
def test_dwm_split_is_whole_songs():
    train, test = dwm_split(DWM, "train"), dwm_split(DWM, "test")
    assert {p.name for p in test} == set(DWM_TEST_SONGS)
    assert not {p.name for p in train} & set(DWM_TEST_SONGS)
    assert "DANCE_T_5" in {p.name for p in train}
    assert {p.name[:7] for p in test} >= {"DANCE_C", "DANCE_R", "DANCE_W"}


# ---------------------------------------------------------------------------------------------- AIST++


def test_aist_splits_drop_the_ignore_list(tmp_path):
    names = ["gBR_sBM_cAll_d04_mBR0_ch01", "gBR_sBM_cAll_d04_mBR1_ch02", "gPO_sFM_cAll_d10_mPO1_ch03"]
    root = write_aist_splits(tmp_path, train=names[:2], test=names[2:], ignore=[names[1]])
    assert load_splits(root) == {"train": [names[0]], "test": [names[2]]}
    with pytest.raises(Dance2DError, match="does not exist"):
        load_splits(tmp_path / "elsewhere")


@needs_aist
def test_aist_2d_dataset_needs_music(tmp_path):
    with pytest.raises(Dance2DError, match="music"):
        load_dataset("aistpp2d", AIST, "train")
    for mid in ("mHO0", "mHO1", "mHO2", "mKR0", "mKR1", "mMH0", "mMH1"):
        t = np.arange(50 * 8000) / 8000
        sf.write(tmp_path / f"{mid}.wav", (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    clips = load_dataset("aistpp2d", AIST, "train", music_dir=tmp_path, fps=30.0)
    assert len(clips) == 8 and "gKR_sFM_cAll_d28_mKR2_ch03" not in {c.name for c in clips}  # not in any split
    for c in clips:
        assert len(c.wave) == round(len(c.poses) / 30.0 * 8000)


@needs_aist
def test_aist_real_splits_exclude_ignore_list():
    ignore = set((AIST / "splits" / "ignore_list.txt").read_text().split())
    raw_train = (AIST / "splits" / "crossmodal_train.txt").read_text().split()
    splits = load_splits(AIST)
    assert not set(splits["train"]) & ignore and not set(splits["test"]) & ignore
    assert len(splits["train"]) == len([n for n in raw_train if n not in ignore]) < len(raw_train)


@needs_aist
def test_aist_2d_slice_loads_as_body18():
    f = sorted((AIST / "keypoints2d_px").glob("*.npy"))[0]
    px = np.load(f)
    seq = load_keypoints2d(f)
    kp = seq.keypoints
    assert kp.shape == (len(px), 18, 3) and seq.fps == 30.0 and seq.canvas == (1920, 1080)
    assert ((kp[..., :2] >= 0) & (kp[..., :2] <= 1)).all()
    inside = ((px >= 0) & (px < [1920, 1080])).all(-1)
    assert (kp[..., 2][:, [0, 2, 5]] == inside[:, [0, 6, 5]]).all()  # nose, r/l shoulder: conf 1 where in frame
    np.testing.assert_allclose(kp[:, 1, :2], 0.5 * (kp[:, 2, :2] + kp[:, 5, :2]), atol=1e-6)  # neck
    np.testing.assert_allclose(kp[:, 5, 0] * 1920, px[:, 5, 0], rtol=1e-5)  # l_shoulder = COCO 5


# ---------------------------------------------------------------------------------------------- in the wild


def test_shot_runs_split_at_jump_and_drop_short_runs():
    px = dancing_pixels(600)
    assert shot_runs(px) == [(0, 600)]
    jumped = px.copy()
    jumped[300:, :, 0] += 200.0
    assert shot_runs(jumped) == [(0, 300), (300, 600)]
    early = px.copy()
    early[100:, :, 0] += 200.0
    assert shot_runs(early) == [(100, 600)]  # the 100-frame shot is shorter than 256
    zoom = px.copy()
    zoom[400:, :, :2] = (zoom[400:, :, :2] - 320.0) * 2.0 + 320.0  # scale jump about the body centre
    assert shot_runs(zoom) == [(0, 400)]
    empty = px.copy()
    empty[290:310, :, 2] = 0.0  # no person for 20 frames
    assert shot_runs(empty) == [(0, 290), (310, 600)]


def test_wild_folder_filters(tmp_path):
    px = dancing_pixels(600)
    px[300:, :, 0] += 200.0
    write_wild_video(tmp_path / "vidA", px, fps=30.0, seconds=20.0)
    write_wild_video(tmp_path / "vidB", dancing_pixels(300), fps=15.0, seconds=20.0)
    report = []
    from dance2d.data.wild import load_wild

    clips = load_wild(tmp_path, fps=30.0, report=report)
    assert [c.name for c in clips] == ["vidA:0-300", "vidA:300-600"]
    assert [r[0] for r in report] == ["vidB"]
    for c in clips:
        assert len(c.poses) == 300 and c.poses.canvas == (640, 480)
        assert abs(len(c.wave) / c.sr - 10.0) < 1e-3
    np.testing.assert_allclose(clips[1].poses.keypoints[0, :, 0] * 640, px[300, :, 0], atol=1e-3)
    c25 = load_dataset("wild", tmp_path, "train", fps=25.0)
    assert [len(c.poses) for c in c25] == [250, 250]


# ---------------------------------------------------------------------------------------------- cache and windows


@pytest.fixture(scope="module")
def raw_cache(tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    clips = [synthetic_clip("a", seconds=4.0, seed=0, three_d=True), synthetic_clip("b", seconds=3.0, seed=1)]
    build_cache(clips, out, codec_name="raw", fps=30.0, views_per_clip=2, mirror=True, tempo_rates=(1.0, 1.25),
                refs_per_view=3, progress=False)
    return out, clips


def test_cache_index_views_and_stats(raw_cache):
    out, _ = raw_cache
    index = json.loads((out / "index.json").read_text())
    assert index["num_views"] == 2 * 2 * 2 + 1 * 2 * 2  # 3D clip: 2 cameras; 2D clip: 1; × tempo × mirror
    data = index["data"]
    assert len(data["latent_mean"]) == len(data["latent_std"]) == data["latent_channels"] == 54  # x, y, conf
    assert all(s > 0 for s in data["latent_std"])
    for v in index["views"]:
        assert v["frames"] % 1 == 0 and (out / v["file"]).is_file()


def test_cache_tempo_keeps_music_and_motion_in_sync(raw_cache):
    from safetensors.numpy import load_file

    out, clips = raw_cache
    index = json.loads((out / "index.json").read_text())
    for v in index["views"]:
        t = load_file(str(out / v["file"]))
        T = len(t["keypoints"])
        assert T == len(t["music"]) == t["z"].shape[-1] == v["frames"]
        src = len(clips[0 if v["name"] == "a" else 1].poses)
        assert abs(T - src / v["rate"]) <= 1.0
        np.testing.assert_allclose(t["ref_poses"], t["keypoints"][t["ref_index"]])


def test_cache_plays_every_clip_at_a_target_tempo(tmp_path):
    """--tempo-to: each clip is played at the target tempo (its clicks at 120 BPM → rate 150/120), as generation
    plays every song to the model at its home tempo; the rates of --tempo multiply that."""
    clips = [synthetic_clip("a", seconds=8.0, seed=0)]
    build_cache(clips, tmp_path / "c", codec_name="raw", fps=30.0, views_per_clip=1, mirror=False,
                tempo_rates=(1.0, 1.1), progress=False, tempo_to=150.0)
    index = json.loads((tmp_path / "c" / "index.json").read_text())
    rates = sorted(v["rate"] for v in index["views"])
    assert rates == [pytest.approx(1.25, rel=0.03), pytest.approx(1.25 * 1.1, rel=0.03)]
    with pytest.raises(Dance2DError, match="--tempo-to 400"):
        build_cache(clips, tmp_path / "d", codec_name="raw", fps=30.0, progress=False, tempo_to=400.0)


def test_cache_letterboxes_views_of_another_canvas(tmp_path):
    """A clip drawn on a landscape canvas goes into a square cache at one scale for x and y: its bodies keep their
    proportions (normalising by each canvas would widen or narrow them by the aspect ratio)."""
    from safetensors.numpy import load_file

    square = synthetic_clip("a", seconds=2.0, seed=0)
    px = dancing_pixels(len(square.poses), 0)
    square.poses = square.poses.replace((px / np.array([512.0, 512.0, 1.0])).astype(np.float32), canvas=(512, 512))
    wide = synthetic_clip("b", seconds=2.0, seed=0)
    wide.poses = wide.poses.replace((px / np.array([1024.0, 576.0, 1.0])).astype(np.float32), canvas=(1024, 576))
    build_cache([square, wide], tmp_path, codec_name="raw", fps=30.0, views_per_clip=1, mirror=False,
                progress=False)
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["data"]["canvas"] == [512, 512]

    def shape(kp):  # shoulder width / torso length in the cache's pixels, per frame
        xy = kp[..., :2] * 512.0
        return np.linalg.norm(xy[:, 2] - xy[:, 5], axis=-1) / np.linalg.norm(xy[:, 1] - xy[:, 8], axis=-1)

    views = {v["name"]: load_file(str(tmp_path / v["file"]))["keypoints"] for v in index["views"]}
    np.testing.assert_allclose(shape(views["b"]), shape(views["a"]), rtol=1e-4)
    assert 0 < views["b"][..., :2].min() and views["b"][..., :2].max() < 1


def test_cache_from_before_letterboxing_is_not_resumed(tmp_path):
    """A cache folder written before views of other canvases were letterboxed may hold stretched views: a new build
    into it is refused instead of reusing them."""
    clips = [synthetic_clip("a", seconds=2.0, seed=0)]
    build_cache(clips, tmp_path, codec_name="raw", fps=30.0, views_per_clip=1, mirror=False, progress=False)
    index = json.loads((tmp_path / "index.json").read_text())
    del index["build"]["other_canvases"]
    (tmp_path / "index.json").write_text(json.dumps(index))
    with pytest.raises(Dance2DError, match="other_canvases"):
        build_cache(clips, tmp_path, codec_name="raw", fps=30.0, views_per_clip=1, mirror=False, progress=False)


@needs_dwm
def test_dwm_training_views_share_the_model_canvas():
    """Every training song is drawn on the one square canvas generation frames references into."""
    from dance2d.data.dataset import DEFAULT_CANVAS

    clips = get_dataset("dwm").clips(DWM, "train", limit=3)
    assert {c.poses.canvas for c in clips} == {DEFAULT_CANVAS}


def test_cache_second_build_skips(raw_cache):
    out, clips = raw_cache
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.safetensors")}
    before = json.loads((out / "index.json").read_text())
    build_cache(clips, out, codec_name="raw", fps=30.0, views_per_clip=2, mirror=True, tempo_rates=(1.0, 1.25),
                refs_per_view=3, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.safetensors")} == stamps
    after = json.loads((out / "index.json").read_text())
    np.testing.assert_allclose(after["data"]["latent_mean"], before["data"]["latent_mean"])
    # the tempo read back from the cached files is the one recorded from the music as it was made
    assert [v["tempo"] for v in after["views"]] == [v["tempo"] for v in before["views"]]
    clip_a = [v for v in before["views"] if v["name"] == "a"]  # clicks at 120 BPM, played rate x faster
    assert all(v["tempo"] == pytest.approx(120.0 * v["rate"], rel=0.03) for v in clip_a)
    with pytest.raises(Dance2DError, match="other settings"):
        build_cache(clips, out, codec_name="raw", fps=25.0, views_per_clip=2, progress=False)


def test_preloaded_batches_equal_the_file_read_windows(raw_cache):
    """batch() after preload() (the GPU path) slices the same windows and references as reading each item."""
    out, _ = raw_cache
    ds = WindowDataset(out, T=32, seed=3)
    idx = [0, len(ds) - 1, len(ds) // 2, 0]
    from_files = ds.batch(idx)
    ds.preload("cpu")
    held = ds.batch(idx)
    assert from_files.keys() == held.keys() == {"z", "music", "ref_z"}
    for k in held:
        assert torch.equal(from_files[k], held[k])
        assert torch.equal(held[k][1], ds[idx[1]][k])


def test_window_dataset_items(raw_cache):
    out, _ = raw_cache
    ds = WindowDataset(out, T=32, seed=0)
    assert len(ds) > 0
    item = ds[len(ds) - 1]
    assert item["z"].shape == (54, 1, 32) and item["music"].shape == (32, 35)
    assert item["keypoints"].shape == (32, 18, 3) and item["ref_pose"].shape == (18, 3)
    assert item["ref_z"].shape == (54, 1, 32) and item["z"].dtype.is_floating_point
    # raw latents are the scaled coordinates and presence flags: z matches the visible keypoints
    kp = item["keypoints"].numpy()
    xys = np.concatenate([np.where(kp[..., 2:] > 0, kp[..., :2], 0.5), (kp[..., 2:] > 0)], -1).reshape(32, 54).T
    np.testing.assert_allclose(item["z"][:, 0].numpy(), (xys - 0.5) / 0.1, atol=0.05)
    with pytest.raises(Dance2DError, match="codec"):
        WindowDataset(out, T=32, codec="taef2")
    assert all(start % 8 == 0 for _, start in ds.windows)


def test_cache_of_format_1_still_reads(raw_cache, tmp_path):
    """A cache index written before DataConfig (one flat dict, "ref_frames" = T) gives the same DataConfig."""
    out, _ = raw_cache
    index = json.loads((out / "index.json").read_text())
    data = index["data"]
    flat = {k: data[k] for k in ("codec", "width", "sigma", "fps", "layout", "canvas", "time_stride",
                                 "latent_channels", "latent_mean", "latent_std")}
    flat.update(index["build"], format="dance2d.cache/1", ref_frames=data["frames"], num_views=index["num_views"],
                views=index["views"])
    for v in index["views"]:
        (tmp_path / v["file"]).symlink_to(out / v["file"])
    (tmp_path / "index.json").write_text(json.dumps(flat))
    old = WindowDataset(tmp_path, T=32)
    assert old.data == WindowDataset(out, T=32).data == DataConfig.from_dict(data)


def test_data_config_round_trip_and_strictness():
    cfg = DataConfig(codec="raw", width=1, sigma=1.5, fps=25.0, layout="openpose18", canvas=[512, 288],
                     time_stride=1, latent_channels=54, latent_mean=[0.0] * 54, latent_std=[2.0] * 54)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert DataConfig.from_dict(d) == cfg and cfg.canvas == (512, 288)
    legacy = {k: v for k, v in d.items() if k != "pose_aware_frames"} | {"ref_frames": 8}  # checkpoints before it
    assert DataConfig.from_dict(legacy).pose_aware_frames == 8
    z = torch.ones(1, 54, 1, 4)
    assert torch.equal(cfg.denormalize_latents(cfg.normalize_latents(z)), z) and cfg.normalize_latents(z).max() == 0.5
    for bad in (d | {"colour": 1}, {k: v for k, v in d.items() if k != "codec"}):
        with pytest.raises(Dance2DError, match="Data config"):
            DataConfig.from_dict(bad)
    with pytest.raises(Dance2DError, match="music_mean"):
        cfg.normalize_music(np.zeros((4, 35), np.float32))


def test_window_dataset_empty_folder(tmp_path):
    with pytest.raises(Dance2DError, match="index.json"):
        WindowDataset(tmp_path, T=32)


def test_cache_taef2_tiny(tmp_path):
    clip = synthetic_clip("t", seconds=2.2, seed=2)
    build_cache([clip], tmp_path, codec_name="taef2", width=16, fps=30.0, views_per_clip=1, mirror=False,
                refs_per_view=2, progress=False, chunk_frames=32)
    ds = WindowDataset(tmp_path, T=32, codec="taef2", width=16)
    item = ds[0]
    assert item["z"].shape == (384, 2, 4) and item["ref_z"].shape == (384, 2, 4)
    with pytest.raises(Dance2DError, match="multiple"):
        WindowDataset(tmp_path, T=12)
    with pytest.raises(Dance2DError, match="width"):
        WindowDataset(tmp_path, T=32, codec="taef2", width=32)


def test_dataset_registry_feeds_the_cli(tmp_path):
    """Datasets are registered by name; the CLI offers exactly the registered ones (with ground truth to evaluate)."""
    from dance2d.cli import build_parser

    assert set(DATASETS) == {"dwm", "aistpp2d", "wild"} and GT_DATASETS == ("dwm", "aistpp2d")
    for name, cls in DATASETS.items():
        assert issubclass(cls, DanceDataset) and get_dataset(name).name == name
    with pytest.raises(Dance2DError, match="Unknown dataset"):
        get_dataset("nope")
    with pytest.raises(Dance2DError, match="no ground truth"):
        get_dataset("wild").ground_truth(tmp_path, "train", fps=25.0)
    subs = build_parser()._subparsers._group_actions[0].choices  # sub-command name → parser
    assert [a.choices for a in subs["prepare"]._actions if a.dest == "dataset"] == [list(DATASETS)]
    assert [a.choices for a in subs["evaluate"]._actions if a.dest == "dataset"] == [GT_DATASETS]
