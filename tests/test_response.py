"""Music-response metrics and tests: step rate, motion energy, tempo and energy tests (metrics/response.py)."""

import numpy as np
import pytest
from conftest import SHARED, click_track, needs_shared

from dance2d.errors import Dance2DError
from dance2d.evaluate import energy_test, tempo_test
from dance2d.metrics import energy_ratio, motion_energy, step_rate


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


def test_energy_ratio_uses_the_joints_shown_on_both_sides_of_the_cut():
    """A wrist the dance drops for the whole energetic part (the one-hot model did) is left out of both sides, not
    a crash after the generation; a dance with no body joint on one side gets one clear sentence."""
    fps, cut = 25, 10.0
    t = np.arange(int(20 * fps)) / fps
    kp = swaying(20, fps, 1.0, np.where(t < cut, 10.0, 40.0))
    conf = np.ones(kp.shape[:2])
    conf[t >= cut - 0.5, 4] = 0  # right wrist gone from just before the cut on
    assert energy_ratio(kp, fps, cut, confidence=conf) == pytest.approx(4.0, rel=0.1)
    conf[t >= cut - 0.5] = 0
    with pytest.raises(Dance2DError, match="No body joint is shown both before and after the cut at 10.0 s"):
        energy_ratio(kp, fps, cut, confidence=conf)


def test_step_rate_uses_the_body_joints_the_dance_shows():
    """A dance that never shows one wrist (the one-hot model can lose one for a whole test clip) still has a step
    rate from the joints it shows; one that shows no body joint gets one clear sentence."""
    kp = swaying(20, 25, 1.25, 30)
    conf = np.ones(kp.shape[:2])
    conf[:, 4] = 0  # right wrist never shown
    assert step_rate(kp, 25, conf) == pytest.approx(150, rel=0.06)
    conf[:] = 0
    with pytest.raises(Dance2DError, match="never shows a body joint"):
        step_rate(kp, 25, conf)


class SwayingPipe:
    """A stand-in model: sways at a rate that follows the music's onset rate, with an amplitude that follows its
    loudness, so the tests have a known answer (the plumbing is under test, not a model)."""

    def generate(self, music, reference, seed=0):
        import librosa

        from dance2d.pose import PoseSequence

        wave, sr = music
        fps, n = 25.0, int(len(wave) / sr * 25)
        tempo = float(np.atleast_1d(librosa.beat.beat_track(y=wave, sr=sr)[0])[0])
        rms = librosa.feature.rms(y=wave, hop_length=int(sr / fps))[0][:n]
        amp = 5 + 400 * np.interp(np.arange(n), np.arange(len(rms)), rms)
        kp = swaying(n / fps, fps, tempo / 120.0, amp) / 1000 + 0.3
        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,))], -1).astype(np.float32)
        return [PoseSequence(kp, fps, "openpose18", (512, 512))]


@pytest.mark.slow
def test_tempo_and_energy_tests_measure_what_the_dance_does(tmp_path):
    song = click_track(tmp_path / "s.wav", 40.0, bpm=110)
    t = tempo_test(SwayingPipe(), song, seconds=12.0, seeds=(0, 1))
    assert t["music_bpm"] > 0 and len(t["ratios"]) == 2
    assert t["ratio_mean"] == pytest.approx(150 / 96, rel=0.15)  # the stand-in follows tempo fully
    with pytest.raises(Dance2DError, match="tempo test needs"):
        tempo_test(SwayingPipe(), song, start=35.0, seconds=12.0, seeds=(0,))
    # a stated tempo replaces the estimate: told 165 BPM (3:2 of the real 110), the test stretches by 96/165 and
    # 150/165, so the versions really play at 64 and 100 BPM; the stand-in dances them and the ratio stays 150/96
    told = tempo_test(SwayingPipe(), song, seconds=12.0, seeds=(0,), music_bpm=165.0)
    assert told["music_bpm"] == 165.0
    assert told["step_rates"][0][0] < 0.8 * t["step_rates"][0][0]  # slower than when the test knew the tempo
    for bad in (float("nan"), 0.0, 1e4):
        with pytest.raises(Dance2DError, match="--tempo-bpm"):
            tempo_test(SwayingPipe(), song, seconds=12.0, seeds=(0,), music_bpm=bad)
    quiet = tmp_path / "quiet.wav"
    import soundfile as sf

    y, sr = sf.read(song)
    sf.write(quiet, 0.1 * y, sr)
    e = energy_test(SwayingPipe(), quiet, song, seconds=8.0, seeds=(0,))
    assert e["ratio_mean"] > 2.0  # 10× louder music → much larger sway
    with pytest.raises(Dance2DError, match="shorter"):
        energy_test(SwayingPipe(), quiet, song, seconds=50.0, seeds=(0,))


@needs_shared("music", "manifest.tsv")
def test_tempo_test_stretches_from_the_tempo_the_tool_hears():
    """`chaos-fog` at 160 s plays at 141 BPM (the music manifest); librosa's beat tracker hears 112 there, so a test
    that trusted it played the '96 BPM' version at 123 BPM and the '150 BPM' one at 192. The test now stretches
    from the tool's own estimate."""
    import csv

    with open(SHARED / "music" / "manifest.tsv") as f:
        listed = {r["file"]: float(r["bpm"]) for r in csv.DictReader(f, delimiter="\t")}
    t = tempo_test(SwayingPipe(), SHARED / "music" / "nexuiz" / "chaos-fog.ogg", start=160.0, seconds=10.0,
                   seeds=(0,))
    assert t["music_bpm"] == pytest.approx(listed["nexuiz/chaos-fog.ogg"], rel=0.03)
