"""DataConfig: how poses and music become the DiT's inputs and back; the cache writes it, checkpoints carry it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from dance2d.codec import codec_class
from dance2d.conditioning.reference import POSE_AWARE_FRAMES
from dance2d.errors import Dance2DError

# Keys of checkpoints written before DataConfig, under their current name.
LEGACY_KEYS = {"ref_frames": "pose_aware_frames"}


# Fields that define what a model sees (the pose image and the music features): a checkpoint trained with other
# values learned another representation, whatever its normalisation statistics.
REPRESENTATION_FIELDS = ("codec", "width", "sigma", "fps", "layout", "time_stride", "triplets", "music_encoder")


@dataclass
class DataConfig:
    """Data settings of a cache and of the model trained on it (the noise schedule lives in DiffusionConfig)."""

    codec: str  # codec registry name (dance2d/codec/__init__.py)
    width: int  # pose image width: the one-hot resolution W (1 for the raw codec's thin image)
    sigma: float  # Gaussian smoothing of the one-hot vectors, in bins
    fps: float  # pose frames per second (= music feature frames per second)
    layout: str  # keypoint layout of the poses (dance2d.pose.layouts)
    canvas: tuple[int, int]  # (width, height) in pixels of the training poses' canvas
    time_stride: int  # pose frames per latent column (the codec's time stride)
    latent_channels: int  # Cz: channels of the latent Z
    frames: int = 128  # T: frames of a training window and of a generated segment; reference latents span T
    pose_aware_frames: int = POSE_AWARE_FRAMES  # N: known frames given as pose-aware reference (paper §4: 16)
    music_encoder: str = "baseline35"  # music encoder registry name (dance2d.music.features)
    music_dim: int = 35  # D: features per music frame
    latent_mean: list[float] | None = None  # per-channel latent mean over the cache (normalisation)
    latent_std: list[float] | None = None  # per-channel latent std over the cache
    music_mean: list[float] | None = None  # per-feature music mean (set by training)
    music_std: list[float] | None = None  # per-feature music std (set by training)
    triplets: str = "paper"  # channel order of the one-hot image's RGB triplets (codec/base.py TRIPLET_ORDERS)
    home_tempo: float | None = None  # median tempo (BPM) of the training music (set by training; music/drive.py)

    def __post_init__(self) -> None:
        self.canvas = tuple(int(v) for v in self.canvas)
        for name in ("width", "time_stride", "latent_channels", "frames", "music_dim"):
            if int(getattr(self, name)) < 1:
                raise Dance2DError(f"Data config {name} must be at least 1, got {getattr(self, name)}.")
        if self.pose_aware_frames < 0:
            raise Dance2DError(f"Data config pose_aware_frames must be ≥ 0, got {self.pose_aware_frames}.")

    def representation_diff(self, other: DataConfig) -> list[str]:
        """The REPRESENTATION_FIELDS in which `other` draws another pose image or music input than this config
        ("field mine vs other"); σ and the triplet order count only for codecs whose image they shape."""
        cls = codec_class(self.codec) if self.codec == other.codec else None
        ignored = set() if cls is None else {f for f, used in (("sigma", cls.uses_sigma),
                                                                 ("triplets", cls.uses_triplets)) if not used}
        return [f"{k} {getattr(self, k)} vs {getattr(other, k)}" for k in REPRESENTATION_FIELDS
                if k not in ignored and getattr(self, k) != getattr(other, k)]

    def to_dict(self) -> dict:
        """JSON-able dict of every field."""
        d = dataclasses.asdict(self)
        d["canvas"] = list(self.canvas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DataConfig:
        """Inverse of to_dict; unknown keys are an error, missing keys with a default take it (older checkpoints),
        keys of older checkpoints are renamed (LEGACY_KEYS)."""
        d = {LEGACY_KEYS.get(k, k): v for k, v in d.items()}
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        unknown, missing = sorted(set(d) - names), sorted(required - set(d))
        if unknown or missing:
            raise Dance2DError(f"Data config does not match this version of dance2d (unknown keys: "
                               f"{unknown or 'none'}, missing keys: {missing or 'none'}); use a checkpoint or cache "
                               "written by this version.")
        return cls(**d)

    # ------------------------------------------------------------------ normalisation
    def _stat(self, name: str, like):
        """Statistic `name` as a float32 tensor or array, like `like`."""
        v = getattr(self, name)
        if v is None:
            raise Dance2DError(f"Data config has no {name}: normalisation statistics come from the cache (latents) "
                               "and from training (music).")
        return torch.tensor(v, device=like.device) if isinstance(like, torch.Tensor) else np.asarray(v, np.float32)

    def floor_latent_std(self, floor: float) -> DataConfig:
        """This config with every latent std below `floor` raised to it (the codec's latent_std_floor)."""
        if self.latent_std is None or floor <= 0:
            return self
        return dataclasses.replace(self, latent_std=[max(float(v), floor) for v in self.latent_std])

    def normalize_latents(self, z: torch.Tensor) -> torch.Tensor:
        """(Z − mean) / std per channel of latents (B, Cz, W', T')."""
        return (z - self._stat("latent_mean", z).view(1, -1, 1, 1)) / self._stat("latent_std", z).view(1, -1, 1, 1)

    def denormalize_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of normalize_latents."""
        return z * self._stat("latent_std", z).view(1, -1, 1, 1) + self._stat("latent_mean", z).view(1, -1, 1, 1)

    def normalize_music(self, feats):
        """(A − mean) / std per feature of music features (…, T, D), a numpy array or a tensor."""
        return (feats - self._stat("music_mean", feats)) / self._stat("music_std", feats)
