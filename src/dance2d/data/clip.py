"""Clip: one dance (2D poses at a target fps) with the music under it, the unit every dataset reader returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dance2d.pose import PoseSequence


@dataclass
class Clip:
    """Poses and the audio segment under frames 0..T−1 (frame i ↔ audio time i / poses.fps)."""

    poses: PoseSequence  # 2D poses (openpose18) at the target fps
    wave: np.ndarray  # (n,) float32 mono audio under the poses
    sr: int  # audio sample rate in Hz
    name: str  # unique clip name (song / video id, plus a run range for split videos)
    meta: dict = field(default_factory=dict)  # provenance: source folder, camera, style, ...
    reproject: Callable[[np.random.Generator], PoseSequence] | None = None  # new view through a fresh
    # random camera (3D sources only; same frames and fps as `poses`), None for 2D sources

    @property
    def duration(self) -> float:
        """Seconds of motion."""
        return len(self.poses) / self.poses.fps
