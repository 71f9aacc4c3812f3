"""Home tempo calibrated for speed (src/dance2d/calibrate.py, scripts/calibrate_tempo.py)."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import click_track, load_script

from dance2d.calibrate import implied_home_tempo, kinetic_speed, speed_calibration
from dance2d.errors import Dance2DError
from dance2d.evaluate import first_full_pose
from dance2d.pose import PoseSequence


def test_implied_home_tempo_is_the_median_tempo_that_matches_the_dancers():
    rows = [  # half as fast as its dancer at rate 1 on 120 BPM music: a home of 60 would have doubled it
        {"music_bpm": 120.0, "rate": 1.0, "kinetic_speed": 0.5, "step_speed": 0.4},
        {"music_bpm": 90.0, "rate": 0.75, "kinetic_speed": 1.0, "step_speed": 1.0},  # matched at 0.75: home 120
        {"music_bpm": 100.0, "rate": 0.5, "kinetic_speed": 2.0, "step_speed": 1.0},  # twice as fast: home 400
        {"music_bpm": None, "rate": None, "kinetic_speed": 1.0, "step_speed": 1.0},  # no pulse: left out
    ]
    assert implied_home_tempo(rows) == pytest.approx(120.0)
    assert implied_home_tempo(rows, "step_speed") == pytest.approx(120.0)
    assert implied_home_tempo(rows[:1], "step_speed") == pytest.approx(48.0)
    with pytest.raises(Dance2DError, match="tempo to calibrate"):
        implied_home_tempo(rows[3:])


def test_kinetic_speed_of_the_same_dance_played_faster():
    """The same slow dance played twice as fast moves twice as fast by every kinetic feature (each grows 4×; the
    features' ±2-frame averaging damps fast motion, so a 2× faster dance of quick moves measures a little less)."""
    t = np.arange(400) / 25.0
    kp = np.zeros((400, 18, 3))
    kp[..., 2] = 1.0
    kp[:, :, 1] = np.linspace(0.3, 0.8, 18)[None]  # a body one unit tall, every joint moving
    kp[:, :, 0] = 0.5 + 0.05 * np.sin(2 * np.pi * 0.25 * t)[:, None] * np.linspace(0.5, 1.5, 18)[None]
    kp[:, :, 1] += 0.02 * np.sin(2 * np.pi * 0.5 * t)[:, None]
    fast = kp[::2]
    assert kinetic_speed(fast[:200], kp[:200], 25.0) == pytest.approx(2.0, rel=0.05)  # whole periods of both
    assert kinetic_speed(kp, kp, 25.0) == pytest.approx(1.0)


def swaying(reference_pose: np.ndarray, n: int, hz: float) -> np.ndarray:
    """The reference pose with its arms swinging sideways at hz (a dancer to compare speeds with)."""
    kp = np.repeat(reference_pose[None], n, axis=0).copy()
    kp[:, [3, 4, 6, 7], 0] += 0.05 * np.sin(2 * np.pi * hz * np.arange(n) / 25.0)[:, None]
    return kp


def test_speed_calibration_dances_each_sequence_and_reports_the_tempo_that_matches(tiny_checkpoint, tmp_path,
                                                                                      reference_pose):
    from dance2d.pipeline import Dance2D

    pipe = Dance2D.from_pretrained(tiny_checkpoint)
    pipe.data = dataclasses.replace(pipe.data, home_tempo=100.0)
    seqs = []
    for k, bpm in enumerate((96.0, 140.0)):
        music = click_track(tmp_path / f"click{k}.wav", 8.0, bpm)
        seqs.append(PoseSequence(swaying(reference_pose, 175, 1.0 + k), 25.0, "openpose18", (512, 512),
                                 meta={"music": str(music), "start": 0.5, "source": f"song{k}"}))
    assert np.array_equal(first_full_pose(seqs[0]), seqs[0].keypoints[0])
    out = speed_calibration(pipe, seqs, seconds=6.0, options={"steps": 2})
    assert [r["name"] for r in out["rows"]] == ["song0", "song1"] and out["home_tempo_now"] == 100.0
    for r, bpm in zip(out["rows"], (96.0, 140.0), strict=True):
        assert r["music_bpm"] == pytest.approx(bpm, rel=0.03) and r["rate"] == pytest.approx(r["music_bpm"] / 100)
        assert r["kinetic_speed"] > 0 and r["step_speed"] > 0
    assert np.isfinite([out["home_tempo"], out["home_tempo_step"]]).all()  # a random tiny model: any speed


class PlaysTheDancerFaster:
    """A stand-in pipeline whose dance is the ground truth's own motion played `speed` times as fast, at rate
    music_bpm / home: the calibration must find the home tempo at which it would have matched, home · speed."""

    def __init__(self, truth: PoseSequence, speed: float, home: float, music_bpm: float):
        self.truth, self.speed, self.music_bpm = truth, speed, music_bpm
        self.data = type("Data", (), {"home_tempo": home})()

    def generate(self, music, reference, *, seed, start, end, **options):
        n = int(round((end - start) * self.truth.fps))
        kp = self.truth.keypoints[(np.arange(n) * self.speed).astype(int) % len(self.truth.keypoints)]
        tempo = {"music_bpm": self.music_bpm, "rate": self.music_bpm / self.data.home_tempo}
        return [self.truth.replace(kp, meta=dict(self.truth.meta, tempo=tempo))]


def test_speed_calibration_finds_the_home_tempo_of_a_dance_played_too_fast(reference_pose):
    t = np.arange(600) / 25.0
    kp = swaying(reference_pose, 600, 0.25)
    kp[:, :, 1] += 0.02 * np.sin(2 * np.pi * 0.5 * t)[:, None]  # the whole body bobs too
    truth = PoseSequence(kp, 25.0, "openpose18", (512, 512), meta={"music": "song.ogg", "start": 0.0})
    out = speed_calibration(PlaysTheDancerFaster(truth, 2.0, 80.0, 120.0), [truth], seconds=8.0)
    assert out["kinetic_speed"] == pytest.approx(2.0, rel=0.05) and out["step_speed"] == pytest.approx(2.0, rel=0.05)
    assert out["home_tempo"] == pytest.approx(160.0, rel=0.05) and out["home_tempo_now"] == 80.0


def test_calibrate_script_prints_its_json_line(tiny_checkpoint, tmp_path, monkeypatch, capsys, reference_pose):
    """The script on a fake dataset split: one row per song and the JSON line, dancing at a stated home tempo."""
    script = load_script("scripts/calibrate_tempo.py")
    music = click_track(tmp_path / "click.wav", 8.0, 120.0)
    seqs = [(PoseSequence(swaying(reference_pose, 150, 1.5), 25.0, "openpose18", (512, 512),
                          meta={"music": str(music), "start": 0.0, "source": f"s{k}"}), None) for k in range(3)]
    monkeypatch.setattr(script, "ground_truth", lambda *a, **k: seqs)
    monkeypatch.setattr("sys.argv", ["calibrate_tempo.py", str(tiny_checkpoint), "--root", str(tmp_path),
                                     "--songs", "2", "--seconds", "4", "--home", "90"])
    script.main()
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert len(lines) == 3 and result["songs"] == 2 and result["home_tempo_now"] == 90.0
    assert result["home_tempo"] > 0 and result["kinetic_speed"] > 0 and result["home_tempo_step"] > 0

