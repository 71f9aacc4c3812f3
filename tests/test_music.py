"""Tests for dance2d.music: loading, frame-aligned features, beats, token packing, tempo stretching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SHARED, needs_shared

from dance2d.errors import Dance2DError
from dance2d.music import (
    FEATURE_DIM,
    FEATURE_NAMES,
    audio_duration,
    beat_times,
    extract_features,
    frame_count,
    get_music_encoder,
    load_audio,
    pack_tokens,
    tempo_bpm,
    time_stretch,
)
from dance2d.music.audio import _decode_pyav

SR = 22050
REAL_120BPM = SHARED / "music" / "lmms_beats" / "electro_beat01.ogg"


def click_track(times, seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Short decaying noise bursts starting at the given times (seconds) on a quiet noise floor."""
    rng = np.random.default_rng(seed)
    wave = (1e-3 * rng.standard_normal(int(round(seconds * sr)))).astype(np.float32)
    n = int(0.03 * sr)
    burst = (0.5 * rng.standard_normal(n) * np.exp(-np.arange(n) / (0.003 * sr))).astype(np.float32)
    for t in times:
        i = int(round(t * sr))
        seg = burst[: max(0, len(wave) - i)]
        wave[i : i + len(seg)] += seg
    return wave


def tone(seconds: float, sr: int = SR, freq: float = 440.0) -> np.ndarray:
    """A sine tone at amplitude 0.3."""
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(round(seconds * sr))) / sr)).astype(np.float32)


def write_pyav(path: Path, wave: np.ndarray, sr: int, codec: str) -> None:
    """Encode a mono waveform with FFmpeg (PyAV), e.g. mp3 (libmp3lame) or m4a (aac)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout="mono")
        frame = av.AudioFrame.from_ndarray(wave[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.fixture(scope="module")
def beat_clicks():
    """A 120 BPM click track: clicks every 0.5 s from 0.5 s, 8.3 s long."""
    times = np.arange(0.5, 8.0, 0.5)
    return times, click_track(times, 8.3)


# ---------------------------------------------------------------- features


def test_feature_names_and_dim():
    assert len(FEATURE_NAMES) == FEATURE_DIM == 35 == len(set(FEATURE_NAMES))
    assert get_music_encoder("baseline35").feature_dim == FEATURE_DIM
    with pytest.raises(Dance2DError, match="nope"):
        get_music_encoder("nope")


@pytest.mark.parametrize("fps", [25, 30, 24, 29.97])
@pytest.mark.parametrize("seconds", [2.0137, 3.3333, 1.51])
def test_feature_rows_equal_rounded_duration(fps, seconds):
    wave = click_track([0.3, 1.0], seconds)
    feats = extract_features(wave, SR, fps)
    assert feats.shape == (round(len(wave) / SR * fps), FEATURE_DIM)
    assert feats.shape[0] == frame_count(len(wave), SR, fps)
    assert feats.dtype == np.float32 and np.all(np.isfinite(feats))
    assert set(np.unique(feats[:, -2:])) <= {0.0, 1.0}


@pytest.mark.parametrize("fps", [25, 30, 24])
def test_onset_and_beat_columns_line_up_with_clicks(beat_clicks, fps):
    times, wave = beat_clicks
    feats = extract_features(wave, SR, fps)
    for col in (FEATURE_NAMES.index("onset_peak"), FEATURE_NAMES.index("beat")):
        marked = np.nonzero(feats[:, col])[0]
        # every click has a marked frame within ±1 frame of time·fps
        for t in times:
            assert np.min(np.abs(marked - t * fps)) <= 1.0, (col, t, marked / fps)
    # the onset envelope peaks at the clicks too
    env = feats[:, FEATURE_NAMES.index("onset_envelope")]
    near = np.zeros(len(env), bool)
    for t in times:
        near[max(0, int(t * fps) - 1) : int(t * fps) + 3] = True
    assert env[near].mean() > 5 * env[~near].mean()


def test_beat_times_and_tempo_of_120bpm_clicks(beat_clicks):
    times, wave = beat_clicks
    beats = beat_times(wave, SR, 30)
    assert len(beats) >= len(times) - 2
    assert np.allclose(np.diff(beats), 0.5, atol=1.01 / 30)
    assert all(np.min(np.abs(times - b)) <= 1.01 / 30 for b in beats)
    assert tempo_bpm(wave, SR) == pytest.approx(120, rel=0.02)


def test_tempo_bpm_is_the_tempo_the_tool_dances_at():
    """Octaves fold into the range dancers step in; a pulse-less signal has no tempo."""
    slow = np.arange(0.5, 12.0, 60 / 70)  # 70 BPM: danced at double time
    assert tempo_bpm(click_track(slow, 12.3), SR) == pytest.approx(140, rel=0.02)
    fast = np.arange(0.5, 8.0, 60 / 200)  # 200 BPM: danced at half time
    assert tempo_bpm(click_track(fast, 8.3), SR) == pytest.approx(100, rel=0.02)
    assert tempo_bpm(np.zeros(SR * 5, np.float32), SR) is None


def test_onset_envelope_alone_is_the_feature_column(beat_clicks):
    """tempo_bpm computes only the onset column, and it is the one the full features (and tempo sync) read."""
    _, wave = beat_clicks
    encoder = get_music_encoder()
    env = encoder.onset_envelope(wave, SR, 25)
    np.testing.assert_allclose(env, extract_features(wave, SR, 25)[:, encoder.onset_column], rtol=1e-5, atol=1e-6)


def test_features_invariant_to_input_sample_rate(beat_clicks):
    _, wave = beat_clicks
    a = extract_features(wave, SR, 30)
    b = extract_features(load_audio((wave, SR), sr=44100)[0], 44100, 30)
    assert a.shape == b.shape
    onehot = slice(FEATURE_DIM - 2, FEATURE_DIM)
    assert np.array_equal(a[:, onehot], b[:, onehot])
    assert np.allclose(a[:, 1:21], b[:, 1:21], atol=2.0)  # MFCC, dB-like scale


def test_bad_feature_inputs():
    with pytest.raises(Dance2DError, match="mono"):
        extract_features(np.zeros((2, 1000), np.float32), SR, 30)
    with pytest.raises(Dance2DError, match="fps"):
        extract_features(tone(1.0), SR, 0)
    with pytest.raises(Dance2DError, match="NaN"):
        extract_features(np.full(SR, np.nan, np.float32), SR, 30)


@needs_shared("music", "lmms_beats", "electro_beat01.ogg")
def test_real_120bpm_loop_tempo():
    wave, sr = load_audio(REAL_120BPM)
    bpm = tempo_bpm(wave, sr)
    assert abs(bpm - 120) < 3, bpm
    beats = beat_times(wave, sr, 30)
    period = 60 / bpm
    assert np.allclose(np.diff(beats), period, atol=1.01 / 30)


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize("n_frames", [16, 17, 23, 5])
def test_pack_tokens_numpy(n_frames):
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((n_frames, 3)).astype(np.float32)
    tokens = pack_tokens(feats, 8)
    assert tokens.shape == (-(-n_frames // 8), 24)
    for j in range(tokens.shape[0]):
        block = tokens[j].reshape(8, 3)
        frames = feats[8 * j : 8 * j + 8]
        assert np.array_equal(block[: len(frames)], frames)
        assert np.all(block[len(frames) :] == 0)  # zero-padded tail


def test_pack_tokens_torch_batched_matches_numpy():
    feats = torch.randn(2, 19, 5)
    tokens = pack_tokens(feats, 4)
    assert isinstance(tokens, torch.Tensor) and tokens.shape == (2, 5, 20)
    for b in range(2):
        assert np.array_equal(tokens[b].numpy(), pack_tokens(feats[b].numpy(), 4))
    with pytest.raises(Dance2DError):
        pack_tokens(feats, 0)


# ---------------------------------------------------------------- tempo stretch


@pytest.mark.parametrize("method", ["phase_vocoder", "resample"])
@pytest.mark.parametrize("rate", [1.25, 0.8])
def test_time_stretch_scales_length_and_tempo(method, rate):
    times = np.arange(0.5, 6.0, 0.5)
    wave = click_track(times, 6.3)
    out = time_stretch(wave, SR, rate, method=method)
    assert out.dtype == np.float32
    assert abs(len(out) - len(wave) / rate) <= 0.01 * SR
    beats = beat_times(out, SR, 30)
    assert np.median(np.diff(beats)) == pytest.approx(0.5 / rate, abs=1.01 / 30)
    with pytest.raises(Dance2DError):
        time_stretch(wave, SR, -1.0)


# ---------------------------------------------------------------- loading


def test_load_formats_same_length(tmp_path):
    wave = tone(2.0)
    sf.write(tmp_path / "a.wav", wave, SR)
    sf.write(tmp_path / "a.flac", wave, SR)
    sf.write(tmp_path / "a.ogg", wave, SR, format="OGG", subtype="VORBIS")
    write_pyav(tmp_path / "a.mp3", wave, SR, "libmp3lame")
    write_pyav(tmp_path / "a.m4a", wave, SR, "aac")
    for name, tol in [("a.wav", 0), ("a.flac", 0), ("a.ogg", 0.01), ("a.mp3", 0.06), ("a.m4a", 0.1)]:
        loaded, sr = load_audio(tmp_path / name)
        assert sr == SR and loaded.dtype == np.float32 and loaded.ndim == 1, name
        assert abs(len(loaded) / SR - 2.0) <= tol, (name, len(loaded) / SR)
        assert abs(audio_duration(tmp_path / name) - 2.0) <= tol, name
        assert np.max(np.abs(loaded)) == pytest.approx(0.3, abs=0.05), name
    # the FFmpeg fallback decodes what libsndfile decodes
    via_av, sr_av = _decode_pyav(tmp_path / "a.mp3")
    assert sr_av == SR and abs(via_av.shape[1] - len(load_audio(tmp_path / "a.mp3")[0])) <= 0.06 * SR


def test_stereo_mixdown_and_resampling(tmp_path):
    left, right = tone(1.5, freq=440), tone(1.5, freq=660)
    sf.write(tmp_path / "st.wav", np.stack([left, right], axis=1), SR)
    mono, sr = load_audio(tmp_path / "st.wav")
    assert mono.ndim == 1 and np.allclose(mono, (left + right) / 2, atol=1e-4)
    tup, _ = load_audio((np.stack([left, right]), SR))  # (channels, n) in memory
    assert np.allclose(tup, mono, atol=1e-4)  # the wav holds 16-bit PCM
    res, sr16 = load_audio(tmp_path / "st.wav", sr=16000)
    assert sr16 == 16000 and abs(len(res) - 1.5 * 16000) <= 1
    spectrum = np.abs(np.fft.rfft(res))
    freqs = np.fft.rfftfreq(len(res), 1 / 16000)
    top2 = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top2 == pytest.approx([440, 660], abs=2)


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Files that must be refused, with a word the error must contain."""
    (tmp / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    (tmp / "notes.mp3").write_text("this is not audio\n")
    sf.write(tmp / "empty.wav", np.zeros(0, np.float32), SR)
    sf.write(tmp / "silent.wav", np.zeros(SR * 2, np.float32), SR)
    sf.write(tmp / "short.wav", tone(0.5), SR)
    nan = tone(2.0)
    nan[100] = np.nan
    sf.write(tmp / "nan.wav", nan, SR, subtype="FLOAT")
    return {
        "missing": (tmp / "missing.wav", "does not exist"),
        "corrupt": (tmp / "corrupt.wav", "decode"),
        "unsupported": (tmp / "notes.mp3", "decode"),
        "empty": (tmp / "empty.wav", "no audio"),
        "silent": (tmp / "silent.wav", "silent"),
        "short": (tmp / "short.wav", "shorter"),
        "nan": (tmp / "nan.wav", "NaN"),
        "directory": (tmp, "not a file"),
    }


def test_bad_inputs_raise_clear_errors(tmp_path):
    for kind, (path, word) in _bad_files(tmp_path).items():
        with pytest.raises(Dance2DError) as info:
            load_audio(path)
        message = str(info.value)
        assert path.name in message and word in message, (kind, message)
    with pytest.raises(Dance2DError, match="silent"):
        load_audio((np.zeros(SR * 2, np.float32), SR))
    with pytest.raises(Dance2DError, match="Sample rate"):
        load_audio((tone(2.0), 0))
    assert load_audio(tmp_path / "short.wav", min_seconds=0.25)[0].shape == (SR // 2,)


def test_edge_settings_reproduce_the_librosa_recipe(beat_clicks):
    import librosa

    from dance2d.music.features import Baseline35Config, Baseline35Encoder

    _, wave = beat_clicks
    fps = 30
    x = load_audio((wave, SR), sr=fps * 512)[0]  # already at the feature rate: no resampling inside
    edge = Baseline35Config(onset_advance=0.0, beat_subdivision=1, beat_advance=0.0, tempo_window_s=8.0)
    feats = Baseline35Encoder(edge)(x, fps * 512, fps)
    n = feats.shape[0]
    env = librosa.onset.onset_strength(y=x, sr=fps * 512)[:n]
    assert np.allclose(feats[:, 0], env, atol=1e-4)
    assert np.allclose(feats[:, 1:21], librosa.feature.mfcc(y=x, sr=fps * 512, n_mfcc=20).T[:n], atol=1e-3)
    assert np.allclose(feats[:, 21:33], librosa.feature.chroma_cens(y=x, sr=fps * 512).T[:n], atol=1e-5)
    peaks = librosa.onset.onset_detect(onset_envelope=env, sr=fps * 512)
    assert np.array_equal(np.nonzero(feats[:, 33])[0], peaks[peaks < n])
