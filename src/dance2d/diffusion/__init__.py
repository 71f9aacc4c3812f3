"""Noise schedule, prediction targets and losses, samplers over a denoise callable and the CFG wrapper (paper §3)."""

from dance2d.diffusion.guidance import cfg_denoiser
from dance2d.diffusion.samplers import SAMPLERS, sample_ddim, sample_ddpm, sample_dpmpp_2m
from dance2d.diffusion.schedule import SCHEDULES, NoiseSchedule
from dance2d.diffusion.target import DiffusionConfig, diffusion_loss, eps_model, predictor

__all__ = ["SAMPLERS", "SCHEDULES", "DiffusionConfig", "NoiseSchedule", "cfg_denoiser", "diffusion_loss", "eps_model",
           "predictor", "sample_ddim", "sample_ddpm", "sample_dpmpp_2m"]
