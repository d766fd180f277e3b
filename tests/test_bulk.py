"""The bulk path (strategy_abm.sim.bulk) plays the games the per-turn path plays, bit for bit.

Every golden game (tests/golden: the baseline over ten seeds, the hindcast over three, mixes of
every built-in kernel, an all-random game) is played on the bulk path and each metric after each
turn compared with the golden ``model.csv`` (written by the per-turn path). The compiled random
streams equal numpy's; the same source run as plain Python (``NUMBA_DISABLE_JIT=1``) gives the
same numbers as the compiled kernels.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from strategy_abm.engine import pcg
from strategy_abm.engine.streams import Streams
from strategy_abm.scenario.config import load_scenario
from strategy_abm.sim.bulk import BulkPlan, NotCompiled

GOLDEN = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("make_goldens", GOLDEN / "make_goldens.py")
make_goldens = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_goldens)


def golden_model(name: str) -> dict[int, dict[str, str]]:
    text = gzip.decompress((GOLDEN / name / "model.csv.gz").read_bytes()).decode()
    return {int(row["turn"]): row for row in csv.DictReader(io.StringIO(text))}


@pytest.mark.parametrize("name", list(make_goldens.GAMES))
def test_bulk_path_reproduces_every_metric_of_every_turn_of_the_golden_games(name):
    spec = make_goldens.GAMES[name]
    plan = BulkPlan(load_scenario(spec["scenario"], overrides=spec["overrides"]))
    played = plan.play(spec["seed"], record=range(1, plan.horizon + 1))
    golden = golden_model(name)
    assert sorted(played) == sorted(t for t in golden if t > 0)
    for turn, row in played.items():
        for column, value in row.items():
            assert float(golden[turn][column]) == value or (np.isnan(value) and golden[turn][column] == "nan"), (
                f"{name}: turn {turn}, {column}: bulk {value!r}, per-turn {golden[turn][column]}"
            )


def test_bulk_path_records_the_last_turn_by_default_and_the_turns_asked_for():
    plan = BulkPlan("baseline", turns=6)
    assert list(plan.play(1)) == [6]
    rows = plan.play(1, record=[2, 6, 4])
    assert list(rows) == [2, 4, 6]
    golden = golden_model("baseline_seed1")  # the horizon does not change the turns before it
    assert rows[4]["influence_china"] == float(golden[4]["influence_china"])


def test_a_plan_plays_its_games_independently_of_the_order_they_are_played_in():
    plan = BulkPlan("baseline", turns=12)
    first = plan.play(5)
    plan.play(6)
    assert plan.play(5) == first


def test_a_strategy_without_a_kernel_is_named_and_refused():
    from strategy_abm.strategies.base import REGISTRY
    from strategy_abm.strategies.powers import Bri2

    class Tweaked(Bri2):  # overrides the decision: its Python code must decide
        name = "test_bulk_tweaked_bri2"

        def propose(self, obs):
            return super().propose(obs)[:1]

    class Recoloured(Bri2):  # only other defaults: the portfolio kernel decides as its code does
        name = "test_bulk_recoloured_bri2"
        defaults = {**Bri2.defaults, "spend_share": 0.5}

    try:
        sc = load_scenario("baseline", overrides=["powers.china.strategy=test_bulk_tweaked_bri2"])
        with pytest.raises(NotCompiled, match=r"powers\.china\.strategy: 'test_bulk_tweaked_bri2' has no compiled"):
            BulkPlan(sc)
        sc = load_scenario("baseline", overrides=["powers.china.strategy=test_bulk_recoloured_bri2", "horizon_turns=8"])
        assert BulkPlan(sc).play(2, record=range(9)) == per_turn_metrics(sc, 2, compiled=False)
    finally:
        REGISTRY.pop("test_bulk_tweaked_bri2", None)
        REGISTRY.pop("test_bulk_recoloured_bri2", None)


@pytest.mark.parametrize("seed", range(40))
def test_compiled_streams_draw_what_numpy_draws(seed):
    streams = Streams(seed)
    for key in ((1, seed % 4), (2, seed % 9)):
        words = pcg.words(streams.generator(*key))
        for turn in (0, 1, 39):
            for offset in (0, 2 * seed):
                expected = streams.at_turn(key, turn)
                expected.bit_generator.advance(offset)
                # integers and doubles interleaved: 32-bit draws keep half of a 64-bit draw for the next
                firsts = [int(expected.integers(0, 1 + seed % 11)) for _ in range(3)]
                doubles = expected.random(4).tolist()
                last = int(expected.integers(0, 5))
                s, buffer = words.copy(), np.zeros(2, dtype=np.uint64)
                pcg.advance(s, np.uint64(turn), np.uint64(offset))
                assert [pcg.bounded(s, buffer, 1 + seed % 11) for _ in range(3)] == firsts
                assert [pcg.next_double(s) for _ in range(4)] == doubles
                assert pcg.bounded(s, buffer, 5) == last


GAME = """
import json, sys
from strategy_abm.scenario.config import load_scenario
from strategy_abm.sim.bulk import BulkPlan
sc = load_scenario("baseline", overrides=["powers.china.strategy=random", "powers.russia.strategy=greedy",
                                          "hosts.kgz.strategy=random", "hosts.uzb.strategy=greedy",
                                          "hosts.tjk.strategy=china_leaning"])
rows = BulkPlan(sc, turns=6).play(3, record=[3, 6], compile_first=False)
from strategy_abm.sim.model import CompetitionModel
from strategy_abm.report.output import actors_frame, events_frame
model = CompetitionModel(scenario=sc, seed=3, turns=6).run()  # the per-turn path, its event log and records
print(json.dumps({"bulk": {str(t): r for t, r in rows.items()}, "per_turn": model.metrics,
                  "actors": actors_frame(model).to_csv(), "events": events_frame(model).to_csv()}))
"""


def test_the_rules_run_as_plain_python_give_the_compiled_numbers():
    """NUMBA_DISABLE_JIT=1 runs the same source as Python (for a debugger or coverage)."""
    outputs = []
    for disabled in ("1", "0"):
        env = {**os.environ, "NUMBA_DISABLE_JIT": disabled}
        run = subprocess.run([sys.executable, "-c", GAME], env=env, capture_output=True, text=True, check=True)
        assert "Warning" not in run.stderr, run.stderr
        outputs.append(json.loads(run.stdout))
    assert outputs[0] == outputs[1]
    assert set(outputs[0]["bulk"]) == {"3", "6"} and len(outputs[0]["bulk"]["6"]) > 40
    assert outputs[0]["bulk"]["6"] == outputs[0]["per_turn"]


def test_a_sweep_takes_the_bulk_path_and_stores_what_the_per_turn_path_gives(tmp_path, monkeypatch):
    """run_batch plays points whose strategies all have kernels on the bulk path: its results and
    series are those of CompetitionModel, run by run; a point with a Python-only strategy takes
    the per-turn path."""
    from strategy_abm.experiments import sweep
    from strategy_abm.experiments.experiment import load_experiment
    from strategy_abm.sim.model import CompetitionModel

    path = tmp_path / "e.toml"
    path.write_text(
        'name = "e"\nscenario = "baseline"\nhorizon_turns = 5\nreplications = 2\nmaster_seed = 3\nbatch_size = 4\n'
        '[design]\nkind = "full_factorial"\n[factors."powers.us.strategy"]\nvalues = ["fossil_first", "greedy"]\n'
        '[record]\nfinal = ["influence_china", "distress_tjk", "west_secured_mineral_share"]\n'
        'series = ["payoff_us", "route_volume_mt_middle"]\n',
        encoding="utf-8",
    )
    experiment = load_experiment(path)
    played = []
    real_play = BulkPlan.play

    def play(self, seed, **kw):
        if kw.get("compile_first", True):  # (not the warm-up games that compile the kernels)
            played.append(seed)
        return real_play(self, seed, **kw)

    monkeypatch.setattr(BulkPlan, "play", play)
    rows = [row for task in sweep._tasks(experiment, experiment.runs(), experiment.resolved_scenario)
            for row in sweep.run_batch(task)]  # fmt: skip
    results = [r for table, batch in rows if table == "results" for r in batch]
    series = [r for table, batch in rows if table == "series" for r in batch]
    assert len(results) == 4 and len(series) == 4 * 6
    assert sorted(played) == sorted(r["seed"] for r in results)
    for result in results:
        overrides = experiment.point_overrides(result["point"])
        model = CompetitionModel(scenario="baseline", seed=result["seed"], overrides=overrides, turns=5, record=False)
        turn_rows = {0: dict(model.metrics)}
        while model.running:
            model.step()
            turn_rows[model.turn] = dict(model.metrics)
        for column in ("influence_china", "distress_tjk", "west_secured_mineral_share"):
            assert result[column] == turn_rows[5][column]
        mine = [s for s in series if s["key"] == result["key"]]
        assert [s["turn"] for s in mine] == [0, 1, 2, 3, 4, 5]
        for s in mine:
            assert s["payoff_us"] == turn_rows[s["turn"]]["payoff_us"]
            assert s["route_volume_mt_middle"] == turn_rows[s["turn"]]["route_volume_mt_middle"]
            assert s["date"] == model.game.date_of(s["turn"])


def per_turn_metrics(scenario, seed: int, compiled: bool = True) -> dict[int, dict[str, float]]:
    from strategy_abm.sim.model import CompetitionModel

    model = CompetitionModel(scenario=scenario, seed=seed, record=False, compiled=compiled)
    rows = {0: dict(model.metrics)}
    while model.running:
        model.step()
        rows[model.turn] = dict(model.metrics)
    return rows


@pytest.mark.parametrize("example", ["six_hosts", "three_powers"])
@pytest.mark.parametrize("mix", ["configured", "random_and_greedy"])
def test_a_scenario_with_other_actors_plays_the_same_on_both_paths(example, mix):
    """The arrays are sized by the scenario: a sixth host or three powers need no code change."""
    from strategy_abm.scenario.config import configs_dir

    path = configs_dir() / "examples" / f"{example}.toml"
    base = load_scenario(path)
    overrides = [] if mix == "configured" else (
        [f"powers.{base.power_ids[0]}.strategy=random", f"powers.{base.power_ids[-1]}.strategy=greedy",
         f"hosts.{base.host_ids[-1]}.strategy=random", f"hosts.{base.host_ids[0]}.strategy=greedy"])  # fmt: skip
    sc = load_scenario(path, overrides=[*overrides, "horizon_turns=12"])
    plan = BulkPlan(sc)
    bulk = plan.play(7, record=range(0, 13))
    assert bulk == per_turn_metrics(sc, 7)
    assert len(plan.layout.hosts) == len(sc.host_ids) and len(plan.layout.powers) == len(sc.power_ids)


@pytest.mark.parametrize("record", [None, [20, 40], [40], [1, 39]], ids=["default", "two", "last", "edges"])
def test_what_a_bulk_game_records_does_not_change_the_game(record):
    """Whatever turns are recorded (a sweep records only the last), the game is the per-turn one:
    a temporary event that fires between recorded turns ends on its turn (seed 0 of the baseline
    has the Northern disruption, 4 turns long)."""
    plan = BulkPlan("baseline")
    every = per_turn_metrics(load_scenario("baseline"), 0)
    rows = plan.play(0, record=record)
    assert list(rows) == sorted(record or [40])
    for turn, row in rows.items():
        assert row == every[turn], turn
    assert any(e["status"] == "event_end" and e["turn"] < 40 for e in _events_of_seed_0())


def _events_of_seed_0() -> list[dict]:
    from strategy_abm.sim.model import CompetitionModel

    return CompetitionModel(scenario="baseline", seed=0).run().event_log


def test_the_compile_cache_is_keyed_by_the_compiled_sources_and_keeps_three(tmp_path, monkeypatch):
    """numba checks a cached function against its own file only, while kernels inline rules from
    other files: the folder's name carries a digest of every compiled source, and old folders of
    ours are pruned to the three most recent (a folder without our marker is never touched)."""
    import os
    import time

    from strategy_abm import _compiled
    from strategy_abm._version import source_digest

    monkeypatch.setenv("STRATEGY_ABM_CACHE", str(tmp_path))
    folder = _compiled.cache_dir()
    assert folder.parent == tmp_path
    assert folder.name.endswith(source_digest(*_compiled.COMPILED_SOURCES)[:16])
    assert source_digest("engine") != source_digest("sim/bulk.py") != source_digest()
    foreign = tmp_path / "numba-someone-elses"
    foreign.mkdir()
    for i in range(5):
        _compiled._claim(tmp_path / f"numba-x-{i}")
        os.utime(tmp_path / f"numba-x-{i}" / _compiled.MARKER, (time.time() - 10 + i, time.time() - 10 + i))
    _compiled._claim(tmp_path / "numba-x-4")  # the newest again: prunes to three
    assert sorted(p.name for p in tmp_path.iterdir()) == ["numba-someone-elses", "numba-x-2", "numba-x-3", "numba-x-4"]


def test_share_maps_are_one_layout_reordered_or_refused_in_one_line(tmp_path):
    """A host listing a share map's keys in another order plays as if in the first host's order
    (the same game); one naming other keys is a one-line error naming the field, exit 2."""
    from clitools import one_error_line, run_cli

    shares = {"china": 0.44, "russia": 0.22, "west": 0.08, "other": 0.26}  # Kyrgyzstan's, in the baseline

    def trade(order):
        return "hosts.kgz.trade_shares={ " + ", ".join(f"{k} = {shares[k]}" for k in order) + " }"

    swapped = load_scenario("baseline", overrides=[trade(["other", "west", "russia", "china"]), "horizon_turns=6"])
    same = load_scenario("baseline", overrides=[trade(list(shares)), "horizon_turns=6"])
    assert list(swapped.hosts["kgz"].trade_shares) == ["other", "west", "russia", "china"]
    assert per_turn_metrics(swapped, 3) == per_turn_metrics(same, 3) == BulkPlan(swapped).play(3, record=range(7))
    code, _, stderr = run_cli("run", "--turns", "1", "--out", tmp_path / "r", "--quiet",
                              "--set", "hosts.kgz.cloud_shares={ chinese = 1.0 }")  # fmt: skip
    assert code == 2
    assert one_error_line(stderr).startswith(
        "strategy-abm: error: hosts.kgz.cloud_shares: names ['chinese'], not the keys of"
    )
    assert not (tmp_path / "r").exists()


def test_a_block_of_seeds_gives_each_seeds_own_game():
    plan = BulkPlan("baseline", turns=10)
    block = plan.play_block([4, 2, 4], record=[5, 10])
    alone = [BulkPlan("baseline", turns=10).play(s, record=[5, 10]) for s in (4, 2)]
    assert block == [alone[0], alone[1], alone[0]]
    assert block[0] != block[1]
