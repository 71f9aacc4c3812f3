"""Condition embedders: diffusion step τ and music tokens A with a learned null token (paper §3, CFG §4)."""

from __future__ import annotations

import math

import torch
from torch import nn


def timestep_features(tau: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features (B, dim) of the diffusion step τ (B,) (DDPM/DiT timestep embedding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=tau.device, dtype=torch.float32) / half)
    args = tau.float()[:, None] * freqs[None, :]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, 2·half)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)  # (B, dim)
    return emb


class TimestepEmbedder(nn.Module):
    """τ → sinusoidal features → MLP; the result drives every adaLN modulation (DiT)."""

    def __init__(self, out_dim: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, tau: torch.Tensor) -> torch.Tensor:
        """Embedding (B, out_dim) of diffusion steps τ (B,)."""
        return self.mlp(timestep_features(tau, self.freq_dim).to(self.mlp[0].weight.dtype))  # (B, D_c)


class MusicEmbedder(nn.Module):
    """Music tokens A (B, L, Dm) → RMSNorm → linear to D; owns CFG dropout and the learned null token (§4)."""

    def __init__(self, music_dim: int, dim: int, dropout: float, eps: float = 1e-5):
        super().__init__()
        self.dropout = dropout
        self.norm = nn.RMSNorm(music_dim, eps=eps)
        self.proj = nn.Linear(music_dim, dim)
        self.null_token = nn.Parameter(torch.zeros(dim))  # learned "no music" embedding, every position

    def forward(self, music: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Embedded tokens (B, L, D); samples with keep=False (or dropped in training) get the null token."""
        b = music.shape[0]
        if keep is None:
            keep = torch.ones(b, dtype=torch.bool, device=music.device)  # (B,)
        if self.training and self.dropout > 0:
            keep = keep & (torch.rand(b, device=music.device) >= self.dropout)  # (B,)
        y = self.proj(self.norm(music))  # (B, L, D)
        return torch.where(keep[:, None, None], y, self.null_token.to(y.dtype))  # (B, L, D)
