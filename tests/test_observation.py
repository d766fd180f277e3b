"""Strategies see an observation, not the game (issue 7, item 5).

Every built-in strategy decides from the ``Observation`` the game gives it: read-only public state,
the actor's own state, the game's fixed data (moves, rules) and the actor's own random generator.
Nothing it is given reaches the ``Game`` or an actor's state, nothing it is given can be changed
(so no strategy can change a cached scenario that other games share), and a Mesa model with its
strategies pickles mid-game and plays on as the original."""

from __future__ import annotations

import copy
import functools
import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from strategy_abm import CompetitionModel, Game, load_scenario
from strategy_abm.engine.projects import Offer
from strategy_abm.engine.state import HostState, PowerState
from strategy_abm.engine.turn import FrozenMap, Observation
from strategy_abm.report.output import actors_frame, events_frame, model_frame
from strategy_abm.scenario import config
from strategy_abm.scenario.ids import HOSTS, POWERS
from strategy_abm.strategies import make_strategy

GOLDEN = Path(__file__).resolve().parent / "golden"
ALL_RANDOM = [*(f"powers.{p}.strategy=random" for p in POWERS), *(f"hosts.{h}.strategy=random" for h in HOSTS)]


class _Spy:
    """A decider that records each observation it is given, then asks the configured strategy."""

    def __init__(self, state, seen: list):
        self.state, self.seen = state, seen

    def __call__(self, obs):
        self.seen.append(obs)
        strategy = self.state.strategy
        return strategy.propose(obs) if obs.kind == "power" else strategy.respond(obs)


def _spied_game(overrides=(), seed=0, turns=4) -> tuple[Game, list[Observation]]:
    game = Game(load_scenario("baseline", [*overrides, f"horizon_turns={turns}"]), seed)
    seen: list[Observation] = []
    for aid in (*POWERS, *HOSTS):
        game.deciders[aid] = _Spy(game.actor(aid), seen)
    while not game.over:
        game.play_turn()
    return game, seen


def _reachable(value, path="obs"):
    """Every (path, object) reachable from an observation's data: mappings, tuples, lists, the
    fields of pydantic models; ``draws`` (the game's hook behind ``obs.rng``) left out."""
    if isinstance(value, Observation):
        for name, item in value.__dict__.items():
            if name != "draws":
                yield from _reachable(item, f"{path}.{name}")
        return
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _reachable(v, f"{path}[{k!r}]")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _reachable(v, f"{path}[{i}]")
    elif isinstance(value, BaseModel):
        for k, v in value.__dict__.items():
            yield from _reachable(v, f"{path}.{k}")


def test_deciders_are_given_observations_that_reach_neither_the_game_nor_a_mutable_container():
    """What a strategy is given holds no ``Game`` or actor state, and every container in it is
    read-only (FrozenMap, tuple, frozen model): reading is all a strategy can do with it."""
    _, seen = _spied_game(ALL_RANDOM, turns=3)
    assert {o.kind for o in seen} == {"power", "host"} and all(isinstance(o, Observation) for o in seen)
    for obs in seen[:12]:
        for path, item in _reachable(obs):
            assert not isinstance(item, Game | PowerState | HostState), path
            if isinstance(item, dict):
                assert isinstance(item, FrozenMap), f"{path} is a mutable dict"
            assert not isinstance(item, list | set), f"{path} is a mutable {type(item).__name__}"
            if isinstance(item, BaseModel):
                assert item.model_config.get("frozen"), f"{path} is a mutable model"


def test_the_offers_phase_shows_no_offer_and_a_host_sees_only_the_offers_made_to_it():
    game, seen = _spied_game(turns=3)
    made = {}
    for obs in seen:
        if obs.kind == "power":
            assert obs.phase == "offers" and obs.offers == ()
        else:
            assert obs.phase == "responses" and obs.offers and all(o.host == obs.actor for o in obs.offers)
            made.setdefault(obs.turn, []).extend(obs.offers)
    assert made, "no host was asked"


def test_one_public_view_per_phase_shared_by_every_observation_of_it():
    """The public part is built once per phase (the sweep observes millions of times) and each
    phase gets its own: a later phase never changes what an earlier observation shows."""
    game = Game("baseline", seed=0)
    china, us = game.observe("china"), game.observe("us")
    assert china.hosts is us.hosts and china.routes is us.routes and china.own is not us.own
    before = copy.deepcopy(china.hosts)
    game.play_turn()
    later = game.observe("china")
    assert later.hosts is not china.hosts and later.turn == china.turn + 1
    assert china.hosts == before  # the old observation still shows its own phase
    # The responses phase keeps the hosts' part of the offers phase (only the powers' offer counts
    # and the pools change between them, and a refilled pool is what absorption_room_next said):
    # it equals one built afresh.
    offers_phase = game.observe("china")
    game.advance()
    host = game.waiting()[0]
    reused = game.observe(host)
    assert reused.hosts is offers_phase.hosts and reused.powers != offers_phase.powers
    game._public = None  # (drop the cache: build the responses phase's view from the state)
    assert game.observe(host).hosts == reused.hosts
    assert reused.hosts[host]["absorption_room_next"] == game.hosts[host].absorption_room


def test_the_observation_carries_the_numbers_the_strategies_read_float_for_float():
    """The limits a power sizes its offers to, what each host owes it, and a host's own room,
    exactly as the actors' state computes them (the goldens depend on it)."""
    game = Game("baseline", seed=2)
    for _ in range(3):
        game.play_turn()
    obs = game.observe("china")
    for hid, host in game.hosts.items():
        public = obs.hosts[hid]
        assert public["absorption_room_next"] == host.room_next_turn(game.dt)
        assert public["debt_room"] == host.debt_room()
        assert public["influence"] == host.influence and sum(public["influence"].values()) == sum(
            host.influence.values()
        )
        assert obs.own["owed"][hid] == host.creditors["china"]["debt"]
    power = game.powers["china"]
    assert obs.own["budget_available"] == power.budget_available and obs.own["toolkit"] == power.toolkit
    assert obs.own["objectives"] == power.cfg.objectives
    assert power.acceptance_seen  # (offers were made in the turns played)
    for key in power.acceptance_seen:
        h, m = key.split("/")
        assert obs.acceptance_rate(h, m, 0.7) == power.acceptance_rate(h, m, 0.7)
    assert obs.moves is game.scenario.moves and obs.rules is game.scenario.rules and obs.dt == game.dt
    game.advance()
    host = next(h for h in HOSTS if h in game.waiting())
    answering = game.observe(host)
    assert answering.own["absorption_room"] == game.hosts[host].absorption_room
    assert answering.own["debt_room"] == game.hosts[host].debt_room()


def test_obs_rng_is_the_actors_own_stream_and_stays_with_its_game():
    game = Game("baseline", seed=1)
    obs = game.observe("china")
    assert obs.rng is game.powers["china"].rng is obs.rng  # one generator per actor and turn
    reference = game.streams.strategy(game.powers["china"].actor_index, obs.turn).random(3)
    assert np.array_equal(Game("baseline", seed=1).observe("china").rng.random(3), reference)
    twin = pickle.loads(pickle.dumps(obs))
    assert twin == obs and twin.draws is None
    with pytest.raises(RuntimeError, match="china: this observation has no random stream"):
        _ = twin.rng


# ------------------------------------------------------------------ nothing given can be changed


class _Vandal:
    """Tries to change everything it is given; records which attempts were let through."""

    def __init__(self):
        self.let_through: list[str] = []

    def __call__(self, obs):
        move = next(iter(obs.moves.values()))
        attempts = {
            "moves[...] = ...": lambda: obs.moves.__setitem__("free_money", move),
            "moves.pop": lambda: obs.moves.pop(next(iter(obs.moves))),
            "move.size_max_usd_bn": lambda: setattr(move, "size_max_usd_bn", 1e3),
            "move.effects.route_capacity_mt_per_bn": lambda: move.effects.route_capacity_mt_per_bn.update(middle=9.0),
            "move.effects.mineral_output_t_per_bn": lambda: move.effects.mineral_output_t_per_bn.clear(),
            "rules.max_offers_per_turn": lambda: setattr(obs.rules, "max_offers_per_turn", 50),
            "rules.presence_weights": lambda: obs.rules.presence_weights.__setitem__("jobs", 9.0),
            "world_minerals": lambda: obs.world_minerals["tungsten"].__setitem__("world_output_t", 1.0),
            "own.toolkit": lambda: obs.own["toolkit"].__setitem__("grant_aid", 3.0),
            "own.objectives": lambda: obs.own["objectives"].__setitem__("influence", 9.0),
            "own.budget": lambda: obs.own.__setitem__("budget_available", 1e6),
            "hosts.gdp": lambda: obs.hosts["kgz"].__setitem__("gdp_usd_bn", 1e4),
            "hosts.minerals": lambda: obs.hosts["kaz"]["minerals"]["tungsten"].__setitem__("output_t", 0.0),
            "routes": lambda: obs.routes["middle"].__setitem__("capacity_mt", 0.0),
        }
        for what, attempt in attempts.items():
            try:
                attempt()
            except (TypeError, ValidationError, AttributeError):
                continue
            self.let_through.append(what)
        return []


def _scenario_dump(scenario) -> dict:
    return scenario.model_dump(mode="json")


def test_a_strategy_that_tries_to_change_what_it_was_given_changes_no_game_and_no_cached_scenario():
    """Every attempt is refused, and the cached scenario (shared by every game that loads it) and
    the next game played from it are as if the vandal had never played."""
    cached = load_scenario("baseline", ["horizon_turns=3"])
    pristine = _scenario_dump(cached)
    reference = _metrics_of(3)
    vandal = _Vandal()
    game = Game(cached, seed=3, deciders=dict.fromkeys(POWERS, vandal))
    while not game.over:
        game.play_turn()
    assert vandal.let_through == []
    assert load_scenario("baseline", ["horizon_turns=3"]) is cached and _scenario_dump(cached) == pristine
    assert _metrics_of(3) == reference


def _metrics_of(seed: int) -> list[dict]:
    game = Game(load_scenario("baseline", ["horizon_turns=3"]), seed)
    return [dict(game.play_turn().metrics) for _ in range(3)]


def test_every_dict_of_a_loaded_scenario_is_read_only():
    """``frozen=True`` stops attribute assignment only: every dict of a loaded scenario, at any
    depth (moves' effects, rules' weights, toolkits, strategy params), is a FrozenMap."""
    scenario = load_scenario("baseline")
    found = 0
    for path, item in _reachable(scenario, "scenario"):
        if isinstance(item, dict):
            found += 1
            assert isinstance(item, FrozenMap), f"{path} is a mutable dict"
    assert found > 100
    with pytest.raises(TypeError, match="read-only"):
        scenario.powers["china"].strategy_params.setdefault("spend_share", 1.0)
    # What is written out, compared or validated again is a plain dict, as before.
    raw = scenario.model_dump(mode="python")
    assert type(raw["moves"]) is dict and config.validate_scenario(raw) == scenario


# ------------------------------------------------------------------ pickling a model mid-game


@pytest.mark.parametrize("overrides", [[], ALL_RANDOM], ids=["baseline", "all_random"])
def test_a_model_pickled_mid_game_plays_on_as_the_original(overrides):
    """``CompetitionModel`` (its game, deciders, strategies and DataCollector) pickles in the
    middle of a game; the copy plays to the horizon with the original's outputs, byte for byte."""
    original = CompetitionModel(scenario="baseline", seed=5, overrides=overrides, turns=12)
    for _ in range(5):
        original.step()
    twin = pickle.loads(pickle.dumps(original))
    assert twin.game is not original.game and twin.turn == 5
    assert twin.game.deciders["china"].agent is twin.powers["china"]  # the copy's own agents decide
    for model in (original, twin):
        model.run()
    for frame in (model_frame, actors_frame, events_frame):
        assert frame(twin).to_csv(index=False) == frame(original).to_csv(index=False), frame.__name__


def test_an_unpickled_fresh_model_reproduces_the_golden_game():
    model = pickle.loads(pickle.dumps(CompetitionModel(scenario="baseline", seed=0))).run()
    played = model_frame(model).to_csv(index=False).encode()
    assert played == gzip.decompress((GOLDEN / "baseline_seed0" / "model.csv.gz").read_bytes())


# ------------------------------------------------------------------ strategies from outside


def test_a_strategy_instance_decides_from_an_observation_alone():
    """A built-in strategy asked with a bare observation decides as the game asked it: the same
    offers from a copy of the observation made by the game at the same point."""
    game = Game("baseline", seed=4)
    obs = game.observe("china")
    strategy = make_strategy("bri_classic")
    offers = strategy.propose(obs)
    assert offers and all(isinstance(o, Offer) and o.power == "china" for o in offers)
    game.submit("china", offers)  # the game's own checks accept it
    fresh = functools.partial(make_strategy, "bri_classic")
    assert fresh().propose(pickle.loads(pickle.dumps(obs))) == offers  # no generator needed: deterministic


@pytest.mark.parametrize(
    "old", [lambda actor, world: [], lambda actor, offers, world: [], lambda: [], "not callable"], ids=str
)
def test_a_decider_of_before_observations_is_refused_when_the_game_is_built(old):
    """``Game(deciders=...)`` takes ``decider(obs)``: a ``(state, game)`` decider is a one-line
    TypeError naming the actor when the game is built, not a failure in the middle of a game."""
    with pytest.raises(TypeError) as caught:
        Game("baseline", seed=0, deciders={"us": old})
    assert str(caught.value).startswith("deciders['us']: ") and "\n" not in str(caught.value)
    Game("baseline", seed=0, deciders={"us": lambda obs: [], "kaz": lambda obs, note=None: []})  # these are fine
