"""Latent codecs (paper §3): one-hot pose images X (B, C, W, T) <-> latent grids Z, behind one interface."""

from dance2d.codec.base import CODEC_NAMES, Codec, get_codec

__all__ = ["CODEC_NAMES", "Codec", "get_codec"]
