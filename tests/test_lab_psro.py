"""The best-response loop (strategy-abm psro): the trace's arithmetic, a best response's value
against the mix equal to what the next tournament finds for it, the final pools replayed by the
tournament command, the cache of played profiles, determinism, the stopping rule, the meta-game
solver, the weighted payoff-years objective, and one-line errors for bad PSRO files."""

from __future__ import annotations

import csv
import math
import tomllib

import numpy as np
import optuna
import pytest
from clitools import one_error_line, run_cli

from strategy_abm.cli import main as cli_main
from strategy_abm.experiments.experiment import replication_seed
from strategy_abm.lab.metagame import MetaGame, bimatrix_equilibria, mixed_regret, strategy_values
from strategy_abm.lab.psro import load_psro, run_psro, solve
from strategy_abm.lab.tournament import load_tournament, mean_interval, tournament_metagame, tournament_results
from strategy_abm.lab.tune import objective_function, weighted
from strategy_abm.scenario.config import load_scenario, validate_scenario
from strategy_abm.sim.model import CompetitionModel

TINY = """
name = "tiny"
scenario = "baseline"
horizon_turns = 5
seeds = 3
master_seed = 7
train_seeds = [0, 1]
trials = 5
epsilon = {epsilon}
max_iterations = {iterations}

[roles.china]
strategies = ["bri_2", "greedy"]

[roles.china.params]
spend_share = [0.2, 1.0]
"move_weights.policy_bank_loan" = [0.0, 1.0]
"move_weights.training" = [0.0, 1.0]

[roles.us]
strategies = ["pgii_asymmetric", "random"]

[roles.us.params]
spend_share = [0.3, 1.0]
"move_weights.critical_minerals" = [0.0, 1.0]
"move_weights.training" = [0.0, 1.0]

[sampler]
seed = 1
"""


def tiny(folder, epsilon=0.0, iterations=3):
    path = folder / "tiny.toml"
    path.write_text(TINY.format(epsilon=epsilon, iterations=iterations))
    return path


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """The tiny loop run through the command line (epsilon 0, 3 iterations) and its result in Python."""
    folder = tmp_path_factory.mktemp("psro")
    path = tiny(folder)
    code, stdout, stderr = run_cli("psro", path, "--out", folder / "out")
    assert code == 0, stderr
    return folder, path, stdout, run_psro(load_psro(path))


def test_the_trace_is_the_loop_and_its_exploitability_the_sum_of_positive_gains(loop):
    folder, _, stdout, result = loop
    rows = read_csv(folder / "out" / "trace.csv")
    assert len(rows) == 2 * len(result.iterations) and {r["role"] for r in rows} == {"china", "us"}
    for it in result.iterations:
        mine = [r for r in rows if int(r["iteration"]) == it.number]
        gains = [float(r["gain"]) for r in mine]
        for r in mine:
            assert float(r["gain"]) == pytest.approx(float(r["br_value"]) - float(r["sigma_value"]), abs=1e-12)
            assert float(r["exploitability"]) == pytest.approx(sum(max(0.0, g) for g in gains), abs=1e-12)
        # sigma's value is the mix's expected payoff in the iteration's meta-game.
        values = strategy_values(it.game, it.mix)
        for r in mine:
            assert float(r["sigma_value"]) == pytest.approx(float(values[r["role"]] @ it.mix[r["role"]]), abs=1e-12)
            assert int(r["pool_size"]) == it.game.shape[it.game.roles.index(r["role"])]
        assert it.meta_regret == pytest.approx(max(mixed_regret(it.game, it.mix).values()), abs=1e-12)
        # The gain's interval is over the seeds' paired gains: the BR's games against sigma_-r
        # minus sigma's own, seed by seed.
        for role, resp in it.responses.items():
            br = sum(w * x for _, w, x in resp.opponents)
            sigma = sum(math.prod(it.mix[r][i] for r, i in zip(it.game.roles, idx, strict=True))
                        * it.game.samples[role][idx] for idx in np.ndindex(*it.game.shape))  # fmt: skip
            mean, low, high, n = mean_interval(br - sigma)
            assert n == 3 and mean == pytest.approx(resp.gain, abs=1e-12)
            assert resp.gain_interval == pytest.approx((low, high), abs=1e-12)
        assert [float(r["gain_low"]) for r in mine] == [it.responses[r["role"]].gain_interval[0] for r in mine]
    # One printed line per iteration, then the summary.
    lines = stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines[: len(result.iterations)]] == [
        f"iteration {it.number}" for it in result.iterations
    ]
    assert lines[len(result.iterations)].startswith("tiny: ")


def test_a_best_responses_value_is_what_the_next_tournament_finds_for_it(loop):
    _, _, _, result = loop
    assert len(result.iterations) >= 2, "the tiny loop must add a best response to check this"
    for it, nxt in zip(result.iterations, result.iterations[1:], strict=False):
        for role, resp in it.responses.items():
            if not resp.added:
                continue
            game = nxt.game
            k = game.roles.index(role)
            i = game.strategies[role].index(resp.entry.label)
            # sigma of iteration k, with every strategy added since at share 0.
            mix = {r: np.concatenate([it.mix[r], np.zeros(game.shape[j] - len(it.mix[r]))])
                   for j, r in enumerate(game.roles)}  # fmt: skip
            assert strategy_values(game, mix)[role][i] == pytest.approx(resp.value, rel=1e-12, abs=1e-12)
            # ... and the very games: each opponent profile's per-seed payoffs, bit for bit.
            for labels, _, per_seed in resp.opponents:
                idx = tuple(i if j == k else game.strategies[r].index(labels[r]) for j, r in enumerate(game.roles))
                assert np.array_equal(game.samples[role][idx], per_seed)


def test_the_pools_file_is_a_tournament_that_replays_the_last_meta_game(loop, tmp_path):
    folder, _, _, result = loop
    pools = folder / "out" / "pools.toml"
    data = tomllib.loads(pools.read_text())
    added = {r: [resp.entry for it in result.iterations for resp in it.responses.values()
                 if resp.added and resp.role == r] for r in ("china", "us")}  # fmt: skip
    for role, first in (("china", ["bri_2", "greedy"]), ("us", ["pgii_asymmetric", "random"])):
        items = data["roles"][role]["strategies"]
        assert items[:2] == first and len(items) == 2 + len(added[role])
        for item, entry in zip(items[2:], added[role], strict=True):
            assert f"{item['name']}:{item['label']}" == entry.label and item["params"] == entry.params
    code, _, stderr = run_cli("tournament", pools, "--out", tmp_path / "t", "--quiet")
    assert code == 0, stderr
    game = tournament_metagame(tournament_results(load_tournament(pools), tmp_path / "t"))
    last = result.iterations[-1].game
    assert game.strategies == last.strategies
    for r in game.roles:  # the sweep runner's games and the loop's, bit for bit
        assert np.array_equal(game.samples[r], last.samples[r])


def test_pools_grow_by_the_best_responses_and_played_profiles_are_not_replayed(loop):
    _, _, _, result = loop
    seeds = len(result.psro.seeds)
    first = result.iterations[0]
    assert first.game.shape == (2, 2) and first.games_reused == 0
    for it, nxt in zip(result.iterations, result.iterations[1:], strict=False):
        for role in it.game.roles:
            resp = it.responses[role]
            grown = it.game.strategies[role] + ((resp.entry.label,) if resp.added else ())
            assert nxt.game.strategies[role] == grown
        # The next tournament plays only the profiles of two new best responses together: every
        # other profile of its grid was played before (the grid, or a best response's measurement).
        new = math.prod(int(it.responses[r].added) for r in it.game.roles)
        total = math.prod(nxt.game.shape)
        assert nxt.games_reused == (total - new) * seeds
    assert any(resp.added for resp in first.responses.values())


def test_the_loop_is_deterministic(loop, tmp_path):
    folder, path, _, _ = loop
    code, _, stderr = run_cli("psro", path, "--out", tmp_path / "again", "--quiet")
    assert code == 0, stderr
    for name in ("trace.csv", "mixes.csv", "trials.csv", "pools.toml", "metagame.json"):
        assert (tmp_path / "again" / name).read_bytes() == (folder / "out" / name).read_bytes(), name
    assert (tmp_path / "again" / "plots" / "exploitability.png").stat().st_size > 0


def test_a_huge_epsilon_stops_after_one_iteration_with_the_pools_unchanged(tmp_path):
    path = tiny(tmp_path, epsilon=1e6)
    code, stdout, stderr = run_cli("psro", path, "--out", tmp_path / "out", "--quiet")
    assert code == 0, stderr
    assert "converged after 1 iteration;" in stdout
    rows = read_csv(tmp_path / "out" / "trace.csv")
    assert [r["iteration"] for r in rows] == ["1", "1"] and all(r["added"] == "False" for r in rows)
    pools = tomllib.loads((tmp_path / "out" / "pools.toml").read_text())["roles"]
    assert pools == {"china": {"strategies": ["bri_2", "greedy"]}, "us": {"strategies": ["pgii_asymmetric", "random"]}}


def test_iterations_cap_the_loop_and_the_last_responses_are_not_added(tmp_path):
    # The tiny loop's first iteration gains (the module's run adds its best responses), but
    # --iterations 1 stops there: nothing is added, the pools stay the initial ones.
    code, stdout, stderr = run_cli("psro", tiny(tmp_path), "--out", tmp_path / "out", "--iterations", "1", "--quiet")
    assert code == 0, stderr
    assert "stopped at the iteration limit after 1 iteration;" in stdout
    rows = read_csv(tmp_path / "out" / "trace.csv")
    assert [r["iteration"] for r in rows] == ["1", "1"] and all(r["added"] == "False" for r in rows)
    assert max(float(r["gain"]) for r in rows) > 0
    pools = tomllib.loads((tmp_path / "out" / "pools.toml").read_text())["roles"]
    assert pools == {"china": {"strategies": ["bri_2", "greedy"]}, "us": {"strategies": ["pgii_asymmetric", "random"]}}


def interrupt_in_iteration(monkeypatch, iteration: int) -> None:
    """Ctrl-C in the first best-response study of ``iteration`` (its second trial)."""
    import strategy_abm.lab.psro as psro

    real, made = psro.objective_function, []

    def objective_function(tuning):
        made.append(tuning)
        objective, calls = real(tuning), []

        def wrapped(trial):
            calls.append(trial.number)
            if len(made) == 2 * iteration - 1 and len(calls) == 2:
                raise KeyboardInterrupt
            return objective(trial)

        return wrapped

    monkeypatch.setattr(psro, "objective_function", objective_function)


def test_ctrl_c_leaves_the_finished_iterations_and_says_so_in_one_line(tmp_path, capfd, caplog, monkeypatch):
    path, out = tiny(tmp_path), tmp_path / "out"
    interrupt_in_iteration(monkeypatch, 2)
    assert cli_main(["psro", str(path), "--out", str(out), "--quiet"]) == 130
    err = capfd.readouterr().err
    assert err == f"strategy-abm: interrupted; iteration 1 is in {out}/trace.csv\n"
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("optuna")]  # its log: a traceback
    assert [r["iteration"] for r in read_csv(out / "trace.csv")] == ["1", "1"]


def test_ctrl_c_in_the_first_iteration_leaves_no_older_runs_outputs(loop, tmp_path, capfd, monkeypatch):
    # A psro folder run again: until this run's first iteration ends, the last run's files must
    # not stand in the folder as if they were this run's.
    folder, path, _, _ = loop
    out = tmp_path / "out"
    assert run_cli("psro", path, "--out", out, "--iterations", "1", "--quiet")[0] == 0
    capfd.readouterr()
    interrupt_in_iteration(monkeypatch, 1)
    assert cli_main(["psro", str(path), "--out", str(out), "--quiet"]) == 130
    assert capfd.readouterr().err == "strategy-abm: interrupted in iteration 1; no iteration finished\n"
    assert sorted(p.name for p in out.iterdir()) == [".strategy-abm-psro", "plots"]
    assert list((out / "plots").iterdir()) == []


def payoff_total(china: tuple, us: tuple, seed: int, horizon: int) -> float:
    """The US's payoff_total at the horizon of one game on the per-turn (Mesa) path."""
    raw = load_scenario("baseline").model_dump(mode="python")
    raw["horizon_turns"] = horizon
    raw["powers"]["china"].update(strategy=china[0], strategy_params=dict(china[1]))
    raw["powers"]["us"].update(strategy=us[0], strategy_params=dict(us[1]))
    model = CompetitionModel(scenario=validate_scenario(raw), seed=seed, record=False)
    while model.running:
        model.step()
    return model.powers["us"].payoff_total


def test_a_best_responses_objective_is_the_mix_weighted_payoff_total(tmp_path):
    psro = load_psro(tiny(tmp_path))
    profiles = [(("china", "bri_2", {}),), (("china", "parametric", {"spend_share": 0.5}),)]
    tuning = weighted(psro.tunings["us"], profiles, [3.0, 1.0])
    assert tuning.weights == (0.75, 0.25) and not tuning.prunes
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective_function(tuning), n_trials=1)
    params = tuning.params_of(study.trials[0].params)
    expected = sum(
        w * np.mean([payoff_total((p[0][1], p[0][2]), ("parametric", params), s, 5) for s in (0, 1)])
        for w, p in zip((0.75, 0.25), profiles, strict=True)
    )
    assert study.trials[0].value == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="weights"):
        weighted(psro.tunings["us"], profiles, [1.0, 0.0])


def test_the_solver_on_known_games():
    # Battle of the sexes: support enumeration's first equilibrium is the first pure one.
    bos = MetaGame(("a", "b"), {"a": ("x", "y"), "b": ("x", "y")},
                   {"a": [[2.0, 0.0], [0.0, 1.0]], "b": [[1.0, 0.0], [0.0, 2.0]]})  # fmt: skip
    mix, how = solve(bos, "nash")
    assert how == "support enumeration" and mix["a"].tolist() == [1.0, 0.0] and mix["b"].tolist() == [1.0, 0.0]
    assert len(bimatrix_equilibria(bos)) == 3 and len(bimatrix_equilibria(bos, limit=1)) == 1
    # Matching pennies: the one equilibrium is mixed, half and half.
    pennies = MetaGame(("a", "b"), {"a": ("h", "t"), "b": ("h", "t")},
                       {"a": [[1.0, -1.0], [-1.0, 1.0]], "b": [[-1.0, 1.0], [1.0, -1.0]]})  # fmt: skip
    mix, _ = solve(pennies, "nash")
    assert mix["a"] == pytest.approx([0.5, 0.5]) and mix["b"] == pytest.approx([0.5, 0.5])
    mix, how = solve(pennies, "uniform")
    assert how == "uniform" and mix["a"].tolist() == [0.5, 0.5]
    # Three roles, each with a dominant strategy: regret matching finds it.
    shape = (2, 2, 2)
    payoffs = {r: np.fromfunction(lambda i, j, k, r=r: np.where([i, j, k][r] == 1, 1.0, 0.0), shape) for r in range(3)}
    three = MetaGame(("a", "b", "c"), {r: ("lo", "hi") for r in "abc"}, {"abc"[r]: payoffs[r] for r in range(3)})
    mix, how = solve(three, "nash")
    assert how == "regret matching" and all(mix[r][1] > 0.999 for r in "abc")
    # One role: its best strategy.
    alone = MetaGame(("a",), {"a": ("x", "y", "z")}, {"a": [0.0, 2.0, 1.0]})
    assert solve(alone, "nash")[0]["a"].tolist() == [0.0, 1.0, 0.0]


EDITS = [
    (("trials = 5", "trials = 5\ncolour = 1"), "colour"),
    (("epsilon = 0.0", "epsilon = -0.1"), "epsilon"),
    (("max_iterations = 3", "max_iterations = 0"), "max_iterations"),
    (("train_seeds = [0, 1]", "train_seeds = []"), "train_seeds"),
    (("train_seeds = [0, 1]", f"train_seeds = [0, {replication_seed(7, 2)}]"), "train_seeds: seed"),
    (('strategies = ["bri_2", "greedy"]', 'strategies = ["bri_9"]'), "roles.china.strategies.0"),
    (('strategies = ["bri_2", "greedy"]', 'strategies = ["bri_2", { name = "parametric", label = "br_china_1" }]'),
     "roles.china.strategies.1.label"),
    (('"move_weights.policy_bank_loan" = [0.0, 1.0]', '"move_weights.route_realignment" = [0.0, 1.0]'),
     "roles.china.params.move_weights.route_realignment"),
    (("spend_share = [0.3, 1.0]", "spend_share = [0.3, 3.0]"), "roles.us.params.spend_share"),
    (("spend_share = [0.3, 1.0]", "spend_share = [1.0, 0.3]"), "roles.us.params.spend_share: bounds must be"),
    (("[roles.us.params]", "[roles.us.start]\nmove_weights = { tanks = 1.0 }\n[roles.us.params]"),
     "roles.us.start.move_weights.tanks"),
    (("[sampler]", "[roles.kaz]\nstrategies = [\"greedy\"]\nparams = { spend_share = [0, 1] }\n[sampler]"),
     "roles.kaz"),
    (('scenario = "baseline"', 'scenario = "atlantis"'), "scenario"),
    (('solver = "nash"', 'solver = "alpharank"'), "solver"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "message"), EDITS)
def test_a_bad_psro_file_is_one_line_naming_the_field(tmp_path, edit, message):
    text = TINY.format(epsilon=0.0, iterations=3).replace("max_iterations = 3", 'max_iterations = 3\nsolver = "nash"')
    assert edit[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    code, _, stderr = run_cli("psro", path, "--out", tmp_path / "out", "--quiet")
    assert code == 2 and one_error_line(stderr).startswith(f"strategy-abm: error: {message}")  # the field first
    assert not (tmp_path / "out").exists()


def test_a_plots_link_in_a_psro_folder_is_refused_before_the_loop_runs(tmp_path):
    # Refused up front, not after every iteration was played (the loop never writes through a link).
    from strategy_abm.report.folders import write_marker

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    write_marker(out, "psro")
    (out / "trace.csv").write_text("the last run's\n")
    (out / "plots").symlink_to(elsewhere)
    code, _, stderr = run_cli("psro", tiny(tmp_path), "--out", out, "--quiet")
    assert code == 2 and "plots' is a symbolic link" in one_error_line(stderr)
    assert sorted(p.name for p in out.iterdir()) == [".strategy-abm-psro", "plots", "trace.csv"]
    assert (out / "trace.csv").read_text() == "the last run's\n" and list(elsewhere.iterdir()) == []


@pytest.fixture
def python_only():
    """``test_psro_python_only``: a strategy any power may play that has no compiled kernel (its
    decision is Python's), registered for the test only."""
    from strategy_abm.strategies.base import REGISTRY
    from strategy_abm.strategies.powers import Parametric

    class PythonOnly(Parametric):
        name = "test_psro_python_only"

        def propose(self, obs):
            return super().propose(obs)[:1]

    yield PythonOnly.name
    REGISTRY.pop(PythonOnly.name, None)


def test_a_strategy_without_a_kernel_is_blamed_where_it_is(tmp_path, python_only):
    # Outside the roles (the scenario's Russia): the scenario is named, not the first role's pool.
    (tmp_path / "mine.toml").write_text(f'extends = "baseline"\n[powers.russia]\nstrategy = "{python_only}"\n')
    text = TINY.format(epsilon=0.0, iterations=1).replace('scenario = "baseline"', 'scenario = "mine.toml"')
    (tmp_path / "p.toml").write_text(text)
    code, _, stderr = run_cli("psro", tmp_path / "p.toml", "--out", tmp_path / "out", "--quiet")
    assert code == 2 and one_error_line(stderr).startswith(
        f"strategy-abm: error: scenario: powers.russia.strategy: '{python_only}' has no compiled kernel"
    )
    # In a role's pool: that entry is named.
    pool = TINY.format(epsilon=0.0, iterations=1).replace(
        '"pgii_asymmetric", "random"', f'"pgii_asymmetric", "{python_only}"'
    )
    (tmp_path / "q.toml").write_text(pool)
    code, _, stderr = run_cli("psro", tmp_path / "q.toml", "--out", tmp_path / "out", "--quiet")
    assert code == 2 and f"error: roles.us.strategies.1: powers.us.strategy: '{python_only}'" in one_error_line(stderr)
    assert not (tmp_path / "out").exists()
    # A role's own strategy in the scenario is never played (its pool's are), so it is no obstacle.
    (tmp_path / "mine.toml").write_text(f'extends = "baseline"\n[powers.us]\nstrategy = "{python_only}"\n')
    code, _, stderr = run_cli("psro", tmp_path / "p.toml", "--out", tmp_path / "out", "--quiet", "--iterations", "1")
    assert code == 0, stderr


def test_an_out_folder_that_is_not_a_psro_folder_is_refused(tmp_path):
    path = tiny(tmp_path)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, _, stderr = run_cli("psro", path, "--out", other, "--quiet")
    assert code == 2 and "--out" in one_error_line(stderr)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    code, _, stderr = run_cli("psro", tmp_path / "missing.toml", "--quiet")
    assert code == 2 and "does not exist" in one_error_line(stderr)


def test_an_iteration_line_counts_games_in_words():
    from strategy_abm.lab.psro import _games  # noqa: PLC0415

    assert (_games(0), _games(1), _games(300)) == ("0 games", "1 game", "300 games")
