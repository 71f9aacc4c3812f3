"""Pose DiT: joint self-attention over [music tokens ; pose latent tokens] with 3D RoPE (paper §3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dance2d.errors import Dance2DError
from dance2d.model.config import DiTConfig
from dance2d.model.embed import MusicEmbedder, TimestepEmbedder
from dance2d.model.rope import Rope3D, apply_rope, music_positions, pose_positions


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x·(1 + scale) + shift, with per-sample (B, D) modulation broadcast over tokens."""
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class Attention(nn.Module):
    """Multi-head self-attention with QK-RMSNorm and 3D RoPE, via scaled_dot_product_attention."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.out = nn.Linear(cfg.dim, cfg.dim, bias=False)
        norm = (lambda: nn.RMSNorm(cfg.head_dim, eps=cfg.norm_eps)) if cfg.qk_norm else nn.Identity
        self.q_norm, self.k_norm = norm(), norm()

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Attend over all N tokens of x (B, N, D)."""
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (B, H, N, hd)
        q = apply_rope(self.q_norm(q), cos, sin)  # (B, H, N, hd)
        k = apply_rope(self.k_norm(k), cos, sin)  # (B, H, N, hd)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, H, N, hd)
        return self.out(y.transpose(1, 2).reshape(b, n, d))  # (B, N, D)


class SwiGLU(nn.Module):
    """Gated feed-forward w2(silu(w1 x) ⊙ w3 x) (Lumina / LLaMA)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) → (B, N, D)."""
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class DiTBlock(nn.Module):
    """Lumina-style block: RMSNorm sandwich, joint attention, SwiGLU, adaLN-zero on the diffusion step."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.norm1 = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps, elementwise_affine=False)
        self.attn = Attention(cfg)
        self.post_attn_norm = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.norm2 = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps, elementwise_affine=False)
        self.ffn = SwiGLU(cfg.dim, cfg.ffn_dim)
        self.post_ffn_norm = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.adaLN = nn.Sequential(nn.SiLU(), nn.Linear(cfg.adaln_dim, 6 * cfg.dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Update tokens x (B, N, D) given the step embedding c (B, D_c)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN(c).chunk(6, dim=-1)  # 6 × (B, D)
        h = self.attn(modulate(self.norm1(x), shift1, scale1), cos, sin)  # (B, N, D)
        x = x + gate1[:, None, :] * self.post_attn_norm(h)  # (B, N, D)
        h = self.ffn(modulate(self.norm2(x), shift2, scale2))  # (B, N, D)
        return x + gate2[:, None, :] * self.post_ffn_norm(h)  # (B, N, D)


class FinalLayer(nn.Module):
    """adaLN + linear from token width to one p_w×1 patch of the output, plus a residual MLP when head_hidden > 0:
    a linear layer puts every token in a dim-dimensional affine subspace of the p_w·Cz outputs, an MLP does not."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.norm = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps, elementwise_affine=False)
        self.adaLN = nn.Sequential(nn.SiLU(), nn.Linear(cfg.adaln_dim, 2 * cfg.dim))
        self.linear = nn.Linear(cfg.dim, cfg.patch_w * cfg.latent_channels)
        self.mlp = None
        if cfg.head_hidden:
            self.mlp = nn.Sequential(nn.Linear(cfg.dim, cfg.head_hidden), nn.GELU(approximate="tanh"),
                                     nn.Linear(cfg.head_hidden, cfg.patch_w * cfg.latent_channels))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(B, Np, D) → (B, Np, p_w·Cz)."""
        shift, scale = self.adaLN(c).chunk(2, dim=-1)  # 2 × (B, D)
        h = modulate(self.norm(x), shift, scale)  # (B, Np, D)
        out = self.linear(h)  # (B, Np, p_w·Cz)
        return out if self.mlp is None else out + self.mlp(h)


class DiT(nn.Module):
    """ε̂_θ = f_θ([Z_τ ‖ Z_ref ‖ M], A) with time-shared 3D RoPE indices (paper §3, Training objective)."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = cfg = config
        self.x_embedder = nn.Linear(cfg.in_channels * cfg.patch_w, cfg.dim)
        self.t_embedder = TimestepEmbedder(cfg.adaln_dim, cfg.freq_dim)  # τ embedder (name kept: checkpoint keys)
        self.music_embedder = MusicEmbedder(cfg.music_dim, cfg.dim, cfg.music_dropout, cfg.norm_eps)
        self.rope = Rope3D(cfg.axes_dims, cfg.rope_theta)
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.depth))
        self.final = FinalLayer(cfg)
        self._init_weights()

    def _init_weights(self) -> None:
        """All initialisation in one place (DiT habit)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for m in self.t_embedder.mlp:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
        nn.init.normal_(self.music_embedder.null_token, std=0.02)
        for block in self.blocks:
            # adaLN-zero: shift, scale and gate start at 0, so every block starts as the identity map
            # and the deep network trains like a shallow one at first (DiT §3.2).
            nn.init.zeros_(block.adaLN[-1].weight)
            nn.init.zeros_(block.adaLN[-1].bias)
        # Final modulation and projection at 0: ε̂ = 0 at init, the loss starts at E‖ε‖² = 1 per element
        # instead of a random prediction with a large, noisy gradient.
        nn.init.zeros_(self.final.adaLN[-1].weight)
        nn.init.zeros_(self.final.adaLN[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)
        if self.final.mlp is not None:  # zero output: a model grown from a linear-head checkpoint starts unchanged
            nn.init.zeros_(self.final.mlp[-1].weight)
            nn.init.zeros_(self.final.mlp[-1].bias)

    def _check(self, z_tau, music, ref, mask) -> None:
        """Raise Dance2DError when input shapes do not fit this config."""
        cfg = self.config
        if z_tau.ndim != 4 or z_tau.shape[1] != cfg.latent_channels:
            raise Dance2DError(
                f"DiT input must be (B, {cfg.latent_channels}, Wl, Tl); got shape {tuple(z_tau.shape)}."
            )
        b, _, wl, tl = z_tau.shape
        if wl % cfg.patch_w:
            raise Dance2DError(f"Latent width {wl} is not divisible by patch_w {cfg.patch_w}.")
        if music.ndim != 3 or music.shape[0] != b or music.shape[2] != cfg.music_dim:
            raise Dance2DError(f"Music tokens must be ({b}, L, {cfg.music_dim}); got {tuple(music.shape)}.")
        if cfg.index == "time_shared" and music.shape[1] != tl:
            raise Dance2DError(
                f"Time-shared indexing needs one music token per latent column (L = Tl = {tl}); "
                f"got L = {music.shape[1]}."
            )
        if cfg.reference:
            want = {"ref": (b, cfg.latent_channels, wl, tl), "mask": (b, cfg.mask_phases, wl, tl)}
            for name, x in (("ref", ref), ("mask", mask)):
                if x is None or tuple(x.shape) != want[name]:
                    got = None if x is None else tuple(x.shape)
                    raise Dance2DError(f"This model needs {name} of shape {want[name]}; got {got}.")
        elif ref is not None or mask is not None:
            raise Dance2DError("This model was built with reference=False; do not pass ref or mask.")

    def forward(
        self,
        z_tau: torch.Tensor,
        tau: torch.Tensor,
        music: torch.Tensor,
        ref: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        music_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The network output (B, Cz, Wl, Tl) — ε, v or Ẑ (diffusion/target.py) — from Z_τ (B, Cz, Wl, Tl), diffusion
        steps τ (B,) and music tokens A (B, L, Dm)."""
        cfg = self.config
        self._check(z_tau, music, ref, mask)
        b, _, wl, tl = z_tau.shape
        wt, pw = wl // cfg.patch_w, cfg.patch_w
        if tau.ndim == 0:
            tau = tau.expand(b)  # (B,)
        x = torch.cat([z_tau, ref, mask.to(z_tau.dtype)], dim=1) if cfg.reference else z_tau  # (B, Cin, Wl, Tl)
        cin = x.shape[1]
        x = x.reshape(b, cin, wt, pw, tl).permute(0, 2, 4, 1, 3).reshape(b, wt * tl, cin * pw)  # (B, Np, Cin·pw)
        x = self.x_embedder(x)  # (B, Np, D)
        y = self.music_embedder(music, music_keep)  # (B, L, D)
        c = self.t_embedder(tau)  # (B, D_c)
        pos = torch.cat(
            [music_positions(y.shape[1], cfg.index, x.device), pose_positions(wt, tl, x.device)], dim=0
        )  # (L + Np, 3)
        cos, sin = self.rope(pos)  # (L + Np, hd/2) each
        h = torch.cat([y.to(x.dtype), x], dim=1)  # (B, L + Np, D)
        for block in self.blocks:
            h = block(h, c, cos, sin)  # (B, L + Np, D)
        out = self.final(h[:, y.shape[1]:], c)  # (B, Np, pw·Cz)
        out = out.reshape(b, wt, tl, cfg.latent_channels, pw).permute(0, 3, 1, 4, 2)  # (B, Cz, Wt, pw, Tl)
        return out.reshape(b, cfg.latent_channels, wl, tl)  # (B, Cz, Wl, Tl)


def count_parameters(config: DiTConfig) -> int:
    """Number of trainable parameters of DiT(config), counted on the meta device (nothing allocated)."""
    with torch.device("meta"):
        model = DiT(config)
    return sum(p.numel() for p in model.parameters())
