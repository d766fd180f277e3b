"""CompetitionModel: determinism, seeds, re-runs, the Mesa model contract and the model-level outputs."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import mesa
import pytest
from pydantic import ValidationError

from strategy_abm import CompetitionModel, load_scenario
from strategy_abm.cli import main as cli_main
from strategy_abm.report.output import EVENT_COLUMNS, actors_frame, events_frame, model_frame, write_run
from strategy_abm.scenario.ids import HOSTS, NAMES, POWERS, display
from strategy_abm.sim.agents import HostAgent, PowerAgent

CSV_FILES = ("model.csv", "actors.csv", "events.csv")
SHORT = 6  # turns of the short games below
RANDOM_POWERS = [f"powers.{p}.strategy=random" for p in POWERS]
EVENT_REQUIRED = ["turn", "actor", "target", "domain", "move", "size_usd_bn", "status", "text"]


def play(seed=0, turns: int | None = SHORT, **kwargs) -> CompetitionModel:
    model = CompetitionModel(seed=seed, turns=turns, **kwargs)
    model.run()
    return model


def csv_texts(model) -> dict[str, str]:
    return {
        "model": model_frame(model).to_csv(index=False),
        "actors": actors_frame(model).to_csv(index=False),
        "events": events_frame(model).to_csv(index=False),
    }


def read_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in CSV_FILES}


@pytest.fixture(scope="module")
def baseline_game() -> CompetitionModel:
    """The full 40-turn baseline game, seed 0."""
    return play(seed=0, turns=None)


# ---------------------------------------------------------------------------- determinism


def test_same_seed_writes_identical_csv_files(tmp_path):
    first = write_run(play(seed=3), tmp_path / "first", plots=False)
    second = write_run(play(seed=3), tmp_path / "second", plots=False)
    a, b = read_bytes(first), read_bytes(second)
    assert all(a.values()), "empty CSV file"
    assert a == b


def test_same_seed_identical_frames_over_a_full_game(baseline_game):
    assert csv_texts(play(seed=0, turns=None)) == csv_texts(baseline_game)


def test_same_seed_identical_across_processes_with_different_hash_seeds(tmp_path):
    """Guards against iteration over sets/dicts of str (hash-randomised) reaching float sums."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        cmd = [sys.executable, "-m", "strategy_abm.cli", "run", "--turns", str(SHORT), "--no-plots", "--quiet",
               "--out", str(out)]  # fmt: skip
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(read_bytes(out))
    assert outputs[0] == outputs[1]


def test_game_does_not_change_the_cached_scenario():
    """load_scenario caches the parsed file: a game must not mutate what later games start from."""
    from strategy_abm.scenario.config import scenario_to_toml

    before = scenario_to_toml(load_scenario("baseline", RANDOM_POWERS))
    play(seed=5, overrides=RANDOM_POWERS)
    assert scenario_to_toml(load_scenario("baseline", RANDOM_POWERS)) == before


def test_loaded_scenario_is_immutable():
    """Loads are cached and shared, so a scenario cannot be changed in place (which would
    change every later game of it); overrides make a new one."""
    scenario = load_scenario("baseline")
    with pytest.raises(ValidationError):
        scenario.horizon_turns = 3
    assert load_scenario("baseline").horizon_turns == 40
    assert load_scenario("baseline", ["horizon_turns=3"]).horizon_turns == 3


# ---------------------------------------------------------------------------- seeds differ


def test_different_seeds_give_different_event_logs(baseline_game):
    other = play(seed=1, turns=None)
    assert not events_frame(other).equals(events_frame(baseline_game))


def test_different_seeds_give_different_offers_with_random_strategies():
    def offers(seed):
        e = events_frame(play(seed=seed, overrides=RANDOM_POWERS))
        e = e[e.status.isin(["accepted", "rejected"])]
        return list(e[["turn", "actor", "target", "move", "size_usd_bn"]].itertuples(index=False))

    a, b = offers(0), offers(1)
    assert a and b
    assert a != b
    assert offers(0) == a  # and the same seed repeats them


# ---------------------------------------------------------------------------- re-run from config.toml


def test_resolved_config_reruns_to_identical_outputs(tmp_path, capsys):
    seed = 4
    overrides = ["--set", "powers.us.strategy=random", "--set", "hosts.kgz.strategy=random"]
    first = tmp_path / "first"
    assert cli_main(["run", "--seed", str(seed), "--turns", str(SHORT), "--no-plots", "--quiet", "--out", str(first),
                     *overrides]) == 0  # fmt: skip
    config = first / "config.toml"
    assert f"--seed {seed}" in config.read_text()
    again = tmp_path / "again"
    assert cli_main(["run", str(config), "--seed", str(seed), "--no-plots", "--quiet", "--out", str(again)]) == 0
    assert read_bytes(again) == read_bytes(first)

    def body(path):  # the header names the run's own folder
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert body(again / "config.toml") == body(config)


# ---------------------------------------------------------------------------- Mesa model contract


@pytest.mark.parametrize("args", [("baseline",), ("baseline", 0), ("baseline", 0, None, 4)])
def test_init_is_keyword_only(args):
    with pytest.raises(TypeError):
        CompetitionModel(*args)


@pytest.mark.parametrize("text", ["7", " 7 "])
def test_numeric_string_seed_is_the_int_seed(text):
    as_text, as_int = play(seed=text), play(seed=7)
    assert as_text.seed == 7
    assert csv_texts(as_text) == csv_texts(as_int)


def test_none_seed_is_drawn_and_recorded():
    model = play(seed=None, turns=2)
    assert isinstance(model.seed, int)
    assert csv_texts(play(seed=model.seed, turns=2)) == csv_texts(model)


def test_running_becomes_false_exactly_at_the_horizon():
    model = CompetitionModel(seed=0)
    horizon = load_scenario("baseline").horizon_turns
    assert model.horizon == horizon == 40
    assert model.running and model.turn == 0
    for turn in range(1, horizon + 1):
        assert model.running, f"stopped early, at turn {model.turn}"
        model.step()
        assert model.turn == turn
        assert model.running is (turn < horizon)
    assert model.turn == model.horizon
    assert model.run() is model and model.turn == horizon  # run() on a finished game plays nothing


def test_datacollector_has_rows_for_turn_0_to_horizon(baseline_game):
    horizon = baseline_game.horizon
    dc = baseline_game.datacollector
    assert len(dc.get_model_vars_dataframe()) == horizon + 1
    for cls, n in ((PowerAgent, len(POWERS)), (HostAgent, len(HOSTS))):
        df = dc.get_agenttype_vars_dataframe(cls).reset_index()
        assert sorted(df["Step"].unique()) == list(range(horizon + 1))
        assert (df.groupby("Step").size() == n).all()
    assert list(model_frame(baseline_game)["turn"]) == list(range(horizon + 1))


@pytest.mark.parametrize("turns", [1, 3, 7])
def test_turns_overrides_the_horizon(turns):
    model = play(seed=0, turns=turns)
    assert model.horizon == model.scenario.horizon_turns == turns
    assert model.turn == turns and not model.running
    assert len(model_frame(model)) == turns + 1


def test_mesa_batch_run():
    results = mesa.batch_run(
        CompetitionModel,
        {"seed": [0, 1], "scenario": ["baseline"]},
        max_steps=4,
        number_processes=1,
        display_progress=False,
    )
    assert {r["seed"] for r in results} == {0, 1}
    assert all(r["scenario"] == "baseline" for r in results)
    by_seed = {r["seed"]: r for r in results}
    assert all(math.isfinite(by_seed[s][f"influence_{p}"]) for s in (0, 1) for p in POWERS)
    assert by_seed[0] != by_seed[1]


@pytest.mark.parametrize("power", ["china", "g7"])
def test_greedy_power_plays_to_the_horizon(power):
    model = play(seed=0, turns=None, overrides=[f"powers.{power}.strategy=greedy"])
    assert model.turn == model.horizon


# ---------------------------------------------------------------------------- model-level frame


def test_influence_shares_sum_to_one_each_turn(baseline_game):
    df = model_frame(baseline_game)
    total = df[[f"influence_{p}" for p in POWERS]].sum(axis=1)
    assert (total - 1.0).abs().max() < 1e-9
    assert (df[[f"influence_{p}" for p in POWERS]] > 0).all().all()


def test_date_labels(baseline_game):
    dates = model_frame(baseline_game).set_index("turn")["date"]
    assert dates[0] == "2024Q4"
    assert dates[1] == "2025Q1"
    assert dates[4] == "2025Q4"
    assert dates[5] == "2026Q1"
    assert dates[40] == "2034Q4"
    assert dates.is_unique
    assert baseline_game.date == "2034Q4"


def test_hindcast_date_labels():
    model = play(seed=0, turns=2, scenario="hindcast_2022")
    assert list(model_frame(model)["date"]) == ["2021Q4", "2022Q1", "2022Q2"]


def test_model_frame_values_are_finite(baseline_game):
    df = model_frame(baseline_game).drop(columns=["turn", "date"])
    assert df.map(math.isfinite).all().all()


# ---------------------------------------------------------------------------- event log

OFFER_TEXT = re.compile(
    r"^(?P<power>.+?) offers (?P<host>.+?) a USD (?P<size>\d+\.\d\d) bn (?P<what>.+); (?P<status>\w+)$"
)


def test_event_log_columns(baseline_game):
    df = events_frame(baseline_game)
    assert list(df.columns) == EVENT_COLUMNS
    cols = [c for c in df.columns if c in EVENT_REQUIRED]
    assert cols == EVENT_REQUIRED, "required columns missing or out of order"
    assert len(df) > 0
    assert df["turn"].between(1, baseline_game.horizon).all()
    assert df["turn"].is_monotonic_increasing
    assert df["text"].str.len().gt(0).all()
    assert set(df["status"]) >= {"accepted", "rejected", "completed"}


def test_offer_sentences_are_readable(baseline_game):
    df = events_frame(baseline_game)
    offers = df[df["status"].isin(["accepted", "rejected"])]
    assert len(offers) > 0
    for row in offers.itertuples(index=False):
        m = OFFER_TEXT.match(row.text)
        assert m, row.text
        assert m["power"] == display(row.actor, start=True)
        assert m["host"] == display(row.target)
        assert m["size"] == f"{row.size_usd_bn:.2f}"
        assert m["status"] == row.status
        assert row.actor in POWERS and row.target in HOSTS
        assert row.domain in ("financing", "infrastructure", "digital", "energy")
    texts = df["text"]
    for bad in ("_", "{", "}", "None", "nan ", " nan"):
        assert not texts.str.contains(bad, regex=False).any(), texts[texts.str.contains(bad, regex=False)].iloc[0]


def test_offer_sentence_example(baseline_game):
    """The style asked for: "China offers Kyrgyzstan a USD ... bn ...; accepted"."""
    china_kgz = [t for t in events_frame(baseline_game)["text"] if t.startswith(f"China offers {NAMES['kgz']} a USD ")]
    assert china_kgz
    assert any(t.endswith("; accepted") for t in china_kgz)


def test_host_growth_payoff_scale_weighs_growth_alone():
    """A host's payoff is w_growth x host_growth_payoff_scale x growth + ... (10 in the baseline): a
    scale of 0 removes exactly the growth term, and host payoffs feed back into nothing else."""
    scaled = CompetitionModel(seed=0, turns=3).run()
    unscaled = CompetitionModel(seed=0, turns=3, overrides=["rules.host_growth_payoff_scale=0"]).run()
    assert scaled.rules.host_growth_payoff_scale == 10.0
    for h in HOSTS:
        a, b = scaled.hosts[h], unscaled.hosts[h]
        assert a.growth_realised == b.growth_realised != 0.0
        w = scaled.rules.host_payoff_weights["growth"]
        assert a.payoff - b.payoff == pytest.approx(w * 10.0 * a.growth_realised, rel=1e-9)
