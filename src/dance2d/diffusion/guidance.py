"""Classifier-free guidance ε̂ = ε_u + s(ε_c − ε_u), both passes in one batch (paper §4, k-diffusion habit)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def cfg_denoiser(
    model_call: Callable[..., torch.Tensor],
    scale: float,
    cond: dict[str, torch.Tensor] | None = None,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A denoise(z, τ) for samplers; model_call(z, τ, music_keep=(B,) bool, **cond) predicts ε.

    Conditional rows get music_keep=True, unconditional rows music_keep=False (the null music token);
    the tensors in cond (music, ref, mask, ...) are repeated for both halves. scale = 1 runs one pass.
    """
    cond = cond or {}

    def denoise(z: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        if scale == 1.0:
            keep = torch.ones(b, dtype=torch.bool, device=z.device)
            return model_call(z, tau, music_keep=keep, **cond)
        keep = torch.cat([torch.ones(b, dtype=torch.bool), torch.zeros(b, dtype=torch.bool)]).to(z.device)
        both = {k: torch.cat([v, v]) for k, v in cond.items()}
        eps = model_call(torch.cat([z, z]), torch.cat([tau, tau]), music_keep=keep, **both)  # (2B, ...)
        eps_c, eps_u = eps[:b], eps[b:]
        return eps_u + scale * (eps_c - eps_u)

    return denoise
