"""Poses ↔ pose images ↔ latents: one-hot images for image codecs, thin coordinate images for `raw` (paper §3, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dance2d.codec import Codec, get_codec
from dance2d.errors import Dance2DError
from dance2d.pose import onehot


def pose_to_image(keypoints: np.ndarray, codec_name: str, width: int, sigma: float) -> np.ndarray:
    """Pose (T, K, 3) → image X (C=2K, W, T): one-hot (Eq. 1–3 inverted), or for `raw` the thin image
    (C, 1, T) of the coordinates themselves (§4.2), missing joints at the canvas centre."""
    if codec_name != "raw":
        return onehot.encode(keypoints, width, sigma)
    kp = np.asarray(keypoints, np.float32)
    xy = np.where(kp[..., 2:3] > 0, kp[..., :2], 0.5)
    t, k = kp.shape[:2]
    return np.ascontiguousarray(xy.reshape(t, 2 * k).T[:, None, :])  # (C, 1, T)


def image_to_pose(image: np.ndarray, codec_name: str, refine: bool = True, sigma: float = 0.0) -> np.ndarray:
    """Image (…, C, W, T) → pose (…, T, K, 3): argmax decoding matched-filtered with the encoder's σ
    (see onehot.decode), or for `raw` the coordinates with confidence 1."""
    if codec_name != "raw":
        return onehot.decode(image, refine=refine, smooth=sigma)
    x = np.asarray(image, np.float32)[..., 0, :]  # (…, C, T)
    xy = np.swapaxes(x, -1, -2)  # (…, T, C)
    out = np.ones(xy.shape[:-1] + (xy.shape[-1] // 2, 3), np.float32)
    out[..., 0], out[..., 1] = xy[..., 0::2], xy[..., 1::2]
    return out


@dataclass
class Representation:
    """How a pose window becomes the latent Z the DiT models, and back."""

    codec: Codec  # frozen codec (taef2 / sd: one-hot images; raw: thin images)
    width: int  # one-hot resolution W (ignored by raw, whose image width is 1)
    sigma: float = 1.5  # Gaussian smoothing of the one-hot vectors, in bins
    refine: bool = True  # sub-bin refinement when decoding the one-hot argmax

    @classmethod
    def build(cls, codec: str, width: int, sigma: float = 1.5, refine: bool = True) -> Representation:
        return cls(get_codec(codec), width, sigma, refine)

    @property
    def is_raw(self) -> bool:
        return self.codec.name == "raw"

    @property
    def image_width(self) -> int:
        return 1 if self.is_raw else self.width

    def to_image(self, keypoints: np.ndarray) -> np.ndarray:
        """Pose (T, K, 3) → image X (C=2K, W, T)."""
        return pose_to_image(keypoints, self.codec.name, self.width, self.sigma)

    def from_image(self, image: np.ndarray) -> np.ndarray:
        """Image (…, C, W, T) → pose (…, T, K, 3)."""
        return image_to_pose(image, self.codec.name, self.refine, self.sigma)

    def encode(self, keypoints: np.ndarray) -> torch.Tensor:
        """Poses (B, T, K, 3) → latents Z (B, Cz, W', T') (float32 tensor)."""
        kp = np.asarray(keypoints, np.float32)
        if kp.ndim != 4:
            raise Dance2DError(f"Representation.encode needs poses of shape (B, T, K, 3); got {kp.shape}.")
        x = torch.from_numpy(np.stack([self.to_image(k) for k in kp]))  # (B, C, W, T)
        return self.codec.encode(x)

    def decode(self, z: torch.Tensor, num_joints: int) -> np.ndarray:
        """Latents Z (B, Cz, W', T') → poses (B, T, K, 3)."""
        x = self.codec.decode(z, 2 * num_joints)  # (B, C, W, T)
        return self.from_image(x.float().cpu().numpy())
