"""Reference-pose conditioning: shape-only and pose-aware reference latents, mask M (paper §3, §4.1, supp. §6)."""

from dance2d.conditioning.reference import (
    POSE_AWARE_FRAMES,
    pose_aware,
    pose_aware_columns,
    reference_mask,
    sample_replacement,
)

__all__ = ["POSE_AWARE_FRAMES", "pose_aware", "pose_aware_columns", "reference_mask", "sample_replacement"]
