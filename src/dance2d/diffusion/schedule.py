"""Discrete noise schedule Z_τ = α_τ Z + σ_τ ε, τ ∈ {1..S} (paper §3, Training objective).

Betas "scaled_linear" (Stable Diffusion's latent schedule, β from 0.00085 to 0.012 linear in √β). Our latents
are normalised to unit variance per channel like SD's scaled latents, and its terminal ᾱ_S ≈ 0.005 keeps the first
sampling step well conditioned (the cosine schedule of Nichol & Dhariwal drives α_S to ~5e-5, so an ε error at
τ = S would be amplified by α_τ'/α_S ~10³ in the first DDIM / DPM-Solver update). The kind is stored in the
checkpoint (DiffusionConfig.schedule); another kind is one more branch in `_betas` and one more name in SCHEDULES.

"scaled_linear_low_snr": the same betas rescaled (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps
are Flawed", their Algorithm 1 with a near-zero end) so that √ᾱ keeps its first value and ends at √TERMINAL_ALPHA_BAR.
With SD's ᾱ_S ≈ 0.005 a training window at τ = S still carries its mean pose at SNR ≈ 0.3 over 128 frames, which the
network learns to read; sampling starts from pure noise, where that signal is absent, and the generated windows'
mean poses come out under-dispersed (docs/RESULTS.md). x- and v-prediction keep the first step well conditioned (Ẑ does
not divide by α_S); ε-prediction is refused (DiffusionConfig).
"""

from __future__ import annotations

import torch

from dance2d.errors import Dance2DError

SCHEDULES = ("scaled_linear", "scaled_linear_low_snr")
TERMINAL_ALPHA_BAR = 1e-5  # ᾱ_S of "scaled_linear_low_snr": the mean pose of 128 frames leaks at SNR ≈ 6e-4
LAMBDA_FLOOR = -3.0  # log-SNR spacing starts here (below it only the first step, from τ = S, is taken)


def _betas(kind: str, steps: int) -> torch.Tensor:
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, steps, dtype=torch.float64) ** 2
    if kind == "scaled_linear":
        return betas
    if kind == "scaled_linear_low_snr":
        root = torch.cumprod(1 - betas, dim=0).sqrt()  # √ᾱ_τ, τ = 1..S
        first, last, end = root[0], root[-1], TERMINAL_ALPHA_BAR**0.5
        root = (root - last) * (first - end) / (first - last) + end  # same start, ends at √TERMINAL_ALPHA_BAR
        ab = root**2
        return 1 - torch.cat([ab[:1], ab[1:] / ab[:-1]])
    raise Dance2DError(f"Unknown noise schedule {kind!r}; choose one of {', '.join(SCHEDULES)}.")


class NoiseSchedule:
    """ᾱ_τ for τ = 0..S (ᾱ_0 = 1, clean), with α_τ = √ᾱ_τ and σ_τ = √(1 − ᾱ_τ), so α² + σ² = 1."""

    def __init__(self, steps: int = 1000, kind: str = "scaled_linear"):
        if steps < 1:
            raise Dance2DError(f"Diffusion steps S must be at least 1, got {steps}.")
        self.steps = steps
        self.kind = kind
        ones = torch.ones(1, dtype=torch.float64)
        self.alphas_cumprod = torch.cat([ones, torch.cumprod(1 - _betas(kind, steps), dim=0)])  # (S+1,)

    def alpha_sigma(self, tau: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        """(α_τ, σ_τ) in float64 for integer steps τ (any shape)."""
        a = self.alphas_cumprod[torch.as_tensor(tau, dtype=torch.long).cpu()]
        return a.sqrt(), (1 - a).sqrt()

    def add_noise(self, z0: torch.Tensor, eps: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """Z_τ = α_τ Z + σ_τ ε for per-sample steps τ (B,) (paper §3)."""
        alpha, sigma = self.alpha_sigma(tau)
        shape = (-1,) + (1,) * (z0.ndim - 1)
        alpha = alpha.to(z0.device, z0.dtype).view(shape)  # (B, 1, 1, 1)
        sigma = sigma.to(z0.device, z0.dtype).view(shape)  # (B, 1, 1, 1)
        return alpha * z0 + sigma * eps

    def sample_tau(self, batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """τ ~ U{1..S}, shape (B,), long."""
        tau = torch.randint(1, self.steps + 1, (batch,), generator=generator)
        return tau.to(device) if device is not None else tau

    def timesteps(self, n: int, spacing: str = "logsnr") -> list[int]:
        """Up to n strictly decreasing evaluation steps from S to 1, then 0 (clean).

        "logsnr": evenly spaced in λ = log(α/σ) (DPM-Solver's choice; second-order solvers need near-equal
        λ steps, the end near τ = 1 is where λ moves fastest); "linear": evenly spaced in τ. Rounding to
        integer steps can merge neighbours when n is close to S.
        """
        if n < 1 or n > self.steps:
            raise Dance2DError(f"Sampler steps must be between 1 and {self.steps}, got {n}.")
        if n == 1:
            return [self.steps, 0]
        if spacing == "linear":
            taus = [round(self.steps - i * (self.steps - 1) / (n - 1)) for i in range(n)]
        elif spacing == "logsnr":
            alpha, sigma = self.alpha_sigma(torch.arange(1, self.steps + 1))
            lam = (alpha / sigma).log()  # (S,), increasing as τ decreases
            if float(lam[-1]) >= LAMBDA_FLOOR:
                targets = torch.linspace(float(lam[-1]), float(lam[0]), n)
            else:  # a near-zero terminal SNR: one step from pure noise to the floor, then even steps from there
                targets = torch.cat([lam[-1:], torch.linspace(LAMBDA_FLOOR, float(lam[0]), n - 1)])
            taus = [int((lam - x).abs().argmin()) + 1 for x in targets]
        else:
            raise Dance2DError(f"Unknown timestep spacing {spacing!r}; use 'logsnr' or 'linear'.")
        return sorted(set(taus), reverse=True) + [0]
