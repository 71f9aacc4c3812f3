"""Noise schedule, ε-prediction loss, samplers over a denoise callable and the CFG wrapper (paper §3)."""

from dance2d.diffusion.guidance import cfg_denoiser
from dance2d.diffusion.loss import eps_loss
from dance2d.diffusion.samplers import sample_ddim, sample_dpmpp_2m
from dance2d.diffusion.schedule import SCHEDULES, NoiseSchedule

__all__ = ["SCHEDULES", "NoiseSchedule", "cfg_denoiser", "eps_loss", "sample_ddim", "sample_dpmpp_2m"]
