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
                     clip_seconds: float | None = None, skip_seconds: float = 0.0
                     ) -> list[tuple[PoseSequence, Beats]]:
        """Ground-truth openpose18 sequences of a split at `fps` (clip_seconds of each, after its first skip_seconds;
        `long_enough` leaves out those too short) with their music beats (None without music). Where the music is
        known, meta holds "music" (file) and "start" (seconds, of the sequence's first frame)."""
        raise Dance2DError(f"Dataset {self.name!r} has no ground truth for evaluation.")

    def check_split(self, split: str) -> None:
        """Raise unless `split` is one of this dataset's splits."""
        if split not in self.splits:
            raise Dance2DError(f"Unknown {self.name} split {split!r}; use one of {', '.join(map(repr, self.splits))}.")


MIN_WINDOW_SECONDS = 5.0  # a sequence with less than this left after skip_seconds is left out of the evaluation


def crop_seconds(seq: PoseSequence, clip_seconds: float | None, skip_seconds: float = 0.0) -> PoseSequence:
    """`clip_seconds` of a sequence (the rest for None) from `skip_seconds` on; a skip moves meta "start" (the music
    under the first frame) with it."""
    if clip_seconds is not None and not clip_seconds > 0:
        raise Dance2DError(f"clip_seconds={clip_seconds} must be a positive number of seconds.")
    if not skip_seconds >= 0:
        raise Dance2DError(f"skip_seconds={skip_seconds} must be zero or a positive number of seconds.")
    first = int(round(skip_seconds * seq.fps))
    stop = len(seq) if clip_seconds is None else first + max(2, int(round(clip_seconds * seq.fps)))
    out = seq.slice(first, stop)
    if first and out.meta.get("start") is not None:
        out.meta["start"] = float(out.meta["start"]) + first / seq.fps
    return out


def long_enough(items: list[tuple[PoseSequence, Beats]], clip_seconds: float | None,
            skip_seconds: float) -> list[tuple[PoseSequence, Beats]]:
    """The cropped (sequence, beats) pairs that keep at least MIN_WINDOW_SECONDS (or the whole clip_seconds, when
    shorter) after a skip; all of them without one."""
    least = min(MIN_WINDOW_SECONDS, clip_seconds or MIN_WINDOW_SECONDS)
    return [(s, b) for s, b in items if not skip_seconds or len(s) >= round(least * s.fps)]
