"""Writing a report as one generation: ``audit.json``, ``audit.md`` and ``audit.html`` are
replaced together or not at all.

Design (:func:`write_report_files`):

1. *Stage*: every file of the new generation is written into a fresh hidden folder
   ``DIR/.audit-gen-<id>/`` and fsynced, the folder too. Nothing in ``DIR`` has changed yet,
   so a failure here (a full disk, a removed directory, an interrupt) leaves the previous
   files byte-identical; the staging folder is removed and the error says which file of the
   new generation could not be written and that the previous report is unchanged.
2. *Swap*: each previous file is hard-linked into the staging folder (no data is copied, so
   this needs no space), then each new file is moved over its name with ``os.replace`` (a
   rename in one directory, which needs no space either). Should a rename fail part-way,
   the previous files are renamed back from their links, so the swap too is all or nothing.
3. *Seal*: the manifest ``DIR/.audit-manifest.json`` (the generation id and each file's size
   and SHA-256) is moved into place last, ``DIR`` is fsynced, and the staging folder with
   the previous files' links is removed.

A reader can confirm that the files in ``DIR`` are one whole generation with
:func:`read_generation`. Only a machine crash in the middle of the swap (a few renames) can
leave a mix, and then the manifest names the generation the files do not match.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["MANIFEST", "read_generation", "write_report_files"]

#: The manifest naming the generation in ``DIR`` (written last).
MANIFEST = ".audit-manifest.json"

_STAGE_PREFIX = ".audit-gen-"


def _fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames, new files) to disk, where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):   # a directory fsync unsupported
            raise
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


def _previous_names(out_dir: Path) -> list[str]:
    """The files the previous manifest names (none without a readable manifest)."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text("utf-8"))
        return [str(name) for name in manifest["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def write_report_files(out_dir: Path, files: Mapping[str, bytes | str], *,
                       remove: Iterable[str] = ()) -> dict[str, Any]:
    """Replace the report files in ``out_dir`` as one generation: all or none.

    Args:
        out_dir: an existing directory (``ptlimits audit --out DIR``).
        files: file name (no directory part) → its full content; ``str`` is written as
            UTF-8. For the audit: ``{"audit.json": ..., "audit.md": ..., "audit.html": ...}``.
        remove: names that must not survive from an earlier generation (e.g.
            ``("audit.html",)`` when this generation has no HTML). Files the previous
            manifest names but ``files`` does not are removed as well.

    Returns:
        The new manifest: ``{"generation": id, "written_at": ISO time, "files": {name:
        {"bytes": n, "sha256": hex}}}``.

    Raises:
        OSError: the new generation could not be written. Its ``errno`` and ``filename`` are
            the failing write's; its ``strerror`` says which file of the new report failed
            and that the previous files were left unchanged (byte for byte), e.g.
            ``No space left on device while writing audit.html of the new report; nothing
            was replaced: the previous audit.json, audit.md and audit.html in DIR are
            unchanged``.
        ValueError: a name in ``files`` has a directory part or is the manifest's.
    """
    out_dir = Path(out_dir)
    for name in files:
        if not name or Path(name).name != name or name in (".", "..", MANIFEST):
            raise ValueError(f"files: {name!r} is not a plain file name for the report")
    blobs = {name: data.encode("utf-8") if isinstance(data, str) else bytes(data)
             for name, data in files.items()}
    gone = [n for n in dict.fromkeys([*remove, *_previous_names(out_dir)]) if n not in blobs
            and n != MANIFEST and Path(n).name == n]
    generation = (_dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-"
                  + secrets.token_hex(4))
    manifest = {"generation": generation,
                "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "files": {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                          for name, data in blobs.items()}}
    previous = [n for n in [*blobs, *gone] if (out_dir / n).exists()]
    unchanged = (f"nothing was replaced: the previous {_names(previous)} in {out_dir} "
                 + ("are" if len(previous) > 1 else "is") + " unchanged") if previous else \
        f"nothing was replaced in {out_dir}"

    _remove_stale_stages(out_dir)
    stage: Path | None = None
    current = MANIFEST
    try:
        stage = out_dir / f"{_STAGE_PREFIX}{generation}"
        stage.mkdir()
        for name, data in blobs.items():
            current = name
            _write_synced(stage / name, data)
        current = MANIFEST
        _write_synced(stage / MANIFEST,
                      (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        _fsync_dir(stage)
    except BaseException as exc:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, f"{exc.strerror or exc} while writing {current} of the "
                          f"new report; {unchanged}", exc.filename) from exc
        raise
    _swap(out_dir, stage, [*blobs, MANIFEST], gone, unchanged)
    return manifest


def _remove_stale_stages(out_dir: Path, age_s: float = 600.0) -> None:
    """Remove staging folders an earlier, killed writer left behind (older than ``age_s``)."""
    now = _dt.datetime.now().timestamp()
    for path in out_dir.glob(f"{_STAGE_PREFIX}*"):
        with contextlib.suppress(OSError):
            if path.is_dir() and now - path.stat().st_mtime > age_s:
                shutil.rmtree(path, ignore_errors=True)


def _swap(out_dir: Path, stage: Path, names: list[str], gone: list[str],
          unchanged: str) -> None:
    """Move the staged ``names`` over ``out_dir``'s and remove ``gone``; on a failure put
    every previous file back (from hard links kept in ``stage``) and re-raise."""
    backup = stage / ".previous"
    done: list[str] = []          # names already moved into out_dir
    saved: list[str] = []         # names whose previous file is linked in backup
    try:
        backup.mkdir()
        for name in [*names, *gone]:
            if (out_dir / name).exists():
                try:
                    os.link(out_dir / name, backup / name)
                except OSError:        # no hard links here: a copy (this needs space)
                    shutil.copy2(out_dir / name, backup / name)
                saved.append(name)
        for name in names:
            os.replace(stage / name, out_dir / name)
            done.append(name)
        for name in gone:
            (out_dir / name).unlink(missing_ok=True)
            done.append(name)
        _fsync_dir(out_dir)
    except BaseException as exc:
        restored = True
        for name in reversed(done):
            try:
                if name in saved:
                    os.replace(backup / name, out_dir / name)
                else:
                    (out_dir / name).unlink(missing_ok=True)
            except OSError:
                restored = False
        with contextlib.suppress(OSError):
            _fsync_dir(out_dir)
        if restored:
            shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            outcome = unchanged if restored else (
                f"the previous files could not all be put back; they are kept in {backup}")
            raise OSError(exc.errno, f"{exc.strerror or exc} while moving the new report "
                          f"into place; {outcome}", exc.filename) from exc
        raise
    shutil.rmtree(stage, ignore_errors=True)


def read_generation(out_dir: Path) -> dict[str, Any]:
    """The manifest of the report generation in ``out_dir``, checked: every file it names is
    present with its recorded size and SHA-256.

    Raises:
        OSError: no manifest in ``out_dir``.
        ValueError: a file is missing or differs from the manifest (not one whole
            generation), naming the file.
    """
    out_dir = Path(out_dir)
    manifest: dict[str, Any] = json.loads((out_dir / MANIFEST).read_text("utf-8"))
    for name, expected in manifest["files"].items():
        try:
            data = (out_dir / name).read_bytes()
        except OSError as exc:
            raise ValueError(f"{out_dir / name}: missing from generation "
                             f"{manifest['generation']} ({exc.strerror})") from None
        if len(data) != expected["bytes"] or \
                hashlib.sha256(data).hexdigest() != expected["sha256"]:
            raise ValueError(f"{out_dir / name}: not the file of generation "
                             f"{manifest['generation']} (size or SHA-256 differs)")
    return manifest
