"""Storage of sweep results: Parquet parts written atomically, a manifest, and loading for pandas.

A results folder holds ``manifest.json`` (what exactly was run), ``results/part-*.parquet`` (one
row per successful run: key, point, replication, seed, factor values, final metrics),
``series/part-*.parquet`` (one row per run and turn, when series are recorded) and
``failures/part-*.parquet`` (runs that raised, with error and traceback). Each part is written to
a temporary name and renamed into place, so a process killed mid-write leaves no half-written
part: a part exists whole or not at all, and a resumed sweep reruns exactly what is missing.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .config import ConfigError

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


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
    ``key`` string; ``point``, ``replication``, ``seed`` and ``turn`` int64; each factor the type
    of its scenario field (:attr:`Experiment.factor_types`: float64, int64, string or bool);
    every metric float64; ``error`` and ``traceback`` strings."""
    ident = [("key", pa.string()), ("point", pa.int64()), ("replication", pa.int64()), ("seed", pa.int64())]
    record = experiment.config.record
    return {
        "results": pa.schema([*ident, *((k, ARROW_TYPES[t]) for k, t in experiment.factor_types.items()),
                              *((m, pa.float64()) for m in record.final)]),
        "series": pa.schema([*ident, ("turn", pa.int64()), *((m, pa.float64()) for m in record.series)]),
        "failures": pa.schema([*ident, ("error", pa.string()), ("traceback", pa.string())]),
    }  # fmt: skip


class ResultStore:
    """Appends run records to a results folder in Parquet parts of ``flush_rows`` rows."""

    def __init__(self, folder: str | os.PathLike, experiment, *, resume: bool = False, flush_rows: int = 256):
        self.folder = Path(folder)
        self.flush_rows = flush_rows
        self.schemas = table_schemas(experiment)  # fixed before the first part is written
        self.buffers: dict[str, list[dict]] = {t: [] for t in TABLES}
        manifest = self.folder / "manifest.json"
        if manifest.exists():
            if not resume:
                raise ConfigError(f"--out: {str(self.folder)!r} already holds results; add --resume or choose another")
            stored = json.loads(manifest.read_text())
            if stored.get("experiment_hash") != experiment.hash:
                raise ConfigError(
                    f"--resume: {str(self.folder)!r} holds results of another experiment "
                    f"({stored.get('experiment_name')!r}, hash {str(stored.get('experiment_hash'))[:12]}); "
                    "resuming would mix them"
                )
        elif self.folder.exists() and any(self.folder.iterdir()):
            raise ConfigError(f"--out: {str(self.folder)!r} is a non-empty folder without a manifest; choose another")
        for table in TABLES:
            (self.folder / table).mkdir(parents=True, exist_ok=True)
            for stale in (self.folder / table).glob("*.tmp"):
                stale.unlink()  # a part being written when the process died: it was never committed
        # A new sweep, or a resume that extends the experiment (more replications): the manifest
        # describes the experiment as it is now run.
        _atomic_write_text(manifest, manifest_json(manifest_for(experiment)))
        self._next = {t: self._count_parts(t) for t in TABLES}

    def _count_parts(self, table: str) -> int:
        parts = sorted((self.folder / table).glob("part-*.parquet"))
        return 1 + max((int(p.stem.split("-")[1]) for p in parts), default=-1)

    def done_keys(self) -> set[str]:
        """Keys of the runs already stored as successful."""
        keys: set[str] = set()
        for part in sorted((self.folder / "results").glob("part-*.parquet")):
            keys.update(pq.read_table(part, columns=["key"]).column("key").to_pylist())
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
            tmp = self.folder / t / (name + ".tmp")
            pq.write_table(pa.Table.from_pylist(rows, schema=self.schemas[t]), tmp)
            os.replace(tmp, self.folder / t / name)
            self._next[t] += 1
            self.buffers[t] = []


def _read_table(folder: Path, table: str) -> pd.DataFrame:
    parts = sorted((Path(folder) / table).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)


def load_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a results folder."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"results: {str(folder)!r} has no manifest.json (not a sweep's results folder)")
    return json.loads(path.read_text())


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
