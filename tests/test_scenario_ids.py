"""Actors are data: a scenario's own powers, hosts, routes, minerals, blocs and partners (issue 7,
item 2, "the ids are data"). A scenario that extends the baseline and adds a sixth host, or drops a
power, runs through the CLI, ``Game``, ``CompetitionModel`` and sweeps with no code change, and
its outputs follow its ids; unknown ids are refused in one line naming the field."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from clitools import one_error_line, run_cli, sweep_ok

import strategy_abm
from strategy_abm import CompetitionModel, Game
from strategy_abm.engine.metrics import (
    BINARY_METRICS,
    METRIC_COLUMNS,
    binary_metrics,
    is_binary,
    metric_columns,
    metric_of,
)
from strategy_abm.scenario.config import ConfigError, configs_dir, load_scenario
from strategy_abm.scenario.ids import HOSTS, POWERS

EXAMPLES = configs_dir() / "examples"
SIX = EXAMPLES / "six_hosts.toml"
THREE = EXAMPLES / "three_powers.toml"
TURNS = 6


@pytest.fixture(scope="module")
def six():
    return load_scenario(SIX)


@pytest.fixture(scope="module")
def three():
    return load_scenario(THREE)


@pytest.fixture(scope="module")
def six_game():
    return CompetitionModel(scenario=SIX, seed=0, turns=TURNS).run()


# ------------------------------------------------------------------ a sixth host


def test_a_sixth_host_is_data_in_file_order(six):
    assert six.host_ids == (*HOSTS, "aze")
    assert six.power_ids == POWERS
    aze = six.hosts["aze"]
    # Tables the file leaves out come from the scenario's own ids: every mineral, no output.
    assert tuple(aze.minerals) == six.mineral_ids
    assert all(m.output_t == 0.0 and m.offtake["other"] == 1.0 for m in aze.minerals.values())
    assert set(aze.opinion) == set(POWERS) and set(aze.creditors) == {*POWERS, "multilateral", "private"}
    assert six.display_names()["aze"] == "Azerbaijan"  # no display given: its name


def test_the_metric_columns_follow_the_scenario(six):
    cols = metric_columns(six)
    assert metric_columns() == METRIC_COLUMNS and binary_metrics() == BINARY_METRICS  # the baseline's
    assert set(cols) - set(METRIC_COLUMNS) == {
        f"{family}_aze"
        for family in ("debt_to_gdp", "china_debt_share", "debt_service_ratio", "distress", "distress_turns",
                       "diversification", "gdp_usd_bn", "real_gdp_usd_bn")
    }  # fmt: skip
    # Each family's columns in the scenario's order: the new host last.
    assert cols[cols.index("debt_to_gdp_tkm") + 1] == "debt_to_gdp_aze"
    assert binary_metrics(six) == BINARY_METRICS | {"distress_aze"}
    assert is_binary("distress_aze") and not is_binary("distress_turns_aze")
    assert metric_of("distress_turns_aze").name == "distress_turns_{id}"
    assert metric_of("debt_to_gdp_") is None and metric_of("no_such_metric") is None


def test_a_sixth_host_plays_through_the_mesa_shell(six_game):
    model = six_game
    frame = model.datacollector.get_model_vars_dataframe()
    first = frame.iloc[0]
    # Turn 0 is the calibration: 5.5 bn of debt on a GDP of 74.3 bn.
    assert first["debt_to_gdp_aze"] == pytest.approx(5.5 / 74.3, rel=1e-12)
    assert first["china_debt_share_aze"] == pytest.approx(0.05, rel=1e-12)
    assert first["gdp_usd_bn_aze"] == 74.3
    assert list(model.hosts) == [*HOSTS, "aze"]
    assert set(model.metrics) == set(metric_columns(model.scenario))


def test_doctrines_give_an_unnamed_host_their_default_weight(six_game):
    """The doctrines name the brief's five states; Azerbaijan gets default_host_weight (0.1), so
    their offers reach it; with a default of 0 none do, and the five states' offers are the same
    in the first turn (the weights of the hosts they name are unchanged)."""
    offers = {p: [e for e in six_game.event_log if e["actor"] == p and e["target"] == "aze"
                  and e["status"] in ("accepted", "rejected")] for p in POWERS}  # fmt: skip
    assert all(offers[p] for p in ("china", "us", "g7")), {p: len(v) for p, v in offers.items()}
    none = CompetitionModel(
        scenario=SIX,
        seed=0,
        turns=TURNS,
        overrides=[f"powers.{p}.strategy_params.default_host_weight=0" for p in POWERS],
    ).run()
    assert not [e for e in none.event_log if e["target"] == "aze" and e["status"] in ("accepted", "rejected")]


def test_a_doctrines_default_host_weight_is_a_bounded_parameter():
    with pytest.raises(ConfigError, match=r"^powers\.china\.strategy_params\.default_host_weight: -1 is outside"):
        load_scenario("baseline", ["powers.china.strategy_params.default_host_weight=-1"])


def test_a_sixth_host_plays_through_the_game_contract(six):
    game = Game(six, seed=3)
    assert game.waiting() == list(POWERS)
    game.advance()  # every power by its configured strategy
    waiting = game.waiting()
    assert set(waiting) <= set(six.host_ids)
    while not game.over and game.turn < 2:
        game.advance()
    assert game.display("aze", start=True) == "Azerbaijan" and game.display("us") == "the US"
    assert game.display("multilateral") == "multilateral"  # no actor: the id itself


def test_a_sixth_host_runs_from_the_cli(tmp_path):
    out = tmp_path / "six"
    code, stdout, stderr = run_cli("run", SIX, "--turns", "3", "--out", out)
    assert code == 0, stderr
    assert "Azerbaijan" in stdout  # the end-of-game table names it
    model = pd.read_csv(out / "model.csv")
    assert list(model.columns) == ["turn", "date", *metric_columns(load_scenario(SIX))]
    assert model["debt_to_gdp_aze"].iloc[0] == pytest.approx(5.5 / 74.3, rel=1e-12)
    actors = pd.read_csv(out / "actors.csv")
    assert list(actors[actors["turn"] == 0]["actor"]) == [*POWERS, *HOSTS, "aze"]
    assert len(actors[actors["actor"] == "aze"]) == 4  # turns 0-3
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["hosts"]) == [*HOSTS, "aze"]
    assert summary["final"]["debt_to_gdp_aze"] == pytest.approx(model["debt_to_gdp_aze"].iloc[-1], rel=1e-12)
    assert {p.name for p in (out / "plots").iterdir()} >= {"influence.png", "debt.png", "payoffs.png"}


def test_a_sixth_host_sweeps_with_its_columns(tmp_path):
    exp = tmp_path / "six.toml"
    exp.write_text(
        f'name = "six"\nscenario = "{SIX}"\nhorizon_turns = 2\nreplications = 2\nmaster_seed = 1\n\n'
        '[design]\nkind = "full_factorial"\n\n[factors."hosts.aze.debt_ceiling_pct_gdp"]\nvalues = [20.0, 40.0]\n\n'
        '[record]\nfinal = ["debt_to_gdp_aze", "distress_aze"]\nseries = ["gdp_usd_bn_aze"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    sweep_ok(exp, out)
    schema = pq.read_schema(next((out / "results").glob("part-*.parquet")))
    assert schema.names[-2:] == ["debt_to_gdp_aze", "distress_aze"]
    results = pd.concat(pd.read_parquet(p) for p in sorted((out / "results").glob("part-*.parquet")))
    assert len(results) == 4 and results["debt_to_gdp_aze"].between(0.0, 1.0).all()
    series = pd.concat(pd.read_parquet(p) for p in sorted((out / "series").glob("part-*.parquet")))
    assert (series.loc[series["turn"] == 0, "gdp_usd_bn_aze"] == 74.3).all()


def test_an_experiment_may_not_record_a_host_its_scenario_lacks(tmp_path):
    exp = tmp_path / "base.toml"
    exp.write_text(
        'name = "b"\nscenario = "baseline"\nhorizon_turns = 2\nreplications = 1\nmaster_seed = 1\n\n'
        '[design]\nkind = "full_factorial"\n\n[factors."powers.china.strategy"]\nvalues = ["bri_2"]\n\n'
        '[record]\nfinal = ["debt_to_gdp_aze"]\n',
        encoding="utf-8",
    )
    code, _, stderr = run_cli("sweep", exp, "--out", tmp_path / "o", "--quiet")
    assert code == 2
    assert "record.final: unknown metric 'debt_to_gdp_aze'" in one_error_line(stderr)


# ------------------------------------------------------------------ three powers


def test_dropping_a_power_removes_it_everywhere(three):
    assert three.power_ids == ("china", "us", "russia")
    assert three.creditor_ids == ("china", "us", "russia", "multilateral", "private")
    assert three.bloc_ids == ("chinese", "western", "russian")
    assert three.rules.western_split == {"us": 1.0}
    kaz = three.hosts["kaz"]
    assert list(kaz.opinion) == ["china", "us", "russia"]
    assert kaz.creditors["multilateral"].share == 0.50
    assert kaz.minerals["uranium"].offtake == {"china": 0.5, "us": 0.1, "russia": 0.2, "other": 0.2}


def test_three_powers_run_from_the_cli_and_the_game(tmp_path, three):
    out = tmp_path / "three"
    code, _, stderr = run_cli("run", THREE, "--turns", "2", "--out", out, "--no-plots")
    assert code == 0, stderr
    model = pd.read_csv(out / "model.csv")
    assert not [c for c in model.columns if c.endswith("_g7")]
    assert [c for c in model.columns if c.startswith("influence_")] == [
        "influence_china",
        "influence_us",
        "influence_russia",
    ]
    assert sum(model[f"influence_{p}"].iloc[-1] for p in three.power_ids) == pytest.approx(1.0, abs=1e-12)
    actors = pd.read_csv(out / "actors.csv")
    assert list(actors[actors["turn"] == 1]["actor"]) == ["china", "us", "russia", *HOSTS]
    assert "debt_share_g7" not in actors.columns and "opinion_g7" not in actors.columns
    game = Game(three, seed=0)
    assert game.waiting() == ["china", "us", "russia"]
    assert "g7" not in game.hosts["kgz"].influence


def test_the_us_alone_in_the_west_has_all_western_ties(three):
    """With the G7 dropped, the US is credited with the whole Western trade share (western_split 1)."""
    from strategy_abm.engine import kernels

    def presence(game, host, power):
        t = game.tables
        return kernels.presence(game.state.hosts, game.layout.offsets, t.power_meta, t.power_static, t.rules,
                                game.host_index[host], game.power_index[power], game.state.routes,
                                t.through)  # fmt: skip

    game = Game(three, seed=0)
    w = three.rules.presence_weights
    us = presence(game, "kaz", "us")
    assert game.tables.power_static[game.power_index["us"], 0] == 1.0  # its Western credit: all
    base = Game(load_scenario("baseline"), seed=0)
    us_base = presence(base, "kaz", "us")
    # Only the credited channels (trade, digital, energy) change: the US had 0.4 of them, now all.
    k = base.hosts["kaz"]
    digital = (
        k.telecom_vendor_shares["western"] + k.cloud_shares["western"] + k.logistics_platform_shares["western"]
    ) / 3
    credited = w["trade"] * k.trade_shares["west"] + w["digital"] * digital
    credited += w["energy"] * k.energy_export_shares["west"]
    assert us - us_base == pytest.approx((1.0 - 0.4) * credited, rel=1e-12)


# ------------------------------------------------------------------ bloc and partner are data


def test_bloc_and_partner_of_each_power_are_scenario_data():
    base = load_scenario("baseline")
    assert {p: c.bloc for p, c in base.powers.items()} == {
        "china": "chinese", "us": "western", "g7": "western", "russia": "russian"}  # fmt: skip
    assert {p: c.partner for p, c in base.powers.items()} == {
        "china": "china", "us": "west", "g7": "west", "russia": "russia"}  # fmt: skip
    game = Game(base, seed=0)
    assert game.powers["g7"].bloc == "western" and game.powers["russia"].partner == "russia"


def test_a_new_partner_must_appear_in_every_hosts_trade_shares():
    with pytest.raises(ConfigError, match=r"^hosts\.kaz\.trade_shares\.west: unknown trade partner"):
        load_scenario("baseline", ["powers.us.partner=usa", "powers.g7.partner=europe"])


def test_the_corridor_interests_read_the_route_data():
    """Russia's corridor interest is the cargo on routes through it (routes.<r>.through); with no
    route through it, the component is 0. The westward route names the Middle Corridor."""
    base = CompetitionModel(scenario="baseline", seed=0, turns=1)
    russia = base.powers["russia"].components["corridor"]
    vol = {r: v["volume_mt"] for r, v in base.routes.items()}
    assert russia == pytest.approx(vol["northern"] / sum(vol.values()), rel=1e-12)
    none = CompetitionModel(scenario="baseline", seed=0, turns=1, overrides=["routes.northern.through=[]"])
    assert none.powers["russia"].components["corridor"] == 0.0
    moved = CompetitionModel(scenario="baseline", seed=0, turns=1, overrides=["trade.westward_route=southern"])
    assert moved.metrics["middle_ca_export_share"] == 0.4  # the southern route's flow_shares.ca_exports


# ------------------------------------------------------------------ unknown ids: one line naming the field


UNKNOWN_POWER = "unknown power (expected one of china, us, g7, russia)"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["hosts.kaz.opinion.india=0.1"], f"hosts.kaz.opinion.india: {UNKNOWN_POWER}"),
        (["rules.western_split.india=0.1"], f"rules.western_split.india: {UNKNOWN_POWER}"),
        (["hosts.kaz.creditors.india={share=0.0, rate=0.01, maturity_years=10.0}"],
         "hosts.kaz.creditors.india: unknown creditor"),
        (["hosts.kaz.minerals.uranium.offtake.india=0.0"],
         "hosts.kaz.minerals.uranium.offtake.india: unknown offtaker"),
        (["hosts.kaz.minerals.cobalt={output_t=1.0}"], "hosts.kaz.minerals.cobalt: unknown mineral"),
        (["moves.corridor_upgrade.effects.route_capacity_mt_per_bn.arctic=1.0"],
         "moves.corridor_upgrade.effects.route_capacity_mt_per_bn.arctic: unknown route"),
        (['routes.northern.through=["india"]'], "routes.northern.through.0: 'india' is not a power of this scenario"),
        (["trade.westward_route=arctic"], "trade.westward_route: 'arctic' is not a route of this scenario"),
        (["powers.china.strategy_params.host_weights.aze=1.0"],
         "powers.china.strategy_params.host_weights.aze: unknown id"),
        (["events.0.target=aze"], "events.0: target 'aze' is not a host id or 'random_host'"),
        (["rules.western_split.us=1.0", "rules.western_split.g7=0.6"],
         "rules.western_split: the western bloc's powers (us, g7)"),
    ],
    ids=["opinion", "western_split", "creditor", "offtake", "mineral", "route-effect", "through", "westward",
         "host-weights", "event-target", "split-sum"],
)  # fmt: skip
def test_unknown_ids_are_refused_naming_the_field(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_scenario("baseline", overrides)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("ident", "message"),
    [("Kaz", "must be 1 to 32 lower-case letters"), ("other", "is reserved"), ("multilateral", "is reserved")],
)
def test_an_actor_id_must_be_a_plain_lower_case_word(ident, message):
    with pytest.raises(ConfigError, match=rf"^hosts\.{ident}: host id '{ident}' {message}"):
        load_scenario(SIX, [f"hosts.{ident}.name=x"])


def test_an_actor_id_cannot_be_both_a_power_and_a_host(tmp_path):
    path = tmp_path / "twice.toml"
    path.write_text(SIX.read_text().replace("[hosts.aze", "[hosts.china").replace('"Azerbaijan"', '"X"'))
    with pytest.raises(ConfigError, match=r"^hosts\.china: is also a power's id"):
        load_scenario(path)


def test_a_drop_that_leaves_shares_short_names_the_vector(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text('extends = "baseline"\ndrop = ["g7"]\nname = "short"\n')
    code, _, stderr = run_cli("run", path, "--out", tmp_path / "o")
    assert code == 2
    # The other four hosts' creditors, two uranium offtakes and rules.western_split: 7 more.
    assert one_error_line(stderr) == (
        "strategy-abm: error: hosts.kaz.creditors: shares sum to 0.9500, must sum to 1 (and 7 more problems)"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ('["india"]', "drop: 'india' is no power, host, route or mineral of the scenario it extends"),
        ('"g7"', "drop: must be a list of ids"),
    ],
)
def test_a_drop_names_ids_of_the_base(tmp_path, drop, message):
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "baseline"\ndrop = {drop}\nname = "bad"\n')
    with pytest.raises(ConfigError, match=f"^{message}"):
        load_scenario(path)


def test_dropping_a_host_removes_its_events_only_if_the_file_says_so(tmp_path):
    """Events are text the file owns: a drop leaves them, and one aimed at a dropped host is refused."""
    path = tmp_path / "no_tjk.toml"
    path.write_text('extends = "baseline"\ndrop = ["tjk"]\nname = "no_tjk"\n')
    with pytest.raises(ConfigError, match=r"^events\.\d+: target 'tjk' is not a host id"):
        load_scenario(path)


def test_dropping_a_host_drops_the_ranges_that_name_it(tmp_path):
    """[ranges] is keyed by paths that name ids, which an extending file cannot take out of the
    merged table: a drop leaves out the ranges naming a dropped id, as any entry keyed by it. The
    baseline without Turkmenistan failed on ranges.hosts.tkm.gdp_usd_bn."""
    path = tmp_path / "no_tkm.toml"
    path.write_text('extends = "baseline"\ndrop = ["tkm"]\nname = "no_tkm"\n')
    sc = load_scenario(path)
    assert "tkm" not in sc.hosts
    base = load_scenario("baseline")
    assert set(sc.ranges) == {k for k in base.ranges if ".tkm." not in k}
    assert sc.ranges["hosts.kaz.creditors.china.share"] == base.ranges["hosts.kaz.creditors.china.share"]


# ------------------------------------------------------------------ ids.py keeps only fixed vocabulary


BASELINE_NAMES = {"POWERS", "HOSTS", "ROUTES", "MINERALS", "BLOCS", "CREDITORS", "TRADE_PARTNERS",
                  "POWER_BLOC", "POWER_PARTNER", "NAMES"}  # fmt: skip
# Where the package may still read the baseline's ids: the baseline's metric columns (METRIC_COLUMNS)
# and the names a re-plotted run falls back on.
ALLOWED = {"engine/metrics.py": {"HOSTS", "POWERS", "ROUTES"}, "report/plots.py": {"NAMES"}}


def test_the_package_reads_the_scenarios_ids_not_the_baselines():
    package = Path(strategy_abm.__file__).parent
    found = {}
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).as_posix()
        if rel == "scenario/ids.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("ids"):
                names = {a.name for a in node.names} & BASELINE_NAMES
                if names - ALLOWED.get(rel, set()):
                    found[rel] = sorted(names - ALLOWED.get(rel, set()))
    assert not found, found


def test_a_sixth_host_runs_again_from_its_resolved_config(tmp_path):
    """config.toml of a run of a scenario with its own actors re-runs byte for byte (no extends, no drop)."""
    first, again = tmp_path / "a", tmp_path / "b"
    assert run_cli("run", SIX, "--turns", "2", "--out", first, "--quiet", "--no-plots")[0] == 0
    assert run_cli("run", first / "config.toml", "--turns", "2", "--out", again, "--quiet", "--no-plots")[0] == 0
    for name in ("model.csv", "actors.csv", "events.csv"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name


def test_a_power_alone_in_its_bloc_has_all_of_its_ties():
    with pytest.raises(ConfigError, match=r"^rules\.western_split\.us: is alone in the western bloc and has all"):
        load_scenario(THREE, ["rules.western_split.us=0.5"])
    with pytest.raises(ConfigError, match=r"^rules\.western_split\.china: is alone in the chinese bloc"):
        load_scenario("baseline", ["rules.western_split.china=0.5"])
    assert load_scenario("baseline", ["rules.western_split.china=1.0"]).rules.western_split == {
        "china": 1.0, "us": 0.4, "g7": 0.6}  # fmt: skip
