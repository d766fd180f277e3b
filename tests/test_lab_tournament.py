"""Tournaments by role (strategy_abm/lab/tournament.py, ``strategy-abm tournament``): the payoffs
are those of the games played directly, seeds are common across profiles, the deviations design
plays exactly its profiles and is read by reference_deviations (by hand, and equal to a grid's
reading and to the meta-game's regret), a resumed tournament gives the same results, bad files
are one line."""

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
from strategy_abm.lab.metagame import best_deviations, regret, regrets
from strategy_abm.lab.tournament import (
    TournamentResults,
    deviation_profiles,
    format_rankings,
    load_tournament,
    mean_interval,
    reference_deviations,
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
    with pytest.raises(ValueError) as caught:
        tournament_metagame(tournament_results(tournament, _played(tournament, tmp_path / "out")))
    message = str(caught.value)
    assert message.startswith("design: a deviations tournament") and "reference_deviations(results)" in message
    assert "\n" not in message


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


def test_worker_processes_play_the_first_profile_with_its_parameters(tiny, tmp_path):
    # The pool's workers are forked from a driver that prepared the first batch's points: with
    # the profile's parameter tables, not only the strategy names stored as its factors (the US
    # would play parametric with the scenario's own parameters, and --workers 2 or a --resume
    # would give other numbers than --workers 1).
    path, whole = tiny
    text = TINY.replace(f'["pgii_asymmetric", {MINERALS}]', f'[{MINERALS}, "pgii_asymmetric"]')
    code, _, stderr = run_cli("tournament", write(tmp_path, text), "--out", tmp_path / "out", "--quiet",
                              "--workers", "2")  # fmt: skip
    assert code == 0, stderr
    two = pd.read_parquet(tmp_path / "out" / "tournament" / "samples.parquet")
    one = pd.read_parquet(whole / "tournament" / "samples.parquet")  # the same games, played here, in another order
    key = ["china", "us", "seed_index"]
    two = two.drop(columns="profile").sort_values(key).reset_index(drop=True)
    one = one.drop(columns="profile").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(one, two)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("seeds = 3", "seeds = 3\ncolour = 1"), "colour"),
        (("seeds = 3", "seeds = 0"), "seeds"),
        (('"bri_2", "greedy"', '"bri_2", "no_such"'), "roles.china.strategies.1"),
        (("[roles.us]", "[roles.kaz]"), "roles.kaz: not a power"),
        (("spend_share = 1.0", "spend_share = 7.0"), "roles.us.strategies.1"),
        (('"bri_2", "greedy"', '"bri_2", "bri_2"'), "roles.china.strategies.1: label 'bri_2' is used twice"),
        (('name = "tiny"', 'name = "tiny"\ndesign = "deviations"'), "reference"),
        (
            ('name = "tiny"', 'name = "tiny"\ndesign = "deviations"\nreference = { china = "bri_2", us = "x" }'),
            "reference.us: 'x' is not a strategy",
        ),
        (('scenario = "baseline"', 'scenario = "nowhere"'), "scenario"),
        # A table entry: the table's own problem, named by the file's keys (not the union's branches).
        (('label = "minerals"', 'label = ""'), "roles.us.strategies.1.label: '': a label is a non-empty name"),
        (('label = "minerals"', 'label = "minerals", colour = 1'), "roles.us.strategies.1.colour: unknown key"),
        (('{ name = "parametric", label', "{ label"), "roles.us.strategies.1.name: missing (required)"),
        (('"bri_2", "greedy"', '"bri_2", 7'), "roles.china.strategies.1: Input should be a valid string"),
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
    assert one_error_line(stderr).startswith(f"strategy-abm: error: {expected}")  # the field first
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


# ------------------------------------------------------------------ the deviations design, analysed


def t2(p: float) -> float:
    """Student's t quantile with 2 degrees of freedom, in closed form: (2p - 1) / sqrt(2p(1 - p))."""
    return (2 * p - 1) / math.sqrt(2 * p * (1 - p))


def test_reference_deviations_by_hand():
    # Role a: x (reference), y, z; role b: p (reference), q. Three seeds.
    profiles = deviation_profiles((3, 2), (0, 0))  # (x,p), (y,p), (z,p), (x,q)
    a = np.array([[10.0, 11.0, 12.0], [11.0, 13.0, 15.0], [9.0, 10.0, 11.0], [0.0, 0.0, 0.0]])
    b = np.array([[5.0, 5.0, 5.0], [1.0, 2.0, 3.0], [7.0, 7.0, 7.0], [5.5, 4.5, 5.3]])
    results = TournamentResults(
        roles=("a", "b"), labels={"a": ("x", "y", "z"), "b": ("p", "q")}, profiles=profiles, design="deviations",
        reference=(0, 0), samples={"a": a, "b": b}, seeds=np.array([1, 2, 3]),
    )  # fmt: skip
    out = reference_deviations(results)
    assert out.reference == {"a": "x", "b": "p"}
    half = t2(0.975) / math.sqrt(3)  # the 95% interval's half-width per unit of standard deviation
    ra, rb = out.roles["a"], out.roles["b"]
    assert ra.value == pytest.approx((11.0, 11.0 - half, 11.0 + half, 3))
    # y - x = (1, 2, 3): mean 2, sd 1; z - x = (-1, -1, -1): no spread.
    assert ra.gains["y"] == pytest.approx((2.0, 2.0 - half, 2.0 + half, 3))
    assert ra.gains["z"] == pytest.approx((-1.0, -1.0, -1.0, 3))
    assert ra.gains["x"] == (0.0, 0.0, 0.0, 3)
    assert ra.payoffs["y"] == pytest.approx((13.0, 13.0 - 2 * half, 13.0 + 2 * half, 3))
    # q - p = (0.5, -0.5, 0.3): mean 0.1, sd sqrt(0.28).
    sd = math.sqrt(0.28)
    assert rb.gains["q"] == pytest.approx((0.1, 0.1 - half * sd, 0.1 + half * sd, 3))
    assert (ra.best, rb.best) == ("y", "q")
    # Bounds holding together: 3 deviations, each interval at 1 - 0.05 / 3.
    joint = t2(1 - 0.05 / 6) / math.sqrt(3)
    assert ra.best_gain == pytest.approx((2.0, 0.0, 2.0 + joint, 3))  # 2 - 4.42 < 0: the low bound is 0
    assert rb.best_gain == pytest.approx((0.1, 0.0, 0.1 + joint * sd, 3))
    assert out.regret == pytest.approx((2.0, 0.0, 2.0 + joint, 3))
    assert out.regret_role == "a"
    assert out.verdict().startswith("regret 2.000 [0.000, 6.416] payoff-years: a gains most, switching to y; "
                                    "no gain is significant at 95%")  # fmt: skip
    table = out.table()
    assert list(table["strategy"]) == ["x", "y", "z", "p", "q"]
    assert list(table["best"]) == [False, True, False, False, True]
    assert list(table["is_reference"]) == [True, False, False, True, False]

    # With every seed of y one more than of x, the gain is certain: the regret's low bound is 1.
    a2 = a.copy()
    a2[1] = a[0] + 1.0
    b2 = b.copy()
    b2[3] = b[0] - 1.0  # q loses: b stays at p
    certain = reference_deviations(TournamentResults(**{**results.__dict__, "samples": {"a": a2, "b": b2}}))
    assert certain.regret == (1.0, 1.0, 1.0, 3)
    assert certain.roles["b"].best == "p" and certain.roles["b"].best_gain == (0.0, 0.0, 0.0, 3)
    assert certain.verdict() == "regret 1.000 [1.000, 1.000] payoff-years: a gains most, switching to y"
    # No role gains: the reference is an equilibrium of the seeds' mean game.
    a2[1] = a[0] - 1.0
    none = reference_deviations(TournamentResults(**{**results.__dict__, "samples": {"a": a2, "b": b2}}))
    assert none.regret == (0.0, 0.0, 0.0, 3) and none.regret_role is None
    assert "no role gains by leaving the reference" in none.verdict()
    # A failed run: the gain is paired over the seeds where both games finished.
    a3 = a.copy()
    a3[1, 2] = np.nan
    gap = reference_deviations(TournamentResults(**{**results.__dict__, "samples": {"a": a3, "b": b}}))
    half1 = math.tan(math.pi * 0.475) * math.sqrt(0.5) / math.sqrt(2)  # y - x = (1, 2): t with 1 dof
    assert gap.roles["a"].gains["y"] == pytest.approx((1.5, 1.5 - half1, 1.5 + half1, 2))
    assert gap.roles["a"].payoffs["y"].n == 2 and gap.roles["a"].value.n == 3
    # A switch with no seed played: its role's best gain and the regret are unknown, not 0.
    b4 = b.copy()
    b4[3] = np.nan
    lost = reference_deviations(TournamentResults(**{**results.__dict__, "samples": {"a": a2, "b": b4}}))
    assert lost.roles["a"].best_gain == (0.0, 0.0, 0.0, 3)
    assert lost.roles["b"].best_gain.n == 0 and math.isnan(lost.roles["b"].best_gain.mean)
    assert lost.regret.n == 0 and math.isnan(lost.regret.high) and lost.regret_role is None
    assert lost.summary()["regret"] == {"mean": None, "low": None, "high": None, "n": 0}
    assert lost.verdict() == ("regret unknown: no seed where both games finished for b=q (runs failed or "
                              "missing; --resume tries them again)")  # fmt: skip
    # One seed: the gains are known, their spread is not. No interval (NaN), never a point that
    # would claim the gain certain at 95%.
    one = TournamentResults(**{**results.__dict__, "samples": {"a": a[:, :1], "b": b[:, :1]}, "seeds": np.array([1])})
    single = reference_deviations(one)
    assert single.roles["a"].gains["y"][::3] == (1.0, 1) and math.isnan(single.roles["a"].gains["y"].low)
    assert single.regret.mean == 1.0 and single.regret_role == "a"
    assert math.isnan(single.regret.low) and math.isnan(single.regret.high)
    assert single.summary()["regret"] == {"mean": 1.0, "low": None, "high": None, "n": 1}
    assert single.verdict() == ("regret 1.000 [no interval: 1 seed] payoff-years: a gains most, switching to y; "
                                "one seed cannot tell whether a gain is significant (play 2 or more)")  # fmt: skip
    printed = format_rankings(one)
    assert (
        "nan" not in printed
        and "a        value 10.000 [no interval: 1 seed]; best deviation y, gain 1.000 [no interval: 1 seed]" in printed
    )


DEV_TEXT = TINY.replace('name = "tiny"', 'name = "dev"\ndesign = "deviations"\n'
                        'reference = { china = "greedy", us = "parametric:minerals" }').replace(
    '"bri_2", "greedy"', '"bri_2", "greedy", "bri_classic"')  # fmt: skip


@pytest.fixture(scope="module")
def both_designs(tmp_path_factory):
    """The same roles and seeds played as a 3 x 2 grid and as deviations from (greedy,
    parametric:minerals) by the CLI (the deviations printing its rankings): (grid results,
    deviations results, deviations folder, its stdout)."""
    folder = tmp_path_factory.mktemp("designs")
    grid = write(folder, TINY.replace('"bri_2", "greedy"', '"bri_2", "greedy", "bri_classic"'), "grid.toml")
    dev = write(folder, DEV_TEXT, "dev.toml")
    code, _, stderr = run_cli("tournament", grid, "--out", folder / "grid", "--quiet")
    assert code == 0, stderr
    code, stdout, stderr = run_cli("tournament", dev, "--out", folder / "dev")
    assert code == 0, stderr
    return (tournament_results(load_tournament(grid), folder / "grid"),
            tournament_results(load_tournament(dev), folder / "dev"), folder / "dev", stdout)  # fmt: skip


def test_a_deviations_tournament_is_read_from_its_own_games(both_designs):
    _, dev, _, _ = both_designs
    out = reference_deviations(dev)
    assert out.reference == {"china": "greedy", "us": "parametric:minerals"}
    # Profiles: (greedy, minerals), (bri_2, minerals), (bri_classic, minerals), (greedy, pgii).
    x = dev.samples["china"]
    mean, low, high, n = out.roles["china"].gains["bri_2"]
    d = x[1] - x[0]
    half = t2(0.975) * np.std(d, ddof=1) / math.sqrt(3)
    assert (mean, n) == (pytest.approx(d.mean(), abs=1e-15), 3)
    assert (low, high) == pytest.approx((d.mean() - half, d.mean() + half))
    us = out.roles["us"]
    assert us.value.mean == pytest.approx(dev.samples["us"][0].mean())
    assert us.gains["pgii_asymmetric"].mean == pytest.approx((dev.samples["us"][3] - dev.samples["us"][0]).mean())
    best = {r: max(d.gains.items(), key=lambda kv: kv[1].mean)[0] for r, d in out.roles.items()}
    for role, label in best.items():  # the largest mean gain, or staying when none is positive
        assert out.roles[role].best == label
    assert out.regret.mean == max(d.best_gain.mean for d in out.roles.values()) >= 0.0
    # The ranking's gains are the analysis's.
    ranks = dev.ranking("china").set_index("strategy")
    assert ranks.loc["bri_2", "gain"] == mean and ranks.loc["greedy", "gain"] == 0.0


def test_the_deviations_design_and_a_grid_give_identical_numbers_and_the_metagames_regret(both_designs):
    grid, dev, _, _ = both_designs
    reference = {"china": "greedy", "us": "parametric:minerals"}
    from_dev = reference_deviations(dev)
    from_grid = reference_deviations(grid, reference)
    # The same profiles on the same seeds: the same games, so the same numbers to the last bit.
    pd.testing.assert_frame_equal(from_dev.table(), from_grid.table(), check_exact=True)
    assert from_dev.summary() == from_grid.summary()
    # On the grid, every profile as the reference: the meta-game's best deviations and regret.
    game = tournament_metagame(grid)
    for profile in np.ndindex(*game.shape):
        labels = {r: game.strategies[r][i] for r, i in zip(game.roles, profile, strict=True)}
        out = reference_deviations(grid, labels)
        assert reference_deviations(grid, profile).summary() == out.summary()
        for role, dev_ in best_deviations(game, profile).items():
            assert out.roles[role].best == dev_.strategy
            assert out.roles[role].best_gain.mean == pytest.approx(dev_.gain, rel=1e-12, abs=1e-12)
        assert out.regret.mean == pytest.approx(regret(game, profile), rel=1e-12, abs=1e-12)
        assert out.regret.mean == pytest.approx(regrets(game)[profile], rel=1e-12, abs=1e-12)
    assert any(regret(game, p) > 0 for p in np.ndindex(*game.shape))  # not a trivially flat game


def test_the_deviations_outputs_are_written_and_printed(both_designs):
    _, dev, folder, stdout = both_designs
    out = reference_deviations(dev)
    written = pd.read_parquet(folder / "tournament" / "deviations.parquet")
    pd.testing.assert_frame_equal(written, out.table(), check_exact=True)
    csv = pd.read_csv(folder / "tournament" / "deviations.csv")
    pd.testing.assert_frame_equal(csv, out.table(), check_exact=True)
    import json

    summary = json.loads((folder / "tournament" / "deviations.json").read_text())
    assert summary == json.loads(json.dumps(out.summary()))
    assert summary["regret"]["mean"] == out.regret.mean
    assert f"  {out.verdict()}" in stdout.splitlines()
    line = next(x for x in stdout.splitlines() if x.startswith("  us "))
    us = out.roles["us"]
    assert f"value {us.value.mean:.3f}" in line and f"gain {us.best_gain.mean:.3f}" in line


def test_a_reference_the_tournament_cannot_answer_is_one_line(both_designs):
    grid, dev, _, _ = both_designs
    cases = [
        (grid, None, "reference: a grid has no reference profile"),
        (grid, {"china": "greedy"}, "reference.us: missing"),
        (grid, {"china": "greedy", "us": "x"}, "reference.us: 'x' is not a strategy"),
        (grid, {"china": "greedy", "us": "greedy", "kaz": "a"}, "reference.kaz: not a role"),
        (grid, (0, 5), "reference: (0, 5) is not a profile"),
        (dev, {"china": "bri_2", "us": "pgii_asymmetric"}, "china=bri_2, us=pgii_asymmetric was not played"),
        # Played (China's deviation), but the US's deviation from it was not.
        (dev, {"china": "bri_2", "us": "parametric:minerals"}, "china=bri_2, us=pgii_asymmetric was not played"),
    ]
    for results, reference, message in cases:
        with pytest.raises(ValueError) as caught:
            reference_deviations(results, reference)
        assert message in str(caught.value) and "\n" not in str(caught.value)
