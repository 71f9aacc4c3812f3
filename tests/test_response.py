"""Music-response metrics and tests: step rate, motion energy, tempo and energy tests (metrics/response.py)."""

import numpy as np
import pytest
from conftest import click_track

from dance2d.errors import Dance2DError
from dance2d.evaluate import energy_test, tempo_test
from dance2d.metrics import energy_ratio, motion_energy, step_rate
from dance2d.pipeline import Dance2D


def swaying(seconds: float, fps: float, hz, amp) -> np.ndarray:
    """A body-18 figure (pixels) whose joints sway sideways at hz with amplitude amp (arrays over time allowed)."""
    t = np.arange(int(seconds * fps)) / fps
    base = np.zeros((18, 2))
    base[:, 1] = np.linspace(0, 300, 18)
    base[1] = (0, 0)  # neck
    base[8], base[11] = (-20, 150), (20, 150)  # hips: torso ≈ 150 px
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(hz, t.shape)) / fps
    dx = np.broadcast_to(amp, t.shape) * np.sin(phase)
    kp = np.repeat(base[None], len(t), 0)
    kp[:, :, 0] += dx[:, None] * np.linspace(0.2, 1.0, 18)[None]
    return kp


def test_step_rate_counts_speed_minima_per_minute():
    """A sway at f Hz has speed minima at every turning point: 2f per second = 120 f per minute."""
    for hz in (0.8, 1.25):
        assert step_rate(swaying(20, 25, hz, 30), 25) == pytest.approx(120 * hz, rel=0.06)
    ratio = step_rate(swaying(20, 25, 1.25, 30), 25) / step_rate(swaying(20, 25, 0.8, 30), 25)
    assert ratio == pytest.approx(1.25 / 0.8, rel=0.08)


def test_motion_energy_is_speed_in_torso_lengths_and_scale_free():
    kp = swaying(10, 25, 1.0, 30)
    assert motion_energy(kp * 3, 25) == pytest.approx(motion_energy(kp, 25), rel=1e-9)
    assert motion_energy(swaying(10, 25, 1.0, 60), 25) == pytest.approx(2 * motion_energy(kp, 25), rel=0.02)


def test_energy_ratio_after_a_cut():
    fps, cut = 25, 10.0
    t = np.arange(int(20 * fps)) / fps
    amp = np.where(t < cut, 10.0, 40.0)
    assert energy_ratio(swaying(20, fps, 1.0, amp), fps, cut) == pytest.approx(4.0, rel=0.1)
    assert energy_ratio(swaying(20, fps, 1.0, 10.0), fps, cut) == pytest.approx(1.0, rel=0.05)
    with pytest.raises(Dance2DError):
        energy_ratio(swaying(3, fps, 1.0, 10.0), fps, 0.5)


@pytest.mark.slow
def test_tempo_and_energy_tests_run_a_model(tiny_checkpoint, tmp_path, reference_pose):
    pipe = Dance2D.from_pretrained(tiny_checkpoint)
    song = click_track(tmp_path / "s.wav", 20.0, bpm=110)
    t = tempo_test(pipe, song, reference_pose, seconds=6.0, seeds=(0,))
    assert t["music_bpm"] > 0 and len(t["ratios"]) == 1 and np.isfinite(t["ratio_mean"])
    calm = click_track(tmp_path / "calm.wav", 8.0, bpm=60)
    e = energy_test(pipe, calm, song, reference_pose, seconds=5.0, seeds=(0, 1))
    assert len(e["ratios"]) == 2 and all(r > 0 for r in e["ratios"])
    with pytest.raises(Dance2DError, match="shorter"):
        energy_test(pipe, calm, song, reference_pose, seconds=12.0, seeds=(0,))
