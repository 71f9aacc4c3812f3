"""DiT model settings and named size presets (paper §3, §4 Implementation: Lumina-Image-2.0-like backbone)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from dance2d.errors import Dance2DError

INDEX_MODES = ("time_shared", "sequential")


@dataclass
class DiTConfig:
    """Architecture of the pose DiT; run flags (lr, steps, paths) live elsewhere (paper §3)."""

    latent_channels: int = 384  # Cz: channels of the pose latent Z (c·G; 32·12 for TAEF2 + openpose-18)
    patch_w: int = 2  # p_w: patch width in latent rows; patches are p_w×1 so token time = latent column
    dim: int = 256  # D: transformer width
    depth: int = 6  # number of joint-attention blocks
    heads: int = 4  # attention heads; head_dim = dim / heads
    mlp_ratio: float = 4.0  # SwiGLU hidden size ≈ mlp_ratio·dim, rounded up to a multiple of 64
    music_dim: int = 280  # Dm: size of one music token (8 frames × 35 features)
    mask_phases: int = 8  # P: frames per latent column = channels of the reference mask M (1 for raw)
    reference: bool = True  # input is [Z_τ ‖ Z_ref ‖ M]; False: Z_τ only (the §4.2 ablation)
    index: str = "time_shared"  # music RoPE index: "time_shared" (0,0,t) or "sequential" (ℓ,0,0) (§3, §4.2)
    music_dropout: float = 0.3  # probability of replacing a sample's music by the null token in training (CFG)
    rope_theta: float = 10000.0  # RoPE base frequency
    rope_axes_dims: tuple[int, int, int] | None = None  # head-dim split over RoPE axes (ℓ, w, t); None: even
    qk_norm: bool = True  # RMSNorm on queries and keys per head (Lumina habit, stabilises attention)
    norm_eps: float = 1e-5  # epsilon of every RMSNorm
    freq_dim: int = 256  # size of the sinusoidal timestep features fed to the timestep MLP
    cond_dim: int | None = None  # width of the timestep embedding driving adaLN; None: min(dim, 1024)
    head_hidden: int = 0  # 0: linear output layer (paper); N: plus a residual N-wide MLP, so a token's output is
    # not confined to a dim-dimensional affine subspace (docs/decisions.md, "Token width")

    def __post_init__(self) -> None:
        if isinstance(self.rope_axes_dims, list):
            self.rope_axes_dims = tuple(self.rope_axes_dims)
        if self.index not in INDEX_MODES:
            raise Dance2DError(f"DiT index must be one of {', '.join(INDEX_MODES)}, got {self.index!r}.")
        if self.dim % self.heads != 0:
            raise Dance2DError(f"DiT dim {self.dim} must be divisible by heads {self.heads}.")
        if self.head_dim % 2 != 0:
            raise Dance2DError(f"DiT head_dim {self.head_dim} (dim/heads) must be even for RoPE.")
        axes = self.axes_dims
        if len(axes) != 3 or sum(axes) != self.head_dim or any(a < 0 or a % 2 for a in axes):
            raise Dance2DError(
                f"rope_axes_dims {axes} must be three even numbers summing to head_dim {self.head_dim}."
            )
        if not 0.0 <= self.music_dropout < 1.0:
            raise Dance2DError(f"music_dropout must be in [0, 1), got {self.music_dropout}.")
        for name in ("latent_channels", "patch_w", "depth", "music_dim", "mask_phases", "freq_dim"):
            if getattr(self, name) < 1:
                raise Dance2DError(f"DiT {name} must be at least 1, got {getattr(self, name)}.")
        if self.head_hidden < 0:
            raise Dance2DError(f"DiT head_hidden must be 0 (linear head) or positive, got {self.head_hidden}.")

    @property
    def head_dim(self) -> int:
        """Channels per attention head."""
        return self.dim // self.heads

    @property
    def axes_dims(self) -> tuple[int, int, int]:
        """Head-dim split over the 3 RoPE axes (ℓ, w, t); the even split gives leftovers to t, then w."""
        if self.rope_axes_dims is not None:
            return tuple(self.rope_axes_dims)
        base = 2 * (self.head_dim // 6)
        extra = self.head_dim - 3 * base  # 0, 2 or 4
        return (base, base + (2 if extra == 4 else 0), base + (2 if extra >= 2 else 0))

    @property
    def ffn_dim(self) -> int:
        """SwiGLU hidden width."""
        return 64 * math.ceil(self.mlp_ratio * self.dim / 64)

    @property
    def adaln_dim(self) -> int:
        """Width of the timestep embedding that drives adaLN modulation."""
        return self.cond_dim if self.cond_dim is not None else min(self.dim, 1024)

    @property
    def in_channels(self) -> int:
        """Channels of the DiT input: Z_τ, plus Z_ref and M when reference conditioning is on."""
        if self.reference:
            return 2 * self.latent_channels + self.mask_phases
        return self.latent_channels

    def to_dict(self) -> dict:
        """JSON-able dict of every field."""
        d = dataclasses.asdict(self)
        if d["rope_axes_dims"] is not None:
            d["rope_axes_dims"] = list(d["rope_axes_dims"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DiTConfig:
        """Inverse of to_dict; unknown or missing keys are an error (a checkpoint from another version), except
        fields added later whose default (ADDED_FIELDS) builds the model older checkpoints were trained as."""
        names = {f.name for f in dataclasses.fields(cls)}
        d = {**ADDED_FIELDS, **d}
        unknown = sorted(set(d) - names)
        missing = sorted(names - set(d))
        if unknown or missing:
            raise Dance2DError(
                f"DiT config does not match this version of dance2d (unknown keys: {unknown or 'none'}, "
                f"missing keys: {missing or 'none'}); use a checkpoint written by this version."
            )
        return cls(**d)


# Fields added after checkpoints were released, with the value that builds the model those checkpoints hold.
ADDED_FIELDS: dict = {"head_hidden": 0}

# Named sizes (DiT `DiT_models` habit); only size fields, data-dependent fields come from overrides.
PRESETS: dict[str, dict] = {
    "tiny": dict(dim=64, depth=2, heads=4, mlp_ratio=4.0),  # unit tests
    "small": dict(dim=256, depth=6, heads=4, mlp_ratio=4.0),  # trainable on a few CPU cores
    "base": dict(dim=768, depth=12, heads=12, mlp_ratio=4.0),  # one GPU
    "paper": dict(dim=2304, depth=26, heads=24, mlp_ratio=4.0),  # ≈2.6B, Lumina-Image-2.0-like (§4)
}


def make_config(preset: str, **overrides) -> DiTConfig:
    """A DiTConfig from a named size preset with field overrides."""
    if preset not in PRESETS:
        raise Dance2DError(f"Unknown model preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    names = {f.name for f in dataclasses.fields(DiTConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise Dance2DError(f"Unknown DiT config fields {unknown}; valid fields are {sorted(names)}.")
    return DiTConfig(**{**PRESETS[preset], **overrides})
