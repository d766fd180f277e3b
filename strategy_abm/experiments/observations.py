"""Dated observations the initial states do not use, and the game's values to compare with them.

``configs/observations.toml`` holds them (its header documents the fields); this module reads and
checks the file, maps each observation to the turns of its scenario, and reads the game's value
from a run's tables (``model.csv`` / ``actors.csv`` as ``write_run`` writes them), from the bulk
path's metric rows, or from a sweep's stored metrics. :func:`evaluate` plays a scenario's seeds
and gives, per observation, the model's median and range and whether the observation is met.

>>> obs = load_observations()
>>> table = evaluate(obs, seeds=range(30))      # one row per observation
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

import numpy as np

from ..scenario.config import ConfigError, configs_dir, known_sources, load_scenario, parse_date

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
QUARTER_RE = re.compile(r"^\d{4}Q[1-4]$")
PERIODS = ("quarter", "year")

# actors.csv columns of a host (or power) as products of model.csv metrics ("{id}": the actor):
# what lets the bulk path and a sweep, which keep only the model's metrics, read an actor column.
ACTOR_METRICS: dict[str, tuple[str, ...]] = {
    "gdp_usd_bn": ("gdp_usd_bn_{id}",),
    "debt_usd_bn": ("debt_to_gdp_{id}", "gdp_usd_bn_{id}"),
    "debt_to_gdp": ("debt_to_gdp_{id}",),
    "china_debt_share": ("china_debt_share_{id}",),
    "debt_share_china": ("china_debt_share_{id}",),
    "debt_service_ratio": ("debt_service_ratio_{id}",),
    "distress": ("distress_{id}",),
    "diversification": ("diversification_{id}",),
    "spent_total": ("spent_usd_bn_{id}",),
    "regional_influence": ("influence_{id}",),
    "payoff": ("payoff_{id}",),
}


@dataclass(frozen=True)
class Observation:
    """One dated observation (see configs/observations.toml for the fields). ``period`` "year":
    the mean of the four turns of ``date``'s year; ``known_miss``: why the model misses it today;
    ``not_modelled``: why no run is compared with it (then ``column`` is None)."""

    id: str
    what: str
    scenario: str
    date: str
    value: float
    tolerance: float
    tolerance_reason: str
    source: str
    actor: str | None = None
    column: str | None = None
    times: str | None = None
    period: str = "quarter"
    known_miss: str | None = None
    not_modelled: str | None = None
    note: str = ""

    @property
    def modelled(self) -> bool:
        return self.not_modelled is None

    @property
    def bounds(self) -> tuple[float, float]:
        return self.value - self.tolerance, self.value + self.tolerance

    def met_by(self, model_value: float) -> bool:
        """Whether ``model_value`` is within the tolerance of the observed value."""
        return abs(model_value - self.value) <= self.tolerance

    @property
    def quantity(self) -> tuple:
        """What is compared, whatever the date: observations of one quantity share a figure panel."""
        return self.scenario, self.actor, self.column, self.times


def observations_path() -> Path:
    return configs_dir() / "observations.toml"


_FIELDS = {f.name: f for f in fields(Observation)}
_REQUIRED = ("id", "what", "scenario", "date", "value", "tolerance", "tolerance_reason", "source")
_TEXT = ("id", "what", "scenario", "date", "tolerance_reason", "source", "actor", "column", "times", "period",
         "known_miss", "not_modelled", "note")  # fmt: skip


def load_observations(path: str | Path | None = None) -> list[Observation]:
    """The observations of ``path`` (default ``configs/observations.toml``), in file order.

    Raises:
        ConfigError: one line naming the file, the observation and the field (a missing or unknown
            field, a bad id, date, number, scenario or source id, a column its scenario's outputs do
            not have, a date outside its scenario's turns, both or neither of ``column`` and
            ``not_modelled``).
    """
    path = Path(path) if path is not None else observations_path()
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    extra = set(raw) - {"observation"}
    if extra:
        raise ConfigError(f"{path.name}: {sorted(extra)[0]}: unknown table (only [[observation]])")
    entries = raw.get("observation", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path.name}: observation: must be an array of tables ([[observation]])")
    out: list[Observation] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path.name}: observation[{i}]"
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            where = f"{path.name}: observation {entry['id']!r}"
        obs = _observation(entry, where)
        if obs.id in seen:
            raise ConfigError(f"{where}.id: duplicate id")
        seen.add(obs.id)
        out.append(obs)
    return out


def _observation(entry, where: str) -> Observation:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table")
    for key in entry:
        if key not in _FIELDS:
            raise ConfigError(f"{where}.{key}: unknown field")
    for key in _REQUIRED:
        if key not in entry:
            raise ConfigError(f"{where}.{key}: missing")
    for key in _TEXT:
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise ConfigError(f"{where}.{key}: must be a non-empty string")
    for key in ("value", "tolerance"):
        v = entry[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"{where}.{key}: must be a finite number, got {v!r}")
    obs = Observation(**{k: float(v) if k in ("value", "tolerance") else v for k, v in entry.items()})
    if not ID_RE.match(obs.id):
        raise ConfigError(f"{where}.id: {obs.id!r} is not snake_case")
    if obs.tolerance <= 0:
        raise ConfigError(f"{where}.tolerance: must be > 0, got {obs.tolerance}")
    if not QUARTER_RE.match(obs.date):
        raise ConfigError(f"{where}.date: {obs.date!r} is not YYYYQn")
    if obs.period not in PERIODS:
        raise ConfigError(f"{where}.period: must be one of {', '.join(PERIODS)}, got {obs.period!r}")
    if obs.period == "year" and not obs.date.endswith("Q4"):
        raise ConfigError(f"{where}.date: a period of a year is dated by the year's Q4, got {obs.date!r}")
    if obs.source not in known_sources():
        raise ConfigError(f"{where}.source: {obs.source!r} is not an id of configs/sources.toml")
    try:
        scenario = load_scenario(obs.scenario)
    except ConfigError as exc:
        raise ConfigError(f"{where}.scenario: {exc}") from None
    if obs.not_modelled is not None:
        for key in ("actor", "column", "times", "known_miss"):
            if getattr(obs, key) is not None:
                raise ConfigError(f"{where}.{key}: an observation that is not_modelled has no {key}")
        return obs
    if obs.column is None:
        raise ConfigError(f"{where}.column: missing (or say why it cannot be compared in not_modelled)")
    if obs.actor is not None and obs.actor not in scenario.actor_ids:
        raise ConfigError(f"{where}.actor: {obs.actor!r} is not an actor of scenario {obs.scenario!r}")
    columns = _columns(obs.scenario, obs.actor is not None and obs.actor in scenario.host_ids, obs.actor is not None)
    for key in ("column", "times"):
        name = getattr(obs, key)
        if name is not None and name not in columns:
            table = "actors.csv" if obs.actor is not None else "model.csv"
            raise ConfigError(f"{where}.{key}: {name!r} is not a column of {table} of scenario {obs.scenario!r}")
    turns = observation_turns(obs, scenario)
    lowest = 1 if obs.period == "year" else 0  # turn 0 is the quarter before the start: in no year played
    if turns[0] < lowest or turns[-1] > scenario.horizon_turns:
        span = f"{_date(scenario, lowest)} to {_date(scenario, scenario.horizon_turns)}"
        raise ConfigError(f"{where}.date: {obs.date} ({obs.period}) is outside the turns of scenario {obs.scenario!r} "
                          f"({span})")  # fmt: skip
    return obs


@cache
def _columns(scenario_name: str, host: bool, actor: bool) -> frozenset[str]:
    """The columns of ``model.csv`` (``actor`` False) or of a host's or power's rows of ``actors.csv``."""
    from ..engine.metrics import metric_columns

    scenario = load_scenario(scenario_name)
    if not actor:
        return frozenset(metric_columns(scenario))
    from ..report.output import actors_frame
    from ..sim.model import CompetitionModel

    frame = actors_frame(CompetitionModel(scenario=scenario, seed=0, turns=1))
    rows = frame[frame["kind"] == ("host" if host else "power")]
    return frozenset(c for c in rows.columns if rows[c].notna().all())


def _date(scenario, turn: int) -> str:
    from ..scenario.config import format_date

    return format_date(parse_date(scenario.start) + (turn - 1) * scenario.dt, scenario.turns_per_year)


def observation_turn(obs: Observation, scenario=None) -> int:
    """The turn whose end state is compared with ``obs`` (for a period of a year, its last turn):
    0 is the state before the first turn (the quarter before ``scenario.start``). ``scenario``: a
    Scenario or name (default the observation's). May be outside the scenario's turns."""
    return observation_turns(obs, scenario)[-1]


def observation_turns(obs: Observation, scenario=None) -> list[int]:
    """The turns whose states ``obs`` is compared with, in order: one, or the four of a year."""
    sc = load_scenario(scenario if scenario is not None else obs.scenario)
    last = round((parse_date(obs.date) - parse_date(sc.start)) / sc.dt) + 1
    return list(range(last - sc.turns_per_year + 1, last + 1)) if obs.period == "year" else [last]


def metric_terms(obs: Observation) -> tuple[str, ...] | None:
    """The ``model.csv`` metrics whose product is the observation's quantity, or None if an actor
    column has no such expression (then only a recorded run's ``actors.csv`` gives it)."""
    if not obs.modelled:
        return None
    if obs.actor is None:
        return (obs.column,) + ((obs.times,) if obs.times else ())
    terms: list[str] = []
    for name in (obs.column, obs.times):
        if name is None:
            continue
        if name not in ACTOR_METRICS:
            return None
        terms.extend(t.format(id=obs.actor) for t in ACTOR_METRICS[name])
    return tuple(terms)


def value_from_run(obs: Observation, model, actors=None) -> float:
    """The game's value of ``obs`` in one recorded run: ``model`` and ``actors`` are the frames of
    ``model.csv`` and ``actors.csv`` (``write_run``; ``model_frame``/``actors_frame``).

    Raises:
        ValueError: ``obs`` is not modelled, a turn is not in the tables, or ``actors`` is missing."""
    if not obs.modelled:
        raise ValueError(f"observation {obs.id!r} is not modelled: {obs.not_modelled}")
    turns = observation_turns(obs)
    if obs.actor is None:
        rows = model[model["turn"].isin(turns)]
    else:
        if actors is None:
            raise ValueError(f"observation {obs.id!r} reads actors.csv: pass the actors table")
        rows = actors[actors["turn"].isin(turns) & (actors["actor"] == obs.actor)]
    if len(rows) != len(turns):
        raise ValueError(f"observation {obs.id!r}: turns {turns} are not all in the run's tables")
    values = rows[obs.column].to_numpy(dtype=float)
    if obs.times:
        values = values * rows[obs.times].to_numpy(dtype=float)
    return float(values.mean())


def value_from_metrics(obs: Observation, rows: Mapping[int, Mapping[str, float]]) -> float:
    """The game's value of ``obs`` from model-level metric rows ``{turn: {column: value}}`` (what
    ``BulkPlan.play(seed, record=observation_turns(obs))`` returns).

    Raises:
        ValueError: ``obs`` has no metric expression (:func:`metric_terms`) or a turn is missing."""
    terms = metric_terms(obs)
    if terms is None:
        raise ValueError(f"observation {obs.id!r} has no expression in the model's metrics")
    out = []
    for turn in observation_turns(obs):
        if turn not in rows:
            raise ValueError(f"observation {obs.id!r}: turn {turn} was not recorded")
        out.append(math.prod(float(rows[turn][t]) for t in terms))
    return float(np.mean(out))


def values_from_sweep(obs: Observation, results) -> np.ndarray | None:
    """The game's value of ``obs`` in each run of a sweep (``results``: its folder, or the frames
    ``(results, series)`` of ``load_results``/``load_series``), or None where the sweep did not
    store what it needs: the series of its terms at its turns, or (a quarter at the horizon) the
    final metrics. Runs in the order of their ``key``. The sweep must play ``obs.scenario``."""
    from .results import load_results, load_series

    terms = metric_terms(obs)
    if terms is None:
        return None
    if isinstance(results, tuple):
        final, series = results
    else:
        final, series = load_results(results), load_series(results)
    turns = observation_turns(obs)
    if series is not None and len(series) and all(t in series.columns for t in terms):
        rows = series[series["turn"].isin(turns)]
        if rows.groupby("key").size().eq(len(turns)).all() and len(rows):
            product = np.prod([rows[t].to_numpy(dtype=float) for t in terms], axis=0)
            return rows.assign(_v=product).groupby("key")["_v"].mean().sort_index().to_numpy()
    horizon = load_scenario(obs.scenario).horizon_turns
    if turns == [horizon] and all(t in final.columns for t in terms):
        ordered = final.sort_values("key")
        return np.prod([ordered[t].to_numpy(dtype=float) for t in terms], axis=0)
    return None


# ------------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Comparison:
    """An observation against the game over seeds: ``values`` one per seed (empty if not modelled)."""

    observation: Observation
    values: np.ndarray

    @property
    def median(self) -> float:
        return float(np.median(self.values)) if len(self.values) else math.nan

    @property
    def hit(self) -> bool | None:
        """The seed median within the tolerance; None if not modelled."""
        return self.observation.met_by(self.median) if len(self.values) else None

    @property
    def status(self) -> str:
        """hit, miss, expected miss, unexpected hit (a known_miss that is met) or not modelled."""
        obs = self.observation
        if not obs.modelled:
            return "not modelled"
        if obs.known_miss:
            return "unexpected hit" if self.hit else "expected miss"
        return "hit" if self.hit else "miss"


def evaluate(observations: Sequence[Observation], seeds: Iterable[int] = range(30)) -> list[Comparison]:
    """Play each scenario the observations name over ``seeds`` and compare (the bulk path where the
    quantities are model metrics, else recorded games). One Comparison per observation, in order."""
    seeds = list(seeds)
    values: dict[str, np.ndarray] = {}
    by_scenario: dict[str, list[Observation]] = {}
    for obs in observations:
        if obs.modelled:
            by_scenario.setdefault(obs.scenario, []).append(obs)
    for name, group in by_scenario.items():
        bulk = [o for o in group if metric_terms(o) is not None]
        recorded = [o for o in group if metric_terms(o) is None]
        if bulk:
            from ..sim.bulk import BulkPlan

            plan = BulkPlan(name)
            turns = sorted({t for o in bulk for t in observation_turns(o)})
            games = [plan.play(seed, record=turns) for seed in seeds]
            for o in bulk:
                values[o.id] = np.array([value_from_metrics(o, rows) for rows in games])
        if recorded:
            from ..report.output import actors_frame, model_frame
            from ..sim.model import CompetitionModel

            last = max(observation_turns(o)[-1] for o in recorded)
            frames = []
            for seed in seeds:
                model = CompetitionModel(scenario=name, seed=seed, turns=max(last, 1)).run()
                frames.append((model_frame(model), actors_frame(model)))
            for o in recorded:
                values[o.id] = np.array([value_from_run(o, m, a) for m, a in frames])
    return [Comparison(o, values.get(o.id, np.array([]))) for o in observations]
