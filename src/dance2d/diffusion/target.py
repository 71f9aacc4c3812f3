"""What the network predicts and what the loss compares: ε (paper §3), v (Salimans & Ho 2022) or the clean latent
x (Li & He 2025, "JiT"), with Z_τ = α_τ Z + σ_τ ε.

A `small` DiT is narrower than one p_w×1 patch of the TAEF2 latent (p_w·384 numbers). Predicting ε asks it to emit
full-rank noise for every token at low noise levels, which that bottleneck cannot do; the clean latent lies on a
low-dimensional manifold, so x-prediction fits through it. Samplers and CFG keep consuming ε̂: every target is
converted by ε̂ = (Z_τ − α Ẑ)/σ and Ẑ = (Z_τ − σ ε̂)/α, so DPM-Solver++ (a data-prediction solver) lands on Ẑ itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dance2d.diffusion.schedule import SCHEDULES, NoiseSchedule
from dance2d.errors import Dance2DError

PREDICTIONS = ("eps", "v", "x")  # network output
LOSS_SPACES = ("eps", "v", "x")  # space of the MSE; as a weight on ‖Ẑ − Z‖²: α²/σ², 1/σ², 1


@dataclass
class DiffusionConfig:
    """Diffusion settings stored in every checkpoint (missing keys in older checkpoints take these defaults)."""

    prediction: str = "eps"  # network output: eps (paper) | v | x (clean latent, JiT)
    loss: str = "eps"  # MSE in eps | v | x space
    eps_skip: bool = False  # eps only: ε̂ = σ_τ Z_τ + F, the network predicts the residual of the Wiener estimate
    anchor: bool = False  # eps_skip only: ε̂ = σ_τ (Z_τ − α_τ Z_ref) + F, anchored on the reference latent
    sigma_min: float = 0.05  # training: floor on σ where a loss divides by it (ε̂ from Ẑ; v/ε weights ≤ 1/σ_min²)
    velocity_weight: float = 0.0  # EDGE-style loss on the time differences of Ẑ (latent columns), 0 = off
    schedule: str = "scaled_linear"  # noise schedule kind (diffusion/schedule.py)

    def __post_init__(self) -> None:
        if self.prediction not in PREDICTIONS:
            raise Dance2DError(f"Prediction target {self.prediction!r} is unknown; choose one of "
                               f"{', '.join(PREDICTIONS)}.")
        if self.loss not in LOSS_SPACES:
            raise Dance2DError(f"Loss space {self.loss!r} is unknown; choose one of {', '.join(LOSS_SPACES)}.")
        if self.schedule not in SCHEDULES:
            raise Dance2DError(f"Noise schedule {self.schedule!r} is unknown; choose one of {', '.join(SCHEDULES)}.")
        if self.schedule == "scaled_linear_low_snr" and self.prediction == "eps":
            raise Dance2DError("The scaled_linear_low_snr schedule needs --prediction x or v: with ε-prediction Ẑ = "
                               "(Z − σε̂)/α divides the network's error by α_S ≈ 0.003.")
        if (self.eps_skip or self.anchor) and self.prediction != "eps":
            raise Dance2DError(f"The ε skip and anchor apply to ε-prediction only, not to {self.prediction!r}.")
        if not 0 < self.sigma_min < 1:
            raise Dance2DError(f"sigma_min must be in (0, 1), got {self.sigma_min}.")
        if not self.velocity_weight >= 0:
            raise Dance2DError(f"velocity_weight must be ≥ 0, got {self.velocity_weight}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> DiffusionConfig:
        """Inverse of to_dict; unknown keys are an error, missing keys take the defaults (older checkpoints)."""
        d = dict(d or {})
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise Dance2DError(f"Diffusion config has keys {unknown} this version of dance2d does not know; "
                               "use a checkpoint written by this version.")
        return cls(**d)

    def make_schedule(self) -> NoiseSchedule:
        return NoiseSchedule(kind=self.schedule)


def _coef(schedule: NoiseSchedule, tau: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    alpha, sigma = schedule.alpha_sigma(tau)
    shape = (-1,) + (1,) * (like.ndim - 1)
    return alpha.to(like.device, like.dtype).view(shape), sigma.to(like.device, like.dtype).view(shape)  # (B,1,1,1)


def predictor(net: Callable[..., torch.Tensor], schedule: NoiseSchedule, cfg: DiffusionConfig,
              sigma_floor: float = 1e-4) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """Wrap a network net(Z_τ, τ, **cond) into pred(Z_τ, τ, **cond) → (ε̂, Ẑ), whatever the network outputs.

    x-prediction divides by max(σ_τ, sigma_floor) to get ε̂ (training passes cfg.sigma_min; sampling keeps the
    exact σ_τ, which this schedule keeps ≥ 0.029, so the sampler's last step returns Ẑ itself)."""

    def pred(z: torch.Tensor, tau: torch.Tensor, **cond) -> tuple[torch.Tensor, torch.Tensor]:
        alpha, sigma = _coef(schedule, tau, z)
        out = net(z, tau, **cond)  # (B, Cz, Wl, Tl)
        if cfg.prediction == "eps":
            eps = out
            if cfg.eps_skip:  # Wiener estimate E[ε | Z_τ] = σ_τ Z_τ for unit-variance latents (around Z_ref: anchor)
                base = z - alpha * cond["ref"] if cfg.anchor and cond.get("ref") is not None else z
                eps = out + sigma * base
            return eps, (z - sigma * eps) / alpha
        if cfg.prediction == "v":  # v = α ε − σ Z  ⇒  ε = σ Z_τ + α v, Z = α Z_τ − σ v
            return sigma * z + alpha * out, alpha * z - sigma * out
        return (z - alpha * out) / sigma.clamp_min(sigma_floor), out

    return pred


def eps_model(net: Callable[..., torch.Tensor], schedule: NoiseSchedule,
              cfg: DiffusionConfig) -> Callable[..., torch.Tensor]:
    """net(Z_τ, τ, **cond) → ε̂ for CFG and the samplers, whatever the prediction target."""
    pred = predictor(net, schedule, cfg)
    return lambda z, tau, **cond: pred(z, tau, **cond)[0]


def diffusion_loss(
    net: Callable[..., torch.Tensor],
    z0: torch.Tensor,
    tau: torch.Tensor,
    eps: torch.Tensor,
    schedule: NoiseSchedule,
    cfg: DiffusionConfig | None = None,
    weight: torch.Tensor | None = None,
    **cond,
) -> torch.Tensor:
    """E‖target − target̂‖² in cfg.loss space for Z_τ = α_τ Z + σ_τ ε (paper §3 with cfg = ε/ε), optionally weighted
    elementwise (broadcast to Z), plus cfg.velocity_weight · E‖ΔẐ − ΔZ‖² over latent columns (EDGE)."""
    cfg = cfg or DiffusionConfig()
    z_tau = schedule.add_noise(z0, eps, tau)  # (B, Cz, Wl, Tl)
    eps_hat, x_hat = predictor(net, schedule, cfg, cfg.sigma_min)(z_tau, tau, **cond)
    if cfg.loss == "eps":
        err = (eps_hat - eps) ** 2
    elif cfg.loss == "x":
        err = (x_hat - z0) ** 2
    else:
        alpha, sigma = _coef(schedule, tau, z0)
        err = (alpha * (eps_hat - eps) - sigma * (x_hat - z0)) ** 2  # (v̂ − v)², v = α ε − σ Z
    if weight is None:
        loss = err.mean()
    else:
        weight = weight.to(err.dtype).expand_as(err)
        loss = (err * weight).sum() / weight.sum().clamp_min(1e-12)
    if cfg.velocity_weight > 0 and z0.shape[-1] > 1:
        vel = ((x_hat.diff(dim=-1) - z0.diff(dim=-1)) ** 2).mean()
        loss = loss + cfg.velocity_weight * vel
    return loss
