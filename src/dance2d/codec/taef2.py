"""TAEF2 codec: a tiny distilled autoencoder for the FLUX.2 latent space, used as the frozen image VAE of §3.

The architecture follows TAESD/TAEF2 by Ollin Boer Bohan (MIT licence, github.com/madebyollin/taesd):
plain 3×3 conv + ReLU residual blocks, three stride-2 convs down and three nearest-neighbour 2× upsamplings,
32 latent channels at 1/8 resolution. TAEF2 adds, in the blocks at 1/8 resolution, a residual
1×1-conv / GroupNorm / 1×1-conv branch (state-dict name `pool`) that injects image-wide statistics.
Images are in [0, 1] (not [-1, 1]); latents come out raw (roughly [-3, 3]), the decoder starts with a
soft clamp 3·tanh(z/3). The weights ship in the package as `assets/taef2.safetensors`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from torch import Tensor, nn
from torch.nn import functional as F

from dance2d.codec.base import TripletCodec, fast_dtype
from dance2d.errors import Dance2DError

WIDTH = 64  # feature channels of every TAEF2 layer
LATENT_CHANNELS = 32  # latent channels per RGB image (FLUX.2 latent space)
ASSET_NAME = "taef2.safetensors"  # weight file inside the package's assets folder


def _conv3(n_in: int, n_out: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """3×3 convolution with 'same' padding."""
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class SoftClamp(nn.Module):
    """Smoothly bound latents to (-3, 3): z -> 3·tanh(z/3)."""

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(z / 3) * 3


class Block(nn.Module):
    """Residual block relu(f(x) + x), f = three 3×3 convs; optional global-statistics branch added to x first."""

    def __init__(self, ch: int = WIDTH, global_branch: bool = False):
        super().__init__()
        self.conv = nn.Sequential(
            _conv3(ch, ch), nn.ReLU(inplace=True), _conv3(ch, ch), nn.ReLU(inplace=True), _conv3(ch, ch)
        )
        # TAEF2 names the branch `pool`: 1×1 up to 4·ch, GroupNorm over the whole image, ReLU, 1×1 back down
        self.pool = (
            nn.Sequential(
                nn.Conv2d(ch, 4 * ch, 1, bias=False),
                nn.GroupNorm(4, 4 * ch),
                nn.ReLU(inplace=True),
                nn.Conv2d(4 * ch, ch, 1, bias=False),
            )
            if global_branch
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.pool is not None:
            x = x + self.pool(x)  # (N, ch, H, W)
        return torch.relu_(self.conv(x) + x)  # (N, ch, H, W)


def build_encoder() -> nn.Sequential:
    """TAEF2 encoder: image (N, 3, H, W) in [0, 1] -> latents (N, 32, H/8, W/8); indices match the weights."""
    return nn.Sequential(
        _conv3(3, WIDTH), Block(),
        _conv3(WIDTH, WIDTH, stride=2, bias=False), Block(), Block(), Block(),
        _conv3(WIDTH, WIDTH, stride=2, bias=False), Block(), Block(), Block(),
        _conv3(WIDTH, WIDTH, stride=2, bias=False), Block(global_branch=True), Block(global_branch=True),
        Block(global_branch=True),
        _conv3(WIDTH, LATENT_CHANNELS),
    )  # fmt: skip


def build_decoder() -> nn.Sequential:
    """TAEF2 decoder: latents (N, 32, h, w) -> image (N, 3, 8h, 8w), roughly in [0, 1]; indices match the weights."""
    return nn.Sequential(
        SoftClamp(), _conv3(LATENT_CHANNELS, WIDTH), nn.ReLU(inplace=True),
        Block(global_branch=True), Block(global_branch=True), Block(global_branch=True),
        nn.Upsample(scale_factor=2), _conv3(WIDTH, WIDTH, bias=False),
        Block(), Block(), Block(),
        nn.Upsample(scale_factor=2), _conv3(WIDTH, WIDTH, bias=False),
        Block(), Block(), Block(),
        nn.Upsample(scale_factor=2), _conv3(WIDTH, WIDTH, bias=False),
        Block(), _conv3(WIDTH, 3),
    )  # fmt: skip


def load_taef2_state(path: str | Path | None = None) -> dict[str, Tensor]:
    """Read the TAEF2 weights (`encoder.*`, `decoder.*`) from `path`, or from the package asset when None."""
    if path is None:
        resource = resources.files("dance2d") / "assets" / ASSET_NAME
        where = f"the packaged asset dance2d/assets/{ASSET_NAME}"
        try:
            data = resource.read_bytes()
        except (FileNotFoundError, OSError) as e:
            raise Dance2DError(
                f"The TAEF2 weights are missing from {where}; reinstall dance2d or run scripts/convert_taef2.py."
            ) from e
    else:
        where = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise Dance2DError(f"Cannot read the TAEF2 weight file {where}; check the path.") from e
    try:
        return load_safetensors_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise Dance2DError(
            f"The TAEF2 weight file {where} is not a valid safetensors file; convert it again with "
            "scripts/convert_taef2.py."
        ) from e


class TAEF2Codec(TripletCodec):
    """Frozen TAEF2 autoencoder as the §3 image VAE: 32 latent channels per triplet, 8× down in W and T.

    dtype None picks bfloat16 where the hardware runs it natively (same round-trip error as float32 on
    AIST++; 3× faster on an AMX CPU, 2× with AVX-512 BF16), else float32. Decoded images are not clamped to [0, 1]: the
    decoder overshoots peaks slightly and clamping would flatten them, which hurts the argmax decode.
    fit_steps > 0 refines each encoder latent by Adam on ||decoder(z) - image||² (decoder in the loop); it
    roughly halves the round-trip error of one-hot images after ~30 steps but costs a decoder backward
    pass per step, so use it for caching training latents on a GPU.
    """

    name = "taef2"
    time_stride = 8
    width_stride = 8
    channels_per_triplet = LATENT_CHANNELS

    def __init__(
        self,
        weights: str | Path | None = None,
        chunk: int = 4,
        dtype: torch.dtype | None = None,
        device: str | torch.device = "cpu",
        fit_steps: int = 0,
        fit_lr: float = 0.02,
    ):
        dtype = fast_dtype(device) if dtype is None else dtype
        super().__init__(chunk=chunk, dtype=dtype)
        if fit_steps < 0 or not fit_lr > 0:
            raise Dance2DError(f"TAEF2 latent fitting needs fit_steps >= 0 and fit_lr > 0, got {fit_steps}, {fit_lr}.")
        self.fit_steps = fit_steps  # Adam steps refining encoder latents against the decoder (0 = off)
        self.fit_lr = fit_lr  # Adam learning rate of that refinement
        self.encoder = build_encoder()
        self.decoder = build_decoder()
        state = load_taef2_state(weights)
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise Dance2DError(
                f"The TAEF2 weight file {weights or ASSET_NAME} does not match the TAEF2 architecture "
                "(wrong keys or shapes); convert it again with scripts/convert_taef2.py."
            ) from e
        self.to(device=device, dtype=dtype, memory_format=torch.channels_last)
        self.freeze()

    def encode_images(self, images: Tensor) -> Tensor:
        """RGB images (N, 3, W, T) in [0, 1] -> raw TAEF2 latents (N, 32, W/8, T/8)."""
        images = images.contiguous(memory_format=torch.channels_last)
        z = self.encoder(images)  # (N, 32, W/8, T/8)
        return self._fit_latents(z, images) if self.fit_steps else z

    def _fit_latents(self, z: Tensor, images: Tensor) -> Tensor:
        """Refine latents z by Adam on the decoder reconstruction error of `images`."""
        with torch.inference_mode(False), torch.enable_grad():
            target = images.clone()  # a normal tensor: inference tensors cannot enter autograd
            z = z.clone().requires_grad_(True)  # (N, 32, W/8, T/8)
            opt = torch.optim.Adam([z], lr=self.fit_lr)
            for _ in range(self.fit_steps):
                loss = F.mse_loss(self.decoder(z), target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return z.detach()

    def decode_images(self, latents: Tensor) -> Tensor:
        """Raw TAEF2 latents (N, 32, W/8, T/8) -> RGB images (N, 3, W, T), not clamped."""
        return self.decoder(latents.contiguous(memory_format=torch.channels_last))  # (N, 3, W, T)
