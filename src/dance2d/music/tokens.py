"""Music tokens: one token per latent column, so L = T' and token j shares time index j (paper §3, Eq. pos).

frames_per_token is the codec's time stride (8 for TAEF2 and SD, 1 for raw), read from the data config.
"""

from __future__ import annotations

import math

import numpy as np

from dance2d.errors import Dance2DError


def _check_fpt(frames_per_token: int) -> None:
    """Raise unless frames_per_token is a positive integer."""
    if not (isinstance(frames_per_token, (int, np.integer)) and frames_per_token > 0):
        raise Dance2DError(f"frames_per_token={frames_per_token!r} is invalid; use a positive integer "
                           "(the codec's time stride).")


def num_tokens(n_frames: int, frames_per_token: int) -> int:
    """Number of music tokens L = ceil(T / frames_per_token) (= T' for the latent grid)."""
    _check_fpt(frames_per_token)
    return math.ceil(n_frames / frames_per_token)


def pack_tokens(features, frames_per_token: int):
    """Pack frame features (..., T, D) into tokens (..., ceil(T/fpt), fpt·D); token j = frames fpt·j..fpt·j+fpt-1.

    Works for numpy arrays and torch tensors, unbatched (T, D) or batched (B, T, D). The tail is zero-padded
    to a whole token; frames are concatenated in time order inside a token.
    """
    _check_fpt(frames_per_token)
    if features.ndim < 2:
        raise Dance2DError(f"Features of shape {tuple(features.shape)} need a (T, D) or (B, T, D) shape.")
    *lead, n_frames, dim = features.shape
    n_tok = num_tokens(n_frames, frames_per_token)
    pad = n_tok * frames_per_token - n_frames
    if pad:
        if isinstance(features, np.ndarray):
            zeros = np.zeros((*lead, pad, dim), dtype=features.dtype)
            features = np.concatenate([features, zeros], axis=-2)  # (..., T'·fpt, D)
        else:
            import torch

            zeros = features.new_zeros((*lead, pad, dim))
            features = torch.cat([features, zeros], dim=-2)  # (..., T'·fpt, D)
    return features.reshape(*lead, n_tok, frames_per_token * dim)  # (..., T', fpt·D)


def time_stretch(wave: np.ndarray, sr: float, rate: float, method: str = "phase_vocoder") -> np.ndarray:
    """Tempo augmentation: play a mono waveform rate× faster (rate > 1 = faster, shorter; ~len/rate samples).

    method="phase_vocoder" keeps the pitch (librosa phase vocoder, window ≈ 93 ms at any sr);
    method="resample" changes pitch with tempo, like playing a record faster, and keeps transients sharp.
    """
    if not (np.isfinite(rate) and rate > 0):
        raise Dance2DError(f"Time-stretch rate {rate!r} is invalid; use a positive number (1.1 = 10% faster).")
    if not (np.isfinite(sr) and sr > 0):
        raise Dance2DError(f"Sample rate {sr!r} is invalid; use a positive number such as 22050.")
    wave = np.asarray(wave, dtype=np.float32)
    if rate == 1.0:
        return wave.copy()
    if method == "resample":
        from dance2d.music.audio import resample

        return resample(wave, float(sr), float(sr) / rate)  # (≈ n / rate,)
    if method == "phase_vocoder":
        import librosa

        n_fft = 2 ** max(8, round(math.log2(sr * 2048 / 22050)))  # 2048 at 22.05 kHz, scaled with sr
        out = librosa.effects.time_stretch(wave, rate=rate, n_fft=n_fft)  # (≈ n / rate,)
        return out.astype(np.float32, copy=False)
    raise Dance2DError(f"Unknown time-stretch method {method!r}; use 'phase_vocoder' or 'resample'.")
