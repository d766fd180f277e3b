"""Sweep plots, sensitivity and loading at the edges (issue 6, sections 6 and 9): intervals of a
share that every run agrees on, categorical factors among many design points, design points of
different turn lengths, a metric without variance, damaged manifests and parts, and counts in
messages (1 run, 2 runs)."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clitools import PREFIX, one_error_line, run_cli, sweep_ok

from strategy_abm.experiments.analysis import (
    TURN_AXIS_MIXED,
    YEAR_AXIS,
    compare_chart,
    date_year,
    error_bars,
    factor_panels,
    fan_chart,
    plot_results,
    sensitivity,
    share_of_runs,
)
from strategy_abm.experiments.experiment import load_experiment
from strategy_abm.experiments.results import ResultStore, load_failures, load_results, load_series, table_schemas
from strategy_abm.report.folders import FaultError

Z = 1.959963984540054  # the normal quantile of 0.975


def write_experiment(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\n{body}', encoding="utf-8")
    return path


def wilson(k: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of k successes in n, from its textbook formula."""
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


# ------------------------------------------------------------------ 1. share of runs, error bars


def test_share_of_runs_interval_contains_the_share_for_every_n_up_to_200():
    bad = []
    for n in range(1, 201):
        none, every = share_of_runs([0] * n), share_of_runs([1] * n)
        # The exact bounds: 0 and z^2 / (n + z^2) when no run is 1; n / (n + z^2) and 1 when all are.
        if none[:2] != (0.0, 0.0) or every[0] != 1.0 or every[2] != 1.0:
            bad.append((n, none, every))
        assert none[2] == pytest.approx(Z * Z / (n + Z * Z), rel=1e-12)
        assert every[1] == pytest.approx(n / (n + Z * Z), rel=1e-12)
        for k in sorted({1, n // 3, n // 2, n - 1} - {0, n}):
            share, low, high = share_of_runs([1] * k + [0] * (n - k))
            assert share == k / n and 0 <= low <= share <= high <= 1
            assert (low, high) == pytest.approx(wilson(k, n), rel=1e-12)
        for share, low, high in (none, every):
            assert 0 <= low <= share <= high <= 1
            assert (error_bars([share], [low], [high]) >= 0).all()
    assert bad == []


def test_error_bars_are_never_negative():
    bars = error_bars([0.0, 1.0, 0.5], [5.6e-17, 0.7, 0.2], [0.5, 1.0 - 1e-16, 0.9])
    assert bars.tolist() == [[0.0, pytest.approx(0.3), pytest.approx(0.3)], [0.5, 0.0, pytest.approx(0.4)]]


def test_compare_chart_of_a_metric_all_0_and_all_1_draws_the_wilson_interval():
    results = pd.DataFrame({"point": [0, 0, 0, 1, 1, 1], "distress_kaz": [0.0] * 3 + [1.0] * 3})
    ax = compare_chart(results, "distress_kaz", {0: "a=1", 1: "a=2"}).axes[0]
    shares = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
    assert shares == [0.0, 1.0]
    bars = [segment for c in ax.collections for segment in c.get_segments()]
    assert [(s[0][0], s[1][0]) for s in bars] == [
        (0.0, pytest.approx(Z * Z / (3 + Z * Z))), (pytest.approx(3 / (3 + Z * Z)), 1.0)
    ]  # fmt: skip


def test_plot_of_a_sweep_whose_0_1_metric_is_all_0_writes_its_plot(tmp_path):
    exp = write_experiment(tmp_path, "dist", 'horizon_turns = 2\nreplications = 3\nmaster_seed = 1\n'
                           '[record]\nfinal = ["distress_kaz"]\n')  # fmt: skip
    out = tmp_path / "dist"
    sweep_ok(exp, out)
    assert load_results(out)["distress_kaz"].tolist() == [0.0, 0.0, 0.0]
    code, stdout, stderr = run_cli("plot", out)
    assert (code, stderr) == (0, "")
    assert stdout == f"1 plot in {out / 'plots'}/\n"  # (and "1 plot", not "1 plots")
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["compare_distress_kaz.png"]


# ------------------------------------------------------------------ 2. categorical factors in panels


def _categorical_results() -> pd.DataFrame:
    rows = []
    for i, (strategy, developable, ratio) in enumerate(
        (s, d, r) for s in ("multi_vector", "debt_averse", "china_leaning") for d in (True, False) for r in (0.05, 0.1)
    ):
        for rep in range(2):
            rows.append({"point": i, "replication": rep, "hosts.kgz.strategy": strategy,
                         "hosts.kaz.minerals.uranium.developable": developable, "rules.distress_service_ratio": ratio,
                         "influence_china": 0.4 + 0.01 * i + 0.001 * rep,
                         "distress_tjk": float(ratio == 0.05 or (strategy == "debt_averse" and rep == 0))})  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame.astype({"hosts.kaz.minerals.uranium.developable": bool})


FACTORS = ["hosts.kgz.strategy", "hosts.kaz.minerals.uranium.developable", "rules.distress_service_ratio"]


def test_a_text_or_true_false_factor_is_drawn_per_value_with_its_runs_and_mean():
    results = _categorical_results()
    fig = factor_panels(results, "influence_china", FACTORS)
    text, flag, number = fig.axes[:3]
    for ax, factor, values in ((text, FACTORS[0], ["china_leaning", "debt_averse", "multi_vector"]),
                               (flag, FACTORS[1], [False, True])):  # fmt: skip
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(v) for v in values]
        assert ax.get_xticks().tolist() == list(range(len(values)))
        means = ax.get_lines()[0]
        assert means.get_xdata().tolist() == list(range(len(values)))
        expected = [results.loc[results[factor] == v, "influence_china"].mean() for v in values]
        assert means.get_ydata().tolist() == pytest.approx(expected)
        dots = ax.collections[0].get_offsets()
        assert len(dots) == len(results)  # every run, in the column of its value
        column = results[factor].map({v: i for i, v in enumerate(values)}).to_numpy()
        assert np.abs(dots[:, 0] - column).max() <= 0.25 and sorted(dots[:, 1]) == sorted(results["influence_china"])
    # A numeric factor keeps the scatter of runs and the means per value on a number axis.
    assert number.get_lines()[0].get_xdata().tolist() == pytest.approx([0.05, 0.1])
    assert number.get_lines()[0].get_ydata().tolist() == pytest.approx(
        results.groupby("rules.distress_service_ratio")["influence_china"].mean().tolist()
    )
    assert sorted(number.collections[0].get_offsets()[:, 0]) == sorted(results["rules.distress_service_ratio"])


def test_a_0_1_metric_against_a_categorical_factor_is_the_share_per_value_with_its_interval():
    results = _categorical_results()
    fig = factor_panels(results, "distress_tjk", FACTORS)
    text, flag, number = fig.axes[:3]
    for ax, factor, values in ((text, FACTORS[0], ["china_leaning", "debt_averse", "multi_vector"]),
                               (flag, FACTORS[1], [False, True])):  # fmt: skip
        shares = ax.get_lines()[0]
        got = [share_of_runs(results.loc[results[factor] == v, "distress_tjk"]) for v in values]
        assert shares.get_ydata().tolist() == pytest.approx([s for s, _, _ in got])
        bars = [segment for c in ax.collections for segment in c.get_segments()]
        assert [v for s in bars for v in (s[0][1], s[1][1])] == pytest.approx(
            [v for _, lo, hi in got for v in (lo, hi)]
        )
    assert text.get_lines()[0].get_ydata().tolist() == pytest.approx([0.5, 0.75, 0.5])
    assert number.get_lines()[0].get_ydata().tolist() == [1.0, pytest.approx(1 / 6)]


def test_plot_of_a_factorial_of_18_points_with_text_and_true_false_factors(tmp_path):
    exp = write_experiment(tmp_path, "fac", 'horizon_turns = 1\nreplications = 2\nmaster_seed = 1\nbatch_size = 36\n'
                           '[factors."hosts.kgz.strategy"]\nvalues = ["multi_vector", "debt_averse", "china_leaning"]\n'
                           '[factors."hosts.kaz.minerals.uranium.developable"]\nvalues = [true, false]\n'
                           '[factors."rules.distress_service_ratio"]\nvalues = [0.05, 0.1, 0.2]\n'
                           '[record]\nfinal = ["influence_china", "distress_tjk"]\n')  # fmt: skip
    out = tmp_path / "fac"
    sweep_ok(exp, out)
    code, stdout, stderr = run_cli("plot", out)
    assert (code, stderr) == (0, ""), stderr
    assert stdout == f"2 plots in {out / 'plots'}/\n"
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "compare_distress_tjk.png",
        "compare_influence_china.png",
    ]
    results = load_results(out)
    assert results["hosts.kaz.minerals.uranium.developable"].dtype == bool
    flag = factor_panels(results, "influence_china", FACTORS).axes[1]
    assert [t.get_text() for t in flag.get_xticklabels()] == ["False", "True"]


# ------------------------------------------------------------------ 4. fan charts of points with other dates


def test_date_year_reads_every_date_label_the_game_writes():
    assert [date_year(d) for d in ("2025", "2025Q3", "2025-04", "2025.2", "2024Q4")] == pytest.approx(
        [2025.0, 2025.5, 2025.25, 2025.5, 2024.75]
    )
    assert [date_year(d, end=True) for d in ("2024", "2024Q4", "2024-12", "2024.2")] == pytest.approx([2025.0] * 4)
    for bad in ("2025Q5", "25-01", "2025.3", "next year", ""):
        with pytest.raises(ValueError):
            date_year(bad)


def test_fan_chart_of_points_with_other_turn_lengths_is_drawn_over_years(tmp_path):
    exp = write_experiment(tmp_path, "tpy", 'horizon_turns = 4\nreplications = 2\nmaster_seed = 1\n'
                           '[factors.turns_per_year]\nvalues = [1, 4, 12]\n'
                           '[record]\nfinal = ["influence_china"]\nseries = ["influence_china"]\n')  # fmt: skip
    out = tmp_path / "tpy"
    sweep_ok(exp, out)
    series = load_series(out)
    ax = fan_chart(series, "influence_china", {0: "annual", 1: "quarterly", 2: "monthly"}).axes[0]
    assert ax.get_xlabel() == YEAR_AXIS
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["annual", "quarterly", "monthly"]
    for point, (line, per_year) in enumerate(zip(lines, (1, 4, 12), strict=True)):
        # Turn t of a game starting in 2025 ends at 2025 + t / turns_per_year; turn 0 is the start.
        assert line.get_xdata().tolist() == pytest.approx([2025 + t / per_year for t in range(5)])
        medians = series[series["point"] == point].groupby("turn")["influence_china"].median()
        assert line.get_ydata().tolist() == pytest.approx(medians.tolist())
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks and not any("Q" in t or "-" in t for t in ticks), "no date labels of one point on the others"
    assert plot_results(out)[0].name == "fan_influence_china.png"


def test_fan_chart_with_dates_it_cannot_read_is_drawn_over_turns_and_says_so():
    series = pd.DataFrame({"point": [0, 0, 1, 1], "replication": 0, "turn": [0, 1, 0, 1],
                           "date": ["A", "B", "C", "D"], "influence_china": [0.1, 0.2, 0.3, 0.4]})  # fmt: skip
    ax = fan_chart(series, "influence_china", {0: "a", 1: "b"}).axes[0]
    assert ax.get_xlabel() == TURN_AXIS_MIXED
    assert [line.get_xdata().tolist() for line in ax.get_lines()] == [[0, 1], [0, 1]]


# ------------------------------------------------------------------ 5. a metric without variance


SOBOL = """horizon_turns = 1
replications = 1
master_seed = 2
batch_size = 16
[design]
kind = "sobol"
samples = 4
[factors."powers.us.budget_usd_bn_per_year"]
range = [2.0, 4.0]
[factors."rules.distress_service_ratio"]
range = [0.3, 0.4]
[record]
final = ["influence_china", "distress_kaz"]
"""


@pytest.fixture(scope="module")
def constant_sobol(tmp_path_factory) -> Path:
    """A Sobol sweep (16 runs) whose distress_kaz is 0 in every run, influence_china is not."""
    tmp = tmp_path_factory.mktemp("constant")
    out = tmp / "out"
    code, _, stderr = run_cli("sweep", write_experiment(tmp, "sob", SOBOL), "--out", out, "--quiet")
    assert code == 0, stderr
    results = load_results(out)
    assert results["distress_kaz"].eq(0).all() and results["influence_china"].nunique() > 1
    return out


def test_sobol_indices_of_a_constant_metric_are_nan_without_a_warning(constant_sobol):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SALib's RuntimeWarning (a division by zero) would raise here
        indices = sensitivity(constant_sobol)
    constant = indices[indices["metric"] == "distress_kaz"]
    assert len(constant) == 2 and constant[["S1", "S1_conf", "ST", "ST_conf"]].isna().all().all()
    varied = indices[indices["metric"] == "influence_china"]
    assert varied[["S1", "ST"]].notna().all().all()
    assert indices.attrs["notes"] == [
        "note: distress_kaz is 0 at every design point: its Sobol indices are undefined (no variance to share out), "
        "given as NaN"
    ]


def test_sensitivity_command_notes_the_constant_metric_and_writes_nothing_to_stderr(tmp_path, constant_sobol):
    folder = tmp_path / "sob"
    shutil.copytree(constant_sobol, folder)
    code, stdout, stderr = run_cli("sensitivity", folder)
    assert (code, stderr) == (0, "")
    lines = stdout.splitlines()
    assert sum("distress_kaz" in line and line.count("NaN") == 4 for line in lines) == 2
    assert "note: distress_kaz is 0 at every design point: its Sobol indices are undefined" in stdout
    table = pd.read_csv(folder / "analysis" / "sensitivity.csv")
    assert table.loc[table["metric"] == "distress_kaz", ["S1", "ST"]].isna().all().all()


# ------------------------------------------------------------------ 3. damaged manifests and parts


GAME = """scenario = "baseline"
horizon_turns = 2
replications = 3
master_seed = 7
batch_size = 1
[factors."powers.china.strategy"]
values = ["bri_classic", "bri_2"]
[record]
final = ["influence_china", "debt_to_gdp_kgz"]
series = ["influence_china"]
"""


@pytest.fixture(scope="module")
def game_sweep(tmp_path_factory) -> tuple[Path, Path]:
    """(experiment file, folder of its sweep: 2 points x 3 replications, one run per part)."""
    tmp = tmp_path_factory.mktemp("game")
    exp = write_experiment(tmp, "g", GAME)
    out = tmp / "out"
    code, _, stderr = run_cli("sweep", exp, "--out", out, "--quiet", "--flush-rows", "1")
    assert code == 0, stderr
    return exp, out


def _copy(tmp_path: Path, folder: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def _edit_manifest(folder: Path, change) -> Path:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return path


def _assert_damaged_manifest(folder: Path, path: Path, problem: str, commands=("plot", "sensitivity")) -> None:
    for command in commands:
        code, _, stderr = run_cli(command, folder)
        line = one_error_line(stderr)
        assert code == 3, line
        assert line == (f"{PREFIX}results: {str(path)!r} is damaged ({problem}); run the sweep again with --resume "
                        "to rewrite it (its stored runs are kept)"), line  # fmt: skip
    for loader in (load_results, load_series, load_failures):
        with pytest.raises(FaultError, match="is damaged"):
            loader(folder)


def _drop_point(m):
    m["design"]["points"] = m["design"]["points"][:1]


def _rename_factor(m):
    m["experiment"]["factors"] = {"powers.us.strategy": m["experiment"]["factors"]["powers.china.strategy"]}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m["design"].update(points=[]), "design.points: 0 points, the experiment's design has 2"),
        (_drop_point, "design.points: 1 point, the experiment's design has 2"),
        (_rename_factor, "design.factors ['powers.china.strategy'] are not experiment.factors ['powers.us.strategy']"),
        (lambda m: m["design"]["points"][1].update({"powers.china.strategy": 2}),
         "design.points[1]: powers.china.strategy = 2, expected a value of type str"),
        (lambda m: m["design"]["factor_types"].update({"powers.china.strategy": "float"}),
         "design.points[0]: powers.china.strategy = 'bri_classic', expected a value of type float"),
        (lambda m: m["design"].update(factor_types={}), "design.factor_types: not one type per factor of "
         "['powers.china.strategy']"),
        (lambda m: m["experiment"].update(replications=2), "runs: 6 runs, the design has 2 points x 2 replications"),
        (lambda m: m["runs"]["point"].__setitem__(0, 7), "runs.point: values outside 0..1"),
        (lambda m: m["runs"]["key"].__setitem__(1, m["runs"]["key"][0]), "runs: a key appears twice"),
        (lambda m: m["experiment"]["record"].update(final=["influence_china", "influence_china"]),
         "experiment.record.final names a metric twice"),
    ],
    ids=["points-emptied", "point-dropped", "factor-renamed", "value-type", "factor-type", "factor-types-empty",
         "replications", "run-point", "key-twice", "metric-twice"],
)  # fmt: skip
def test_an_inconsistent_manifest_is_one_line_exit_3_for_every_reader(tmp_path, game_sweep, change, problem):
    folder = _copy(tmp_path, game_sweep[1])
    path = _edit_manifest(folder, change)
    _assert_damaged_manifest(folder, path, problem)


def test_resume_rewrites_an_inconsistent_manifest_and_keeps_the_runs(tmp_path, game_sweep):
    exp, ref = game_sweep
    folder = _copy(tmp_path, ref)
    _edit_manifest(folder, _rename_factor)
    code, stdout, stderr = run_cli("sweep", exp, "--out", folder, "--quiet", "--resume")
    assert code == 0, stderr
    assert "0 runs done, 6 already stored, 0 failed, of 6" in stdout
    pd.testing.assert_frame_equal(load_results(folder), load_results(ref))


def test_sobol_manifest_with_factors_not_the_designs_is_refused_by_sensitivity(tmp_path, constant_sobol):
    folder = _copy(tmp_path, constant_sobol)

    def rename(m):
        factors = m["experiment"]["factors"]
        factors["powers.us.budget"] = factors.pop("powers.us.budget_usd_bn_per_year")

    path = _edit_manifest(folder, rename)
    problem = ("design.factors ['powers.us.budget_usd_bn_per_year', 'rules.distress_service_ratio'] are not "
               "experiment.factors ['rules.distress_service_ratio', 'powers.us.budget']")  # fmt: skip
    _assert_damaged_manifest(folder, path, problem)


def test_edited_morris_points_are_a_damaged_manifest(tmp_path):
    exp = write_experiment(tmp_path, "mor", 'horizon_turns = 1\nreplications = 1\nmaster_seed = 1\n[design]\n'
                           'kind = "morris"\nsamples = 2\n'
                           '[factors."rules.distress_service_ratio"]\nrange = [0.05, 0.2]\n'
                           '[factors."powers.us.budget_usd_bn_per_year"]\nrange = [2.0, 4.0]\n'
                           '[record]\nfinal = ["influence_china"]\n')  # fmt: skip
    out = tmp_path / "out"
    sweep_ok(exp, out)

    def unstep(m):  # the second point of the first trajectory back to the first: no factor changes
        m["design"]["points"][1] = dict(m["design"]["points"][0])

    path = _edit_manifest(out, unstep)
    code, _, stderr = run_cli("sensitivity", out)
    line = one_error_line(stderr)
    assert code == 3 and line.startswith(f"{PREFIX}results: {str(path)!r} is damaged (design.points: Morris "
                                         "trajectory 0, step 0: 0 factors change, expected 1)"), line  # fmt: skip


def _rewrite_part(part: Path, change) -> None:
    table = change(pq.read_table(part))
    pq.write_table(table, part)


def _text_point(table: pa.Table) -> pa.Table:
    return table.set_column(table.schema.get_field_index("point"), "point", pa.array(
        [str(v) for v in table.column("point").to_pylist()]))  # fmt: skip


def _no_metric(table: pa.Table) -> pa.Table:
    return table.drop_columns(["debt_to_gdp_kgz"])


def _extra_column(table: pa.Table) -> pa.Table:
    return table.append_column("note", pa.array(["x"] * len(table)))


def _int_metric(table: pa.Table) -> pa.Table:
    i = table.schema.get_field_index("influence_china")
    return table.set_column(i, "influence_china", pa.array([0] * len(table), pa.int64()))


def _null_key(table: pa.Table) -> pa.Table:
    return table.set_column(0, "key", pa.array([None] * len(table), pa.string()))


def _other_point(table: pa.Table) -> pa.Table:
    i = table.schema.get_field_index("point")
    return table.set_column(i, "point", pa.array([1 - v for v in table.column("point").to_pylist()], pa.int64()))


PART_DAMAGE = {
    "point-as-text": (_text_point, "does not have the columns of the experiment's results (column 'point' is string, "
                      "expected int64)"),
    "metric-missing": (_no_metric, "does not have the columns of the experiment's results (no column "
                       "'debt_to_gdp_kgz')"),
    "extra-column": (_extra_column, "does not have the columns of the experiment's results (column 'note' is not "
                     "one of the experiment's)"),
    "metric-as-int": (_int_metric, "does not have the columns of the experiment's results (column 'influence_china' "
                      "is int64, expected double)"),
    "key-missing": (_null_key, "does not have the columns of the experiment's results (column 'key' has 1 missing "
                    "values)"),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(PART_DAMAGE))
def test_a_part_without_the_experiments_columns_is_refused_by_every_reader_and_resume(tmp_path, game_sweep, damage):
    exp, ref = game_sweep
    folder = _copy(tmp_path, ref)
    part = sorted((folder / "results").glob("part-*.parquet"))[2]
    change, problem = PART_DAMAGE[damage]
    _rewrite_part(part, change)
    expected = (f"{PREFIX}results: {str(part)!r} {problem}; move it out of {str(folder)!r}, then run the sweep "
                "again with --resume to redo its runs")  # fmt: skip
    for argv in (["plot", folder], ["sweep", exp, "--out", folder, "--quiet", "--resume"]):
        code, _, stderr = run_cli(*argv)
        assert (code, one_error_line(stderr)) == (3, expected)
    with pytest.raises(FaultError) as caught:
        load_results(folder)
    assert str(caught.value) == expected.removeprefix(PREFIX).split("; move")[0]
    assert not (folder / "plots").exists() or not any((folder / "plots").iterdir())
    # Doing what the message says gives the results of the uninterrupted sweep.
    part.rename(tmp_path / part.name)
    code, stdout, stderr = run_cli("sweep", exp, "--out", folder, "--quiet", "--resume")
    assert code == 0, stderr
    assert "1 run done, 5 already stored, 0 failed, of 6" in stdout  # (and "1 run", not "1 runs")
    pd.testing.assert_frame_equal(load_results(folder), load_results(ref))
    pd.testing.assert_frame_equal(load_series(folder), load_series(ref))


def test_a_part_storing_a_run_under_another_point_is_refused(tmp_path, game_sweep):
    _, ref = game_sweep
    folder = _copy(tmp_path, ref)
    part = sorted((folder / "results").glob("part-*.parquet"))[0]
    _rewrite_part(part, _other_point)
    row = pq.read_table(part).to_pylist()[0]
    with pytest.raises(FaultError) as caught:
        load_results(folder)
    assert str(caught.value) == (f"results: {str(part)!r} stores run {row['key']!r} as point 1, replication "
                                 f"{row['replication']}, seed {row['seed']}; the manifest says point 0, "
                                 f"replication {row['replication']}, seed {row['seed']}")  # fmt: skip
    code, _, stderr = run_cli("plot", folder)
    assert code == 3 and "move it out of" in one_error_line(stderr)


@pytest.mark.parametrize("table", ["series", "failures"])
def test_series_and_failure_parts_are_checked_against_their_schema(tmp_path, game_sweep, table):
    exp_file, ref = game_sweep
    folder = _copy(tmp_path, ref)
    if table == "series":
        part = sorted((folder / "series").glob("part-*.parquet"))[0]
        _rewrite_part(part, lambda t: t.drop_columns(["date"]))
        problem, loader = "no column 'date'", load_series
    else:
        part = folder / "failures" / "part-000000.parquet"
        schema = table_schemas(load_experiment(exp_file))["failures"]
        row = {"key": "x", "point": 0, "replication": 0, "seed": 1, "error": "E", "traceback": ""}
        pq.write_table(pa.Table.from_pylist([row], schema=schema).drop_columns(["traceback"]), part)
        problem, loader = "no column 'traceback'", load_failures
    with pytest.raises(FaultError) as caught:
        loader(folder)
    assert str(caught.value) == (f"results: {str(part)!r} does not have the columns of the experiment's "
                                 f"{table} ({problem})")  # fmt: skip
    if table == "series":  # resume counts a run done only with its series: that part is read too
        code, _, stderr = run_cli("sweep", exp_file, "--out", folder, "--quiet", "--resume")
        assert code == 3 and f"{str(part)!r} does not have the columns" in one_error_line(stderr)


def test_a_folder_whose_parts_match_reads_as_before(game_sweep):
    _, ref = game_sweep
    results = load_results(ref)
    assert len(results) == 6 and results.columns.tolist() == [
        "key", "point", "replication", "seed", "powers.china.strategy", "influence_china", "debt_to_gdp_kgz"
    ]  # fmt: skip
    assert len(load_series(ref)) == 18 and load_failures(ref).empty


# ------------------------------------------------------------------ 6. one run, two runs


def test_a_fault_after_one_stored_run_says_1_run_is_stored(tmp_path, monkeypatch):
    import errno
    import os

    import strategy_abm.experiments.results as results_mod
    from strategy_abm.experiments.sweep import run_sweep

    exp = load_experiment(write_experiment(tmp_path, "one", GAME.replace('series = ["influence_china"]\n', "")))
    real, calls = results_mod.pq.write_table, []

    def write(table, where, *a, **k):
        calls.append(where)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))
        return real(table, where, *a, **k)

    monkeypatch.setattr(results_mod.pq, "write_table", write)
    with pytest.raises(FaultError) as caught:
        run_sweep(exp, ResultStore(tmp_path / "out", exp, flush_rows=1), progress=False)
    assert f"; 1 run is stored in {tmp_path / 'out'}/; free some disk space, then run again" in str(caught.value)


def test_one_failed_run_is_one_run_in_the_sweep_summary(tmp_path, monkeypatch):
    import strategy_abm.experiments.sweep as sweep_mod

    real = sweep_mod.run_batch

    def fail_the_first_run(task):  # the first run of the experiment fails, as a raising run would
        out = real(task)
        if task["runs"][0]["replication"] == 0 and task["runs"][0]["point"] == 0:
            ident = {k: task["runs"][0][k] for k in ("key", "point", "replication", "seed")}
            out = [(t, rows) for t, rows in out if t == "series"]
            out.append(("failures", [{**ident, "error": "RuntimeError: test", "traceback": ""}]))
        return out

    monkeypatch.setattr(sweep_mod, "run_batch", fail_the_first_run)
    exp = write_experiment(tmp_path, "one", GAME)
    code, stdout, stderr = run_cli("sweep", exp, "--out", tmp_path / "out", "--quiet")
    assert code == 1
    assert f"one: 5 runs done, 0 already stored, 1 failed, of 6; results in {tmp_path / 'out'}/" in stdout
    assert stderr.startswith("strategy-abm: 1 run failed (errors in ")


def test_one_turn_is_one_turn_in_validate_and_the_run_summary(tmp_path):
    code, stdout, _ = run_cli("validate", "baseline", "--set", "horizon_turns=1")
    assert code == 0 and stdout.startswith("ok: baseline (2025Q1, 1 turn of 1/4 year, ")
    code, stdout, _ = run_cli("run", "--turns", "1", "--no-plots", "--out", tmp_path / "r")
    assert code == 0 and stdout.startswith("baseline, seed 0: 2025Q1 to 2025Q1 (1 turn)\n")
