"""Write a generated dance folder atomically: poses.npz, openpose/%06d.json, preview.png, dance.mp4 (issues 4, 10).

A folder written here carries a manifest (.dance2d-manifest.json) of every file dance2d put there with its size.
A later run replaces such a folder only if it holds nothing else: a file dance2d did not write (or changed since)
makes it refuse, so notes, the song or the reference pose kept beside a dance are never deleted. The new dance is
built in a hidden `.partial` folder beside the output and swapped in at the end; partial folders that a killed
run left behind are removed by the next run. The poses are written first: if a later file (the video) fails, the
folder is still finished with the poses and the error says so.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from dance2d.atomic import atomic_path, process_start
from dance2d.errors import Dance2DError, notice
from dance2d.pose import PoseSequence
from dance2d.render import preview_strip, render_poses

MANIFEST = ".dance2d-manifest.json"
MANIFEST_FORMAT = "dance2d.outputs/1"
PARTIAL_MARKER = ".dance2d-partial"  # inside every .partial folder: {"pid", "start"} of the run that made it
# What dance2d writes into a dance folder; a folder without a manifest (older dance2d) is recognised by these.
_DANCE_FILE = re.compile(r"(sample_\d+/)?(poses\.npz|preview\.png|dance\.mp4|openpose/\d{6}\.json)")


_START = process_start(os.getpid()) or time.time()


def _files(folder: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """({relative path: size} of the regular files under `folder`, [sub-folders], [entries that are neither
    (links, devices)])."""
    files, dirs_out, odd = {}, [], []
    for root, dirs, names in os.walk(folder):
        r = Path(root)
        for d in list(dirs):
            rel = (r / d).relative_to(folder).as_posix()
            if (r / d).is_symlink():
                odd.append(rel)
                dirs.remove(d)
            else:
                dirs_out.append(rel)
        for n in names:
            p = r / n
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink() or not p.is_file():
                odd.append(rel)
            else:
                files[rel] = p.stat().st_size
    return files, dirs_out, odd


def read_manifest(folder: Path) -> dict[str, int] | None:
    """{relative path: size} of what dance2d wrote into `folder`, or None if it has no (readable) manifest."""
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("files"), dict):
            return None
        return {str(k): int(v) for k, v in doc["files"].items()}
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        return None


def write_manifest(folder: Path) -> None:
    """List every file under `folder` (the finished dance) with its size."""
    files, _, _ = _files(folder)
    files.pop(MANIFEST, None)
    files.pop(PARTIAL_MARKER, None)
    text = json.dumps({"format": MANIFEST_FORMAT, "files": dict(sorted(files.items()))}, separators=(",", ":"))
    (folder / MANIFEST).write_text(text, encoding="utf-8")


def foreign_entries(folder: Path) -> list[str]:
    """Paths under `folder` that dance2d did not write there (or that changed size since): what a replacement
    must not delete. With no manifest, the file names dance2d writes are taken as its own (older versions)."""
    files, dirs, odd = _files(folder)
    manifest = read_manifest(folder)
    foreign = list(odd)
    for rel, size in files.items():
        if rel == MANIFEST and manifest is not None:
            continue
        ours = manifest.get(rel) == size if manifest is not None else bool(_DANCE_FILE.fullmatch(rel))
        if not ours:
            foreign.append(rel)
    owned = set(files) - set(foreign)
    foreign += [d + "/" for d in dirs if not any(f.startswith(d + "/") for f in owned)]
    return sorted(foreign)


def _remove_ours(folder: Path) -> list[str]:
    """Delete what dance2d wrote in `folder` (per its manifest, or by name without one), then the folders left
    empty; returns what was kept."""
    manifest = read_manifest(folder)
    files, _, _ = _files(folder)
    for rel, size in files.items():
        ours = (manifest.get(rel) == size or rel == MANIFEST) if manifest is not None else bool(
            _DANCE_FILE.fullmatch(rel)) or rel == PARTIAL_MARKER
        if ours:
            (folder / rel).unlink(missing_ok=True)
    for root, _dirs, _names in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        try:
            Path(root).rmdir()  # only succeeds when empty
        except OSError:
            pass
    return foreign_entries(folder) if folder.exists() else []


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def check_output_folder(out: str | os.PathLike, inputs=()) -> Path:
    """The absolute output folder, after refusing paths that cannot hold a dance or that hold something dance2d
    did not write; `inputs` (the song, reference, model) must not lie inside it."""
    out = Path(out).expanduser().resolve()
    for item in inputs:
        if item is None or isinstance(item, tuple):
            continue
        p = Path(item).expanduser().resolve()
        if p == out or _inside(p, out):
            raise Dance2DError(f"Input {p} lies inside the output folder {out}, which this run would replace; "
                               "move the input out of it or choose another --out.")
    if out.exists() or out.is_symlink():
        if out.is_symlink() or not out.is_dir():
            raise Dance2DError(f"Output path {out} is a file or a link; choose a folder name for the output.")
        foreign = foreign_entries(out)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise Dance2DError(f"Output folder {out} holds files dance2d did not write ({shown}); move them out or "
                               "choose a new --out (dance2d only replaces its own earlier output).")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise Dance2DError(f"Cannot create output folder {out} because {parent} is not a writable folder; "
                           "choose another location.")
    return out


def clean_stale(out: Path) -> None:
    """Remove hidden folders that killed runs left beside `out`: `.partial` folders (with dance2d's marker, made
    by a process that no longer runs, before this one started) and `.old` copies of a replaced dance (only the
    files of its manifest; it is put back as `out` if the swap never finished)."""
    if not out.parent.is_dir():
        return
    for p in out.parent.glob(f".{glob_escape(out.name)}.*"):
        m = re.fullmatch(re.escape(f".{out.name}.") + r"(\d+)\.(?:[^/]*\.partial|old)", p.name)
        if not m or p.is_symlink() or not p.is_dir():
            continue
        pid = int(m.group(1))
        try:
            mtime = p.stat().st_mtime
        except OSError:
            continue
        owner_start = process_start(pid)  # a live process that started after the folder changed is not its owner
        if pid == os.getpid() or mtime >= _START or (owner_start is not None and owner_start <= mtime + 1):
            continue
        if p.name.endswith(".partial"):
            if (p / PARTIAL_MARKER).is_file():
                _remove_tree_of_ours(p)
        elif read_manifest(p) is not None:
            if not out.exists():
                p.rename(out)  # killed between the two renames: the previous dance goes back in place
                notice(f"Restored the previous dance in {out}, which an interrupted run had moved aside.")
            else:
                _remove_ours(p)


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _remove_tree_of_ours(folder: Path) -> None:
    """Delete a `.partial` folder dance2d made (everything in it was written by dance2d)."""
    for root, dirs, names in os.walk(folder, topdown=False):
        for n in names:
            (Path(root) / n).unlink(missing_ok=True)
        for d in dirs:
            p = Path(root) / d
            p.unlink() if p.is_symlink() else p.rmdir()
    folder.rmdir()


def _new_partial(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".partial", dir=out.parent))
        (tmp / PARTIAL_MARKER).write_text(json.dumps({"pid": os.getpid(), "start": _START}))
    except OSError as e:
        raise Dance2DError(f"Cannot write to output folder {out}: {e.strerror}; choose a writable location.") from None
    return tmp


def _swap_in(tmp: Path, out: Path) -> None:
    """Make the finished `tmp` the output folder; an earlier dance there is removed file by file (manifest)."""
    (tmp / PARTIAL_MARKER).unlink(missing_ok=True)
    write_manifest(tmp)
    os.chmod(tmp, 0o755)
    if not out.exists():
        tmp.rename(out)
        return
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)  # put the previous dance back
        raise
    kept = _remove_ours(old)
    if kept:
        notice(f"Kept {len(kept)} file(s) that appeared in the previous output while writing, in {old}.")


def _sample_dirs(tmp: Path, n: int) -> list[Path]:
    if n == 1:
        return [tmp]
    dirs = [tmp / f"sample_{i}" for i in range(n)]
    for d in dirs:
        d.mkdir()
    return dirs


def _os_error(e: OSError, out: Path) -> Dance2DError:
    return Dance2DError(f"Cannot write the dance into {out}: {e.strerror or e}; free some space or choose "
                        "another location.")


def write_outputs(seqs: list[PoseSequence], out: str | os.PathLike, audio: tuple[np.ndarray, int] | None,
                  video: bool = True, progress: bool = False, inputs=()) -> Path:
    """Write one dance (or one sub-folder sample_<i> per dance) into `out`, built under a temporary name
    beside it and renamed at the end, so an interrupted run never leaves a folder that looks complete.

    An existing `out` is replaced only if everything in it was written by dance2d (see the module notes).
    Order: every poses.npz, then JSON and previews, then the videos. If a video fails, the folder is finished
    without it and a Dance2DError says that the poses were kept."""
    from dance2d import validate

    out = check_output_folder(out, inputs)
    for s in seqs:
        validate.output_poses(s.keypoints, s.canvas)
    clean_stale(out)
    tmp = _new_partial(out)
    try:
        dirs = _sample_dirs(tmp, len(seqs))
        try:
            for seq, d in zip(seqs, dirs, strict=True):
                seq.save_npz(d / "poses.npz")
        except OSError as e:
            raise _os_error(e, out) from None
        failed = None
        for seq, d in zip(seqs, dirs, strict=True):
            try:
                preview_strip(seq.keypoints, seq.canvas, d / "preview.png", n=8, fps=seq.fps)
                seq.save_openpose(d / "openpose")
            except (OSError, Dance2DError) as e:
                failed = failed or ("the OpenPose JSON and previews", e)
                _drop(d / "openpose")
                (d / "preview.png").unlink(missing_ok=True)
        if video and failed is None:
            for seq, d in zip(seqs, dirs, strict=True):
                try:
                    render_poses(seq.keypoints, seq.canvas, seq.fps, d / "dance.mp4", audio=audio, progress=progress)
                except (Exception, MemoryError) as e:  # FFmpeg raises many types; a full disk is an OSError
                    failed = ("the video", e)
                    break
        _swap_in(tmp, out)
    except BaseException:
        if tmp.exists():
            _remove_tree_of_ours(tmp)
        raise
    if failed is not None:
        what, e = failed
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).rstrip(".") or type(e).__name__
        names = "poses.npz" if len(seqs) == 1 else "sample_*/poses.npz"
        raise Dance2DError(f"Writing {what} failed ({reason}); the poses were kept in {out / names} — "
                           "free some space and run `dance2d render` on them to make the video.")
    return out


def _drop(folder: Path) -> None:
    if folder.is_dir():
        _remove_tree_of_ours(folder)


def _manifest_folder(path: Path) -> tuple[Path, str] | None:
    """(dance folder, path relative to it) if `path` lies in a folder (or a sample_<i> of one) with a manifest."""
    path = Path(path).expanduser().resolve()
    for folder in (path.parent, path.parent.parent):
        if read_manifest(folder) is not None:
            return folder, path.relative_to(folder).as_posix()
    return None


def listed_in_manifest(path: str | os.PathLike) -> bool:
    """True if `path` is a file dance2d wrote into a dance folder (listed with its current size)."""
    found = _manifest_folder(Path(path))
    if found is None or not Path(path).is_file():
        return False
    folder, rel = found
    return read_manifest(folder).get(rel) == Path(path).stat().st_size


def record_written(path: str | os.PathLike) -> None:
    """Add a file dance2d just wrote (a video from `dance2d render`) to the manifest of the dance folder it is in,
    so a later generate may replace it."""
    found = _manifest_folder(Path(path))
    if found is None:
        return
    folder, rel = found
    files = read_manifest(folder)
    files[rel] = Path(path).stat().st_size
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps({"format": MANIFEST_FORMAT, "files": dict(sorted(files.items()))},
                                  separators=(",", ":")), encoding="utf-8")
