"""The metric registry: every model-level metric is declared once (name, description, unit, 0/1,
function) and flows from there to model.csv, summary.json and a sweep's results."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from clitools import run_cli, sweep_ok

from strategy_abm.engine import metrics
from strategy_abm.engine.metrics import (
    BINARY_METRICS,
    METRIC_COLUMNS,
    REGISTRY,
    Metric,
    metric,
    register_metric,
    unregister_metric,
)
from strategy_abm.experiments.results import load_results
from strategy_abm.scenario.ids import HOSTS


@pytest.fixture
def toy_metrics():
    """Two toy metrics registered for one test: a single one (the Northern route's volume plus
    one: a value known from another column) and a 0/1 family per host (debt above 50% of GDP)."""

    @metric("toy_northern_plus_one", "the Northern route's cargo plus one (a test metric)", "Mt/yr")
    def _toy(s, _):
        return s.model.routes["northern"]["volume_mt"] + 1.0

    @metric("toy_heavy_debt_{id}", "1 while debt is above half of GDP (a test metric)", "0/1", per="host", binary=True)
    def _heavy(s, h):
        return float(s.model.hosts[h].debt_to_gdp > 0.5)

    try:
        yield
    finally:
        unregister_metric("toy_northern_plus_one")
        unregister_metric("toy_heavy_debt_{id}")


def test_a_registered_metric_reaches_model_csv_and_summary(toy_metrics, tmp_path):
    assert METRIC_COLUMNS[-len(HOSTS) - 1 :] == ["toy_northern_plus_one", *(f"toy_heavy_debt_{h}" for h in HOSTS)]
    assert {f"toy_heavy_debt_{h}" for h in HOSTS} <= BINARY_METRICS
    out = tmp_path / "run"
    code, _, stderr = run_cli("run", "--out", out, "--turns", "2", "--no-plots", "--quiet")
    assert code == 0, stderr
    df = pd.read_csv(out / "model.csv")
    assert list(df.columns) == ["turn", "date", *METRIC_COLUMNS]
    assert df["toy_northern_plus_one"].tolist() == (df["route_volume_mt_northern"] + 1.0).tolist()
    for h in HOSTS:
        assert df[f"toy_heavy_debt_{h}"].tolist() == (df[f"debt_to_gdp_{h}"] > 0.5).astype(float).tolist()
    final = json.loads((out / "summary.json").read_text())["final"]
    assert list(final) == METRIC_COLUMNS
    assert final["toy_northern_plus_one"] == df["toy_northern_plus_one"].iloc[-1]


def test_a_registered_metric_can_be_recorded_by_a_sweep(toy_metrics, tmp_path):
    exp = tmp_path / "toy.toml"
    exp.write_text(
        'name = "toy"\nscenario = "baseline"\nhorizon_turns = 2\nreplications = 2\nmaster_seed = 5\n\n'
        '[design]\nkind = "full_factorial"\n\n[factors."powers.china.strategy"]\nvalues = ["bri_classic"]\n\n'
        '[record]\nfinal = ["toy_northern_plus_one", "route_volume_mt_northern", "toy_heavy_debt_kgz"]\n'
        "series = []\n",
        encoding="utf-8",
    )
    out = tmp_path / "sweep"
    sweep_ok(exp, out)
    results = load_results(out)
    assert len(results) == 2
    assert results["toy_northern_plus_one"].tolist() == (results["route_volume_mt_northern"] + 1.0).tolist()
    assert set(results["toy_heavy_debt_kgz"]) <= {0.0, 1.0}


def test_unregistering_restores_the_columns():
    before = list(METRIC_COLUMNS)
    register_metric(Metric("toy_zero", "always 0 (a test metric)", "", lambda s, _: 0.0))
    assert [*before, "toy_zero"] == METRIC_COLUMNS
    unregister_metric("toy_zero")
    assert before == METRIC_COLUMNS


@pytest.mark.parametrize(
    "bad, problem",
    [
        (Metric("influence_{id}", "a second influence", "", lambda s, p: 0.0, per="power"), "already a metric"),
        (Metric("toy_{id}", "no family", "", lambda s, i: 0.0), "placeholder"),
        (Metric("toy", "a family without {id}", "", lambda s, i: 0.0, per="host"), "placeholder"),
        (Metric("toy_{id}", "an unknown family", "", lambda s, i: 0.0, per="mineral"), "per must be"),
        (Metric("toy", "  ", "", lambda s, i: 0.0), "description"),
    ],
)
def test_a_bad_registration_is_refused_and_changes_nothing(bad, problem):
    before = list(METRIC_COLUMNS)
    with pytest.raises(ValueError, match=problem):
        register_metric(bad)
    assert before == METRIC_COLUMNS and bad not in REGISTRY


def test_every_registered_metric_has_a_description_and_a_unit():
    assert REGISTRY, "no metric registered"
    for m in REGISTRY:
        assert m.description.strip() and "\n" not in m.description, m.name
        assert m.unit.strip(), m.name


def test_the_registry_derives_the_columns_and_the_binary_metrics():
    assert [c for m in REGISTRY for c in m.columns()] == METRIC_COLUMNS
    assert len(set(METRIC_COLUMNS)) == len(METRIC_COLUMNS)
    assert {f"distress_{h}" for h in HOSTS} == BINARY_METRICS
    assert metrics.METRIC_COLUMNS is METRIC_COLUMNS  # updated in place: importers see registrations


def test_the_readme_lists_every_metric_as_the_registry_declares_it():
    # The README's model.csv table is the registry's text: a metric added or reworded shows here.
    placeholder = {"power": "<p>", "host": "<h>", "route": "<r>", None: ""}
    rows = [f"| `{m.name.replace('{id}', placeholder[m.per])}` | {m.description} | {m.unit} |" for m in REGISTRY]
    table = "\n".join(["| column | meaning | unit |", "|---|---|---|", *rows])
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README.md's model.csv table differs from the registry:\n" + table


def _reference_values(model) -> dict[str, float]:
    """The metrics the rules compute (kernels.reported_values, reported_scalars), by the formulas
    their descriptions give, in Python over the game's state (as the registry computed them
    before the rules did): the same numbers bit for bit."""
    game = model.game
    out = {}
    for hid, host in game.hosts.items():
        total = 0.0
        for c in host.creditors.values():
            total += c["debt"]
        china = host.creditors["china"]["debt"] if "china" in host.creditors else 0.0
        out[f"debt_to_gdp_{hid}"] = total / host.gdp_usd_bn
        out[f"china_debt_share_{hid}"] = china / total if total > 0 else 0.0
        out[f"distress_{hid}"] = float(bool(host.distress))
        out[f"distress_turns_{hid}"] = float(int(host.distress_turns))
        out[f"real_gdp_usd_bn_{hid}"] = host.gdp_usd_bn / host.price_level
    westward = game.scenario.trade.westward_route
    out["middle_ca_export_share"] = game.routes[westward]["ca_export_share"]
    minerals = game.metric_state().minerals
    out["west_secured_mineral_share"] = sum(minerals[p] for p, s in game.powers.items() if s.bloc == "western")
    tung = game.world_minerals["tungsten"]
    region = sum(h.minerals["tungsten"]["output_t"] for h in game.hosts.values())
    world = max(tung["world_output_t"] + region - game.initial_region_output["tungsten"], 1e-9)
    out["tungsten_non_china_share"] = 1.0 - tung["china_share"] * tung["world_output_t"] / world
    out["china_overland_energy_usd_bn"] = sum(
        h.energy_exports_usd_bn * h.energy_export_shares["china"] for h in game.hosts.values()
    )
    return out


@pytest.mark.parametrize("scenario,seed", [("baseline", 3), ("bri_classic", 0), ("hindcast_2022", 1)])
def test_metrics_the_rules_compute_equal_their_formulas(scenario, seed):
    """Every turn, the metrics read from the rules' results (``reads``) equal their formulas, and
    each metric's function gives what metric_row gathered."""
    from strategy_abm import CompetitionModel  # noqa: PLC0415

    model = CompetitionModel(scenario=scenario, seed=seed, turns=24)
    checked = 0
    while True:
        row = model.metrics
        for column, value in _reference_values(model).items():
            assert row[column] == value or (value != value and row[column] != row[column]), column
            checked += 1
        s = model.game.metric_state()
        ids = metrics.family_ids(model.game)
        for m in REGISTRY:
            for column, i in zip(m.columns(ids), metrics._ids(m, ids), strict=True):
                assert m.compute(s, i) == row[column] or row[column] != row[column], column
        if not model.running:
            break
        model.step()
    assert checked > 24 * 25


def test_payoff_total_is_the_running_sum_of_payoffs_times_the_turn_length(tmp_path):
    """``payoff_total_<p>`` (what a tuner or a tournament scores a power by) is, after each turn,
    the sum of ``payoff_<p>`` x dt over turns 1.. so far (turn 0 counts nothing), the same number as
    actors.csv's ``payoff_total``."""
    out = tmp_path / "run"
    code, _, stderr = run_cli("run", "--out", out, "--turns", "12", "--seed", "4", "--no-plots", "--quiet")
    assert code == 0, stderr
    model = pd.read_csv(out / "model.csv")
    actors = pd.read_csv(out / "actors.csv")
    dt = 0.25  # the baseline's quarterly turns
    for p in ("china", "us", "g7", "russia"):
        running, expected = 0.0, []
        for turn, payoff in zip(model["turn"], model[f"payoff_{p}"], strict=True):
            running += payoff * dt if turn >= 1 else 0.0
            expected.append(running)
        assert model[f"payoff_total_{p}"].tolist() == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert model[f"payoff_total_{p}"].iloc[-1] > 0.0
        mine = actors[actors["actor"] == p].sort_values("turn")
        assert model[f"payoff_total_{p}"].tolist() == mine["payoff_total"].tolist()
