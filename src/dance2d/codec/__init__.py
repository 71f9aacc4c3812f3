"""Latent codecs (paper §3): pose images X (B, C, W, T) <-> latent grids Z, behind one interface, registered by name.

Adding a codec: a Codec subclass in its own module (its pose image, encode, decode) and one entry in CODECS.
"""

from __future__ import annotations

from dance2d.codec.base import Codec, fast_dtype
from dance2d.codec.raw import RawCodec
from dance2d.codec.sd import SDCodec
from dance2d.codec.taef2 import TAEF2Codec
from dance2d.errors import Dance2DError

CODECS: dict[str, type[Codec]] = {c.name: c for c in (TAEF2Codec, RawCodec, SDCodec)}
CODEC_NAMES = tuple(CODECS)  # names accepted by `get_codec`


def codec_class(name: str) -> type[Codec]:
    """The codec class registered under `name` (its image geometry is known without loading weights)."""
    if name not in CODECS:
        raise Dance2DError(f"Unknown codec '{name}'; valid names are: {', '.join(CODEC_NAMES)}.")
    return CODECS[name]


def get_codec(name: str, **kw) -> Codec:
    """Build a frozen codec by registry name; keyword arguments go to its constructor."""
    return codec_class(name)(**kw)


__all__ = ["CODECS", "CODEC_NAMES", "Codec", "codec_class", "fast_dtype", "get_codec"]
