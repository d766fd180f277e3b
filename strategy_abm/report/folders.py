"""Folders the program writes: names that are never paths, markers that say a folder is ours,
a lock on a sweep folder, and one-line messages for input/output faults.

A run folder holds ``.strategy-abm-run`` and a sweep's results folder ``.strategy-abm-sweep``
(small JSON: ``{"kind": ..., "format": 1}``). Only a folder with the right marker, or an empty
one, is ever replaced (a run) or written into (a sweep); temporary and backup folders are made
with :func:`tempfile.mkdtemp`, so the program deletes nothing it did not create.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, sweeps are not locked
    fcntl = None

MARKERS = {"run": ".strategy-abm-run", "sweep": ".strategy-abm-sweep"}
LOCK_FILE = ".strategy-abm-lock"
MARKER_FORMAT = 1
NAME_MAX_BYTES = 255  # a folder name's limit on Linux, macOS and Windows file systems
# What the user can do about an OSError, by errno.
FIXES = {
    errno.ENOSPC: "free some disk space",
    errno.EDQUOT: "free some disk space (quota exceeded)",
    errno.EROFS: "make the folder writable",
    errno.EACCES: "make the folder writable",
    errno.EPERM: "make the folder writable",
    errno.EIO: "check the disk",
}


class OutputError(RuntimeError):
    """The output folder given cannot be used (bad input, exit code 2; one-line message)."""


class FaultError(RuntimeError):
    """Reading or writing failed part-way (disk full, read-only folder, a damaged stored file)
    or a worker process died (exit code 3; one-line message). ``fix`` says what to do, if known."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.fix = fix


def os_fault(exc: OSError, doing: str) -> FaultError:
    """A :class:`FaultError` for ``exc``: ``cannot <doing> <file>: <reason>`` and what to do."""
    where = f" {str(exc.filename)!r}" if exc.filename else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return FaultError(f"cannot {doing}{where}: {reason}", FIXES.get(exc.errno, ""))


def folder_kind(folder: Path) -> str | None:
    """``"run"`` or ``"sweep"`` if ``folder`` holds the program's marker, else ``None``."""
    for kind, name in MARKERS.items():
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("kind") == kind:
            return kind
    return None


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as the program's ``kind`` folder (atomically: temporary name, then rename)."""
    from .._version import __version__

    text = json.dumps({"kind": kind, "format": MARKER_FORMAT, "package_version": __version__}) + "\n"
    tmp = folder / (MARKERS[kind] + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / MARKERS[kind])


def temp_prefix(out: Path) -> str:
    """Prefix of the temporary folders made beside ``out`` (short: ``out``'s name may be long)."""
    return f".{out.name[:40]}.tmp-"


FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}")


def subfolder(folder: Path, name: str) -> Path:
    """``folder/name``, made if missing, for files the program writes there (``plots``,
    ``analysis``): refused if it is a symbolic link or a file, which would send them elsewhere."""
    path = Path(folder) / name
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputError(f"{str(path)!r} is a symbolic link or a file; it must be a folder to write {name} in")
    path.mkdir(exist_ok=True)
    return path


def file_in(folder: Path, name: str) -> Path:
    """``folder/name`` for a file the program writes, ``name`` being made from stored data (a
    metric name): refused unless a plain file name, and if a symbolic link is already there."""
    if not FILE_NAME.fullmatch(name) or ".." in name:
        raise FaultError(f"refusing to write a file named {name!r} in {str(folder)!r}: not a plain file name")
    path = Path(folder) / name
    if path.is_symlink():
        raise OutputError(f"{str(path)!r} is a symbolic link; remove it (it would send the file elsewhere)")
    return path


def is_empty(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is None


def check_target(out: Path, kind: str) -> None:
    """Refuse, before any work, an ``--out`` that cannot hold a ``kind`` folder: an empty path, the
    current folder or one holding it (for a run, which replaces its folder), a symbolic link, a
    file, a path below a file, a name too long, a folder that is neither empty nor the program's
    ``kind`` folder, or a place where no folder can be made. Raises :class:`OutputError`."""
    text = str(out)
    try:
        _check_target(out, kind)
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OutputError(f"--out: {text!r} cannot be used: {reason}") from None


def _check_target(out: Path, kind: str) -> None:
    text = str(out)
    if not text.strip():
        raise OutputError("--out: the folder name is empty")
    if "\x00" in text:
        raise OutputError(f"--out: {text!r} contains a NUL character")
    for part in out.parts:
        if len(os.fsencode(part)) > NAME_MAX_BYTES:
            raise OutputError(f"--out: the name {part[:20] + '...'!r} is {len(os.fsencode(part))} bytes long, "
                              f"above the limit of {NAME_MAX_BYTES}")  # fmt: skip
    if out.is_symlink():
        raise OutputError(f"--out: {text!r} is a symbolic link; give the folder itself ({str(out.resolve())!r})")
    here = Path.cwd().resolve()
    if kind == "run" and (out.resolve() == here or out.resolve() in here.parents):
        raise OutputError(f"--out: {text!r} is the current folder or holds it; a run replaces its whole "
                          "folder, so name a new one (e.g. runs/mine)")  # fmt: skip
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"--out: {str(parent)!r} is a file, not a folder")
    if out.is_dir() and not is_empty(out):
        found = folder_kind(out)
        if found and found != kind:
            raise OutputError(f"--out: {text!r} is a strategy-abm {found} folder, not a {kind}'s; choose another")
        if found is None:
            why = f" (no {MARKERS[kind]} marker in it: delete it yourself if it is an old {kind})"
            raise OutputError(f"--out: {text!r} is a non-empty folder that is not a strategy-abm {kind}"
                              f"{why if (out / 'manifest.json').exists() or (out / 'summary.json').exists() else ''}"
                              "; choose another")  # fmt: skip
    # A run is made beside its folder, a sweep inside it: the nearest folder there that exists
    # must let us make one of our own (tried, then removed).
    candidates = (out, *out.parents) if kind == "sweep" else out.parents
    base = next(p for p in candidates if p.exists())
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".strategy-abm-probe-", dir=base))
    except OSError as exc:
        raise OutputError(f"--out: cannot make a folder in {str(base)!r} ({exc.strerror})") from None


class FolderLock:
    """An exclusive, non-blocking lock on a sweep folder (``flock`` on its lock file), held while
    the folder is written. A second writer gets :class:`OutputError` naming the holder's pid.
    Released by :meth:`release` or when the process ends, however it ends."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_FILE
        self.fd: int | None = None
        if fcntl is None:  # pragma: no cover
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise OutputError(f"--out: {str(folder)!r} is being written by another sweep (pid {holder}); "
                              "wait for it to end or choose another folder") from None  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        _HELD.add(fd)

    def release(self) -> None:
        if self.fd is not None:
            _HELD.discard(self.fd)
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None


_HELD: set[int] = set()  # descriptors of the locks this process holds


def close_inherited_locks() -> None:
    """In a forked worker: close the copies of the parent's lock descriptors, so that the lock
    ends with the parent (a worker outliving a killed parent would hold it otherwise)."""
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()
