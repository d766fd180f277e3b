"""Policy-space response oracles (PSRO): tournament -> meta-game solution -> a tuned best response
for each role against the meta-strategy mix -> the pools grow; until no role gains more than
``epsilon``.

A PSRO file (TOML, ``experiments/psro_*.toml``) names a scenario and a horizon, the meta-game's
``seeds`` (a count, with ``master_seed``: replication r plays the same game seed in every profile,
the tournament's common random numbers), and per role (a power) the initial pool of strategies
(tournament entries) and the best response's search space (``params`` bounds and ``start``, as in
a tuning file). Iteration k:

1. the grid of the current pools is played on the seeds (``build_tournament`` checks the pools and
   gives the seeds; the games run on the bulk path). A profile's games never change (same seeds,
   same strategies), so each profile is played once in the whole loop (:class:`Games`);
2. the meta-game (``tournament_metagame``) is solved for the mix sigma (``solver``: ``"nash"``,
   the first equilibrium of support enumeration for two roles, regret matching for more; or
   ``"uniform"``, every pool strategy alike);
3. for each role r, ``parametric`` is tuned (lab/tune.py, TPE, an in-memory study seeded from the
   file's sampler seed, the iteration and the role) on ``train_seeds`` against the opponent
   profiles of sigma_-r's support, the objective the sigma-weighted mean of the role's payoff-years
   (``weighted``; the Wilcoxon pruner is off: it counts every instance alike);
4. the best response BR_r is measured on the meta-game's seeds against every opponent profile:
   gain_r = V(BR_r, sigma_-r) - V(sigma_r, sigma_-r); exploitability (NashConv against the tuned
   family) = sum_r max(0, gain_r). The training seeds differ from these seeds, so the gain is not
   the tuner's optimism. These games are the next tournament's row of BR_r: its value there is
   the value measured here;
5. the loop stops when every gain_r <= epsilon, or after ``max_iterations``; otherwise each BR with
   gain_r > epsilon joins its role's pool as ``parametric:br_<role>_<k>``.

Payoffs are payoff-years (the power's ``payoff_total`` at the horizon, docs/model.md 7.10). No
resume: a run is deterministic and is started again from the file.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..report.folders import OutputError, write_atomically, write_marker
from ..scenario.config import (
    ConfigError,
    Scenario,
    Strict,
    builtin_scenarios,
    load_scenario,
    read_config,
    validate_config,
)
from ..scenario.config import resolve_path as _resolve_path
from ..scenario.names import FolderName
from ..sim.bulk import BulkPlan, NotCompiled
from .metagame import MetaGame, approximate_equilibrium, bimatrix_equilibria, mixed_regret, strategy_values
from .tournament import (
    Entry,
    Role,
    StrategyEntry,
    TournamentConfig,
    TournamentResults,
    _toml_inline,
    build_tournament,
    interval_text,
    mean_interval,
    tournament_metagame,
)
from .tune import (
    MAX_SEEDS,
    MAX_TRIALS,
    Objective,
    PrunerConfig,
    SamplerConfig,
    TuneConfig,
    Tuning,
    check_seeds,
    objective_function,
    resolve,
    unlogged_interrupts,
    weighted,
)

MAX_ITERATIONS = 100
MIN_WEIGHT = 1e-6  # opponent profiles lighter than this in sigma_-r are left out of the training objective
REGRET_MATCHING_STEPS = 10_000  # the approximate solver's rounds (three roles or more)
BR_LABEL = "br_{role}_{k}"


class PsroRole(Strict):
    """A role of the loop: its initial pool (tournament entries) and its best response's search
    space (``params``: bounds as in a tuning file; ``start``: the values of the parameters not tuned)."""

    strategies: Annotated[list[str | StrategyEntry], Field(min_length=1, max_length=1000)]
    params: dict[str, list[float]]
    start: dict[str, Any] = Field(default_factory=dict)


class PsroSampler(Strict):
    """The best responses' TPE sampler: each (iteration, role) study is seeded from ``seed``."""

    seed: int = Field(0, ge=0, le=2**32 - 1)


class PsroConfig(Strict):
    """A PSRO file, validated (see the module)."""

    name: FolderName  # it names the default results folder: never a path
    description: str = ""
    scenario: str = "baseline"
    horizon_turns: Annotated[int, Field(ge=1, le=400)]
    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)]
    master_seed: Annotated[int, Field(ge=0, lt=2**63)]
    train_seeds: list[int]
    trials: Annotated[int, Field(ge=1, le=MAX_TRIALS)] = 50
    epsilon: Annotated[float, Field(ge=0.0)]
    max_iterations: Annotated[int, Field(ge=1, le=MAX_ITERATIONS)] = 5
    solver: Literal["nash", "uniform"] = "nash"
    sampler: PsroSampler = Field(default_factory=PsroSampler)
    roles: dict[str, PsroRole]

    @field_validator("train_seeds")
    @classmethod
    def _seeds(cls, v):
        return check_seeds(v)  # the tuner's rule for a list of game seeds

    @field_validator("roles")
    @classmethod
    def _roles(cls, v):
        if not v:
            raise ValueError("name at least one role, e.g. [roles.us] strategies = [...], params = {...}")
        return v

    @model_validator(mode="after")
    def _labels(self):
        for role, spec in self.roles.items():
            for i, item in enumerate(spec.strategies):
                if isinstance(item, StrategyEntry) and item.label and _is_br_label(item.label, role):
                    raise ValueError(f"roles.{role}.strategies.{i}.label: {item.label!r} is kept for the loop's "
                                     "best responses; choose another label")  # fmt: skip
        return self


def _is_br_label(label: str, role: str) -> bool:
    head = f"br_{role}_"
    return label.startswith(head) and label[len(head) :].isdigit()


@dataclass
class Psro:
    """A validated PSRO file with what it resolves against the scenario.

    Attributes:
        config: the file's settings.
        roles: the roles, in the file's order.
        initial: role -> its initial pool of entries (label, registered name, parameters).
        tunings: role -> the best response's :class:`Tuning` (trained on ``train_seeds``; its
            profiles are set per iteration by :func:`weighted`).
        base: the scenario at the horizon (the roles' strategies are set per profile).
        seeds: the meta-game's game seeds, shape (seeds,): replication r's seed in every profile.
        scenario_ref: how ``pools.toml`` names the scenario (a built-in name, else a path).
        path: the file, if read from one.
    """

    config: PsroConfig
    roles: tuple[str, ...]
    initial: dict[str, tuple[Entry, ...]]
    tunings: dict[str, Tuning]
    base: Scenario
    seeds: np.ndarray
    scenario_ref: str
    path: Path | None = None

    def tournament(self, pools: dict[str, tuple[Entry, ...]]):
        """The grid tournament of ``pools`` (the tournament machinery checks every entry)."""
        return build_tournament(_tournament_config(self.config, pools), self.path)


def load_psro(path: str | os.PathLike) -> Psro:
    """Read and validate a PSRO file (one-line :class:`ConfigError` naming the field)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"psro: {str(path)!r} is a folder, not a TOML file")
    if not path.is_file():
        raise ConfigError(f"psro: file {str(path)!r} does not exist")
    return resolve_psro(validate_config(PsroConfig, read_config(path, "psro")), path)


def resolve_psro(config: PsroConfig, path: Path | None = None) -> Psro:
    """Check a :class:`PsroConfig` against its scenario, the strategy registry and the bulk path."""
    from ..experiments.experiment import replication_seed

    pools = {r: tuple(config.roles[r].strategies) for r in config.roles}
    tournament = build_tournament(_tournament_config(config, pools), path)  # roles, entries, scenario
    roles = tournament.roles
    initial = {r: tournament.experiment.entries[r] for r in roles}
    base = tournament.experiment.scenario
    # Every entry against the other roles' first entries (a role's own strategy in the scenario is
    # never played); the message names the actor whose strategy has no kernel, so blame goes to it.
    first = {r: initial[r][0] for r in roles}
    for role in roles:
        for i, entry in enumerate(initial[role]):
            try:
                BulkPlan(_profile_scenario(base, tuple((r, entry if r == role else first[r]) for r in roles)))
            except NotCompiled as exc:
                culprit = next((r for r in roles if str(exc).startswith(f"powers.{r}.")), None)
                where = "scenario" if culprit is None else f"roles.{culprit}.strategies.{i if culprit == role else 0}"
                raise ConfigError(f"{where}: {exc}: the loop plays on the bulk path") from None
    seeds = np.array([replication_seed(config.master_seed, k) for k in range(config.seeds)], dtype=np.int64)
    shared = sorted(set(config.train_seeds) & {int(s) for s in seeds})
    if shared:
        raise ConfigError(f"train_seeds: seed {shared[0]} is also a seed of the meta-game (they must differ, "
                          "so that a gain is measured on games the tuner never saw)")  # fmt: skip
    tunings = {role: _tuning(config, role, path) for role in roles}
    where = config.scenario
    if path is not None and (path.parent / where).is_file():
        where = str(path.parent / where)
    ref = config.scenario if config.scenario in builtin_scenarios() else str(_resolve_path(where).resolve())
    return Psro(config, roles, initial, tunings, base, seeds, ref, path)


def _tournament_config(config: PsroConfig, pools: dict[str, tuple]) -> TournamentConfig:
    """The tournament of ``pools`` (role -> entries or file items) on the loop's seeds."""
    roles = {r: Role(strategies=[_as_item(e) for e in pool]) for r, pool in pools.items()}
    return TournamentConfig(name=config.name, description=config.description, scenario=config.scenario,
                            horizon_turns=config.horizon_turns, seeds=config.seeds, master_seed=config.master_seed,
                            design="grid", roles=roles)  # fmt: skip


def _as_item(entry: Entry | str | StrategyEntry) -> str | StrategyEntry:
    if not isinstance(entry, Entry):
        return entry
    if entry.label == entry.name and not entry.params:
        return entry.name
    label = entry.label.split(":", 1)[1] if ":" in entry.label else None
    return StrategyEntry(name=entry.name, label=label, params=_plain(entry.params))


def _plain(value):
    """``value`` with every read-only mapping a plain dict (for TOML and JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _tuning(config: PsroConfig, role: str, path: Path | None) -> Tuning:
    """The role's best-response tuning, checked by the tuner's own rules (its field names moved
    under ``roles.<role>.``). The objective is the role's payoff-years; no held-out evaluation (the
    loop measures on the meta-game's seeds), so ``eval_seeds`` holds a seed that is never played."""
    spec = config.roles[role]
    unused = next(s for s in itertools.count() if s not in config.train_seeds)
    raw = {
        "name": f"{config.name}_{role}", "scenario": config.scenario, "horizon_turns": config.horizon_turns,
        "role": role, "params": {k: list(v) for k, v in spec.params.items()}, "start": _plain(spec.start),
        "seeds": list(config.train_seeds), "eval_seeds": [unused],
        "objectives": [Objective(metric=f"payoff_total_{role}")],
        "sampler": SamplerConfig(kind="tpe", seed=config.sampler.seed), "trials": config.trials,
        "pruner": PrunerConfig(wilcoxon=False),
    }  # fmt: skip
    try:
        tune_config = validate_config(TuneConfig, raw)
        return resolve(tune_config, base=None if path is None else path.parent, compiled=False)
    except ConfigError as exc:
        text = str(exc)
        for key in ("params", "start"):
            if text.startswith(key):
                raise ConfigError(f"roles.{role}.{text}") from None
        raise


# ------------------------------------------------------------------------------------------- games


def _profile_scenario(base: Scenario, profile) -> Scenario:
    """``base`` with each (role, entry) of ``profile`` playing the entry, set by the overrides a
    tournament's design point uses (``powers.<role>.strategy`` and ``.strategy_params``)."""
    overrides = []
    for role, entry in profile:
        overrides += [f"powers.{role}.strategy={_toml_inline(entry.name)}",
                      f"powers.{role}.strategy_params={_toml_inline(entry.params)}"]  # fmt: skip
    return load_scenario(base, overrides)


class Games:
    """Each profile's payoffs on the meta-game's seeds, each profile played once: the same seeds
    (common random numbers) and the same strategies give the same games, so a profile met again
    (in the next tournament, or as a best response's opponent) is read, not replayed.

    ``payoffs(profile)`` -> role -> payoff-years, shape (seeds,); ``played``: games played so far."""

    def __init__(self, psro: Psro):
        self.psro = psro
        self.played = 0
        self._store: dict[str, dict[str, np.ndarray]] = {}

    @staticmethod
    def key(profile) -> str:
        return json.dumps([[r, e.name, _plain(e.params)] for r, e in profile], sort_keys=True)

    def payoffs(self, profile) -> dict[str, np.ndarray]:
        """``profile``: (role, Entry) pairs, one per role of the loop."""
        key = self.key(profile)
        if key not in self._store:
            scenario = _profile_scenario(self.psro.base, profile)
            plan = BulkPlan(scenario)
            rows = plan.play_block([int(s) for s in self.psro.seeds])
            self.played += len(rows)
            self._store[key] = {
                r: np.array([row[plan.horizon][f"payoff_total_{r}"] for row in rows]) for r in self.psro.roles
            }
        return self._store[key]


def play_metagame(psro: Psro, pools: dict[str, tuple[Entry, ...]], games: Games) -> MetaGame:
    """The meta-game of ``pools``: the grid tournament's payoffs (profiles already played are read
    from ``games``), as ``tournament_metagame`` builds it."""
    tournament = psro.tournament(pools)
    roles = tournament.roles
    entries = tournament.experiment.entries
    profiles = tournament.experiment.profiles
    samples = {r: np.empty((len(profiles), len(psro.seeds))) for r in roles}
    for i, prof in enumerate(profiles):
        got = games.payoffs(tuple((r, entries[r][k]) for r, k in zip(roles, prof, strict=True)))
        for r in roles:
            samples[r][i] = got[r]
    results = TournamentResults(roles=roles, labels={r: tournament.labels(r) for r in roles}, profiles=profiles,
                                design="grid", reference=None, samples=samples, seeds=psro.seeds)  # fmt: skip
    return tournament_metagame(results)


# ------------------------------------------------------------------------------------------ solver


def solve(game: MetaGame, solver: str) -> tuple[dict[str, np.ndarray], str]:
    """The meta-strategy mix of ``game``: role -> shares, shape (n_r,), and how it was found.

    ``"uniform"``: every strategy of a pool alike. ``"nash"``: one role, its best strategy (the
    first of ties); two roles, the first equilibrium support enumeration finds (smallest support,
    then the supports' order: deterministic; pure equilibria first); three or more, or a degenerate
    two-role game where enumeration finds none, the time-averaged mix of regret matching
    (approximate: its regret is reported)."""
    if solver == "uniform":
        return {r: np.full(n, 1.0 / n) for r, n in zip(game.roles, game.shape, strict=True)}, "uniform"
    if len(game.roles) == 1:
        role = game.roles[0]
        mix = np.zeros(game.shape[0])
        mix[int(np.argmax(game.payoffs[role]))] = 1.0
        return {role: mix}, "best strategy"
    if len(game.roles) == 2:
        found = bimatrix_equilibria(game, limit=1)
        if found:
            return dict(found[0].mix), "support enumeration"
    eq = approximate_equilibrium(game, method="regret_matching", steps=REGRET_MATCHING_STEPS)
    return dict(eq.mix), "regret matching"


# ------------------------------------------------------------------------------------------ loop


@dataclass
class Response:
    """A role's best response in one iteration.

    ``train_value``: the tuner's best objective (sigma-weighted payoff-years on the training seeds);
    ``value``: V(BR, sigma_-r) on the meta-game's seeds; ``sigma_value``: V(sigma_r, sigma_-r);
    ``gain`` = value - sigma_value, and ``gain_interval`` the 95% Student-t interval of the gain
    over the seeds (paired: each seed's BR value against sigma_-r minus sigma's, the same games'
    seeds); ``added``: it joined the pool (gain > epsilon, and the loop went on); ``opponents``:
    per opponent profile (role -> label of the other roles), its weight in sigma_-r and the BR's
    per-seed payoffs (payoff-years, shape (seeds,))."""

    role: str
    entry: Entry
    train_value: float
    value: float
    sigma_value: float
    gain: float
    gain_interval: tuple[float, float]
    added: bool = False
    opponents: list[tuple[dict[str, str], float, np.ndarray]] = field(default_factory=list)
    trials: list[dict] = field(default_factory=list)


@dataclass
class Iteration:
    """One pass of the loop: the pools' meta-game, its solution, each role's best response."""

    number: int
    game: MetaGame
    mix: dict[str, np.ndarray]
    solver: str
    meta_regret: float
    responses: dict[str, Response]
    games_played: int
    games_reused: int

    @property
    def exploitability(self) -> float:
        """NashConv against the tuned family: sum over roles of max(0, gain), payoff-years."""
        return float(sum(max(0.0, r.gain) for r in self.responses.values()))

    @property
    def max_gain(self) -> float:
        return max(r.gain for r in self.responses.values())


@dataclass
class PsroResult:
    """The loop's iterations and the final pools (those of the last iteration's meta-game)."""

    psro: Psro
    iterations: list[Iteration]
    pools: dict[str, tuple[Entry, ...]]
    converged: bool


def study_seed(seed: int, iteration: int, role: str) -> int:
    """The TPE seed of a role's best-response study in an iteration: from the file's seed, the
    iteration and the role only, so a run is reproducible and no two studies share a seed."""
    digest = hashlib.sha256(f"psro:{seed}:{iteration}:{role}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def best_response(psro: Psro, role: str, game: MetaGame, mix, pools, iteration: int, warm: dict | None,
                  progress: Callable | None = None):  # fmt: skip
    """Tune ``role``'s parametric strategy against sigma_-r (``mix`` on ``game``'s other roles):
    returns (params, tuned values, train value, trial rows)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    others = [r for r in game.roles if r != role]
    profiles, weights = [], []
    for combo in itertools.product(*(range(len(pools[r])) for r in others)):
        w = math.prod(float(mix[r][k]) for r, k in zip(others, combo, strict=True))
        if w > MIN_WEIGHT:
            entries = [pools[r][k] for r, k in zip(others, combo, strict=True)]
            profiles.append(tuple((r, e.name, e.params) for r, e in zip(others, entries, strict=True)))
            weights.append(w)
    if not profiles:  # a single role: no opponents to draw, the scenario's other actors only
        profiles, weights = [()], [1.0]
    tuning = weighted(psro.tunings[role], profiles, weights)

    sampler = optuna.samplers.TPESampler(seed=study_seed(psro.config.sampler.seed, iteration, role))
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=optuna.pruners.NopPruner())
    if warm is not None:  # the role's last best response, a fair start against the new mix
        study.enqueue_trial(warm)
    callbacks = [lambda s, t: progress(role, t.number)] if progress else []
    with unlogged_interrupts():
        study.optimize(objective_function(tuning), n_trials=psro.config.trials, callbacks=callbacks)
    best = study.best_trial
    rows = [{"iteration": iteration, "role": role, "trial": t.number, "value": t.value, **t.params}
            for t in study.trials]  # fmt: skip
    return tuning.params_of(best.params), dict(best.params), float(best.value), rows


def _mixed_samples(game: MetaGame, mix, role: str) -> np.ndarray:
    """``role``'s payoff on each seed when every role plays its mix: shape (seeds,)."""
    x = game.samples[role]
    for j in reversed(range(len(game.roles))):  # the last axis first: the axes before keep their places
        x = np.tensordot(x, mix[game.roles[j]], axes=([j], [0]))
    return x


def run_psro(psro: Psro, iterations: int | None = None, *, progress: Callable | None = None,
             on_iteration: Callable | None = None) -> PsroResult:  # fmt: skip
    """Run the loop (see the module) for at most ``iterations`` (default: the file's
    ``max_iterations``). ``progress(iteration, role, trial)`` after each trial; ``on_iteration(result)``
    after each iteration (the result so far), e.g. to write the outputs as the loop goes."""
    cfg = psro.config
    limit = iterations or cfg.max_iterations
    games = Games(psro)
    pools = {r: tuple(psro.initial[r]) for r in psro.roles}
    warm: dict[str, dict] = {}
    done: list[Iteration] = []
    result = PsroResult(psro, done, pools, converged=False)
    for k in range(1, limit + 1):
        before = games.played
        n_profiles = math.prod(len(pools[r]) for r in psro.roles)
        game = play_metagame(psro, pools, games)
        tournament_games = games.played - before
        mix, how = solve(game, cfg.solver)
        meta_regret = max(mixed_regret(game, mix).values())
        values = strategy_values(game, mix)
        responses = {}
        for role in psro.roles:
            step = (lambda r, t, k=k: progress(k, r, t)) if progress else None
            params, tuned, train_value, rows = best_response(psro, role, game, mix, pools, k, warm.get(role), step)
            warm[role] = tuned
            entry = Entry(f"parametric:{BR_LABEL.format(role=role, k=k)}", "parametric", params)
            others = [r for r in psro.roles if r != role]
            value, opponents, per_seed = 0.0, [], np.zeros(len(psro.seeds))
            for combo in itertools.product(*(range(len(pools[r])) for r in others)):
                w = math.prod(float(mix[r][i]) for r, i in zip(others, combo, strict=True))
                opp = dict(zip(others, combo, strict=True))
                profile = tuple((r, entry if r == role else pools[r][opp[r]]) for r in psro.roles)
                x = games.payoffs(profile)[role]
                value += w * float(x.mean())
                per_seed += w * x
                opponents.append(({r: pools[r][i].label for r, i in opp.items()}, w, x))
            sigma_value = float(values[role] @ mix[role])
            _, low, high, _ = mean_interval(per_seed - _mixed_samples(game, mix, role))
            responses[role] = Response(role, entry, train_value, value, sigma_value, value - sigma_value, (low, high),
                                       opponents=opponents, trials=rows)  # fmt: skip
        it = Iteration(k, game, mix, how, meta_regret, responses, games.played - before,
                       n_profiles * len(psro.seeds) - tournament_games)  # fmt: skip
        done.append(it)
        result.converged = it.max_gain <= cfg.epsilon
        if not result.converged and k < limit:
            for resp in responses.values():
                if resp.gain > cfg.epsilon:
                    resp.added = True
            pools = {r: (*pools[r], *([responses[r].entry] if responses[r].added else [])) for r in psro.roles}
        result.pools = pools
        if on_iteration is not None:
            on_iteration(result)
        if result.converged:
            break
    return result


# ----------------------------------------------------------------------------------------- outputs


def trace_rows(result: PsroResult) -> list[dict]:
    """One row per (iteration, role): the pool's size, V(sigma_r, sigma_-r), the best response's
    value and gain (payoff-years), the iteration's exploitability, and the details."""
    rows = []
    for it in result.iterations:
        for role, resp in it.responses.items():
            rows.append({
                "iteration": it.number, "role": role, "pool_size": it.game.shape[it.game.roles.index(role)],
                "sigma_value": resp.sigma_value, "br_value": resp.value, "gain": resp.gain,
                "gain_low": resp.gain_interval[0], "gain_high": resp.gain_interval[1],
                "exploitability": it.exploitability, "br_label": resp.entry.label, "br_train_value": resp.train_value,
                "added": resp.added, "meta_regret": it.meta_regret, "solver": it.solver,
            })  # fmt: skip
    return rows


def mix_rows(result: PsroResult) -> list[dict]:
    """Each iteration's meta-strategy mix: iteration, role, strategy, share."""
    return [{"iteration": it.number, "role": r, "strategy": s, "share": float(it.mix[r][i])}
            for it in result.iterations for r in it.game.roles
            for i, s in enumerate(it.game.strategies[r])]  # fmt: skip


def pools_toml(result: PsroResult) -> str:
    """The final pools as a tournament file (``strategy-abm tournament pools.toml`` plays the last
    meta-game again: same scenario, horizon, seeds and master seed), the best responses' parameters
    in full."""
    import tomli_w

    cfg = result.psro.config
    body = {"name": f"{cfg.name}_pools", "description": f"the pools of PSRO {cfg.name} after "
            f"{len(result.iterations)} iteration(s)", "scenario": result.psro.scenario_ref,
            "horizon_turns": cfg.horizon_turns, "seeds": cfg.seeds, "master_seed": cfg.master_seed, "design": "grid",
            "roles": {r: {"strategies": [_item_toml(e) for e in result.pools[r]]}
                      for r in result.psro.roles}}  # fmt: skip
    head = (f"# Written by `strategy-abm psro` ({cfg.name}): every strategy of every role's final pool, the "
            "loop's best responses as parametric entries.\n# A tournament file: `strategy-abm tournament` plays "
            "the final meta-game again.\n")  # fmt: skip
    return head + tomli_w.dumps(body)


def responses_toml(result: PsroResult) -> str:
    """Every best response of every iteration (added to its pool or not), as tournament entries."""
    import tomli_w

    out: dict[str, list] = {r: [] for r in result.psro.roles}
    for it in result.iterations:
        for role, resp in it.responses.items():
            out[role].append({**_item_toml(resp.entry), "iteration": it.number, "gain": resp.gain,
                              "added": resp.added})  # fmt: skip
    head = ("# Every best response of the loop; drop iteration, gain and added to use one as a tournament "
            "entry.\n")  # fmt: skip
    return head + tomli_w.dumps({"responses": out})


def _item_toml(entry: Entry):
    item = _as_item(entry)
    if isinstance(item, str):
        return item
    return {k: v for k, v in (("name", item.name), ("label", item.label), ("params", _plain(item.params)))
            if v not in (None, {})}  # fmt: skip


def metagame_json(result: PsroResult) -> dict:
    """The last iteration's meta-game: roles, strategies, mean payoffs (nested lists, roles'
    order), the mix, how it was found and its regret."""
    it = result.iterations[-1]
    g = it.game
    return {"iteration": it.number, "roles": list(g.roles), "strategies": {r: list(g.strategies[r]) for r in g.roles},
            "payoffs": {r: g.payoffs[r].tolist() for r in g.roles}, "mix": {r: it.mix[r].tolist() for r in g.roles},
            "solver": it.solver, "meta_regret": it.meta_regret,
            "seeds": [int(s) for s in result.psro.seeds]}  # fmt: skip


def metagame_rows(result: PsroResult) -> list[dict]:
    """The last meta-game, one row per profile: the labels, its probability under the mix, and
    each role's mean payoff (payoff-years)."""
    it = result.iterations[-1]
    g = it.game
    rows = []
    for idx in np.ndindex(*g.shape):
        row: dict[str, Any] = {r: g.strategies[r][i] for r, i in zip(g.roles, idx, strict=True)}
        row["probability"] = math.prod(float(it.mix[r][i]) for r, i in zip(g.roles, idx, strict=True))
        row.update({f"payoff_{r}": float(g.payoffs[r][idx]) for r in g.roles})
        rows.append(row)
    return rows


OUTPUTS = (  # what write_outputs writes, besides the plot
    "trace.csv",
    "mixes.csv",
    "trials.csv",
    "pools.toml",
    "responses.toml",
    "metagame.json",
    "metagame.csv",
)
PLOT = "plots/exploitability.png"


def write_outputs(result: PsroResult, out: Path, *, plots: bool = True) -> list[str]:
    """Write the loop's outputs into ``out`` (a folder marked as a psro folder): trace.csv,
    mixes.csv, trials.csv, pools.toml, responses.toml, metagame.json, metagame.csv and
    plots/exploitability.png. Returns the names written."""
    import pandas as pd

    files = {
        "trace.csv": pd.DataFrame(trace_rows(result)).to_csv(index=False),
        "mixes.csv": pd.DataFrame(mix_rows(result)).to_csv(index=False),
        "trials.csv": pd.DataFrame(
            [row for it in result.iterations for resp in it.responses.values() for row in resp.trials]
        ).to_csv(index=False),  # fmt: skip
        "pools.toml": pools_toml(result),
        "responses.toml": responses_toml(result),
        "metagame.json": json.dumps(metagame_json(result), indent=2) + "\n",
        "metagame.csv": pd.DataFrame(metagame_rows(result)).to_csv(index=False),
    }
    for name, text in files.items():
        write_atomically(out, name, text.encode())
    written = list(files)
    if plots:
        written.append(plot_exploitability(result, out))
    return written


def plot_exploitability(result: PsroResult, out: Path) -> str:
    """``plots/exploitability.png``: the exploitability and each role's gain per iteration, with
    epsilon. Returns its name relative to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = out / "plots"
    if plots.is_symlink():
        raise OutputError(f"--out: {str(plots)!r} is a symbolic link; refusing to write through it")
    plots.mkdir(exist_ok=True)
    x = [it.number for it in result.iterations]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(x, [it.exploitability for it in result.iterations], "o-", color="black", label="exploitability")
    for j, role in enumerate(result.psro.roles):
        resp = [it.responses[role] for it in result.iterations]
        gain = np.array([r.gain for r in resp])
        err = np.array([[r.gain - r.gain_interval[0] for r in resp], [r.gain_interval[1] - r.gain for r in resp]])
        shift = 0.06 * (j - (len(result.psro.roles) - 1) / 2)  # (side by side, the bars readable)
        ax.errorbar(np.array(x) + shift, gain, yerr=err, fmt="s--", capsize=3, label=f"gain {role} (95% interval)")
    eps = result.psro.config.epsilon
    ax.axhline(eps, color="grey", lw=0.8, ls=":", label="epsilon")
    ax.axhline(0.0, color="grey", lw=0.5)
    # Linear near zero (up to epsilon, or 0.01), logarithmic beyond: the first gains and the last
    # ones near epsilon both readable.
    ax.set_yscale("symlog", linthresh=max(eps, 0.01))
    ax.set_xticks(x)
    ax.set_xlabel("iteration")
    ax.set_ylabel("payoff-years (symlog)")
    ax.set_title(f"PSRO {result.psro.config.name}: exploitability (sum of positive gains)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_atomically(plots, "exploitability.png", buf.getvalue())
    return PLOT


def _games(n: int) -> str:
    return f"{n} game" if n == 1 else f"{n} games"


def format_iteration(it: Iteration) -> str:
    """One line: the pools, the mix's support, each role's gain, the exploitability."""
    g = it.game
    pools = ", ".join(f"{r} {n}" for r, n in zip(g.roles, g.shape, strict=True))
    support = "; ".join(
        f"{r} " + " ".join(f"{s} {it.mix[r][i]:.2f}" for i, s in enumerate(g.strategies[r]) if it.mix[r][i] > 1e-9)
        for r in g.roles
    )
    n = g.samples[g.roles[0]].shape[-1]  # the meta-game's seeds
    gains = ", ".join(f"{r} {resp.gain:+.4f} {interval_text(*resp.gain_interval, n, '+.4f')}"
                      for r, resp in it.responses.items())  # fmt: skip
    return (f"iteration {it.number}: pools {pools}; sigma: {support}; gains {gains}; exploitability "
            f"{it.exploitability:.4f} ({_games(it.games_played)} played, {it.games_reused} reused)")  # fmt: skip


def run_folder(psro: Psro, out: Path, iterations: int | None = None, *, progress: Callable | None = None,
               report: Callable | None = None) -> PsroResult:  # fmt: skip
    """Run the loop into ``out`` (checked by the caller with ``check_target(out, "psro")``): the
    folder is marked, and the outputs are written after every iteration, so an interrupted loop
    leaves the iterations it finished. ``report(iteration)`` after each iteration."""
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "psro")
    # A psro folder run again: the last run's outputs go now, so that what the folder holds after
    # a Ctrl-C is this run's finished iterations only (a link at one of these names goes, not its target).
    for name in (*OUTPUTS, *(() if (out / "plots").is_symlink() else (PLOT,))):  # (never through a link)
        (out / name).unlink(missing_ok=True)

    def each(result: PsroResult) -> None:
        write_outputs(result, out, plots=False)
        if report is not None:
            report(result.iterations[-1])

    result = run_psro(psro, iterations, progress=progress, on_iteration=each)
    write_outputs(result, out)
    return result


__all__ = [
    "Games",
    "Iteration",
    "Psro",
    "PsroConfig",
    "PsroResult",
    "Response",
    "format_iteration",
    "load_psro",
    "play_metagame",
    "resolve_psro",
    "run_folder",
    "run_psro",
    "solve",
    "study_seed",
    "write_outputs",
]
