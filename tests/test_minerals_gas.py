"""Minerals bounded by their deposits, and the westward gas route (issue 8, items 2 and 3).

Minerals: a venture builds capacity at a deposit up to its maximum output (Kazakhstan's tungsten:
12,000 t/yr, ENERGYDATA_COVE), output ramps up to the capacity and draws down the resources, world
supply moves with the region's output, and the West's secured share stays within [0, 1].

Gas: Turkmenistan's gas is sold by pipeline, so its destinations (about 80% China, DARYO_TM_FITCH)
move only with new pipeline capacity: without a westward pipeline China keeps its share, whatever
the US plays; with one of C bcm/yr the new exports go west and China's share becomes
0.8 E / (E + C), E = 42.5 bcm/yr of exports today.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategy_abm import CompetitionModel
from strategy_abm.engine import kernels as K
from strategy_abm.engine.arrays import (
    H_ENERGY_EXPORTS,
    H_GAS_EXPORTS,
    M_OUTPUT,
    MD_CAPACITY,
    MD_MAX_OUTPUT,
    MD_RAMP_YEARS,
    MD_RESOURCES,
    RL_DT,
)
from strategy_abm.engine.turn import Game
from strategy_abm.scenario.config import (
    ConfigError,
    load_scenario,
    read_scenario_raw,
    resolve_path,
    validate_scenario,
)
from strategy_abm.strategies import kernels as SK
from strategy_abm.strategies.powers import estimate_gain

SEEDS = range(3)
TUNGSTEN_MAX_T = 12000.0  # ENERGYDATA_COVE: Northern Katpar 5 kt + Upper Kairakty 7 kt a year
TUNGSTEN_FILLED = 0.95  # a greedy US fills the deposit: output at least 95% of it by the horizon (ramp-up)
TKM_CHINA_GAS = 0.80  # DARYO_TM_FITCH
TKM_GAS_EXPORTS_BCM = 42.5  # derived: 34 bcm to China (TURKMENNEBIT_34) / 0.8
PIPELINE_BCM = 30.0
NEAR = 0.02  # "stays near 0.8": China's share within two points of it at every turn


def with_events(*events: dict, overrides: tuple[str, ...] = ()):
    """The baseline with ``events`` added to its own."""
    raw = read_scenario_raw(resolve_path("baseline"))
    raw["events"] = [*raw["events"], *events]
    sc = validate_scenario(raw)
    return load_scenario(sc, list(overrides)) if overrides else sc


PIPELINE_EVENT = {
    "name": "trans_caspian", "text": "The Trans-Caspian gas pipeline from {host} is completed", "at": "2030Q1",
    "target": "tkm", "gas_pipeline": {"destination": "west", "capacity_bcm": PIPELINE_BCM},
    "source": "assumption: a test of the rule",
}  # fmt: skip


def game_turns(model: CompetitionModel):
    return model.datacollector.get_agent_vars_dataframe()


# ------------------------------------------------------------------------------------ minerals


@pytest.mark.parametrize("seed", SEEDS)
def test_a_greedy_us_fills_the_tungsten_deposit_and_no_more(seed):
    """A US greedy strategy reached 482,136 t/yr of Kazakh tungsten (six times world output);
    now its ventures stop at the deposit's maximum output, which output ramps up to."""
    model = CompetitionModel(seed=seed, overrides=["powers.us.strategy=greedy"]).run()
    tungsten = model.hosts["kaz"].minerals["tungsten"]
    assert tungsten["capacity_t"] <= TUNGSTEN_MAX_T + 1e-6
    assert TUNGSTEN_FILLED * TUNGSTEN_MAX_T <= tungsten["output_t"] <= tungsten["capacity_t"] + 1e-6
    frame = model.datacollector.get_model_vars_dataframe()
    secured = frame["west_secured_mineral_share"]
    assert ((secured >= 0.0) & (secured <= 1.0)).all(), secured.describe()
    # World supply grows by the region's new output: 1 - China's mining / (world + new output).
    new = sum(h.minerals["tungsten"]["output_t"] for h in model.hosts.values())
    assert frame["tungsten_non_china_share"].iloc[-1] == pytest.approx(1.0 - 0.827 * 81000.0 / (81000.0 + new))


def test_a_venture_builds_capacity_within_the_deposits_room():
    """Ventures build capacity at the best deposit with room left (at most its maximum output);
    once it is full the next venture develops the next deposit, and with none left it builds nothing."""
    game = Game("baseline", seed=0)
    t, lay = game.tables, game.layout
    row = game.state.hosts[game.host_index["kaz"]].copy()
    k = game.move_index["critical_minerals"]
    us = lay.offtakers.index("us")
    tungsten = lay.minerals.index("tungsten")
    assert K.best_deposit(row, lay.offsets, t.moves, t.world_minerals, k) == tungsten
    K.develop_minerals(row, lay.offsets, t.moves, t.world_minerals, us, k, 1.0, 0.1)  # 10,900 t/yr per bn
    assert row[lay.deposit(tungsten, MD_CAPACITY)] == pytest.approx(10900.0)
    assert row[lay.mineral(tungsten, M_OUTPUT)] == 0.0  # output ramps up in the turns that follow
    K.develop_minerals(row, lay.offsets, t.moves, t.world_minerals, us, k, 1.0, 0.1)
    assert row[lay.deposit(tungsten, MD_CAPACITY)] == TUNGSTEN_MAX_T  # 21,800 asked, 12,000 allowed
    assert row[lay.mineral(tungsten, 3 + us)] == 1.0  # all of the new capacity is the offerer's
    nxt = K.best_deposit(row, lay.offsets, t.moves, t.world_minerals, k)
    assert nxt >= 0 and nxt != tungsten
    for m in range(len(lay.minerals)):  # every deposit full: nothing left to develop
        row[lay.deposit(m, MD_CAPACITY)] = row[lay.deposit(m, MD_MAX_OUTPUT)]
    assert K.best_deposit(row, lay.offsets, t.moves, t.world_minerals, k) == -1
    before = row.copy()
    K.develop_minerals(row, lay.offsets, t.moves, t.world_minerals, us, k, 1.0, 0.1)
    for m in range(len(lay.minerals)):
        assert row[lay.deposit(m, MD_CAPACITY)] == before[lay.deposit(m, MD_CAPACITY)]


def test_output_ramps_up_to_capacity_and_stops_when_the_resources_run_out():
    """Output closes on capacity with the ramp-up's time constant, and never takes more than the
    resources left: 12,000 t/yr of capacity, a one-year time constant, quarterly turns."""
    game = Game("baseline", seed=0)
    t, lay = game.tables, game.layout
    hosts = game.state.hosts.copy()
    h, m = game.host_index["kaz"], lay.minerals.index("tungsten")
    dt = t.rules[RL_DT]
    hosts[h, lay.deposit(m, MD_CAPACITY)] = TUNGSTEN_MAX_T
    assert hosts[h, lay.deposit(m, MD_RAMP_YEARS)] == 1.0
    resources = hosts[h, lay.deposit(m, MD_RESOURCES)]
    K.mining(hosts, lay.offsets, t.rules)
    first = TUNGSTEN_MAX_T * (1.0 - math.exp(-dt / 1.0))
    assert hosts[h, lay.mineral(m, M_OUTPUT)] == pytest.approx(first)
    assert hosts[h, lay.deposit(m, MD_RESOURCES)] == pytest.approx(resources - first * dt)
    hosts[h, lay.deposit(m, MD_RESOURCES)] = 1000.0  # less than a quarter's output at capacity
    K.mining(hosts, lay.offsets, t.rules)
    assert hosts[h, lay.mineral(m, M_OUTPUT)] == pytest.approx(1000.0 / dt)
    assert hosts[h, lay.deposit(m, MD_RESOURCES)] == 0.0
    K.mining(hosts, lay.offsets, t.rules)
    assert hosts[h, lay.mineral(m, M_OUTPUT)] == 0.0


def test_maximum_output_below_output_is_an_error():
    with pytest.raises(ConfigError, match=r"hosts\.kaz\.minerals\.uranium\.max_output_t: .*below output_t"):
        load_scenario("baseline", ["hosts.kaz.minerals.uranium.max_output_t=100.0"])


# ------------------------------------------------------------------------------------ Turkmen gas


@pytest.mark.parametrize("us", ["pgii_asymmetric", "fossil_first"])
@pytest.mark.parametrize("seed", SEEDS)
def test_turkmen_gas_stays_with_china_without_a_westward_pipeline(seed, us):
    """Without a westward pipeline China keeps about 80% of Turkmen gas exports at every turn,
    also when the US pushes fossil energy (it moved the share below 0.70 before)."""
    model = CompetitionModel(seed=seed, overrides=[f"powers.us.strategy={us}"])
    shares = []
    while model.running:
        model.step()
        shares.append(model.hosts["tkm"].energy_export_shares["china"])
    assert max(abs(s - TKM_CHINA_GAS) for s in shares) <= NEAR, (min(shares), max(shares))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_completed_westward_pipeline_takes_the_share_its_capacity_implies(seed):
    """A 30 bcm/yr pipeline west (a scripted event, 2030Q1): the new exports go west, so China's
    share falls from 0.80 to 0.80 x 42.5 / 72.5 and the West's rises to 30 / 72.5; the value of
    the exports grows with their volume."""
    model = CompetitionModel(scenario=with_events(PIPELINE_EVENT), seed=seed)
    before = None
    while model.running:
        model.step()
        if model.date == "2029Q4":
            before = dict(model.hosts["tkm"].energy_export_shares), model.hosts["tkm"].energy_exports_usd_bn
    tkm = model.hosts["tkm"]
    total = TKM_GAS_EXPORTS_BCM + PIPELINE_BCM
    assert before[0]["china"] == pytest.approx(TKM_CHINA_GAS)
    assert tkm.energy_export_shares["china"] == pytest.approx(TKM_CHINA_GAS * TKM_GAS_EXPORTS_BCM / total)
    assert tkm.energy_export_shares["west"] == pytest.approx(PIPELINE_BCM / total)
    assert tkm.energy_export_shares["west"] <= PIPELINE_BCM / TKM_GAS_EXPORTS_BCM  # bounded by capacity / exports
    assert tkm.gas_exports_bcm == pytest.approx(total)
    assert tkm.energy_exports_usd_bn == pytest.approx(before[1] * total / TKM_GAS_EXPORTS_BCM)


def test_the_pipeline_move_opens_the_capacity_its_size_buys():
    """The Trans-Caspian move completed by the US at USD 5 bn: 30 bcm/yr to the West; in a host
    with no pipeline gas exports it does nothing at all."""
    game = Game("baseline", seed=0)
    t, lay, st = game.tables, game.layout, game.state
    k, p = game.move_index["trans_caspian_pipeline"], lay.powers.index("us")
    for host, effect in (("tkm", True), ("kgz", False)):
        h = game.host_index[host]
        before = st.hosts[h].copy()
        K.complete(st.hosts, st.routes.copy(), lay.offsets, t.moves, t.power_meta, t.world_minerals, p, h, k, 5.0,
                   1.0, t.rules, t.special)  # fmt: skip
        if effect:
            assert st.hosts[h, H_GAS_EXPORTS] == pytest.approx(TKM_GAS_EXPORTS_BCM + PIPELINE_BCM)
            assert game.hosts[host].energy_export_shares["west"] == pytest.approx(PIPELINE_BCM / 72.5)
            assert st.hosts[h, H_ENERGY_EXPORTS] > before[H_ENERGY_EXPORTS]
        else:
            np.testing.assert_array_equal(st.hosts[h], before)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"gas_pipeline": {"destination": "europe", "capacity_bcm": 30.0}}, "gas_pipeline.destination"),
        ({"target": None}, "needs a target"),
        ({"duration_turns": 4}, "no duration_turns"),
        ({"gas_pipeline": {"destination": "west", "capacity_bcm": -1.0}}, "capacity_bcm"),
    ],
    ids=["unknown-destination", "no-target", "temporary", "negative-capacity"],
)
def test_a_bad_pipeline_event_is_a_one_line_error(event, message):
    bad = {k: v for k, v in {**PIPELINE_EVENT, **event}.items() if v is not None}
    with pytest.raises(ConfigError, match=message) as err:
        with_events(bad)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------ the fields' ceiling

TKM_GAS_EXPORT_MAX_BCM = 72.5  # assumption (baseline): today's 42.5 bcm/yr and one 30 bcm/yr westward pipeline


def test_a_second_pipeline_carries_only_what_the_fields_have_left():
    """Pipelines filled with new exports without end: a US playing only the Trans-Caspian move took
    Turkmen exports to 134 bcm/yr (more than the 77.6 bcm Turkmenistan produced in 2024), the West's
    share to 0.68. Now exports stop at hosts.tkm.gas_export_max_bcm: a first 30 bcm/yr
    pipeline west fills, a second (to Russia) carries nothing and moves no share."""
    second = {**PIPELINE_EVENT, "name": "second", "at": "2031Q1",
              "gas_pipeline": {"destination": "russia", "capacity_bcm": PIPELINE_BCM}}  # fmt: skip
    model = CompetitionModel(scenario=with_events(PIPELINE_EVENT, second), seed=0)
    while model.running:
        model.step()
    tkm = model.hosts["tkm"]
    assert tkm.gas_exports_bcm == pytest.approx(TKM_GAS_EXPORT_MAX_BCM)
    assert tkm.energy_export_shares["west"] == pytest.approx(PIPELINE_BCM / TKM_GAS_EXPORT_MAX_BCM)
    assert tkm.energy_export_shares["china"] == pytest.approx(TKM_CHINA_GAS * TKM_GAS_EXPORTS_BCM / 72.5)


def test_a_pipeline_larger_than_the_room_fills_only_the_room():
    """A 50 bcm/yr pipeline west with 30 bcm/yr of room: 30 of new exports, all west."""
    big = {**PIPELINE_EVENT, "gas_pipeline": {"destination": "west", "capacity_bcm": 50.0}}
    model = CompetitionModel(scenario=with_events(big), seed=0)
    while model.running:
        model.step()
    tkm = model.hosts["tkm"]
    assert tkm.gas_exports_bcm == pytest.approx(TKM_GAS_EXPORT_MAX_BCM)
    assert tkm.energy_export_shares["west"] == pytest.approx(30.0 / TKM_GAS_EXPORT_MAX_BCM)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_us_playing_only_pipelines_stops_at_the_fields(compiled):
    """The two-line strategy that farmed the energy component: every offer a Trans-Caspian pipeline
    in Turkmenistan. Exports end at the ceiling, and once it is reached the move is worth nothing
    to a power's estimate, so a pipeline on a full host has no effect at all when it completes."""
    sc = load_scenario(
        "baseline",
        [
            "powers.us.strategy=parametric",
            "powers.us.strategy_params={move_weights="
            "{trans_caspian_pipeline=1.0},host_weights={tkm=1.0},default_host_weight=0.0}",
        ],
    )
    game = Game(sc, seed=0, compiled=compiled)
    while not game.over:
        game.play_turn()
    tkm = game.hosts["tkm"]
    assert tkm.gas_exports_bcm == pytest.approx(TKM_GAS_EXPORT_MAX_BCM)
    t, lay, st = game.tables, game.layout, game.state
    k, p, h = game.move_index["trans_caspian_pipeline"], lay.powers.index("us"), game.host_index["tkm"]
    before = st.hosts[h].copy()
    K.complete(st.hosts, st.routes.copy(), lay.offsets, t.moves, t.power_meta, t.world_minerals, p, h, k, 5.0,
               1.0, t.rules, t.special)  # fmt: skip
    np.testing.assert_array_equal(st.hosts[h], before)
    assert estimate_gain(game.observe("us"), "trans_caspian_pipeline", "tkm", 5.0) == 0.0
    assert SK.estimate_gain(st.hosts, lay.offsets, t.moves, t.power_static, t.world_minerals, t.toolkit, p, k, h,
                            5.0) == 0.0  # fmt: skip


def test_a_ceiling_below_the_exports_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"^hosts\.tkm\.gas_export_max_bcm: 40 is below gas_exports_bcm 42\.5$"):
        load_scenario("baseline", ["hosts.tkm.gas_export_max_bcm=40.0"])


def test_the_ceiling_defaults_to_the_exports_and_events_can_raise_it():
    """Not given, the ceiling is today's exports (no room) and needs no source; it is a state
    variable of every host, so an event (a field developed) can raise it where it was not given."""
    kgz_gas = ("hosts.kgz.gas_exports_bcm=5.0", "hosts.kgz.sources.gas_exports_bcm='assumption: x'")
    sc = load_scenario("baseline", list(kgz_gas))
    assert sc.hosts["kgz"].gas_export_max_bcm is None
    game = Game(sc, seed=0)
    assert game.hosts["kgz"].gas_export_max_bcm == 5.0 and game.hosts["kaz"].gas_export_max_bcm == 0.0
    field = {"name": "field", "text": "A gas field in {host} is developed", "at": "2026Q1", "target": "kgz",
             "effects": [{"path": "hosts.{host}.gas_export_max_bcm", "op": "add", "value": 10.0}],
             "source": "assumption: a test"}  # fmt: skip
    pipe = {**PIPELINE_EVENT, "target": "kgz", "at": "2027Q1"}
    model = CompetitionModel(scenario=with_events(field, pipe, overrides=kgz_gas), seed=0)
    while model.running:
        model.step()
    assert model.hosts["kgz"].gas_exports_bcm == pytest.approx(15.0)
    assert model.hosts["kgz"].energy_export_shares["west"] == pytest.approx(10.0 / 15.0)
