"""Poses ↔ pose images ↔ latents: one-hot images for image codecs, thin coordinate images for `raw` (paper §3, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dance2d.codec import Codec, get_codec
from dance2d.errors import Dance2DError
from dance2d.pose import onehot


def image_channels(codec_name: str, num_joints: int) -> int:
    """Channels C of the pose image: 2K (x, y one-hot vectors) or 3K for `raw` (x, y, confidence)."""
    return (3 if codec_name == "raw" else 2) * num_joints


def pose_to_image(keypoints: np.ndarray, codec_name: str, width: int, sigma: float) -> np.ndarray:
    """Pose (T, K, 3) → image X (C, W, T): one-hot, C = 2K (Eq. 1–3 inverted), or for `raw` the thin image
    (3K, 1, T) of x, y and confidence (§4.2; the paper's thin image has no confidence channel, but without it
    a missing joint has no way to say so — missing joints sit at the canvas centre with confidence 0)."""
    if codec_name != "raw":
        return onehot.encode(keypoints, width, sigma)
    kp = np.asarray(keypoints, np.float32)
    present = kp[..., 2:3] > 0
    xys = np.concatenate([np.where(present, kp[..., :2], 0.5), present.astype(np.float32)], axis=-1)
    t, k = kp.shape[:2]
    return np.ascontiguousarray(xys.reshape(t, 3 * k).T[:, None, :])  # (3K, 1, T)


def image_to_pose(image: np.ndarray, codec_name: str, refine: bool = True, sigma: float = 0.0) -> np.ndarray:
    """Image (…, C, W, T) → pose (…, T, K, 3): argmax decoding matched-filtered with the encoder's σ
    (see onehot.decode), or for `raw` x, y and the confidence channel clipped to [0, 1]."""
    if codec_name != "raw":
        return onehot.decode(image, refine=refine, smooth=sigma)
    x = np.asarray(image, np.float32)[..., 0, :]  # (…, 3K, T)
    xys = np.swapaxes(x, -1, -2)  # (…, T, 3K)
    out = xys.reshape(xys.shape[:-1] + (xys.shape[-1] // 3, 3)).copy()
    out[..., 2] = np.clip(out[..., 2], 0.0, 1.0)
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
        x = self.codec.decode(z, image_channels(self.codec.name, num_joints))  # (B, C, W, T)
        return self.from_image(x.float().cpu().numpy())
