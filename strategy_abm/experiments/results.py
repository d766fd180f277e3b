"""Storage of sweep results: Parquet parts written atomically, a manifest, and loading for pandas.

A results folder holds ``manifest.json`` (what exactly was run), ``results/part-*.parquet`` (one
row per successful run: key, point, replication, seed, factor values, final metrics),
``series/part-*.parquet`` (one row per run and turn, when series are recorded) and
``failures/part-*.parquet`` (runs that raised, with error and traceback). Each part is written to
a temporary name and renamed into place, so a process killed mid-write leaves no half-written
part: a part exists whole or not at all, and a resumed sweep reruns exactly what is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.metrics import METRIC_COLUMNS
from ..report.folders import (
    SWEEP_ENTRIES,
    FaultError,
    FolderLock,
    OutputError,
    SafeFolder,
    check_target,
    folder_kind,
    link_error,
    os_fault,
    write_atomically,
    write_marker,
)
from ..scenario.config import ConfigError
from .experiment import TEST_MODELS

TABLES = ("series", "results", "failures")  # flush order: series first (see ResultStore.flush)
KEY_PACKAGES = ("mesa", "numpy", "pandas", "pydantic", "pyarrow", "SALib", "dask", "distributed")


def _versions() -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    for name in ("strategy_abm", *KEY_PACKAGES):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _atomic_write_text(path: Path, text: str, *, dir_fd: int | None = None) -> None:
    """Write ``path`` whole or not at all, never through a symbolic link (see
    :func:`folders.write_atomically`); ``dir_fd``: a descriptor of its folder."""
    write_atomically(path.parent, path.name, text.encode("utf-8"), dir_fd=dir_fd)


def manifest_for(experiment) -> dict:
    """Everything needed to know, and redo, what a sweep ran."""
    runs = list(experiment.runs())
    return {
        "experiment_name": experiment.config.name,
        "experiment_file": str(experiment.path) if experiment.path else None,
        "experiment_text": experiment.source_text,
        "experiment": experiment.config.model_dump(mode="json"),
        "experiment_hash": experiment.hash,
        "resolved_scenario": experiment.resolved_scenario,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "design": {
            "kind": experiment.config.design.kind,
            "factors": list(experiment.config.factors),
            "factor_types": experiment.factor_types,
            "points": experiment.points,
        },
        "runs": {
            "key": [r.key for r in runs],
            "point": [r.point for r in runs],
            "replication": [r.replication for r in runs],
            "seed": [r.seed for r in runs],
        },
    }


def manifest_json(manifest: dict) -> str:
    """The manifest as JSON: readable fields indented, the per-run columns on one line each (a
    100,000-run sweep would otherwise take 400,000 lines)."""
    head = {k: v for k, v in manifest.items() if k != "runs"}
    text = json.dumps(head, indent=1)[:-2]  # reopen the object to append the runs
    runs = ",\n".join(f'  "{k}": {json.dumps(v, separators=(",", ":"))}' for k, v in manifest["runs"].items())
    return f'{text},\n "runs": {{\n{runs}\n }}\n}}\n'


ARROW_TYPES = {"float": pa.float64(), "int": pa.int64(), "str": pa.string(), "bool": pa.bool_()}


def table_schemas(experiment) -> dict[str, pa.Schema]:
    """The Arrow schema of each table, a function of the experiment alone, so that every part of
    a folder has the same one (pandas and pyarrow then read a table's folder as one dataset):
    ``key`` and ``date`` strings; ``point``, ``replication``, ``seed`` and ``turn`` int64; each factor the type
    of its scenario field (:attr:`Experiment.factor_types`: float64, int64, string or bool);
    every metric float64; ``error`` and ``traceback`` strings."""
    ident = [("key", pa.string()), ("point", pa.int64()), ("replication", pa.int64()), ("seed", pa.int64())]
    record = experiment.config.record
    return {
        "results": pa.schema([*ident, *((k, ARROW_TYPES[t]) for k, t in experiment.factor_types.items()),
                              *((m, pa.float64()) for m in record.final)]),
        "series": pa.schema([*ident, ("turn", pa.int64()), ("date", pa.string()),
                             *((m, pa.float64()) for m in record.series)]),
        "failures": pa.schema([*ident, ("error", pa.string()), ("traceback", pa.string())]),
    }  # fmt: skip


class ResultStore:
    """Appends run records to a results folder in Parquet parts of ``flush_rows`` rows.

    The folder must be new, empty, or a sweep folder of the program (its ``.strategy-abm-sweep``
    marker, written first); it is locked while the store is open (a second store on it gets
    :class:`OutputError`). The manifest is written before any part, so a folder with parts always
    has one. :func:`run_sweep` closes the store; :meth:`close` releases the lock. No symbolic link
    in the folder is followed: its marker, lock, manifest and table folders must not be links,
    and files are made relative to descriptors of the folders they go in.

    Raises:
        OutputError: ``folder`` cannot be used (see :func:`folders.check_target`) or is locked.
        ConfigError: it holds results and ``resume`` is false, or results of another experiment.
        FaultError: its manifest or a stored part is damaged and cannot be matched to ``experiment``.
    """

    def __init__(self, folder: str | os.PathLike, experiment, *, resume: bool = False, flush_rows: int = 256):
        self.folder = Path(folder)
        self.flush_rows = flush_rows
        self.schemas = table_schemas(experiment)  # fixed before the first part is written
        self.buffers: dict[str, list[dict]] = {t: [] for t in TABLES}
        self.rows_written = {t: 0 for t in TABLES}  # by this store (parts already there not counted)
        self._series = bool(experiment.config.record.series)
        self._lock = None
        self._dir: SafeFolder | None = None
        self._tables: dict[str, SafeFolder] = {}
        check_target(self.folder, "sweep")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._dir = SafeFolder(self.folder)  # every file below is made relative to it
            if folder_kind(self.folder) is None:  # empty (checked above): mark it ours first
                write_marker(self.folder, "sweep", dir_fd=self._dir.fd)
            self._lock = FolderLock(self.folder, dir_fd=self._dir.fd)
        except OSError as exc:
            self.close()
            raise OutputError(f"--out: cannot write in {str(self.folder)!r}: {exc.strerror}") from None
        except BaseException:
            self.close()
            raise
        try:
            self._open(experiment, resume)
        except BaseException:
            self.close()
            raise

    def _open(self, experiment, resume: bool) -> None:
        manifest = self.folder / "manifest.json"
        for name in SWEEP_ENTRIES:  # checked again under the lock (check_target ran before it)
            if (self.folder / name).is_symlink():
                raise link_error(self.folder / name)
        if manifest.exists():
            if not resume:
                raise ConfigError(f"--out: {str(self.folder)!r} already holds results; add --resume or choose another")
            try:
                stored = load_manifest(self.folder)
            except FaultError as exc:  # rewritten below if every stored run is one of this experiment's
                self._check_stored_keys(experiment, str(exc))
            else:
                if stored.get("experiment_hash") != experiment.hash:
                    raise ConfigError(
                        f"--resume: {str(self.folder)!r} holds results of another experiment "
                        f"({stored.get('experiment_name')!r}, hash {str(stored.get('experiment_hash'))[:12]}); "
                        "resuming would mix them"
                    )
        elif any(self._parts(t) for t in TABLES):  # parts without a manifest: someone removed it
            if not resume:
                raise ConfigError(f"--out: {str(self.folder)!r} already holds results; add --resume or choose another")
            self._check_stored_keys(experiment, f"results: {str(manifest)!r} is missing")
        # A new sweep, or a resume that extends the experiment (more replications): the manifest
        # describes the experiment as it is now run. Written before any part (see the class doc).
        try:
            _atomic_write_text(manifest, manifest_json(manifest_for(experiment)), dir_fd=self._dir.fd)
            for table in TABLES:
                self._tables[table] = self._dir.subfolder(table)
                for stale in (self.folder / table).glob("part-*.parquet.tmp"):
                    # A part being written when the process died: it was never committed.
                    self._tables[table].unlink(stale.name, missing_ok=True)
        except OSError as exc:
            raise OutputError(f"--out: cannot write in {str(self.folder)!r}: {exc.strerror}") from None
        self._next = {t: self._count_parts(t) for t in TABLES}

    def _parts(self, table: str) -> list[Path]:
        return sorted((self.folder / table).glob("part-*.parquet"))

    def _check_stored_keys(self, experiment, problem: str) -> None:
        """Resume without a readable manifest only if every stored run is one of ``experiment``'s
        (a run's key is a hash of the experiment's): then the manifest is simply rewritten."""
        known = {r.key for r in experiment.runs()}
        stored = set().union(*(_part_keys(p) for t in TABLES for p in self._parts(t)))
        if not stored <= known:
            raise FaultError(f"{problem}, and {len(stored - known)} stored runs are not runs of "
                             f"{experiment.config.name!r}; restore manifest.json or choose another --out")  # fmt: skip

    def close(self) -> None:
        """Release the folder's lock (buffered rows are not written: :meth:`flush` first)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        for folder in (*self._tables.values(), *([self._dir] if self._dir is not None else [])):
            folder.close()
        self._tables = {}
        self._dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _count_parts(self, table: str) -> int:
        parts = sorted((self.folder / table).glob("part-*.parquet"))
        return 1 + max((int(p.stem.split("-")[1]) for p in parts), default=-1)

    def done_keys(self) -> set[str]:
        """Keys of the runs already stored as successful (with their series, if recorded: a run
        whose series part was lost, e.g. moved away as damaged, counts as not done)."""
        keys: set[str] = set().union(*(_part_keys(p) for p in self._parts("results")))
        if self._series and keys:
            keys &= set().union(*(_part_keys(p) for p in self._parts("series")))
        return keys

    def add(self, table: str, rows: list[dict]) -> None:
        self.buffers[table].extend(rows)
        if len(self.buffers[table]) >= self.flush_rows * (1 if table != "series" else 64):
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        """Write buffered rows as new parts (atomically: temporary name, then rename).

        Results are flushed only after the series buffered before them: a run's series rows
        enter the store before its result row, so a result on disk implies its series is too,
        and a run resumed as done never lacks its series."""
        tables = TABLES if table in (None, "results") else (table,)
        for t in tables:
            rows = self.buffers[t]
            if not rows:
                continue
            name = f"part-{self._next[t]:06d}.parquet"
            folder = self._tables[t]
            try:
                # A new file, never through a link (one planted at the temporary name is unlinked).
                with os.fdopen(folder.open_new(name + ".tmp"), "wb") as f:
                    pq.write_table(pa.Table.from_pylist(rows, schema=self.schemas[t]), f)
                folder.replace(name + ".tmp", name)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    folder.unlink(name + ".tmp", missing_ok=True)  # a partial part would only take space
                exc.filename = str(self.folder / t / (name + ".tmp"))  # not the name relative to the folder
                raise os_fault(exc, "write") from None
            self._next[t] += 1
            self.rows_written[t] += len(rows)
            self.buffers[t] = []


def _read_part(part: Path, columns: list[str] | None = None) -> pa.Table:
    """One Parquet part; a damaged one is a :class:`FaultError` saying how to recover."""
    try:
        return pq.read_table(part, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FaultError(f"results: {str(part)!r} cannot be read ({reason})",
                         f"move it out of {str(part.parent.parent)!r}, then run the sweep again with --resume "
                         "to redo its runs") from None  # fmt: skip


def _part_keys(part: Path) -> set[str]:
    return set(_read_part(part, ["key"]).column("key").to_pylist())


def _read_table(folder: Path, table: str) -> pd.DataFrame:
    parts = sorted((Path(folder) / table).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    return pd.concat([_read_part(p).to_pandas() for p in parts], ignore_index=True)


def load_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a results folder.

    Raises:
        ConfigError: ``folder`` has no ``manifest.json``.
        FaultError: it is damaged: not JSON, or not the shape the program writes, or naming
            metrics that do not exist (file names are made from them).
    """
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"results: {str(folder)!r} has no manifest.json (not a sweep's results folder)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        problem = _manifest_problem(manifest)
    except ValueError as exc:  # not UTF-8, not JSON
        problem = f"not valid JSON: {str(exc).splitlines()[0]}"
    if problem:
        fix = "run the sweep again with --resume to rewrite it (its stored runs are kept)"
        raise FaultError(f"results: {str(path)!r} is damaged ({problem})", fix) from None
    return manifest


def _manifest_problem(m) -> str | None:
    """What makes ``m`` not a manifest the program could have written (``None`` if nothing)."""
    try:
        exp, design, runs = m["experiment"], m["design"], m["runs"]
        final, series = exp["record"]["final"], exp["record"]["series"]
        missing = [k for k in ("kind", "levels", "second_order") if k not in exp["design"]]
        if missing or "master_seed" not in exp:
            return f"experiment: {(missing or ['master_seed'])[0]!r} missing"
        if not (isinstance(exp["factors"], dict) and isinstance(design["points"], list)):
            return "factors or points of the wrong type"
        if not all(isinstance(p, dict) for p in design["points"]):
            return "design.points: not one table per point"
        if len({len(runs[k]) for k in ("key", "point", "replication", "seed")}) != 1:
            return "runs: columns of different lengths"
        known = {*METRIC_COLUMNS, *(m for ms in TEST_MODELS.values() for m in ms)}
        for where, names in (("final", final), ("series", series)):
            unknown = [n for n in names if n not in known]
            if unknown:
                return f"experiment.record.{where} names {unknown[0]!r}, not a metric"
    except (KeyError, TypeError, IndexError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def load_results(folder: str | os.PathLike) -> pd.DataFrame:
    """One row per successful run (key, point, replication, seed, factors, final metrics), in
    design order: the same frame whatever the number of workers or the order runs finished."""
    manifest = load_manifest(folder)
    df = _read_table(Path(folder), "results")
    if df.empty:
        return df
    df = df[df["key"].isin(manifest["runs"]["key"])]  # runs of the experiment as last run (see --resume)
    return df.drop_duplicates("key").sort_values(["point", "replication"]).reset_index(drop=True)


def load_series(folder: str | os.PathLike) -> pd.DataFrame:
    """One row per run and turn of the recorded series metrics, in design order."""
    manifest = load_manifest(folder)
    df = _read_table(Path(folder), "series")
    if df.empty:
        return df
    df = df[df["key"].isin(manifest["runs"]["key"])]  # runs of the experiment as last run (see --resume)
    return df.drop_duplicates(["key", "turn"]).sort_values(["point", "replication", "turn"]).reset_index(drop=True)


def load_failures(folder: str | os.PathLike) -> pd.DataFrame:
    """Runs that raised and have not succeeded since (error and traceback of the last attempt)."""
    load_manifest(folder)
    df = _read_table(Path(folder), "failures")
    if df.empty:
        return df
    done = set(_read_table(Path(folder), "results").get("key", pd.Series(dtype=str)))
    df = df[~df["key"].isin(done)].drop_duplicates("key", keep="last")
    return df.sort_values(["point", "replication"]).reset_index(drop=True)
