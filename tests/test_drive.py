"""The music drives the dance beyond the model: tempo sync (music/drive.py) and loudness dynamics (pose/dynamics.py)."""

import time

import numpy as np
import pytest
from conftest import SHARED, click_track, needs_shared

from dance2d.errors import Dance2DError, Dance2DNotice
from dance2d.metrics.response import motion_energy
from dance2d.music.audio import load_audio
from dance2d.music.drive import (
    MAX_RATE,
    TEMPO_RANGE,
    frame_db,
    loudness_db,
    pulse,
    pulse_tempo,
    silent_spans,
    sync_rate,
    tempo_bpm,
    warp_features,
)
from dance2d.pose.dynamics import DB_PER_DOUBLING, MAX_GAIN, MIN_GAIN, apply_dynamics, dynamics_gain
from dance2d.pose.layouts import get_layout
from dance2d.pose.sequence import REST_EASE_S, REST_RETURN_S, start_and_rest


def onset_envelope(n: int, period: float, accent_every: int = 1, fps: float = 25.0) -> np.ndarray:
    """An onset-strength envelope (n,) with a click every `period` frames (fractional: each click is spread over
    the two nearest frames), every `accent_every`-th click three times as strong, and a little noise."""
    env = 0.02 * np.random.default_rng(0).random(n)
    for i, t in enumerate(np.arange(0.0, n - 1, period)):
        k, f = int(t), t - int(t)
        strength = 3.0 if i % accent_every == 0 else 1.0
        env[k] += strength * (1 - f)
        env[k + 1] += strength * f
    return env


def test_pulse_finds_the_tempo_and_its_beats():
    for bpm in (96.0, 120.0, 150.0):
        period = 60 * 25 / bpm
        tempo, beats = pulse(onset_envelope(1000, period), 25.0)
        assert tempo == pytest.approx(bpm, rel=0.02)
        assert np.median(np.diff(beats)) == pytest.approx(period, abs=1.0)
    assert pulse(np.zeros(1000), 25.0) == (None, None)  # silence: no pulse
    assert pulse(onset_envelope(60, 10.0), 25.0)[0] is None  # 2.4 s: too short to tell


def test_pulse_is_proportional_to_playback_speed_whatever_the_metre():
    """The same accented pattern (strong every 2nd or 3rd click) played at two speeds: tempi in the speeds' ratio,
    inside TEMPO_RANGE, at the octave level whatever a tracker would lock onto."""
    for accent in (1, 2, 3):
        slow = pulse(onset_envelope(1500, 60 * 25 / 96.0, accent), 25.0)[0]
        fast = pulse(onset_envelope(1500, 60 * 25 / 150.0, accent), 25.0)[0]
        assert fast / slow == pytest.approx(150 / 96, rel=0.03)
        assert TEMPO_RANGE[0] <= slow < fast < TEMPO_RANGE[1]
    # a tempo outside the range is danced at double or half time
    assert pulse(onset_envelope(1500, 60 * 25 / 60.0), 25.0)[0] == pytest.approx(120.0, rel=0.02)
    assert pulse(onset_envelope(1500, 60 * 25 / 200.0), 25.0)[0] == pytest.approx(100.0, rel=0.02)


def test_a_sustained_envelope_is_heard_at_its_beat_not_at_the_range_edge():
    """Strings and pads that ring on between beats make the onset envelope correlate with itself at every short lag;
    that plateau is no tempo. A beat at 87 BPM (a waltz) under a 0.4 s decay is heard at 87, not at the top of the
    range (the scoring that counted raw periodicity heard such music at its last candidate, 167.5 of 84-168)."""
    fps, n = 30.0, 900
    clicks = onset_envelope(n, 60 * fps / 87.0, accent_every=3, fps=fps)
    ring = np.exp(-np.arange(int(fps)) / (0.4 * fps))
    env = np.convolve(clicks, ring)[:n] + 0.5
    assert pulse_tempo(env, fps) == pytest.approx(87.0, rel=0.02)


@needs_shared("data", "dance_with_melody")
def test_waltzes_are_heard_at_one_octave_from_excerpt_to_excerpt():
    """Real waltzes (84-90 BPM) sat on the old range's floor and were heard at 87 in one 20 s excerpt and 167.5 in the
    next, so the dance ran twice as fast from one passage to the next. Every excerpt now lands in 80-93 BPM."""
    for song in ("DANCE_W_3", "DANCE_W_10", "DANCE_W_17", "DANCE_W_28"):
        wave, sr = load_audio(SHARED / "data" / "dance_with_melody" / song / "audio.ogg", 22050)
        tempi = [tempo_bpm(wave[int(s * sr):int((s + 20) * sr)], sr) for s in (0, 20, 40)]
        assert all(80.0 < t < 93.0 for t in tempi), (song, tempi)


def test_sync_rate_is_bounded_and_neutral_without_a_tempo():
    assert sync_rate(150.0, 120.0) == pytest.approx(1.25)
    assert sync_rate(400.0, 100.0) == MAX_RATE and sync_rate(20.0, 100.0) == 1 / MAX_RATE
    assert sync_rate(None, 120.0) == 1.0 and sync_rate(120.0, None) == 1.0


def test_warp_features_moves_events_and_interpolates_levels():
    n = 200
    feats = np.zeros((n, 3), np.float32)
    feats[:, 0] = np.arange(n)  # a ramp: song frame index
    feats[::20, 2] = 1  # events every 20 song frames
    fast = warp_features(feats, 2.0, 400, indicators=(2,))  # the song is twice the home tempo: 2 model frames each
    assert fast.shape == (400, 3)
    assert np.allclose(fast[:398, 0], np.arange(398) / 2)  # model frame j = song frame j / 2
    assert np.flatnonzero(fast[:, 2]).tolist() == list(range(0, 400, 40))
    slow = warp_features(feats, 0.5, 120, indicators=(2,))
    assert np.flatnonzero(slow[:, 2]).tolist() == list(range(0, 100, 10))
    assert slow[110, 0] == pytest.approx(feats[-1, 0], abs=1.0) and slow[110:, 2].sum() == 0  # past the end
    same = warp_features(feats, 1.0, 150, indicators=(2,))
    assert np.array_equal(same, feats[:150])
    with pytest.raises(Dance2DError, match="rate"):
        warp_features(feats, float("nan"), 10)


def test_loudness_is_relative_to_the_typical_level_and_ignores_dc():
    sr, fps = 12800, 25.0
    rng = np.random.default_rng(0)
    quiet = 0.05 * rng.standard_normal(10 * sr)
    loud = 0.5 * rng.standard_normal(10 * sr)
    n = 20 * int(fps)
    level = loudness_db(frame_db(np.concatenate([quiet, loud, loud]).astype(np.float32) + 0.3, sr, fps, 750), fps)
    assert level[300:700].mean() == pytest.approx(0.0, abs=0.5)  # the loud part is the song's typical level
    assert level[50:200].mean() == pytest.approx(-20.0, abs=1.0)  # ten times quieter: −20 dB; the DC is ignored
    assert np.all(loudness_db(frame_db(np.full(5 * sr, 0.2, np.float32), sr, fps, n), fps) == 0)  # DC: silence
    assert loudness_db(frame_db(np.zeros(sr, np.float32), sr, fps, 25), fps).shape == (25,)


def test_gain_follows_the_level_within_its_bounds():
    half = DB_PER_DOUBLING / 2  # half a doubling each way: √2 louder moves, 1/√2 quieter ones (inside the bounds)
    g = dynamics_gain(np.array([-60.0, -half, 0.0, half, 60.0]))
    assert g.tolist() == pytest.approx([MIN_GAIN, 2 ** -0.5, 1.0, 2 ** 0.5, MAX_GAIN])
    assert np.all(dynamics_gain(np.array([-30.0, 30.0]), strength=0.0) == 1.0)


def swaying_dance(n: int = 250, fps: float = 25.0) -> np.ndarray:
    """A standing pose whose arms swing and whose body sways, in [0, 1] of a 512×512 canvas."""
    from conftest import reference_pose

    base = reference_pose.__wrapped__()
    t = np.arange(n) / fps
    kp = np.repeat(base[None], n, axis=0)
    kp[:, :, 0] += 0.02 * np.sin(2 * np.pi * 0.9 * t)[:, None]
    for elbow, wrist, s in ((3, 4, 1), (6, 7, -1)):  # forearms rotate about the elbows
        v = base[wrist, :2] - base[elbow, :2]
        a = 0.6 * np.sin(2 * np.pi * 1.7 * t) * s
        rot = np.stack([np.cos(a) * v[0] - np.sin(a) * v[1], np.sin(a) * v[0] + np.cos(a) * v[1]], -1)
        kp[:, wrist, :2] = kp[:, elbow, :2] + rot
    return kp.astype(np.float32)


def bone_lengths(kp: np.ndarray) -> np.ndarray:
    lay = get_layout("openpose18")
    px = kp[..., :2] * 512
    return np.stack([np.linalg.norm(px[:, c] - px[:, p], axis=-1) for p, c in lay.limbs], -1)


def test_dynamics_scale_movement_and_keep_every_bone():
    kp = swaying_dance()
    n = len(kp)
    energy = lambda k: motion_energy(k[..., :2] * 512, 25.0)  # noqa: E731
    assert np.array_equal(apply_dynamics(kp, np.ones(n), (512, 512), 25.0), kp)
    big = apply_dynamics(kp, np.full(n, 1.5), (512, 512), 25.0)
    calm = apply_dynamics(kp, np.full(n, 0.625), (512, 512), 25.0)
    assert energy(big) > 1.3 * energy(kp) and energy(calm) < 0.75 * energy(kp)
    assert np.allclose(bone_lengths(big), bone_lengths(kp), atol=1e-3)  # the person stays the person
    assert np.allclose(bone_lengths(calm), bone_lengths(kp), atol=1e-3)
    both = np.stack([kp, kp])
    assert np.allclose(apply_dynamics(both, np.full(n, 1.5), (512, 512), 25.0)[1], big)  # batches: each alone


def test_dynamics_give_the_speed_the_gain_asks_for():
    """Movement in the slow course (a 5 s sway) and in foreshortening (a forearm turning towards the camera) counts
    too: the dance moves gain × as fast, not only its fast angle changes, and no bone grows past its longest."""
    kp = swaying_dance()
    n = len(kp)
    t = np.arange(n) / 25.0
    kp[:, :, 0] += 0.08 * np.sin(2 * np.pi * 0.2 * t)[:, None]
    v = kp[:, 4, :2] - kp[:, 3, :2]
    kp[:, 4, :2] = kp[:, 3, :2] + v * (0.75 + 0.25 * np.sin(2 * np.pi * 1.1 * t))[:, None]
    energy = lambda k: motion_energy(k[..., :2] * 512, 25.0)  # noqa: E731
    for gain in (1.5, 0.625):  # scaling the movement by the gain itself gave 1.44 and 0.69
        out = apply_dynamics(kp, np.full(n, gain), (512, 512), 25.0)
        assert energy(out) / energy(kp) == pytest.approx(gain, rel=0.03)
        assert np.all(bone_lengths(out).max(0) <= bone_lengths(kp).max(0) + 1e-3)


def test_dynamics_leave_missing_joints_alone():
    kp = swaying_dance()
    kp[100:120, 4] = 0.0  # right wrist missing for a while
    out = apply_dynamics(kp, np.full(len(kp), 1.5), (512, 512), 25.0)
    assert np.array_equal(out[100:120, 4], kp[100:120, 4]) and np.isfinite(out).all()


@pytest.mark.slow
def test_tempo_sync_plays_the_dance_at_the_song_tempo(tmp_path):
    """The bundled model on click tracks at 96 and 150 BPM: the dance lasts the song either way, the model danced
    at its home tempo, and the dance plays 150/96 times faster on the faster song."""
    from dance2d.pipeline import Dance2D

    pipe = Dance2D.from_pretrained()
    home = pipe.data.home_tempo
    assert home and 60 < home < 200
    rates = []
    for bpm in (96, 150):
        [seq] = pipe.generate(click_track(tmp_path / f"{bpm}.wav", 8.0, bpm=bpm), None, seed=0, steps=4)
        assert len(seq) == 200 and np.isfinite(seq.keypoints).all()
        tempo = seq.meta["tempo"]
        assert tempo["music_bpm"] == pytest.approx(bpm, rel=0.04) and tempo["home_bpm"] == home
        rates.append(tempo["rate"])
    assert rates[1] / rates[0] == pytest.approx(150 / 96, rel=0.05)
    [plain] = pipe.generate(tmp_path / "150.wav", None, seed=0, steps=4, tempo_sync=False)
    assert plain.meta["tempo"]["rate"] == 1.0
    # a 70 BPM song is heard at the octave where dancers step (140); a stated tempo replaces it: half the pace
    slow = click_track(tmp_path / "70.wav", 8.0, bpm=70)
    [heard] = pipe.generate(slow, None, seed=0, steps=4)
    [told] = pipe.generate(slow, None, seed=0, steps=4, bpm=70)
    assert heard.meta["tempo"]["music_bpm"] == pytest.approx(140, rel=0.04) and told.meta["tempo"]["music_bpm"] == 70
    assert told.meta["tempo"]["rate"] == pytest.approx(max(70 / home, 1 / MAX_RATE))
    assert told.meta["tempo"]["rate"] < 0.6 * heard.meta["tempo"]["rate"]
    with pytest.raises(Dance2DError, match="bpm 70 sets the pace of tempo sync, which tempo_sync=False"):
        pipe.generate(slow, None, seed=0, steps=4, bpm=70, tempo_sync=False)


def test_a_stated_tempo_sets_the_beats_the_dance_slows_into(tmp_path):
    """pulse with bpm: the stated tempo and beats tracked at it (a 70 BPM click: one every 0.86 s, not 0.43 s)."""
    import soundfile as sf

    from dance2d.music.features import Baseline35Encoder

    fps = 25.0
    wave, sr = sf.read(click_track(tmp_path / "70.wav", 12.0, bpm=70), dtype="float32")
    onset = Baseline35Encoder().onset_envelope(wave, sr, fps)
    bpm, beats = pulse(onset, fps)
    assert bpm == pytest.approx(140, rel=0.04) and np.median(np.diff(beats)) / fps == pytest.approx(60 / 140, rel=0.05)
    bpm, beats = pulse(onset, fps, 70.0)
    assert bpm == 70.0 and np.median(np.diff(beats)) / fps == pytest.approx(60 / 70, rel=0.05)


def test_playback_slows_into_every_beat_and_keeps_the_average_pace():
    from dance2d.music.drive import playback_positions

    beats = np.arange(20, 480, 10)  # a beat every 10 frames
    pos = playback_positions(500, 1.25, beats, accent=0.5)
    pace = np.diff(pos)
    assert pos[0] == 0 and np.all(pace > 0)  # monotone: the dance never runs backwards
    assert pace[:20] == pytest.approx(np.full(20, 1.25))  # even before the first beat
    on_beat, mid = pace[beats[1:-1]], pace[beats[1:-1] + 5]
    assert on_beat == pytest.approx(np.full(len(on_beat), 1.25 * 0.5)) and mid == pytest.approx(1.25 * 1.5)
    assert pos[480] - pos[20] == pytest.approx(1.25 * 460, rel=1e-3)  # the beats land where even pace puts them
    assert np.allclose(playback_positions(100, 0.8, beats, accent=0.0), np.arange(100) * 0.8)


def test_seams_are_reported_where_the_model_seams_land_in_song_time(tmp_path, reference_pose):
    """With tempo sync and beat accent the model's frames map to song frames unevenly; each reported seam is the
    first song frame whose model position is at or after that segment boundary."""
    from conftest import tiny_config

    from dance2d.pipeline import Dance2D

    model, config = tiny_config()
    config["data"]["home_tempo"] = 100.0
    pipe = Dance2D.from_config(model, config)

    def clock(feats, model_ref, seeds, *args, **kw):  # a stand-in dance whose x is its model frame / 10 000
        n = pipe.plan(len(feats))[2]
        kp = np.repeat(model_ref[None, None], n, 1).repeat(len(seeds), 0).copy()
        kp[..., 0] = (np.arange(n) / 10_000)[None, :, None]
        return kp

    pipe._generate = clock
    [seq] = pipe.generate(click_track(tmp_path / "s.wav", 12.0, bpm=150), reference_pose, steps=1, retarget=False,
                          reframe=False, dynamics=0, keep_in_frame=False)  # x is the clock, not a place
    rate = seq.meta["tempo"]["rate"]
    assert rate == pytest.approx(1.5, rel=0.05)
    model_frame = seq.keypoints[:, 1, 0] * 10_000  # the model frame each song frame shows
    hop = pipe.plan(10_000)[1]
    assert seq.meta["seams"]
    for k, f in enumerate(seq.meta["seams"], start=1):
        boundary = k * hop + pipe.overlap
        assert model_frame[f - 1] < boundary <= model_frame[f] + 1e-6


def test_silent_spans_are_rests_of_a_second_or_more():
    sr, fps = 12800, 25.0
    rng = np.random.default_rng(0)
    music = lambda s, a=0.3: a * rng.standard_normal(int(s * sr))  # noqa: E731
    hush = lambda s: 1e-5 * rng.standard_normal(int(s * sr))  # noqa: E731  (−100 dB: a silent intro, a break)
    # silent 0–3 s; a 0.5 s gap (kept dancing); a passage 20 dB quieter (still music); silent 16.5–18.5 s and
    # 22.5–26.5 s (the end); a DC offset throughout, which is not sound
    wave = np.concatenate([hush(3), music(5), hush(0.5), music(5), music(3, 0.03), hush(2), music(4), hush(4)])
    wave = (wave + 0.2).astype(np.float32)
    n = int(round(len(wave) / sr * fps))
    spans = [(a / fps, b / fps) for a, b in silent_spans(frame_db(wave, sr, fps, n), fps)]
    assert spans == [pytest.approx((0, 3), abs=0.15), pytest.approx((16.5, 18.5), abs=0.15),
                     pytest.approx((22.5, 26.5), abs=0.15)]  # each end moved in by REST_CONTEXT frames
    never = frame_db(music(6).astype(np.float32), sr, fps, 150)  # music that never falls silent
    always = frame_db(np.zeros(6 * sr, np.float32), sr, fps, 150)  # silence throughout: no dance to rest from
    assert silent_spans(never, fps) == [] and silent_spans(always, fps) == []


def test_a_rest_slows_to_a_stop_holds_and_returns_to_the_dance(reference_pose):
    fps = 25.0
    kp = swaying_dance(300)
    out = start_and_rest(kp, kp[0], [(100, 175)], fps, (1, 1), "openpose18", ease_in=0)  # no ease-in: the rest alone
    stop, back = int(REST_EASE_S * fps), 175 + int(REST_RETURN_S * fps)
    assert np.array_equal(out[:100], kp[:100])  # the dance up to the silence
    steps = np.abs(np.diff(out[99:100 + stop + 1, :, :2], axis=0)).max((1, 2))
    assert steps[-1] < 0.02 * steps.max()  # it slows to a stop
    assert np.allclose(out[100 + stop:175], out[100 + stop])  # and stands until the music plays again
    dance_step = np.abs(np.diff(kp[..., :2], axis=0)).max()
    gap = np.abs(kp[100:100 + stop, :, :2] - out[100 + stop, :, :2]).max((1, 2)).min()
    assert gap < dance_step  # in a pose of its own dance, half the slowing's frames on
    assert np.abs(np.diff(out[170:back, :, :2], axis=0)).max() < 1.5 * dance_step  # no jump back into the dance
    assert np.allclose(out[back:], kp[back:])  # then it is the dance again
    lay = (1, 1), "openpose18"  # canvas and layout
    lead = start_and_rest(kp, reference_pose, [(0, 50)], fps, *lay, 1.0)  # a silent intro: the reference pose
    assert np.allclose(lead[:50], reference_pose) and np.allclose(lead[100:], kp[100:])
    eased = start_and_rest(kp, reference_pose, [], fps, *lay, 1.0)  # no rest: the ease-in from the first frame
    assert np.allclose(eased[0], reference_pose) and np.allclose(eased[25:], kp[25:])
    both = start_and_rest(np.stack([kp, kp + 0.01]), kp[0], [(100, 175)], fps, (1, 1), "openpose18", ease_in=0)
    assert np.allclose(both[0], out)  # batches: each dance on its own


def test_generate_rests_through_silence(tmp_path, reference_pose):
    """A song with a silent intro and a silent end: the dancer stands in the reference pose until the music starts,
    dances, and stands still at the end; --no-rest dances through."""
    import soundfile as sf
    from conftest import tiny_config

    from dance2d.pipeline import Dance2D

    model, config = tiny_config()
    pipe = Dance2D.from_config(model, config)

    def sway(feats, model_ref, seeds, *args, **kw):  # a stand-in dance that never stops swaying
        n = pipe.plan(len(feats))[2]
        kp = np.repeat(model_ref[None, None], n, 1).repeat(len(seeds), 0).copy()
        kp[..., 0] += 0.02 * np.sin(np.arange(n) / 3.0)[None, :, None]
        return kp

    pipe._generate = sway
    sr = 22050
    rng = np.random.default_rng(0)
    wave = np.concatenate([np.zeros(2 * sr), 0.3 * rng.standard_normal(6 * sr), np.zeros(3 * sr)]).astype(np.float32)
    sf.write(tmp_path / "song.wav", wave, sr)
    opts = dict(steps=1, retarget=False, reframe=False, dynamics=0, tempo_sync=False)
    t0 = time.perf_counter()
    with pytest.warns(Dance2DNotice, match=r"song.wav is silent at 0.0–1.9 s, 8.1–11.0 s: the dancer stands still"):
        [seq] = pipe.generate(tmp_path / "song.wav", reference_pose, **opts)
    assert 0 < pipe.timings["music"] < time.perf_counter() - t0  # a time, not one offset by the song's start
    (a0, b0), (a1, b1) = seq.meta["rests"]
    assert a0 == 0 and b0 == pytest.approx(2, abs=0.15) and a1 == pytest.approx(8, abs=0.15) and b1 == 11
    kp = seq.keypoints
    assert np.allclose(kp[:round(b0 * 25)], reference_pose, atol=1e-6)
    assert np.abs(np.diff(kp[60:190, :, 0], axis=0)).max() > 1e-3  # it dances while the music plays
    still = kp[round(a1 * 25) + round(REST_EASE_S * 25):]
    assert np.allclose(still, still[0])
    [through] = pipe.generate(tmp_path / "song.wav", reference_pose, rest=False, **opts)
    assert through.meta["rests"] == [] and np.abs(np.diff(through.keypoints[-50:, :, 0], axis=0)).max() > 1e-3
