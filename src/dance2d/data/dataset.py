"""The dataset interface: one module per dataset implements it; data/__init__.py registers the class by name.

A dataset gives clips with music for the training cache (`dance2d prepare`) and, where it has them, ground-truth
sequences for `dance2d evaluate`, both by split.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

import numpy as np

from dance2d.data.clip import Clip
from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence

Beats = np.ndarray | None  # music beat times in seconds from frame 0, or None where the source has no music
DEFAULT_CANVAS = (512, 512)  # canvas of virtual cameras when none is asked for


class DanceDataset(ABC):
    """Clips with music, ground truth for evaluation, and splits of one dataset."""

    name: str = ""  # registry name (the --dataset value)
    splits: tuple[str, ...] = ("train", "test", "all")  # split names `clips` and `ground_truth` accept
    gt_split: str | None = None  # split scored like a generated folder in the evaluation's GT row (None: no row)
    reference_split: str | None = None  # split every evaluation row is compared with (None: no ground truth)
    eval_notes: tuple[str, ...] = ()  # caveats written into the evaluation settings

    @abstractmethod
    def clips(self, root: str | os.PathLike, split: str = "train", *, fps: float = 25.0, seed: int = 0,
              limit: int | None = None, music_dir: str | os.PathLike | None = None,
              sr: int | None = None) -> list[Clip]:
        """The first `limit` clips (all for None) of a split at `fps`, with the audio under them (at `sr`, else the
        file's rate); seed fixes virtual cameras; music_dir: where datasets that ship without audio find it."""

    def ground_truth(self, root: str | os.PathLike, split: str, *, fps: float,
                     canvas: tuple[int, int] = DEFAULT_CANVAS, seed: int = 0, with_music: bool = True,
                     clip_seconds: float | None = None) -> list[tuple[PoseSequence, Beats]]:
        """Ground-truth openpose18 sequences of a split at `fps` (the first clip_seconds of each) with their music
        beats (None without music). Where the music is known, meta holds "music" (file) and "start" (seconds)."""
        raise Dance2DError(f"Dataset {self.name!r} has no ground truth for evaluation.")

    def check_split(self, split: str) -> None:
        """Raise unless `split` is one of this dataset's splits."""
        if split not in self.splits:
            raise Dance2DError(f"Unknown {self.name} split {split!r}; use one of {', '.join(map(repr, self.splits))}.")


def crop_seconds(seq: PoseSequence, clip_seconds: float | None) -> PoseSequence:
    """The first `clip_seconds` of a sequence (all of it for None)."""
    if clip_seconds is None:
        return seq
    if clip_seconds <= 0:
        raise Dance2DError(f"clip_seconds={clip_seconds} must be a positive number of seconds.")
    return seq.slice(0, max(2, int(round(clip_seconds * seq.fps))))
