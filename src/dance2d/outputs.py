"""Write a generated dance folder atomically: poses.npz, openpose/%06d.json, dance.mp4, preview.png."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence
from dance2d.render import preview_strip, render_poses


def write_dance(seq: PoseSequence, folder: Path, audio: tuple[np.ndarray, int] | None, video: bool = True,
                progress: bool = False) -> None:
    """The files of one dance inside an existing (temporary) folder."""
    seq.save_npz(folder / "poses.npz")
    seq.save_openpose(folder / "openpose")
    preview_strip(seq.keypoints, seq.canvas, folder / "preview.png", n=8, fps=seq.fps)
    if video:
        render_poses(seq.keypoints, seq.canvas, seq.fps, folder / "dance.mp4", audio=audio, progress=progress)


def _is_dance_folder(folder: Path) -> bool:
    """True if `folder` holds a previous dance2d output (one dance or sample_<i> sub-folders)."""
    return (folder / "poses.npz").is_file() or (folder / "sample_0" / "poses.npz").is_file()


def check_output_folder(out: str | os.PathLike) -> Path:
    """The absolute output folder, after refusing paths that cannot hold (or must not be replaced by) a dance."""
    out = Path(out).expanduser().resolve()
    if out.exists():
        if not out.is_dir():
            raise Dance2DError(f"Output path {out} is a file; choose a folder name for the output.")
        if any(out.iterdir()) and not _is_dance_folder(out):
            raise Dance2DError(f"Output folder {out} holds other files that would be replaced; choose a new or "
                               "empty folder, or a previous dance2d output.")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise Dance2DError(f"Cannot create output folder {out} because {parent} is not a writable folder; "
                           "choose another location.")
    return out


def write_outputs(seqs: list[PoseSequence], out: str | os.PathLike, audio: tuple[np.ndarray, int] | None,
                  video: bool = True, progress: bool = False) -> Path:
    """Write one dance (or one sub-folder sample_<i> per dance) into `out`, built under a temporary name
    beside it and renamed at the end, so an interrupted run never leaves a folder that looks complete.

    An existing `out` is replaced only if it is empty or a previous dance2d output."""
    out = check_output_folder(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as e:
        raise Dance2DError(f"Cannot write to output folder {out}: {e.strerror}; choose a writable location.") from None
    try:
        if len(seqs) == 1:
            write_dance(seqs[0], tmp, audio, video, progress)
        else:
            for i, seq in enumerate(seqs):
                (tmp / f"sample_{i}").mkdir()
                write_dance(seq, tmp / f"sample_{i}", audio, video, progress)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            try:
                tmp.rename(out)
            except BaseException:
                old.rename(out)  # put the previous dance back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
