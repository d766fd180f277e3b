"""Input at the edges: start dates and their labels for every turn length, factor ranges and
design points the scenario would refuse, and small CLI faults (an empty scheduler, a negative
turn count, closed standard streams, extends cycles, numbers of hundreds of digits).

Each bad input is one line on stderr naming the field, exit code 2, no traceback.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import PREFIX, one_error_line, run_cli

import strategy_abm.experiments.experiment as experiment_mod
from strategy_abm.cli import main as cli_main
from strategy_abm.experiments.experiment import load_experiment
from strategy_abm.scenario.config import ConfigError, format_date, load_scenario, parse_date, parse_override
from strategy_abm.sim.model import CompetitionModel

# ------------------------------------------------------------------ start dates and their labels

# (turns_per_year, start, labels of turns 0..4). Turn 0 is the period before the start.
LABELS = [
    (1, "2025", ["2024", "2025", "2026", "2027", "2028"]),
    (1, "2025-01", ["2024", "2025", "2026", "2027", "2028"]),
    (2, "2025", ["2024H2", "2025H1", "2025H2", "2026H1", "2026H2"]),
    (2, "2025-07", ["2025H1", "2025H2", "2026H1", "2026H2", "2027H1"]),
    (2, "2025H2", ["2025H1", "2025H2", "2026H1", "2026H2", "2027H1"]),
    (4, "2025", ["2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"]),
    (4, "2025-04", ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1"]),
    (4, "2025Q4", ["2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"]),
    (4, "2025H2", ["2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]),
    (12, "2025", ["2024-12", "2025-01", "2025-02", "2025-03", "2025-04"]),
    (12, "2025-03", ["2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]),
    (12, "2025Q2", ["2025-03", "2025-04", "2025-05", "2025-06", "2025-07"]),
    (12, "2025-11", ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]),
]


@pytest.mark.parametrize(("tpy", "start", "labels"), LABELS, ids=[f"{t}-{s}" for t, s, _ in LABELS])
def test_turn_labels_for_every_turns_per_year(tpy, start, labels):
    scenario = load_scenario("baseline", [f"turns_per_year={tpy}", f"start={start}", "events=[]"])
    model = CompetitionModel(scenario=scenario, seed=0, turns=4, record=False)
    assert [model.date_of(t) for t in range(5)] == labels
    model.step()
    assert model.date == labels[1]


@pytest.mark.parametrize("tpy", [1, 2, 4, 12])
def test_labels_of_400_turns_from_every_allowed_start_are_consecutive_periods(tpy):
    """From every start the turn length allows, 400 turns are labelled with 400 consecutive
    periods: none skipped or repeated, none out of range (no 2024Q5, no month 13)."""
    step = 12 // tpy
    for first in range(0, 12, step):  # every allowed start month of 2025
        start = f"2025-{first + 1:02d}"
        year = parse_date(start)
        labels = [format_date(year + (t - 1) / tpy, tpy) for t in range(401)]
        months = [12 * 2025 + first + (t - 1) * step for t in range(401)]
        expected = {
            1: lambda m: f"{m // 12}",
            2: lambda m: f"{m // 12}H{m % 12 // 6 + 1}",
            4: lambda m: f"{m // 12}Q{m % 12 // 3 + 1}",
            12: lambda m: f"{m // 12}-{m % 12 + 1:02d}",
        }[tpy]
        assert labels == [expected(m) for m in months], start


MISALIGNED = [
    (1, "2025-02", "a year"), (1, "2025Q3", "a year"), (1, "2025H2", "a year"),
    (2, "2025-03", "a half-year"), (2, "2025Q2", "a half-year"), (2, "2025-10", "a half-year"),
    (4, "2025-03", "a quarter"), (4, "2025-02", "a quarter"), (4, "2025-12", "a quarter"),
]  # fmt: skip


@pytest.mark.parametrize(("tpy", "start", "period"), MISALIGNED, ids=[f"{t}-{s}" for t, s, _ in MISALIGNED])
def test_a_start_inside_a_turn_is_refused(tpy, start, period, tmp_path):
    code, stdout, err = run_cli("run", "--set", f"turns_per_year={tpy}", "--set", f'start="{start}"', "--turns", "3",
                                "--out", tmp_path / "r", "--no-plots", "--quiet")  # fmt: skip
    line = one_error_line(err)
    assert code == 2 and stdout == "" and not (tmp_path / "r").exists()
    assert line.startswith(f"{PREFIX}start: {start} is not the start of {period}"), line


@pytest.mark.parametrize(("value", "stored"), [("2025", "2025"), ("2025-04", "2025-04"), ('"2025-04"', "2025-04"),
                                               ("2025Q2", "2025Q2"), ("2025H2", "2025H2")])  # fmt: skip
def test_a_bare_year_or_month_is_a_start(value, stored):
    assert load_scenario("baseline", [f"start={value}"]).start == stored


def test_start_as_a_toml_integer_is_the_year(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('extends = "baseline"\nname = "s"\nstart = 2024\n')
    scenario = load_scenario(path)
    assert scenario.start == "2024"
    model = CompetitionModel(scenario=scenario, seed=0, turns=1, record=False)
    assert model.date_of(1) == "2024Q1"
    code, _, err = run_cli("validate", path, "--set", "start=true")
    assert code == 2 and "start: Input should be a valid string" in one_error_line(err)


def test_bare_word_rule_takes_a_year_and_month_but_not_other_digit_runs():
    assert parse_override("start=2025-03") == (["start"], "2025-03")
    for bad in ("2025-3", "1-2", "2025-03-01x y"):
        with pytest.raises(ConfigError, match="not a valid VALUE"):
            parse_override(f"start={bad}")


# ------------------------------------------------------------------ factor ranges and design points


def _experiment(tmp_path: Path, factors: str, *, design: str = 'kind = "sobol"\nsamples = 8') -> Path:
    path = tmp_path / "e.toml"
    path.write_text(f'name = "e"\nreplications = 1\nmaster_seed = 1\nhorizon_turns = 1\n[design]\n{design}\n'
                    f'{factors}\n[record]\nfinal = ["influence_china"]\n')  # fmt: skip
    return path


NEEDS_EVERY_VALUE = "needs a field that takes every value between its ends; list the values instead"


@pytest.mark.parametrize("kind", ["sobol", "latin_hypercube", "morris"])
def test_a_range_over_a_field_of_listed_values_is_refused(tmp_path, kind):
    path = _experiment(tmp_path, '[factors.turns_per_year]\nrange = [1, 12]\n[factors.horizon_turns]\nrange = [1, 4]',
                       design=f'kind = "{kind}"\nsamples = 8')  # fmt: skip
    code, _, err = run_cli("sweep", path, "--out", tmp_path / "out", "--quiet")
    assert code == 2 and not (tmp_path / "out").exists()
    assert one_error_line(err) == (f"{PREFIX}factors.turns_per_year: the field takes only 1, 2, 4, 12: a range "
                                   f"{NEEDS_EVERY_VALUE}")  # fmt: skip


def test_an_integer_range_checks_every_value_between_its_ends(tmp_path, monkeypatch):
    """A field refusing a value between two valid ends (as a field with gaps would) is found."""
    real_with, real_probe = experiment_mod._with_values, experiment_mod._probe

    def refuse_3(kind):
        def check(scenario, key, value=None, *a):
            values = key if isinstance(key, dict) else {key: value}
            if values.get("horizon_turns") == 3:
                raise (ValueError("3 is a gap") if kind == "with" else ConfigError("factors.horizon_turns: 3 is a gap"))
            return real_with(scenario, key) if kind == "with" else real_probe(scenario, key, value)

        return check

    monkeypatch.setattr(experiment_mod, "_with_values", refuse_3("with"))
    monkeypatch.setattr(experiment_mod, "_probe", refuse_3("probe"))
    path = _experiment(tmp_path, "[factors.horizon_turns]\nrange = [2, 6]")
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    expected = "factors.horizon_turns: 3, inside the range [2, 6], is refused (3 is a gap): a range "
    expected += NEEDS_EVERY_VALUE
    assert str(caught.value) == expected


GRID = '[factors."moves.power_grid.size_min_usd_bn"]\n{a}\n[factors."moves.power_grid.size_max_usd_bn"]\n{b}'


@pytest.mark.parametrize(
    ("a", "b", "design"),
    [("range = [0.1, 3]", "range = [0.5, 4]", 'kind = "sobol"\nsamples = 8'),
     ("range = [0.1, 3]", "range = [0.5, 4]", 'kind = "latin_hypercube"\nsamples = 20'),
     ("range = [0.1, 3]", "range = [0.5, 4]", 'kind = "morris"\nsamples = 4'),
     ("values = [0.1, 1.0, 3.0]", "values = [0.5, 2.0, 4.0]", 'kind = "full_factorial"')],
    ids=["sobol", "latin_hypercube", "morris", "full_factorial"],
)  # fmt: skip
def test_design_points_whose_factors_clash_are_refused_at_load(tmp_path, a, b, design):
    path = _experiment(tmp_path, GRID.format(a=a, b=b), design=design)
    code, _, err = run_cli("sweep", path, "--out", tmp_path / "out", "--quiet")
    assert code == 2 and not (tmp_path / "out").exists()
    line = one_error_line(err)
    found = re.fullmatch(
        rf"{re.escape(PREFIX)}factors: design point (\d+) \(moves.power_grid.size_min_usd_bn = ([\d.]+), "
        r"moves.power_grid.size_max_usd_bn = ([\d.]+)\) is refused by the scenario: "
        r"moves.power_grid: size_max_usd_bn is below size_min_usd_bn",
        line,
    )
    assert found, line
    point = load_experiment_points(path)[int(found.group(1))]
    assert float(found.group(2)) == pytest.approx(point["moves.power_grid.size_min_usd_bn"], rel=1e-5)
    assert float(found.group(3)) == pytest.approx(point["moves.power_grid.size_max_usd_bn"], rel=1e-5)
    assert float(found.group(2)) > float(found.group(3))


def load_experiment_points(path: Path) -> list[dict]:
    """The design points of an experiment file, without the checks (to look one up)."""
    from strategy_abm.experiments.experiment import ExperimentConfig, design_points
    from strategy_abm.scenario.config import read_toml

    return design_points(ExperimentConfig.model_validate(read_toml(path)))


def test_design_points_that_agree_load_and_each_is_checked(tmp_path):
    path = _experiment(tmp_path, GRID.format(a="range = [0.1, 0.5]", b="range = [0.5, 4]"))
    experiment = load_experiment(path)
    assert experiment.points_checked == len(experiment.points) == 8 * 4


def test_beyond_the_limit_corners_and_a_sample_are_checked_and_the_cli_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment_mod, "MAX_CHECKED_POINTS", 40)
    values = [round(0.1 + 0.04 * i, 2) for i in range(10)]  # 0.1 .. 0.46, all below every maximum
    maxima = [round(0.5 + 0.3 * i, 2) for i in range(10)]
    path = _experiment(tmp_path, GRID.format(a=f"values = {values}", b=f"values = {maxima}"),
                       design='kind = "full_factorial"')  # fmt: skip
    experiment = load_experiment(path)
    assert (experiment.points_checked, len(experiment.points)) == (40, 100)
    code, _, err = run_cli("sweep", path, "--out", tmp_path / "out", "--quiet", "--workers", "1")
    assert code == 0
    assert err.splitlines()[0] == ("strategy-abm: note: 40 of the 100 design points (every corner and a sample) were "
                                   "checked against the scenario; a point it refuses will fail its runs")  # fmt: skip
    # A clash at a corner (the largest minimum with the smallest maximum) is found there.
    clash = _experiment(tmp_path, GRID.format(a=f"values = {[*values[:-1], 0.6]}", b=f"values = {maxima}"),
                        design='kind = "full_factorial"')  # fmt: skip
    with pytest.raises(ConfigError, match=r"a corner of the design \(.*size_min_usd_bn = 0.6, .*= 0.5\)"):
        load_experiment(clash)


def test_a_huge_range_on_an_integer_field_gives_a_short_message(tmp_path):
    path = _experiment(tmp_path, "[factors.horizon_turns]\nrange = [1, 1e308]")
    code, _, err = run_cli("sweep", path, "--out", tmp_path / "out", "--quiet")
    line = one_error_line(err)
    assert code == 2
    assert line == f"{PREFIX}factors.horizon_turns: Input should be less than or equal to 400 (got 1e+308)"


def test_integers_of_hundreds_or_thousands_of_digits_are_one_line(tmp_path):
    code, _, err = run_cli("validate", "baseline", "--set", "horizon_turns=" + "9" * 500)
    assert code == 2 and one_error_line(err).endswith("horizon_turns: Input should be less than or equal to 400 "
                                                      "(got 1e+500)")  # fmt: skip
    code, _, err = run_cli("validate", "baseline", "--set", "horizon_turns=" + "9" * 5000)
    assert code == 2 and "--set horizon_turns: Exceeds the limit (4300 digits)" in one_error_line(err)
    path = tmp_path / "huge.toml"
    path.write_text('extends = "baseline"\nname = "huge"\nhorizon_turns = ' + "9" * 5000 + "\n")
    code, _, err = run_cli("validate", path)
    assert code == 2 and "scenario: huge.toml: Exceeds the limit (4300 digits)" in one_error_line(err)


# ------------------------------------------------------------------ small CLI faults


EMPTY_ADDRESS = "--scheduler: the address is empty (give tcp://HOST:PORT, tls://HOST:PORT or 'local')"


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["sweep", "smoke", "--scheduler", ""], EMPTY_ADDRESS),
     (["sweep", "smoke", "--scheduler", " "], EMPTY_ADDRESS),
     (["run", "--turns", "-1"], "argument --turns: must be at least 1, got -1"),
     (["run", "--turns", "0"], "argument --turns: must be at least 1, got 0"),
     (["sweep", "smoke", "--workers", "-3"], "argument --workers: must be at least 1, got -3"),
     (["sweep", "smoke", "--flush-rows", "0"], "argument --flush-rows: must be at least 1, got 0"),
     (["run", "--seed", "-1"], "argument --seed: must be 0 or more, got -1")],
    ids=["scheduler-empty", "scheduler-blank", "turns-negative", "turns-zero", "workers-negative", "flush-rows-zero",
         "seed-negative"],
)  # fmt: skip
def test_option_values_are_named_rightly(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli(*argv, "--quiet")
    assert (code, stdout) == (2, "")
    assert one_error_line(err) == PREFIX + message
    assert list(tmp_path.iterdir()) == []


def _shell(command: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)


CLI = f"{sys.executable} -m strategy_abm.cli"


def test_closed_standard_streams_end_without_a_traceback():
    done = _shell(f"{CLI} validate baseline >&-; echo status=$? >&2")
    assert done.stderr == "status=141\n" and done.stdout == ""
    done = _shell(f"{CLI} validate nowhere 2>&-; echo status=$?")
    assert done.stdout == "status=2\n" and done.stderr == "", "the error went to stdout"
    done = _shell(f"{CLI} validate nowhere 2>&- >&-; echo status=$? >&2")
    assert done.stderr == "status=2\n"
    done = _shell(f"{CLI} validate baseline 2>&-; echo status=$?")
    assert done.stdout.splitlines()[-1] == "status=0" and done.stdout.startswith("ok: baseline")


def test_streams_that_are_none_in_process(monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)
    assert cli_main(["validate", "baseline"]) == 141
    assert sys.stdout is None  # restored as it was
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", None)
    assert cli_main(["validate", "nowhere"]) == 2
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("files", "start", "cycle"),
    [({"a": "b.toml", "b": "a.toml"}, "a", "a.toml -> b.toml -> a.toml"),
     ({"a": "b.toml", "b": "c.toml", "c": "b.toml"}, "a", "b.toml -> c.toml -> b.toml"),
     ({"a": "a.toml"}, "a", "a.toml -> a.toml")],
    ids=["two-files", "a-tail-then-a-cycle", "itself"],
)  # fmt: skip
def test_an_extends_cycle_is_named(files, start, cycle, tmp_path):
    for name, base in files.items():
        (tmp_path / f"{name}.toml").write_text(f'extends = "{base}"\n')
    code, _, err = run_cli("validate", tmp_path / f"{start}.toml")
    assert code == 2 and one_error_line(err) == f"{PREFIX}extends: a cycle, {cycle}"
