"""Reference-pose conditioning: repeated reference, pose-aware replacement, mask M (paper §3, supp. §6)."""

from dance2d.conditioning.reference import build_reference, reference_mask, sample_replacement

__all__ = ["build_reference", "reference_mask", "sample_replacement"]
