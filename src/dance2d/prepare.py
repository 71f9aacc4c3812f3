"""`dance2d prepare`: read a dataset split and build the training cache of target latents (the codec is frozen).

    dance2d prepare --dataset dwm --root ../shared/data/dance_with_melody --out cache/dwm --views 2
"""

from __future__ import annotations

import os
from pathlib import Path

from dance2d.errors import Dance2DError


def prepare(dataset: str, root: str | os.PathLike, out: str | os.PathLike, *, split: str = "train",
            codec: str = "taef2", width: int = 128, sigma: float = 1.5, fps: float = 25.0, views: int = 2,
            frames: int = 128, mirror: bool = False, tempo_rates: tuple[float, ...] = (1.0,), seed: int = 0,
            limit: int | None = None, music_dir: str | None = None, progress: bool = True,
            triplets: str = "paper", tempo_to: float | None = None) -> Path:
    """Load clips and write the cache folder (resumable); returns the index path."""
    from dance2d.data import load_dataset
    from dance2d.data.cache import build_cache

    if not Path(root).is_dir():
        raise Dance2DError(f"Dataset folder {root} does not exist; pass the folder that holds the {dataset} data.")
    clips = load_dataset(dataset, root, split, fps=fps, seed=seed, limit=limit, music_dir=music_dir)
    if not clips:
        raise Dance2DError(f"The {split!r} split of {root} holds no usable clips.")
    return build_cache(clips, out, codec_name=codec, width=width, sigma=sigma, fps=fps, views_per_clip=views,
                       mirror=mirror, tempo_rates=tempo_rates, rng_seed=seed, progress=progress, frames=frames,
                       triplets=triplets, tempo_to=tempo_to)
