"""Atomic file writes: write into a temporary file beside the target, then os.replace it onto the target."""

from __future__ import annotations

import contextlib
import os
import tempfile
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
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + (suffix or path.suffix), dir=folder)
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
