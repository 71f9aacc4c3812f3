"""Training windows over a latent cache: T-frame windows starting at multiples of the codec's time stride."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dance2d.codec import codec_class
from dance2d.data.cache import CACHE_FORMAT, INDEX_NAME
from dance2d.data.config import DataConfig
from dance2d.errors import Dance2DError

DEFAULT_STRIDE = 8  # frames between window starts (a latent column for the 8× codecs)


def _from_format_1(index: dict) -> dict:
    """A dance2d.cache/1 index (one flat dict; "ref_frames" was the window T) in the current shape."""
    data = {k: index[k] for k in ("codec", "width", "sigma", "fps", "layout", "canvas", "time_stride",
                                  "latent_channels", "latent_mean", "latent_std")}
    build = {k: index[k] for k in ("refs_per_view", "rng_seed", "chunk_frames", "context_frames")}
    data = DataConfig(**data, frames=index["ref_frames"]).to_dict()
    return {"format": CACHE_FORMAT, "data": data, "build": build, "num_views": index["num_views"],
            "views": index["views"]}


def read_index(cache_dir: str | os.PathLike, codec: str | None = None, width: int | None = None) -> dict:
    """Load and check a cache's index.json (optionally that it was built with `codec` and `width`); index["data"] is
    a DataConfig dict."""
    d = Path(cache_dir)
    p = d / INDEX_NAME
    if not p.is_file():
        raise Dance2DError(f"Cache folder {d} has no {INDEX_NAME}; build it with `dance2d prepare` (or build_cache) "
                           "or pass the folder that holds it.")
    try:
        index = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise Dance2DError(f"{p} is malformed ({e.msg}); rebuild the cache with `dance2d prepare`.") from None
    if index.get("format") == "dance2d.cache/1" and index.get("views"):
        index = _from_format_1(index)
    if index.get("format") != CACHE_FORMAT or not index.get("views"):
        raise Dance2DError(f"{p} is not a dance2d latent cache index (or lists no views); rebuild the cache.")
    data = DataConfig.from_dict(index["data"])
    if codec is not None and data.codec != codec:
        raise Dance2DError(f"Cache {d} holds '{data.codec}' latents but codec '{codec}' was asked for; "
                           "rebuild the cache with that codec or change the setting.")
    if width is not None and data.width != codec_class(data.codec).image_width(width):
        raise Dance2DError(f"Cache {d} was built at one-hot width {data.width} but width {width} was asked for; "
                           "rebuild the cache or change the setting.")
    return index


class WindowDataset(Dataset):
    """Windows of T frames from every cached view; items are dicts of tensors for the training loop.

    Item: z (Cz, W', T/ts), ref_z (Cz, W', F/ts) of one random reference of the same view (F: the cache's
    frames), ref_pose (K, 3), music (T, D), keypoints (T, K, 3), name. Latents are raw (not normalised):
    `data.normalize_latents` normalises them with the cache's per-channel statistics.
    """

    def __init__(self, cache_dir: str | os.PathLike, T: int, seed: int = 0, codec: str | None = None,
                 width: int | None = None, stride: int | None = None):
        self.dir = Path(cache_dir)
        self.index = read_index(self.dir, codec, width)
        self.data = DataConfig.from_dict(self.index["data"])
        ts = self.data.time_stride
        if T < ts or T % ts:
            raise Dance2DError(f"Window length T={T} must be a positive multiple of {ts} frames.")
        stride = stride or max(ts, DEFAULT_STRIDE)
        if stride % ts:
            raise Dance2DError(f"Window stride {stride} must be a multiple of {ts} frames.")
        self.T, self.ts, self.seed = T, ts, seed
        self._held: list[dict] | None = None  # per view: z, music, ref_z tensors after preload()
        self.windows = [(vi, s) for vi, v in enumerate(self.index["views"])
                        for s in range(0, int(v["frames"]) - T + 1, stride)]  # (view, start frame)
        if not self.windows:
            longest = max(int(v["frames"]) for v in self.index["views"])
            raise Dance2DError(f"No cached view in {self.dir} reaches T={T} frames (longest: {longest}); "
                               "use a shorter window.")

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        from safetensors import safe_open

        vi, s = self.windows[i]
        view = self.index["views"][vi]
        path = self.dir / view["file"]
        if not path.is_file():
            raise Dance2DError(f"Cache file {path} listed in {INDEX_NAME} is missing; rebuild the cache.")
        a, b = s // self.ts, (s + self.T) // self.ts
        with safe_open(str(path), framework="np") as f:
            z = f.get_slice("z")[:, :, a:b]  # (Cz, W', T/ts)
            music = f.get_slice("music")[s:s + self.T]  # (T, D)
            kp = f.get_slice("keypoints")[s:s + self.T]  # (T, K, 3)
            r = self._reference_of(i, f.get_slice("ref_poses").get_shape()[0])
            ref_pose = f.get_slice("ref_poses")[r]  # (K, 3)
            ref_z = f.get_slice("ref_z")[r]  # (Cz, W', F/ts)
        as_t = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # noqa: E731
        return {"z": as_t(z), "ref_z": as_t(ref_z), "ref_pose": as_t(ref_pose),
                "music": as_t(music), "keypoints": as_t(kp), "name": view["name"]}

    def _reference_of(self, i: int, n_refs: int) -> int:
        """Which of its view's cached references window i is conditioned on (fixed per window and seed)."""
        return int(np.random.default_rng([self.seed, i]).integers(n_refs))

    def preload(self, device: torch.device | str = "cpu") -> None:
        """Hold every view's latents, music and reference latents as float32 tensors on `device`, so `batch`
        slices windows there instead of reading files (on a GPU: no per-window file reads or host copies)."""
        from safetensors import safe_open

        self._held = []
        for view in self.index["views"]:
            with safe_open(str(self.dir / view["file"]), framework="pt") as f:
                self._held.append({k: f.get_tensor(k).float().to(device) for k in ("z", "music", "ref_z")})

    def batch(self, indices: list[int], device: torch.device | str = "cpu") -> dict:
        """The windows `indices` stacked for training on `device`: z (B, Cz, W', T/ts), music (B, T, D) and ref_z
        (B, Cz, W', F/ts), the same tensors as stacking `self[i]` for each i."""
        if self._held is None:
            items = [self[i] for i in indices]
            return {k: torch.stack([it[k] for it in items]).to(device) for k in ("z", "music", "ref_z")}
        parts = {"z": [], "music": [], "ref_z": []}
        for i in indices:
            vi, s = self.windows[i]
            v = self._held[vi]
            parts["z"].append(v["z"][:, :, s // self.ts:(s + self.T) // self.ts])
            parts["music"].append(v["music"][s:s + self.T])
            parts["ref_z"].append(v["ref_z"][self._reference_of(i, len(v["ref_z"]))])
        return {k: torch.stack(p).to(device) for k, p in parts.items()}
