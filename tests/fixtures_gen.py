"""Small synthetic data in the datasets' own formats, generated at test time into temporary folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from dance2d.data.clip import Clip
from dance2d.pose import PoseSequence

# A standing body-18 pose in pixels of a 640×480 frame (x right, y down), about 300 px tall.
STAND_PX = np.array([
    [320, 110], [320, 140], [290, 140], [280, 190], [275, 235], [350, 140], [360, 190], [365, 235],
    [300, 240], [300, 320], [300, 400], [340, 240], [340, 320], [340, 400], [312, 102], [328, 102],
    [305, 108], [335, 108]], np.float64)


def dancing_pixels(T: int, seed: int = 0, sway_px: float = 6.0) -> np.ndarray:
    """(T, 18, 3) pixels: the standing pose swaying smoothly (a few px per frame), confidence 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (1, 18))
    dx = sway_px * np.sin(2 * np.pi * t / 40.0 + phase)
    dy = 0.5 * sway_px * np.cos(2 * np.pi * t / 55.0 + phase)
    xy = STAND_PX[None] + np.stack([dx, dy], -1)
    return np.concatenate([xy, np.ones((T, 18, 1))], -1)


def write_wild_video(folder: Path, pixels: np.ndarray, fps: float | None, seconds: float, sr: int = 22050,
                     canvas: tuple[int, int] = (640, 480)) -> Path:
    """A video folder: poses/NNNNNN.json (OpenPose body-18, DWPose canvas fields), audio.wav, meta.json."""
    (folder / "poses").mkdir(parents=True, exist_ok=True)
    for i, kp in enumerate(pixels):
        doc = {"people": [{"pose_keypoints_2d": [float(v) for v in kp.reshape(-1)]}],
               "canvas_width": canvas[0], "canvas_height": canvas[1]}
        (folder / "poses" / f"{i:06d}.json").write_text(json.dumps(doc))
    t = np.arange(int(seconds * sr)) / sr
    sf.write(folder / "audio.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    if fps is not None:
        (folder / "meta.json").write_text(json.dumps({"fps": fps}))
    return folder


def write_aist_splits(root: Path, train: list[str], test: list[str], ignore: list[str]) -> Path:
    """An AIST++-style folder with splits/crossmodal_{train,test}.txt and splits/ignore_list.txt."""
    (root / "splits").mkdir(parents=True, exist_ok=True)
    (root / "splits" / "crossmodal_train.txt").write_text("\n".join(train) + "\n")
    (root / "splits" / "crossmodal_test.txt").write_text("\n".join(test) + "\n")
    (root / "splits" / "ignore_list.txt").write_text("\n".join(ignore) + "\n\n")
    return root


def synthetic_clip(name: str = "synth", seconds: float = 4.0, fps: float = 30.0, sr: int = 22050,
                   seed: int = 0, three_d: bool = False) -> Clip:
    """A Clip of swaying poses over a click track; with three_d, `reproject` shifts the pose per random view."""
    T = int(round(seconds * fps))
    px = dancing_pixels(T, seed)
    kp = (px / np.array([640.0, 480.0, 1.0])).astype(np.float32)
    poses = PoseSequence(kp, fps, "openpose18", (640, 480))
    rng = np.random.default_rng(seed)
    wave = 0.02 * rng.standard_normal(int(seconds * sr))
    wave[:: sr // 2] = 1.0  # clicks twice a second
    reproject = None
    if three_d:
        def reproject(r: np.random.Generator) -> PoseSequence:
            shift = np.array([r.uniform(-0.1, 0.1), r.uniform(-0.05, 0.05), 0.0], np.float32)
            return poses.replace(kp + shift * (kp[..., 2:] > 0))
    return Clip(poses, wave.astype(np.float32), sr, name, {"dataset": "synthetic"}, reproject)
