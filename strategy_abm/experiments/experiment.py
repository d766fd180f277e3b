"""Experiments as validated data: a scenario, the factors to vary, a design, replications, a
master seed and what to record.

An experiment file (TOML, ``experiments/*.toml``) expands into *design points* (one value per
factor) times *replications*; each (point, replication) is one run with a seed derived from the
master seed and that identity (never from the order of execution; with ``common_random_numbers``
from the master seed and the replication alone, so that every point plays replication r on the
same seed) and a key derived from the experiment's hash and that identity. Sampled designs
(Latin hypercube, Sobol, Morris) come from SALib, seeded by the master seed, so the design too
is a function of the file.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import json
import math
import os
import random
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from ..engine.metrics import metric_columns
from ..scenario.config import (
    ConfigError,
    Scenario,
    Strict,
    load_scenario,
    read_config,
    scenario_ids,
    scenario_to_toml,
    validate_config,
)
from ..scenario.names import FolderName
from ..strategies.plugins import loaded_plugins

DESIGNS = ("full_factorial", "latin_hypercube", "sobol", "morris")
# Built-in test models: analytic functions with known sensitivity indices, run through the
# same pipeline as the game so that the analysis plumbing can be checked against the truth.
TEST_MODELS = {"ishigami": ("y",)}
# Sizes refused before the design is computed: beyond them the design alone takes minutes and
# gigabytes (the manifest lists every point and run), and no sweep on this runner would finish.
MAX_DESIGN_POINTS = 1_000_000
MAX_RUNS = 10_000_000
MAX_FACTOR_VALUES = 1_000  # each listed value is validated against the scenario (about 2 ms each)
# Design points validated as a whole against the scenario at load (about 0.4 ms each): every one
# up to this many, beyond it every corner of the factors' extremes and a sample.
MAX_CHECKED_POINTS = 10_000
MAX_EVERY_INTEGER = 1_000  # an integer range of at most this many values has each one validated


def experiments_dir() -> Path:
    """Folder of the built-in experiments (``STRATEGY_ABM_EXPERIMENTS`` overrides it)."""
    env = os.environ.get("STRATEGY_ABM_EXPERIMENTS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "experiments"


class Factor(Strict):
    """A factor: a dotted scenario key with ``values`` (full factorial) or a ``range`` (sampled)."""

    values: list[Any] | None = None
    range: list[Annotated[float, Field(allow_inf_nan=False)]] | None = None

    @field_validator("values")
    @classmethod
    def _scalars(cls, v):
        if v is not None:
            if len(v) > MAX_FACTOR_VALUES:
                raise ValueError(f"{len(v):,} values, more than {MAX_FACTOR_VALUES:,} (sample a range instead)")
            for x in v:
                if not isinstance(x, bool | int | float | str):
                    raise ValueError(f"{x!r} is not a number, a string or a boolean")
                if isinstance(x, float) and not math.isfinite(x):
                    raise ValueError(f"{x} is not a finite number")
        return v

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

    name: FolderName  # it names the default results folder: never a path
    description: str = ""
    model: Literal["competition", "ishigami"] = "competition"
    scenario: str = "baseline"
    overrides: list[str] = Field(default_factory=list)
    horizon_turns: Annotated[int, Field(ge=1, le=400)] | None = None
    replications: Annotated[int, Field(ge=1, le=100_000)]
    master_seed: Annotated[int, Field(ge=0, lt=2**63)]
    # Every design point plays replication r on the same seed (replication_seed): the game's
    # per-purpose streams then give all points the same shocks and every unchanged actor the same
    # draws, so differences between points are paired, controlled comparisons.
    common_random_numbers: bool = False
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 8
    design: Design = Field(default_factory=Design)
    factors: dict[str, Factor] = Field(default_factory=dict)
    record: Record

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
        points_checked: how many design points were validated as a whole against the scenario
            at load (all of them up to :data:`MAX_CHECKED_POINTS`; beyond, corners and a sample).
        factor_types: factor key -> ``"float"``, ``"int"``, ``"str"`` or ``"bool"``: the type the
            scenario field holds (a float field gives ``"float"`` even for ``values = [10, 12]``).
        points: one dict per design point, factor key -> value of that type.
        hash: SHA-256 of what determines the runs (the experiment less replications, batch size
            and description, plus its resolved scenario, the package's code and the source of
            every loaded plugin): results of another hash are another experiment; the same hash
            with more replications extends it.
        plugins: the plugins loaded when the experiment was read (``--plugin``, entry points):
            their source is in the hash, and a sweep's tasks carry it to the workers.
    """

    def __init__(self, config: ExperimentConfig, path: Path | None = None, source_text: str = ""):
        self.config = config
        self.path = path
        self.source_text = source_text
        self.scenario = None
        _check_design_size(config)  # before anything costly: an astronomic design is refused at once
        if config.model == "competition":
            self.scenario = _load_base_scenario(config, path)
            self.factor_types, values = _check_factors(config, self.scenario)
            _check_record(config.record, metric_columns(self.scenario))  # the scenario's own columns
        else:
            if sorted(config.factors) != ["x1", "x2", "x3"]:
                raise ConfigError("factors: the ishigami test model takes exactly the factors x1, x2, x3")
            self.factor_types, values = _check_test_model_factors(config)
            _check_record(config.record, TEST_MODELS[config.model])
            if config.record.series:
                raise ConfigError("record.series: test models have no time series")
        integer = [k for k, t in self.factor_types.items() if t == "int"]
        self.points = design_points(config, integer=integer, values=values)
        # Factors valid one by one may still clash (a minimum above a maximum): see _check_points.
        self.points_checked = len(self.points)
        if self.scenario is not None:
            self.points_checked = _check_points(config, self.scenario, self.points)
        resolved = scenario_to_toml(self.scenario) if self.scenario is not None else ""
        # What determines each run's result. Not the replications (more of them extend an
        # experiment: the first runs keep their keys and seeds), the batch size or the prose.
        identity = config.model_dump(mode="json", exclude={"replications", "batch_size", "description"})
        identity["code"] = code_fingerprint()  # other rules (even uncommitted edits) make another experiment
        self.plugins = loaded_plugins()
        if self.plugins:  # an edited plugin is other code too: --resume must not mix its results
            identity["plugins"] = sorted(p.sha256 for p in self.plugins)
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
        master = self.config.master_seed
        seed = replication_seed(master, replication) if self.config.common_random_numbers else \
            run_seed(master, point, replication)  # fmt: skip
        return Run(run_key(self.hash, point, replication), point, replication, seed)

    # A design whose points the program lists (a tournament's profiles: strategy_abm/lab/tournament.py),
    # rather than one the factors imply: the manifest then records them as they are.
    listed = False

    def point_values(self, point: int) -> dict[str, Any]:
        """What the point sets in the scenario, dotted key -> value: its factor values (the stored
        columns), and for a listed design, values that are not columns (a strategy's parameter table)."""
        return self.points[point]

    def point_overrides(self, point: int) -> list[str]:
        """The point's factor values as dotted overrides (values rendered as TOML)."""
        return [f"{k}={_toml_value(v)}" for k, v in self.points[point].items()]

    def problem(self) -> dict:
        """SALib's problem dict of the sampled factors."""
        return salib_problem(self.config)


def run_seed(master_seed: int, point: int, replication: int) -> int:
    """Seed of a run, from the master seed and the run's identity only (numpy SeedSequence)."""
    return int(np.random.SeedSequence(master_seed, spawn_key=(point, replication)).generate_state(1, np.uint64)[0] >> 1)


def replication_seed(master_seed: int, replication: int) -> int:
    """Seed of every run of a replication under ``common_random_numbers``: from the master seed
    and the replication only (a spawn key of one word, so never a seed of :func:`run_seed`'s
    two-word keys), the same at every design point."""
    return int(np.random.SeedSequence(master_seed, spawn_key=(replication,)).generate_state(1, np.uint64)[0] >> 1)


def run_key(experiment_hash: str, point: int, replication: int) -> str:
    """Key of a run: stable across executions, distinct across experiments."""
    return hashlib.sha256(f"{experiment_hash}:{point}:{replication}".encode()).hexdigest()[:20]


def salib_problem(config: ExperimentConfig) -> dict:
    """SALib's problem dict: the sampled factors, in file order, with their ranges."""
    return problem_of_ranges({n: f.range for n, f in config.factors.items()})


def problem_of_ranges(ranges: Mapping[str, Sequence[float]]) -> dict:
    """SALib's problem dict of factors ``{name: [low, high]}``, in the mapping's order: the one
    builder for sampling (from the experiment file) and analysis (from the manifest)."""
    names = list(ranges)
    return {"num_vars": len(names), "names": names, "bounds": [list(ranges[n]) for n in names]}


def design_size(config: ExperimentConfig) -> tuple[int, str]:
    """Number of design points of the file's design, and how it is reckoned (computed from the
    file alone, without building the design)."""
    names, n = list(config.factors), config.design.samples
    k = len(names)
    kind = config.design.kind
    if kind == "full_factorial":
        lengths = [len(config.factors[f].values) for f in names]
        return math.prod(lengths), " x ".join(map(str, lengths)) or "no factors"
    if kind == "latin_hypercube":
        return n, f"latin_hypercube N = {n:,}"
    if kind == "sobol":
        per = 2 * k + 2 if config.design.second_order else k + 2
        return n * per, f"sobol N = {n:,} x {per}"
    return n * (k + 1), f"morris {n:,} trajectories x {k + 1}"


def _check_design_size(config: ExperimentConfig) -> None:
    points, how = design_size(config)
    runs = points * config.replications
    if points > MAX_DESIGN_POINTS or runs > MAX_RUNS:
        raise ConfigError(
            f"design: {how} = {points:,} design points x {config.replications:,} "
            f"replication{'s' if config.replications > 1 else ''} = {runs:,} runs, "
            f"above the limit of {MAX_DESIGN_POINTS:,} design points and {MAX_RUNS:,} runs"
        )


def design_points(
    config: ExperimentConfig, integer: Iterable[str] = (), values: dict[str, list] | None = None
) -> list[dict[str, Any]]:
    """The design's points in a fixed order (a function of the file alone).

    ``integer``: sampled factors on integer fields. A range ``[low, high]`` of whole numbers then
    stands for the integers low..high, each with equal weight: a sampled value at fraction u of
    the range (0 <= u <= 1) becomes ``low + floor(u * (high - low + 1))``, and ``high`` for u = 1.
    ``values``: the listed values of full-factorial factors as the scenario stores them (floats
    for a float field); the file's values by default."""
    names = list(config.factors)
    kind = config.design.kind
    if kind == "full_factorial":
        listed = [(values or {}).get(n, config.factors[n].values) for n in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*listed)]
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
    points = [dict(zip(names, map(float, row), strict=True)) for row in x]
    for name in integer:
        low, high = (int(v) for v in config.factors[name].range)
        for point in points:
            point[name] = whole_value(point[name], low, high)
    return points


def whole_value(x: float, low: int, high: int) -> int:
    """The integer of ``low..high`` that a value ``x`` sampled on ``[low, high]`` stands for:
    ``high - low + 1`` bins of equal width, so each integer has equal weight. The 1e-9 keeps a
    value on a bin's edge (a Morris level such as 2/3 of the range) in the upper bin despite
    rounding in ``low + u * (high - low)``."""
    u = (x - low) / (high - low)
    return low + min(math.floor(u * (high - low + 1) + 1e-9), high - low)


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
        message = str(exc).removeprefix("scenario: ")
        if message.startswith("--set "):  # a malformed entry of the experiment's overrides
            raise ConfigError(f"overrides: {message.removeprefix('--set ')}") from None
        raise ConfigError(f"scenario: {message}") from None


def _check_factors(config: ExperimentConfig, scenario) -> tuple[dict[str, str], dict[str, list]]:
    """Each factor must be a scenario key whose every value (or range end) validates.

    Returns each factor's type (the type the scenario field holds, see :class:`Experiment`) and
    the listed values of full-factorial factors converted to it (``10`` -> ``10.0`` on a float
    field). A range is on an integer field when the field is declared ``int`` (or, for a key the
    schema does not declare, refuses a fraction): its ends must then be whole numbers, and every
    integer between them must validate (up to :data:`MAX_EVERY_INTEGER` of them). A range over a
    field that takes a set of values (``turns_per_year``: 1, 2, 4 or 12) is refused."""
    types: dict[str, str] = {}
    listed: dict[str, list] = {}
    for key, factor in config.factors.items():
        if factor.values is not None:
            stored = [_probe(scenario, key, v) for v in factor.values]
            if any(_is_int(v) for v in stored) and _takes_floats(scenario, key, next(v for v in stored if _is_int(v))):
                stored = [float(v) if _is_int(v) else v for v in stored]
            kinds = {_type_name(v) for v in stored}
            if len(kinds) > 1:
                raise ConfigError(f"factors.{key}: values of more than one type ({', '.join(sorted(kinds))})")
            types[key], listed[key] = kinds.pop(), stored
            if types[key] == "int":
                _check_int64(key, stored)
            continue
        low, high = factor.range
        declared = _field_type(key)
        if get_origin(declared) is Literal:
            allowed = ", ".join(str(v) for v in get_args(declared))
            raise ConfigError(f"factors.{key}: the field takes only {allowed}: a range needs a field that takes every "
                              "value between its ends; list the values instead")  # fmt: skip
        if declared is float or (declared is not int and (_takes_floats(scenario, key, low)
                                                          or _takes_floats(scenario, key, high))):  # fmt: skip
            for end in (low, high):
                _probe(scenario, key, end)  # the field's complaint about an end out of bounds
            types[key] = "float"
            continue
        # Neither end is taken as a fraction: an integer field, or a field that takes no number.
        ends = [int(round(v)) if v.is_integer() else v for v in (low, high)]
        if declared is int and not (low.is_integer() and high.is_integer()):
            raise ConfigError(f"factors.{key}: an integer field takes whole-number range ends, got "
                              f"[{_number(low)}, {_number(high)}]")  # fmt: skip
        try:
            stored = [_probe(scenario, key, int(round(v))) for v in (low, high)]
        except ConfigError:
            if declared is int:
                raise
            stored = []
        if stored and all(_is_int(v) for v in stored) and not _takes_floats(scenario, key, int(round(low))):
            if not (low.is_integer() and high.is_integer()):
                raise ConfigError(f"factors.{key}: an integer field takes whole-number range ends, got "
                                  f"[{_number(low)}, {_number(high)}]")  # fmt: skip
            _check_int64(key, stored)
            _check_every_integer(scenario, key, int(low), int(high))
            types[key] = "int"
            continue
        for end in ends:
            _probe(scenario, key, end)  # the field's complaint about a number
        raise ConfigError(f"factors.{key}: a range needs a numeric scenario field")
    return types, listed


def _check_every_integer(scenario, key: str, low: int, high: int) -> None:
    """Every integer of ``low..high`` must validate (a field may refuse some between valid ends)."""
    if high - low + 1 > MAX_EVERY_INTEGER:
        return
    for value in range(low + 1, high):
        try:
            _with_values(scenario, {key: value})
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            try:
                _probe(scenario, key, value)
            except ConfigError as exc:
                problem = str(exc).removeprefix(f"factors.{key}: ")
                raise ConfigError(f"factors.{key}: {value}, inside the range [{low}, {high}], is refused ({problem}): "
                                  "a range needs a field that takes every value between its ends; list the values "
                                  "instead") from None  # fmt: skip


def _field_type(key: str) -> Any:
    """The type the scenario schema declares for the field at dotted ``key`` (``Annotated`` and
    ``| None`` unwrapped: ``float``, ``int``, ``Literal[1, 2, 4, 12]``, ...), or ``None`` where
    the schema does not say (a key inside a free-form table such as ``strategy_params``)."""
    tp: Any = Scenario
    for part in key.split("."):
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part)
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is list and part.isdigit():
            tp = get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return None if tp is Any else tp


def _unwrap(tp: Any) -> Any:
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _with_values(scenario, values: dict[str, Any]):
    """``scenario`` with the dotted keys of ``values`` set, validated: what
    ``load_scenario(scenario, overrides)`` gives, about five times faster, as only the tables on
    each key's path are validated again (the others are passed as the validated models they
    are), and the scenario's own checks run. Raises pydantic's ValidationError (a ValueError), or
    KeyError, IndexError, TypeError for a key it cannot follow: the caller then asks
    :func:`load_scenario` for the message."""
    data: dict = {name: getattr(scenario, name) for name in type(scenario).model_fields}
    for key, value in values.items():
        parts = key.split(".")
        node: Any = data
        for part in parts[:-1]:
            at = int(part) if isinstance(node, list) else part
            child = node[at]
            if isinstance(child, BaseModel):
                child = {name: getattr(child, name) for name in type(child).model_fields}
            elif isinstance(child, dict):  # a plain copy: a loaded scenario's tables are read-only FrozenMaps
                child = dict(child)
            elif isinstance(child, list):
                child = list(child)
            else:
                raise TypeError(f"{key}: {part} is a value, not a table")
            node[at] = child
            node = child
        node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    # Tables keyed by ids are checked against the scenario's ids (the validation context), which
    # scenario_ids reads from raw tables: read them from the models here. A change of ids (a
    # power's bloc, a table of actors) re-checks tables this does not re-validate: refused here,
    # the caller's load_scenario does it whole.
    ids = _model_ids(data)
    if ids != _scenario_model_ids(scenario):
        raise ValueError("the values change the scenario's ids")
    return type(scenario).model_validate(data, context=ids)


_IDS: dict[int, tuple] = {}  # id(scenario) -> (scenario, its ids): the base of many points


def _scenario_model_ids(scenario) -> dict[str, Any]:
    entry = _IDS.get(id(scenario))
    if entry is None or entry[0] is not scenario:
        if len(_IDS) >= 16:
            _IDS.clear()
        tables = {name: getattr(scenario, name) for name in type(scenario).model_fields}
        entry = _IDS[id(scenario)] = (scenario, _model_ids(tables))
    return entry[1]


def _model_ids(data: dict) -> dict[str, Any]:
    """``scenario_ids`` of a scenario whose tables may be validated models rather than dicts."""

    def plain(v: Any) -> Any:
        return {name: getattr(v, name) for name in type(v).model_fields} if isinstance(v, BaseModel) else v

    # Two levels as dicts (a table of actors, each actor's fields), as scenario_ids reads a raw file.
    view = {}
    for name, value in data.items():
        value = plain(value)
        view[name] = {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else value
    return scenario_ids(view)


def _check_points(config: ExperimentConfig, scenario, points: list[dict[str, Any]]) -> int:
    """Validate design points as a whole, so that factors valid one by one but not together (a
    minimum above a maximum, a share vector no longer summing to 1) are refused at load, not
    found run by run. Every distinct point up to :data:`MAX_CHECKED_POINTS`; beyond, every
    combination of each factor's extreme values (a corner of the design) and a seeded sample of
    the points. Returns how many points were checked.

    Raises:
        ConfigError: naming the first point refused, its factor values and the problem.
    """
    if len(config.factors) < 2:  # one factor: each of its values or range ends is checked already
        return len(points)
    distinct: dict[tuple, int] = {}
    for i, point in enumerate(points):
        distinct.setdefault(tuple(point.values()), i)
    if len(distinct) <= MAX_CHECKED_POINTS:
        chosen = [(i, points[i]) for i in distinct.values()]
    else:
        chosen = [(None, corner) for corner in _corners(config, points, MAX_CHECKED_POINTS // 2)]
        sample = random.Random(config.master_seed).sample(range(len(points)), MAX_CHECKED_POINTS - len(chosen))
        chosen += [(i, points[i]) for i in sorted(sample)]
    for i, point in chosen:
        try:
            _with_values(scenario, point)
            continue
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            pass
        overrides = [f"{k}={_toml_value(v)}" for k, v in point.items()]
        try:
            load_scenario(scenario, overrides)
        except ConfigError as exc:
            which = f"design point {i}" if i is not None else "a corner of the design"
            values = ", ".join(f"{k} = {_number(v)}" for k, v in point.items())
            raise ConfigError(f"factors: {which} ({values}) is refused by the scenario: {exc}") from None
    return len(chosen)


def _corners(config: ExperimentConfig, points: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Combinations of each factor's extremes (its lowest and highest number, or each of its
    values if they are not numbers, at most 8), the first ``limit`` of them."""
    extremes = []
    for key in config.factors:
        seen = list(dict.fromkeys(p[key] for p in points))
        numbers = [v for v in seen if isinstance(v, int | float) and not isinstance(v, bool)]
        extremes.append([min(numbers), max(numbers)] if len(numbers) == len(seen) else seen[:8])
    combos = itertools.islice(itertools.product(*extremes), limit)
    return [dict(zip(config.factors, combo, strict=True)) for combo in combos]


def _number(v: Any) -> str:
    """A value for a message: numbers short (``1e+308``, ``0.123457``), others as they are."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return repr(v) if isinstance(v, str) else str(v)
    if isinstance(v, int) and abs(v) < 10**15:
        return str(v)
    try:
        return f"{float(v):.6g}"
    except OverflowError:  # an integer beyond any float
        return f"{'-' if v < 0 else ''}1e+{int(abs(v).bit_length() * math.log10(2))}"


def _check_int64(key: str, values: list[int]) -> None:
    """Integer factors are stored as 64-bit integers in the results."""
    if any(not -(2**63) <= v < 2**63 for v in values):
        raise ConfigError(f"factors.{key}: {_number(max(values, key=abs))} is too large to store (at most 2^63 - 1)")


def _check_test_model_factors(config: ExperimentConfig) -> tuple[dict[str, str], dict[str, list]]:
    """A test model's factors are real numbers."""
    listed = {}
    for key, factor in config.factors.items():
        if factor.values is not None:
            bad = [v for v in factor.values if isinstance(v, bool) or not isinstance(v, int | float)]
            if bad:
                raise ConfigError(f"factors.{key}: the {config.model} test model takes numbers, got {bad[0]!r}")
            listed[key] = [float(v) for v in factor.values]
    return dict.fromkeys(config.factors, "float"), listed


def _probe(scenario, key: str, value: Any) -> Any:
    """The value the scenario stores at ``key`` when set to ``value`` (ConfigError if refused)."""
    try:
        probed = load_scenario(scenario, [f"{key}={_toml_value(value)}"])
    except ConfigError as exc:
        problem = str(exc).removeprefix(f"{key}: ")  # the scenario's message already names the key
        raise ConfigError(f"factors.{key}: {problem}") from None
    return _stored(probed, key)


def _takes_floats(scenario, key: str, value: float) -> bool:
    """Whether the field at ``key`` holds a fraction (strict integer fields refuse ``2.0``)."""
    try:
        return isinstance(_probe(scenario, key, float(value)), float)
    except ConfigError:
        return False


def _stored(scenario, key: str) -> Any:
    node: Any = scenario
    for part in key.split("."):
        if isinstance(node, BaseModel):
            node = getattr(node, part, None)
        elif isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _type_name(value: Any) -> str:
    for kind in (bool, int, float, str):  # bool first: True is an int too
        if isinstance(value, kind):
            return kind.__name__
    raise ConfigError(f"factor value {value!r} is neither a number, a string nor a boolean")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def package_version() -> str:
    from .._version import __version__

    return __version__


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of the package's version and source files: the rules a run was played with."""
    from .._version import source_digest

    return hashlib.sha256(f"{package_version()}\n{source_digest()}".encode()).hexdigest()


def _check_record(record: Record, known) -> None:
    if not record.final and not record.series:
        raise ConfigError("record: name at least one metric in 'final' or 'series'")
    for where, names in (("final", record.final), ("series", record.series)):
        for name in names:
            if name not in known:
                raise ConfigError(f"record.{where}: unknown metric {name!r} (see the columns of model.csv)")


def builtin_experiments() -> list[str]:
    """Names of the built-in experiments (the ``*.toml`` files of :func:`experiments_dir`)."""
    return sorted(p.stem for p in experiments_dir().glob("*.toml"))


def resolve_experiment_path(name_or_path: str | os.PathLike) -> Path:
    """A built-in experiment name (``experiments/<name>.toml``) or a path to a TOML file."""
    text = str(name_or_path)
    is_name = os.sep not in text and not text.endswith(".toml")
    builtin = experiments_dir() / f"{text}.toml"
    if is_name and builtin.is_file():
        return builtin
    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"experiment: {text!r} is a folder, not a TOML file")
    if not path.is_file():
        if is_name:
            names = builtin_experiments()
            close = difflib.get_close_matches(text, names, n=1)
            raise ConfigError(
                f"experiment: {text!r} is neither a built-in experiment ({', '.join(names) or 'none'}) nor a TOML "
                f"file{f'; did you mean {close[0]}?' if close else ''}"
            )
        raise ConfigError(f"experiment: file {text!r} does not exist")
    return path


def load_experiment(name_or_path: str | os.PathLike) -> Experiment:
    """Read, validate and expand an experiment file (one-line :class:`ConfigError` on bad input)."""
    path = resolve_experiment_path(name_or_path)
    raw = read_config(path, "experiment")
    if isinstance(raw, dict) and "roles" in raw and "factors" not in raw:  # the strategy lab's kind of file
        raise ConfigError(f"experiment: {str(path)!r} is a tournament file ([roles]); run it with "
                          "strategy-abm tournament FILE")  # fmt: skip
    config = validate_config(ExperimentConfig, raw)
    return Experiment(config, path, path.read_text(encoding="utf-8-sig"))


__all__ = [
    "DESIGNS",
    "Experiment",
    "ExperimentConfig",
    "Run",
    "design_points",
    "load_experiment",
    "replication_seed",
    "run_key",
    "run_seed",
]
