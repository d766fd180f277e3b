"""The turn contract from outside (engine/turn.py: ``Game``): observe, legal, submit, advance.

Decisions submitted from outside are held to the same checks as a strategy's, an illegal one
changes nothing, an observation never shows another power's pending offers, and a game whose
every decision is submitted from outside plays exactly as the Mesa shell plays it."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import pytest

import strategy_abm
from strategy_abm import CompetitionModel, Game, load_scenario
from strategy_abm.engine.projects import Offer
from strategy_abm.engine.turn import FrozenMap, Observation, TurnReport
from strategy_abm.report.output import actors_frame, events_frame, model_frame
from strategy_abm.scenario.ids import HOSTS, POWERS
from strategy_abm.strategies import StrategyError

GOLDEN = Path(__file__).resolve().parent / "golden"


def _own_choice(game: Game, actor: str) -> list[Offer]:
    """What the actor's own configured strategy decides now (asked from outside the game)."""
    strategy, obs = game.actor(actor).strategy, game.observe(actor)
    return list(strategy.propose(obs) if game.phase == "offers" else strategy.respond(obs))


def _submit_all(game: Game) -> None:
    for actor in game.waiting():
        game.submit(actor, _own_choice(game, actor))


def _snapshot(game: Game) -> bytes:
    return pickle.dumps(game)


def test_game_is_importable_from_the_package_root():
    assert "Game" in strategy_abm.__all__
    assert strategy_abm.Game is Game


def test_every_decision_submitted_from_outside_reproduces_the_golden_game():
    """Baseline seed 0 played through the shell's game, every decision submitted from outside
    (each actor's own strategy's choice), gives the golden model, actors and events CSVs."""
    model = CompetitionModel(scenario="baseline", seed=0)
    game = model.game
    while not game.over:
        _submit_all(game)
        assert game.waiting() == []
        assert game.advance() is None
        assert game.phase == "responses"
        _submit_all(game)
        report = game.advance()
        assert set(report.decided_by.values()) <= {"submitted"}
        model.steps += 1  # what Mesa's wrapped step() does before the DataCollector keys its rows
        model.datacollector.collect(model)
    played = {
        "model.csv": model_frame(model).to_csv(index=False).encode(),
        "actors.csv": actors_frame(model).to_csv(index=False).encode(),
        "events.csv": events_frame(model).to_csv(index=False).encode(),
    }
    for file, data in played.items():
        assert data == gzip.decompress((GOLDEN / "baseline_seed0" / f"{file}.gz").read_bytes()), file


@pytest.mark.parametrize("overrides", [[], [*(f"powers.{p}.strategy=random" for p in POWERS),
                                            *(f"hosts.{h}.strategy=random" for h in HOSTS)]])  # fmt: skip
def test_a_bare_game_played_from_outside_equals_the_shell(overrides):
    """A ``Game`` without the shell, every decision submitted from outside, ends where the Mesa
    model ends: metrics, event log, every actor's record (random strategies included)."""
    scenario = load_scenario("baseline", [*overrides, "horizon_turns=12"])
    game = Game(scenario, 3)
    while not game.over:
        _submit_all(game)
        game.advance()
        _submit_all(game)
        game.advance()
    model = CompetitionModel(scenario=scenario, seed=3).run()
    assert game.turn == model.turn == 12
    assert game.metrics == model.metrics
    assert game.event_log == model.event_log
    for aid in (*POWERS, *HOSTS):
        assert game.actor(aid).record == (model.powers | model.hosts)[aid].record


def test_advance_without_submissions_lets_the_strategies_decide():
    scenario = load_scenario("baseline", ["horizon_turns=6"])
    game = Game(scenario, 1)
    reports = []
    while not game.over:
        assert game.advance() is None
        reports.append(game.advance())
    assert all(isinstance(r, TurnReport) for r in reports)
    assert [r.turn for r in reports] == [1, 2, 3, 4, 5, 6]
    assert all(set(r.decided_by.values()) == {"strategy"} for r in reports)
    model = CompetitionModel(scenario=scenario, seed=1).run()
    assert game.metrics == model.metrics and game.event_log == model.event_log
    assert model.last_report.metrics == model.metrics
    with pytest.raises(StrategyError, match="over"):
        game.advance()


def test_waiting_shrinks_as_actors_submit():
    game = Game("baseline", 0)
    assert game.phase == "offers" and game.waiting() == list(POWERS)
    for k, pid in enumerate(POWERS):
        game.submit(pid, [])
        assert game.waiting() == list(POWERS[k + 1 :])
    with pytest.raises(StrategyError, match="already submitted"):
        game.submit("china", [])
    with pytest.raises(StrategyError, match="does not decide now"):
        game.submit("kaz", [])
    game.advance()
    assert game.phase == "responses" and game.waiting() == []  # no offers were made: no host decides
    report = game.advance()
    assert report.offers == () and report.decided_by == dict.fromkeys(POWERS, "submitted")


def _first_offer(game: Game, power: str, host: str) -> Offer:
    """A legal offer of ``power`` to ``host`` at the smallest size, from ``legal``."""
    for move, bounds in game.legal(power)["moves"].items():
        if host in bounds["targets"] and game.moves[move].local_absorption > 0:
            return Offer(power, move, host, bounds["size_min"])
    raise AssertionError("no legal offer")


def test_an_illegal_submission_raises_and_changes_nothing():
    # A small budget (USD 0.4 bn a year, 0.1 bn a turn) so that one large offer overruns it.
    game = Game(load_scenario("baseline", ["powers.china.budget_usd_bn_per_year=0.4"]), 0)
    game.observe("china")  # the turn begins (events, budgets) before the snapshot
    before = _snapshot(game)
    power = game.actor("china")
    move = max(power.toolkit, key=lambda m: game.moves[m].size_max_usd_bn * game.moves[m].public_cost_share)
    lo, hi = game.moves[move].size_min_usd_bn, game.moves[move].size_max_usd_bn
    assert hi * game.moves[move].public_cost_share > power.budget_available
    not_in_toolkit = next(m for m in game.moves if m not in power.toolkit)
    cases = {
        "> budget": [Offer("china", move, "kaz", hi)],
        "more than rules.max_offers_per_turn": [Offer("china", move, "kaz", lo)] * (game.rules.max_offers_per_turn + 1),
        "is not in its toolkit": [Offer("china", not_in_toolkit, "kaz", lo)],
        "outside its size bounds": [Offer("china", move, "kaz", hi * 2)],
        "in the name of us": [Offer("us", move, "kaz", lo)],
        "unknown host atlantis": [Offer("china", move, "atlantis", lo)],
        "is not an Offer": ["a gift"],
    }
    for problem, offers in cases.items():
        with pytest.raises(StrategyError, match=f"^china: .*{problem}"):
            game.submit("china", offers)
        assert _snapshot(game) == before, problem
    assert "china" in game.waiting()
    game.submit("china", [])  # a legal submission is taken
    assert "china" not in game.waiting()


def test_a_host_cannot_accept_an_offer_not_made_or_beyond_absorption():
    scenario = load_scenario("baseline", ["hosts.kgz.absorption_pct_gdp=0.01"])
    game = Game(scenario, 0)
    offer = _first_offer(game, "china", "kaz")
    big = _first_offer(game, "us", "kgz")
    game.submit("china", [offer])
    game.submit("us", [big])
    game.advance()
    assert "kgz" in game.waiting()
    before = _snapshot(game)
    with pytest.raises(StrategyError, match="kgz: accepted an offer that was not made"):
        game.submit("kgz", [offer])
    assert _snapshot(game) == before
    with pytest.raises(StrategyError, match="kgz: accepted USD .* beyond absorption"):
        game.submit("kgz", [big])
    assert _snapshot(game) == before
    assert game.legal("kgz")["acceptable"] == ()
    report = game.advance()
    (outcome,) = [o for o in report.offers if o.offer == big]
    assert not outcome.accepted
    assert outcome.reason.startswith("no absorption room: needs USD")
    # A refusal within the limits is put down to the host's strategy, by name.
    refused = [o for o in report.refusals() if o.offer.host != "kgz" and not o.reason.startswith(("no ", "debt"))]
    for o in refused:
        assert o.reason == f"refused by its strategy ({game.actor(o.offer.host).cfg.strategy})"


def test_observe_reveals_nothing_of_another_powers_pending_offers():
    game = Game("baseline", 0)
    seen = game.observe("us")
    offers = _own_choice(game, "china")
    assert offers, "China's strategy makes offers on turn 1"
    game.submit("china", offers)
    after = game.observe("us")
    assert repr(after) == repr(seen)
    assert after == seen
    assert not any(repr(o) in repr(after) for o in offers)
    assert after.offers == ()


def test_an_observation_is_read_only_and_holds_the_actors_own_state():
    game = Game("baseline", 0)
    obs = game.observe("china")
    assert isinstance(obs, Observation) and obs.kind == "power" and obs.phase == "offers" and obs.turn == 1
    assert obs.own["budget_available"] == game.actor("china").budget_available
    assert isinstance(obs.hosts, FrozenMap) and isinstance(obs.hosts["kaz"]["opinion"], FrozenMap)
    for change in (
        lambda: obs.hosts["kaz"]["opinion"].__setitem__("china", 1.0),
        lambda: obs.hosts["kaz"].update(gdp_usd_bn=1.0),
        lambda: obs.own.pop("budget_available"),
        lambda: obs.hosts.clear(),
    ):
        with pytest.raises(TypeError):
            change()
    with pytest.raises(AttributeError):
        obs.turn = 5
    assert "budget_available" not in obs.powers["us"]
    game.advance()
    host_obs = game.observe("kaz")
    assert host_obs.offers == tuple(game._by_host["kaz"])
    assert host_obs.own["absorption_room"] == game.actor("kaz").absorption_room


def test_legal_bounds_sizes_by_budget_and_host_room():
    game = Game("baseline", 0)
    legal = game.legal("china")
    power = game.actor("china")
    assert legal["decides"] and legal["budget"] == power.budget_available
    assert set(legal["moves"]) <= set(power.toolkit)
    for m, b in legal["moves"].items():
        move = game.moves[m]
        assert b["size_min"] == move.size_min_usd_bn <= b["size_max"] <= move.size_max_usd_bn
        assert b["size_max"] * move.public_cost_share <= power.budget_available + 1e-12
        for h, t in b["targets"].items():
            assert b["size_min"] <= t["size_max"] <= b["size_max"] and t["room_max"] <= t["size_max"]
            host = game.actor(h)
            assert t["room_max"] * move.local_absorption <= host.room_next_turn(game.dt) + 1e-9
    assert game.legal("kaz") == {"phase": "offers", "decides": False}


def test_an_illegal_decision_from_a_decider_leaves_the_game_as_it_was():
    """Every decision is made and checked before any is applied: a later power's illegal offer
    leaves the earlier powers' counts alone, and a retry does not count them twice."""
    bad = {"russia": lambda obs: [Offer("russia", "no_such_move", "kaz", 1.0)]}
    game = Game("baseline", seed=0, deciders=bad)
    for _ in range(2):
        with pytest.raises(StrategyError, match="no_such_move"):
            game.advance()
        assert {p: s.offers_made for p, s in game.powers.items()} == dict.fromkeys(POWERS, 0)
        assert game.phase == "offers"


@pytest.mark.parametrize(
    "size",
    [
        True,
        "0.5",
        None,
        float("nan"),
        float("inf"),
        pytest.param("array", id="numpy-0d-array"),
        pytest.param("float32", id="numpy-float32"),
    ],  # fmt: skip
)
def test_a_size_that_is_not_a_finite_float_is_refused_and_changes_nothing(size):
    import numpy as np

    size = {"array": np.array(0.5), "float32": np.float32(0.5)}.get(size, size) if isinstance(size, str) else size
    game = Game("baseline", seed=0)
    move, bounds = next(iter(game.legal("us")["moves"].items()))
    host = next(iter(bounds["targets"]))
    before = _snapshot(game)
    with pytest.raises(StrategyError, match="not a finite number"):
        game.submit("us", [Offer("us", move, host, size)])
    assert _snapshot(game) == before
    game.submit("us", [Offer("us", move, host, np.float64(bounds["size_min"]))])  # a numpy float64 is a float


def test_a_decision_is_a_list_of_offers():
    game = Game("baseline", seed=0)
    move, bounds = next(iter(game.legal("us")["moves"].items()))
    host = next(iter(bounds["targets"]))
    with pytest.raises(StrategyError, match="a list of offers"):
        game.submit("us", {Offer("us", move, host, bounds["size_min"])})


def test_observations_and_reports_pickle_copy_and_serialise():
    """They travel to worker processes, subprocess environments and web clients."""
    import copy
    import json

    game = Game("baseline", 0)
    obs = game.observe("us")
    for twin in (pickle.loads(pickle.dumps(obs)), copy.deepcopy(obs)):
        assert twin == obs and isinstance(twin.hosts["kaz"], FrozenMap)
    assert json.loads(json.dumps(obs.hosts))["kaz"]["gdp_usd_bn"] == obs.hosts["kaz"]["gdp_usd_bn"]
    json.dumps(game.legal("us"))
    game.advance()
    report = game.advance()
    assert pickle.loads(pickle.dumps(report)) == report
    assert json.loads(json.dumps(report.metrics)) == dict(report.metrics)


def test_reports_and_event_log_are_the_same_whenever_they_are_read():
    """The event log's rows and a report's offers and followed rows are built when first read: read
    every turn or only at the end, they are the same, and a report pickles as a plain TurnReport."""
    scenario = load_scenario("baseline", ["horizon_turns=8"])
    eager, lazy = Game(scenario, 3), Game(scenario, 3)
    eager_reports, lazy_reports, read = [], [], []
    while not eager.over:
        eager.advance()
        report = eager.advance()
        read.append((report.offers, report.followed, list(eager.event_log)))  # read at once
        eager_reports.append(report)
        lazy.advance()
        lazy_reports.append(lazy.advance())  # read only after the game
    assert eager.event_log == lazy.event_log and len(lazy.event_log) > 100
    rows = 0
    for (offers, followed, log), report in zip(read, lazy_reports, strict=True):
        assert report.offers == offers and report.followed == followed
        assert [dict(r) for r in report.followed] == log[rows:]
        rows = len(log)
        plain = pickle.loads(pickle.dumps(report))
        assert type(plain) is TurnReport and repr(plain) == repr(report).replace("_LazyTurnReport", "TurnReport")
        assert plain.offers == report.offers and plain.metrics == report.metrics  # (rows may hold NaN sizes)
    deals = sum(r["status"] == "deal" for r in lazy.event_log)  # scripted deals count as offers made, not in reports
    assert deals == 2  # the C5+1 tungsten venture and AI partnership of 2025Q4
    assert sum(len(r.offers) for r in lazy_reports) + deals == sum(p.offers_made for p in lazy.powers.values())
    assert any(not o.accepted and o.reason.startswith("refused by") for r in lazy_reports for o in r.offers)
