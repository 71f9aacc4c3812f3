"""Datasets (Dance with Melody, AIST++ 2D, in-the-wild pose folders) registered by name, 3D→2D cameras, the data
config, the latent cache and training windows.

Adding a dataset: a module with a DanceDataset subclass (data/dataset.py) and one entry in DATASETS.
"""

from __future__ import annotations

import os

from dance2d.data.aistpp import AISTPP2D
from dance2d.data.clip import Clip
from dance2d.data.dataset import DanceDataset
from dance2d.data.dwm import DanceWithMelody
from dance2d.data.wild import Wild
from dance2d.errors import Dance2DError

DATASETS: dict[str, type[DanceDataset]] = {d.name: d for d in (DanceWithMelody, AISTPP2D, Wild)}
GT_DATASETS = tuple(n for n, d in DATASETS.items() if d.reference_split)  # those with ground truth for evaluation


def get_dataset(name: str) -> DanceDataset:
    """The dataset registered under `name`."""
    if name not in DATASETS:
        raise Dance2DError(f"Unknown dataset {name!r}; valid names are: {', '.join(DATASETS)}.")
    return DATASETS[name]()


def load_dataset(name: str, root: str | os.PathLike, split: str = "train", **kw) -> list[Clip]:
    """Clips of a dataset split (keyword arguments as DanceDataset.clips)."""
    return get_dataset(name).clips(root, split, **kw)


__all__ = ["DATASETS", "GT_DATASETS", "Clip", "DanceDataset", "get_dataset", "load_dataset"]
