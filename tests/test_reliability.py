"""Issue 10: never lose a user's file, never write garbage, never throw away finished work, one sentence per error.

Every bad input of the issue has a case here (docs/RELIABILITY.md lists them with their messages)."""

import errno
import json
import os
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED, click_track

import dance2d.outputs as outputs
import dance2d.validate as validate
from dance2d.atomic import process_start
from dance2d.cli import main
from dance2d.errors import Dance2DError, Dance2DNotice
from dance2d.music.audio import load_audio
from dance2d.music.features import Baseline35Config, Baseline35Encoder
from dance2d.pipeline import Dance2D
from dance2d.pose import PoseSequence
from dance2d.pose.complete import complete_legs
from dance2d.pose.convert import coco17_to_body18
from dance2d.pose.retarget import FULL_LIMB_PER_TORSO
from dance2d.threads import auto_threads

SECONDS = 2.0
AIST = SHARED / "data" / "aistpp" / "keypoints2d_px"


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    return click_track(tmp_path_factory.mktemp("music") / "song.wav", SECONDS)


def run(song, ckpt, out, *extra) -> int:
    return main(["generate", str(song), "--model", str(ckpt), "--steps", "1", "--out", str(out), "--quiet",
                 *map(str, extra)])


def one_error(capfd) -> str:
    """The stderr of a failed command, which must be one `dance2d: error:` sentence."""
    err = capfd.readouterr().err.strip()
    assert err.startswith("dance2d: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def write_json(path: Path, body18_px: np.ndarray, canvas=(640, 480), **extra) -> Path:
    doc = {"people": [{"pose_keypoints_2d": np.asarray(body18_px, float).reshape(-1).tolist()}]}
    if canvas is not None:
        doc.update(canvas_width=canvas[0], canvas_height=canvas[1])
    doc.update(extra)
    path.write_text(json.dumps(doc))
    return path


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != outputs.MANIFEST)


@pytest.fixture
def no_generation(monkeypatch):
    """Fail the test if the slow part (sampling) starts: the error had to come before it."""
    def boom(*a, **k):
        raise AssertionError("generation started although the input was bad")

    monkeypatch.setattr(Dance2D, "_generate", boom)


# ---------------------------------------------------------------------------------------------------- data loss
def test_earlier_dance_plus_other_files_is_refused_and_kept(tiny_checkpoint, song, tmp_path, capfd):
    out = tmp_path / "d"
    assert run(song, tiny_checkpoint, out, "--no-video") == 0
    before = (out / "poses.npz").read_bytes()
    (out / "notes.txt").write_text("mine")
    (out / "edits").mkdir()
    (out / "edits" / "000001.json").write_text("{}")
    capfd.readouterr()
    assert run(song, tiny_checkpoint, out, "--no-video", "--seed", 3) == 2
    err = one_error(capfd)
    assert "did not write" in err and "notes.txt" in err and "edits/000001.json" in err
    assert (out / "notes.txt").read_text() == "mine" and (out / "edits" / "000001.json").exists()
    assert (out / "poses.npz").read_bytes() == before and hidden(tmp_path) == []


@pytest.mark.parametrize("where", ["song", "ref"])
def test_inputs_inside_the_output_folder_survive(where, tiny_checkpoint, song, tmp_path, capfd):
    out = tmp_path / "d"
    assert run(song, tiny_checkpoint, out, "--no-video") == 0
    if where == "song":  # the song copied into an earlier dance
        inp = out / "song.wav"
        inp.write_bytes(song.read_bytes())
        args = [inp]
    else:  # a file dance2d wrote there, used as this run's reference
        inp = out / "openpose" / "000000.json"
        args = [song, "--ref", inp]
    data = inp.read_bytes()
    capfd.readouterr()
    assert main(["generate", *map(str, args), "--model", str(tiny_checkpoint), "--steps", "1", "--out", str(out),
                 "--quiet", "--no-video"]) == 2
    assert "inside the output folder" in one_error(capfd)
    assert inp.read_bytes() == data


def test_changed_output_file_is_not_replaced(tiny_checkpoint, song, tmp_path, capfd):
    out = tmp_path / "d"
    assert run(song, tiny_checkpoint, out, "--no-video") == 0
    (out / "openpose" / "000003.json").write_text('{"people": []}')  # the user edited a frame
    capfd.readouterr()
    assert run(song, tiny_checkpoint, out, "--no-video") == 2
    assert "openpose/000003.json" in one_error(capfd)
    assert (out / "openpose" / "000003.json").read_text() == '{"people": []}'


def test_replacing_own_output_removes_only_listed_files(tiny_checkpoint, song, tmp_path):
    out = tmp_path / "d"
    assert run(song, tiny_checkpoint, out, "--samples", 2, "--no-video") == 0
    manifest = json.loads((out / outputs.MANIFEST).read_text())["files"]
    assert "sample_1/poses.npz" in manifest and "sample_0/openpose/000000.json" in manifest
    assert run(song, tiny_checkpoint, out, "--no-video") == 0
    assert not (out / "sample_0").exists() and (out / "poses.npz").is_file()
    assert hidden(tmp_path) == []


def test_older_output_without_manifest_is_recognised(tiny_checkpoint, song, tmp_path, capfd):
    out = tmp_path / "d"
    assert run(song, tiny_checkpoint, out, "--no-video") == 0
    (out / outputs.MANIFEST).unlink()  # as written by dance2d before the manifest
    assert run(song, tiny_checkpoint, out, "--no-video") == 0
    (out / outputs.MANIFEST).unlink()
    (out / "readme.md").write_text("x")
    capfd.readouterr()
    assert run(song, tiny_checkpoint, out, "--no-video") == 2
    assert "readme.md" in one_error(capfd) and (out / "readme.md").exists()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_partial_folders_are_cleaned(tiny_checkpoint, song, tmp_path):
    old = time.time() - 3600
    dead = _dead_pid()
    stale = tmp_path / f".d.{dead}.abc123.partial"  # left by a kill -9 of an earlier run
    (stale / "openpose").mkdir(parents=True)
    (stale / outputs.PARTIAL_MARKER).write_text("{}")
    (stale / "openpose" / "000000.json").write_text("{}")
    not_ours = tmp_path / f".d.{dead}.zzz.partial"  # same name pattern, no marker: not dance2d's
    not_ours.mkdir()
    (not_ours / "keep.txt").write_text("x")
    live = tmp_path / f".d.{os.getppid()}.live.partial"  # a run that is still going
    live.mkdir()
    (live / outputs.PARTIAL_MARKER).write_text("{}")
    for p in (stale / "openpose", stale, not_ours):
        os.utime(p, (old, old))
    between = (process_start(os.getppid()) + outputs._START) / 2  # written by the parent, still running
    os.utime(live, (between, between))
    assert run(song, tiny_checkpoint, tmp_path / "d", "--no-video") == 0
    assert not stale.exists() and (not_ours / "keep.txt").exists() and live.exists()


def test_moved_aside_dance_is_restored(tiny_checkpoint, song, tmp_path):
    out = tmp_path / "d"
    assert run(song, tiny_checkpoint, out, "--no-video") == 0
    aside = tmp_path / f".d.{_dead_pid()}.old"  # killed between the two renames of a replacement
    out.rename(aside)
    old = time.time() - 3600
    os.utime(aside, (old, old))
    with pytest.warns(Dance2DNotice, match="Restored"):
        outputs.clean_stale(out)
    assert (out / "poses.npz").is_file() and not aside.exists()


# ------------------------------------------------------------------------------------------------------ garbage
@pytest.mark.parametrize("value", ["1e6", "nan", "inf", "-1"])
def test_guidance_validated_up_front(value, tiny_checkpoint, song, tmp_path, capfd, no_generation):
    assert run(song, tiny_checkpoint, tmp_path / "d", "--guidance", value) == 2
    err = one_error(capfd)
    assert "--guidance" in err and "checkpoint" not in err
    assert not (tmp_path / "d").exists()


def test_garbage_output_is_not_written(tiny_checkpoint, song, tmp_path, capfd, monkeypatch):
    real = Dance2D._generate

    def far(self, *a, **k):
        kp = real(self, *a, **k)
        kp[..., :2] *= 1e6
        return kp

    monkeypatch.setattr(Dance2D, "_generate", far)
    assert run(song, tiny_checkpoint, tmp_path / "d") == 2
    assert "outside the" in one_error(capfd)
    assert not (tmp_path / "d").exists() and hidden(tmp_path) == []
    with pytest.raises(Dance2DError, match="NaN"):
        validate.output_poses(np.full((3, 18, 3), np.nan, np.float32), (10, 10))


def _cut_off_references(n: int = 4) -> list[tuple[np.ndarray, tuple[int, int], np.ndarray]]:
    """Real AIST++ poses cropped to a canvas that ends between the hips and the knees, like a half-body photo:
    (body-18 pixels in the crop, crop size, the uncropped pose in the same pixel frame)."""
    files = sorted(AIST.glob("*.npy"))
    if not files:
        pytest.skip("AIST++ keypoints2d not available")
    out = []
    for f in files[:n]:
        px = np.load(f).astype(np.float64)  # (T, 17, 2), 1920×1080
        b = coco17_to_body18(np.concatenate([px, np.ones(px.shape[:2] + (1,))], -1))
        hip_y = b[:, [8, 11], 1].max(1)
        knee_y = b[:, [9, 12], 1].min(1)
        t = int(np.argmax(knee_y - hip_y))  # the frame with the most visible thighs
        pose = b[t].copy()
        top = max(0.0, pose[:, 1].min() - 60)
        cut = hip_y[t] + 0.35 * (knee_y[t] - hip_y[t])
        left = max(0.0, pose[1, 0] - 450)
        size = (900, int(cut - top))
        pose[:, 0] -= left
        pose[:, 1] -= top
        out.append((pose, size, pose.copy()))
    return out


def test_cut_off_reference_legs_are_completed():
    for pose_px, size, _ in _cut_off_references():
        norm = pose_px / np.array([size[0], size[1], 1.0])
        inside = (norm[:, :2] >= 0).all(1) & (norm[:, :2] < 1).all(1)
        assert not inside[[9, 10, 12, 13]].any() and inside[[1, 2, 5, 8, 11]].all()  # really cut below the hips
        norm = np.where(inside[:, None], norm, 0.0).astype(np.float32)
        done, names, scale = complete_legs(norm, size)
        assert sorted(names) == ["l_ankle", "l_knee", "r_ankle", "r_knee"] and scale < 1
        px = done[:, :2] * size
        assert (done[:, :2] >= 0).all() and (done[:, :2] <= 1).all() and (done[:, 2] > 0).sum() == inside.sum() + 4
        torso = np.linalg.norm((px[8] + px[11]) / 2 - px[1])
        for hip, knee, ankle in ((8, 9, 10), (11, 12, 13)):
            assert px[knee, 1] > px[hip, 1] and px[ankle, 1] > px[knee, 1]  # legs go down
            assert np.linalg.norm(px[knee] - px[hip]) == pytest.approx(FULL_LIMB_PER_TORSO["knee"] * torso, rel=1e-3)
            assert np.linalg.norm(px[ankle] - px[knee]) == pytest.approx(FULL_LIMB_PER_TORSO["ankle"] * torso, rel=1e-3)


@pytest.mark.parametrize("detector", ["outside", "missing"])
def test_generate_from_a_cut_off_reference(detector, tiny_checkpoint, song, tmp_path, capfd):
    pose_px, size, _ = _cut_off_references(1)[0]
    if detector == "missing":  # a detector on the cropped photo reports no legs at all
        pose_px[[9, 10, 12, 13]] = 0
    ref = write_json(tmp_path / "half.json", pose_px, size)
    assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref, "--no-video") == 0
    err = capfd.readouterr().err
    assert err.count("completed from the torso") == 1  # said once
    seq = PoseSequence.load_npz(tmp_path / "d" / "poses.npz")
    used = np.asarray(seq.meta["reference"])
    assert np.allclose(used[1, :2] * size, pose_px[1, :2], atol=0.5)  # the neck stays where the photo has it
    assert seq.canvas == size and (used[[9, 10, 12, 13], 2] > 0).all()
    assert (used[[9, 10, 12, 13], 1] > used[[8, 11], 1].max()).all()
    # reframing (the default) keeps the person where the photo has them: the completed legs may reach below the
    # canvas, as they did in the photo; the rest of the body is not moved or rescaled
    assert (np.delete(used, [9, 10, 12, 13], 0)[:, :2] <= 1).all()


def test_reference_cut_above_the_hips_is_refused(tiny_checkpoint, song, tmp_path, capfd):
    pose_px, size, _ = _cut_off_references(1)[0]
    size = (size[0], int(pose_px[[8, 11], 1].min() - 5))  # the hips are below the canvas too
    ref = write_json(tmp_path / "chest.json", pose_px, size)
    assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref) == 2
    assert "r_hip, l_hip are outside its canvas" in one_error(capfd)


def test_dc_only_audio_is_silent(tiny_checkpoint, tmp_path, capfd, no_generation):
    sf.write(tmp_path / "dc.wav", np.full(22050 * 3, 0.4, np.float32), 22050)
    assert run(tmp_path / "dc.wav", tiny_checkpoint, tmp_path / "d") == 2
    assert "silent" in one_error(capfd)
    with pytest.raises(Dance2DError, match="DC offset"):
        load_audio((np.full(44100, -0.3, np.float32) + 1e-6 * np.sin(np.arange(44100)), 22050))
    assert load_audio((0.5 + 0.01 * np.sin(np.arange(44100, dtype=np.float32)), 22050))[0].shape == (44100,)


def test_truncated_audio_is_reported(tiny_checkpoint, tmp_path, capfd):
    full = click_track(tmp_path / "full.wav", 6.0)
    data = full.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:len(data) // 2])  # the header still says 6 s
    assert run(tmp_path / "cut.wav", tiny_checkpoint, tmp_path / "d", "--no-video") == 0
    err = capfd.readouterr().err
    assert "dance2d: note:" in err and "header says 6.0 s" in err and "truncated" in err
    assert len(PoseSequence.load_npz(tmp_path / "d" / "poses.npz")) == 75  # the 3 s that decode, at 25 fps
    with pytest.warns(Dance2DNotice, match="truncated"):
        load_audio(tmp_path / "cut.wav")


# ---------------------------------------------------------------------------------------------- finished work
@pytest.mark.parametrize("args, text", [
    (["--fps", "0"], "--fps 0"), (["--fps", "nan"], "--fps nan"), (["--fps", "-25"], "--fps -25"),
    (["--smooth", "nan"], "--smooth nan"), (["--start", "nan"], "--start nan"), (["--ease-in", "-1"], "--ease-in -1"),
    (["--max-gap", "nan"], "--max-gap nan"), (["--max-gap", "60"], "--max-gap 60"),
    (["--seed", str(2**70)], "--seed"), (["--steps", "0"], "--steps 0"), (["--samples", "0"], "--samples 0"),
    (["--start", "5", "--end", "3"], "--end 3 is not after --start 5;"), (["--threads", "-1"], "--threads"),
    (["--canvas", "nanxnan"], "--canvas"), (["--canvas", "20000x20000"], "too large for dance.mp4"),
    (["--bpm", "nan"], "--bpm nan"), (["--run-up", "-1"], "--run-up -1"), (["--bpm", "1000"], "--bpm 1000"),
    (["--bpm", "90", "--no-tempo-sync"], "--bpm 90 sets the pace of tempo sync"),
])
def test_bad_options_fail_before_generation(args, text, tiny_checkpoint, song, tmp_path, capfd, no_generation):
    assert run(song, tiny_checkpoint, tmp_path / "d", *args) == 2
    assert text in one_error(capfd)
    assert not (tmp_path / "d").exists()


def test_huge_canvas_without_video_is_fine_but_not_with_video(tiny_checkpoint, song, tmp_path, capfd,
                                                              reference_pose):
    ref = write_json(tmp_path / "big.json", reference_pose * [20000, 20000, 1], (20000, 20000))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(Dance2D, "_generate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("too late")))
        assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref) == 2
    assert "too large for dance.mp4" in one_error(capfd)
    assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref, "--no-video") == 0
    assert PoseSequence.load_npz(tmp_path / "d" / "poses.npz").canvas == (20000, 20000)


def test_full_disk_is_refused_before_generation(tiny_checkpoint, song, tmp_path, capfd, monkeypatch, no_generation):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(validate.shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    assert run(song, tiny_checkpoint, tmp_path / "d") == 2
    assert "MB are free" in one_error(capfd)


def test_video_failure_keeps_the_poses(tiny_checkpoint, song, tmp_path, capfd, monkeypatch):
    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "render_poses", full_disk)
    out = tmp_path / "d"
    assert run(song, tiny_checkpoint, out) == 2
    err = one_error(capfd)
    assert "No space left on device" in err and "poses were kept" in err and str(out / "poses.npz") in err
    seq = PoseSequence.load_npz(out / "poses.npz")
    assert len(seq) == 50 and len(list((out / "openpose").glob("*.json"))) == 50 and not (out / "dance.mp4").exists()
    assert "poses.npz" in json.loads((out / outputs.MANIFEST).read_text())["files"] and hidden(tmp_path) == []
    monkeypatch.undo()  # the kept poses render later, and the video joins the folder's manifest
    assert main(["render", str(out / "poses.npz"), "--music", str(song), "--quiet"]) == 0
    assert "dance.mp4" in json.loads((out / outputs.MANIFEST).read_text())["files"]
    assert run(song, tiny_checkpoint, out, "--no-video") == 0  # so the folder can still be replaced


def test_full_disk_while_writing_poses(tiny_checkpoint, song, tmp_path, capfd, monkeypatch):
    def full_disk(self, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PoseSequence, "save_npz", full_disk)
    assert run(song, tiny_checkpoint, tmp_path / "d") == 2
    assert "No space left on device" in one_error(capfd)
    assert not (tmp_path / "d").exists() and hidden(tmp_path) == []


# ------------------------------------------------------------------------------- tracebacks become sentences
def test_nan_canvas_json(tiny_checkpoint, song, tmp_path, capfd, reference_pose):
    for bad in ("NaN", "Infinity", "-1", '"wide"'):
        ref = tmp_path / "ref.json"
        ref.write_text(json.dumps({"people": [{"pose_keypoints_2d": (reference_pose * [640, 480, 1]).ravel().tolist()}],
                                   "canvas_width": 0, "canvas_height": 480}).replace('"canvas_width": 0',
                                                                                      f'"canvas_width": {bad}'))
        assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref) == 2
        assert "Canvas size" in one_error(capfd)


def test_deeply_nested_json(tiny_checkpoint, song, tmp_path, capfd):
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", tmp_path / "deep.json") == 2
    assert "nested too deeply" in one_error(capfd)


def test_bom_json_is_accepted(tiny_checkpoint, song, tmp_path, reference_pose):
    ref = write_json(tmp_path / "bom.json", reference_pose * [640, 480, 1])
    ref.write_bytes(b"\xef\xbb\xbf" + ref.read_bytes())
    assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref, "--no-video") == 0


def test_no_canvas_asks_for_the_canvas_option_which_exists(tiny_checkpoint, song, tmp_path, capfd, reference_pose):
    ref = write_json(tmp_path / "nocanvas.json", reference_pose * [640, 480, 1], canvas=None)
    assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref) == 2
    assert "--canvas WxH" in one_error(capfd)
    assert run(song, tiny_checkpoint, tmp_path / "d", "--ref", ref, "--canvas", "640x480", "--no-video") == 0
    assert PoseSequence.load_npz(tmp_path / "d" / "poses.npz").canvas == (640, 480)


def test_reference_is_checked_before_the_music(tiny_checkpoint, tmp_path, capfd):
    (tmp_path / "bad.mp3").write_bytes(b"\x00" * 5000)
    (tmp_path / "nobody.json").write_text(json.dumps({"people": [], "canvas_width": 9, "canvas_height": 9}))
    assert run(tmp_path / "bad.mp3", tiny_checkpoint, tmp_path / "d", "--ref", tmp_path / "nobody.json") == 2
    assert "no person" in one_error(capfd)


def _npz(path: Path, meta, keypoints=None) -> Path:
    kp = np.zeros((10, 18, 3), np.float32) if keypoints is None else keypoints
    np.savez(path, keypoints=kp, meta=np.array(json.dumps(meta)))
    return path


@pytest.mark.parametrize("case, text", [
    ("truncated", "truncated or damaged"), ("no fps", "lacks fps"), ("no layout", "lacks layout"),
    ("meta list", "not the dict"), ("canvas nan", "canvas"), ("huge canvas", "too large for dance.mp4"),
    ("not a zip", "not a readable"), ("folder", "is a folder"),
])
def test_render_bad_npz(case, text, tiny_checkpoint, song, tmp_path, capfd):
    good = {"format": "dance2d.pose/1", "fps": 25.0, "layout": "openpose18", "canvas": [64, 64], "meta": {}}
    path = tmp_path / "p.npz"
    if case == "truncated":
        PoseSequence(np.random.default_rng(0).uniform(size=(200, 18, 3)), 25.0).save_npz(path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif case == "no fps":
        _npz(path, {k: v for k, v in good.items() if k != "fps"})
    elif case == "no layout":
        _npz(path, {k: v for k, v in good.items() if k != "layout"})
    elif case == "meta list":
        _npz(path, [1, 2, 3])
    elif case == "canvas nan":
        _npz(path, dict(good, canvas=[float("nan"), 64]))
    elif case == "huge canvas":
        _npz(path, dict(good, canvas=[20000, 20000]))
    elif case == "not a zip":
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    else:
        path.mkdir()
    capfd.readouterr()
    assert main(["render", str(path), "--out", str(tmp_path / "v.mp4"), "--quiet"]) == 2
    assert text in one_error(capfd)
    assert not (tmp_path / "v.mp4").exists()


def test_render_never_overwrites_a_foreign_file(tmp_path, capfd, song):
    PoseSequence(np.full((20, 18, 3), 0.5, np.float32), 25.0).save_npz(tmp_path / "p.npz")
    (tmp_path / "holiday.mp4").write_bytes(b"precious")
    assert main(["render", str(tmp_path / "p.npz"), "--out", str(tmp_path / "holiday.mp4"), "--quiet"]) == 2
    assert "not written by dance2d" in one_error(capfd)
    assert (tmp_path / "holiday.mp4").read_bytes() == b"precious"
    assert main(["render", str(tmp_path / "p.npz"), "--out", str(song), "--quiet"]) == 2  # an input
    one_error(capfd)
    assert main(["render", str(tmp_path / "p.npz"), "--out", str(tmp_path / "v.mp4"), "--quiet"]) == 0
    assert main(["render", str(tmp_path / "p.npz"), "--out", str(tmp_path / "v.mp4"), "--quiet"]) == 0  # ours


def test_train_bad_numbers(tmp_path, capfd):
    for flag, value in (("--batch", "0"), ("--lr", "nan"), ("--steps", "-5"), ("--ema", "2.5")):
        assert main(["train", "--cache", str(tmp_path / "nocache"), "--out", str(tmp_path / "run"),
                     flag, value]) == 2
        assert f"{flag} {value}" in one_error(capfd)


# ------------------------------------------------------------------------------------------ under load, over time
def test_progress_starts_with_the_music_step(tiny_checkpoint, tmp_path, reference_pose):
    pipe = Dance2D.from_pretrained(tiny_checkpoint)
    calls = []
    pipe.generate(click_track(tmp_path / "s.wav", 5.0), reference_pose, steps=1, progress=lambda d, t: calls.append(
        (d, t)))
    n_seg = pipe.plan(125)[0]
    assert calls == [(k, n_seg + 1) for k in range(n_seg + 2)]


def test_progress_bar_shows_before_the_first_segment(tiny_checkpoint, song, tmp_path, monkeypatch):
    import io

    class Terminal(io.StringIO):  # progress bars are drawn only on a terminal
        def isatty(self) -> bool:
            return True

    def stuck(*a, **k):
        raise Dance2DError("stopped inside the first segment")

    monkeypatch.setattr(Dance2D, "_denoise_segment", stuck)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert main(["generate", str(song), "--model", str(tiny_checkpoint), "--out", str(tmp_path / "d"),
                 "--steps", "1"]) == 2
    err = sys.stderr.getvalue()
    assert "generate:" in err and err.index("generate:") < err.index("stopped inside")


def test_thread_policy(monkeypatch):
    import dance2d.threads as threads

    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    for busy, want in ((0.0, 2), (0.4, 2), (1.0, 1), (7.0, 1)):
        monkeypatch.setattr(threads, "busy_cores", lambda b=busy: b)
        assert auto_threads() == want
    assert 1 <= threads.auto_threads() <= os.cpu_count()


def test_long_music_features_in_chunks_equal_one_piece(tmp_path):
    wave, sr = load_audio(click_track(tmp_path / "long.wav", 70.0, bpm=97), 12800)
    wave = wave + 0.05 * np.sin(2 * np.pi * 440 * np.arange(len(wave)) / sr).astype(np.float32)  # some pitch
    one = Baseline35Encoder()(wave, sr, 25.0)
    chunked = Baseline35Encoder(Baseline35Config(chunk_s=12.0, margin_s=4.0))(wave, sr, 25.0)
    assert len(list(Baseline35Encoder(Baseline35Config(chunk_s=12.0))._chunks(len(wave), 512, sr, 0))) > 3
    assert one.shape == chunked.shape
    np.testing.assert_allclose(chunked, one, atol=2e-3 * np.abs(one).max())
    np.testing.assert_array_equal(chunked[:, -2:], one[:, -2:])  # onset peaks and beats: exactly the same frames


@pytest.fixture(scope="module")
def train_cache(tmp_path_factory) -> Path:
    from fixtures_gen import synthetic_clip

    from dance2d.data.cache import build_cache

    out = tmp_path_factory.mktemp("cache")
    clips = [synthetic_clip(f"clip{i}", seconds=5.0, fps=25.0, seed=i) for i in range(2)]
    build_cache(clips, out, codec_name="raw", fps=25.0, views_per_clip=1, mirror=False, progress=False,
                frames=32)
    return out


def test_resume_truncates_the_log_to_the_checkpoint(train_cache, tmp_path):
    from dance2d.train import TrainConfig, train

    run_dir = tmp_path / "run"
    cfg = dict(cache=str(train_cache), out=str(run_dir), preset="tiny", frames=32, batch=4, warmup=2, log_every=1,
               ckpt_every=2, sample_every=0, threads=1)
    train(TrainConfig(steps=2, **cfg))
    log = run_dir / "log.jsonl"
    # a kill -9 after logging steps 3 and 4 (and half of 5) but before the checkpoint of step 4 was complete
    with open(log, "a") as f:
        f.write('{"step": 3, "loss": 9.0}\n{"step": 4, "loss": 9.0}\n{"step": 5, "lo')
    dead = dead_pid()
    (run_dir / f".train_state.pt.{dead}.abc.tmp.pt").write_bytes(b"half a checkpoint")
    (run_dir / f".last.safetensors.{dead}.abc.tmp.safetensors").write_bytes(b"half")
    train(TrainConfig(steps=4, **cfg))
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 4] and all(r["loss"] != 9.0 for r in recs)
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "last.safetensors", "log.jsonl",
                                                          "train_state.pt"]


@pytest.mark.slow
def test_kill_resume_script(train_cache, tmp_path):
    """scripts/kill_resume.py on a tiny run: kill -9 at random moments and inside checkpoint writes, resume,
    same final loss and weights as without kills (the full 10-kill `small` run is in docs/RELIABILITY.md)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "kill_resume.py"
    res = subprocess.run([sys.executable, str(script), "--cache", str(train_cache), "--preset", "tiny", "--frames",
                          "32", "--steps", "120", "--ckpt-every", "4", "--log-every", "4", "--kills", "3",
                          "--nice", "0", "--work", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["kills"] == 3 and out["same_final_loss"] and out["same_final_weights"]
    assert out["log_steps_once_in_order"]


@pytest.mark.slow
def test_feature_memory_does_not_grow_with_song_length():
    """Music features of 10 minutes need little more memory than the audio itself (one-piece librosa analysis:
    +1 GB for 10 minutes, 2.2 GB peak for 20)."""
    code = """
import resource, numpy as np
from dance2d.music.features import Baseline35Encoder
sr, n = 12800, 12800 * 600
t = np.arange(n) / sr
wave = (0.1 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0.9)).astype(np.float32)
del t
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
Baseline35Encoder()(wave, sr, 25.0)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    growth_mb = float(res.stdout.strip().splitlines()[-1])
    assert growth_mb < 300, growth_mb


def test_thread_policy_limits_blas_too_and_restores_it():
    from threadpoolctl import threadpool_info

    from dance2d.threads import ThreadPolicy

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    assert before  # numpy's BLAS is there to limit
    policy = ThreadPolicy(1)
    assert all(n == 1 for n in blas_threads())
    policy.close()
    assert blas_threads() == before


def dead_pid() -> int:
    """The process id of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_render_removes_what_a_killed_render_left_and_nothing_else(tmp_path):
    from dance2d.render import render_poses

    target = tmp_path / "dance.mp4"
    stale = tmp_path / f".dance.mp4.{dead_pid()}.x1.tmp.mp4"
    live = tmp_path / f".dance.mp4.{os.getppid()}.x2.tmp.mp4"  # a render still running (our parent)
    other = tmp_path / ".dance.mp4.notes.txt"
    for p in (stale, live, other):
        p.write_bytes(b"half a video")
    kp = np.full((10, 18, 3), 0.5, np.float32)
    render_poses(kp, (64, 64), 25.0, target)
    assert target.is_file() and not stale.exists() and live.exists() and other.exists()
