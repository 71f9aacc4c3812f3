"""3D rotary position embedding with time-shared indices for music and pose tokens (paper §3, Eq. pos)."""

from __future__ import annotations

import torch
from torch import nn

from dance2d.errors import Dance2DError


def pose_positions(wt: int, tl: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Indices pos_pose(w, t) = (0, w, t) of the pose tokens, w-major order (token w·Tl + t) (§3)."""
    w, t = torch.meshgrid(
        torch.arange(wt, device=device), torch.arange(tl, device=device), indexing="ij"
    )  # (Wt, Tl) each
    zero = torch.zeros_like(w)
    return torch.stack([zero, w, t], dim=-1).reshape(wt * tl, 3)  # (Wt·Tl, 3)


def music_positions(length: int, mode: str, device: torch.device | str | None = None) -> torch.Tensor:
    """Music token indices: (0, 0, t) when time-shared (§3), (ℓ, 0, 0) when sequential (§4.2 ablation)."""
    idx = torch.arange(length, device=device)
    zero = torch.zeros_like(idx)
    if mode == "time_shared":
        return torch.stack([zero, zero, idx], dim=-1)  # (L, 3)
    if mode == "sequential":
        return torch.stack([idx, zero, zero], dim=-1)  # (L, 3)
    raise Dance2DError(f"Unknown positional index mode {mode!r}; use 'time_shared' or 'sequential'.")


class Rope3D(nn.Module):
    """Rotary angles for 3-axis integer positions; each axis owns an even slice of the head dim (RoFormer)."""

    def __init__(self, axes_dims: tuple[int, int, int], theta: float = 10000.0):
        super().__init__()
        self.axes_dims = tuple(axes_dims)
        for i, d in enumerate(self.axes_dims):
            inv_freq = theta ** (-torch.arange(0, d, 2, dtype=torch.float32) / max(d, 1))  # (d/2,)
            self.register_buffer(f"inv_freq_{i}", inv_freq, persistent=False)

    def angles(self, pos: torch.Tensor) -> torch.Tensor:
        """Rotation angles (N, head_dim/2) for positions (N, 3); axis i fills its own slice."""
        parts = [
            pos[:, i, None].float() * getattr(self, f"inv_freq_{i}")[None, :]  # (N, d_i/2)
            for i in range(3)
        ]
        return torch.cat(parts, dim=-1)  # (N, head_dim/2)

    def forward(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin), each (N, head_dim/2), for positions (N, 3)."""
        ang = self.angles(pos)
        return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent channel pairs of x (B, H, N, hd) by the angles behind cos/sin (N, hd/2)."""
    xf = x.float().unflatten(-1, (-1, 2))  # (B, H, N, hd/2, 2)
    x1, x2 = xf[..., 0], xf[..., 1]  # (B, H, N, hd/2)
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, H, N, hd/2, 2)
    return out.flatten(-2).to(x.dtype)  # (B, H, N, hd)
