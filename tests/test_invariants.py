"""Invariants over many random games.

Every actor plays ``random`` and the scenario's parameters are drawn within the schema's
bounds (a numpy Generator seeded per game), passed as overrides. Whatever the draw, the game
must keep its state meaningful: finite numbers, shares on the simplex, opinion in [-1, 1],
no negative debt, no spending beyond budgets, and only legal offers accepted.

Agent state is checked after every turn; the recorded frames (``model.csv`` and ``actors.csv``
as :mod:`strategy_abm.report.output` builds them) and the event log at the end of the game.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from strategy_abm import CompetitionModel
from strategy_abm.report.output import actors_frame, model_frame
from strategy_abm.scenario.config import ConfigError, load_scenario
from strategy_abm.scenario.ids import HOSTS, POWERS, ROUTES

N_GAMES = 200
TURNS = (12, 20)  # inclusive range of horizons drawn per game
PERTURBED_MOVES_PER_GAME = 4
TOL = 1e-9  # float slack on sums, bounds and budgets
SHARE_SUM_TOL = 1e-9

BASELINE = load_scenario("baseline")
MOVES = tuple(BASELINE.moves)
HOST_SHARE_VECTORS = (
    "trade_shares",
    "telecom_vendor_shares",
    "cloud_shares",
    "logistics_platform_shares",
    "energy_export_shares",
    "green_tech_origin",
)
PRESENCE_CHANNELS = ("trade", "debt", "digital", "energy", "minerals")
RANDOM_EVERYONE = tuple(f"powers.{p}.strategy=random" for p in POWERS) + tuple(
    f"hosts.{h}.strategy=random" for h in HOSTS
)


def perturbed_overrides(rng: np.random.Generator) -> list[str]:
    """Overrides drawing the scenario's parameters within the schema's bounds."""
    out = list(RANDOM_EVERYONE)

    def put(key: str, value: float) -> None:
        out.append(f"{key}={float(value)!r}")

    u = rng.uniform
    for p in POWERS:
        put(f"powers.{p}.budget_usd_bn_per_year", u(0.0, 20.0))
    for h in HOSTS:
        put(f"hosts.{h}.absorption_pct_gdp", u(0.1, 50.0))
        put(f"hosts.{h}.debt_ceiling_pct_gdp", u(1.0, 300.0))
        put(f"hosts.{h}.governance", u(0.0, 100.0))
        put(f"hosts.{h}.growth_rate", u(-0.3, 0.3))
        put(f"hosts.{h}.revenue_share_gdp", u(0.05, 1.0))
        put(f"hosts.{h}.environment_damage", u(0.0, 100.0))
        put(f"hosts.{h}.strategy_params.accept_probability", u(0.0, 1.0))
        for p in POWERS:
            put(f"hosts.{h}.opinion.{p}", u(-1.0, 1.0))
    for r in ROUTES:
        capacity = u(0.0, 60.0)
        put(f"routes.{r}.capacity_mt", capacity)
        put(f"routes.{r}.volume_mt", u(0.0, capacity))  # the schema keeps a route's flow within its capacity
        put(f"routes.{r}.political_risk", u(0.0, 1.0))
    rules = {
        "influence_decay": (0.05, 5.0),
        "opinion_reversion": (0.0, 5.0),
        "opinion_influence": (0.0, 3.0),
        "distress_service_ratio": (0.02, 1.0),
        "distress_opinion_swing": (0.0, 2.0),
        "distress_growth_penalty": (0.0, 0.5),
        "restructure_maturity_years": (0.0, 20.0),
        "failure_hazard": (0.0, 1.0),
        "delay_hazard": (0.0, 1.0),
        "failure_opinion": (0.0, 1.0),
        "environment_opinion": (0.0, 0.05),
        "jobs_opinion": (0.0, 1.0),
        "budget_carryover_years": (0.0, 5.0),
    }
    for key, (lo, hi) in rules.items():
        put(f"rules.{key}", u(lo, hi))
    for channel in PRESENCE_CHANNELS:
        put(f"rules.presence_weights.{channel}", u(0.0, 1.0))
    us_split = u(0.0, 1.0)
    put("rules.western_split.us", us_split)
    put("rules.western_split.g7", 1.0 - us_split)
    put("trade.demand_growth", u(-0.5, 0.5))
    put("trade.adjustment_rate", u(0.1, 20.0))
    for m in rng.choice(MOVES, size=PERTURBED_MOVES_PER_GAME, replace=False):
        size_min = u(0.01, 1.0)
        put(f"moves.{m}.size_min_usd_bn", size_min)
        put(f"moves.{m}.size_max_usd_bn", size_min + u(0.0, 3.0))
        put(f"moves.{m}.lag_years", u(0.0, 5.0))
        put(f"moves.{m}.debt_fraction", u(0.0, 1.0))
        put(f"moves.{m}.local_absorption", u(0.0, 1.0))
        put(f"moves.{m}.private_per_public", u(0.0, 3.0))
        put(f"moves.{m}.standards", u(0.0, 1.0))
        put(f"moves.{m}.loan_rate", u(0.0, 0.5))
        put(f"moves.{m}.loan_maturity_years", u(1.0, 60.0))
    out.append(f"turns_per_year={int(rng.choice([1, 2, 4, 12]))}")
    return out


# ------------------------------------------------------------------------------------ checks


def assert_simplex(shares: dict[str, float], what: str) -> None:
    values = list(shares.values())
    assert all(math.isfinite(v) and -TOL <= v <= 1.0 + TOL for v in values), f"{what}: {shares}"
    assert abs(sum(values) - 1.0) <= SHARE_SUM_TOL, f"{what} sums to {sum(values)!r}"


def check_state(model: CompetitionModel) -> None:
    """Invariants of the agents' state after a turn."""
    where = f"turn {model.turn}"
    for hid, host in model.hosts.items():
        for creditor, c in host.creditors.items():
            assert math.isfinite(c["debt"]) and c["debt"] >= 0.0, f"{where}: {hid} owes {creditor} {c['debt']}"
        for vector in HOST_SHARE_VECTORS:
            assert_simplex(getattr(host, vector), f"{where}: {hid}.{vector}")
        for m, mineral in host.minerals.items():
            assert_simplex(mineral["offtake"], f"{where}: {hid}.minerals.{m}.offtake")
            assert mineral["output_t"] >= 0.0
            assert 0.0 <= mineral["local_processing"] <= 1.0
        for p, value in host.opinion.items():
            assert -1.0 <= value <= 1.0, f"{where}: {hid} opinion of {p} = {value}"
        for p, stock in host.influence.items():
            assert math.isfinite(stock) and stock >= 0.0, f"{where}: {hid} influence of {p} = {stock}"
        assert host.gdp_usd_bn > 0.0 and math.isfinite(host.gdp_usd_bn)
        assert 0.0 <= host.governance <= 100.0
        assert 0.0 <= host.environment_damage <= 100.0
        assert 0.0 <= host.satellite_coverage <= 1.0
        assert 0.0 <= host.renewables_share <= 1.0
    for pid, power in model.powers.items():
        ledger = power.ledger
        granted = power.budget_granted
        assert ledger.total <= granted + TOL, f"{where}: {pid} spent {ledger.total} of {granted}"
        assert power.budget_available >= -TOL, f"{where}: {pid} budget {power.budget_available}"
        assert abs(ledger.total - sum(ledger.by_domain.values())) <= TOL
        assert abs(granted - ledger.total - power.budget_available) <= TOL * max(1.0, granted)
    for rid, route in model.routes.items():
        # From turn 1 on, after the trade rule ran (a drawn capacity may be below the initial volume).
        assert route["volume_mt"] >= 0.0 and (model.turn == 0 or route["volume_mt"] <= route["capacity_mt"] + TOL), (
            f"{where}: route {rid} {route}"
        )
        assert 0.0 <= route["political_risk"] <= 1.0
        assert 0.0 <= route["ca_export_share"] <= 1.0


def assert_finite(frame: pd.DataFrame, what: str) -> None:
    numeric = frame.select_dtypes(include=["number", "bool"])
    assert len(numeric.columns) >= len(frame.columns) - 4, f"{what}: non-numeric columns {frame.dtypes}"
    bad = ~np.isfinite(numeric.to_numpy(dtype=float))
    assert not bad.any(), f"{what}: non-finite values in {sorted(numeric.columns[bad.any(axis=0)])}"


def columns(frame: pd.DataFrame, names) -> np.ndarray:
    return frame[list(names)].to_numpy(dtype=float)


def assert_within(values: np.ndarray, lo: float, hi: float, what: str) -> None:
    assert ((values >= lo - TOL) & (values <= hi + TOL)).all(), f"{what}: outside [{lo}, {hi}]"


def assert_rows_sum_to_one(values: np.ndarray, what: str) -> None:
    assert np.abs(values.sum(axis=1) - 1.0).max() <= SHARE_SUM_TOL, f"{what}: rows do not sum to 1"


def check_frames(model: CompetitionModel) -> None:
    """Invariants of the recorded model.csv and actors.csv."""
    mf = model_frame(model)
    af = actors_frame(model)
    assert len(mf) == model.turn + 1
    assert_finite(mf, "model.csv")
    # actors.csv stacks powers and hosts: each kind has its own columns (NaN for the other kind).
    hosts, powers = af[af["kind"] == "host"], af[af["kind"] == "power"]
    assert len(hosts) == len(HOSTS) * (model.turn + 1) and len(powers) == len(POWERS) * (model.turn + 1)
    assert_finite(hosts[list(model.hosts["kaz"].record)], "actors.csv (hosts)")
    assert_finite(powers[list(model.powers["china"].record)], "actors.csv (powers)")

    influence = columns(mf, (f"influence_{p}" for p in POWERS))
    assert_within(influence, 0.0, 1.0, "influence_<power>")
    assert_rows_sum_to_one(influence, "influence_<power>")
    assert_within(columns(mf, (f"diversification_{h}" for h in HOSTS)), 0.0, 1.0, "diversification_<host>")
    assert_within(columns(mf, (f"china_debt_share_{h}" for h in HOSTS)), 0.0, 1.0, "china_debt_share_<host>")
    assert_within(columns(mf, (f"debt_to_gdp_{h}" for h in HOSTS)), 0.0, np.inf, "debt_to_gdp_<host>")
    assert_within(columns(mf, (f"debt_service_ratio_{h}" for h in HOSTS)), 0.0, np.inf, "debt_service_ratio_<host>")
    assert np.isin(columns(mf, (f"distress_{h}" for h in HOSTS)), (0.0, 1.0)).all()
    played = mf["turn"].to_numpy() > 0  # a drawn capacity may be below the initial volume
    volume = columns(mf, (f"route_volume_mt_{r}" for r in ROUTES))[played]
    capacity = columns(mf, (f"route_capacity_mt_{r}" for r in ROUTES))[played]
    assert (volume <= capacity + TOL).all(), "route volume above capacity"

    shares = columns(hosts, (f"influence_share_{p}" for p in POWERS))
    assert_within(shares, 0.0, 1.0, "influence_share_<power>")
    assert_rows_sum_to_one(shares, "influence_share_<power>")
    assert_within(columns(hosts, ["diversification"]), 0.0, 1.0, "diversification")
    assert_within(columns(hosts, ["debt_usd_bn"]), 0.0, np.inf, "debt_usd_bn")
    assert_within(columns(hosts, (f"opinion_{p}" for p in POWERS)), -1.0, 1.0, "opinion_<power>")
    assert_within(columns(hosts, (f"debt_share_{p}" for p in POWERS)), 0.0, 1.0, "debt_share_<power>")
    unit = ["satellite_coverage", "cloud_western", "logistics_western", "renewables_share",
            *(c for c in hosts.columns if c.startswith(("telecom_", "energy_exports_to_")))]  # fmt: skip
    assert_within(columns(hosts, unit), 0.0, 1.0, "host shares")

    assert_within(columns(powers, ["budget_available"]), 0.0, np.inf, "budget_available")
    assert_within(columns(powers, ["spent_total"]), 0.0, np.inf, "spent_total")


def check_accepted_offers(model: CompetitionModel) -> None:
    """Every accepted offer of the event log was legal for its power."""
    accepted = [e for e in model.event_log if e["status"] == "accepted"]
    for e in accepted:
        power = model.powers[e["actor"]]
        move = model.moves[e["move"]]
        assert e["move"] in power.toolkit, e
        assert e["target"] in HOSTS, e
        assert move.size_min_usd_bn - TOL <= e["size_usd_bn"] <= move.size_max_usd_bn + TOL, e
        assert move.domain == e["domain"], e
    # Deals events sign (status "deal") are commitments too, at their own sizes (not offers).
    committed = accepted + [e for e in model.event_log if e["status"] == "deal"]
    for pid, power in model.powers.items():
        mine = [e for e in committed if e["actor"] == pid]
        assert power.offers_accepted == len(mine)
        cost = sum(e["size_usd_bn"] * model.moves[e["move"]].public_cost_share for e in mine)
        assert cost == pytest.approx(power.ledger.total, rel=1e-9, abs=1e-9)
        by_move: dict[str, float] = {}
        for e in mine:
            by_move[e["move"]] = by_move.get(e["move"], 0.0) + e["size_usd_bn"]
        assert by_move == pytest.approx(power.ledger.by_move, rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------------------------ the games


@pytest.mark.parametrize("game", range(N_GAMES))
def test_random_game_keeps_invariants(game):
    rng = np.random.default_rng(game)
    overrides = perturbed_overrides(rng)
    turns = int(rng.integers(TURNS[0], TURNS[1] + 1))
    model = CompetitionModel(seed=game, overrides=overrides, turns=turns)
    check_state(model)
    while model.running:
        model.step()
        check_state(model)
    assert model.turn == turns
    check_frames(model)
    check_accepted_offers(model)


def test_schema_refuses_effects_that_would_shrink_gdp():
    """Completed projects multiply GDP by 1 + gdp_level_pct x intensity / 100: a negative effect
    could drive GDP below zero, so the schema keeps it non-negative (costs are debt and damage)."""
    with pytest.raises(ConfigError, match="moves.policy_bank_loan.effects.gdp_level_pct"):
        load_scenario("baseline", ["moves.policy_bank_loan.effects.gdp_level_pct=-100.0"])
