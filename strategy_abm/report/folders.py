"""Folders the program writes: names that are never paths, markers that say a folder is ours,
a lock on a sweep folder, and one-line messages for input/output faults.

A run folder holds ``.strategy-abm-run``, a sweep's results folder ``.strategy-abm-sweep`` and a
classroom debrief's folder ``.strategy-abm-debrief`` (small JSON: ``{"kind": ..., "format": 1}``;
a run's and a debrief's also list the files they wrote). Only an empty folder, a run or debrief
folder holding nothing but what it wrote, or a sweep folder is ever replaced (a run, a debrief) or
written into (a sweep); temporary and backup folders are made with
:func:`tempfile.mkdtemp`, so the program deletes nothing it did not create. Inside the program's
folders no symbolic link is ever followed: files are opened with ``O_NOFOLLOW`` relative to a
descriptor of their folder (:class:`SafeFolder`), and a marker, lock, manifest or table folder
that is a link is refused.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, sweeps are not locked
    fcntl = None

MARKERS = {
    "run": ".strategy-abm-run",
    "sweep": ".strategy-abm-sweep",
    "debrief": ".strategy-abm-debrief",
    "tune": ".strategy-abm-tune",
    "psro": ".strategy-abm-psro",
}
REPLACED = ("run", "debrief")  # the kinds of folder written whole elsewhere and moved into place
LOCK_FILE = ".strategy-abm-lock"
# What a run writes (its marker lists the files exactly; these are for a marker without the list).
RUN_FILES = ("model.csv", "actors.csv", "events.csv", "summary.json", "config.toml")
RUN_PLOTS = "plots"  # holds the run's PNG files, nothing else
# What a sweep folder holds that must never be a symbolic link (its files are written through them).
SWEEP_ENTRIES = ("manifest.json", "results", "series", "failures", "plots", "analysis")
# The same for the lab's folders: refused before any work, not after a study or a loop has run.
LINKLESS = {"sweep": SWEEP_ENTRIES, "tune": ("plots", "study.journal"), "psro": ("plots",)}
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # 0 on Windows, which has no symbolic links to speak of
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# Whether files can be made relative to a folder's descriptor (Linux, macOS; not Windows).
DIR_FD = {os.open, os.mkdir, os.rename, os.unlink} <= os.supports_dir_fd
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


def read_marker(folder: Path, kind: str) -> dict | None:
    """The ``kind`` marker of ``folder`` as a dict, or ``None`` if there is none (a marker that
    is a symbolic link is not read: it is not the program's)."""
    try:
        fd = os.open(Path(folder) / MARKERS[kind], os.O_RDONLY | NOFOLLOW | CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            data = json.loads(f.read(1 << 20).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == kind else None


def folder_kind(folder: Path) -> str | None:
    """``"run"`` or ``"sweep"`` if ``folder`` holds the program's marker, else ``None``."""
    return next((kind for kind in MARKERS if read_marker(folder, kind) is not None), None)


def write_marker(folder: Path, kind: str, files: list[str] | None = None, *, dir_fd: int | None = None) -> None:
    """Mark ``folder`` as the program's ``kind`` folder (atomically: temporary name, then rename).
    ``files``: for a run, every file it wrote (paths relative to ``folder``)."""
    from .._version import __version__

    marker = {"kind": kind, "format": MARKER_FORMAT, "package_version": __version__}
    if files is not None:
        marker["files"] = sorted(files)
    write_atomically(folder, MARKERS[kind], (json.dumps(marker) + "\n").encode(), dir_fd=dir_fd)


def _at(folder: Path, name: str, dir_fd: int | None) -> tuple[str, dict]:
    """``name`` in ``folder``: relative to ``dir_fd`` if given (and supported), else a path."""
    if dir_fd is not None and DIR_FD:
        return name, {"dir_fd": dir_fd}
    return str(Path(folder) / name), {}


def link_error(path: Path, what: str = "") -> OutputError:
    return OutputError(f"--out: {str(path)!r} is a symbolic link{what}; the program never writes through a link "
                       "in its folders (remove the link, or choose another --out)")  # fmt: skip


def open_new(folder: Path, name: str, *, dir_fd: int | None = None, mode: int = 0o644) -> int:
    """A descriptor of a new file ``folder/name`` opened for writing, never through a link:
    whatever is at that name (a stale temporary file of the program, or a link put there) is
    unlinked first (a link, not its target), then the file is made with ``O_CREAT | O_EXCL |
    O_NOFOLLOW``, which fails rather than follow a link made in between. For temporary names."""
    where, at = _at(folder, name, dir_fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(where, **at)
    return os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, mode, **at)


def write_atomically(folder: Path, name: str, data: bytes, *, dir_fd: int | None = None) -> None:
    """Write ``folder/name`` whole or not at all, never through a link: ``data`` goes to a new
    ``name.tmp`` (:func:`open_new`), which is then renamed over ``name`` (a rename replaces a link
    at ``name``, never its target)."""
    tmp, at = _at(folder, name + ".tmp", dir_fd)
    final, _ = _at(folder, name, dir_fd)
    fd = open_new(folder, name + ".tmp", dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, final, **({"src_dir_fd": dir_fd, "dst_dir_fd": dir_fd} if at else {}))


class SafeFolder:
    """A folder opened without following a symbolic link, so that files made in it (relative
    to its descriptor) stay in it even if the folder or a parent is later replaced by a link.

    Raises :class:`OutputError` if ``path`` is a symbolic link or not a folder."""

    def __init__(self, path: str | os.PathLike, *, parent: SafeFolder | None = None):
        self.path = Path(path) if parent is None else parent.path / path
        self.fd: int | None = None
        if not DIR_FD:  # pragma: no cover - Windows: paths, checked
            if self.path.is_symlink():
                raise link_error(self.path)
            return
        where, at = (str(path), {"dir_fd": parent.fd}) if parent is not None else (str(path), {})
        try:
            self.fd = os.open(where, os.O_RDONLY | DIRECTORY | NOFOLLOW | CLOEXEC, **at)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                if os.path.islink(self.path):
                    raise link_error(self.path) from None
                raise OutputError(f"--out: {str(self.path)!r} is a file, not a folder") from None
            raise

    def subfolder(self, name: str) -> SafeFolder:
        """``name`` in this folder, made if missing; refused if it is a link or a file."""
        where, at = _at(self.path, name, self.fd)
        with contextlib.suppress(FileExistsError):
            os.mkdir(where, 0o755, **at)
        return SafeFolder(name, parent=self)

    def write_atomically(self, name: str, data: bytes) -> None:
        write_atomically(self.path, name, data, dir_fd=self.fd)

    def open_new(self, name: str) -> int:
        return open_new(self.path, name, dir_fd=self.fd)

    def replace(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst`` in this folder (replacing ``dst``; a link there, not its target)."""
        if self.fd is None:  # pragma: no cover
            os.replace(self.path / src, self.path / dst)
        else:
            os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str, *, missing_ok: bool = False) -> None:
        where, at = _at(self.path, name, self.fd)
        try:
            os.unlink(where, **at)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def temp_prefix(out: Path) -> str:
    """Prefix of the temporary folders made beside ``out`` (short: ``out``'s name may be long)."""
    return f".{out.name[:40]}.tmp-"


def staging_folder(out: Path) -> Path:
    """A new temporary folder beside ``out`` (readable by all: what is written there is for
    sharing), where a folder's files are written before they replace ``out`` whole
    (:func:`replace_folder`). Raises OutputError when it cannot be made."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(out), dir=out.parent))
    except OSError as exc:
        raise OutputError(f"--out: cannot create {str(out)!r}: {exc.strerror}") from None
    tmp.chmod(0o755)  # mkdtemp makes it private
    return tmp


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


def foreign_error(out: Path, entry: str, kind: str = "run") -> OutputError:
    return OutputError(f"--out: {str(out)!r} holds {entry!r}, which its {kind} did not write; a {kind} folder is "
                       "replaced only if it holds nothing else (move that away, or choose another --out)")  # fmt: skip


def foreign_entry(folder: Path, kind: str = "run") -> str | None:
    """The first entry (in name order; ``plots/x`` for one inside ``plots``) of a run folder
    that its run did not write, or ``None`` if it holds only the run's files: those its marker
    lists, or, for a marker without the list, :data:`RUN_FILES` and PNG files in ``plots/``.
    A symbolic link, or a folder where a file belongs, is never the run's. ``kind="debrief"``:
    the same for a debrief's folder, whose marker lists its files at any depth."""
    if kind != "run":
        return _foreign_listed(folder, kind)
    marker = read_marker(folder, "run") or {}
    listed = marker.get("files")
    if isinstance(listed, list) and all(isinstance(f, str) for f in listed):
        files = set(listed)
        plots = {f.split("/", 1)[1] for f in files if f.startswith(RUN_PLOTS + "/")}
    else:
        files, plots = set(RUN_FILES), None
    with os.scandir(folder) as entries:
        top = sorted(entries, key=lambda e: e.name)
    for entry in top:
        if entry.name == MARKERS["run"] or (entry.name in files and entry.is_file(follow_symlinks=False)):
            continue
        if entry.name == RUN_PLOTS and entry.is_dir(follow_symlinks=False):
            with os.scandir(entry.path) as inner:
                for item in sorted(inner, key=lambda e: e.name):
                    ours = item.name in plots if plots is not None else item.name.endswith(".png")
                    if not (ours and item.is_file(follow_symlinks=False)):
                        return f"{RUN_PLOTS}/{item.name}"
            continue
        return entry.name
    return None


def _foreign_listed(folder: Path, kind: str) -> str | None:
    """The first entry (depth first, in name order) of ``folder`` that its ``kind`` marker does
    not list (a folder is the marker's if a listed file is inside it); all of it without a list."""
    listed = (read_marker(folder, kind) or {}).get("files")
    if not (isinstance(listed, list) and all(isinstance(f, str) for f in listed)):
        listed = []
    files = set(listed)
    folders = {"/".join(f.split("/")[:i]) for f in files for i in range(1, f.count("/") + 1)}

    def walk(path: Path, prefix: str) -> str | None:
        with os.scandir(path) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                name = prefix + entry.name
                if name == MARKERS[kind] or (name in files and entry.is_file(follow_symlinks=False)):
                    continue
                if name in folders and entry.is_dir(follow_symlinks=False):
                    found = walk(Path(entry.path), name + "/")
                    if found is not None:
                        return found
                    continue
                return name
        return None

    return walk(Path(folder), "")


@contextlib.contextmanager
def written_whole(out: Path, kind: str, what: str, check=None):
    """Write a ``kind`` folder whole: yields a fresh staging folder beside ``out``
    (:func:`staging_folder`) for the caller to fill; then marks it with the files written and
    moves it into place (:func:`replace_folder`, ``check`` as there). On any failure the staging
    folder is deleted and ``out`` is as it was.

    Raises:
        OutputError: the staging folder cannot be made.
        FaultError: writing failed part-way (``cannot write the <what> to <out>: <reason>; the
            earlier <what> there is unchanged`` or ``no partial <what> was left``, and the fix).
    """
    existed = out.exists()
    tmp = staging_folder(out)
    try:
        yield tmp
        written = [str(p.relative_to(tmp)).replace(os.sep, "/") for p in tmp.rglob("*") if p.is_file()]
        write_marker(tmp, kind, files=written)
        replace_folder(tmp, out, kind, check)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        fix = os_fault(exc, "write").fix
        kept = f"the earlier {what} there is unchanged" if existed else f"no partial {what} was left"
        then = f"{fix}, then run again" if fix else "run again"
        raise FaultError(f"cannot write the {what} to {str(out)!r}: {exc.strerror or exc}; {kept}; {then}",
                         fix) from None  # fmt: skip
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(tmp: Path, out: Path, kind: str, check=None) -> None:
    """Rename the finished ``tmp`` (made beside ``out``) to ``out``, a ``kind`` folder of
    :data:`REPLACED`; an earlier one (or an empty folder) there goes first into a backup folder
    made for it, deleted only once ``tmp`` is in place, and only if it holds nothing but its own
    files (checked again once moved: a file added since is refused and the folder put back).
    ``check(out)``: the check of the target before (default :func:`check_target` for ``kind``)."""
    if not out.exists():
        tmp.rename(out)
        return
    (check or (lambda path: check_target(path, kind)))(out)  # still empty, or ours and nothing else
    backup = Path(tempfile.mkdtemp(prefix=temp_prefix(out), dir=out.parent))
    old = backup / out.name
    out.rename(old)
    try:
        foreign = foreign_entry(old, kind) if any(old.iterdir()) else None
        if foreign is not None:
            raise foreign_error(out, foreign, kind)
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        backup.rmdir()
        raise
    shutil.rmtree(backup, ignore_errors=True)  # made above: it holds only the folder just replaced


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
    if kind in REPLACED and (out.resolve() == here or out.resolve() in here.parents):
        raise OutputError(f"--out: {text!r} is the current folder or holds it; a {kind} replaces its whole "
                          "folder, so name a new one (e.g. runs/mine)")  # fmt: skip
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"--out: {str(parent)!r} is a file, not a folder")
    if out.is_dir() and not is_empty(out):
        found = folder_kind(out)
        for name in (*MARKERS.values(), LOCK_FILE, *LINKLESS.get(found, ())):
            if (out / name).is_symlink():
                raise link_error(out / name)
        if found and found != kind:
            raise OutputError(f"--out: {text!r} is a strategy-abm {found} folder, not a {kind}'s; choose another")
        if found == kind and kind in REPLACED:
            foreign = foreign_entry(out, kind)
            if foreign is not None:
                raise foreign_error(out, foreign, kind)
        if found is None:
            why = f" (no {MARKERS[kind]} marker in it: delete it yourself if it is an old {kind})"
            raise OutputError(f"--out: {text!r} is a non-empty folder that is not a strategy-abm {kind}"
                              f"{why if (out / 'manifest.json').exists() or (out / 'summary.json').exists() else ''}"
                              "; choose another")  # fmt: skip
    # A run (a debrief) is made beside its folder, a sweep inside it: the nearest folder there that exists
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

    def __init__(self, folder: Path, *, dir_fd: int | None = None):
        self.path = Path(folder) / LOCK_FILE
        self.fd: int | None = None
        if fcntl is None:  # pragma: no cover
            return
        where, at = _at(folder, LOCK_FILE, dir_fd)
        try:  # never through a link: a lock file that is one would truncate its target
            fd = os.open(where, os.O_RDWR | os.O_CREAT | NOFOLLOW | CLOEXEC | getattr(os, "O_NONBLOCK", 0), 0o644, **at)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(self.path):
                raise link_error(self.path) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OutputError(f"--out: {str(self.path)!r} is not a file; remove it")
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
