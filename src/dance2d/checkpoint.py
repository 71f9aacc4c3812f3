"""Checkpoints: safetensors weights with the full config JSON in the metadata; optimizer state in a separate file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from dance2d import __version__
from dance2d.atomic import atomic_path
from dance2d.errors import Dance2DError

FORMAT = "dance2d.checkpoint/1"


def save_checkpoint(path: str | os.PathLike, state: dict[str, torch.Tensor], config: dict) -> None:
    """Write weights + {"format", "version", "config"} metadata atomically."""
    meta = {"format": FORMAT, "version": __version__, "config": json.dumps(config)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def read_config(path: str | os.PathLike) -> dict:
    """The config stored in a checkpoint's metadata, with clear errors for foreign or garbled files."""
    path = Path(path)
    if not path.is_file():
        raise Dance2DError(f"Checkpoint {path} does not exist; pass the path of a dance2d .safetensors file.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise Dance2DError(f"Checkpoint {path} is not a readable safetensors file ({e}).") from None
    if meta.get("format") != FORMAT:
        raise Dance2DError(f"Checkpoint {path} was not written by dance2d ({FORMAT}); retrain or convert it.")
    try:
        config = json.loads(meta["config"])
    except (KeyError, json.JSONDecodeError):
        raise Dance2DError(f"Checkpoint {path} has a missing or garbled config in its metadata.") from None
    for key in ("model", "data"):
        if not isinstance(config.get(key), dict):
            raise Dance2DError(f"Checkpoint {path} config lacks the {key!r} section; it is from another version.")
    return config


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """(weights, config) of a checkpoint written by save_checkpoint."""
    config = read_config(path)
    return load_file(str(path)), config
