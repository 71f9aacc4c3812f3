"""Raw codec: no VAE, the paper's "thin image" ablation (§4.2); the latent is the pose image itself, affinely scaled."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from dance2d.codec.base import Codec, stable_presence
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
    uses_sigma = False  # coordinates, not Gaussians: the σ a cache records does not change the image
    # A torso joint's confidence channel is +5 in all but ~2 frames in 10⁴ (the dancer crossing the canvas edge), so
    # its std is 0.026–0.096 and such a frame was a 240–390 σ target: single batches at 10× the usual loss. Floored at
    # 0.5 it is 20 σ, and a generated torso joint still needs x̂ ≈ −10 to vanish (docs/decisions.md "Latent std floor").
    latent_std_floor = 0.5

    def __init__(self, shift: float = UNIT_SHIFT, scale: float = UNIT_SCALE):
        super().__init__()
        if not scale > 0:
            raise Dance2DError(f"The raw codec scale must be positive, got scale={scale}.")
        self.shift = float(shift)  # value mapped to latent 0
        self.scale = float(scale)  # value range mapped to one latent unit
        self.freeze()

    @classmethod
    def image_width(cls, width: int) -> int:
        """The thin image is one column wide, whatever the one-hot resolution."""
        return 1

    def image_channels(self, num_joints: int) -> int:
        """3K channels: x, y and confidence of each joint."""
        return 3 * num_joints

    def to_image(self, keypoints: np.ndarray, width: int = 1, sigma: float = 0.0) -> np.ndarray:
        """Pose (T, K, 3) → thin image (3K, 1, T) of x, y and confidence (§4.2; the paper's thin image has no
        confidence channel, but without it a missing joint has no way to say so — missing joints sit at the
        canvas centre with confidence 0). width and sigma do not apply."""
        kp = np.asarray(keypoints, np.float32)
        present = kp[..., 2:3] > 0
        xys = np.concatenate([np.where(present, kp[..., :2], 0.5), present.astype(np.float32)], axis=-1)
        t, k = kp.shape[:2]
        return np.ascontiguousarray(xys.reshape(t, 3 * k).T[:, None, :])  # (3K, 1, T)

    def from_image(self, image: np.ndarray, sigma: float = 0.0, refine: bool = True,
                   presence: float = 0.0, track: float = 0.0) -> np.ndarray:
        """Thin image (…, 3K, 1, T) → pose (…, T, K, 3). The confidence channel encodes presence (0/1 in the data):
        a joint is present where the channel is above 0.5 (`stable_presence`), else missing (confidence 0); sigma,
        refine, the one-hot presence fraction and peak tracking do not apply."""
        x = np.asarray(image, np.float32)[..., 0, :]  # (…, 3K, T)
        xys = np.swapaxes(x, -1, -2)  # (…, T, 3K)
        out = xys.reshape(xys.shape[:-1] + (xys.shape[-1] // 3, 3)).copy()
        out[..., 2] = stable_presence(out[..., 2], 0.5)
        return out

    def latent_channels(self, C: int) -> int:
        """One latent channel per pose channel."""
        return C

    def _encode(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale  # (B, C, W, T)

    def _decode(self, z: Tensor, C: int) -> Tensor:
        return z * self.scale + self.shift  # (B, C, W, T)
