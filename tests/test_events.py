"""Temporary events that overlap: each is a layer over the variable's underlying value, and the
variable is recomputed from that value and the effects still active when one ends (issue 7,
item 8: A sets the Northern route's risk to 0.9 for 2 turns, B to 0.6 for 6 turns; A's expiry
must not reset it to the base while B is active, nor B's expiry "restore" 0.9 for good)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategy_abm import CompetitionModel
from strategy_abm.engine.events import EventEngine, _bounded
from strategy_abm.scenario.config import EventConfig, format_date, load_scenario, parse_date, validate_scenario

BASE_RISK = 0.3  # the baseline's Northern route political_risk
START = "2025Q1"


def at(turn: int) -> str:
    """The date of a quarterly baseline turn."""
    return format_date(parse_date(START) + (turn - 1) / 4, 4)


def event(name: str, turn: int, path: str, op: str, value: float, duration: int | None = None) -> dict:
    ev = {"name": name, "text": name, "at": at(turn), "effects": [{"path": path, "op": op, "value": value}],
          "source": "assumption: test"}  # fmt: skip
    if duration:
        ev["duration_turns"] = duration
    return ev


def play(events: list[dict], read, turns: int = 12) -> list[float]:
    """``read(model)`` after each turn of a baseline game whose only events are ``events``."""
    raw = load_scenario("baseline").model_dump(mode="python")
    raw["events"] = events
    model = CompetitionModel(scenario=validate_scenario(raw), seed=0, turns=turns)
    values = []
    while model.running:
        model.step()
        values.append(read(model))
    return values


def northern_risk(model) -> float:
    return model.routes["northern"]["political_risk"]


RISK = "routes.northern.political_risk"
A = event("a", 3, RISK, "set", 0.9, 2)  # turns 3-4
B = event("b", 3, RISK, "set", 0.6, 6)  # turns 3-8


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # The example: B, then A on top of it. 0.9 while A lasts, 0.6 after A's expiry while B
        # is active, the base after B's expiry.
        ([B, A], [BASE_RISK] * 2 + [0.9] * 2 + [0.6] * 4 + [BASE_RISK] * 4),
        # The order that went wrong: A fired first, so B is on top; A's expiry must leave 0.6 (it reset
        # the base), and B's expiry must give the base (it "restored" A's 0.9 to the horizon).
        ([A, B], [BASE_RISK] * 2 + [0.6] * 6 + [BASE_RISK] * 4),
        # A at turn 3, B a turn later: 0.9 alone, then B's 0.6 on top, then the base.
        ([A, {**B, "at": at(4)}], [BASE_RISK] * 2 + [0.9] + [0.6] * 6 + [BASE_RISK] * 3),
    ],
    ids=["b-then-a", "a-then-b", "a-turn-before-b"],
)
def test_overlapping_sets_restore_the_base_and_each_other(events, expected):
    assert play(events, northern_risk) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # add then mul: (0.3 + 0.2) * 1.5 while both, 0.3 * 1.5 after the add ends, then the base.
        (
            [event("add", 3, RISK, "add", 0.2, 2), event("mul", 3, RISK, "mul", 1.5, 6)],
            [BASE_RISK] * 2 + [0.75] * 2 + [0.45] * 4 + [BASE_RISK] * 4,
        ),
        # mul then add: 0.3 * 1.5 + 0.2, then 0.45, then the base.
        (
            [event("mul", 3, RISK, "mul", 1.5, 6), event("add", 3, RISK, "add", 0.2, 2)],
            [BASE_RISK] * 2 + [0.65] * 2 + [0.45] * 4 + [BASE_RISK] * 4,
        ),
        # Two adds held at the bound 1: once the first ends the second shows whole (0.3 + 0.5), not the
        # clamped 1 less the first's 0.6.
        (
            [event("add1", 3, RISK, "add", 0.6, 2), event("add2", 3, RISK, "add", 0.5, 6)],
            [BASE_RISK] * 2 + [1.0] * 2 + [0.8] * 4 + [BASE_RISK] * 4,
        ),
        # A set under an add: the add stays on the set value, and on the base once the set ends.
        (
            [event("set", 3, RISK, "set", 0.6, 2), event("add", 3, RISK, "add", 0.2, 6)],
            [BASE_RISK] * 2 + [0.8] * 2 + [0.5] * 4 + [BASE_RISK] * 4,
        ),
        # A permanent change while a temporary one is active changes the underlying value: it stays.
        (
            [event("add", 3, RISK, "add", 0.2, 4), event("perm", 4, RISK, "set", 0.5)],
            [BASE_RISK] * 2 + [0.5] + [0.7] * 3 + [0.5] * 6,
        ),
    ],
    ids=["add-then-mul", "mul-then-add", "clamped-adds", "set-under-add", "permanent-under-add"],
)
def test_overlapping_adds_and_muls_undo_only_their_own_change(events, expected):
    assert play(events, northern_risk) == pytest.approx(expected, rel=1e-14)


def test_the_rules_change_reaches_the_base_through_adds_and_muls():
    """Corridor demand grows 3%/yr by the rules while a x2 and a x0.5 shock overlap: each expiry
    removes only its own factor, and the growth made under them is kept."""
    path = "trade.demand_mt"
    undisturbed = play([], lambda m: m.trade["demand_mt"])
    shocked = play([event("x2", 3, path, "mul", 2.0, 2), event("half", 4, path, "mul", 0.5, 4)],
                   lambda m: m.trade["demand_mt"])  # fmt: skip
    factor = [1, 1, 2, 1, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1]
    assert shocked == pytest.approx([d * f for d, f in zip(undisturbed, factor, strict=True)], rel=1e-12)


def test_a_set_holds_what_the_rules_do_to_it_until_it_ends():
    """A set replaces the variable: growth acts on the replacement while it lasts, and when it
    ends the demand is the underlying value the set covered (docs/model.md 7.9)."""
    path = "trade.demand_mt"
    undisturbed = play([], lambda m: m.trade["demand_mt"])
    shocked = play([event("set", 3, path, "set", 10.0, 3)], lambda m: m.trade["demand_mt"])
    growth = undisturbed[1] / undisturbed[0]
    # The demand grows at the end of each turn, after the events (turn 3 ends at 10 x growth).
    assert shocked[2:5] == pytest.approx([10.0 * growth, 10.0 * growth**2, 10.0 * growth**3], rel=1e-12)
    assert shocked[5] == pytest.approx(undisturbed[1] * growth, rel=1e-12)  # turn 2's value, grown once


# ---------------------------------------------------------------------------- any order, any op


def engine_on_risk(events: list[EventConfig]) -> tuple[EventEngine, dict]:
    route = {"political_risk": BASE_RISK}
    model = SimpleNamespace(start_year=parse_date(START), turns_per_year=4, dt=0.25, routes={"northern": route},
                            trade={}, hosts={}, log=lambda **_: None)  # fmt: skip
    return EventEngine(events, model), route


def reference(fired: list[tuple[int, str, float, int | None]], turn: int) -> float:
    """The value at ``turn`` by definition: the permanent effects fired so far applied to the
    starting value, then the temporary ones still active, in firing order, each within bounds."""
    value = BASE_RISK
    for t, op, v, duration in fired:
        if t <= turn and not duration:
            value = apply(value, op, v)
    for t, op, v, duration in fired:
        if duration and t <= turn < t + duration:
            value = apply(value, op, v)
    return value


def apply(old: float, op: str, value: float) -> float:
    new = old + value if op == "add" else old * value if op == "mul" else value
    return _bounded("political_risk", new, old)


effects = st.tuples(
    st.integers(1, 10),
    st.sampled_from(["add", "mul", "set"]),
    st.floats(-1.0, 1.0, allow_nan=False),
    st.one_of(st.none(), st.integers(1, 8)),
).map(lambda e: (e[0], e[1], abs(e[2]) * 3 if e[1] == "mul" else abs(e[2]) if e[1] == "set" else e[2], e[3]))


@settings(max_examples=300, deadline=None)
@given(fired=st.lists(effects, max_size=8))
def test_any_overlap_of_any_ops_is_the_base_plus_the_active_effects(fired):
    """For a variable the rules leave alone, the value each turn is its definition (reference),
    whatever the ops, their order and their overlaps."""
    fired = sorted(fired, key=lambda e: e[0])  # the order they fire in (a turn's scripted events in list order)
    configs = [
        EventConfig(name=f"e{i}", text="e", at=at(t), duration_turns=d, source="assumption: test",
                    effects=[{"path": RISK, "op": op, "value": v}])
        for i, (t, op, v, d) in enumerate(fired)
    ]  # fmt: skip
    engine, route = engine_on_risk(configs)
    for turn in range(1, 20):
        engine.step(turn)
        assert math.isclose(route["political_risk"], reference(fired, turn), rel_tol=1e-12, abs_tol=1e-15), turn
    assert not engine.layered  # every temporary effect has ended and left nothing behind


@pytest.mark.parametrize("copy_how", ["deepcopy", "pickle"])
def test_a_game_copied_mid_event_keeps_the_layers_of_its_variables(copy_how):
    """A copied or unpickled game (a checkpoint, a tree search, an RL snapshot) plays on exactly as
    the original: the layers of a variable are found by its path, not by an object's id."""
    import copy
    import pickle

    from strategy_abm import Game

    raw = load_scenario("baseline").model_dump(mode="python")
    raw["events"] = [
        event("a", 3, "routes.northern.political_risk", "set", 0.9, 2),
        event("b", 4, "routes.northern.political_risk", "set", 0.6, 6),
    ]
    game = Game(validate_scenario(raw), 0)
    for _ in range(3):  # A is on; B fires on the copy's first turn
        game.play_turn()
    twin = copy.deepcopy(game) if copy_how == "deepcopy" else pickle.loads(pickle.dumps(game))

    def rest(g) -> list[float]:
        out = []
        while g.turn < 12:
            g.play_turn()
            out.append(round(g.routes["northern"]["political_risk"], 9))
        return out

    expected = [0.6] * 6 + [BASE_RISK] * 3  # B on top of A, A ends under B, B ends: the base
    assert rest(game) == expected
    assert rest(twin) == expected
