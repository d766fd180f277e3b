"""The tuner (strategy-abm tune): reproducible studies, the right objective value, resuming, the
Wilcoxon pruner, the best parameters as a scenario, and one-line errors for bad tuning files."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import optuna
import pytest

from strategy_abm.cli import main
from strategy_abm.lab.tune import load_tuning, objective_function, open_study, resolve, run_study, write_outputs
from strategy_abm.scenario.config import load_scenario, validate_scenario
from strategy_abm.sim.bulk import BulkPlan
from strategy_abm.sim.model import CompetitionModel

TINY = """
name = "tiny"
scenario = "baseline"
horizon_turns = {horizon}
role = "us"
seeds = [0, 1]
eval_seeds = [7, 8]
trials = 4
{extra}
[params]
spend_share = [0.2, 1.0]
offer_size = [0.0, 1.0]
offers_per_turn = [2, 12]
"move_weights.soft_infrastructure" = [0.0, 1.0]
"move_weights.critical_minerals" = [0.0, 1.0]
"host_weights.kaz" = [0.0, 1.0]
"host_weights.kgz" = [0.0, 1.0]

[opponents]
china = ["bri_2", "bri_classic"]

[sampler]
seed = 3
{pruner}
"""


def tiny(tmp_path, name="tiny.toml", horizon=4, extra="", pruner=""):
    path = tmp_path / name
    path.write_text(TINY.format(horizon=horizon, extra=extra, pruner=pruner))
    return path


def payoff_direct(role_params: dict, china: str, seed: int, horizon: int) -> float:
    """The US's payoff_total (payoff-years) at the horizon of one game played on the per-turn (Mesa) path."""
    raw = load_scenario("baseline").model_dump(mode="python")
    raw["horizon_turns"] = horizon
    raw["powers"]["us"].update(strategy="parametric", strategy_params=role_params)
    raw["powers"]["china"].update(strategy=china, strategy_params={})
    model = CompetitionModel(scenario=validate_scenario(raw), seed=seed, record=False)
    while model.running:
        model.step()
    return model.metrics["payoff_total_us"]


def test_a_study_is_reproducible_from_its_sampler_seed(tmp_path):
    tuning = load_tuning(tiny(tmp_path))
    a = run_study(tuning, tmp_path / "a")
    b = run_study(tuning, tmp_path / "b")
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.state for t in a.trials] == [t.state for t in b.trials]
    assert a.best_value == b.best_value and len(a.trials) == 4
    # Another sampler seed samples other candidates.
    other = tuning.config.model_copy(update={"sampler": tuning.config.sampler.model_copy(update={"seed": 4})})
    c = run_study(resolve(other), tmp_path / "c")
    assert [t.params for t in c.trials] != [t.params for t in a.trials]


def test_a_trials_value_is_the_mean_payoff_of_its_games_played_directly(tmp_path):
    tuning = load_tuning(tiny(tmp_path, pruner="[pruner]\nwilcoxon = false\n"))
    study = run_study(tuning, tmp_path / "out", trials=2)
    for trial in study.trials:
        params = tuning.params_of(trial.params)
        games = [payoff_direct(params, china, seed, 4) for china in ("bri_2", "bri_classic") for seed in (0, 1)]
        assert trial.value == pytest.approx(sum(games) / 4, rel=1e-12)
        # The tuned table names exactly the declared moves and hosts.
        assert set(params["move_weights"]) == {"soft_infrastructure", "critical_minerals"}
        assert set(params["host_weights"]) == {"kaz", "kgz"}


def test_running_again_continues_the_same_study(tmp_path):
    path = tiny(tmp_path)
    out = tmp_path / "out"
    assert main(["tune", str(path), "--out", str(out), "--trials", "3", "--quiet"]) == 0
    assert main(["tune", str(path), "--out", str(out), "--trials", "2", "--quiet"]) == 0
    assert main(["tune", str(path), "--out", str(out), "--trials", "1", "--quiet", "--resume"]) == 0
    study = open_study(load_tuning(path), out)
    assert len(study.trials) == 6 and [t.number for t in study.trials] == list(range(6))
    # A later session's sampler is seeded apart: it does not propose the first session's candidates again.
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 6
    with open(out / "trials.csv") as f:
        assert len(list(csv.DictReader(f))) == 6


def test_the_wilcoxon_pruner_stops_a_clearly_bad_candidate(tmp_path):
    path = tiny(tmp_path, horizon=8, extra="max_profiles = 2\n", pruner="[pruner]\np_threshold = 0.1\n")
    tuning = load_tuning(path)
    (tmp_path / "out").mkdir()
    study = open_study(tuning, tmp_path / "out")
    # Measured (horizon 8, seeds 0 and 1, China on either doctrine): many small offers score about
    # 0.64 payoff-years in every game; the whole budget in large offers, 0.15 to 0.21.
    good = {"spend_share": 0.2, "offer_size": 0.0, "offers_per_turn": 2, "move_weights.soft_infrastructure": 1.0,
            "move_weights.critical_minerals": 0.0, "host_weights.kaz": 0.0, "host_weights.kgz": 1.0}  # fmt: skip
    bad = {**good, "spend_share": 1.0, "offer_size": 0.5, "offers_per_turn": 12, "host_weights.kaz": 1.0,
           "move_weights.critical_minerals": 1.0}  # fmt: skip
    study.enqueue_trial(good)
    study.enqueue_trial(bad)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective_function(tuning), n_trials=2)
    first, second = study.trials
    assert first.state == optuna.trial.TrialState.COMPLETE
    assert second.state == optuna.trial.TrialState.PRUNED
    # It was stopped on the evidence of instances all worse than the good candidate's.
    steps = second.intermediate_values
    assert steps and all(v < first.intermediate_values[s] for s, v in steps.items())


def test_best_toml_is_a_scenario_that_reproduces_the_reported_evaluation(tmp_path):
    path = tiny(tmp_path, extra='[eval_opponents]\nchina = ["bri_classic"]\ng7 = ["pgii_asymmetric"]\n')
    tuning = load_tuning(path)
    out = tmp_path / "out"
    study = run_study(tuning, out, trials=3)
    report = write_outputs(tuning, study, out)
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["params"] == report["params"] and evaluation["doctrine"] == "pgii_asymmetric"
    sc = load_scenario(out / "best.toml", ["horizon_turns=4", "powers.china.strategy=bri_classic",
                                           "powers.g7.strategy=pgii_asymmetric"])  # fmt: skip
    assert sc.powers["us"].strategy == "parametric"
    assert sc.powers["us"].strategy_params == tuning.params_of(study.best_trial.params)
    plan = BulkPlan(sc)
    tuned = [plan.play(seed)[4]["payoff_total_us"] for seed in (7, 8)]
    with open(out / "evaluation.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["profile"] for r in rows] == ["china=bri_classic,g7=pgii_asymmetric"] * 2
    assert [float(r["payoff_total_us_tuned"]) for r in rows] == tuned
    doctrine = BulkPlan(load_scenario("baseline", ["horizon_turns=4", "powers.china.strategy=bri_classic",
                                                   "powers.g7.strategy=pgii_asymmetric"]))  # fmt: skip
    base = [doctrine.play(seed)[4]["payoff_total_us"] for seed in (7, 8)]
    assert [float(r["payoff_total_us_doctrine"]) for r in rows] == base
    s = evaluation["objectives"]["payoff_total_us"]
    diffs = [a - b for a, b in zip(tuned, base, strict=True)]
    assert s["difference_mean"] == pytest.approx(sum(diffs) / 2, abs=1e-15)
    half = 12.706204736174698 * (abs(diffs[0] - diffs[1]) / math.sqrt(2)) / math.sqrt(2)  # t(0.975, 1) * sd / sqrt(n)
    assert s["difference_ci95"] == pytest.approx([s["difference_mean"] - half, s["difference_mean"] + half])
    assert (out / "plots" / "history.png").stat().st_size > 0 and (out / "plots" / "importance.png").exists()


def test_several_objectives_use_nsga2_and_write_the_pareto_front(tmp_path):
    extra = ('[[objectives]]\nmetric = "payoff_us"\n[[objectives]]\nmetric = "debt_to_gdp_kgz"\n'
             'direction = "minimize"\n')  # fmt: skip
    path = tiny(tmp_path, extra=extra)
    out = tmp_path / "out"
    assert main(["tune", str(path), "--out", str(out), "--quiet"]) == 0
    study = open_study(load_tuning(path), out)
    assert isinstance(study.sampler, optuna.samplers.NSGAIISampler)
    with open(out / "pareto.csv") as f:
        front = list(csv.DictReader(f))
    assert sorted(int(r["trial"]) for r in front) == sorted(t.number for t in study.best_trials)
    assert "debt_to_gdp_kgz_tuned" in (out / "evaluation.csv").read_text()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("trials = 4", "trials = 4\ncolour = 1"), "colour"),
        (("trials = 4", "trials = 0"), "trials"),
        (('role = "us"', 'role = "kaz"'), "role: 'kaz' is not a power"),
        (("spend_share = [0.2, 1.0]", "spend_share = [0.2, 2.0]"), "params.spend_share: bounds"),
        (("spend_share = [0.2, 1.0]", "spend_share = [0.9, 0.2]"), "params.spend_share: bounds must be"),
        (("spend_share = [0.2, 1.0]", "boldness = [0, 1]"), "params.boldness: not a tunable parameter"),
        (("spend_share = [0.2, 1.0]", '"move_weights.tanks" = [0, 1]'), "params.move_weights.tanks"),
        (("offers_per_turn = [2, 12]", "offers_per_turn = [2.5, 12]"), "params.offers_per_turn"),
        (('china = ["bri_2", "bri_classic"]', 'china = ["bri_9"]'), "opponents.china"),
        (('china = ["bri_2", "bri_classic"]', 'us = ["bri_2"]'), "opponents.us"),
        (("eval_seeds = [7, 8]", "eval_seeds = [1, 8]"), "eval_seeds: seed 1"),
        (("trials = 4", "trials = 4\nobjectives = []"), "objectives: list at least one"),
        (("trials = 4", "trials = 4\n[eval_opponents]\nchina = []"), "eval_opponents.china: list at least one"),
        (("seeds = [0, 1]", "seeds = []"), "seeds"),
        (("seed = 3", 'seed = 3\nkind = "nsga2"'), "sampler.kind"),
        (("trials = 4", '[[objectives]]\nmetric = "payoff_mars"\n'), "objectives.0.metric"),
        (('scenario = "baseline"', 'scenario = "atlantis"'), "scenario"),
        (('scenario = "baseline"', 'scenario = "."'), "scenario: '"),  # a folder: named once, not "scenario: scenario:"
    ],
)
def test_a_bad_tuning_file_is_one_line_naming_the_field(tmp_path, capsys, edit, message):
    text = TINY.format(horizon=4, extra="", pruner="")
    assert edit[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    assert main(["tune", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    # One line that starts with the field the message names (a rule of the whole file too: never "scenario").
    assert err.count("\n") == 1 and err.startswith(f"strategy-abm: error: {message}"), err
    assert not (tmp_path / "out").exists()


def test_an_out_folder_that_is_not_a_tuners_is_refused(tmp_path, capsys):
    path = tiny(tmp_path)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert main(["tune", str(path), "--out", str(other), "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err and (other / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    assert main(["tune", str(path), "--out", str(tmp_path / "new"), "--quiet", "--resume"]) == 2
    assert "--resume" in capsys.readouterr().err
    # A tuner's folder holding another file's study is refused too.
    assert main(["tune", str(path), "--out", str(tmp_path / "t"), "--trials", "1", "--quiet"]) == 0
    changed = tiny(tmp_path, "changed.toml", extra="max_profiles = 1\n")
    assert main(["tune", str(changed), "--out", str(tmp_path / "t"), "--trials", "1", "--quiet"]) == 2
    assert "different version" in capsys.readouterr().err


def test_ctrl_c_mid_study_is_one_line_and_keeps_the_finished_trials(tmp_path, capfd, caplog, monkeypatch):
    # Optuna logs a trial that raised, with its traceback: for Ctrl-C the user sees one line only.
    import strategy_abm.lab.tune as tune

    real = tune.objective_function

    def interrupted_at_third(tuning):
        objective = real(tuning)
        calls = []

        def wrapped(trial):
            calls.append(trial.number)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return objective(trial)

        return wrapped

    monkeypatch.setattr(tune, "objective_function", interrupted_at_third)
    path, out = tiny(tmp_path), tmp_path / "out"
    assert main(["tune", str(path), "--out", str(out), "--trials", "5", "--quiet"]) == 130
    err = capfd.readouterr().err
    assert err == (f"strategy-abm: interrupted; finished trials are stored in {out}/study.journal and running "
                   "again continues\n")  # fmt: skip
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("optuna")]  # its log: a traceback
    states = [t.state.name for t in open_study(load_tuning(path), out).trials]
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]


def test_a_plots_link_in_a_tuners_folder_is_refused_before_any_trial(tmp_path, capsys):
    path = tiny(tmp_path)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    assert main(["tune", str(path), "--out", str(out), "--trials", "1", "--quiet"]) == 0
    capsys.readouterr()
    elsewhere.mkdir()
    for png in (out / "plots").iterdir():
        png.unlink()
    (out / "plots").rmdir()
    (out / "plots").symlink_to(elsewhere)
    assert main(["tune", str(path), "--out", str(out), "--trials", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plots' is a symbolic link" in err, err
    assert len(open_study(load_tuning(path), out).trials) == 1 and list(elsewhere.iterdir()) == []


def test_a_scenario_actor_without_a_kernel_is_blamed_on_the_scenario(tmp_path, capsys):
    from strategy_abm.strategies.base import REGISTRY
    from strategy_abm.strategies.powers import Parametric

    class PythonOnly(Parametric):  # its decision is Python's: no compiled kernel
        name = "test_tune_python_only"

        def propose(self, obs):
            return super().propose(obs)[:1]

    try:
        (tmp_path / "mine.toml").write_text(f'extends = "baseline"\n[powers.russia]\nstrategy = "{PythonOnly.name}"\n')
        path = tiny(tmp_path)
        path.write_text(path.read_text().replace('scenario = "baseline"', 'scenario = "mine.toml"'))
        assert main(["tune", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err == (f"strategy-abm: error: scenario: powers.russia.strategy: '{PythonOnly.name}' has no compiled "
                       "kernel: the tuner plays on the bulk path\n")  # fmt: skip
    finally:
        REGISTRY.pop(PythonOnly.name, None)


def test_a_study_is_not_continued_against_an_edited_scenario_or_other_code(tmp_path, capsys, monkeypatch):
    # Trials scored in other games would be compared as if in the same ones: the study's
    # fingerprint covers the scenario the file names (its content) and the code that plays it.
    import strategy_abm.lab.tune as tune

    (tmp_path / "mine.toml").write_text('extends = "baseline"\n')
    path = tiny(tmp_path)
    path.write_text(path.read_text().replace('scenario = "baseline"', 'scenario = "mine.toml"'))
    out = str(tmp_path / "out")
    assert main(["tune", str(path), "--out", out, "--trials", "1", "--quiet"]) == 0
    assert main(["tune", str(path), "--out", out, "--trials", "1", "--quiet"]) == 0  # unchanged: continues
    (tmp_path / "mine.toml").write_text('extends = "baseline"\n[powers.us]\nbudget_usd_bn_per_year = 3.0\n')
    capsys.readouterr()
    assert main(["tune", str(path), "--out", out, "--trials", "1", "--quiet"]) == 2
    assert "different version" in capsys.readouterr().err
    (tmp_path / "mine.toml").write_text('extends = "baseline"\n')
    monkeypatch.setattr(tune, "code_fingerprint", lambda: "other rules")
    assert main(["tune", str(path), "--out", out, "--trials", "1", "--quiet"]) == 2
    assert "different version" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["tune", str(path), "--out", out, "--trials", "1", "--quiet"]) == 0
    assert len(open_study(load_tuning(path), tmp_path / "out").trials) == 3


def test_two_processes_share_one_study(tmp_path):
    path = tiny(tmp_path)
    out = tmp_path / "out"
    assert main(["tune", str(path), "--out", str(out), "--trials", "1", "--quiet"]) == 0
    marker = out / ".strategy-abm-tune"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "seen": "by this test"}))
    command = [
        sys.executable,
        "-m",
        "strategy_abm.cli",
        "tune",
        str(path),
        "--out",
        str(out),
        "--trials",
        "3",
        "--quiet",
    ]
    procs = [subprocess.Popen([*command, "--worker", str(w)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for w in (1, 2)]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    study = open_study(load_tuning(path), out)
    assert len(study.trials) == 7 and sorted(t.number for t in study.trials) == list(range(7))
    # Sessions on a marked folder leave its marker alone: two of them rewriting it at once raced on
    # its temporary file (one failed with 'No such file or directory').
    assert json.loads(marker.read_text())["seen"] == "by this test"
    assert all(t.state.is_finished() for t in study.trials)
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 7
