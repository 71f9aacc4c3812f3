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
from dance2d.data.config import DataConfig
from dance2d.errors import Dance2DError
from dance2d.model.config import DiTConfig

FORMAT = "dance2d.checkpoint/1"


def save_checkpoint(path: str | os.PathLike, state: dict[str, torch.Tensor], config: dict) -> None:
    """Write weights + {"format", "version", "config"} metadata atomically."""
    meta = {"format": FORMAT, "version": __version__, "config": json.dumps(config)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def save_sharded(folder: str | os.PathLike, state: dict[str, torch.Tensor], config: dict,
                 max_bytes: int = 16 * 2**20) -> list[Path]:
    """Write weights as model-XXXXX-of-YYYYY.safetensors files of at most max_bytes of tensor data each (every
    shard carries the config), for file-size limits; `load_checkpoint(folder)` joins them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups, size = [[]], 0
    for k, v in state.items():
        n = v.numel() * v.element_size()
        if n > max_bytes:
            raise Dance2DError(f"Weight {k} alone holds {n / 2**20:.1f} MiB, more than the {max_bytes / 2**20:g} MiB "
                               "shard limit; raise the limit.")
        if groups[-1] and size + n > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(k)
        size += n
    paths = [folder / f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
    for keys, p in zip(groups, paths, strict=True):
        save_checkpoint(p, {k: state[k] for k in keys}, config)
    return paths


def _shards(folder: Path) -> list[Path]:
    shards = sorted(folder.glob("model-*-of-*.safetensors"))
    if not shards:
        raise Dance2DError(f"Folder {folder} holds no model-*-of-*.safetensors shards; pass a checkpoint file or a "
                           "folder written by save_sharded.")
    expected = int(shards[0].stem.rsplit("-of-", 1)[1])
    if len(shards) != expected:
        raise Dance2DError(f"Folder {folder} holds {len(shards)} of the {expected} shards of its model; copy the "
                           "missing ones.")
    return shards


def read_config(path: str | os.PathLike) -> dict:
    """The config stored in a checkpoint's metadata, with clear errors for foreign or garbled files."""
    path = Path(path)
    if path.is_dir():
        path = _shards(path)[0]
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
    if Path(path).is_dir():
        state = {}
        for shard in _shards(Path(path)):
            state.update(load_file(str(shard)))
        return state, config
    return load_file(str(path)), config


def average_checkpoints(paths: list[str | os.PathLike]) -> tuple[dict[str, torch.Tensor], dict]:
    """(uniform average of the weights, config of the first) of checkpoints of one model: a weight average of
    checkpoints from one training lineage (docs/decisions.md, "Averaging the one-hot lineage"). Every file must
    have the first's model config and pose representation."""
    first, config = load_checkpoint(paths[0])
    total = {k: v.double() if v.is_floating_point() else v for k, v in first.items()}
    data = DataConfig.from_dict(config["data"])
    for path in paths[1:]:
        state, other = load_checkpoint(path)
        diff = data.representation_diff(DataConfig.from_dict(other["data"]))
        same_model = DiTConfig.from_dict(other["model"]) == DiTConfig.from_dict(config["model"])
        if not same_model or diff or set(state) != set(first):
            raise Dance2DError(f"Checkpoint {path} is not the same model as {paths[0]} (its model config, pose "
                               "representation or weights differ); average checkpoints of one training run only.")
        for k, v in state.items():
            if v.is_floating_point():
                total[k] = total[k] + v.double()
    n = len(paths)
    return {k: (v / n).to(first[k].dtype) if first[k].is_floating_point() else v for k, v in total.items()}, config
