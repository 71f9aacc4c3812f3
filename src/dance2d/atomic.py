"""Atomic file writes: write into a temporary file beside the target, then os.replace it onto the target."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dance2d.errors import Dance2DError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", mkdir: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path` (ending in `suffix`, default path's own) and move it onto `path` only
    if the block succeeds, so a crash never leaves a half-written file. mkdir: create missing parent folders
    (False: a missing folder is an error)."""
    path = Path(path)
    folder = path.parent
    if not mkdir and not folder.is_dir():
        raise Dance2DError(f"Output folder {folder} does not exist; create it or choose another output path.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp" + (suffix or path.suffix),
                                    dir=folder)
    except OSError as e:
        raise Dance2DError(f"Cannot write {path} ({e.strerror}); choose a writable location.") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def process_start(pid: int) -> float | None:
    """Start time (epoch seconds) of a running process, None if there is none. Linux: /proc/<pid>/stat field 22
    (clock ticks after boot) + boot time; elsewhere only whether it runs (then "now")."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time() if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> None:
    """Remove the temporary files atomic_path left beside `path` in runs that were killed: their name carries the
    writer's process id, and that process no longer runs (or started after the file was last written)."""
    path = Path(path)
    for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        pid = p.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or p.is_symlink() or not p.is_file():
            continue
        started = process_start(int(pid))
        if started is None or started > p.stat().st_mtime + 1:
            p.unlink(missing_ok=True)
