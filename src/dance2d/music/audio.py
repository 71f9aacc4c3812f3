"""Audio loading for any common format: float32 mono waveform, optionally resampled (paper §3, music input)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dance2d.errors import Dance2DError

AudioSource = str | os.PathLike | tuple[np.ndarray, float]

SILENCE_PEAK = 1e-4  # a waveform whose absolute peak is below this is treated as silent
_FORMATS_HINT = "WAV, FLAC, OGG, MP3 or M4A"


def _name(source: AudioSource) -> str:
    """Human-readable name of an audio source for error messages."""
    return "the waveform passed in" if isinstance(source, tuple) else f"audio file {str(source)!r}"


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    """Decode with libsndfile: returns (channels, n) float32 and the sample rate."""
    import soundfile as sf  # imported here: training on a machine without libsndfile never decodes audio

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (n, channels)
    return np.ascontiguousarray(data.T), int(rate)


def _decode_pyav(path: Path) -> tuple[np.ndarray, int]:
    """Decode the first audio stream with FFmpeg (PyAV): returns (channels, n) float32 and the sample rate."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate)
        # Planar float keeps the channels apart so the mix-down below matches the libsndfile path.
        resampler = av.AudioResampler(format="fltp", rate=rate)
        chunks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())  # (channels, n)
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks:
        return np.zeros((1, 0), np.float32), rate
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False), rate


def _decode_file(path: Path) -> tuple[np.ndarray, int]:
    """Decode a file with libsndfile, falling back to FFmpeg for formats libsndfile cannot read (m4a/aac, ...)."""
    if not path.exists():
        raise Dance2DError(f"Audio file {str(path)!r} does not exist; check the path.")
    if not path.is_file():
        raise Dance2DError(f"Audio path {str(path)!r} is not a file; pass an audio file ({_FORMATS_HINT}).")
    # libsndfile's mp3 decoder prints "Illegal Audio-MPEG-Header" notes on stderr for corrupt files:
    # FFmpeg decodes mp3 (and m4a/aac) quietly, so those go to PyAV directly.
    if path.suffix.lower() not in (".mp3", ".m4a", ".aac", ".mp4"):
        import soundfile as sf

        try:
            return _decode_soundfile(path)
        except (sf.SoundFileError, RuntimeError, ValueError, TypeError):
            pass
    try:
        return _decode_pyav(path)
    except Exception as err:  # FFmpeg raises many error types for corrupt or non-audio input
        raise Dance2DError(
            f"Could not decode audio file {str(path)!r} ({type(err).__name__}: {err}); "
            f"check that it is a valid, uncorrupted audio file or convert it to {_FORMATS_HINT}."
        ) from err


def resample(wave: np.ndarray, sr_in: float, sr_out: float) -> np.ndarray:
    """Resample a mono waveform with soxr (high quality); rates may be non-integer (e.g. 29.97 · 512)."""
    if sr_in == sr_out:
        return wave
    import soxr

    return soxr.resample(wave, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def _check_rate(sr: float, what: str) -> None:
    """Raise a Dance2DError unless sr is a positive finite sample rate."""
    if not (isinstance(sr, (int, float, np.integer, np.floating)) and np.isfinite(sr) and sr > 0):
        raise Dance2DError(f"Sample rate {sr!r} of {what} is invalid; use a positive number such as 22050.")


def load_audio(
    source: AudioSource, sr: int | None = None, *, min_seconds: float = 1.0
) -> tuple[np.ndarray, int]:
    """Load a path or a (waveform, sample_rate) pair as a float32 mono waveform, resampled to sr if given."""
    name = _name(source)
    if isinstance(source, tuple):
        if len(source) != 2:
            raise Dance2DError("An in-memory audio source must be a (waveform, sample_rate) pair.")
        data, rate = np.asarray(source[0]), source[1]
        _check_rate(rate, name)
        if data.ndim == 1:
            data = data[None]  # (1, n)
        elif data.ndim == 2:
            # Accept (n, channels) or (channels, n): the time axis is the longer one.
            data = data.T if data.shape[0] > data.shape[1] else data  # (channels, n)
        else:
            raise Dance2DError(f"Waveform of shape {data.shape} is not audio; pass (n,) or (n, channels).")
        if not np.issubdtype(data.dtype, np.number):
            raise Dance2DError(f"Waveform of dtype {data.dtype} is not audio; pass a numeric array.")
        data = data.astype(np.float32, copy=False)
    else:
        data, rate = _decode_file(Path(source))
    if data.size == 0:
        raise Dance2DError(f"The {name} contains no audio samples; use a file with sound in it.")
    if not np.all(np.isfinite(data)):
        raise Dance2DError(f"The {name} contains NaN or infinite samples; re-export it as ordinary audio.")
    wave = data.mean(axis=0) if data.shape[0] > 1 else data[0]  # (n,) mix-down = mean of channels
    if float(np.max(np.abs(wave))) < SILENCE_PEAK:
        raise Dance2DError(f"The {name} is silent (peak below {SILENCE_PEAK:g}); use music with audible sound.")
    seconds = wave.shape[0] / float(rate)
    if seconds < min_seconds:
        raise Dance2DError(
            f"The {name} lasts {seconds:.2f} s, shorter than the {min_seconds:g} s minimum; use longer music."
        )
    if sr is None and float(rate) != round(float(rate)):
        sr = round(float(rate))  # a non-integer input rate (e.g. 15344.64 Hz) is resampled to the nearest Hz
    if sr is not None:
        _check_rate(sr, "the requested output")
        wave = resample(wave, float(rate), float(sr))
        rate = sr
    return np.ascontiguousarray(wave, dtype=np.float32), int(rate)


def audio_duration(source: AudioSource) -> float:
    """Duration in seconds of a path or (waveform, sample_rate) pair, read from the header when possible."""
    if isinstance(source, tuple):
        data, rate = np.asarray(source[0]), source[1]
        _check_rate(rate, _name(source))
        return (max(data.shape) if data.ndim else 0) / float(rate)
    path = Path(source)
    if path.is_file():
        import soundfile as sf

        try:
            info = sf.info(str(path))
            return info.frames / float(info.samplerate)
        except (sf.SoundFileError, RuntimeError, ValueError, TypeError):
            pass
    data, rate = _decode_file(path)  # raises a Dance2DError for missing or undecodable files
    return data.shape[1] / float(rate)
