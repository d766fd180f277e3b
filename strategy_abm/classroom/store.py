"""The rooms' store: one SQLite file in the user's data folder, so that a server restarted resumes
every room where it was.

The file is ``$STRATEGY_ABM_DATA/classroom.sqlite3`` (else ``$XDG_DATA_HOME/strategy_abm/...``,
else ``~/.local/share/strategy_abm/...``), created with mode 0600: it holds the seats' tokens.
A room is stored as its :meth:`Room.state` (its record, seats, status, deadline, pending
submissions and log) and rebuilt by replaying its record. The schema is versioned
(``PRAGMA user_version``) and the file marked as ours (``PRAGMA application_id``): a corrupt or
foreign file is a one-line :class:`StoreError` naming it, and is never changed or deleted.

A store holds its file's lock until it is closed (SQLite's exclusive locking mode): a second
server on the same data folder would save its own copies of the rooms over the first's, so it is
refused with a one-line error instead. While a server has it open (and after a server was killed)
SQLite's write-ahead log lies beside it, ``classroom.sqlite3-wal``, owner-only like the file; the
next open reads it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .room import Room, RoomError

FILE_NAME = "classroom.sqlite3"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x53414252  # "SABR": marks the file as a strategy_abm classroom store
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_SECONDS = 2.0  # how long to wait for a lock another program holds before saying the file is in use


class StoreError(RuntimeError):
    """The store's file cannot be used (corrupt, foreign, unreadable): one line naming it."""


def data_dir() -> Path:
    """The user data folder: ``$STRATEGY_ABM_DATA``, else ``$XDG_DATA_HOME/strategy_abm``, else
    ``~/.local/share/strategy_abm``."""
    if os.environ.get("STRATEGY_ABM_DATA"):
        return Path(os.environ["STRATEGY_ABM_DATA"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "strategy_abm"


def default_path() -> Path:
    return data_dir() / FILE_NAME


class Store:
    """The rooms of one store file (see the module). ``save``, ``load_all`` and ``delete`` may
    be called from several threads (one connection, used under a lock).

    Raises:
        StoreError: the file is not a store of this program, or is damaged, or cannot be made.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        if self.path.exists():
            self._check_existing()
            self._db = self._connect()
        else:
            self._db = self._create()

    def _fail(self, problem: str) -> StoreError:
        return StoreError(f"{self.path}: {problem}; the file was left as it is")

    def _in_use(self, exc: sqlite3.Error) -> StoreError | None:
        """The error for a file another program holds locked (else None)."""
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return self._fail("in use by another program (is another strategy-abm serve or play running on this "
                              "data folder?)")  # fmt: skip
        return None

    def _check_existing(self) -> None:
        if not self.path.is_file():
            raise self._fail("not a file")
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise self._fail(f"cannot read it ({exc.strerror})") from None
        if head != SQLITE_HEADER:
            raise self._fail("not a classroom store (not an SQLite database)")
        try:  # read-only: a damaged or foreign file is never written to
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_SECONDS)
            try:
                app = db.execute("PRAGMA application_id").fetchone()[0]
                version = db.execute("PRAGMA user_version").fetchone()[0]
                check = db.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise self._in_use(exc) or self._fail(f"damaged or not a classroom store ({exc})") from None
        if app != APPLICATION_ID:
            raise self._fail("not a classroom store (another program's SQLite database)")
        if check != "ok":
            raise self._fail(f"damaged ({check})")
        if version > SCHEMA_VERSION:
            raise self._fail(f"written by a newer strategy_abm (schema {version}, this one reads {SCHEMA_VERSION})")

    def _connect(self) -> sqlite3.Connection:
        """The store's connection, holding the file's exclusive lock until :meth:`close`."""
        db = None
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_SECONDS)
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
            # A write-ahead log, synced at checkpoints: a save then costs no fsync (the server's
            # event loop waited ~10 ms on each under load: benchmarks/bench_classroom.py). A crash
            # of the server loses no save; a power cut may lose the last few, never corrupts.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN EXCLUSIVE")  # taken now and kept (exclusive mode) after the commit
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise self._in_use(exc) or self._fail(f"cannot open it ({exc})") from None
        return db

    def _create(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # tokens: the owner only
            os.close(fd)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the store ({exc.strerror})") from None
        db = self._connect()
        with self._transaction(db):
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute("CREATE TABLE rooms (id TEXT PRIMARY KEY, state TEXT NOT NULL, saved REAL NOT NULL)")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return db

    @staticmethod
    def _transaction(db: sqlite3.Connection):
        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, exc, tb):
                db.execute("ROLLBACK" if kind else "COMMIT")
                return False

        return _Tx()

    def save(self, room: Room) -> None:
        """Store ``room`` as it is now (one transaction: the earlier state or this one, never a mix)."""
        text = json.dumps(room.state(), sort_keys=True, allow_nan=False)
        with self._lock:
            try:
                with self._transaction(self._db):
                    self._db.execute("INSERT OR REPLACE INTO rooms (id, state, saved) VALUES (?, ?, ?)",
                                     (room.id, text, time.time()))  # fmt: skip
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot save room {room.id} ({exc})") from None

    def load_all(self, *, clock: Callable[[], float] = time.time) -> dict[str, Room]:
        """Every stored room, rebuilt by replaying its record, by id (in the order saved first)."""
        with self._lock:
            try:
                rows = self._db.execute("SELECT id, state FROM rooms ORDER BY rowid").fetchall()
            except sqlite3.Error as exc:
                raise self._fail(f"cannot read it ({exc})") from None
        rooms = {}
        for room_id, text in rows:
            try:
                rooms[room_id] = Room.from_state(json.loads(text), clock=clock)
            except (ValueError, RoomError) as exc:
                raise self._fail(f"room {room_id} cannot be restored ({exc})") from None
        return rooms

    def delete(self, room_id: str) -> None:
        """Remove a room from the store (nothing if it is not there)."""
        with self._lock, self._transaction(self._db):
            self._db.execute("DELETE FROM rooms WHERE id = ?", (room_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
