"""Reference conditioning [Z_ref ‖ M]: shape-only or pose-aware reference latents and the mask M (paper §3, §4.1,
supplementary §6). Training and generation both build the DiT's reference input with `pose_aware`."""

from __future__ import annotations

import math

import numpy as np
import torch

from dance2d.errors import Dance2DError

POSE_AWARE_FRAMES = 16  # N: known frames of a pose-aware reference (paper §4: N = 16)


def reference_mask(n: int, wl: int, tl: int, phases: int = 8, as_torch: bool = False):
    """M ∈ {0,1}^(phases × Wl × Tl): M[:, :, :q] = 1 and M[:r, :, q] = 1, q = ⌊N/P⌋, r = N mod P (supp. §6)."""
    if n < 0 or phases < 1 or wl < 1 or tl < 1:
        raise Dance2DError(f"Reference mask needs N ≥ 0 and positive sizes; got N={n}, P={phases}, {wl}×{tl}.")
    m = np.zeros((phases, wl, tl), dtype=np.float32)
    q, r = divmod(n, phases)
    m[:, :, : min(q, tl)] = 1  # (ii) full pose-aware columns, clamped to Tl when N ≥ T
    if r > 0 and q < tl:
        m[:r, :, q] = 1  # (iii) first r phases of the partial column
    return torch.from_numpy(m) if as_torch else m


def pose_aware_columns(n_frames: int, stride: int) -> int:
    """Latent columns ⌈N/P⌉ that hold the N known frames (a partial column is taken whole; M marks its frames)."""
    return math.ceil(n_frames / stride)


def pose_aware(ref_z: torch.Tensor, source_z: torch.Tensor | None, n_frames: int,
               stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(Z_ref, M) for the DiT: the shape-only reference latents ref_z (B, Cz, W', T') with their first ⌈N/P⌉
    columns replaced by those of source_z (B, Cz, W', ≥⌈N/P⌉), whose first N frames are known — ground truth in
    training, the previous segment's last N frames in generation (§3, §4.1) — and the mask M (B, P, W', T') of
    those N frames (supp. §6). n_frames = 0: the shape-only reference, M = 0. P = stride, frames per column."""
    if n_frames < 0:
        raise Dance2DError(f"Pose-aware reference length N must be ≥ 0, got {n_frames}.")
    b, _, wl, tl = ref_z.shape
    ref = ref_z.clone()
    cols = min(pose_aware_columns(n_frames, stride), tl)
    if cols:
        if source_z is None or source_z.shape[-1] < cols:
            raise Dance2DError(f"A pose-aware reference of N={n_frames} frames needs source latents with at least "
                               f"{cols} columns.")
        ref[..., :cols] = source_z[..., :cols]
    mask = reference_mask(n_frames, wl, tl, stride, as_torch=True).to(ref.device)
    return ref, mask.expand(b, -1, -1, -1)  # (B, Cz, W', T'), (B, P, W', T')


def sample_replacement(n: int = POSE_AWARE_FRAMES, p: float = 0.5, generator=None) -> int:
    """Training draw: N with probability p (pose-aware reference), else 0 (shape-only) (§3)."""
    if not 0.0 <= p <= 1.0:
        raise Dance2DError(f"Replacement probability p must be in [0, 1], got {p}.")
    if isinstance(generator, torch.Generator):
        u = float(torch.rand((), generator=generator))
    else:
        u = float((generator if generator is not None else np.random.default_rng()).random())
    return n if u < p else 0
