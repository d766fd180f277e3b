"""Tournaments by role: every profile of the roles' strategies (a grid), or each role deviating
alone from a reference profile, played over common seeds on the sweep runner.

A tournament file (TOML) names a scenario, the roles (powers of the scenario) with the strategies
each may play, a design and a number of seeds. It becomes an :class:`~..experiments.experiment.Experiment`
whose design points are the profiles (each sets ``powers.<role>.strategy`` and
``powers.<role>.strategy_params``, the experiments' own overrides) and whose replications are the
seeds, with common random numbers: seed index r is the same game seed in every profile, so
differences between profiles are paired comparisons. Workers, Parquet results, ``--resume`` and
the bulk path are the sweep runner's.

A role's payoff is its ``payoff_total_<role>`` metric at the horizon (payoff-years, docs/model.md
7.10): the sum over turns 1..H of its payoff times the turn's length in years, as the engine keeps it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..experiments.experiment import Design, Experiment, ExperimentConfig, Factor, Record, _toml_value
from ..scenario.config import ConfigError, Strict, load_scenario, read_config, validate_config
from ..scenario.names import FolderName
from .metagame import MetaGame

OUTPUT_FOLDER = "tournament"  # inside the results folder, beside the sweep's tables
MAX_PROFILES = 100_000


class StrategyEntry(Strict):
    """A strategy with parameters: ``{ name = "parametric", label = "minerals_heavy", params = {...} }``."""

    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("label")
    @classmethod
    def _label(cls, v):
        if v is not None and (not v or any(c in v for c in ":,/\\\n")):
            raise ValueError(f"{v!r}: a label is a non-empty name without ':', ',', '/' or line breaks")
        return v


class Role(Strict):
    """The strategies a role (a power) may play."""

    strategies: Annotated[list[str | StrategyEntry], Field(min_length=1, max_length=1000)]


class TournamentConfig(Strict):
    """A tournament file."""

    name: FolderName  # it names the default results folder: never a path
    description: str = ""
    scenario: str = "baseline"
    horizon_turns: Annotated[int, Field(ge=1, le=400)] | None = None
    seeds: Annotated[int, Field(ge=1, le=100_000)]
    master_seed: Annotated[int, Field(ge=0, lt=2**63)]
    design: Literal["grid", "deviations"] = "grid"
    reference: dict[str, str] | None = None
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 8
    roles: dict[str, Role]

    @field_validator("roles")
    @classmethod
    def _roles(cls, v):
        if not v:
            raise ValueError("name at least one role, e.g. [roles.us] strategies = [...]")
        return v

    @model_validator(mode="after")
    def _reference(self):
        if self.design == "deviations":
            if self.reference is None:
                raise ValueError("reference: a deviations design needs a reference profile (role = label)")
            for role in self.roles:
                if role not in self.reference:
                    raise ValueError(f"reference.{role}: missing (the reference gives every role a strategy)")
            for role in self.reference:
                if role not in self.roles:
                    raise ValueError(f"reference.{role}: not a role of the tournament ({', '.join(self.roles)})")
        elif self.reference is not None:
            raise ValueError("reference: only a deviations design takes a reference profile")
        return self


@dataclass(frozen=True)
class Entry:
    """One strategy of a role: its label (unique in the role), registered name and parameters."""

    label: str
    name: str
    params: dict


class TournamentExperiment(Experiment):
    """The experiment a tournament runs: one design point per profile, the seeds as replications
    with common random numbers. ``profiles[i]`` is point i's tuple of entry indices, in roles' order."""

    def __init__(self, config: ExperimentConfig, path, source_text: str, roles, entries, profiles):
        super().__init__(config, path, source_text)
        self.roles: tuple[str, ...] = roles
        self.entries: dict[str, tuple[Entry, ...]] = entries
        self.profiles: list[tuple[int, ...]] = profiles
        self.settings = [_profile_point(roles, entries, p) for p in profiles]
        # The stored columns: each role's strategy name (labels and parameters are in the manifest's settings).
        self.points = [{k: v for k, v in point.items() if k.endswith(".strategy")} for point in self.settings]
        self.points_checked = len(self.points)  # each entry was validated alone (roles do not interact in config)
        # The profiles (with their parameters) determine the runs: a part of the hash, so that run keys
        # and --resume never mix two tournaments that share the strategy names.
        extra = json.dumps({"profiles": self.settings}, sort_keys=True)
        self.hash = hashlib.sha256(f"{self.hash}\n{extra}".encode()).hexdigest()

    listed = True

    def point_values(self, point: int) -> dict[str, Any]:
        return self.settings[point]

    def point_overrides(self, point: int) -> list[str]:
        return [f"{k}={_toml_inline(v)}" for k, v in self.settings[point].items()]


@dataclass
class Tournament:
    """A validated tournament file and the experiment that plays it."""

    config: TournamentConfig
    experiment: TournamentExperiment
    path: Path | None

    @property
    def roles(self) -> tuple[str, ...]:
        return self.experiment.roles

    def labels(self, role: str) -> tuple[str, ...]:
        return tuple(e.label for e in self.experiment.entries[role])

    def profile_labels(self) -> list[tuple[str, ...]]:
        """Each profile as the roles' strategy labels, in the design's order."""
        ents = self.experiment.entries
        return [tuple(ents[r][i].label for r, i in zip(self.roles, p, strict=True)) for p in self.experiment.profiles]


def _profile_point(roles, entries, profile) -> dict[str, Any]:
    point: dict[str, Any] = {}
    for role, i in zip(roles, profile, strict=True):
        entry = entries[role][i]
        point[f"powers.{role}.strategy"] = entry.name
        point[f"powers.{role}.strategy_params"] = entry.params
    return point


def _toml_inline(v: Any) -> str:
    """A value as TOML for a ``KEY=VALUE`` override: inline tables and arrays nested."""
    if isinstance(v, dict):
        items = ", ".join(f"{json.dumps(str(k))} = {_toml_inline(x)}" for k, x in v.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_inline(x) for x in v) + "]"
    return _toml_value(v)


def grid_profiles(sizes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every profile of roles with ``sizes`` strategies each, the first role slowest."""
    return list(itertools.product(*(range(n) for n in sizes)))


def deviation_profiles(sizes: Sequence[int], reference: Sequence[int]) -> list[tuple[int, ...]]:
    """The reference profile, then for each role in order each of its other strategies with the
    other roles at the reference: ``1 + sum(n_r - 1)`` profiles."""
    out = [tuple(reference)]
    for r, n in enumerate(sizes):
        for i in range(n):
            if i != reference[r]:
                out.append(tuple(i if k == r else reference[k] for k in range(len(sizes))))
    return out


def load_tournament(path: str | os.PathLike) -> Tournament:
    """Read and validate a tournament file (one-line :class:`ConfigError` naming the field on bad input)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"tournament: {str(path)!r} is a folder, not a TOML file")
    if not path.is_file():
        raise ConfigError(f"tournament: file {str(path)!r} does not exist")
    config = validate_config(TournamentConfig, read_config(path, "tournament"))
    return build_tournament(config, path, path.read_text(encoding="utf-8-sig"))


def build_tournament(config: TournamentConfig, path: Path | None = None, source_text: str = "") -> Tournament:
    """The tournament of a validated config: every role checked against the scenario, every
    strategy entry validated (its name registered, its parameters accepted), the profiles expanded."""
    name = config.scenario
    if path is not None and (path.parent / name).is_file():  # a scenario file beside the tournament
        name = str(path.parent / name)
    horizon = [f"horizon_turns={config.horizon_turns}"] if config.horizon_turns is not None else []
    try:
        base = load_scenario(name, horizon)
    except ConfigError as exc:
        raise ConfigError(f"scenario: {str(exc).removeprefix('scenario: ')}") from None
    roles = tuple(config.roles)
    entries: dict[str, tuple[Entry, ...]] = {}
    for role in roles:
        if role not in base.power_ids:
            raise ConfigError(f"roles.{role}: not a power of scenario {config.scenario!r} "
                              f"(roles are powers: {', '.join(base.power_ids)})")  # fmt: skip
        found: list[Entry] = []
        for i, item in enumerate(config.roles[role].strategies):
            where = f"roles.{role}.strategies.{i}"
            entry = _entry(item)
            if any(e.label == entry.label for e in found):
                raise ConfigError(f"{where}: label {entry.label!r} is used twice in the role (give each a label)")
            try:
                load_scenario(base, [f"powers.{role}.strategy={_toml_inline(entry.name)}",
                                     f"powers.{role}.strategy_params={_toml_inline(entry.params)}"])  # fmt: skip
            except ConfigError as exc:
                message = str(exc).removeprefix("scenario: ").removeprefix(f"powers.{role}.")
                raise ConfigError(f"{where}: {message}") from None
            found.append(entry)
        entries[role] = tuple(found)
    sizes = [len(entries[r]) for r in roles]
    if config.design == "grid":
        if math.prod(sizes) > MAX_PROFILES:
            raise ConfigError(f"roles: a grid of {' x '.join(map(str, sizes))} = {math.prod(sizes):,} profiles, "
                              f"more than {MAX_PROFILES:,}; use design = \"deviations\"")  # fmt: skip
        profiles = grid_profiles(sizes)
    else:
        reference = []
        for r in roles:
            labels = [e.label for e in entries[r]]
            if config.reference[r] not in labels:
                raise ConfigError(f"reference.{r}: {config.reference[r]!r} is not a strategy of the role "
                                  f"({', '.join(labels)})")  # fmt: skip
            reference.append(labels.index(config.reference[r]))
        profiles = deviation_profiles(sizes, reference)
    payoffs = [f"payoff_total_{r}" for r in roles]
    experiment_config = ExperimentConfig(
        name=config.name, description=config.description, scenario=config.scenario,
        horizon_turns=config.horizon_turns, replications=config.seeds, master_seed=config.master_seed,
        common_random_numbers=True, batch_size=config.batch_size, design=Design(kind="full_factorial"),
        factors={f"powers.{r}.strategy": Factor(values=list(dict.fromkeys(e.name for e in entries[r]))) for r in roles},
        # Each role's payoff_total at the horizon (payoff-years): one value a game, no series.
        record=Record(final=payoffs),
    )  # fmt: skip
    try:
        experiment = TournamentExperiment(experiment_config, path, source_text, roles, entries, profiles)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("factors.powers.", "roles.", 1)) from None
    return Tournament(config, experiment, path)


def _entry(item: str | StrategyEntry) -> Entry:
    if isinstance(item, str):
        return Entry(item, item, {})
    label = item.name if item.label is None else f"{item.name}:{item.label}"
    return Entry(label, item.name, dict(item.params))


# ------------------------------------------------------------------------------------ results


@dataclass
class TournamentResults:
    """A tournament's payoffs.

    Attributes:
        roles: the roles, in the file's order.
        labels: role -> its strategy labels, in the file's order.
        profiles: each profile as the roles' label indices (design order).
        design: ``"grid"`` or ``"deviations"``; ``reference``: the reference profile's indices.
        samples: role -> payoff-years, shape (profiles, seeds); NaN where a run failed or is missing.
        seeds: the game seed of each seed index (the same in every profile: common random numbers).
    """

    roles: tuple[str, ...]
    labels: dict[str, tuple[str, ...]]
    profiles: list[tuple[int, ...]]
    design: str
    reference: tuple[int, ...] | None
    samples: dict[str, np.ndarray]
    seeds: np.ndarray

    def profile_table(self):
        """One row per profile: the roles' labels, and for each role the mean payoff over seeds,
        its 95% interval (Student t over the seeds) and the number of seeds."""
        import pandas as pd

        rows = []
        for i, prof in enumerate(self.profiles):
            row: dict[str, Any] = {"profile": i}
            for r, k in zip(self.roles, prof, strict=True):
                row[r] = self.labels[r][k]
            for r in self.roles:
                mean, low, high, n = mean_interval(self.samples[r][i])
                row.update({f"payoff_{r}": mean, f"payoff_{r}_low": low, f"payoff_{r}_high": high, f"n_{r}": n})
            rows.append(row)
        return pd.DataFrame(rows)

    def ranking(self, role: str):
        """The role's strategies ranked by mean payoff. Grid: the mean over every profile of the
        other roles (each equally weighted), its interval over seeds. Deviations: the payoff when
        the role alone plays it (the others at the reference), and ``gain`` over the reference
        with its paired interval (same seeds)."""
        import pandas as pd

        rows = []
        if self.design == "grid":
            r = self.roles.index(role)
            x = self.samples[role]
            for k, label in enumerate(self.labels[role]):
                rows_k = [i for i, p in enumerate(self.profiles) if p[r] == k]
                per_seed = np.nanmean(x[rows_k], axis=0) if len(rows_k) > 1 else x[rows_k[0]]
                mean, low, high, n = mean_interval(per_seed)
                rows.append({"strategy": label, "payoff": mean, "payoff_low": low, "payoff_high": high, "n": n})
        else:
            alone = reference_deviations(self).roles[role]
            for label in self.labels[role]:
                mean, low, high, n = alone.payoffs[label]
                gain, glow, ghigh, _ = alone.gains[label]
                rows.append({"strategy": label, "payoff": mean, "payoff_low": low, "payoff_high": high, "n": n,
                             "gain": gain, "gain_low": glow, "gain_high": ghigh})  # fmt: skip
        table = pd.DataFrame(rows).sort_values("payoff", ascending=False, kind="stable").reset_index(drop=True)
        table.insert(0, "rank", range(1, len(table) + 1))
        table.insert(0, "role", role)
        return table


class Estimate(NamedTuple):
    """A mean over seeds and its interval (payoff-years), and the number of seeds it rests on."""

    mean: float
    low: float
    high: float
    n: int


def mean_interval(x: np.ndarray, level: float = 0.95) -> Estimate:
    """Mean of the finite values of ``x`` and its two-sided Student-t interval: (mean, low, high, n);
    with one value the interval is unknown (low and high NaN: one seed says nothing of the spread,
    and a point would claim the mean certain), with none all NaN."""
    from scipy.special import stdtrit  # (scipy.stats.t.ppf's own function; scipy.stats takes 0.5 s to import)

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, math.nan, math.nan, 1)
    half = float(stdtrit(n - 1, 0.5 + level / 2) * x.std(ddof=1) / math.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n)


def tournament_results(tournament: Tournament, folder: str | os.PathLike) -> TournamentResults:
    """The payoffs of ``tournament`` stored in its results ``folder`` (a sweep folder): each
    role's ``payoff_total_<role>`` at the horizon (payoff-years); NaN for a game not finished."""
    from ..experiments.results import load_results

    exp = tournament.experiment
    n_prof, n_seeds = len(exp.profiles), exp.config.replications
    samples = {r: np.full((n_prof, n_seeds), np.nan) for r in exp.roles}
    results = load_results(folder)
    mine = {run.key for run in exp.runs()}
    if not results.empty:
        rows = results[results["key"].isin(mine)]
        point = rows["point"].to_numpy(dtype=int)
        rep = rows["replication"].to_numpy(dtype=int)
        for r in exp.roles:
            samples[r][point, rep] = rows[f"payoff_total_{r}"].to_numpy(dtype=float)
    ref = None
    if tournament.config.design == "deviations":
        ref = exp.profiles[0]
    seeds = np.array([exp.run(0, k).seed for k in range(n_seeds)], dtype=np.int64)
    return TournamentResults(
        roles=exp.roles, labels={r: tournament.labels(r) for r in exp.roles}, profiles=list(exp.profiles),
        design=tournament.config.design, reference=ref, samples=samples, seeds=seeds,
    )  # fmt: skip


@dataclass(frozen=True)
class RoleDeviations:
    """One role at a reference profile: what it gets there and what each unilateral switch changes.

    Attributes:
        role: the role; ``reference``: its strategy (label) in the reference profile.
        payoffs: each of its strategies (label) -> its payoff when it alone plays it (the others
            at the reference), mean over seeds with the 95% Student-t interval.
        gains: each strategy -> its payoff change over the reference's, paired seed by seed over
            the seeds where both games finished (the reference's own: exactly 0).
        best: the strategy of the largest mean gain (the reference's when none gains; ties to
            the reference, then to the first label), as :func:`.metagame.best_deviations` picks it.
        best_gain: the best gain, ``max(0, max mean gain)``, with bounds that hold together with
            the regret's (:class:`ReferenceDeviations`); all NaN (n 0) when a strategy has no seed
            where both its game and the reference's finished.
    """

    role: str
    reference: str
    payoffs: dict[str, Estimate]
    gains: dict[str, Estimate]
    best: str
    best_gain: Estimate

    @property
    def value(self) -> Estimate:
        """The role's payoff at the reference profile."""
        return self.payoffs[self.reference]


@dataclass(frozen=True)
class ReferenceDeviations:
    """Is a reference profile an equilibrium, as far as the seeds tell, and who gains most by leaving it.

    Attributes:
        reference: role -> its strategy label in the reference profile.
        roles: role -> :class:`RoleDeviations`, in the tournament's order of roles.
        regret: the reference's regret, the largest best gain of any role (payoff-years; 0 at a
            pure equilibrium of the seeds' mean game). Its bounds and each role's ``best_gain``
            bounds are ``[max(0, max low), max(0, max high)]`` over the deviations' intervals taken
            at the Bonferroni level ``1 - (1 - level) / m`` (m deviations in all), so all of them
            hold together with probability at least ``level`` (Student t over seeds). All NaN
            (n 0) when some role's best gain is.
        regret_role: the role that gains most (None when no role gains on average, or unknown).
        level: the intervals' level (0.95).
    """

    reference: dict[str, str]
    roles: dict[str, RoleDeviations]
    regret: Estimate
    regret_role: str | None
    level: float

    def table(self):
        """One row per (role, strategy): ``role``, ``strategy``, ``reference`` (its strategy in the
        reference), ``is_reference``, ``payoff`` (``_low``, ``_high``), ``gain`` (``_low``,
        ``_high``), ``n`` (paired seeds) and ``best`` (the role's best deviation)."""
        import pandas as pd

        rows = []
        for role, dev in self.roles.items():
            for label, pay in dev.payoffs.items():
                gain = dev.gains[label]
                rows.append({"role": role, "strategy": label, "reference": dev.reference,
                             "is_reference": label == dev.reference, "payoff": pay.mean, "payoff_low": pay.low,
                             "payoff_high": pay.high, "gain": gain.mean, "gain_low": gain.low,
                             "gain_high": gain.high, "n": gain.n, "best": label == dev.best})  # fmt: skip
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """The reference, each role's value and best deviation, and the regret, as plain data (JSON;
        an unknown number is None)."""

        def est(e: Estimate) -> dict[str, Any]:
            known = {k: None if math.isnan(v) else v for k, v in zip(("mean", "low", "high"), e[:3], strict=True)}
            return {**known, "n": e.n}

        return {
            "reference": dict(self.reference), "level": self.level,
            "roles": {r: {"value": est(d.value), "best": d.best, "best_gain": est(d.best_gain)}
                      for r, d in self.roles.items()},
            "regret": est(self.regret), "regret_role": self.regret_role,
        }  # fmt: skip

    def verdict(self) -> str:
        """One line: the regret, and who gains most or that no deviation gains significantly."""
        reg = self.regret
        if reg.n == 0:
            unknown = [f"{r}={label}" for r, d in self.roles.items() for label, g in d.gains.items() if g.n == 0]
            return (f"regret unknown: no seed where both games finished for {', '.join(unknown)} "
                    "(runs failed or missing; --resume tries them again)")  # fmt: skip
        line = f"regret {reg.mean:.3f} {interval_text(reg.low, reg.high, reg.n)} payoff-years"
        if self.regret_role is None:
            return f"{line}: no role gains by leaving the reference (an equilibrium of the seeds' mean game)"
        role = self.roles[self.regret_role]
        line += f": {self.regret_role} gains most, switching to {role.best}"
        if math.isnan(reg.low):
            return f"{line}; one seed cannot tell whether a gain is significant (play 2 or more)"
        if reg.low > 0:
            return line
        return f"{line}; no gain is significant at {self.level:.0%} (an equilibrium within the seeds' precision)"


def reference_deviations(
    results: TournamentResults, reference: dict[str, str] | Sequence[int] | None = None, level: float = 0.95
) -> ReferenceDeviations:
    """Each role's payoff at a reference profile and the change of each unilateral deviation from
    it, paired over the common seeds; each role's best deviation; the reference's regret.

    ``reference``: role -> label, or the labels' indices in roles' order; by default the
    deviations design's own reference. A grid holds every unilateral deviation from each of its
    profiles, so any reference works there; a deviations design only its own.

    Raises:
        ValueError (one line): a grid without a reference, an unknown role or label, or a
            deviation profile the tournament did not play.
    """
    roles = results.roles
    ref = _reference_profile(results, reference)
    index = {p: i for i, p in enumerate(results.profiles)}

    def played(profile: tuple[int, ...]) -> int:
        if profile not in index:
            names = ", ".join(f"{r}={results.labels[r][k]}" for r, k in zip(roles, profile, strict=True))
            raise ValueError(f"reference: the profile {names} was not played (a deviations design plays "
                             "its own reference's deviations only)")  # fmt: skip
        return index[profile]

    at_ref = played(ref)
    m = sum(len(results.labels[r]) - 1 for r in roles)
    joint = 1.0 - (1.0 - level) / max(m, 1)  # Bonferroni: the bounds below hold together
    found: dict[str, RoleDeviations] = {}
    for j, role in enumerate(roles):
        x = results.samples[role]
        own = results.labels[role][ref[j]]
        payoffs, gains, lows, highs = {}, {}, [0.0], [0.0]
        for k, label in enumerate(results.labels[role]):
            alone = x[played((*ref[:j], k, *ref[j + 1 :]))]  # the role alone on strategy k
            change = alone - x[at_ref]
            payoffs[label] = mean_interval(alone, level)
            gains[label] = mean_interval(change, level)
            if label != own and gains[label].n:
                wide = mean_interval(change, joint)
                lows.append(wide.low)
                highs.append(wide.high)
        means = {label: g.mean for label, g in gains.items() if label != own and g.n}
        best = max(means, key=means.__getitem__, default=own)  # the first label of the largest mean gain
        if means.get(best, 0.0) <= 0.0:
            best = own
        if any(g.n == 0 for g in gains.values()):  # a switch never paired with the reference: unknown
            gain = Estimate(math.nan, math.nan, math.nan, 0)
        else:
            gain = Estimate(means.get(best, 0.0), _largest(lows), _largest(highs), gains[best].n)
        found[role] = RoleDeviations(role, own, payoffs, gains, best, gain)
    bounds = [d.best_gain for d in found.values()]
    if any(b.n == 0 for b in bounds):
        regret, top = Estimate(math.nan, math.nan, math.nan, 0), None
    else:
        top = max(roles, key=lambda r: found[r].best_gain.mean)  # the first role of the largest gain
        regret = Estimate(found[top].best_gain.mean, _largest([b.low for b in bounds]),
                          _largest([b.high for b in bounds]), found[top].best_gain.n)  # fmt: skip
    return ReferenceDeviations(
        reference={r: results.labels[r][k] for r, k in zip(roles, ref, strict=True)}, roles=found, regret=regret,
        regret_role=top if regret.mean > 0.0 else None, level=level,
    )  # fmt: skip


def _largest(bounds: list[float]) -> float:
    """The largest of ``bounds``, or NaN if one is unknown (a deviation played on one seed only)."""
    return math.nan if any(math.isnan(b) for b in bounds) else max(bounds)


def interval_text(low: float, high: float, n: int, fmt: str = ".3f") -> str:
    """``[low, high]`` as text, or ``[no interval: 1 seed]`` when the bounds are unknown."""
    if math.isnan(low) or math.isnan(high):
        return f"[no interval: {n} seed{'' if n == 1 else 's'}]"
    return f"[{low:{fmt}}, {high:{fmt}}]"


def _reference_profile(results: TournamentResults, reference) -> tuple[int, ...]:
    """The reference as label indices in roles' order (see :func:`reference_deviations`)."""
    roles = results.roles
    if reference is None:
        if results.reference is None:
            raise ValueError("reference: a grid has no reference profile of its own; name one (role -> label)")
        return tuple(results.reference)
    if isinstance(reference, dict):
        for r in reference:
            if r not in roles:
                raise ValueError(f"reference.{r}: not a role of the tournament ({', '.join(roles)})")
        out = []
        for r in roles:
            if r not in reference:
                raise ValueError(f"reference.{r}: missing (the reference gives every role a strategy)")
            if reference[r] not in results.labels[r]:
                raise ValueError(f"reference.{r}: {reference[r]!r} is not a strategy of the role "
                                 f"({', '.join(results.labels[r])})")  # fmt: skip
            out.append(results.labels[r].index(reference[r]))
        return tuple(out)
    out = tuple(int(i) for i in reference)
    sizes = [len(results.labels[r]) for r in roles]
    if len(out) != len(roles) or any(not 0 <= i < n for i, n in zip(out, sizes, strict=True)):
        raise ValueError(f"reference: {out} is not a profile of the roles {roles}")
    return out


def tournament_metagame(results: TournamentResults) -> MetaGame:
    """The meta-game of a grid tournament: each role's mean payoff over seeds as a tensor of shape
    ``(n_1, ..., n_R)`` in roles' order, with the per-seed payoffs as ``samples`` (last axis: seeds).

    Raises:
        ValueError: a deviations design (it does not fill the tensor), or a run failed or missing.
    """
    if results.design != "grid":
        raise ValueError("design: a deviations tournament plays its reference and each role's unilateral "
                         "deviations, not the whole payoff tensor: read it with reference_deviations(results), "
                         "or play design = \"grid\" for a MetaGame")  # fmt: skip
    shape = tuple(len(results.labels[r]) for r in results.roles)
    index = {p: i for i, p in enumerate(results.profiles)}
    order = [index[p] for p in itertools.product(*(range(n) for n in shape))]
    samples = {r: results.samples[r][order].reshape(*shape, -1) for r in results.roles}
    for r, x in samples.items():
        if not np.isfinite(x).all():
            raise ValueError(f"samples.{r}: {int((~np.isfinite(x)).sum())} runs failed or are missing; resume first")
    return MetaGame(
        roles=results.roles, strategies=dict(results.labels),
        payoffs={r: x.mean(axis=-1) for r, x in samples.items()}, samples=samples,
    )  # fmt: skip


def write_outputs(results: TournamentResults, folder: str | os.PathLike, *, plots: bool = True) -> Path:
    """Write ``<folder>/tournament/``: ``profiles.csv``/``.parquet`` (each profile's mean payoff
    per role with 95% intervals), ``rankings.csv``/``.parquet`` (per role), ``samples.parquet``
    (payoff per profile, seed and role), ``payoffs_<role>.png`` (bars with intervals), and for a
    deviations design ``deviations.csv``/``.parquet`` (:meth:`ReferenceDeviations.table`) and
    ``deviations.json`` (its :meth:`~ReferenceDeviations.summary`). Returns the folder written."""
    import pandas as pd

    out = Path(folder) / OUTPUT_FOLDER
    out.mkdir(exist_ok=True)
    table = results.profile_table()
    table.to_csv(out / "profiles.csv", index=False)
    table.to_parquet(out / "profiles.parquet", index=False)
    ranks = pd.concat([results.ranking(r) for r in results.roles], ignore_index=True)
    ranks.to_csv(out / "rankings.csv", index=False)
    ranks.to_parquet(out / "rankings.parquet", index=False)
    long = []
    for i, prof in enumerate(results.profiles):
        labels = {r: results.labels[r][k] for r, k in zip(results.roles, prof, strict=True)}
        for s, seed in enumerate(results.seeds):
            long.append({"profile": i, **labels, "seed_index": s, "seed": int(seed),
                         **{f"payoff_{r}": results.samples[r][i, s] for r in results.roles}})  # fmt: skip
    pd.DataFrame(long).to_parquet(out / "samples.parquet", index=False)
    if results.design == "deviations":
        analysis = reference_deviations(results)
        dev = analysis.table()
        dev.to_csv(out / "deviations.csv", index=False)
        dev.to_parquet(out / "deviations.parquet", index=False)
        text = json.dumps(analysis.summary(), indent=2, allow_nan=False)
        (out / "deviations.json").write_text(text + "\n", encoding="utf-8")
    if plots:
        for role in results.roles:
            plot_role(results, table, role, out / f"payoffs_{role}.png")
    return out


def plot_role(results: TournamentResults, table, role: str, path: Path) -> None:
    """Horizontal bars: the role's mean payoff in each profile, with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [" / ".join(f"{r}={row[r]}" for r in results.roles) for _, row in table.iterrows()]
    mean = table[f"payoff_{role}"].to_numpy()
    err = np.vstack([mean - table[f"payoff_{role}_low"].to_numpy(), table[f"payoff_{role}_high"].to_numpy() - mean])
    order = np.argsort(mean)
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(names) + 1.5))
    ax.barh(np.arange(len(names)), mean[order], xerr=err[:, order], color="#4c72b0", ecolor="#333333", capsize=2)
    ax.set_yticks(np.arange(len(names)), [names[i] for i in order], fontsize=7)
    ax.set_xlabel(f"payoff of {role} (payoff-years), mean over seeds with 95% interval")
    ax.set_title(f"{role}: payoff by profile")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_rankings(results: TournamentResults) -> str:
    """The rankings as text, one block per role."""
    lines = []
    for role in results.roles:
        table = results.ranking(role)
        lines.append(f"{role}:")
        for _, row in table.iterrows():
            n = int(row["n"])
            gain = (
                f"  gain {row['gain']:+.3f} {interval_text(row['gain_low'], row['gain_high'], n, '+.3f')}"
                if "gain" in row
                else ""
            )
            lines.append(f"  {row['rank']:>2}. {row['strategy']:<28}{row['payoff']:>10.3f} "
                         f"{interval_text(row['payoff_low'], row['payoff_high'], n)}{gain}")  # fmt: skip
    if results.design == "deviations":
        analysis = reference_deviations(results)
        level = f"{analysis.level:.0%}"
        lines.append("reference " + ", ".join(f"{r}={s}" for r, s in analysis.reference.items())
                     + f" (best gains and regret: bounds holding together at {level}):")  # fmt: skip
        for role, dev in analysis.roles.items():
            v, g = dev.value, dev.best_gain
            best = f"best deviation {dev.best}" if dev.best != dev.reference else "no deviation gains"
            lines.append(f"  {role:<8} value {v.mean:.3f} {interval_text(v.low, v.high, v.n)}; {best}, "
                         f"gain {g.mean:.3f} {interval_text(g.low, g.high, g.n)}")  # fmt: skip
        lines.append(f"  {analysis.verdict()}")
    return "\n".join(lines)


__all__ = [
    "Estimate",
    "ReferenceDeviations",
    "RoleDeviations",
    "Tournament",
    "TournamentConfig",
    "TournamentResults",
    "build_tournament",
    "deviation_profiles",
    "grid_profiles",
    "load_tournament",
    "mean_interval",
    "reference_deviations",
    "tournament_metagame",
    "tournament_results",
    "write_outputs",
]
