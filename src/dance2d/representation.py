"""Poses ↔ pose images ↔ latents through a codec, which owns its pose image (paper §3, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dance2d.codec import Codec, get_codec
from dance2d.codec.base import PRESENCE_FRACTION, TRIPLET_ORDERS
from dance2d.errors import Dance2DError
from dance2d.pose.onehot import TRACK_COST


@dataclass
class Representation:
    """How a pose window becomes the latent Z the DiT models, and back."""

    codec: Codec  # frozen codec (taef2 / sd: one-hot images; raw: thin images)
    width: int  # one-hot resolution W (the raw codec's thin image is 1 wide whatever W is)
    sigma: float = 1.5  # Gaussian smoothing of the one-hot vectors, in bins
    refine: bool = True  # sub-bin refinement when decoding the one-hot argmax
    triplets: str = "paper"  # channel order of the pose image, so of its RGB triplets (codec/base.py TRIPLET_ORDERS)
    presence: float = PRESENCE_FRACTION  # a decoded one-hot joint's peak against the window's typical peak
    track: float = TRACK_COST  # cost per bin a decoded one-hot peak moves between frames (0: each frame's argmax)

    def __post_init__(self) -> None:
        if self.triplets not in TRIPLET_ORDERS:
            raise Dance2DError(f"Unknown triplet order {self.triplets!r}; choose one of {', '.join(TRIPLET_ORDERS)}.")
        self._order = TRIPLET_ORDERS[self.triplets]
        self._inverse = None if self._order is None else np.argsort(self._order)
        if self._order is not None and not self.codec.uses_triplets:
            raise Dance2DError(f"The {self.codec.name} codec has no RGB triplets; use --triplets paper with it.")
        if not 0.0 <= self.presence < 1.0:
            raise Dance2DError(f"The presence fraction {self.presence} is outside [0, 1); a joint is kept where its "
                               "decoded peak is this fraction of the window's typical peak (default "
                               f"{PRESENCE_FRACTION}).")
        if not 0.0 <= self.track <= 10.0:
            raise Dance2DError(f"The peak-tracking cost {self.track} is outside [0, 10]; it is the log-evidence cost "
                               f"per bin a decoded peak moves between frames (default {TRACK_COST}, 0 = off).")

    @classmethod
    def build(cls, codec: str, width: int, sigma: float = 1.5, refine: bool = True,
              triplets: str = "paper", presence: float = PRESENCE_FRACTION,
              track: float = TRACK_COST, **codec_kw) -> Representation:
        """A Representation around the codec registered as `codec`, built with codec_kw (e.g. dtype)."""
        return cls(get_codec(codec, **codec_kw), width, sigma, refine, triplets, presence, track)

    def to_image(self, keypoints):
        """Pose (T, K, 3) → the codec's pose image X (C, W, T), channels in the triplet order (a numpy array, or a
        tensor on the keypoints' device where the codec renders tensors: TripletCodec)."""
        image = self.codec.to_image(keypoints, self.width, self.sigma)
        if self._order is None:
            return image
        if len(self._order) != len(image):
            raise Dance2DError(f"The {self.triplets!r} triplet order is for body-18 images ({len(self._order)} "
                               f"channels), not {len(image)}; use --triplets paper for this layout.")
        ordered = image[list(self._order)]
        return ordered.contiguous() if isinstance(ordered, torch.Tensor) else np.ascontiguousarray(ordered)

    def from_image(self, image: np.ndarray) -> np.ndarray:
        """Image (…, C, W, T) in the triplet order → pose (…, T, K, 3)."""
        if self._order is not None:
            image = image[..., self._inverse, :, :]
        return self.codec.from_image(image, self.sigma, self.refine, self.presence, self.track)

    def encode(self, keypoints: np.ndarray) -> torch.Tensor:
        """Poses (B, T, K, 3) → latents Z (B, Cz, W', T') (float32 tensor)."""
        kp = np.asarray(keypoints, np.float32)
        if kp.ndim != 4:
            raise Dance2DError(f"Representation.encode needs poses of shape (B, T, K, 3); got {kp.shape}.")
        if self.codec.uses_triplets:  # one-hot images are drawn where the codec runs (on a GPU: no host copy)
            x = torch.stack([self.to_image(torch.from_numpy(k).to(self.codec.device)) for k in kp])
            return self.codec.encode(x).cpu()
        x = torch.from_numpy(np.stack([self.to_image(k) for k in kp]))  # (B, C, W, T): the raw codec's thin image
        return self.codec.encode(x)

    def decode(self, z: torch.Tensor, num_joints: int) -> np.ndarray:
        """Latents Z (B, Cz, W', T') → poses (B, T, K, 3)."""
        x = self.codec.decode(z, self.codec.image_channels(num_joints))  # (B, C, W, T)
        return self.from_image(x.float().cpu().numpy())

    def shape_reference(self, poses: np.ndarray, frames: int) -> torch.Tensor:
        """Shape-only reference latents Z_ref (R, Cz, W', frames/ts): each pose (R, K, 3) held still for `frames`
        frames and encoded (paper §3).

        Measured on TAEF2: the latent of a pose held still is NOT constant in time; columns within ~10 columns
        (80 frames) of either edge differ from the far-interior value by up to ~2 (|z| ≈ 0.5), so a reference
        latent is encoded at the length it is used at (the training window T = the generated segment).
        """
        return self.encode(np.repeat(np.asarray(poses, np.float32)[:, None], frames, axis=1))
