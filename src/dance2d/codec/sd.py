"""SD codec: a diffusers `AutoencoderKL` (the paper's Stable Diffusion VAE, §3) as the frozen image VAE.

Optional: needs `pip install 'dance2d[sd]'` (diffusers) and, for hub ids, network access or a local copy.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from dance2d.codec.base import TripletCodec
from dance2d.errors import Dance2DError

DEFAULT_PRETRAINED = "stabilityai/sd-vae-ft-mse"  # the SD 1.x VAE with the MSE-finetuned decoder


def _autoencoder_kl():
    """Import diffusers' AutoencoderKL lazily, with an install hint when diffusers is missing."""
    try:
        from diffusers import AutoencoderKL
    except ImportError as e:
        raise Dance2DError("The 'sd' codec needs diffusers; install it with pip install 'dance2d[sd]'.") from e
    return AutoencoderKL


class SDCodec(TripletCodec):
    """Frozen AutoencoderKL per channel triplet: images scaled to [-1, 1], latents = (mean - shift) · scaling (§3)."""

    name = "sd"

    def __init__(
        self,
        pretrained: str | Path | None = DEFAULT_PRETRAINED,
        config: dict | None = None,
        subfolder: str | None = None,
        chunk: int = 8,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ):
        super().__init__(chunk=chunk, dtype=dtype)
        AutoencoderKL = _autoencoder_kl()
        if config is not None:
            self.vae = AutoencoderKL.from_config(config).to(dtype)  # random weights: for tests and experiments
        else:
            try:
                self.vae = AutoencoderKL.from_pretrained(str(pretrained), subfolder=subfolder, torch_dtype=dtype)
            except (OSError, ValueError) as e:
                raise Dance2DError(
                    f"Cannot load the AutoencoderKL '{pretrained}'; give a local folder with config.json and "
                    "weights, or a hub id reachable from this machine."
                ) from e
        cfg = self.vae.config
        self.channels_per_triplet = int(cfg.latent_channels)  # c: 4 for the SD VAEs
        stride = 2 ** (len(cfg.block_out_channels) - 1)  # each extra resolution level halves W and T
        self.time_stride = stride
        self.width_stride = stride
        self.scaling_factor = float(cfg.scaling_factor)  # brings latents to roughly unit variance
        self.shift_factor = float(getattr(cfg, "shift_factor", None) or 0.0)  # latent mean offset (0 for SD 1.x / 2.x)
        self.vae.to(device)
        self.freeze()

    def encode_images(self, images: Tensor) -> Tensor:
        """RGB images (N, 3, W, T) in [0, 1] -> scaled latents (N, c, W', T'), using the posterior mean."""
        posterior = self.vae.encode(images * 2 - 1).latent_dist
        return (posterior.mean - self.shift_factor) * self.scaling_factor  # (N, c, W', T')

    def decode_images(self, latents: Tensor) -> Tensor:
        """Scaled latents (N, c, W', T') -> RGB images (N, 3, W, T) in roughly [0, 1], not clamped."""
        images = self.vae.decode(latents / self.scaling_factor + self.shift_factor).sample  # (N, 3, W, T)
        return (images + 1) / 2
