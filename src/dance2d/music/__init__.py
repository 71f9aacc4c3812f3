"""Music: audio loading, frame-aligned features, beats and token packing (paper §3)."""

from dance2d.music.audio import audio_duration, load_audio, resample
from dance2d.music.drive import tempo_bpm
from dance2d.music.features import (
    FEATURE_DIM,
    FEATURE_NAMES,
    Baseline35Config,
    Baseline35Encoder,
    MusicEncoder,
    available_music_encoders,
    beat_times,
    extract_features,
    frame_count,
    get_music_encoder,
    register_music_encoder,
)
from dance2d.music.tokens import num_tokens, pack_tokens, time_stretch

__all__ = [
    "FEATURE_DIM",
    "FEATURE_NAMES",
    "Baseline35Config",
    "Baseline35Encoder",
    "MusicEncoder",
    "audio_duration",
    "available_music_encoders",
    "beat_times",
    "extract_features",
    "frame_count",
    "get_music_encoder",
    "load_audio",
    "num_tokens",
    "pack_tokens",
    "register_music_encoder",
    "resample",
    "tempo_bpm",
    "time_stretch",
]
