"""Latent codec interface: poses -> pose image X (B, C, W, T) <-> latent grid Z (paper §3, "Latent Encoding").

Each codec owns its pose image: the default is the one-hot image of paper §3 (TAEF2, SD); the raw codec overrides
it with a thin coordinate image (§4.2). The registry of codec names is in dance2d/codec/__init__.py.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import Tensor, nn

from dance2d.errors import Dance2DError
from dance2d.pose import onehot

PRESENCE_FRAMES = 5  # a decoded joint's presence score is median-filtered over this many frames, then thresholded
# A one-hot joint is present where its decoded peak is at least PRESENCE_FRACTION of the window's typical peak (the
# TYPICAL_PEAK_PERCENTILE of all its joints' peaks) and above MIN_PEAK. An undertrained x-prediction model draws
# the right lines, faintly: its peaks sit at 0.03–0.5 where the data's are near 1, and joints whose channels
# are empty (peak below 0.03) are the ones far off the body (docs/RESULTS.md). Judging peaks against the window's
# own keeps the faint joints and drops the empty ones; a trained model's peaks are high and pass either way. The
# fraction is low so faint arms are kept (a model may ship its own: `Representation.presence`, set from its
# checkpoint's "generation" section); joints no body could have placed are hidden after decoding
# (pose/anatomy.py; the measurements: docs/decisions.md, "Presence at 0.05").
PRESENCE_FRACTION = 0.05
TYPICAL_PEAK_PERCENTILE = 75.0
MIN_PEAK = 0.01
TRIPLET = 3  # channels per image fed to an RGB image codec (paper §3: G = ceil(C/3) triplets)
# Channel orders of a body-18 one-hot image (channel 2k = x of joint k, 2k+1 = y); consecutive threes form the RGB
# triplets. "paper": x0 y0 x1 | y1 x2 y2 | … . "spread": channels whose peaks often share bins kept apart, found by
# scripts/triplet_order.py on the Dance with Melody training poses (co-location inside triplets 4.40 → 1.18; TAEF2
# round trip of the held-out songs at W = 256: joints off by more than 3σ 0.37 % → 0.07 %, docs/RESULTS.md).
TRIPLET_ORDERS: dict[str, tuple[int, ...] | None] = {
    "paper": None,
    "spread": (0, 15, 19, 35, 20, 26, 32, 8, 30, 7, 2, 27, 3, 31, 10, 13, 25, 23, 18, 24, 33, 21, 22, 9, 4, 12, 29,
               34, 6, 11, 17, 5, 28, 16, 14, 1),
}


def num_triplets(C: int) -> int:
    """Number of channel triplets G = ceil(C/3) (paper §3)."""
    return math.ceil(C / TRIPLET)


def group_triplets(x: Tensor) -> Tensor:
    """Split (B, C, W, T) into RGB images (B*G, 3, W, T), repeating the last channel to fill the last triplet (§3)."""
    B, C, W, T = x.shape
    G = num_triplets(C)
    pad = G * TRIPLET - C
    if pad:
        x = torch.cat([x, x[:, -1:].expand(B, pad, W, T)], dim=1)  # (B, 3G, W, T)
    return x.reshape(B * G, TRIPLET, W, T)  # (B*G, 3, W, T)


def ungroup_triplets(images: Tensor, C: int) -> Tensor:
    """Inverse of `group_triplets`: (B*G, 3, W, T) -> (B, C, W, T), dropping the repeated channels (§3)."""
    N, _, W, T = images.shape
    G = num_triplets(C)
    x = images.reshape(N // G, G * TRIPLET, W, T)  # (B, 3G, W, T)
    return x[:, :C]  # (B, C, W, T)


def stack_latents(z: Tensor, G: int) -> Tensor:
    """Concatenate per-triplet latents along channels: (B*G, c, W', T') -> (B, G*c, W', T'), triplet-major (§3)."""
    N, c, Wl, Tl = z.shape
    return z.reshape(N // G, G * c, Wl, Tl)


def unstack_latents(z: Tensor, G: int) -> Tensor:
    """Inverse of `stack_latents`: (B, G*c, W', T') -> (B*G, c, W', T')."""
    B, Gc, Wl, Tl = z.shape
    return z.reshape(B * G, Gc // G, Wl, Tl)


def stable_presence(score: np.ndarray, threshold) -> np.ndarray:
    """0/1 presence (…, T, K) of joints whose score (…, T, K) is above `threshold` (broadcastable) both in that frame
    and in its median over PRESENCE_FRAMES frames: presence is binary, as in the data, and one- or two-frame blips
    are dropped without inventing coordinates for short gaps."""
    from scipy.ndimage import median_filter

    score = np.asarray(score, np.float32)
    steady = score
    if score.shape[-2] >= PRESENCE_FRAMES:
        size = [1] * score.ndim
        size[-2] = PRESENCE_FRAMES
        steady = median_filter(score, size=tuple(size), mode="nearest")
    return ((steady > threshold) & (score > threshold)).astype(np.float32)


def _check_finite(t: Tensor, what: str) -> None:
    """Raise Dance2DError when a tensor holds NaN or infinite values."""
    if not bool(torch.isfinite(t).all()):
        raise Dance2DError(f"The {what} contains NaN or infinite values; check the pose data or model output.")


class Codec(nn.Module, ABC):
    """A frozen map between pose images X (B, C, W, T) and latents Z (B, latent_channels(C), W/ws, T/ts) (§3).

    It owns its pose image: `to_image` / `from_image` convert poses (T, K, 3) to and from the X it encodes.
    """

    name: str = ""  # registry name of the codec ("taef2", "raw", "sd")
    time_stride: int = 1  # T -> T / time_stride
    width_stride: int = 1  # W -> W / width_stride
    uses_triplets: bool = False  # whether the pose image's channels go to an RGB codec in threes (TRIPLET_ORDERS)
    uses_sigma: bool = True  # whether the one-hot Gaussian σ shapes the pose image
    latent_std_floor: float = 0.0  # training normalises each latent channel by max(its std, this floor)

    @classmethod
    def image_width(cls, width: int) -> int:
        """Width of the pose image for a one-hot resolution W (the one-hot image is W wide)."""
        return width

    def image_channels(self, num_joints: int) -> int:
        """Channels C of the pose image of K joints: 2K (x, y one-hot vectors)."""
        return 2 * num_joints

    def to_image(self, keypoints, width: int, sigma: float):
        """Pose (T, K, 3) → one-hot image X (2K, W, T) in [0, 1] (Eq. 1–3 inverted, Gaussian σ in bins); numpy in,
        numpy out, or a tensor on the keypoints' device."""
        return onehot.encode(keypoints, width, sigma)

    def from_image(self, image: np.ndarray, sigma: float = 0.0, refine: bool = True,
                   presence: float = PRESENCE_FRACTION, track: float = 0.0) -> np.ndarray:
        """Image (…, C, W, T) → pose (…, T, K, 3): argmax decoding matched-filtered with the encoder's σ (with
        `track` > 0: each channel's peak along one path through time, `onehot.track_peaks`); a joint is present
        (confidence 1) where its peak is at least `presence` × the window's typical peak, else missing (0)."""
        out = onehot.decode(image, refine=refine, smooth=sigma, track=track)
        peak = out[..., 2]
        typical = np.percentile(peak, TYPICAL_PEAK_PERCENTILE, axis=(-2, -1), keepdims=True)
        out[..., 2] = stable_presence(peak, np.maximum(presence * typical, MIN_PEAK))
        return out

    def freeze(self) -> Codec:
        """Put the codec in eval mode with no trainable parameters (the VAE is frozen in the paper)."""
        self.eval()
        self.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> Codec:
        """Keep the codec in eval mode: it is a frozen, pretrained component."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        """Device of the codec weights (CPU for parameter-free codecs)."""
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @abstractmethod
    def latent_channels(self, C: int) -> int:
        """Latent channel count for C pose channels (c·G for an image codec, §3)."""

    def latent_shape(self, C: int, W: int, T: int) -> tuple[int, int, int]:
        """Shape (c·G, W', T') of one latent grid for a (C, W, T) pose image."""
        self._check_dims(C, W, T)
        return (self.latent_channels(C), W // self.width_stride, T // self.time_stride)

    def _check_dims(self, C: int, W: int, T: int) -> None:
        """Raise Dance2DError when C, W, T do not fit the codec strides."""
        if C < 1:
            raise Dance2DError(f"The pose tensor needs at least one channel, got C={C}.")
        if W < 1 or W % self.width_stride:
            raise Dance2DError(
                f"The one-hot width W={W} must be a positive multiple of {self.width_stride} for the "
                f"'{self.name}' codec; choose another W."
            )
        if T < 1 or T % self.time_stride:
            raise Dance2DError(
                f"The number of frames T={T} must be a positive multiple of {self.time_stride} for the "
                f"'{self.name}' codec; choose another segment length."
            )

    def encode(self, x: Tensor) -> Tensor:
        """Encode pose images X (B, C, W, T) in [0, 1] to latents Z (B, c·G, W', T') in float32 (§3)."""
        if x.ndim != 4:
            raise Dance2DError(f"The codec expects a pose tensor of shape (B, C, W, T), got shape {tuple(x.shape)}.")
        B, C, W, T = x.shape
        self._check_dims(C, W, T)
        _check_finite(x, "pose tensor given to the codec")
        with torch.inference_mode():
            z = self._encode(x.to(self.device, torch.float32))  # (B, c·G, W', T')
        return z.to(x.device).clone()  # a normal tensor, usable later in autograd graphs

    def decode(self, z: Tensor, C: int) -> Tensor:
        """Decode latents Z (B, c·G, W', T') back to pose images X (B, C, W, T) in float32 (§3)."""
        if z.ndim != 4:
            raise Dance2DError(f"The codec expects latents of shape (B, c·G, W', T'), got shape {tuple(z.shape)}.")
        if C < 1:
            raise Dance2DError(f"The pose tensor needs at least one channel, got C={C}.")
        if z.shape[1] != self.latent_channels(C):
            raise Dance2DError(
                f"The latents have {z.shape[1]} channels but the '{self.name}' codec needs "
                f"{self.latent_channels(C)} for C={C} pose channels; check the checkpoint's keypoint layout."
            )
        _check_finite(z, "latent tensor given to the codec")
        with torch.inference_mode():
            x = self._decode(z.to(self.device, torch.float32), C)  # (B, C, W, T)
        return x.to(z.device).clone()

    @abstractmethod
    def _encode(self, x: Tensor) -> Tensor:
        """Encode a validated float32 tensor (B, C, W, T) on the codec device."""

    @abstractmethod
    def _decode(self, z: Tensor, C: int) -> Tensor:
        """Decode a validated float32 tensor (B, c·G, W', T') on the codec device."""


def fast_dtype(device: str | torch.device) -> torch.dtype:
    """bfloat16 where the hardware runs it natively (CUDA with bf16; CPUs with AMX tiles or AVX-512 BF16
    instructions, where oneDNN computes bf16 convolutions and matrix products directly), else float32: on a CPU
    without them bf16 is emulated and slower (docs/decisions.md, "bf16 sampling")."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if dev.type == "cpu" and any(getattr(torch.cpu, probe, lambda: False)()
                                 for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")):
        return torch.bfloat16
    return torch.float32


class TripletCodec(Codec):
    """An RGB image codec applied to each channel triplet of X, `chunk` images per call to bound memory (§3)."""

    channels_per_triplet: int = 4  # c: latent channels the image codec makes from one RGB image
    uses_triplets = True

    def __init__(self, chunk: int = 8, dtype: torch.dtype = torch.float32):
        super().__init__()
        if chunk < 1:
            raise Dance2DError(f"The codec chunk size must be at least 1, got chunk={chunk}.")
        self.chunk = chunk  # images per call of the image encoder/decoder
        self.compute_dtype = dtype  # dtype of the network weights and activations

    def latent_channels(self, C: int) -> int:
        """c·G latent channels (§3)."""
        return self.channels_per_triplet * num_triplets(C)

    @abstractmethod
    def encode_images(self, images: Tensor) -> Tensor:
        """RGB images (N, 3, W, T) in [0, 1] -> latents (N, c, W', T')."""

    @abstractmethod
    def decode_images(self, latents: Tensor) -> Tensor:
        """Latents (N, c, W', T') -> RGB images (N, 3, W, T), roughly in [0, 1]."""

    def _chunked(self, fn, t: Tensor) -> Tensor:
        """Apply `fn` to `chunk` images at a time, in the compute dtype, returning float32."""
        parts = [fn(part.to(self.compute_dtype)).float() for part in t.split(self.chunk)]
        return torch.cat(parts)

    def _encode(self, x: Tensor) -> Tensor:
        G = num_triplets(x.shape[1])
        images = group_triplets(x)  # (B*G, 3, W, T)
        z = self._chunked(self.encode_images, images)  # (B*G, c, W', T')
        return stack_latents(z, G)  # (B, c·G, W', T')

    def _decode(self, z: Tensor, C: int) -> Tensor:
        G = num_triplets(C)
        latents = unstack_latents(z, G)  # (B*G, c, W', T')
        images = self._chunked(self.decode_images, latents)  # (B*G, 3, W, T)
        return ungroup_triplets(images, C)  # (B, C, W, T)
