"""ε-prediction objective L = E‖ε − ε̂_θ(Z_τ, ·)‖² (paper §3, Training objective)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from dance2d.diffusion.schedule import NoiseSchedule


def eps_loss(
    model_fn: Callable[..., torch.Tensor],
    z0: torch.Tensor,
    tau: torch.Tensor,
    eps: torch.Tensor,
    schedule: NoiseSchedule,
    weight: torch.Tensor | None = None,
    **cond,
) -> torch.Tensor:
    """Mean of (ε − model_fn(α_τ Z + σ_τ ε, τ, **cond))², optionally weighted elementwise (broadcast to Z)."""
    z_tau = schedule.add_noise(z0, eps, tau)  # (B, Cz, Wl, Tl)
    err = (eps - model_fn(z_tau, tau, **cond)) ** 2  # (B, Cz, Wl, Tl)
    if weight is None:
        return err.mean()
    weight = weight.to(err.dtype).expand_as(err)
    return (err * weight).sum() / weight.sum().clamp_min(1e-12)
