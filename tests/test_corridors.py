"""Corridors as a transport market (docs/model.md 7.7): capacity, delay and realignment move cargo.

Two kinds of test. The rule's own (kernel) tests play only the trade step on the baseline's turn-0
state, so their values are exact properties of the market (no strategy moves anything). The game
tests play the baseline with an override against the baseline itself, same seeds, and check the
direction and size of the response within a few years; their bands are stated below with the
values measured when the market was built (mean of seeds 0-2).
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from strategy_abm import CompetitionModel
from strategy_abm.engine import kernels as K
from strategy_abm.engine.arrays import (
    F_EXPORTS,
    F_TRANSIT,
    N_FLOWS,
    R_CA_EXPORT,
    R_CAPACITY,
    R_EXPORT_CUT,
    R_FLOW,
    R_VOLUME,
    RL_MAX_CUT,
    T_DEMAND,
    T_FLOW_SHARE,
    initial_state,
    tables,
)
from strategy_abm.scenario.config import FLOWS, load_scenario

SEEDS = range(3)
YEARS_2 = 8  # turns: "within a few years"

# Game tests: the response at turn 8 (2027Q1), mean over SEEDS, against the baseline.
# Measured: Middle capacity 15 Mt: Middle +2.7 Mt, Northern -2.5 Mt, Russia's corridor component -0.09.
CAPACITY_15_MIDDLE_GAIN_MT = (2.0, 3.5)
CAPACITY_15_NORTHERN_LOSS_MT = (1.8, 3.3)
RUSSIA_CORRIDOR_LOSS = (0.06, 0.13)
# Measured: Middle delay 6 days (from 12): Middle +0.39 Mt, Northern -0.36 Mt.
DELAY_6_MIDDLE_GAIN_MT = (0.2, 0.6)

# Kernel tests (exact up to the rule's arithmetic; tolerance for the solver's last digits).
KERNEL_TOL = 0.02  # Mt, or share points where a share is compared


def world(*overrides: str):
    sc = load_scenario("baseline", list(overrides))
    t = tables(sc)
    return t, initial_state(sc, t.layout)


def trade_turns(t, state, n: int) -> None:
    for _ in range(n):
        K.trade_step(state.routes, state.trade, t.rules)


def route(t, rid: str) -> int:
    return t.layout.routes.index(rid)


def at_turn(turn: int, *overrides: str) -> dict[str, float]:
    """Mean over SEEDS of the Northern and Middle volumes and Russia's corridor component and
    influence at ``turn``."""
    rows = []
    for seed in SEEDS:
        model = CompetitionModel(scenario="baseline", seed=seed, turns=turn, record=False, overrides=list(overrides))
        while model.running:
            model.step()
        rows.append({
            "northern": model.routes["northern"]["volume_mt"],
            "middle": model.routes["middle"]["volume_mt"],
            "russia_corridor": model.powers["russia"].components["corridor"],
            "influence_russia": model.metrics["influence_russia"],
        })  # fmt: skip
    return {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}


@pytest.fixture(scope="module")
def baseline_year2():
    return at_turn(YEARS_2)


# ------------------------------------------------------------------------------------ the game


def test_more_middle_capacity_moves_cargo_off_the_northern_route(baseline_year2):
    """`--set routes.middle.capacity_mt=15.0`: less congestion on the Middle Corridor draws cargo
    from the Northern route within two years (it ended with the baseline's volumes before)."""
    more = at_turn(YEARS_2, "routes.middle.capacity_mt=15.0")
    gain = more["middle"] - baseline_year2["middle"]
    loss = baseline_year2["northern"] - more["northern"]
    assert CAPACITY_15_MIDDLE_GAIN_MT[0] <= gain <= CAPACITY_15_MIDDLE_GAIN_MT[1], gain
    assert CAPACITY_15_NORTHERN_LOSS_MT[0] <= loss <= CAPACITY_15_NORTHERN_LOSS_MT[1], loss


def test_a_middle_build_up_lowers_russias_corridor_payoff_and_influence(baseline_year2):
    """Russia values the cargo through its territory: with the Middle Corridor built up, its
    corridor payoff component (the share of corridor cargo on the Northern route) falls, and so
    does its influence (the corridor channel of its presence)."""
    more = at_turn(YEARS_2, "routes.middle.capacity_mt=15.0")
    loss = baseline_year2["russia_corridor"] - more["russia_corridor"]
    assert RUSSIA_CORRIDOR_LOSS[0] <= loss <= RUSSIA_CORRIDOR_LOSS[1], loss
    assert more["influence_russia"] < baseline_year2["influence_russia"]


def test_a_shorter_middle_delay_moves_cargo(baseline_year2):
    """`--set routes.middle.delay_days=6.0` (the floor, from 12): the Middle Corridor gains
    cargo within two years, the Northern route loses it."""
    faster = at_turn(YEARS_2, "routes.middle.delay_days=6.0")
    gain = faster["middle"] - baseline_year2["middle"]
    assert DELAY_6_MIDDLE_GAIN_MT[0] <= gain <= DELAY_6_MIDDLE_GAIN_MT[1], gain
    assert faster["northern"] < baseline_year2["northern"]


def test_russias_presence_has_a_corridor_channel():
    """Russia's presence counts the share of the corridors' cargo through its territory (weight
    `rules.presence_weights.corridor`); with no route through it, that channel is 0."""
    t, state = world()
    lay = t.layout
    p, h = lay.powers.index("russia"), lay.hosts.index("kaz")

    def presence(tb, st):
        return K.presence(st.hosts, tb.layout.offsets, tb.power_meta, tb.power_static, tb.rules, h, p, st.routes,
                          tb.through)  # fmt: skip

    t0, state0 = world("routes.northern.through=[]")
    volumes = state.routes[:, R_VOLUME]
    share = volumes[route(t, "northern")] / volumes.sum()
    assert presence(t, state) - presence(t0, state0) == pytest.approx(0.05 * share, rel=1e-12)


# ------------------------------------------------------------------------------------ the rule


def test_the_turn0_split_is_the_observed_volumes():
    """The turn-0 equilibrium of the market (before any lag) carries the observed volumes: 20 Mt
    Northern, 4.5 Mt Middle (AT_TITR2024), 1 Mt Southern, the middle and southern tariffs being
    chosen for it."""
    t, state = world()
    n = state.routes.shape[0]
    demands = np.array([state.trade[T_DEMAND] * state.trade[T_FLOW_SHARE + f] for f in range(N_FLOWS)])
    targets = np.zeros(N_FLOWS * n)
    K.market_targets(state.routes, state.trade, demands, targets, np.zeros(K.trade_scratch(n)))
    by_route = targets.reshape(N_FLOWS, n).sum(axis=0)
    assert by_route.tolist() == pytest.approx(state.routes[:, R_VOLUME].tolist(), abs=KERNEL_TOL)


def test_a_corridor_upgrade_shifts_cargo_within_8_turns():
    """A USD 1.5 bn Middle Corridor upgrade (+1.5 Mt/yr at the G7's efficiency 1) moves about
    0.7 Mt from the Northern route to the Middle within 8 turns of its completion."""
    t, state = world()
    m, north = route(t, "middle"), route(t, "northern")
    upgraded = state.copy()
    K.route_effects(upgraded.routes, t.layout.offsets, t.moves, t.layout.moves.index("corridor_upgrade"), 1.5,
                    t.special, t.rules[RL_MAX_CUT])  # fmt: skip
    assert upgraded.routes[m, R_CAPACITY] == pytest.approx(7.5, rel=1e-12)
    trade_turns(t, state, YEARS_2)
    trade_turns(t, upgraded, YEARS_2)
    assert upgraded.routes[m, R_VOLUME] - state.routes[m, R_VOLUME] == pytest.approx(0.685, abs=KERNEL_TOL)
    assert state.routes[north, R_VOLUME] - upgraded.routes[north, R_VOLUME] == pytest.approx(0.628, abs=KERNEL_TOL)


def test_capacity_far_from_congestion_earns_less():
    """Diminishing returns: 3 Mt/yr more Middle capacity draws 1.31 Mt when the route is
    congested (6 -> 9 Mt/yr) and 0.08 Mt when it is not (20 -> 23 Mt/yr), after three years."""

    def middle_after(capacity):
        t, state = world(f"routes.middle.capacity_mt={capacity}")
        trade_turns(t, state, 12)
        return state.routes[route(t, "middle"), R_VOLUME]

    near = middle_after(9.0) - middle_after(6.0)
    far = middle_after(23.0) - middle_after(20.0)
    assert near == pytest.approx(1.307, abs=KERNEL_TOL)
    assert far == pytest.approx(0.084, abs=KERNEL_TOL)


def test_flows_by_origin_sum_to_each_routes_volume():
    """Every turn each route's cargo is the sum of its flows (Chinese transit, Central Asian
    exports, other), also after an event sets a route's volume from outside."""
    t, state = world()
    for turn in range(12):
        if turn == 4:
            state.routes[route(t, "middle"), R_VOLUME] = 1.0  # as an event's `set` would
        trade_turns(t, state, 1)
        flows = state.routes[:, R_FLOW : R_FLOW + N_FLOWS]
        assert flows.sum(axis=1) == pytest.approx(state.routes[:, R_VOLUME], rel=1e-12, abs=1e-12)
        assert (flows >= 0.0).all()
    assert len(FLOWS) == N_FLOWS == 3


def test_the_turn0_flows_are_the_routes_split_by_origin():
    """Turn 0: a route's flows are its volume split by `flow_shares`; each origin's demand share
    is its share of all cargo (Chinese transit 18.2 of 25.5 Mt: 15.3 Mt through Kazakhstan on the
    Northern route, AT_KZCN_RAIL2024, plus 63% of the Middle's 4.5 Mt, AT_TITR2024)."""
    t, state = world()
    north, m = route(t, "northern"), route(t, "middle")
    assert state.routes[north, R_FLOW + F_TRANSIT] == pytest.approx(15.3, rel=1e-12)
    assert state.routes[m, R_FLOW + F_TRANSIT] == pytest.approx(0.63 * 4.5, rel=1e-12)
    assert state.routes[m, R_CA_EXPORT] == pytest.approx(0.37, rel=1e-12)
    transit_share = state.trade[T_FLOW_SHARE + F_TRANSIT]
    assert transit_share * 25.5 == pytest.approx(15.3 + 0.63 * 4.5 + 0.1 * 1.0, rel=1e-12)


def test_realignment_changes_the_mix_of_flows_not_a_counter():
    """TRIPP's full cut (60 USD/t for the region's exports on the Middle Corridor) raises the
    exports' share of Middle cargo from 0.41 to 0.54 in two years: exports gain 0.72 Mt and, the
    route being congested, Chinese transit loses 0.46 Mt. The share is the flows' ratio, in [0, 1]."""
    t, state = world()
    m = route(t, "middle")
    cut = state.copy()
    cut.routes[m, R_EXPORT_CUT] = 60.0
    trade_turns(t, state, YEARS_2)
    trade_turns(t, cut, YEARS_2)
    for s in (state, cut):
        assert s.routes[m, R_CA_EXPORT] == pytest.approx(s.routes[m, R_FLOW + F_EXPORTS] / s.routes[m, R_VOLUME])
    assert state.routes[m, R_CA_EXPORT] == pytest.approx(0.413, abs=KERNEL_TOL)
    assert cut.routes[m, R_CA_EXPORT] == pytest.approx(0.540, abs=KERNEL_TOL)
    exports_gain = cut.routes[m, R_FLOW + F_EXPORTS] - state.routes[m, R_FLOW + F_EXPORTS]
    transit_loss = state.routes[m, R_FLOW + F_TRANSIT] - cut.routes[m, R_FLOW + F_TRANSIT]
    assert exports_gain == pytest.approx(0.722, abs=KERNEL_TOL)
    assert transit_loss == pytest.approx(0.459, abs=KERNEL_TOL)


def test_realignment_cuts_up_to_the_cap():
    """Each completed realignment adds its cut per USD bn, up to `trade.realignment_max_cut_usd_per_t`."""
    t, state = world()
    k, m = t.layout.moves.index("route_realignment"), route(t, "middle")
    for size, expected in ((1.0, 30.0), (1.0, 60.0), (1.0, 60.0)):
        K.route_effects(state.routes, t.layout.offsets, t.moves, k, size, t.special, t.rules[RL_MAX_CUT])
        assert state.routes[m, R_EXPORT_CUT] == expected


def test_the_ca_export_share_stays_within_0_1_under_a_realignment_push():
    """With realignment cutting 1,000 USD/t per bn (the cap binds with the first project; the share
    climbed to 1.0 as a counter before), the Middle Corridor's CA export share stays in [0, 1],
    equal to its flows' ratio, and below 0.9: the cut moves exports, not the whole route."""
    push = "moves.route_realignment.effects.export_cost_cut_usd_per_t_per_bn=1000"
    model = CompetitionModel(scenario="baseline", seed=0, turns=40, record=False, overrides=[push])
    while model.running:
        model.step()
        middle = model.routes["middle"]
        share = model.metrics["middle_ca_export_share"]
        assert 0.0 <= share <= 1.0
        assert share == pytest.approx(middle["ca_exports_mt"] / middle["volume_mt"], rel=1e-12)
    assert model.routes["middle"]["export_cost_cut_usd_per_t"] == 60.0  # the US realigned, up to the cap
    assert model.metrics["middle_ca_export_share"] < 0.9
