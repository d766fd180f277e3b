"""Tournaments by role (strategy_abm/lab/tournament.py, ``strategy-abm tournament``): the payoffs
are those of the games played directly, seeds are common across profiles, the deviations design
plays exactly its profiles, a resumed tournament gives the same results, bad files are one line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clitools import one_error_line, run_cli

from strategy_abm import CompetitionModel
from strategy_abm.experiments.results import ResultStore, load_manifest
from strategy_abm.experiments.sweep import run_batch, run_sweep
from strategy_abm.lab.tournament import (
    deviation_profiles,
    load_tournament,
    mean_interval,
    tournament_metagame,
    tournament_results,
)
from strategy_abm.report.output import events_frame

MINERALS = ("{ name = \"parametric\", label = \"minerals\", params = { move_weights = { critical_minerals = 0.8, "
            "training = 0.2 }, host_weights = { kaz = 0.6, uzb = 0.4 }, spend_share = 1.0 } }")  # fmt: skip
TINY = f"""
name = "tiny"
scenario = "baseline"
horizon_turns = 4
seeds = 3
master_seed = 11
batch_size = 2

[roles.china]
strategies = ["bri_2", "greedy"]

[roles.us]
strategies = ["pgii_asymmetric", {MINERALS}]
"""
PARAMS = (
    "{ move_weights = { critical_minerals = 0.8, training = 0.2 }, host_weights = { kaz = 0.6, uzb = 0.4 }, "
    "spend_share = 1.0 }"
)
SETTINGS = {
    "bri_2": ["powers.china.strategy=bri_2", "powers.china.strategy_params={}"],
    "greedy": ["powers.china.strategy=greedy", "powers.china.strategy_params={}"],
    "pgii_asymmetric": ["powers.us.strategy=pgii_asymmetric", "powers.us.strategy_params={}"],
    "parametric:minerals": ["powers.us.strategy=parametric", f"powers.us.strategy_params={PARAMS}"],
}


def write(folder: Path, text: str, name: str = "t.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny tournament played by the CLI: (its file, its results folder)."""
    folder = tmp_path_factory.mktemp("tiny")
    path = write(folder, TINY)
    code, stdout, stderr = run_cli("tournament", path, "--out", folder / "out", "--quiet")
    assert code == 0, stderr
    assert "4 profiles x 3 seeds: 12 runs done" in stdout
    return path, folder / "out"


def direct_payoffs(labels: tuple[str, str], seed: int) -> dict[str, float]:
    """The game of a profile played directly on the per-turn model: each power's payoff_total."""
    overrides = [*SETTINGS[labels[0]], *SETTINGS[labels[1]]]
    model = CompetitionModel(scenario="baseline", seed=seed, overrides=overrides, turns=4, record=False)
    while model.running:
        model.step()
    return {p: model.powers[p].payoff_total for p in ("china", "us")}


def test_payoffs_are_those_of_the_games_played_directly(tiny):
    path, out = tiny
    tournament = load_tournament(path)
    results = tournament_results(tournament, out)
    expected = [("bri_2", "pgii_asymmetric"), ("bri_2", "parametric:minerals"),
                ("greedy", "pgii_asymmetric"), ("greedy", "parametric:minerals")]  # fmt: skip
    assert tournament.profile_labels() == expected
    for i, labels in enumerate(tournament.profile_labels()):
        for k, seed in enumerate(results.seeds):
            direct = direct_payoffs(labels, int(seed))
            for role in ("china", "us"):
                assert results.samples[role][i, k] == pytest.approx(direct[role], rel=1e-12, abs=1e-12)
    # The parameters are played: the minerals-heavy US is another game than PGII.
    assert not np.allclose(results.samples["us"][0], results.samples["us"][1])
    # The written table is the mean and Student-t interval over the seeds.
    table = pd.read_csv(out / "tournament" / "profiles.csv")
    mean, low, high, n = mean_interval(results.samples["us"][3])
    row = table.iloc[3]
    assert (row["china"], row["us"], row["n_us"]) == ("greedy", "parametric:minerals", 3)
    assert row["payoff_us"] == pytest.approx(np.mean(results.samples["us"][3]))
    half = 4.302652729911275 * np.std(results.samples["us"][3], ddof=1) / math.sqrt(3)  # t(0.975, 2 dof)
    assert (row["payoff_us_low"], row["payoff_us_high"]) == pytest.approx((mean - half, mean + half))
    assert (out / "tournament" / "payoffs_us.png").stat().st_size > 1000
    # Rankings: China's strategy payoff averaged over the US's strategies, seed by seed.
    ranks = pd.read_csv(out / "tournament" / "rankings.csv")
    china = ranks[ranks["role"] == "china"].set_index("strategy")
    assert china.loc["greedy", "payoff"] == pytest.approx(results.samples["china"][2:4].mean())
    assert sorted(china["rank"]) == [1, 2]
    # The meta-game: tensors in the roles' order, per-seed samples on the last axis.
    game = tournament_metagame(results)
    assert game.roles == ("china", "us") and game.strategies["us"] == ("pgii_asymmetric", "parametric:minerals")
    assert game.payoffs["us"][1, 1] == pytest.approx(results.samples["us"][3].mean())
    assert game.samples["china"].shape == (2, 2, 3)


def test_seeds_are_common_across_profiles_and_so_are_the_events(tiny):
    path, _ = tiny
    exp = load_tournament(path).experiment
    seeds = [[exp.run(p, k).seed for p in range(len(exp.points))] for k in range(3)]
    assert all(len(set(row)) == 1 for row in seeds)  # seed index k: one game seed in every profile
    assert len({row[0] for row in seeds}) == 3
    schedules = []
    for labels in (("bri_2", "pgii_asymmetric"), ("greedy", "parametric:minerals")):
        model = CompetitionModel(scenario="baseline", seed=seeds[1][0], overrides=[*SETTINGS[labels[0]],
                                 *SETTINGS[labels[1]]], turns=12)  # fmt: skip
        model.run()
        ev = events_frame(model)
        ev = ev[ev["status"].isin(("scripted_event", "random_event", "event_end"))]
        schedules.append(list(ev[["turn", "target", "move", "status"]].itertuples(index=False, name=None)))
    assert schedules[0] == schedules[1] and any(s[3] == "random_event" for s in schedules[0])


def test_the_deviations_design_plays_the_reference_and_each_role_deviating_alone(tmp_path):
    assert deviation_profiles((3, 2, 2), (1, 0, 1)) == [(1, 0, 1), (0, 0, 1), (2, 0, 1), (1, 1, 1), (1, 0, 0)]
    reference = 'name = "dev"\ndesign = "deviations"\nreference = { china = "bri_2", us = "parametric:minerals" }'
    text = TINY.replace('name = "tiny"', reference).replace('"bri_2", "greedy"', '"bri_2", "greedy", "bri_classic"')
    tournament = load_tournament(write(tmp_path, text))
    expected = [("bri_2", "parametric:minerals"), ("greedy", "parametric:minerals"),
                ("bri_classic", "parametric:minerals"), ("bri_2", "pgii_asymmetric")]  # fmt: skip
    assert tournament.profile_labels() == expected
    with pytest.raises(ValueError, match="deviations"):
        tournament_metagame(tournament_results(tournament, _played(tournament, tmp_path / "out")))


def _played(tournament, out: Path) -> Path:
    run_sweep(tournament.experiment, ResultStore(out, tournament.experiment), progress=False)
    return out


def test_resume_completes_an_interrupted_tournament_with_the_same_results(tiny, tmp_path):
    path, whole = tiny
    tournament = load_tournament(path)
    out = tmp_path / "cut"

    def one_batch_then_interrupt(tasks, collect):
        collect(run_batch(next(tasks)))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(tournament.experiment, ResultStore(out, tournament.experiment), progress=False,
                  executor=one_batch_then_interrupt)  # fmt: skip
    assert load_manifest(out)["design"]["listed"] is True
    code, stdout, stderr = run_cli("tournament", path, "--out", out, "--quiet", "--resume")
    assert code == 0, stderr
    assert "10 runs done, 2 already stored" in stdout
    a = pd.read_parquet(whole / "tournament" / "samples.parquet")
    b = pd.read_parquet(out / "tournament" / "samples.parquet")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("seeds = 3", "seeds = 3\ncolour = 1"), "colour"),
        (("seeds = 3", "seeds = 0"), "seeds"),
        (('"bri_2", "greedy"', '"bri_2", "no_such"'), "roles.china.strategies.1"),
        (("[roles.us]", "[roles.kaz]"), "roles.kaz: not a power"),
        (("spend_share = 1.0", "spend_share = 7.0"), "roles.us.strategies.1"),
        (('"bri_2", "greedy"', '"bri_2", "bri_2"'), "label 'bri_2' is used twice"),
        (('name = "tiny"', 'name = "tiny"\ndesign = "deviations"'), "reference"),
        (
            ('name = "tiny"', 'name = "tiny"\ndesign = "deviations"\nreference = { china = "bri_2", us = "x" }'),
            "reference.us: 'x' is not a strategy",
        ),
        (('scenario = "baseline"', 'scenario = "nowhere"'), "scenario"),
        (("design", "design"), None),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2_and_writes_nothing(tmp_path, change, expected):
    if expected is None:  # a file that is not there, a folder in place of the file
        for target in (tmp_path / "missing.toml", tmp_path):
            code, _, stderr = run_cli("tournament", target, "--out", tmp_path / "out")
            assert code == 2 and "tournament:" in one_error_line(stderr)
        return
    path = write(tmp_path, TINY.replace(*change))
    code, _, stderr = run_cli("tournament", path, "--out", tmp_path / "out")
    assert code == 2
    assert expected in one_error_line(stderr)
    assert not (tmp_path / "out").exists()


def test_a_tournament_file_given_to_sweep_and_an_unsafe_out_are_one_line(tiny, tmp_path):
    path, _ = tiny
    code, _, stderr = run_cli("sweep", path, "--out", tmp_path / "s")
    assert code == 2 and "is a tournament file" in one_error_line(stderr)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    code, _, stderr = run_cli("tournament", path, "--out", mine)
    assert code == 2 and "not a strategy-abm sweep" in one_error_line(stderr)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert not (tmp_path / "s").exists()
