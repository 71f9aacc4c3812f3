"""Shared fixtures: a tiny randomly initialised checkpoint, short synthetic music, and the ../shared data folder."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from dance2d.checkpoint import save_checkpoint
from dance2d.data.config import DataConfig
from dance2d.model.config import make_config
from dance2d.model.dit import DiT
from dance2d.music.features import FEATURE_DIM

SHARED = Path(__file__).resolve().parents[2] / "shared"  # ../shared beside the repository: data, music (CI has it)


def needs_shared(*parts: str) -> pytest.MarkDecorator:
    """Mark a test that reads SHARED/<parts>: skipped where that is absent, a failure under CI=true (CI has it)."""
    return pytest.mark.shared(SHARED.joinpath(*parts))


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("shared"):
        path = mark.args[0]
        if not path.exists():
            if os.environ.get("CI", "").lower() in ("true", "1"):
                pytest.fail(f"{path} is missing; CI must provide the ../shared data folder.", pytrace=False)
            pytest.skip(f"{path} is absent (../shared data)")


def tiny_config(codec: str = "raw", frames: int = 64, reference: bool = True) -> tuple[DiT, dict]:
    """A tiny DiT (random weights) and the run config a checkpoint stores."""
    cz, stride, width = (54, 1, 1) if codec == "raw" else (384, 8, 64)
    torch.manual_seed(0)
    mc = make_config("tiny", latent_channels=cz, music_dim=stride * FEATURE_DIM, mask_phases=stride,
                     patch_w=1 if codec == "raw" else 2, reference=reference)
    data = DataConfig(codec=codec, width=width, sigma=1.5, fps=25.0, layout="openpose18", canvas=(512, 512),
                      time_stride=stride, latent_channels=cz, frames=frames, music_dim=FEATURE_DIM,
                      latent_mean=[0.0] * cz, latent_std=[1.0] * cz, music_mean=[0.0] * FEATURE_DIM,
                      music_std=[10.0] * FEATURE_DIM)
    return DiT(mc), {"model": mc.to_dict(), "data": data.to_dict()}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    model, config = tiny_config()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, model.state_dict(), config)
    return path


def load_script(relative: str):
    """A script of the repository (e.g. "scripts/eval_models.py"), not part of the package, imported as a module."""
    path = Path(__file__).resolve().parents[1] / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def click_track(path: Path, seconds: float, bpm: float = 120.0, sr: int = 22050) -> Path:
    """A mono click track (short noise bursts on every beat) written with soundfile."""
    rng = np.random.default_rng(0)
    y = 0.01 * rng.standard_normal(int(seconds * sr)).astype(np.float32)
    for t in np.arange(0, seconds, 60.0 / bpm):
        i = int(t * sr)
        n = min(len(y) - i, 400)
        y[i:i + n] += 0.8 * rng.standard_normal(n).astype(np.float32) * np.exp(-np.arange(n) / 80)
    sf.write(path, y, sr)
    return path


@pytest.fixture
def reference_pose() -> np.ndarray:
    """A standing body-18 pose in [0,1] (front view, about half the canvas tall)."""
    xy = np.array([[.50, .30], [.50, .36], [.44, .36], [.42, .46], [.41, .55], [.56, .36], [.58, .46], [.59, .55],
                   [.46, .56], [.46, .68], [.46, .80], [.54, .56], [.54, .68], [.54, .80], [.49, .29], [.51, .29],
                   [.48, .30], [.52, .30]], np.float32)
    return np.concatenate([xy, np.ones((18, 1), np.float32)], axis=1)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """One torch thread: tiny models run faster and do not fight over cores with other processes."""
    torch.set_num_threads(1)
