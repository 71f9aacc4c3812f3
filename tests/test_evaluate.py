"""Tests of dance2d.evaluate: generated-folder collection, ground-truth rows, the results JSON and error cases."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED, needs_shared

import dance2d.evaluate as ev
from dance2d.data.dwm import DWM_TEST_SONGS, dwm_split
from dance2d.errors import Dance2DError
from dance2d.evaluate import (
    GT_ROW,
    collect_generated,
    evaluate_command,
    ground_truth,
    run_evaluation,
)
from dance2d.metrics import format_table
from dance2d.pose import PoseSequence

DWM = SHARED / "data" / "dance_with_melody"
AISTPP = SHARED / "data" / "aistpp"
FPS = 25.0
SR = 22050
FRAMES = 150  # 6 s of fake mocap per song
TEST_SONGS = DWM_TEST_SONGS[:2]  # the fake dataset's test split
TRAIN_SONGS = ("DANCE_W_1", "DANCE_W_4", "DANCE_R_2", "DANCE_T_5")

# Dance with Melody 23-point skeleton (cm, y up, relative to the root), one symmetric standing pose.
_LEFT = {0: (-5, 70, 0), 3: (-16, 50, 0), 4: (-20, 22, 0), 5: (-21, 12, 0), 6: (-22, -3, 0), 7: (-10, 0, 0),
         8: (-11, -47, 0), 9: (-11, -80, 0), 10: (-11, -84, -5), 11: (-11, -84, 12), 22: (-22, -7, 0)}
_RIGHT = {1: 0, 12: 3, 13: 4, 14: 5, 15: 6, 16: 7, 17: 8, 18: 9, 19: 10, 20: 11, 21: 5}


def _template() -> np.ndarray:
    """(23, 3) standing pose: left points as listed, right points mirrored in x, lower spine on the axis."""
    t = np.zeros((23, 3))
    for j, p in _LEFT.items():
        t[j] = p
    for j, m in _RIGHT.items():
        t[j] = t[m] * np.array([-1.0, 1.0, 1.0])
    t[2] = (0, 12, 0)
    return t


def _click(path: Path, bpm: float, seconds: float) -> None:
    """A click track: 20 ms bursts of a 1 kHz tone on every beat."""
    wave = np.zeros(int(seconds * SR), np.float32)
    burst = 0.8 * np.sin(2 * np.pi * 1000 * np.arange(int(0.02 * SR)) / SR)
    for t in np.arange(0.0, seconds - 0.05, 60.0 / bpm):
        i = int(t * SR)
        wave[i:i + len(burst)] = burst
    sf.write(str(path), wave, SR, format="OGG" if path.suffix == ".ogg" else "WAV")


def _fake_song(folder: Path, k: int) -> None:
    """A DANCE_* folder: arms and knees swinging at a song-specific rate, the root walking and turning."""
    folder.mkdir(parents=True)
    t = np.arange(FRAMES) / FPS
    f = 1.0 + 0.3 * k  # Hz
    sk = np.repeat(_template()[None], FRAMES, axis=0)  # (T, 23, 3)
    for j in (4, 5, 6, 22, 13, 14, 15, 21):  # arms swing forward/up, left and right in antiphase
        side = 1.0 if j in (4, 5, 6, 22) else -1.0
        sk[:, j, 2] += side * (8 + 2 * k) * np.sin(2 * np.pi * f * t) * (1 + (j in (6, 15, 21, 22)))
        sk[:, j, 1] += 6 * np.cos(2 * np.pi * f * t)
    for j, side in ((8, 1.0), (17, -1.0)):  # knees bend alternately
        sk[:, j, 2] += 10 * np.maximum(0, side * np.sin(2 * np.pi * f / 2 * t))
    yaw = 0.4 * k + 0.3 * np.sin(2 * np.pi * 0.2 * t)  # slow turning
    c, s = np.cos(yaw), np.sin(yaw)
    sk[..., 0], sk[..., 2] = c[:, None] * sk[..., 0] + s[:, None] * sk[..., 2], -s[:, None] * sk[..., 0] + \
        c[:, None] * sk[..., 2]
    centre = np.stack([40 * np.sin(2 * np.pi * 0.1 * (k + 1) * t), 95 + 2 * np.sin(2 * np.pi * f * t),
                       30 * t], axis=1)
    np.savez_compressed(folder / "skeletons.npz", skeletons=sk.astype(np.float32), center=centre.astype(np.float32),
                        length=np.int64(FRAMES))
    (folder / "config.json").write_text(json.dumps({"start_position": 0, "end_position": FRAMES + 5}))
    _click(folder / "audio.ogg", 90 + 15 * k, FRAMES / FPS + 1.0)


def _save_dance(folder: Path, kp: np.ndarray, music: Path, **meta) -> None:
    """One generated dance folder entry, as `dance2d generate` writes it."""
    meta = {"music": str(music), "start": 0.0, "end": None, "seed": 0, **meta}
    PoseSequence(kp, FPS, "openpose18", (512, 512), meta).save_npz(folder / "poses.npz")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A fake Dance with Melody root and three generated folders: a copy of GT train, noise, and sine dances."""
    base = tmp_path_factory.mktemp("eval")
    root = base / "dwm"
    for k, name in enumerate(TEST_SONGS + TRAIN_SONGS):
        _fake_song(root / name, k)
    music = base / "click.wav"
    _click(music, 120.0, FRAMES / FPS + 1.0)
    train = ground_truth("dwm", root, "train", FPS, (512, 512), 0, with_music=False)
    gen = base / "gen"
    for i, (seq, _) in enumerate(train):
        (gen / "copy" / f"sample_{i}").mkdir(parents=True)
        _save_dance(gen / "copy" / f"sample_{i}", seq.keypoints, music, reference=seq.keypoints[0].tolist(),
                    seams=[50, 100])
    rng = np.random.default_rng(1)
    for i in range(4):
        (gen / "noise" / f"sample_{i}").mkdir(parents=True)
        kp = np.concatenate([rng.uniform(0.2, 0.8, (FRAMES, 18, 2)), np.ones((FRAMES, 18, 1))], axis=-1)
        _save_dance(gen / "noise" / f"sample_{i}", kp, music, reference=kp[0].tolist(), seams=[75])
    return {"root": root, "music": music, "gen": gen, "train": train}


@pytest.fixture(scope="module")
def results(world):
    """run_evaluation on the copy and noise folders (computed once)."""
    g = world["gen"]
    return run_evaluation([str(g / "copy"), str(g / "noise")], "dwm", world["root"])


def test_ground_truth_is_deterministic_and_split_independent(world):
    """Seeded cameras: the same song gives the same poses twice, with and without music, and per seed."""
    root = world["root"]
    again = ground_truth("dwm", root, "train", FPS, (512, 512), 0, with_music=True)
    for (a, _), (b, beats) in zip(world["train"], again, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        assert beats is not None and len(beats) > 0
    other = ground_truth("dwm", root, "train", FPS, (512, 512), 1, with_music=False)
    assert not np.allclose(other[0][0].keypoints, world["train"][0][0].keypoints)
    test = ground_truth("dwm", root, "test", FPS, (512, 512), 0, with_music=False)
    assert len(test) == len(TEST_SONGS) and len(world["train"]) == len(TRAIN_SONGS)
    for (a, _), (b, _) in zip(world["train"], again, strict=True):  # both name the music under frame 0
        assert a.meta["music"] == b.meta["music"] == a.meta["source"] + "/audio.ogg"
        assert a.meta["start"] == b.meta["start"] == json.loads((Path(a.meta["source"]) / "config.json").read_text(
        ))["start_position"] / FPS


def test_rows_metrics_and_ranking(results, world):
    """Every row is present; a copy of GT train scores FID ≈ 0 and beats random noise motion."""
    rows, settings = results
    assert list(rows) == ["copy", "noise", GT_ROW]
    cols = set(rows["copy"])
    assert all(set(r) == cols for r in rows.values())
    assert rows["copy"]["FID_k"] < 1e-6 * rows["noise"]["FID_k"]
    assert rows["copy"]["FID_k"] < 1e-3 and math.isfinite(rows[GT_ROW]["FID_k"])
    assert rows["copy"]["DIV_k"] == pytest.approx(rows["copy"]["DIV_k_gt"])
    assert rows["copy"]["body_proportion_error"] < rows["noise"]["body_proportion_error"]
    assert math.isfinite(rows[GT_ROW]["BAS_music_to_motion"]) and math.isnan(rows[GT_ROW]["seam_ratio"])
    assert rows["copy"]["n_generated"] == len(TRAIN_SONGS) == rows["copy"]["n_ground_truth"]
    assert settings["fps"] == FPS and settings["reference_split"] == "train"


def test_command_table_and_json_round_trip(world, tmp_path, capsys):
    """The CLI prints every row and metric and writes a JSON that regenerates the same table."""
    g = world["gen"]
    out = tmp_path / "res" / "results.json"
    args = argparse.Namespace(generated=[str(g / "copy"), str(g / "noise")], dataset="dwm", root=str(world["root"]),
                              out=str(out))
    evaluate_command(args)
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    rows = {n: {k: math.nan if v is None else v for k, v in m.items()} for n, m in data["rows"].items()}
    settings = data["settings"]
    for name, metrics in rows.items():
        assert name in printed
        assert all(m in printed for m in metrics)
    assert format_table(rows) in printed
    assert settings["dataset"] == "dwm" and settings["metrics"]["beat"]["sigma_s"] > 0
    assert set(settings["generated"]) == {"copy", "noise"}
    assert [p.name for p in out.parent.iterdir()] == ["results.json"]  # no temp file left behind


def test_labels_and_another_frame_rate(world):
    """Given labels name the rows; at another evaluation fps the copy of GT still scores far below noise."""
    g = world["gen"]
    rows, _ = run_evaluation([str(g / "copy"), str(g / "noise")], "dwm", world["root"], fps=20.0, labels=["a", "b"])
    assert list(rows) == ["a", "b", GT_ROW]
    assert rows["a"]["FID_k"] < 0.1 * rows["b"]["FID_k"]
    with pytest.raises(Dance2DError, match="distinct names"):
        run_evaluation([str(g / "copy"), str(g / "noise")], "dwm", world["root"], labels=["a", "a"])


def test_collect_generated_caches_beats_and_crops(world, monkeypatch):
    """Samples of one song compute its beats once; clip_seconds cuts poses, beats and seams."""
    calls = []
    real = ev.beat_times

    def counting(wave, sr, fps):
        calls.append(len(wave))
        return real(wave, sr, fps)

    monkeypatch.setattr(ev, "beat_times", counting)
    items = collect_generated(world["gen"] / "copy")
    assert len(items) == len(TRAIN_SONGS) and len(calls) == 1
    assert [s.meta["source"] for s, _ in items] == sorted(s.meta["source"] for s, _ in items)
    beats = items[0][1]
    assert np.all(np.diff(beats) > 0) and np.median(np.diff(beats)) == pytest.approx(0.5, abs=0.05)  # 120 BPM
    short = collect_generated(world["gen"] / "copy", clip_seconds=2.5)
    assert len(short[0][0]) == round(2.5 * FPS) and short[0][1].max() < 2.5
    assert ev._seams(short[0][0]) == [50]


def test_relative_music_path_next_to_npz(world, tmp_path):
    """A music path relative to the dance folder is found there."""
    d = tmp_path / "rel"
    for i in range(2):
        (d / f"sample_{i}").mkdir(parents=True)
        (d / f"sample_{i}" / "m.wav").write_bytes(world["music"].read_bytes())
        _save_dance(d / f"sample_{i}", world["train"][i][0].keypoints, Path("m.wav"))
    assert len(collect_generated(d)) == 2


def test_errors(world, tmp_path):
    """Clear errors: no poses.npz, a missing music file, an empty GT split, one dance only, unknown dataset."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Dance2DError, match="No poses.npz"):
        collect_generated(empty)
    lost = tmp_path / "lost"
    for i in range(2):
        (lost / f"sample_{i}").mkdir(parents=True)
        _save_dance(lost / f"sample_{i}", world["train"][i][0].keypoints, tmp_path / "gone.wav")
    with pytest.raises(Dance2DError, match="gone.wav"):
        collect_generated(lost)
    no_test = tmp_path / "dwm_train_only"
    no_test.mkdir()
    (no_test / "DANCE_W_1").symlink_to(world["root"] / "DANCE_W_1")
    with pytest.raises(Dance2DError, match="'test' split"):
        ground_truth("dwm", no_test, "test", FPS)
    one = tmp_path / "one"
    one.mkdir()
    _save_dance(one, world["train"][0][0].keypoints, world["music"])
    with pytest.raises(Dance2DError, match="at least 2"):
        run_evaluation([str(one)], "dwm", world["root"])
    with pytest.raises(Dance2DError, match="Unknown ground-truth dataset"):
        run_evaluation([str(world["gen"] / "copy")], "nope", world["root"])


@needs_shared("data", "aistpp")
def test_aistpp2d_reference_without_music(results, world):
    """The AIST++ 2D slice: no beats, no GT row, a note saying so; generated rows still get BAS."""
    gt = ground_truth("aistpp2d", AISTPP, "all", FPS, clip_seconds=4.0)
    assert len(gt) >= 2 and all(b is None for _, b in gt) and all(len(s) == 4 * FPS for s, _ in gt)
    rows, settings = run_evaluation([str(world["gen"] / "copy")], "aistpp2d", AISTPP, clip_seconds=4.0)
    assert list(rows) == ["copy"] and math.isfinite(rows["copy"]["BAS_music_to_motion"])
    assert any("aistpp2d" in n for n in settings["notes"])


@needs_shared("data", "dance_with_melody")
@pytest.mark.parametrize("skip", [0.0, 30.0])
def test_real_dwm_copy_of_test_split_matches_gt_row(tmp_path, skip):
    """Real test songs saved as 'generated' dances (music = their song under their first frame, as the ground truth's
    meta names it) reproduce the GT row, from the start of each song and 30 s into it (music no selection saw)."""
    clip = 6.0
    test = ground_truth("dwm", DWM, "test", FPS, (512, 512), 0, with_music=False, skip_seconds=skip)
    gen = tmp_path / "copy"
    for (seq, _), name in zip(test, [f.name for f in dwm_split(DWM, "test")], strict=True):
        start = json.loads((DWM / name / "config.json").read_text())["start_position"] / FPS
        assert seq.meta["start"] == pytest.approx(start + skip)
        (gen / name).mkdir(parents=True)
        seq.replace(meta={"music": str(DWM / name / "audio.ogg"), "start": seq.meta["start"], "end": None,
                          "reference": seq.keypoints[0].tolist(), "seams": [40]}).save_npz(gen / name / "poses.npz")
    rows, settings = run_evaluation([str(gen)], "dwm", DWM, clip_seconds=clip, skip_seconds=skip)
    for m in ("FID_k", "DIV_k", "DIV_k_gt", "BAS_music_to_motion", "BAS_motion_to_music"):
        assert rows["copy"][m] == pytest.approx(rows[GT_ROW][m], rel=1e-9), m
    assert rows[GT_ROW]["n_generated"] == len(DWM_TEST_SONGS) and rows[GT_ROW]["n_ground_truth"] > 20
    assert 0 < rows[GT_ROW]["BAS_music_to_motion"] <= 1 and settings["clip_seconds"] == clip
    assert settings["skip_seconds"] == skip


def test_skip_seconds_cuts_the_ground_truth_later_and_leaves_out_short_songs(world):
    """The ground truth from 0.8 s on is the same camera's poses from frame 0.8·fps on, its meta start moved with
    it; a skip that leaves under MIN_WINDOW_SECONDS of every song is one sentence."""
    root = world["root"]
    later = ground_truth("dwm", root, "train", FPS, (512, 512), 0, with_music=True, clip_seconds=3.0, skip_seconds=0.8)
    for (whole, _), (cut, beats) in zip(world["train"], later, strict=True):
        np.testing.assert_array_equal(cut.keypoints, whole.keypoints[20:95])
        assert cut.meta["start"] == pytest.approx(whole.meta["start"] + 0.8) and beats is not None
    with pytest.raises(Dance2DError, match=r"no sequence that lasts 5 s past .* skip less"):
        ground_truth("dwm", root, "train", FPS, skip_seconds=FRAMES / FPS - 1.0)
    with pytest.raises(Dance2DError, match="skip_seconds=-1"):
        ground_truth("dwm", root, "train", FPS, skip_seconds=-1.0)
