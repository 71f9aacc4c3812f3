"""Raw codec: no VAE, the paper's "thin image" ablation (§4.2); the latent is the pose image itself, affinely scaled."""

from __future__ import annotations

from torch import Tensor

from dance2d.codec.base import Codec
from dance2d.errors import Dance2DError

# Thin images hold coordinates in [0, 1]; on the AIST++ 2D keypoints normalised to the 1920×1080 frame,
# x has mean 0.50 / std 0.05 and y mean 0.55 / std 0.11, so (v - 0.5) / 0.1 gives roughly unit variance.
UNIT_SHIFT = 0.5  # subtracted before scaling
UNIT_SCALE = 0.1  # divisor after the shift


class RawCodec(Codec):
    """Identity codec over thin images X (B, C, 1, T): Z = (X - shift) / scale, C latent channels (§4.2 ablation)."""

    name = "raw"
    time_stride = 1
    width_stride = 1

    def __init__(self, shift: float = UNIT_SHIFT, scale: float = UNIT_SCALE):
        super().__init__()
        if not scale > 0:
            raise Dance2DError(f"The raw codec scale must be positive, got scale={scale}.")
        self.shift = float(shift)  # value mapped to latent 0
        self.scale = float(scale)  # value range mapped to one latent unit
        self.freeze()

    def latent_channels(self, C: int) -> int:
        """One latent channel per pose channel."""
        return C

    def _encode(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale  # (B, C, W, T)

    def _decode(self, z: Tensor, C: int) -> Tensor:
        return z * self.scale + self.shift  # (B, C, W, T)
