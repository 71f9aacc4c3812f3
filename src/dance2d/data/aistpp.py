"""AIST++ (Li et al. 2021), its 2D slice ("AIST++2D", §5): crossmodal splits and 2D keypoints with the AIST music.

Files (data README): splits/{crossmodal_train,crossmodal_test,ignore_list}.txt (one name per line),
keypoints2d_px/<sequence>.npy ((T, 17, 2) COCO-17 pixels in a 1920×1080 frame, 30 fps).
Music: the AIST database's `<music id>.wav` (e.g. mKR0.wav), named in the sequence name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from dance2d.data.camera import pixels_to_pose
from dance2d.data.clip import Clip
from dance2d.data.dataset import DEFAULT_CANVAS, Beats, DanceDataset, crop_seconds, long_enough
from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence
from dance2d.pose.convert import coco17_to_body18

AIST_FRAME = (1920, 1080)  # (width, height) of every AIST camera image
KEYPOINTS2D_FPS = 30.0  # frame rate of the 2D slice in keypoints2d_px/
AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".flac", ".m4a")


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise Dance2DError(f"AIST++ file {path} does not exist; pass the aistpp/ folder that holds splits/.")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def load_splits(root: str | os.PathLike) -> dict[str, list[str]]:
    """Crossmodal train/test sequence names, with the ignore_list removed from both."""
    d = Path(root) / "splits"
    ignore = set(_read_lines(d / "ignore_list.txt"))
    return {s: [n for n in _read_lines(d / f"crossmodal_{s}.txt") if n not in ignore] for s in ("train", "test")}


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


class AISTPP2D(DanceDataset):
    """The AIST++ 2D slice (keypoints2d_px/, COCO-17 pixels) with the AIST music from music_dir; the slice holds no
    crossmodal test sequence, so evaluation compares with the whole slice and has no GT row."""

    name = "aistpp2d"
    gt_split, reference_split = None, "all"
    eval_notes = ("aistpp2d: the 2D slice ships without music, so the GT sequences have no beats; BAS of the "
                  "generated rows uses their own music.",)

    def _files(self, root: str | os.PathLike, split: str) -> list[Path]:
        self.check_split(split)
        files = sorted((Path(root) / "keypoints2d_px").glob("*.npy"))
        if split != "all":
            names = set(load_splits(root)[split])
            files = [f for f in files if f.stem in names]
        return files

    def clips(self, root, split="train", *, fps=25.0, seed=0, limit=None, music_dir=None, sr=None) -> list[Clip]:
        if music_dir is None:
            raise Dance2DError("AIST++ clips need the AIST music: pass music_dir, a folder with mKR0.wav etc.")
        files = self._files(root, split)
        if not files:
            raise Dance2DError(f"No keypoints2d_px/*.npy of split {split!r} under {root}.")
        return [load_aistpp2d(f, music_dir, fps=fps, sr=sr) for f in files[:limit]]

    def ground_truth(self, root, split, *, fps, canvas=DEFAULT_CANVAS, seed=0, with_music=True,
                     clip_seconds=None, skip_seconds=0.0) -> list[tuple[PoseSequence, Beats]]:
        """The 2D slice has no music, so no beats (BAS is skipped); canvas and seed do not apply (real cameras)."""
        return long_enough([(crop_seconds(load_keypoints2d(f).resample(fps), clip_seconds, skip_seconds), None)
                        for f in self._files(root, split)], clip_seconds, skip_seconds)
