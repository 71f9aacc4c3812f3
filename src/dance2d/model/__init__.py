"""Pose DiT: config presets, 3D RoPE, embedders and the joint-attention transformer (paper §3)."""

from dance2d.model.config import PRESETS, DiTConfig, make_config
from dance2d.model.dit import DiT, count_parameters
from dance2d.model.embed import MusicEmbedder, TimestepEmbedder
from dance2d.model.rope import Rope3D, apply_rope, music_positions, pose_positions

__all__ = [
    "PRESETS",
    "DiT",
    "DiTConfig",
    "MusicEmbedder",
    "Rope3D",
    "TimestepEmbedder",
    "apply_rope",
    "count_parameters",
    "make_config",
    "music_positions",
    "pose_positions",
]
