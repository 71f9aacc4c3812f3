"""Audio loading for any common format: float32 mono waveform, optionally resampled (paper §3, music input)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dance2d.errors import Dance2DError

AudioSource = str | os.PathLike | tuple[np.ndarray, float]

SILENCE_PEAK = 1e-4  # a waveform whose peak distance from its mean (DC offset) is below this is treated as silent
TRUNCATION_TOLERANCE_S = 0.5  # decoded audio this much (or 1 %) shorter than the header claims is reported
_FORMATS_HINT = "WAV, FLAC, OGG, MP3 or M4A"
_FFMPEG_FIRST = (".mp3", ".m4a", ".aac", ".mp4")  # decoded with FFmpeg directly (libsndfile is noisy on them)


def _name(source: AudioSource) -> str:
    """Human-readable name of an audio source for error messages."""
    return "the waveform passed in" if isinstance(source, tuple) else f"audio file {str(source)!r}"


def _wav_claim(path: Path) -> float | None:
    """Seconds a WAV file's header claims for its data chunk when the file is shorter than that, else None
    (libsndfile silently reports the length that is present)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size_on_disk, rate, align = path.stat().st_size, None, None
            while True:
                ch = f.read(8)
                if len(ch) < 8:
                    return None
                cid, n = ch[:4], struct.unpack("<I", ch[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(min(n, 16))
                    if len(fmt) < 16:
                        return None
                    rate, align = struct.unpack("<I", fmt[4:8])[0], struct.unpack("<H", fmt[12:14])[0]
                    f.seek(n - 16 + (n & 1), 1)
                elif cid == b"data":
                    present = size_on_disk - f.tell()
                    if rate and align and n not in (0, 0xFFFFFFFF) and present < n:
                        return n / align / rate
                    return None
                else:
                    f.seek(n + (n & 1), 1)
    except (OSError, struct.error):
        return None


def _decode_soundfile(path: Path, info: dict | None = None) -> tuple[np.ndarray, int]:
    """Decode with libsndfile, mixing down block by block: returns (1, n) float32 mono and the sample rate."""
    import soundfile as sf  # imported here: training on a machine without libsndfile never decodes audio

    parts = []
    with sf.SoundFile(str(path)) as f:
        rate = int(f.samplerate)
        for block in f.blocks(blocksize=1 << 18, dtype="float32", always_2d=True):  # (n, channels)
            parts.append(block.mean(axis=1) if block.shape[1] > 1 else block[:, 0].copy())
    if info is not None:
        info["claimed"] = _wav_claim(path)
    wave = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return wave[None], rate


def _decode_pyav(path: Path, info: dict | None = None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream with FFmpeg (PyAV), mixing down frame by frame: returns (1, n) float32 mono
    and the sample rate. A decoding error after some audio keeps that audio and is noted in `info["error"]`."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate)
        claimed = None
        if stream.duration and stream.time_base:
            claimed = float(stream.duration * stream.time_base)
        elif container.duration:
            claimed = container.duration / 1e6
        # Planar float keeps the channels apart so the mix-down below matches the libsndfile path.
        resampler = av.AudioResampler(format="fltp", rate=rate)
        chunks, n = [], 0

        def add(frames) -> None:
            nonlocal n
            for out in frames:
                a = out.to_ndarray()  # (channels, n)
                chunks.append(a.mean(axis=0) if a.shape[0] > 1 else a[0].copy())
                n += a.shape[1]

        try:
            for frame in container.decode(stream):
                add(resampler.resample(frame))
        except (av.error.FFmpegError, EOFError) as e:  # damaged or cut short: keep what decoded, if anything
            if not n:
                raise
            if info is not None:
                info["error"] = f"{type(e).__name__}"
        add(resampler.resample(None))
    if info is not None:
        info["claimed"] = claimed
    if not chunks:
        return np.zeros((1, 0), np.float32), rate
    return np.concatenate(chunks).astype(np.float32, copy=False)[None], rate


def _decode_file(path: Path, info: dict | None = None) -> tuple[np.ndarray, int]:
    """Decode a file with libsndfile, falling back to FFmpeg for formats libsndfile cannot read (m4a/aac, ...).
    Returns (1, n) mono; `info` receives the duration the container claims ("claimed") and a late decoding
    error ("error"), if any."""
    if not path.exists():
        raise Dance2DError(f"Audio file {str(path)!r} does not exist; check the path.")
    if not path.is_file():
        raise Dance2DError(f"Audio path {str(path)!r} is not a file; pass an audio file ({_FORMATS_HINT}).")
    # libsndfile's mp3 decoder prints "Illegal Audio-MPEG-Header" notes on stderr for corrupt files:
    # FFmpeg decodes mp3 (and m4a/aac) quietly, so those go to PyAV directly.
    if path.suffix.lower() not in _FFMPEG_FIRST:
        import soundfile as sf

        try:
            return _decode_soundfile(path, info)
        except (sf.SoundFileError, RuntimeError, ValueError, TypeError):
            pass
    try:
        return _decode_pyav(path, info)
    except Exception as err:  # FFmpeg raises many error types for corrupt or non-audio input
        raise Dance2DError(
            f"Could not decode audio file {str(path)!r} ({type(err).__name__}: {err}); "
            f"check that it is a valid, uncorrupted audio file or convert it to {_FORMATS_HINT}."
        ) from err


def _note_truncation(name: str, decoded: float, info: dict) -> None:
    """Tell the user when a file decodes to less than its container claims (truncated or damaged)."""
    from dance2d.errors import notice

    claimed = info.get("claimed")
    if claimed and decoded < claimed - max(TRUNCATION_TOLERANCE_S, 0.01 * claimed):
        notice(f"The {name} decodes to {decoded:.1f} s but its header says {claimed:.1f} s; it is probably "
               f"truncated or damaged, so the dance covers only the {decoded:.1f} s that decode.")
    elif info.get("error"):
        notice(f"Decoding the {name} stopped early ({info['error']}) after {decoded:.1f} s; it is probably "
               "damaged, so the dance covers only what decoded.")


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
        info: dict = {}
        data, rate = _decode_file(Path(source), info)
        _note_truncation(name, data.shape[1] / float(rate), info)
    if data.size == 0:
        raise Dance2DError(f"The {name} contains no audio samples; use a file with sound in it.")
    if not np.all(np.isfinite(data)):
        raise Dance2DError(f"The {name} contains NaN or infinite samples; re-export it as ordinary audio.")
    wave = data.mean(axis=0) if data.shape[0] > 1 else data[0]  # (n,) mix-down = mean of channels
    del data
    # Silence is judged without the DC offset: a constant (or nearly constant) signal makes no sound.
    dc = float(np.mean(wave, dtype=np.float64))
    if max(float(wave.max()) - dc, dc - float(wave.min())) < SILENCE_PEAK:
        raise Dance2DError(f"The {name} is silent (no sound above {SILENCE_PEAK:g} once its DC offset of {dc:.3g} "
                           "is removed); use music with audible sound.")
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
        try:
            import av

            with av.open(str(path)) as container:
                if container.duration and container.streams.audio:
                    return container.duration / 1e6
        except Exception:  # FFmpeg raises many error types; decoding below reports them properly
            pass
    data, rate = _decode_file(path)  # raises a Dance2DError for missing or undecodable files
    return data.shape[1] / float(rate)


def header_duration(path: str | os.PathLike) -> float | None:
    """Seconds a file's header claims (no decoding; None if it says nothing or cannot be read): for estimates made
    before the music is decoded, such as the free disk space a dance needs."""
    path = Path(path)
    if not path.is_file():
        return None
    if path.suffix.lower() not in _FFMPEG_FIRST:
        import soundfile as sf

        try:
            info = sf.info(str(path))
            return info.frames / float(info.samplerate) if info.samplerate else None
        except (sf.SoundFileError, RuntimeError, ValueError, TypeError):
            pass
    try:
        import av

        with av.open(str(path)) as container:
            return container.duration / 1e6 if container.duration and container.streams.audio else None
    except Exception:  # FFmpeg raises many error types; decoding reports them properly later
        return None
