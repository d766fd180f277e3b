"""Values at the edges of the schema (issue 6, section 1): each sample of the issue, with the value
the game must give. The inputs the schema now refuses are cases of tests/test_cli_errors.py
(group "schema bounds"); the whole range is fuzzed by tests/test_fuzz.py."""

from __future__ import annotations

import math

import pytest
from clitools import run_cli

from strategy_abm import CompetitionModel
from strategy_abm.engine.events import _bounded
from strategy_abm.scenario.config import GDP_USD_BN, STATE_BOUNDS, load_scenario
from strategy_abm.scenario.ids import HOSTS, ROUTES
from strategy_abm.strategies.powers import round_down


def offered_sizes(model: CompetitionModel, move: str) -> list[float]:
    return [row["size_usd_bn"] for row in model.event_log if row["move"] == move and row["status"] in
            ("accepted", "rejected")]  # fmt: skip


# ------------------------------------------------------------------------------------ the offer grid


def test_round_down_never_goes_below_the_size_min():
    assert round_down(0.5000005, 0.5000005) == 0.5000005  # off the 1e-6 grid: offered as it is
    assert round_down(0.5000009, 0.5000005) == 0.5000005
    assert round_down(0.7000004, 0.2) == 0.7  # on the grid: rounded down as before
    assert round_down(0.2, 0.2) == 0.2
    assert round_down(3.0, 0.2) == 3.0


OFF_GRID = ["moves.power_grid.size_min_usd_bn=0.5000005", "moves.power_grid.size_max_usd_bn=0.5000005"]


def test_the_issue_sample_off_the_grid_runs(tmp_path):
    code, _, err = run_cli("run", *[a for s in OFF_GRID for a in ("--set", s)], "--turns", "1", "--out",
                           tmp_path / "out", "--no-plots", "--quiet")  # fmt: skip
    assert code == 0, err


@pytest.mark.parametrize("strategy", ["incumbent", "greedy", "parametric"])
def test_sizes_off_the_grid_are_offered_within_their_bounds(strategy):
    """Russia offers power grids (a doctrine, greedy at the largest acceptable size, parametric):
    every offer is exactly the one legal size."""
    sizes = []
    for seed in range(3):
        model = CompetitionModel(scenario="baseline", seed=seed, turns=8,
                                 overrides=[*OFF_GRID, f"powers.russia.strategy={strategy}"]).run()  # fmt: skip
        sizes += offered_sizes(model, "power_grid")
    assert sizes, "no power grid was offered"
    assert set(sizes) == {0.5000005}


def test_a_minimum_off_the_grid_with_a_wider_range():
    model = CompetitionModel(scenario="baseline", seed=2, turns=12,
                             overrides=["moves.power_grid.size_min_usd_bn=0.3000005"]).run()  # fmt: skip
    sizes = offered_sizes(model, "power_grid")
    assert sizes
    for s in sizes:
        assert 0.3000005 <= s <= 4.2
        assert s == 0.3000005 or abs(s * 1e6 - round(s * 1e6)) < 1e-6  # the minimum itself, or on the grid


# ------------------------------------------------------------------------------------ the route split


def test_logit_scale_0_1_plays_with_finite_volumes_within_demand():
    model = CompetitionModel(scenario="baseline", seed=3, turns=12, record=False,
                             overrides=["trade.logit_scale_usd_per_t=0.1"])  # fmt: skip
    while model.running:
        model.step()
        volumes = [model.routes[r]["volume_mt"] for r in ROUTES]
        assert all(math.isfinite(v) and v >= 0 for v in volumes)
        for r in ROUTES:
            assert model.routes[r]["volume_mt"] <= model.routes[r]["capacity_mt"] + 1e-12
        assert sum(volumes) <= model.trade["demand_mt"] + 1e-9
    # Shippers all but ignore cost gaps of 0.1 USD/t or more: nearly all cargo has moved to the
    # cheapest route (northern, with room for all demand), nearly none is left on the dearest.
    demand = model.trade["demand_mt"]
    assert model.routes["northern"]["volume_mt"] > 0.95 * demand
    assert model.routes["southern"]["volume_mt"] < 0.01 * demand


# ------------------------------------------------------------------------------------ world minerals


def test_world_output_below_the_regions_output_is_refused():
    code, stdout, err = run_cli("validate", "baseline", "--set", "world.minerals.uranium.world_output_t=1000.0")
    assert code == 2 and stdout == ""
    assert err.startswith("strategy-abm: error: world.minerals.uranium.world_output_t: ") and err.count("\n") == 1


def test_world_output_at_its_limit_keeps_secured_shares_within_one():
    """World uranium output just covering China's mining (3.5%) and the region's 24,612 t, all of
    it taken by the US: the US secures the whole non-China part, China its own, 1 in all."""
    base = load_scenario("baseline")
    region = sum(h.minerals["uranium"].output_t for h in base.hosts.values())
    limit = region / (1.0 - base.world.minerals["uranium"].china_share)
    to_us = "{ china = 0.0, us = 1.0, g7 = 0.0, russia = 0.0, other = 0.0 }"
    model = CompetitionModel(scenario="baseline", seed=1, turns=1, overrides=[
        f"world.minerals.uranium.world_output_t={limit!r}",
        f"hosts.kaz.minerals.uranium.offtake={to_us}", f"hosts.uzb.minerals.uranium.offtake={to_us}",
    ])  # fmt: skip
    assert model.world_minerals["uranium"]["world_output_t"] == limit
    # Per mineral, the shares of world supply (China's own mining plus offtakes) sum to at most 1.
    shares = model.game.metric_state().minerals  # (kernels.mineral_shares, computed with the payoffs)
    assert shares["us"] == pytest.approx((1.0 - 0.035) / 5)  # uranium's part of the five-mineral mean
    assert 0.0 <= model.metrics["west_secured_mineral_share"] <= 1.0


# ------------------------------------------------------------------------------------ events at the edges


def _event(path: str, op: str, value: float, target: str | None = "kaz") -> list[str]:
    """Baseline event 0 rewritten to fire at the start with one effect."""
    out = ["events.0.at=2025Q1", f"events.0.effects.0.path={path}", f"events.0.effects.0.op={op}",
           f"events.0.effects.0.value={value!r}"]  # fmt: skip
    return out + ([f"events.0.target={target}"] if target else [])


def test_an_event_adding_minus_two_to_a_growth_rate_is_clamped():
    model = CompetitionModel(
        scenario="baseline", seed=1, turns=8, overrides=_event("hosts.{host}.growth_rate", "add", -2.0)
    )
    model.step()
    assert model.hosts["kaz"].growth_rate == -0.3  # the schema's floor, not -1.96
    model.run()
    assert all(math.isfinite(v) for v in model.metrics.values())
    assert 0.0 < model.hosts["kaz"].gdp_usd_bn < 261.4


def test_an_event_adding_minus_two_to_demand_growth_is_clamped():
    model = CompetitionModel(
        scenario="baseline", seed=1, turns=2, overrides=_event("trade.demand_growth", "add", -2.0, None)
    )
    model.step()
    assert model.trade["demand_growth"] == -0.5
    assert model.trade["demand_mt"] == pytest.approx(25.5 * 0.5**0.25, rel=1e-12)


def test_an_event_cannot_multiply_gdp_past_world_gdp():
    effects = ('events.0.effects=[{ path = "hosts.{host}.gdp_usd_bn", op = "set", value = 1e5 }, '
               '{ path = "hosts.{host}.gdp_usd_bn", op = "mul", value = 100.0 }]')  # fmt: skip
    model = CompetitionModel(scenario="baseline", seed=1, turns=4, overrides=["events.0.at=2025Q1", effects])
    model.run()
    assert model.hosts["kaz"].gdp_usd_bn == GDP_USD_BN[1]
    assert all(math.isfinite(v) for v in model.metrics.values())


def test_event_bounds_never_push_a_variable_further_out():
    assert _bounded("growth_rate", -2.0, 0.04) == -0.3
    assert _bounded("gdp_usd_bn", 0.0, 10.0) == 0.1
    assert _bounded("maturity_years", 1e-320, 15.0) == 0.25
    # A maturity restructured past 60 years may stay there, and shorten, but not lengthen.
    assert _bounded("maturity_years", 70.0, 65.0) == 65.0
    assert _bounded("maturity_years", 62.0, 65.0) == 62.0
    assert STATE_BOUNDS["debt"] == (0.0, 1e5)


def test_a_long_slump_keeps_gdp_at_its_floor():
    """Growth -0.3 and the largest distress penalty for 60 annual turns: GDP would fall below
    1e-40 of its start; it stays at the schema's floor and every metric stays finite."""
    overrides = ["turns_per_year=1", "rules.distress_growth_penalty=0.5", "rules.distress_service_ratio=0.01",
                 *(f"hosts.{h}.growth_rate=-0.3" for h in HOSTS)]  # fmt: skip
    model = CompetitionModel(scenario="baseline", seed=1, turns=60, record=False, overrides=overrides).run()
    assert [model.hosts[h].gdp_usd_bn for h in HOSTS] == [GDP_USD_BN[0]] * len(HOSTS)
    assert all(math.isfinite(v) for v in model.metrics.values())
    for host in model.hosts.values():
        assert all(math.isfinite(v) for v in host.record.values() if isinstance(v, float))


# ------------------------------------------------------------------------------------ experiments


def test_a_factor_range_beyond_a_bound_is_refused_at_load(tmp_path):
    """A range of [1, 1e308] on trade.demand_mt (bounded by 1e4 Mt) stored non-finite results;
    the factor check refuses it before anything runs."""
    exp = tmp_path / "wide.toml"
    exp.write_text(
        'name = "wide"\nscenario = "baseline"\nhorizon_turns = 2\nreplications = 1\nmaster_seed = 1\n'
        '[design]\nkind = "latin_hypercube"\nsamples = 4\n'
        '[factors."trade.demand_mt"]\nrange = [1.0, 1e308]\n'
        '[record]\nfinal = ["influence_china"]\n'
    )
    out = tmp_path / "out"
    code, stdout, err = run_cli("sweep", exp, "--out", out, "--quiet")
    assert code == 2, err
    assert err.startswith("strategy-abm: error: factors.trade.demand_mt: ") and err.count("\n") == 1, err
    assert "10000" in err  # names the bound
    assert not out.exists()
