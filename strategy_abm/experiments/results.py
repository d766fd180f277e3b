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
import functools
import json
import math
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.metrics import metric_of
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

if TYPE_CHECKING:  # pandas is imported where results are read: a sweep that only writes them never needs it
    import pandas as pd

TABLES = ("series", "results", "failures")  # flush order: series first (see ResultStore.flush)
KEY_PACKAGES = ("mesa", "numpy", "pandas", "pydantic", "pyarrow", "SALib", "dask", "distributed")


# The versions and the commit a manifest records are read once per process (a `git` process and
# nine package look-ups, 10-20 ms of each sweep called again in a session): the code a process
# runs is the code it imported, whatever is installed or checked out after.
@functools.cache
def _versions() -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    for name in ("strategy_abm", *KEY_PACKAGES):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
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
        # The plugins the runs were played with (their source is in the hash): what --resume needs again.
        "plugins": [p.manifest_entry() for p in getattr(experiment, "plugins", ())],
        "versions": dict(_versions()),  # (a copy: the cached one stays as read)
        "git_commit": _git_commit(),
        "design": {
            "kind": experiment.config.design.kind,
            "factors": list(experiment.config.factors),
            "factor_types": experiment.factor_types,
            "points": experiment.points,
            # A listed design (a tournament's profiles): each point's full settings, parameter tables included.
            **(
                {"listed": True, "settings": [experiment.point_values(i) for i in range(len(experiment.points))]}
                if getattr(experiment, "listed", False)
                else {}
            ),
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
    record = experiment.config.record
    return _schemas(experiment.factor_types, record.final, record.series)


IDENT_COLUMNS = ("key", "point", "replication", "seed")


def _schemas(factor_types: dict[str, str], final: list[str], series: list[str]) -> dict[str, pa.Schema]:
    ident = [("key", pa.string()), ("point", pa.int64()), ("replication", pa.int64()), ("seed", pa.int64())]
    return {
        "results": pa.schema([*ident, *((k, ARROW_TYPES[t]) for k, t in factor_types.items()),
                              *((m, pa.float64()) for m in final)]),
        "series": pa.schema([*ident, ("turn", pa.int64()), ("date", pa.string()),
                             *((m, pa.float64()) for m in series)]),
        "failures": pa.schema([*ident, ("error", pa.string()), ("traceback", pa.string())]),
    }  # fmt: skip


def manifest_schemas(manifest: dict) -> dict[str, pa.Schema]:
    """The schema of each table (as :func:`table_schemas`) of the experiment a manifest records:
    factor types from ``design.factor_types``, or for folders written before it was recorded,
    from the JSON types of the design's points."""
    design, record = manifest["design"], manifest["experiment"]["record"]
    types = design.get("factor_types") or {f: _json_factor_type([p[f] for p in design["points"]])
                                           for f in design["factors"]}  # fmt: skip
    return _schemas(types, record["final"], record["series"])


def _json_factor_type(values: list) -> str:
    kinds = {_type_of(v) for v in values}
    return "float" if kinds == {"int", "float"} else kinds.pop() if len(kinds) == 1 else "str"


def _type_of(value) -> str | None:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):  # bool first: True is an int
        if isinstance(value, kind):
            return name
    return None


# Python values each Arrow type takes as they are (others, and any doubt, go to pyarrow's own conversion).
_PLAIN = {pa.float64(): (float, np.float64), pa.int64(): (int, np.int64), pa.bool_(): (bool, np.bool_),
          pa.string(): (str,)}  # fmt: skip
_EXACT_INT = 2**53  # pyarrow refuses an int beyond it in a float64 column
_INT64 = (-(2**63), 2**63)


def arrow_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """The table ``pa.Table.from_pylist(rows, schema=schema)`` gives (a row's missing key or
    ``None``: null), built from the columns' buffers. pyarrow converts a Python list through a
    check for pandas objects that imports pandas, a fifth of a second a sweep otherwise never
    spends; any value not plainly of its column's type (a float in an int column, an int too
    large, a string that is not UTF-8) goes to ``from_pylist`` itself, errors included."""
    columns = []
    for name, kind in zip(schema.names, schema.types, strict=True):
        column = _plain_column([row.get(name) for row in rows], kind)
        if column is None:
            return pa.Table.from_pylist(rows, schema=schema)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _plain_column(values: list, kind: pa.DataType) -> pa.Array | None:
    """``values`` as an Arrow array of type ``kind``, or None if one is not plainly of it."""
    plain = _PLAIN.get(kind)
    if plain is None:
        return None
    valid = [v is not None for v in values]
    n, nulls = len(values), valid.count(False)
    exact_ints = kind == pa.float64()  # an int a double holds exactly is the float it equals
    for v in values:
        if v is not None and type(v) not in plain and not (exact_ints and type(v) is int and abs(v) <= _EXACT_INT):
            return None
    bitmap = pa.py_buffer(np.packbits(np.array(valid, dtype=bool), bitorder="little")) if nulls else None
    if kind == pa.string():
        try:
            encoded = [v.encode("utf-8") if v is not None else b"" for v in values]
        except UnicodeEncodeError:
            return None
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        if offsets[-1] >= 2**31:  # beyond a string column's int32 offsets
            return None
        data = pa.py_buffer(b"".join(encoded))
        return pa.Array.from_buffers(kind, n, [bitmap, pa.py_buffer(offsets.astype(np.int32)), data], nulls)
    filled = [v if v is not None else 0 for v in values]
    if kind == pa.bool_():
        data = pa.py_buffer(np.packbits(np.array(filled, dtype=bool), bitorder="little"))
    elif kind == pa.int64():
        if any(not _INT64[0] <= v < _INT64[1] for v in filled):
            return None
        data = pa.py_buffer(np.array(filled, dtype=np.int64))
    else:
        data = pa.py_buffer(np.array(filled, dtype=np.float64))
    return pa.Array.from_buffers(kind, n, [bitmap, data], nulls)


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
        stored = set().union(*(_part_keys(p, self.schemas[t]) for t in TABLES for p in self._parts(t)))
        if not stored <= known:
            n = len(stored - known)
            runs = "1 stored run is not a run" if n == 1 else f"{n} stored runs are not runs"
            raise FaultError(f"{problem}, and {runs} of {experiment.config.name!r}; restore manifest.json or "
                             "choose another --out")  # fmt: skip

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
        whose series part was lost, e.g. moved away as damaged, counts as not done).

        Raises:
            FaultError: a part cannot be read, or does not have the columns and types of the
                experiment's table (:func:`table_schemas`): a run it holds would count as done
                with wrong or missing values."""
        keys: set[str] = set().union(*(_part_keys(p, self.schemas["results"]) for p in self._parts("results")))
        if self._series and keys:
            keys &= set().union(*(_part_keys(p, self.schemas["series"]) for p in self._parts("series")))
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
                    pq.write_table(arrow_table(rows, self.schemas[t]), f)
                folder.replace(name + ".tmp", name)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    folder.unlink(name + ".tmp", missing_ok=True)  # a partial part would only take space
                exc.filename = str(self.folder / t / (name + ".tmp"))  # not the name relative to the folder
                raise os_fault(exc, "write") from None
            self._next[t] += 1
            self.rows_written[t] += len(rows)
            self.buffers[t] = []


def _read_part(part: Path, columns: list[str] | None = None, schema: pa.Schema | None = None) -> pa.Table:
    """One Parquet part (its ``columns``, all by default). A damaged one, or one whose columns
    and types are not ``schema``'s (when given), is a :class:`FaultError` saying how to recover."""
    try:
        with pq.ParquetFile(part) as file:
            problem = _schema_problem(file.schema_arrow, schema) if schema is not None else None
            if problem is None:
                table = file.read(columns=columns)
                problem = _null_problem(table, schema) if schema is not None else None
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _part_fault(part, f"cannot be read ({reason})") from None
    if problem is not None:
        raise _part_fault(part, f"does not have the columns of the experiment's {part.parent.name} ({problem})")
    return table


def _part_fault(part: Path, problem: str) -> FaultError:
    return FaultError(f"results: {str(part)!r} {problem}",
                      f"move it out of {str(part.parent.parent)!r}, then run the sweep again with --resume "
                      "to redo its runs")  # fmt: skip


def _schema_problem(found: pa.Schema, expected: pa.Schema) -> str | None:
    """What differs between a part's schema and the expected one (``None`` if nothing): a
    column missing, of another type, or unknown. The order of the columns does not matter."""
    have = {f.name: f.type for f in found}
    for field in expected:
        if field.name not in have:
            return f"no column {field.name!r}"
        kind = have[field.name]
        if kind != field.type and not (pa.types.is_large_string(kind) and field.type == pa.string()):
            return f"column {field.name!r} is {kind}, expected {field.type}"
    extra = [name for name in have if expected.get_field_index(name) < 0]
    if extra:
        return f"column {extra[0]!r} is not one of the experiment's"
    if len(have) != len(found):
        return "a column appears twice"
    return None


def _null_problem(table: pa.Table, schema: pa.Schema) -> str | None:
    """The identity of every row must be there (metrics may be NaN: a run can compute one)."""
    for name in (*IDENT_COLUMNS, "turn"):
        if name in table.column_names and schema.get_field_index(name) >= 0 and table.column(name).null_count:
            return f"column {name!r} has {table.column(name).null_count} missing values"
    return None


def _part_keys(part: Path, schema: pa.Schema | None = None) -> set[str]:
    return set(_read_part(part, ["key"], schema).column("key").to_pylist())


def _read_table(folder: Path, table: str, manifest: dict) -> pd.DataFrame:
    """Every part of ``table``, each checked against the manifest: the table's schema
    (:func:`manifest_schemas`), and for a run of the manifest, its point, replication and seed."""
    import pandas as pd

    parts = sorted((Path(folder) / table).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    schema = manifest_schemas(manifest)[table]
    frames = [_read_part(part, schema=schema).to_pandas() for part in parts]
    df = pd.concat(frames, ignore_index=True)
    ident = ["point", "replication", "seed"]
    # Runs of the manifest only (others, of an earlier run of the experiment, are left to the callers).
    stored = df[["key", *ident]].drop_duplicates().reset_index()  # (a series has one row per turn of a run)
    said = stored.merge(pd.DataFrame(manifest["runs"]), on="key", suffixes=("", "_said"))
    wrong = said[ident].to_numpy() != said[[f"{c}_said" for c in ident]].to_numpy()
    if wrong.any():
        row = said[wrong.any(axis=1)].sort_values("index").iloc[0]
        part = parts[int(np.searchsorted(np.cumsum([len(f) for f in frames]), row["index"], side="right"))]
        stored_as = ", ".join(f"{c} {row[c]}" for c in ident)
        manifest_says = ", ".join(f"{c} {row[f'{c}_said']}" for c in ident)
        raise _part_fault(part, f"stores run {row['key']!r} as {stored_as}; the manifest says {manifest_says}")
    return df


MANIFEST_FIX = "run the sweep again with --resume to rewrite it (its stored runs are kept)"


def load_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a results folder.

    Raises:
        ConfigError: ``folder`` has no ``manifest.json``.
        FaultError: it is damaged: not JSON, not the shape the program writes, naming metrics
            that do not exist (file names are made from them), or not consistent: the design's
            factors not the experiment's, its points not as many as the experiment's design
            implies or their values not of the factors' types, runs not one per point and
            replication (see :func:`_manifest_problem`).
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
        raise FaultError(f"results: {str(path)!r} is damaged ({problem})", MANIFEST_FIX) from None
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
        test_metrics = {m for ms in TEST_MODELS.values() for m in ms}
        for where, names in (("final", final), ("series", series)):
            if not isinstance(names, list):
                return f"experiment.record.{where}: not a list of metrics"
            # A family's columns follow the experiment's scenario: any id in place of {id}.
            unknown = [n for n in names if not (isinstance(n, str) and (n in test_metrics or metric_of(n)))]
            if unknown:
                return f"experiment.record.{where} names {unknown[0]!r}, not a metric"
            if len(set(names)) != len(names):
                return f"experiment.record.{where} names a metric twice"
        return _design_problem(exp, design) or _runs_problem(exp, design, runs)
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _design_problem(exp: dict, design: dict) -> str | None:
    """Whether the design (factors, their types, points) is the one the experiment implies."""
    names, points = list(exp["factors"]), design["points"]
    if design["factors"] != names:
        return f"design.factors {design['factors']} are not experiment.factors {names}"
    if design.get("kind", exp["design"]["kind"]) != exp["design"]["kind"]:
        return f"design.kind {design['kind']!r} is not experiment.design.kind {exp['design']['kind']!r}"
    if design.get("listed") is True:  # points listed by the program: as many as their settings
        implied = len(design["settings"]) if isinstance(design.get("settings"), list) else "design.settings: missing"
    else:
        implied = _implied_points(exp)
    if isinstance(implied, str):
        return implied
    if len(points) != implied:
        return f"design.points: {_count(len(points), 'point')}, the experiment's design has {implied:,}"
    types = design.get("factor_types")
    if types is not None:
        if not isinstance(types, dict) or list(types) != names:
            return f"design.factor_types: not one type per factor of {names}"
        bad = [f for f, t in types.items() if t not in ARROW_TYPES]
        if bad:
            return f"design.factor_types: {bad[0]!r} has the unknown type {types[bad[0]]!r}"
    for i, point in enumerate(points):
        if list(point) != names:
            return f"design.points[{i}]: factors {list(point)}, expected {names}"
        for f, value in point.items():
            kind = _type_of(value)
            want = types[f] if types is not None else kind
            if kind is None or not (kind == want or (want == "float" and kind == "int")):
                return f"design.points[{i}]: {f} = {value!r}, expected a value of type {want}"
    return None


def _implied_points(exp: dict) -> int | str:
    """Number of design points the experiment's design has (as ``experiment.design_size``, from
    the manifest's JSON), or what makes the design unreadable."""
    design, factors = exp["design"], exp["factors"]
    kind, k, n = design["kind"], len(factors), design.get("samples")
    if kind == "full_factorial":
        lengths = [f.get("values") for f in factors.values()]
        if not all(isinstance(v, list) and v for v in lengths):
            return "experiment.factors: a full factorial factor without a list of values"
        return math.prod(map(len, lengths))
    if kind not in ("latin_hypercube", "sobol", "morris"):
        return f"experiment.design.kind {kind!r} is not a design"
    ranges = [f.get("range") for f in factors.values()]
    if not all(isinstance(r, list) and len(r) == 2 and all(_type_of(v) in ("int", "float") for v in r) for r in ranges):
        return f"experiment.factors: a {kind} factor without a range [low, high]"
    if _type_of(n) != "int" or n < 1:
        return f"experiment.design.samples: {n!r} is not a number of samples"
    if kind == "latin_hypercube":
        return n
    if kind == "sobol":
        return n * (2 * k + 2 if design["second_order"] else k + 2)
    return n * (k + 1)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _runs_problem(exp: dict, design: dict, runs: dict) -> str | None:
    """Whether the runs are one per design point and replication, each with a key of its own."""
    replications, n_points = exp["replications"], len(design["points"])
    if _type_of(replications) != "int" or replications < 1:
        return f"experiment.replications: {replications!r} is not a number of replications"
    if len(runs["key"]) != n_points * replications:
        return (f"runs: {_count(len(runs['key']), 'run')}, the design has {_count(n_points, 'point')} x "
                f"{_count(replications, 'replication')}")  # fmt: skip
    if len(set(runs["key"])) != len(runs["key"]):
        return "runs: a key appears twice"
    for column, end in (("point", n_points), ("replication", replications), ("seed", 2**63)):
        values = runs[column]
        if not all(type(v) is int for v in values):  # (not bool, not 1.5)
            return f"runs.{column}: not whole numbers"
        if values and not (min(values) >= 0 and max(values) < end):
            return f"runs.{column}: values outside 0..{end - 1}"
    return None


def load_results(folder: str | os.PathLike) -> pd.DataFrame:
    """One row per successful run (key, point, replication, seed, factors, final metrics), in
    design order: the same frame whatever the number of workers or the order runs finished.

    Raises:
        ConfigError: ``folder`` has no manifest.
        FaultError: the manifest is damaged (:func:`load_manifest`), or a part cannot be read,
            does not have the table's columns and types (:func:`manifest_schemas`), or stores a
            run of the manifest under another point, replication or seed. The message names the
            file and what to do.
    """
    manifest = load_manifest(folder)
    df = _read_table(Path(folder), "results", manifest)
    if df.empty:
        return df
    df = df[df["key"].isin(manifest["runs"]["key"])]  # runs of the experiment as last run (see --resume)
    return df.drop_duplicates("key").sort_values(["point", "replication"]).reset_index(drop=True)


def load_series(folder: str | os.PathLike) -> pd.DataFrame:
    """One row per run and turn of the recorded series metrics, in design order (errors as
    :func:`load_results`)."""
    manifest = load_manifest(folder)
    df = _read_table(Path(folder), "series", manifest)
    if df.empty:
        return df
    df = df[df["key"].isin(manifest["runs"]["key"])]  # runs of the experiment as last run (see --resume)
    return df.drop_duplicates(["key", "turn"]).sort_values(["point", "replication", "turn"]).reset_index(drop=True)


def load_failures(folder: str | os.PathLike) -> pd.DataFrame:
    """Runs that raised and have not succeeded since (error and traceback of the last attempt;
    errors as :func:`load_results`)."""
    manifest = load_manifest(folder)
    df = _read_table(Path(folder), "failures", manifest)
    if df.empty:
        return df
    import pandas as pd

    done = set(_read_table(Path(folder), "results", manifest).get("key", pd.Series(dtype=str)))
    df = df[~df["key"].isin(done)].drop_duplicates("key", keep="last")
    return df.sort_values(["point", "replication"]).reset_index(drop=True)
