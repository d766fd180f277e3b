"""Experiments as validated data: a scenario, the factors to vary, a design, replications, a
master seed and what to record.

An experiment file (TOML, ``experiments/*.toml``) expands into *design points* (one value per
factor) times *replications*; each (point, replication) is one run with a seed derived from the
master seed and that identity (never from the order of execution) and a key derived from the
experiment's hash and that identity. Sampled designs (Latin hypercube, Sobol, Morris) come from
SALib, seeded by the master seed, so the design too is a function of the file.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from .config import ConfigError, Strict, _format_validation_error, load_scenario, read_toml, scenario_to_toml
from .folders import check_name
from .metrics import METRIC_COLUMNS

DESIGNS = ("full_factorial", "latin_hypercube", "sobol", "morris")
# Built-in test models: analytic functions with known sensitivity indices, run through the
# same pipeline as the game so that the analysis plumbing can be checked against the truth.
TEST_MODELS = {"ishigami": ("y",)}


def experiments_dir() -> Path:
    """Folder of the built-in experiments (``STRATEGY_ABM_EXPERIMENTS`` overrides it)."""
    env = os.environ.get("STRATEGY_ABM_EXPERIMENTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "experiments"


class Factor(Strict):
    """A factor: a dotted scenario key with ``values`` (full factorial) or a ``range`` (sampled)."""

    values: list[Annotated[float, Field(allow_inf_nan=False)] | int | str | bool] | None = None
    range: list[Annotated[float, Field(allow_inf_nan=False)]] | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of 'values' (a list) or 'range' ([low, high])")
        if self.values is not None and not self.values:
            raise ValueError("values: the list is empty")
        if self.range is not None and len(self.range) != 2:
            raise ValueError(f"range: give [low, high], got {len(self.range)} numbers")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range: low {self.range[0]} must be below high {self.range[1]}")
        return self


class Design(Strict):
    """How design points are chosen. ``samples``: points of a Latin hypercube, base sample N of
    Sobol (N (k + 2) points, k factors; a power of 2 is best), trajectories of Morris."""

    kind: Literal["full_factorial", "latin_hypercube", "sobol", "morris"] = "full_factorial"
    samples: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    levels: Annotated[int, Field(ge=2, le=20)] = 4
    second_order: bool = False


class Record(Strict):
    """What each run stores: ``final`` metric values, optionally ``series`` (every turn)."""

    final: list[str]
    series: list[str] = Field(default_factory=list)


class ExperimentConfig(Strict):
    """An experiment file."""

    name: str
    description: str = ""
    model: Literal["competition", "ishigami"] = "competition"
    scenario: str = "baseline"
    overrides: list[str] = Field(default_factory=list)
    horizon_turns: Annotated[int, Field(ge=1, le=400)] | None = None
    replications: Annotated[int, Field(ge=1, le=100_000)]
    master_seed: Annotated[int, Field(ge=0, lt=2**63)]
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 8
    design: Design = Field(default_factory=Design)
    factors: dict[str, Factor] = Field(default_factory=dict)
    record: Record

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return check_name(v)  # it names the default results folder: never a path

    @field_validator("factors")
    @classmethod
    def _keys(cls, v):
        for key in v:
            if not key or any(not part for part in key.split(".")):
                raise ValueError(f"{key!r}: a factor is a dotted scenario key like powers.china.strategy")
        return v

    @model_validator(mode="after")
    def _design(self):
        kind = self.design.kind
        if kind == "full_factorial":
            ranged = [k for k, f in self.factors.items() if f.range is not None]
            if ranged:
                raise ValueError(f"factors.{ranged[0]}: a full factorial design needs 'values', not a 'range'")
        else:
            listed = [k for k, f in self.factors.items() if f.values is not None]
            if listed:
                raise ValueError(f"factors.{listed[0]}: a {kind} design samples 'range's, not 'values'")
            if not self.factors:
                raise ValueError(f"design.kind: a {kind} design needs at least one factor with a range")
            if self.design.samples is None:
                raise ValueError(f"design.samples: required by a {kind} design")
        return self


@dataclass(frozen=True)
class Run:
    """One (design point, replication): its key, seed and the overrides of its point."""

    key: str
    point: int
    replication: int
    seed: int


class Experiment:
    """A validated experiment with its design expanded, ready to run.

    Attributes:
        config: the validated file.
        path: where it was read from (``None`` if built in code).
        scenario: the resolved base scenario (overrides applied), or ``None`` for test models.
        points: one dict per design point, factor key -> value.
        hash: SHA-256 of what determines the runs (the experiment less replications, batch size
            and description, plus its resolved scenario): results of another hash are another
            experiment; the same hash with more replications extends it.
    """

    def __init__(self, config: ExperimentConfig, path: Path | None = None, source_text: str = ""):
        self.config = config
        self.path = path
        self.source_text = source_text
        self.scenario = None
        if config.model == "competition":
            self.scenario = _load_base_scenario(config, path)
            _check_factors(config, self.scenario)
            _check_record(config.record, METRIC_COLUMNS)
        else:
            if sorted(config.factors) != ["x1", "x2", "x3"]:
                raise ConfigError("factors: the ishigami test model takes exactly the factors x1, x2, x3")
            _check_record(config.record, TEST_MODELS[config.model])
            if config.record.series:
                raise ConfigError("record.series: test models have no time series")
        self.points = design_points(config)
        if self.scenario is not None:
            # A sampled factor on an integer field (horizon_turns, a lag in turns) takes whole values.
            raw = self.scenario.model_dump(mode="python")
            whole = [k for k, f in config.factors.items() if f.range is not None and _is_int(_lookup(raw, k))]
            for point in self.points:
                for k in whole:
                    point[k] = int(round(point[k]))
        resolved = scenario_to_toml(self.scenario) if self.scenario is not None else ""
        # What determines each run's result. Not the replications (more of them extend an
        # experiment: the first runs keep their keys and seeds), the batch size or the prose.
        identity = config.model_dump(mode="json", exclude={"replications", "batch_size", "description"})
        identity["code"] = code_fingerprint()  # other rules (even uncommitted edits) make another experiment
        canonical = json.dumps(identity, sort_keys=True)
        self.hash = hashlib.sha256((canonical + "\n" + resolved).encode()).hexdigest()
        self.resolved_scenario = resolved

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.config.replications

    def runs(self):
        """Every run, point-major; a generator, so millions of runs cost no memory."""
        for point in range(len(self.points)):
            for rep in range(self.config.replications):
                yield self.run(point, rep)

    def run(self, point: int, replication: int) -> Run:
        return Run(run_key(self.hash, point, replication), point, replication,
                   run_seed(self.config.master_seed, point, replication))  # fmt: skip

    def point_overrides(self, point: int) -> list[str]:
        """The point's factor values as dotted overrides (values rendered as TOML)."""
        return [f"{k}={_toml_value(v)}" for k, v in self.points[point].items()]

    def problem(self) -> dict:
        """SALib's problem dict of the sampled factors."""
        return salib_problem(self.config)


def run_seed(master_seed: int, point: int, replication: int) -> int:
    """Seed of a run, from the master seed and the run's identity only (numpy SeedSequence)."""
    return int(np.random.SeedSequence(master_seed, spawn_key=(point, replication)).generate_state(1, np.uint64)[0] >> 1)


def run_key(experiment_hash: str, point: int, replication: int) -> str:
    """Key of a run: stable across executions, distinct across experiments."""
    return hashlib.sha256(f"{experiment_hash}:{point}:{replication}".encode()).hexdigest()[:20]


def salib_problem(config: ExperimentConfig) -> dict:
    """SALib's problem dict: the sampled factors, in file order, with their ranges."""
    names = list(config.factors)
    return {"num_vars": len(names), "names": names, "bounds": [list(config.factors[n].range) for n in names]}


def design_points(config: ExperimentConfig) -> list[dict[str, Any]]:
    """The design's points in a fixed order (a function of the file alone)."""
    names = list(config.factors)
    kind = config.design.kind
    if kind == "full_factorial":
        values = [config.factors[n].values for n in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    problem = salib_problem(config)
    n, seed = config.design.samples, config.master_seed
    if kind == "latin_hypercube":
        from SALib.sample import latin

        x = latin.sample(problem, n, seed=seed)
    elif kind == "sobol":
        from SALib.sample import sobol

        x = sobol.sample(problem, n, calc_second_order=config.design.second_order, seed=seed)
    else:
        from SALib.sample import morris

        x = morris.sample(problem, n, num_levels=config.design.levels, seed=seed)
    return [dict(zip(names, map(float, row), strict=True)) for row in x]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string
    return repr(v)


def _load_base_scenario(config: ExperimentConfig, path: Path | None):
    name = config.scenario
    try:
        if path is not None and (path.parent / name).is_file():  # a scenario file beside the experiment
            name = str(path.parent / name)
        overrides = list(config.overrides)
        if config.horizon_turns is not None:
            overrides.append(f"horizon_turns={config.horizon_turns}")
        return load_scenario(name, overrides)
    except ConfigError as exc:
        raise ConfigError(f"scenario: {str(exc).removeprefix('scenario: ')}") from None


def _check_factors(config: ExperimentConfig, scenario) -> None:
    """Each factor must be a scenario key whose every value (or range end) validates."""
    raw = scenario.model_dump(mode="python", exclude_none=True)
    for key, factor in config.factors.items():
        probes = factor.values if factor.values is not None else list(factor.range)
        if factor.range is not None and _is_int(_lookup(raw, key)):
            probes = [int(round(v)) for v in probes]
        for value in probes:
            try:
                load_scenario(scenario, [f"{key}={_toml_value(value)}"])
            except ConfigError as exc:
                problem = str(exc).removeprefix(f"{key}: ")  # the scenario's message already names the key
                raise ConfigError(f"factors.{key}: {problem}") from None
        if factor.range is not None:
            current = _lookup(raw, key)
            if isinstance(current, bool) or not isinstance(current, int | float):
                raise ConfigError(f"factors.{key}: a range needs a numeric scenario value, not {current!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def package_version() -> str:
    from . import __version__

    return __version__


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of the package's version and source files: the rules a run was played with. The
    version alone misses edits to an editable install; the sources catch them."""
    digest = hashlib.sha256(package_version().encode())
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _lookup(raw: dict, key: str) -> Any:
    """The value a run plays for a dotted scenario key (``None`` if there is none). A tunable
    strategy parameter the scenario leaves unset (``powers.us.strategy_params.spend_share``)
    plays its strategy's default, so a range over it needs no override first."""
    node: Any = raw
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
    if node is None:
        node = _strategy_default(raw, key)
    return node


def _strategy_default(raw: dict, key: str) -> Any:
    """Default of ``<powers|hosts>.<id>.strategy_params.<p>`` when ``p`` is tunable in that
    actor's strategy, else ``None``."""
    from .strategies import REGISTRY

    parts = key.split(".")
    if len(parts) != 4 or parts[0] not in ("powers", "hosts") or parts[2] != "strategy_params":
        return None
    actor = raw.get(parts[0], {}).get(parts[1])
    cls = REGISTRY.get(actor.get("strategy")) if isinstance(actor, dict) else None
    return cls.defaults.get(parts[3]) if cls is not None and parts[3] in cls.tunable else None


def _check_record(record: Record, known) -> None:
    if not record.final and not record.series:
        raise ConfigError("record: name at least one metric in 'final' or 'series'")
    for where, names in (("final", record.final), ("series", record.series)):
        for name in names:
            if name not in known:
                raise ConfigError(f"record.{where}: unknown metric {name!r} (see the columns of model.csv)")


def resolve_experiment_path(name_or_path: str | os.PathLike) -> Path:
    """A built-in experiment name (``experiments/<name>.toml``) or a path to a TOML file."""
    text = str(name_or_path)
    builtin = experiments_dir() / f"{text}.toml"
    if os.sep not in text and not text.endswith(".toml") and builtin.is_file():
        return builtin
    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"experiment: {text!r} is a folder, not a TOML file")
    if not path.is_file():
        raise ConfigError(f"experiment: file {text!r} does not exist")
    return path


def load_experiment(name_or_path: str | os.PathLike) -> Experiment:
    """Read, validate and expand an experiment file (one-line :class:`ConfigError` on bad input)."""
    path = resolve_experiment_path(name_or_path)
    try:
        raw = read_toml(path)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("scenario:", "experiment:", 1)) from None
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None
    return Experiment(config, path, path.read_text(encoding="utf-8"))


__all__ = [
    "DESIGNS",
    "Experiment",
    "ExperimentConfig",
    "Run",
    "design_points",
    "load_experiment",
    "run_key",
    "run_seed",
]
