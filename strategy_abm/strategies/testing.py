"""Free checks for a strategy: subclass :class:`StrategyTests` in a test module.

Write a strategy, register it (defining the class does), then in your tests::

    from strategy_abm.strategies.testing import StrategyTests

    class TestCautiousLender(StrategyTests):
        strategy = "cautious_lender"  # its registry name
        params = {"spend_share": 0.5}  # optional: the strategy_params to play with

pytest collects the subclass (its name starts with ``Test``) and runs every ``test_*`` method
below on your strategy. Each plays a few short games of the scenario (``scenario``, default
the baseline, and ``variants`` of it) on a bare :class:`~strategy_abm.engine.turn.Game`, through
the turn contract as any outside player does: in each phase the strategy's seat is observed
(``game.observe``), the strategy decides from that observation alone (``propose(obs)`` or
``respond(obs)``), and the decision is submitted (``game.submit``); the other actors are decided
by their configured strategies. It holds the strategy to what every strategy owes the game:

- **legal decisions** in every state the games reach: each decision passes ``game.submit``'s
  checks (an illegal one raises the game's ``StrategyError`` naming the problem) and lies within
  what ``game.legal`` allowed (its moves, targets and size bounds);
- **reproducible**: the same seed gives the same decisions;
- **clone and pickle**: a ``copy.deepcopy`` or a pickle round trip of the strategy, taken before
  a game or in the middle of one, goes on deciding as the original;
- **reset**: an object that played a game and is ``reset()`` plays the next game as a fresh one;
- **a truthful ``stochastic`` flag**: a deterministic strategy decides the same under other
  random streams (the same observation with another ``obs.rng``, and any generator the strategy
  holds reseeded); a stochastic one decides differently for some stream;
- **the ``actors`` restriction**: a scenario that gives the strategy to an actor outside its
  classifier (or of another kind) is refused when it loads, with the field named, and one that
  gives it to an allowed actor loads.

The base class is a plain class: importing this module needs no pytest, and its name does not
start with ``Test``, so pytest collects only the subclasses. It needs only the engine's ``Game``
(no Mesa); nothing in the package imports it.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from ..engine.legality import StrategyError
from ..engine.turn import OFFERS, Game
from ..scenario.config import ConfigError, Scenario, load_scenario, validate_scenario
from .base import Strategy, get_strategy, make_strategy

# Seats of a strategy that any actor may play (its classifier's actors are "any"), by kind: two
# powers with different toolkits and budgets, two hosts (a small indebted one, a large one).
ANY_SEATS = {"power": ("china", "us"), "host": ("kgz", "kaz")}
# A strained world for the baseline's ids: a low distress threshold (states fall into distress, so
# debt relief is in play), tight debt ceilings and absorption, small odd budgets (the last offer of a
# turn is budget-capped), half-year turns.
STRAINED = (
    "turns_per_year=2",
    "rules.distress_service_ratio=0.06",
    "hosts.kgz.debt_ceiling_pct_gdp=45",
    "hosts.tjk.debt_ceiling_pct_gdp=40",
    "hosts.uzb.debt_ceiling_pct_gdp=38",
    "hosts.kaz.absorption_pct_gdp=0.3",
    "hosts.uzb.absorption_pct_gdp=0.5",
    "powers.china.budget_usd_bn_per_year=3.7",
    "powers.us.budget_usd_bn_per_year=1.3",
    "powers.g7.budget_usd_bn_per_year=2.0",
    "powers.russia.budget_usd_bn_per_year=1.3",
)


class Decisions(list):
    """What a seat decided in a game, in order: ``("propose", turn, offers)`` and
    ``("respond", turn, offers made, offers accepted)``, each a tuple of ``Offer``."""


class _Seat:
    """Plays a strategy in a seat of a bare ``Game`` through the contract: observes the seat,
    asks the strategy, submits its decision (the game's checks) and records it. With ``probes``,
    it first asks copies of the strategy for the same decision under that many other random
    streams (``probed``)."""

    def __init__(self, strategy: Strategy, log: Decisions, probes: int = 0):
        self.strategy = strategy
        self.log = log
        self.probes = probes
        self.probed: list[list] = []

    def play(self, game: Game, seat: str) -> None:
        """Decide for ``seat`` if it decides in this phase; the game's checks hold the decision."""
        if seat not in game.waiting():
            return
        obs, allowed = game.observe(seat), game.legal(seat)
        propose = obs.phase == OFFERS

        def decide(strategy: Strategy, seen) -> list:
            return list(strategy.propose(seen) if propose else strategy.respond(seen))

        # Copies taken before the real call: a strategy may change its own state when it decides.
        pending = []
        for k in range(self.probes):
            twin = copy.deepcopy(self.strategy)
            generator = np.random.default_rng([k + 1, 0x5EED])
            with other_streams(k, twin):
                pending.append(tuple(decide(twin, dataclasses.replace(obs, draws=lambda g=generator: g))))
        decision = decide(self.strategy, obs)
        game.submit(seat, decision)  # StrategyError naming the problem if it is illegal
        if propose:
            _within_legal(seat, decision, allowed)
            self.log.append(("propose", obs.turn, tuple(decision)))
        else:
            self.log.append(("respond", obs.turn, tuple(obs.offers), tuple(decision)))
        if self.probes:
            self.probed.append([tuple(decision), *pending])


def _within_legal(seat: str, offers: list, allowed) -> None:
    """Offers that the game accepted lie within what ``game.legal`` allowed (the action mask an
    outside player builds from it must not forbid what the rules allow, nor the reverse)."""
    for o in offers:
        move = allowed["moves"].get(o.move)
        target = move["targets"].get(o.host) if move else None
        if target is None or not move["size_min"] - 1e-9 <= o.size_usd_bn <= target["size_max"] + 1e-9:
            raise StrategyError(f"{seat}: {o} passed the game's checks but is outside game.legal()")


def _generators(*owners: Any) -> Iterator[tuple[Any, Any, Any]]:
    """Random generators held by ``owners`` (as attributes, or as values of a dict attribute):
    ``(holder, key, generator)`` with numpy ``Generator`` and ``random.Random`` instances."""
    kinds = (np.random.Generator, random.Random)
    for owner in owners:
        for name, value in list(getattr(owner, "__dict__", {}).items()):
            if isinstance(value, kinds):
                yield owner, name, value
            elif isinstance(value, dict):
                for key, item in list(value.items()):
                    if isinstance(item, kinds):
                        yield value, key, item


def _put(holder: Any, key: Any, value: Any) -> None:
    if isinstance(holder, dict):
        holder[key] = value
    else:
        setattr(holder, key, value)


@contextmanager
def other_streams(stream: int, *owners: Any) -> Iterator[None]:
    """Within the block, every random generator that ``owners`` hold (a strategy's own, as
    attributes or in a dict attribute) is replaced by a fresh one seeded from ``stream``; the originals, untouched,
    are put back after it, so the game goes on with its own draws."""
    found = list(_generators(*owners))
    for i, (holder, key, gen) in enumerate(found):
        seed = [stream + 1, i, 0x5EED]
        fresh = np.random.default_rng(seed) if isinstance(gen, np.random.Generator) else random.Random(str(seed))
        _put(holder, key, fresh)
    try:
        yield
    finally:
        for holder, key, gen in found:
            _put(holder, key, gen)


class StrategyTests:
    """Checks every strategy must pass; subclass it with ``strategy`` set (see the module docstring).

    Class attributes a subclass may set:
        strategy: the registry name (required).
        params: its ``strategy_params`` (default: the strategy's defaults).
        seats: the actors it plays (default: its classifier's actors, or for ``any`` two of each
            kind, :data:`ANY_SEATS`).
        scenario: a built-in scenario name or a path (default ``baseline``).
        variants: scenario overrides, each a tuple, one game per variant and seed (default: the
            scenario itself and :data:`STRAINED`, which names the baseline's ids).
        seeds: game seeds (default 0 and 1).
        turns: turns per game (default 6).
        probes: other random streams each decision is asked under (stochastic flag; default 3).
    """

    strategy: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    seats: ClassVar[tuple[str, ...]] = ()
    scenario: ClassVar[str] = "baseline"
    variants: ClassVar[tuple[tuple[str, ...], ...]] = ((), STRAINED)
    seeds: ClassVar[tuple[int, ...]] = (0, 1)
    turns: ClassVar[int] = 6
    probes: ClassVar[int] = 3

    # ------------------------------------------------------------------ helpers (not tests)

    def make(self) -> Strategy:
        """A fresh instance with ``params``."""
        return make_strategy(self.strategy, self.params)

    def seats_to_play(self) -> tuple[str, ...]:
        if self.seats:
            return self.seats
        classifier = get_strategy(self.strategy).classifier
        actors = classifier.get("actors", "any")
        base = load_scenario(self.scenario)
        out: list[str] = []
        for kind in classifier.get("kinds", ()):
            ids = base.powers if kind == "power" else base.hosts
            out += [a for a in ANY_SEATS[kind] if a in ids] if actors == "any" else [a for a in actors if a in ids]
        assert out, f"{self.strategy}: no seat to play in {self.scenario} (set seats)"
        return tuple(out)

    def scenario_for(self, seat: str, variant: tuple[str, ...] = ()) -> Scenario:
        """The scenario with ``variant`` applied and the strategy, with ``params``, in ``seat``
        (validated as any scenario: an actor it may not play is refused here)."""
        raw = load_scenario(self.scenario, list(variant)).model_dump(mode="python")
        table = raw["powers"] if seat in raw["powers"] else raw["hosts"]
        table[seat]["strategy"] = self.strategy
        table[seat]["strategy_params"] = copy.deepcopy(self.params)
        raw["horizon_turns"] = self.turns
        return validate_scenario(raw)

    def play(
        self,
        seat: str,
        variant: tuple[str, ...] = (),
        seed: int = 0,
        strategy: Strategy | None = None,
        swap_at: int | None = None,
        swap: Callable[[Strategy], Strategy] | None = None,
        probes: int = 0,
    ) -> tuple[Decisions, _Seat]:
        """Play one game with ``strategy`` (default: the instance the scenario makes) in ``seat``;
        after ``swap_at`` turns the strategy is replaced by ``swap(strategy)``. Returns the seat's
        decisions and the stand-in (its ``probed`` decisions)."""
        game = Game(self.scenario_for(seat, variant), seed, record=False)
        log = Decisions()
        stand_in = _Seat(strategy if strategy is not None else game.actor(seat).strategy, log, probes)
        while not game.over:
            if swap is not None and game.turn == swap_at:  # (turns played: this turn has not begun)
                stand_in.strategy = swap(stand_in.strategy)
            for _phase in ("offers", "responses"):
                stand_in.play(game, seat)
                game.advance()
        return log, stand_in

    # ------------------------------------------------------------------ the checks

    def test_decisions_are_legal_in_every_state(self):
        """Every proposal and answer passes the game's legality checks (a StrategyError names the
        problem), over every seat, variant and seed; and the strategy was asked at least once."""
        for seat in self.seats_to_play():
            asked = 0
            for variant in self.variants:
                for seed in self.seeds:
                    log, _ = self.play(seat, variant, seed)
                    asked += len(log)
            assert asked, f"{self.strategy} in {seat}: never asked to decide"

    def test_same_seed_same_decisions(self):
        for seat in self.seats_to_play():
            for variant in self.variants[:2]:
                first, _ = self.play(seat, variant, self.seeds[0])
                again, _ = self.play(seat, variant, self.seeds[0], strategy=self.make())
                assert first == again, f"{self.strategy} in {seat}: the same seed gave other decisions"

    def test_clone_and_pickle_keep_behaviour(self):
        """A deep copy or a pickle round trip, of a fresh instance or taken mid-game, decides as the original."""
        fresh = self.make()
        for twin in (copy.deepcopy(fresh), pickle.loads(pickle.dumps(fresh))):
            assert type(twin) is type(fresh) and twin.params == fresh.params
        half = self.turns // 2
        for seat in self.seats_to_play():
            reference, _ = self.play(seat, self.variants[-1], self.seeds[0])
            for how, clone in (("deepcopy", copy.deepcopy), ("pickle", lambda s: pickle.loads(pickle.dumps(s)))):
                log, _ = self.play(seat, self.variants[-1], self.seeds[0], strategy=clone(self.make()))
                assert log == reference, f"{self.strategy} in {seat}: a {how} of a fresh instance decides otherwise"
                log, _ = self.play(seat, self.variants[-1], self.seeds[0], swap_at=half, swap=clone)
                assert log == reference, f"{self.strategy} in {seat}: a {how} taken at turn {half} decides otherwise"

    def test_reset_plays_the_next_game_as_a_fresh_instance(self):
        """One object plays a game, is reset, and plays another: as a fresh instance would."""
        for seat in self.seats_to_play():
            reused = self.make()
            self.play(seat, self.variants[-1], self.seeds[-1], strategy=reused)
            reused.reset()
            second, _ = self.play(seat, self.variants[0], self.seeds[0], strategy=reused)
            fresh, _ = self.play(seat, self.variants[0], self.seeds[0], strategy=self.make())
            assert second == fresh, f"{self.strategy} in {seat}: after reset() it plays otherwise than a fresh instance"

    def test_stochastic_flag_is_truthful(self):
        """Each decision is asked again, from the same state, under ``probes`` other random streams."""
        stochastic = get_strategy(self.strategy).classifier.get("stochastic")
        assert isinstance(stochastic, bool), f"{self.strategy}: classifier['stochastic'] must be True or False"
        varied = asked = 0
        for seat in self.seats_to_play():
            _, stand_in = self.play(seat, self.variants[0], self.seeds[0], probes=self.probes)
            for answers in stand_in.probed:
                asked += 1
                if any(a != answers[0] for a in answers[1:]):
                    varied += 1
                    assert stochastic, (
                        f"{self.strategy} in {seat}: classified deterministic, but decides otherwise "
                        f"under other random streams"
                    )
        assert asked, f"{self.strategy}: never asked to decide"
        if stochastic:
            assert varied, f"{self.strategy}: classified stochastic, but no decision changed with the random streams"

    def test_actors_restriction_is_enforced_when_a_scenario_loads(self):
        """Every actor of the scenario is given the strategy in turn: those its classifier allows
        (kind and ``actors``) load; the others are refused with the actor's strategy field named."""
        classifier = get_strategy(self.strategy).classifier
        actors = classifier.get("actors", "any")
        base = load_scenario(self.scenario)
        for table, kind in (("powers", "power"), ("hosts", "host")):
            for actor in getattr(base, table):
                allowed = kind in classifier.get("kinds", ()) and (actors == "any" or actor in actors)
                raw = base.model_dump(mode="python")
                raw[table][actor]["strategy"] = self.strategy
                raw[table][actor]["strategy_params"] = {}
                where = f"{table}.{actor}.strategy"
                try:
                    validate_scenario(raw)
                except ConfigError as exc:
                    assert not allowed, f"{self.strategy} refused for {actor}, which its classifier allows: {exc}"
                    assert str(exc).startswith(where), f"the error names another field: {exc}"
                else:
                    assert allowed, f"{self.strategy} given to {actor}, outside its classifier, was not refused"
