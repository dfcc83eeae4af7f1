"""File-system helpers shared by the runners: atomic text writes and writable-directory checks.

Every report, benchmark JSON and partial audit result is written with
:func:`write_atomically`, so a reader (or an interrupted writer) sees either the old file or
the complete new one, never half of it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import InvalidArgument

__all__ = ["ensure_writable_dir", "make_writable_dir", "write_atomically"]


def ensure_writable_dir(name: str, path: Path) -> Path:
    """Create ``path`` if needed and prove it is writable, before any work is done.

    Raises:
        InvalidArgument: ``name='path': not a writable directory (why)``.
    """
    try:
        make_writable_dir(path)
    except OSError as exc:
        raise InvalidArgument(f"{name}={str(path)!r}: not a writable directory ({exc.strerror})"
                              ) from None
    return path


def make_writable_dir(path: Path) -> None:
    """Create ``path`` (and its parents) and write a probe file in it; raises the
    ``OSError`` that a later write would meet."""
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
        pass


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and ``os.replace``.

    A reader (or an interrupted writer) never sees a half-written file: either the old file
    or the complete new one is at ``path``.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
