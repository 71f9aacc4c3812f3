"""Samplers over a plain denoise(z, τ) → ε̂ callable: DDIM and DPM-Solver++(2M) (paper §3, Inference).

τ is passed to denoise as a (B,) long tensor of integer steps in {1..S}. `generator` is one
torch.Generator or a list with one per sample (results then do not depend on batch composition).
`spacing` picks the steps (NoiseSchedule.timesteps); `progress(i, n)` is called after step i of n.
`inpaint=(known_z0, known_mask)` replaces the known region by the known latents noised to the current
step after every update (RePaint / EDGE-style stitching for the reference=off ablation, §4.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from dance2d.diffusion.schedule import NoiseSchedule
from dance2d.errors import Dance2DError

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Sampler = Callable[..., torch.Tensor]  # sampler(denoise, noise, schedule, steps=, inpaint=, ...) → Ẑ_0
Generator = torch.Generator | Sequence[torch.Generator] | None
Inpaint = tuple[torch.Tensor, torch.Tensor] | None


def _randn_like(x: torch.Tensor, generator: Generator) -> torch.Tensor:
    """Standard normal noise shaped like x, one generator per sample when a list is given."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    if len(generator) != x.shape[0]:
        raise Dance2DError(f"Got {len(generator)} generators for a batch of {x.shape[0]}; pass one per sample.")
    return torch.stack(
        [torch.randn(x.shape[1:], generator=g, dtype=x.dtype, device="cpu") for g in generator]
    ).to(x.device)


def _replace_known(z: torch.Tensor, inpaint: Inpaint, alpha: float, sigma: float, generator: Generator):
    """Z ← m·(α_τ Z_known + σ_τ ε) + (1 − m)·Z: the known region follows the forward process (RePaint)."""
    if inpaint is None:
        return z
    known, m = inpaint
    m = m.to(z.dtype)
    noised = alpha * known + sigma * _randn_like(z, generator) if sigma > 0 else known
    return m * noised + (1 - m) * z


def _start(noise: torch.Tensor, schedule: NoiseSchedule, inpaint: Inpaint) -> torch.Tensor:
    """Z_S from the initial noise; the known region gets α_S Z_known + σ_S noise."""
    if inpaint is None:
        return noise
    a, s = (float(v) for v in schedule.alpha_sigma(schedule.steps))
    known, m = inpaint
    m = m.to(noise.dtype)
    return m * (a * known + s * noise) + (1 - m) * noise


def _sample(update: Callable[..., torch.Tensor], denoise: Denoise, noise: torch.Tensor, schedule: NoiseSchedule,
            steps: int, generator: Generator, inpaint: Inpaint, progress: Callable[[int, int], None] | None,
            spacing: str) -> torch.Tensor:
    """The loop every sampler shares: at each step τ → τ' evaluate ε̂ and Ẑ_0 = (Z_τ − σ_τ ε̂)/α_τ, take the step
    z ← update(z, ε̂, Ẑ_0, α_τ, σ_τ, α_τ', σ_τ'), then re-impose the known region and report progress."""
    taus = schedule.timesteps(steps, spacing)
    z = _start(noise, schedule, inpaint)
    b = z.shape[0]
    for i, (tau, nxt) in enumerate(zip(taus[:-1], taus[1:], strict=True)):
        a, s = (float(v) for v in schedule.alpha_sigma(tau))
        a2, s2 = (float(v) for v in schedule.alpha_sigma(nxt))
        eps = denoise(z, torch.full((b,), tau, dtype=torch.long, device=z.device))  # (B, Cz, Wl, Tl)
        x0 = (z - s * eps) / a  # Ẑ_0 at step τ_i
        z = _replace_known(update(z, eps, x0, a, s, a2, s2), inpaint, a2, s2, generator)
        if progress is not None:
            progress(i + 1, len(taus) - 1)
    return z


def sample_ddim(denoise: Denoise, noise: torch.Tensor, schedule: NoiseSchedule, steps: int = 50, eta: float = 0.0,
                generator: Generator = None, inpaint: Inpaint = None,
                progress: Callable[[int, int], None] | None = None, spacing: str = "logsnr") -> torch.Tensor:
    """DDIM (Song et al. 2021): Ẑ_0 = (Z_τ − σ_τ ε̂)/α_τ, Z_τ' = α_τ' Ẑ_0 + √(σ_τ'² − c²) ε̂ + c ξ."""

    def update(z, eps, x0, a, s, a2, s2):
        c = eta * (s2 / s) * math.sqrt(max(0.0, 1 - (a / a2) ** 2)) if s2 > 0 else 0.0
        z = a2 * x0 + math.sqrt(max(0.0, s2**2 - c**2)) * eps
        return z + c * _randn_like(z, generator) if c > 0 else z

    return _sample(update, denoise, noise, schedule, steps, generator, inpaint, progress, spacing)


def sample_dpmpp_2m(denoise: Denoise, noise: torch.Tensor, schedule: NoiseSchedule, steps: int = 15,
                    generator: Generator = None, inpaint: Inpaint = None,
                    progress: Callable[[int, int], None] | None = None, spacing: str = "logsnr") -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022) in data prediction, ε̂ converted by Ẑ_0 = (Z − σε̂)/α, λ = log α/σ."""
    prev: dict[str, object] = {}  # Ẑ_0 and h of the previous step

    def update(z, eps, x0, a, s, a2, s2):
        if s2 == 0:
            return x0  # last step lands on the data prediction
        h = math.log(a2 / s2) - math.log(a / s)  # λ_{i+1} − λ_i
        if not prev:
            d = x0  # first step: DPM-Solver++(1) = DDIM
        else:
            r = prev["h"] / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev["x0"]  # second-order multistep estimate
        prev.update(x0=x0, h=h)
        return (s2 / s) * z - a2 * math.expm1(-h) * d

    return _sample(update, denoise, noise, schedule, steps, generator, inpaint, progress, spacing)


def sample_ddpm(denoise: Denoise, noise: torch.Tensor, schedule: NoiseSchedule, steps: int = 50, **kw) -> torch.Tensor:
    """Ancestral sampling: DDIM with η = 1, which adds fresh noise at every step (DDPM's posterior variance)."""
    return sample_ddim(denoise, noise, schedule, steps, eta=1.0, **kw)


SAMPLERS: dict[str, Sampler] = {"dpmpp_2m": sample_dpmpp_2m, "ddim": sample_ddim, "ddpm": sample_ddpm}  # by name
