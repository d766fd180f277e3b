"""Tuning one role's ``parametric`` strategy against an opponent pool with Optuna.

A tuning file (TOML, ``experiments/tune_*.toml``) names a scenario, a horizon, the ``role`` (a
power) whose ``parametric`` strategy is tuned, the bounds of each tuned parameter (``[params]``:
the strategy's tunable numbers, ``move_weights.<move>`` and ``host_weights.<host>``), the
opponent pool (``[opponents]``: per other role, the strategies it may play; the profiles are
their combinations, at most ``max_profiles`` of them drawn with the sampler's seed), training
``seeds``, held-out ``eval_seeds`` and ``[eval_opponents]``, the ``objectives`` (default: the
role's mean ``payoff_total_<role>``, its payoff-years over the whole game), the ``[sampler]``
(TPE, or NSGA-II for several objectives, seeded), the number of ``trials`` and the ``[pruner]``.

A candidate is scored on every (opponent profile, seed) *instance*: one whole game on the bulk
path (sim/bulk.py), a block of seeds per call, the same seeds for every candidate (common random
numbers). With one objective, each instance's value is reported as an intermediate step in a
fixed shuffled order and Optuna's ``WilcoxonPruner`` stops a candidate that is significantly worse
than the best one on the instances seen so far. The study lives in a journal file
(``study.journal``, Optuna's ``JournalFileBackend``) in the output folder: running the same
command again adds trials to the same study, and several processes may share it.

Outputs (:func:`write_outputs`): ``best.toml`` (a scenario that extends the tuned one, with the
role's ``parametric`` strategy and the best parameters), ``evaluation.csv`` and
``evaluation.json`` (the best parameters and the role's configured doctrine on the held-out seeds
and opponents, paired by instance: mean difference and its 95% interval), ``trials.csv``,
``pareto.csv`` (several objectives) and ``plots/`` (optimisation history, parameter importances).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import itertools
import json
import logging
import math
import random
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..engine.metrics import metric_columns
from ..experiments.experiment import code_fingerprint
from ..report.folders import OutputError, read_marker, write_atomically, write_marker
from ..scenario.config import (
    ConfigError,
    FieldError,
    Scenario,
    Strict,
    builtin_scenarios,
    load_scenario,
    read_config,
    resolve_path,
    scenario_to_toml,
    validate_config,
    validate_scenario,
)
from ..scenario.names import FolderName
from ..sim.bulk import BulkPlan, NotCompiled
from ..strategies.plugins import loaded_plugins
from ..strategies.powers import Parametric

JOURNAL = "study.journal"
MAX_TRIALS = 100_000
MAX_SEEDS = 10_000
TABLES = {"move_weights": "moves", "host_weights": "hosts"}
TABLE_BOUNDS = (0.0, 1000.0)  # a weight's bounds (strategies/base.py's TABLE_MAX_DEFAULT)


class Objective(Strict):
    """One objective: a model-level metric at the horizon (``payoff_total_us``, ``debt_to_gdp_kgz``), and
    whether to maximise or minimise its mean over the instances."""

    metric: str
    direction: Literal["maximize", "minimize"] = "maximize"


class SamplerConfig(Strict):
    """``kind``: ``tpe`` or ``nsga2`` (default: ``tpe`` for one objective, ``nsga2`` for several)."""

    kind: Literal["tpe", "nsga2"] | None = None
    seed: int = Field(0, ge=0, le=2**32 - 1)


class PrunerConfig(Strict):
    """The Wilcoxon pruner (one objective only): its p-value threshold and the steps before it acts."""

    wilcoxon: bool = True
    p_threshold: float = Field(0.1, gt=0.0, lt=1.0)
    n_startup_steps: int = Field(2, ge=0)


Seeds = list[int]


def check_seeds(v: list[int]) -> list[int]:
    """A list of game seeds: at least one, at most MAX_SEEDS, each in [0, 2**63), none twice."""
    if not v:
        raise ValueError("give at least one seed")
    if len(v) > MAX_SEEDS:
        raise ValueError(f"{len(v):,} seeds, more than {MAX_SEEDS:,}")
    if any(s < 0 or s >= 2**63 for s in v):
        raise ValueError("seeds are whole numbers from 0 to 2**63 - 1")
    if len(set(v)) != len(v):
        raise ValueError("a seed is listed twice")
    return v


class TuneConfig(Strict):
    """A tuning file, validated (see the module)."""

    name: FolderName  # it names the default results folder: never a path
    description: str = ""
    scenario: str
    horizon_turns: int = Field(ge=1, le=400)
    role: str
    params: dict[str, list[float]]
    start: dict[str, Any] = Field(default_factory=dict)
    opponents: dict[str, list[str]] = Field(default_factory=dict)
    eval_opponents: dict[str, list[str]] | None = None
    max_profiles: int = Field(16, ge=1, le=10_000)
    seeds: Seeds
    eval_seeds: Seeds
    objectives: list[Objective] | None = None
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    trials: int = Field(50, ge=1, le=MAX_TRIALS)
    pruner: PrunerConfig = Field(default_factory=PrunerConfig)

    @field_validator("seeds", "eval_seeds")
    @classmethod
    def _seeds(cls, v):
        return check_seeds(v)

    @field_validator("params")
    @classmethod
    def _params(cls, v):
        if not v:
            raise ValueError("declare at least one parameter to tune, as NAME = [low, high]")
        for key, bounds in v.items():
            if len(bounds) != 2 or not all(math.isfinite(b) for b in bounds) or not bounds[0] < bounds[1]:
                raise FieldError(key, "bounds must be [low, high], two finite numbers with low < high")
        return v

    @field_validator("opponents", "eval_opponents")
    @classmethod
    def _pools(cls, v):
        for role, pool in (v or {}).items():
            if not pool:
                raise FieldError(role, "list at least one strategy")
            if len(set(pool)) != len(pool):
                raise FieldError(role, "a strategy is listed twice")
        return v

    @model_validator(mode="after")
    def _held_out(self):
        shared = sorted(set(self.seeds) & set(self.eval_seeds))
        if shared:
            raise ValueError(f"eval_seeds: seed {shared[0]} is also a training seed (held-out seeds must differ)")
        if self.objectives is not None and not self.objectives:
            raise ValueError("objectives: list at least one, or leave it out for the role's payoff")
        if self.objectives is not None and len({o.metric for o in self.objectives}) != len(self.objectives):
            raise ValueError("objectives: a metric is listed twice")
        return self


@dataclass(frozen=True)
class Tuning:
    """A validated tuning file with everything it resolves against the scenario.

    Attributes:
        config: the file's settings.
        scenario: the scenario at the tuning horizon, the role playing ``parametric`` with ``start``.
        space: parameter name -> (low, high, is_integer); names as in the file (``move_weights.X``).
        start: the parametric parameters the tuned ones are laid over.
        profiles, eval_profiles: opponent profiles, each a tuple of (actor, strategy) pairs, played
            with the strategy's defaults, or (actor, strategy, params) triples.
        objectives: (metric, direction) pairs.
        doctrine: the role's configured strategy and parameters in the scenario (the baseline of
            the held-out evaluation).
        fingerprint: hash of the file's settings except ``trials``, of its scenario as read, of
            the package's code and of the loaded plugins (a study belongs to one file and one game).
        scenario_ref: how ``best.toml`` names the scenario it extends (a built-in name, else a path).
        weights: each training profile's weight in the objective (summing to 1), or None: every
            instance alike (see :func:`weighted`).
    """

    config: TuneConfig
    scenario: Scenario
    space: dict[str, tuple[float, float, bool]]
    start: dict[str, Any]
    profiles: tuple[tuple[tuple[str, str], ...], ...]
    eval_profiles: tuple[tuple[tuple[str, str], ...], ...]
    objectives: tuple[tuple[str, str], ...]
    doctrine: tuple[str, dict]
    fingerprint: str
    scenario_ref: str
    weights: tuple[float, ...] | None = None

    @property
    def role(self) -> str:
        return self.config.role

    @property
    def prunes(self) -> bool:
        """Whether the Wilcoxon pruner runs: one objective, the file's pruner on, and no weights
        (its signed-rank test counts every instance alike, so it cannot judge a weighted mean)."""
        return len(self.objectives) == 1 and self.config.pruner.wilcoxon and self.weights is None

    def instances(self) -> list[tuple[int, int]]:
        """The training instances as (profile index, seed index), in the fixed shuffled order of
        evaluation (shuffled by profile, so that the seeds of a profile stay one bulk block)."""
        order = list(range(len(self.profiles)))
        random.Random(self.config.sampler.seed).shuffle(order)
        return [(p, s) for p in order for s in range(len(self.config.seeds))]

    def params_of(self, values: dict[str, float]) -> dict[str, Any]:
        """The parametric strategy's parameters for tuned ``values`` (names as in ``space``):
        ``start`` with the values laid over it, tables merged key by key."""
        out = {k: dict(v) if isinstance(v, dict) else v for k, v in self.start.items()}
        for key, value in values.items():
            table, _, entry = key.partition(".")
            if entry:
                out.setdefault(table, {})[entry] = float(value)
            else:
                out[key] = int(value) if self.space[key][2] else float(value)
        return out


def load_tuning(path: str | Path) -> Tuning:
    """Read and validate a tuning file against its scenario (one-line :class:`ConfigError`)."""
    path = Path(path)
    config = validate_config(TuneConfig, read_config(path, "tuning file"))
    return resolve(config, base=path.parent)


def resolve(config: TuneConfig, base: Path | None = None, *, compiled: bool = True) -> Tuning:
    """Check a :class:`TuneConfig` against its scenario and the strategy registry; ``compiled``:
    also that its training and held-out games play on the bulk path (lab/psro.py, whose profiles
    come from :func:`weighted`, checks its own)."""
    where = config.scenario
    if base is not None and not Path(where).is_absolute() and (base / where).exists():
        where = str(base / where)
    try:
        scenario = load_scenario(where, [f"horizon_turns={config.horizon_turns}"])
    except ConfigError as exc:
        raise ConfigError(f"scenario: {str(exc).removeprefix('scenario: ')}") from None
    role = config.role
    if role not in scenario.powers:
        raise ConfigError(f"role: {role!r} is not a power of {scenario.name} ({', '.join(scenario.powers)})")
    cfg = scenario.powers[role]
    doctrine = (cfg.strategy, dict(cfg.strategy_params))
    ids = {"moves": tuple(sorted(cfg.toolkit)), "hosts": tuple(scenario.hosts)}
    space = {}
    for key, (low, high) in config.params.items():
        table, _, entry = key.partition(".")
        if entry:
            if table not in TABLES:
                raise ConfigError(f"params.{key}: only {' and '.join(TABLES)} are tables of the parametric strategy")
            if entry not in ids[TABLES[table]]:
                raise ConfigError(f"params.{key}: {entry!r} is not one of {role}'s {TABLES[table]} "
                                  f"({', '.join(ids[TABLES[table]])})")  # fmt: skip
            top_low, top_high = TABLE_BOUNDS
            integer = False
        else:
            if key not in Parametric.tunable:
                known = ", ".join([*Parametric.tunable, *(f"{t}.<id>" for t in TABLES)])
                raise ConfigError(f"params.{key}: not a tunable parameter of parametric (known: {known})")
            top_low, top_high = Parametric.tunable[key]
            integer = type(Parametric.defaults[key]) is int
            if integer and not (float(low).is_integer() and float(high).is_integer()):
                raise ConfigError(f"params.{key}: a count, so its bounds are whole numbers")
        if low < top_low or high > top_high:
            raise ConfigError(f"params.{key}: bounds [{low:g}, {high:g}] outside the parameter's [{top_low:g}, "
                              f"{top_high:g}]")  # fmt: skip
        space[key] = (float(low), float(high), integer)
    try:
        start = Parametric.validate_params(config.start, {"hosts": ids["hosts"], "powers": tuple(scenario.powers)})
    except ValueError as exc:
        raise ConfigError(f"start.{exc}") from None
    for key in start.get("move_weights", {}):
        if key not in cfg.toolkit:
            raise ConfigError(f"start.move_weights.{key}: not a move of {role}'s toolkit")
    # The tuned role plays parametric in every game (the opponents' strategies come per profile).
    base_sc = _with_strategies(scenario, {role: ("parametric", start)})
    profiles = _profiles(config, scenario, config.opponents, "opponents")
    eval_pools = config.eval_opponents if config.eval_opponents is not None else config.opponents
    eval_profiles = _profiles(config, scenario, eval_pools, "eval_opponents")
    columns = set(metric_columns(scenario))
    objectives = tuple((o.metric, o.direction) for o in config.objectives or [])
    objectives = objectives or ((f"payoff_total_{role}", "maximize"),)
    for i, (metric, _) in enumerate(objectives):
        if metric not in columns:
            raise ConfigError(f"objectives.{i}.metric: {metric!r} is not a metric of {scenario.name}'s games "
                              f"(e.g. payoff_total_{role}, debt_to_gdp_{next(iter(scenario.hosts))})")  # fmt: skip
    if config.sampler.kind == "nsga2" and len(objectives) == 1:
        raise ConfigError("sampler.kind: nsga2 is for several objectives; use tpe for one")
    # Every profile must play on the bulk path (the tuned role, the opponents and the scenario's
    # other actors all compiled), and so must the role's doctrine, the held-out baseline.
    for field, group in (("opponents", profiles), ("eval_opponents", eval_profiles)):
        for profile in group if compiled else ():
            _check_compiled(_with_strategies(base_sc, dict(_opponent_table(profile))), field, profile)
    if compiled:
        _check_compiled(_with_strategies(scenario, {}), "scenario", ())
    # What scores a trial: the file's settings (not how many trials), the games' scenario as read
    # (a scenario file may be edited), the rules and the plugins' code (as a sweep's hash).
    dump = config.model_dump(mode="json", exclude={"trials"})
    dump["scenario_resolved"] = scenario_to_toml(scenario)
    dump["code"] = code_fingerprint()
    dump["plugins"] = sorted(p.sha256 for p in loaded_plugins())
    fingerprint = hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:16]
    ref = config.scenario if config.scenario in builtin_scenarios() else str(resolve_path(where).resolve())
    return Tuning(config, base_sc, space, start, profiles, eval_profiles, objectives, doctrine, fingerprint, ref)


def _opponent_table(profile) -> dict[str, tuple[str, dict]]:
    """A profile's actors -> (strategy, parameters): an item (actor, strategy) plays the strategy's
    defaults, an item (actor, strategy, params) its params."""
    return {item[0]: (item[1], dict(item[2]) if len(item) > 2 else {}) for item in profile}


def weighted(tuning: Tuning, profiles, weights) -> Tuning:
    """``tuning`` trained against ``profiles`` (each a tuple of (actor, strategy, params) or
    (actor, strategy) items) with ``weights``: the objective becomes the weighted mean over the
    profiles of each profile's mean over the training seeds, e.g. a role's expected payoff against
    the others' mixed strategy (lab/psro.py). The weights are normalised to sum to 1; the Wilcoxon
    pruner is off for a weighted tuning (:attr:`Tuning.prunes`).

    Raises:
        ValueError: no profile, a length mismatch, or a weight that is not a finite positive number.
        ConfigError: a profile that cannot play on the bulk path.
    """
    profiles = tuple(tuple(p) for p in profiles)
    w = np.asarray(weights, dtype=float)
    if not profiles or w.shape != (len(profiles),):
        raise ValueError(f"weights: {w.size} weights for {len(profiles)} profiles (give one per profile, at least one)")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("weights: every weight must be a finite positive number (leave out a profile of weight 0)")
    for profile in profiles:
        _check_compiled(_with_strategies(tuning.scenario, _opponent_table(profile)), "opponents", profile)
    return dataclasses.replace(tuning, profiles=profiles, weights=tuple(float(x) for x in w / w.sum()))


def _profiles(config: TuneConfig, scenario: Scenario, pools: dict[str, list[str]], field: str):
    """The opponent profiles of ``pools`` (all combinations, or ``max_profiles`` of them drawn
    with the sampler's seed), each checked against the scenario and the registry."""
    for actor, pool in pools.items():
        if actor == config.role:
            raise ConfigError(f"{field}.{actor}: the tuned role plays parametric; list only other roles")
        kind = "power" if actor in scenario.powers else "host" if actor in scenario.hosts else None
        if kind is None:
            raise ConfigError(f"{field}.{actor}: not a power or host of {scenario.name}")
        for name in pool:
            try:
                _with_strategies(scenario, {actor: (name, {})})
            except ConfigError as exc:
                raise ConfigError(f"{field}.{actor}: {name!r} cannot play {actor} ({exc})") from None
    roles = sorted(pools)
    grid = list(itertools.product(*(pools[r] for r in roles)))
    if len(grid) > config.max_profiles:
        grid = random.Random(config.sampler.seed).sample(grid, config.max_profiles)
    return tuple(tuple(zip(roles, combo, strict=True)) for combo in grid)


def _check_compiled(scenario: Scenario, field: str, profile) -> None:
    """Refuse ``scenario`` if a strategy of it has no kernel: blamed on ``field`` when the actor
    is one of ``profile``'s, else on the scenario (whose actor it is)."""
    try:
        BulkPlan(scenario)
    except NotCompiled as exc:
        if not any(str(exc).startswith(f"{kind}.{item[0]}.") for item in profile for kind in ("powers", "hosts")):
            field, profile = "scenario", ()
        named = ", ".join(f"{item[0]}={item[1]}" for item in profile)
        raise ConfigError(f"{field}: {exc}{f' (profile {named})' if named else ''}: the tuner plays on the bulk "
                          "path") from None  # fmt: skip


def _with_strategies(scenario: Scenario, table: dict[str, tuple[str, dict]]) -> Scenario:
    """``scenario`` with the actors of ``table`` playing (strategy, parameters)."""
    if not table:
        return scenario
    raw = scenario.model_dump(mode="python")
    for actor, (strategy, params) in table.items():
        family = "powers" if actor in raw["powers"] else "hosts"
        raw[family][actor]["strategy"] = strategy
        raw[family][actor]["strategy_params"] = params
    return validate_scenario(raw)


class Evaluator:
    """Plays a tuning's games on the bulk path: one game per (profile, seed), blocks of seeds per call."""

    def __init__(self, tuning: Tuning):
        self.tuning = tuning

    def block(self, params: dict | None, profile, seeds, metrics) -> np.ndarray:
        """``metrics`` at the horizon of the games of ``profile`` on ``seeds``, the role playing
        ``parametric`` with ``params`` (None: its configured doctrine); shape (seeds, metrics).
        A ``payoff_total_<power>`` is the power's payoff-years summed over every turn."""
        t = self.tuning
        role_entry = {t.role: t.doctrine if params is None else ("parametric", params)}
        sc = _with_strategies(t.scenario, {**_opponent_table(profile), **role_entry})
        plan = BulkPlan(sc)
        rows = plan.play_block(seeds)
        return np.array([[row[plan.horizon][m] for m in metrics] for row in rows], dtype=float)


def objective_function(tuning: Tuning) -> Callable:
    """Optuna's objective for ``tuning``: the candidate's mean of each objective over the training
    instances (a float for one objective, a tuple for several; with ``weights``, the weighted mean
    over profiles of each profile's mean). When the pruner runs (:attr:`Tuning.prunes`), each
    instance's value is reported as step ``profile * n_seeds + seed`` (its identity, so the
    Wilcoxon test pairs instances across trials) and the trial stops when pruned."""
    import optuna

    evaluator = Evaluator(tuning)
    seeds = tuning.config.seeds
    metrics = [m for m, _ in tuning.objectives]
    single = len(metrics) == 1
    prune = tuning.prunes
    order = tuning.instances()
    profiles_in_order = list(dict.fromkeys(p for p, _ in order))

    def objective(trial):
        values = {}
        for key, (low, high, integer) in tuning.space.items():
            values[key] = (
                trial.suggest_int(key, int(low), int(high)) if integer else trial.suggest_float(key, low, high)
            )
        params = tuning.params_of(values)
        seen = []
        for p in profiles_in_order:
            got = evaluator.block(params, tuning.profiles[p], seeds, metrics)
            seen.append(got)
            if prune:
                for s, v in enumerate(got[:, 0]):
                    trial.report(float(v), p * len(seeds) + s)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        if tuning.weights is None:
            means = np.concatenate(seen).mean(axis=0)
        else:
            means = sum(tuning.weights[p] * got.mean(axis=0) for p, got in zip(profiles_in_order, seen, strict=True))
        return float(means[0]) if single else tuple(float(v) for v in means)

    return objective


def sampler_seed(seed: int, done: int, worker: int) -> int:
    """The sampler's seed for a session that starts on a study of ``done`` trials, as process
    ``worker``: a fresh study on worker 0 uses the file's seed itself; a later session (or another
    worker) draws from its own stream, so it does not repeat the candidates of the first (a sampler
    seeded alike proposes the same random start-up points again)."""
    if done == 0 and worker == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{done}:{worker}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def make_sampler(tuning: Tuning, done: int = 0, worker: int = 0):
    """The file's sampler, seeded by :func:`sampler_seed`."""
    import optuna

    kind = tuning.config.sampler.kind or ("tpe" if len(tuning.objectives) == 1 else "nsga2")
    seed = sampler_seed(tuning.config.sampler.seed, done, worker)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def open_study(tuning: Tuning, out: Path, *, create: bool = True, worker: int = 0):
    """The tuning's study in ``out/study.journal`` (created if missing and ``create``), its sampler
    seeded for this session (:func:`sampler_seed`; ``worker``: this process's number among those
    sharing the study).

    Raises:
        OutputError: the journal holds a study of another tuning file, or none when ``create`` is False.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # (our own progress line, one-line errors)
    journal = out / JOURNAL
    if journal.is_symlink():
        raise OutputError(f"--out: {str(journal)!r} is a symbolic link; refusing to write through it")
    if not create and not journal.exists():
        raise OutputError(f"--resume: {str(out)!r} holds no study ({JOURNAL} missing)")
    storage = JournalStorage(JournalFileBackend(str(journal)))
    pruner = optuna.pruners.NopPruner()
    if tuning.prunes:
        pc = tuning.config.pruner
        with warnings.catch_warnings():  # (experimental in Optuna's eyes; its interface is pinned with optuna)
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            pruner = optuna.pruners.WilcoxonPruner(p_threshold=pc.p_threshold, n_startup_steps=pc.n_startup_steps)
    summaries = optuna.study.get_all_study_summaries(storage)
    names = [s.study_name for s in summaries]
    done = sum(s.n_trials for s in summaries if s.study_name == tuning.config.name)
    if names and tuning.config.name not in names:
        raise OutputError(f"--out: {str(out)!r} holds the study {names[0]!r}, not {tuning.config.name!r}; "
                          "choose another folder")  # fmt: skip
    study = optuna.create_study(
        storage=storage,
        study_name=tuning.config.name,
        directions=[d for _, d in tuning.objectives],
        sampler=make_sampler(tuning, done, worker),
        pruner=pruner,
        load_if_exists=True,
    )
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", tuning.fingerprint)
    elif stored != tuning.fingerprint:
        raise OutputError(f"--out: {str(out)!r} holds a study of a different version of tuning file "
                          f"{tuning.config.name!r} (its settings, its scenario, the strategies' code or a plugin "
                          "changed); choose another folder")  # fmt: skip
    return study


class _InterruptedTrials(logging.Filter):
    """Drops Optuna's log of a trial that Ctrl-C (or SIGTERM) stopped: the warning and its
    traceback, then its "failed with value None" line. The command says it in one line."""

    def __init__(self):
        super().__init__()
        self.numbers: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        number = re.match(r"Trial (\d+) failed", record.getMessage())
        if number is None:
            return True
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            self.numbers.add(number.group(1))
            return False
        return number.group(1) not in self.numbers


@contextlib.contextmanager
def unlogged_interrupts():
    """While a study optimises, Optuna does not log a trial stopped by Ctrl-C (see
    :class:`_InterruptedTrials`); a trial that fails otherwise is logged as Optuna logs it."""
    logger = logging.getLogger("optuna.study._optimize")  # where Optuna logs a failed trial
    quiet = _InterruptedTrials()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def run_study(tuning: Tuning, out: Path, trials: int | None = None, *, progress: Callable | None = None,
              resume: bool = False, worker: int = 0):  # fmt: skip
    """Add ``trials`` (default: the file's) trials to the tuning's study in ``out`` and return it.
    ``progress(trial_number, state)`` is called after each trial; ``resume``: the study must exist;
    ``worker``: this process's number among processes sharing the study (each its own)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if resume and not (out / JOURNAL).exists():  # (before anything is written)
        raise OutputError(f"--resume: {str(out)!r} holds no study ({JOURNAL} missing)")
    out.mkdir(parents=True, exist_ok=True)
    if read_marker(out, "tune") is None:  # (processes sharing a study would race rewriting it)
        write_marker(out, "tune")
    study = open_study(tuning, out, create=not resume, worker=worker)
    callbacks = [lambda s, t: progress(t.number, t.state.name.lower())] if progress else []
    with unlogged_interrupts():
        study.optimize(objective_function(tuning), n_trials=trials or tuning.config.trials, callbacks=callbacks)
    return study


def best_trial(study, tuning: Tuning):
    """The best finished trial: Optuna's best for one objective; for several, the trial of the
    Pareto front best in the first objective."""
    if len(tuning.objectives) == 1:
        return study.best_trial
    first = tuning.objectives[0][1] == "maximize"
    return sorted(study.best_trials, key=lambda t: (-t.values[0] if first else t.values[0], t.number))[0]


def best_params(study, tuning: Tuning) -> dict[str, Any]:
    """The parametric strategy's parameters of the best trial."""
    return tuning.params_of(best_trial(study, tuning).params)


def best_toml(tuning: Tuning, params: dict[str, Any], scenario_ref: str) -> str:
    """A scenario file: extends ``scenario_ref`` with the role playing ``parametric`` with ``params``."""
    import tomli_w

    body = tomli_w.dumps({"extends": scenario_ref, "powers": {tuning.role: {"strategy": "parametric",
                                                                              "strategy_params": params}}})  # fmt: skip
    head = (f"# Tuned by `strategy-abm tune` ({tuning.config.name}): {tuning.role}'s parametric strategy, best of "
            f"the study, at a horizon of {tuning.config.horizon_turns} turns.\n"
            f"# Use it as a scenario (it extends {scenario_ref}) or copy the [powers.{tuning.role}] tables "
            "into one.\n")  # fmt: skip
    return head + body


def evaluate(tuning: Tuning, params: dict[str, Any]) -> tuple[list[dict], dict]:
    """The best parameters against the role's configured doctrine on the held-out seeds and
    opponent profiles, paired by (profile, seed).

    Returns:
        rows: one per instance: profile (``role=strategy`` joined by ``,``), seed, and per
            objective metric ``<metric>_tuned``, ``<metric>_doctrine``.
        summary: per metric, the means, the mean difference (tuned - doctrine) and its 95%
            interval (Student's t over the paired instances; a point when there is one instance).
    """
    from scipy.special import stdtrit  # (scipy.stats.t.ppf's own function, without importing scipy.stats)

    evaluator = Evaluator(tuning)
    seeds = tuning.config.eval_seeds
    metrics = [m for m, _ in tuning.objectives]
    rows = []
    for profile in tuning.eval_profiles:
        tuned = evaluator.block(params, profile, seeds, metrics)
        doctrine = evaluator.block(None, profile, seeds, metrics)
        label = ",".join(f"{a}={s}" for a, s, *_ in profile) or "scenario"
        for i, seed in enumerate(seeds):
            row = {"profile": label, "seed": seed}
            for j, m in enumerate(metrics):
                row[f"{m}_tuned"], row[f"{m}_doctrine"] = float(tuned[i, j]), float(doctrine[i, j])
            rows.append(row)
    summary = {}
    for m, direction in tuning.objectives:
        a = np.array([r[f"{m}_tuned"] for r in rows])
        b = np.array([r[f"{m}_doctrine"] for r in rows])
        d = a - b
        n = len(d)
        half = float(stdtrit(n - 1, 0.975) * d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        summary[m] = {"direction": direction, "tuned_mean": float(a.mean()), "doctrine_mean": float(b.mean()),
                      "difference_mean": float(d.mean()), "difference_ci95": [float(d.mean() - half),
                                                                               float(d.mean() + half)],
                      "instances": n}  # fmt: skip
    return rows, summary


def write_outputs(tuning: Tuning, study, out: Path) -> dict:
    """Write best.toml, evaluation.csv/json, trials.csv, pareto.csv (several objectives) and the
    plots into ``out``; returns the evaluation summary (with ``best_trial`` and ``params``)."""
    import pandas as pd

    trial = best_trial(study, tuning)
    params = tuning.params_of(trial.params)
    write_atomically(out, "best.toml", best_toml(tuning, params, tuning.scenario_ref).encode())
    rows, summary = evaluate(tuning, params)
    write_atomically(out, "evaluation.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    doctrine, doctrine_params = tuning.doctrine
    report = {"name": tuning.config.name, "role": tuning.role, "best_trial": trial.number,
              "best_values": list(trial.values), "params": params, "doctrine": doctrine,
              "doctrine_params": doctrine_params, "eval_seeds": tuning.config.eval_seeds,
              "eval_profiles": [",".join(f"{a}={s}" for a, s, *_ in p) for p in tuning.eval_profiles],
              "trials": len(study.trials), "objectives": summary}  # fmt: skip
    write_atomically(out, "evaluation.json", (json.dumps(report, indent=2) + "\n").encode())
    frame = study.trials_dataframe()
    write_atomically(out, "trials.csv", frame.to_csv(index=False).encode())
    if len(tuning.objectives) > 1:
        front = [{"trial": t.number, **dict(zip([m for m, _ in tuning.objectives], t.values, strict=True)),
                  **t.params} for t in study.best_trials]  # fmt: skip
        write_atomically(out, "pareto.csv", pd.DataFrame(front).to_csv(index=False).encode())
    report["plots"] = write_plots(tuning, study, out)
    return report


def write_plots(tuning: Tuning, study, out: Path) -> list[str]:
    """The optimisation history and the parameter importances (Optuna's matplotlib plots) of the
    first objective, as PNG files in ``out/plots``; importances need two finished trials."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    plots = out / "plots"
    if plots.is_symlink():
        raise OutputError(f"--out: {str(plots)!r} is a symbolic link; refusing to write through it")
    plots.mkdir(exist_ok=True)
    metric = tuning.objectives[0][0]
    target = None if len(tuning.objectives) == 1 else (lambda t: t.values[0])
    # PED-ANOVA ranks what it takes to reach *low* values of an explicit target: a maximised first
    # objective is negated for it (one objective: Optuna reads the study's direction itself).
    sign = -1.0 if tuning.objectives[0][1] == "maximize" else 1.0
    importance_target = None if target is None else (lambda t: sign * t.values[0])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    made = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")  # (handled: sign)
        figures = [("history.png", lambda: ovm.plot_optimization_history(study, target=target, target_name=metric))]
        if len(done) >= 2 and len(tuning.space) >= 1:
            # Optuna's default evaluator, PED-ANOVA: deterministic, no scikit-learn (fANOVA needs it).
            figures.append(("importance.png", lambda: ovm.plot_param_importances(study, target=importance_target,
                                                                                 target_name=metric)))  # fmt: skip
        for name, draw in figures:
            ax = draw()
            fig = ax.figure
            tall = name == "importance.png"  # (a bar per parameter)
            fig.set_size_inches(8, max(5.0, 1.5 + 0.28 * len(tuning.space)) if tall else 5.0)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            plt.close(fig)
            write_atomically(plots, name, buf.getvalue())
            made.append(f"plots/{name}")
    return made


__all__ = [
    "Evaluator",
    "TuneConfig",
    "Tuning",
    "best_params",
    "best_toml",
    "evaluate",
    "load_tuning",
    "objective_function",
    "open_study",
    "run_study",
    "weighted",
    "write_outputs",
]
