"""Reference tensor X_ref_repeat, pose-aware replacement and the mask M (paper §3 and supplementary §6).

Array-agnostic: build_reference accepts numpy arrays or torch tensors and returns the same kind;
reference_mask returns numpy unless as_torch=True.
"""

from __future__ import annotations

import numpy as np
import torch

from dance2d.errors import Dance2DError


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


def build_reference(ref_frame, t: int, gt=None, n: int = 0):
    """X_ref_repeat (C, W, T): ref_frame (C, W) repeated over T, then X[:, :, :N] ← X_gt[:, :, :N] (§3)."""
    if ref_frame.ndim != 2:
        raise Dance2DError(f"Reference frame must be a (C, W) one-hot array; got shape {tuple(ref_frame.shape)}.")
    if n < 0:
        raise Dance2DError(f"Replacement length N must be ≥ 0, got {n}.")
    n = min(n, t)
    if n > 0:
        if gt is None or gt.ndim != 3 or tuple(gt.shape[:2]) != tuple(ref_frame.shape) or gt.shape[2] < n:
            got = None if gt is None else tuple(gt.shape)
            raise Dance2DError(
                f"Pose-aware reference with N={n} needs gt of shape ({ref_frame.shape[0]}, "
                f"{ref_frame.shape[1]}, ≥{n}); got {got}."
            )
    if isinstance(ref_frame, torch.Tensor):
        x = ref_frame[:, :, None].expand(-1, -1, t).clone()  # (C, W, T)
    else:
        x = np.repeat(np.asarray(ref_frame)[:, :, None], t, axis=2)  # (C, W, T)
    if n > 0:
        x[:, :, :n] = gt[:, :, :n]
    return x


def sample_replacement(n: int = 16, p: float = 0.5, generator=None) -> int:
    """Training draw: N with probability p (pose-aware reference), else 0 (shape-only) (§3)."""
    if not 0.0 <= p <= 1.0:
        raise Dance2DError(f"Replacement probability p must be in [0, 1], got {p}.")
    if isinstance(generator, torch.Generator):
        u = float(torch.rand((), generator=generator))
    else:
        u = float((generator if generator is not None else np.random.default_rng()).random())
    return n if u < p else 0
