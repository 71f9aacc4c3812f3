"""AIST++ (Li et al. 2021): crossmodal splits, camera calibrations, calibrated 3D→2D projection ("AIST++2D", §5).

Files (data README): splits/{crossmodal_train,crossmodal_test,ignore_list}.txt (one name per line),
cameras/mapping.txt (`<sequence> <setting>` per line), cameras/setting<N>.json (9 OpenCV cameras, cm, y up),
keypoints2d_px/<sequence>.npy ((T, 17, 2) COCO-17 pixels in a 1920×1080 frame, 30 fps).
Official 3D keypoints (`keypoints3d/<sequence>.pkl` of the AIST++ release) are assumed to be a dict with
`keypoints3d_optim` and/or `keypoints3d`: (T, 17, 3) COCO-17 world points in cm at 60 fps; an .npz with the same
keys is accepted too. Music: the AIST database's `<music id>.wav` (e.g. mKR0.wav), named in the sequence name.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dance2d.data.camera import pixels_to_pose, project_opencv
from dance2d.data.clip import Clip
from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence
from dance2d.pose.convert import coco17_to_body18

AIST_FRAME = (1920, 1080)  # (width, height) of every AIST camera image
KEYPOINTS2D_FPS = 30.0  # frame rate of the 2D slice in keypoints2d_px/
KEYPOINTS3D_FPS = 60.0  # frame rate of the official 3D keypoints
AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".flac", ".m4a")


@dataclass(frozen=True)
class CalibratedCamera:
    """One AIST camera: OpenCV intrinsics/distortion and world→camera extrinsics (cm)."""

    name: str  # "c01" … "c09"
    size: tuple[int, int]  # image (width, height) in pixels
    K: np.ndarray  # (3, 3) intrinsic matrix
    dist: np.ndarray  # (5,) OpenCV distortion [k1, k2, p1, p2, k3]
    rvec: np.ndarray  # (3,) Rodrigues rotation, world → camera
    tvec: np.ndarray  # (3,) translation, world → camera, cm


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise Dance2DError(f"AIST++ file {path} does not exist; "
                           "pass the aistpp/ folder that holds splits/ and cameras/.")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def load_splits(root: str | os.PathLike) -> dict[str, list[str]]:
    """Crossmodal train/test sequence names, with the ignore_list removed from both."""
    d = Path(root) / "splits"
    ignore = set(_read_lines(d / "ignore_list.txt"))
    return {s: [n for n in _read_lines(d / f"crossmodal_{s}.txt") if n not in ignore] for s in ("train", "test")}


def mapping(root: str | os.PathLike) -> dict[str, str]:
    """Sequence name → calibration setting name (cameras/mapping.txt)."""
    path = Path(root) / "cameras" / "mapping.txt"
    out = {}
    for ln in _read_lines(path):
        parts = ln.split()
        if len(parts) != 2:
            raise Dance2DError(f"Line {ln!r} of {path} is not '<sequence> <setting>'; restore the file.")
        out[parts[0]] = parts[1]
    return out


def load_cameras(setting_json: str | os.PathLike) -> dict[str, CalibratedCamera]:
    """Cameras of one calibration setting JSON (a list of 9 dicts), by name."""
    path = Path(setting_json)
    if not path.is_file():
        raise Dance2DError(f"AIST++ calibration {path} is absent (the data pack lacks setting1); "
                           "use a sequence with another setting or add the file from the AIST++ release.")
    try:
        cams = json.loads(path.read_text())
        return {c["name"]: CalibratedCamera(
            c["name"], tuple(int(v) for v in c["size"]), np.asarray(c["matrix"], np.float64).reshape(3, 3),
            np.asarray(c["distortions"], np.float64).reshape(-1), np.asarray(c["rotation"], np.float64).reshape(3),
            np.asarray(c["translation"], np.float64).reshape(3)) for c in cams}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise Dance2DError(f"AIST++ calibration {path} is malformed ({e}); "
                           "restore it from the AIST++ release.") from None


def cameras_for(root: str | os.PathLike, sequence: str) -> dict[str, CalibratedCamera]:
    """The calibrated cameras of one sequence (mapping.txt → setting JSON)."""
    setting = mapping(root).get(sequence)
    if setting is None:
        raise Dance2DError(f"Sequence {sequence!r} is not in {Path(root) / 'cameras' / 'mapping.txt'}; check the name.")
    return load_cameras(Path(root) / "cameras" / f"{setting}.json")


def project_keypoints3d(kp3d: np.ndarray, camera: CalibratedCamera) -> np.ndarray:
    """World keypoints (T, J, 3) cm → pixels (T, J, 2) through a calibrated AIST camera (with distortion)."""
    kp = np.asarray(kp3d, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise Dance2DError(f"3D keypoints must have shape (T, J, 3); got {kp.shape}.")
    return project_opencv(kp, camera.rvec, camera.tvec, camera.K, camera.dist)


def load_keypoints3d(path: str | os.PathLike) -> np.ndarray:
    """Official AIST++ 3D keypoints (.pkl dict, .npz or .npy) → (T, 17, 3) cm at 60 fps (prefers keypoints3d_optim).

    .pkl files are unpickled: only read files from the AIST++ release or another trusted source.
    """
    path = Path(path)
    if not path.is_file():
        raise Dance2DError(f"AIST++ 3D keypoint file {path} does not exist.")
    try:
        if path.suffix == ".pkl":
            with open(path, "rb") as f:
                data = pickle.load(f)
        else:
            z = np.load(path, allow_pickle=False)
            data = {k: z[k] for k in z.files} if hasattr(z, "files") else {"keypoints3d": z}
    except (OSError, ValueError, pickle.UnpicklingError, EOFError) as e:
        raise Dance2DError(f"Cannot read AIST++ 3D keypoints {path} ({e}).") from None
    for key in ("keypoints3d_optim", "keypoints3d"):
        if isinstance(data, dict) and data.get(key) is not None:
            kp = np.asarray(data[key], dtype=np.float32)
            if kp.ndim == 3 and kp.shape[1:] == (17, 3):
                return kp
    raise Dance2DError(f"{path} holds no (T, 17, 3) 'keypoints3d_optim' or 'keypoints3d' array (AIST++ format).")


def keypoints3d_to_pose(kp3d: np.ndarray, camera: CalibratedCamera, fps_in: float = KEYPOINTS3D_FPS,
                        fps: float = 30.0) -> PoseSequence:
    """AIST++2D: project world COCO-17 keypoints with a calibrated camera → openpose18 PoseSequence at `fps`."""
    uv = project_keypoints3d(kp3d, camera)  # (T, 17, 2)
    kp = pixels_to_pose(uv, np.ones(uv.shape[:2], np.float32), camera.size)
    seq = PoseSequence(coco17_to_body18(kp), fps_in, "openpose18", camera.size, {"camera": camera.name})
    return seq.resample(fps)


def load_keypoints2d(npy: str | os.PathLike, fps: float = KEYPOINTS2D_FPS) -> PoseSequence:
    """A (T, 17, 2) COCO-17 pixel array of a 1920×1080 frame (keypoints2d_px/) → openpose18, confidence 1."""
    path = Path(npy)
    try:
        px = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise Dance2DError(f"Cannot read 2D keypoints {path} ({e}); expected a (T, 17, 2) .npy in pixels.") from None
    if px.ndim != 3 or px.shape[1:] != (17, 2):
        raise Dance2DError(f"{path} has shape {px.shape}; expected (T, 17, 2) COCO-17 pixels.")
    kp = pixels_to_pose(px, np.ones(px.shape[:2], np.float32), AIST_FRAME)
    return PoseSequence(coco17_to_body18(kp), fps, "openpose18", AIST_FRAME, {"source": str(path)})


def music_id(sequence: str) -> str:
    """The music id of an AIST++ sequence name (gKR_sFM_cAll_d28_mKR0_ch01 → mKR0)."""
    m = re.search(r"_(m[A-Z]{2}\d)_", sequence)
    if not m:
        raise Dance2DError(f"{sequence!r} is not an AIST++ sequence name (g.._s.._c.._d.._m.._ch..).")
    return m.group(1)


def find_music(music_dir: str | os.PathLike, sequence: str) -> Path:
    """The audio file of a sequence's music in `music_dir` (<music id>.wav/.mp3/...)."""
    mid = music_id(sequence)
    for suf in AUDIO_SUFFIXES:
        p = Path(music_dir) / f"{mid}{suf}"
        if p.is_file():
            return p
    raise Dance2DError(f"No music file {mid}.wav (or .mp3/.ogg/.flac/.m4a) in {music_dir}; download the AIST "
                       "Dance Video Database music there.")


def load_aistpp2d(npy: str | os.PathLike, music_dir: str | os.PathLike, fps: float = 30.0,
                  sr: int | None = None) -> Clip:
    """One sequence of the 2D slice + its AIST music → Clip (music time 0 = frame 0)."""
    from dance2d.music.audio import load_audio

    poses = load_keypoints2d(npy).resample(fps)
    name = Path(npy).stem
    wave, rate = load_audio(find_music(music_dir, name), sr=sr)
    n = round(len(poses) / fps * rate)
    wave = np.pad(wave[:n], (0, max(0, n - len(wave))))
    return Clip(poses, wave, int(rate), name, {"dataset": "aistpp2d", "source": str(npy)})
