"""In-the-wild dance videos as per-frame pose JSON + audio, with the paper's filters (supplementary §7).

Expected layout (one sub-folder per video):

    root/<video id>/
        poses/000000.json …     one OpenPose/DWPose JSON per frame, sorted by name (people[0] is used);
                                the JSON files may also sit directly in <video id>/ (meta.json is skipped)
        audio.<wav|mp3|ogg|flac|m4a|aac|mp4>   the video's sound track (the first such file, by name)
        meta.json               optional: {"fps": native frame rate, "canvas": [width, height]}

Frame i of the pose files plays at audio time i / fps. Without meta.json the native fps is `default_fps`, and the
canvas comes from the JSON's canvas_width / canvas_height (DWPose) or meta.json.

Filters (§7): videos whose native fps lies outside [MIN_FPS, MAX_FPS] are dropped; shot changes split a video
where the pose jumps between consecutive frames (see `shot_runs`); only runs of ≥ MIN_RUN_FRAMES native
frames are kept, each becoming one Clip resampled to the target fps.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from dance2d.data.clip import Clip
from dance2d.data.dataset import DanceDataset
from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence
from dance2d.pose.sequence import read_openpose_frame

MIN_FPS, MAX_FPS = 20.0, 60.0  # native frame-rate sanity range (§7)
MIN_RUN_FRAMES = 256  # shortest contiguous shot kept (§7), in native frames
SHOT_THRESHOLD = 0.25  # cut when the median joint displacement exceeds this fraction of the body size
SCALE_JUMP = 1.5  # cut when the body size changes by more than this factor between consecutive frames
MIN_JOINTS = 4  # a frame with fewer confident joints has no usable person (it breaks the run)
AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".flac", ".m4a", ".aac", ".mp4")


def _body_size(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bounding-box diagonal (pixels) of the given points (T, J, 2), NaN entries ignored."""
    return np.hypot(np.nanmax(a, 1) - np.nanmin(a, 1), np.nanmax(b, 1) - np.nanmin(b, 1))


def shot_runs(pixels: np.ndarray, min_frames: int = MIN_RUN_FRAMES, threshold: float = SHOT_THRESHOLD,
              scale_jump: float = SCALE_JUMP, min_joints: int = MIN_JOINTS) -> list[tuple[int, int]]:
    """Split a pose track (T, K, 3) in pixels into shots; return [start, stop) runs of ≥ min_frames frames (§7).

    For consecutive frames t−1, t, over the joints confident in both: the body size s is the bounding-box
    diagonal of those joints (mean of the two frames), the difference d = median joint displacement / s.
    A shot boundary lies before t when d > `threshold` or the two frames' sizes differ by more than
    `scale_jump`×; frames with fewer than `min_joints` confident joints belong to no run.
    """
    kp = np.asarray(pixels, dtype=np.float64)
    T = len(kp)
    usable = (kp[..., 2] > 0).sum(1) >= min_joints  # (T,)
    cut = np.zeros(T, bool)  # cut[t]: boundary between t-1 and t
    if T > 1:
        both = (kp[1:, :, 2] > 0) & (kp[:-1, :, 2] > 0)  # (T-1, K)
        enough = both.sum(1) >= min_joints
        cur = np.where(both[..., None], kp[1:, :, :2], np.nan)
        prev = np.where(both[..., None], kp[:-1, :, :2], np.nan)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are handled by `enough`
            s_cur = _body_size(cur[..., 0], cur[..., 1])
            s_prev = _body_size(prev[..., 0], prev[..., 1])
            size = np.maximum(0.5 * (s_cur + s_prev), 1e-6)
            d = np.nanmedian(np.linalg.norm(cur - prev, axis=-1), axis=1) / size
            ratio = np.maximum(s_cur, s_prev) / np.maximum(np.minimum(s_cur, s_prev), 1e-6)
        cut[1:] = ~enough | (d > threshold) | (ratio > scale_jump)
    runs, start = [], None
    for t in range(T + 1):
        ok = t < T and usable[t] and (start is None or not cut[t])
        if start is not None and not ok:
            if t - start >= min_frames:
                runs.append((start, t))
            start = None
        if t < T and usable[t] and start is None:
            start = t
    return runs


def _frames(video: Path) -> list[Path]:
    """The per-frame pose JSON files of a video folder, sorted by name."""
    d = video / "poses" if (video / "poses").is_dir() else video
    return sorted(p for p in d.glob("*.json") if p.name != "meta.json")


def _audio_file(video: Path) -> Path:
    files = sorted(p for p in video.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise Dance2DError(f"Video folder {video} has no audio file ({', '.join(AUDIO_SUFFIXES)}); "
                           "add its sound track.")
    return files[0]


def load_wild_video(video: str | os.PathLike, fps: float = 30.0, default_fps: float = 30.0,
                    min_frames: int = MIN_RUN_FRAMES, sr: int | None = None,
                    report: list | None = None) -> list[Clip]:
    """One video folder → Clips (one per kept shot), filtered as in §7; `report` collects (video, reason) drops."""
    from dance2d.music.audio import load_audio

    video = Path(video)
    meta = {}
    if (video / "meta.json").is_file():
        try:
            meta = json.loads((video / "meta.json").read_text())
        except json.JSONDecodeError as e:
            raise Dance2DError(f"{video / 'meta.json'} is malformed ({e.msg}); fix it or remove it.") from None
    native = float(meta.get("fps", default_fps))
    if not MIN_FPS <= native <= MAX_FPS:
        if report is not None:
            report.append((video.name, f"native fps {native:g} outside [{MIN_FPS:g}, {MAX_FPS:g}]"))
        return []
    files = _frames(video)
    if not files:
        raise Dance2DError(f"Video folder {video} holds no per-frame pose .json files.")
    frames, sizes = zip(*(read_openpose_frame(f) for f in files), strict=True)
    sizes = {s for s in sizes if s is not None}
    canvas = tuple(meta["canvas"]) if "canvas" in meta else (sizes.pop() if len(sizes) == 1 else None)
    if canvas is None:
        raise Dance2DError(f"Cannot tell the frame size of {video}: add meta.json with \"canvas\": [width, height].")
    kp = np.stack(frames).astype(np.float32)  # (T, 18, 3)
    w, h = canvas
    if kp[..., :2].max(initial=0) <= 1.0 + 1e-6:  # normalised coordinates → pixels
        kp[..., 0] *= w
        kp[..., 1] *= h
    runs = shot_runs(kp, min_frames=min_frames)
    if not runs:
        if report is not None:
            report.append((video.name, f"no shot of ≥ {min_frames} frames"))
        return []
    wave, rate = load_audio(_audio_file(video), sr=sr)
    norm = kp / np.array([w, h, 1.0], np.float32)
    clips = []
    for a, b in runs:
        i0, i1 = round(a / native * rate), round(b / native * rate)
        seg = wave[i0:i1]
        if len(seg) < i1 - i0:
            if len(seg) < 0.9 * (i1 - i0):
                if report is not None:
                    report.append((f"{video.name}:{a}-{b}", "audio shorter than the poses"))
                continue
            seg = np.pad(seg, (0, i1 - i0 - len(seg)))
        poses = PoseSequence(norm[a:b], native, "openpose18", (int(w), int(h)),
                             {"source": str(video), "frames": [a, b], "native_fps": native}).resample(fps)
        clips.append(Clip(poses, np.ascontiguousarray(seg, np.float32), int(rate), f"{video.name}:{a}-{b}",
                          {"dataset": "wild", "source": str(video), "frames": [a, b], "native_fps": native}))
    return clips


def list_wild(root: str | os.PathLike) -> list[Path]:
    """Video sub-folders of an in-the-wild root, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise Dance2DError(f"In-the-wild folder {root} does not exist.")
    videos = sorted(p for p in root.iterdir() if p.is_dir())
    if not videos:
        raise Dance2DError(f"In-the-wild folder {root} has no video sub-folders (<video id>/poses/*.json + audio).")
    return videos


def load_wild(root: str | os.PathLike, fps: float = 30.0, default_fps: float = 30.0,
              min_frames: int = MIN_RUN_FRAMES, sr: int | None = None, report: list | None = None) -> list[Clip]:
    """All videos under `root` → filtered Clips (§7)."""
    clips = []
    for v in list_wild(root):
        clips.extend(load_wild_video(v, fps, default_fps, min_frames, sr, report))
    return clips


class Wild(DanceDataset):
    """In-the-wild pose folders (§7); splits are sub-folders root/<split>/<video>/, else the whole root is "train".
    No ground truth for evaluation."""

    name = "wild"
    splits = ("train", "all")  # plus any sub-folder name

    def clips(self, root, split="train", *, fps=25.0, seed=0, limit=None, music_dir=None, sr=None) -> list[Clip]:
        sub = Path(root) / split  # splits may be sub-folders: root/<split>/<video>/...
        if sub.is_dir():
            root = sub
        elif split not in self.splits:
            raise Dance2DError(f"No {split}/ sub-folder in {root}; in-the-wild splits are folders "
                               "root/<split>/<video>/.")
        return load_wild(root, fps=fps, sr=sr)[:limit]
