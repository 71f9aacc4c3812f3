"""Datasets (Dance with Melody, AIST++ 2D, in-the-wild pose folders), 3D→2D cameras, latent cache and windows."""

from __future__ import annotations

import os
from pathlib import Path

from dance2d.data.clip import Clip
from dance2d.errors import Dance2DError

DATASETS = ("dwm", "aistpp2d", "wild")  # names accepted by `load_dataset`


def load_dataset(name: str, root: str | os.PathLike, split: str = "train", *, fps: float = 30.0,
                 canvas: tuple[int, int] = (512, 512), seed: int = 0, music_dir: str | os.PathLike | None = None,
                 sr: int | None = None) -> list[Clip]:
    """Clips of a dataset split: "dwm" (random cameras, seeded), "aistpp2d" (2D slice + AIST music), "wild" (§7)."""
    import numpy as np

    if name == "dwm":
        from dance2d.data.dwm import dwm_split, load_dwm

        rng = np.random.default_rng(seed)
        return [load_dwm(f, fps=fps, canvas=canvas, camera=rng, sr=sr) for f in dwm_split(root, split)]
    if name == "aistpp2d":
        from dance2d.data.aistpp import load_aistpp2d, load_splits

        if music_dir is None:
            raise Dance2DError("AIST++ clips need the AIST music: pass music_dir, a folder with mKR0.wav etc.")
        names = set(load_splits(root)[split]) if split in ("train", "test") else None
        files = sorted((Path(root) / "keypoints2d_px").glob("*.npy"))
        files = [f for f in files if names is None or f.stem in names]
        if not files:
            raise Dance2DError(f"No keypoints2d_px/*.npy of split {split!r} under {root}.")
        return [load_aistpp2d(f, music_dir, fps=fps, sr=sr) for f in files]
    if name == "wild":
        from dance2d.data.wild import load_wild

        sub = Path(root) / split  # splits may be sub-folders: root/<split>/<video>/...
        if sub.is_dir():
            root = sub
        elif split not in ("train", "all"):
            raise Dance2DError(f"No {split}/ sub-folder in {root}; in-the-wild splits are folders "
                               "root/<split>/<video>/.")
        return load_wild(root, fps=fps, sr=sr)
    raise Dance2DError(f"Unknown dataset {name!r}; valid names are: {', '.join(DATASETS)}.")


__all__ = ["DATASETS", "Clip", "load_dataset"]
