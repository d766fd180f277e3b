"""The batch-experiment runner: experiment files, seeds and keys, the sweep (one process, local
worker processes, Dask), the results store (atomic parts, manifest, resume after SIGKILL),
failures, bad input, sensitivity analysis (checked against the Ishigami function) and plots.

Tests marked ``xfail(strict=True)`` are known bugs: they assert the behaviour the issue asks for
and will start passing (and so fail as XPASS) once fixed.
"""

from __future__ import annotations

import gc
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mesa
import pandas as pd
import pyarrow.parquet as pq
import pytest
from clitools import one_error_line, run_cli, tell_seed

from strategy_abm import CompetitionModel
from strategy_abm.experiments.analysis import paired_differences, sensitivity, summarise
from strategy_abm.experiments.experiment import experiments_dir, load_experiment, replication_seed, run_key, run_seed
from strategy_abm.experiments.results import ResultStore, load_failures, load_manifest, load_results, load_series
from strategy_abm.experiments.sweep import _tasks, run_batch, run_sweep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMOKE = experiments_dir() / "smoke.toml"
ISHIGAMI = experiments_dir() / "ishigami.toml"
# Analytic Sobol indices of the Ishigami function (a = 7, b = 0.1).
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
SOBOL_TOL = 0.05  # absolute; with N = 1024 (experiments/ishigami.toml) the observed error is < 0.005


def game_toml(
    name: str = "t",
    *,
    values: tuple = ("bri_classic", "bri_2"),
    factor: str = "powers.china.strategy",
    replications: int = 2,
    turns: int = 2,
    master_seed: int = 5,
    batch_size: int = 1,
    final: tuple = ("influence_china", "china_debt_share_kgz"),
    series: tuple = ("influence_china",),
) -> str:
    """A full-factorial experiment of the game on the baseline (a TOML text)."""
    return (
        f'name = "{name}"\nscenario = "baseline"\nhorizon_turns = {turns}\nreplications = {replications}\n'
        f"master_seed = {master_seed}\nbatch_size = {batch_size}\n\n"
        '[design]\nkind = "full_factorial"\n\n'
        f'[factors."{factor}"]\nvalues = {json.dumps(list(values))}\n\n'
        f"[record]\nfinal = {json.dumps(list(final))}\nseries = {json.dumps(list(series))}\n"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def part_files(folder: Path, table: str) -> list[Path]:
    return sorted((folder / table).glob("part-*.parquet"))


def raw_keys(folder: Path, table: str = "results") -> list[str]:
    """Every key of every raw part of a table (duplicates kept)."""
    return [k for p in part_files(folder, table) for k in pq.read_table(p, columns=["key"]).column("key").to_pylist()]


# ------------------------------------------------------------------ 1. same results, any executor


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory) -> dict:
    """The smoke experiment swept with 1 worker (not quiet: summary table printed), 2 local worker
    processes and a Dask LocalCluster of 2 worker processes (started once for the module)."""
    base = tmp_path_factory.mktemp("smoke")
    runs = {}
    for label, extra in (
        ("one", []),
        ("two", ["--workers", "2", "--quiet"]),
        ("dask", ["--scheduler", "local", "--workers", "2", "--quiet"]),
    ):
        out = base / label
        code, stdout, stderr = run_cli("sweep", SMOKE, "--out", out, *extra)
        assert code == 0, stderr
        runs[label] = {"dir": out, "stdout": stdout}
    return runs


@pytest.mark.parametrize("label", ["two", "dask"])
def test_results_do_not_depend_on_the_executor(smoke_runs, label):
    one, other = smoke_runs["one"]["dir"], smoke_runs[label]["dir"]
    exp = load_experiment(SMOKE)
    ref = load_results(one)
    assert len(ref) == exp.n_runs == 6
    assert ref.equals(load_results(other))
    series = load_series(one)
    assert len(series) == exp.n_runs * (exp.config.horizon_turns + 1)
    assert series.equals(load_series(other))
    assert load_failures(one).empty and load_failures(other).empty
    assert "smoke: 6 runs done, 0 already stored, 0 failed, of 6" in smoke_runs[label]["stdout"]


def test_sweep_prints_one_summary_line_per_design_point(smoke_runs):
    stdout = smoke_runs["one"]["stdout"]
    exp = load_experiment(SMOKE)
    metrics, factors = exp.config.record.final, list(exp.config.factors)
    lines = stdout.splitlines()
    assert lines[0].startswith("Each metric: mean ± half-width of the 95% confidence interval of the mean")
    start = next(i for i, line in enumerate(lines) if line.startswith("point"))
    assert lines[start].split() == ["point", "runs", "china.strategy", *metrics]  # one table fits 120 columns
    summary = summarise(load_results(smoke_runs["one"]["dir"]), metrics, factors)
    body = lines[start + 1 : start + 1 + len(exp.points)]
    assert len(exp.points) == 2 and len(summary) == 2
    for line, (_, row), point in zip(body, summary.iterrows(), exp.points, strict=True):
        assert line.count("±") == len(metrics), line
        cells = line.split()
        assert int(cells[0]) == row["point"]
        assert int(cells[1]) == row["runs"] == 3
        assert cells[2] == point["powers.china.strategy"]
        for i, m in enumerate(metrics):  # each metric is "mean ± half"
            mean, half = float(cells[3 + 3 * i]), float(cells[5 + 3 * i])
            assert cells[4 + 3 * i] == "±"
            assert mean == pytest.approx(row[f"{m}_mean"], abs=1e-4)
            assert half == pytest.approx(row[f"{m}_hi"] - row[f"{m}_mean"], abs=1e-4)
    assert lines[start + 1 + len(exp.points)].startswith("smoke: 6 runs done")


# ------------------------------------------------------------------ 10. the manifest


def test_manifest_records_what_was_run(smoke_runs):
    folder = smoke_runs["one"]["dir"]
    m = load_manifest(folder)
    exp = load_experiment(SMOKE)
    assert m["experiment_name"] == "smoke"
    assert m["experiment_text"] == SMOKE.read_text(encoding="utf-8")
    assert m["experiment_hash"] == exp.hash and len(exp.hash) == 64
    assert m["resolved_scenario"] == exp.resolved_scenario
    assert "horizon_turns = 4" in m["resolved_scenario"]
    for pkg in ("python", "strategy_abm", "mesa", "numpy", "pandas", "pyarrow", "SALib", "dask", "distributed"):
        assert m["versions"].get(pkg), pkg
    assert m["versions"]["mesa"] == mesa.__version__
    assert m["design"]["kind"] == "full_factorial"
    assert m["design"]["factors"] == ["powers.china.strategy"]
    assert m["design"]["points"] == exp.points
    runs = list(exp.runs())
    assert m["runs"]["key"] == [r.key for r in runs]
    assert m["runs"]["seed"] == [r.seed for r in runs]
    assert m["runs"]["point"] == [r.point for r in runs]
    assert m["runs"]["replication"] == [r.replication for r in runs]
    df = load_results(folder)
    assert df["key"].tolist() == m["runs"]["key"]
    assert df["seed"].tolist() == m["runs"]["seed"]
    assert df["point"].tolist() == m["runs"]["point"]
    assert df["replication"].tolist() == m["runs"]["replication"]


# ------------------------------------------------------------------ 9. plots


def test_plot_writes_fan_and_comparison_charts(smoke_runs):
    folder = smoke_runs["one"]["dir"]
    code, stdout, stderr = run_cli("plot", folder)
    assert code == 0, stderr
    exp = load_experiment(SMOKE)
    expected = [f"fan_{m}.png" for m in exp.config.record.series] + [
        f"compare_{m}.png" for m in exp.config.record.final
    ]
    for name in expected:
        path = folder / "plots" / name
        assert path.is_file(), name
        assert path.read_bytes()[:8] == PNG_MAGIC, name
    assert f"{len(expected)} plots" in stdout


# ------------------------------------------------------------------ 2. SIGKILL, resume, half-written parts


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    exp_file = write(tmp_path / "kill.toml", game_toml("kill", replications=20, turns=8, master_seed=99))
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    cmd = [sys.executable, "-m", "strategy_abm.cli", "sweep", str(exp_file), "--flush-rows", "1", "--quiet"]
    ref_proc = subprocess.Popen([*cmd, "--out", str(reference)], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
    proc = subprocess.Popen([*cmd, "--out", str(killed)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(part_files(killed, "results")) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the sweep finished (or died) before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    n_before = len(set(raw_keys(killed)))
    assert 4 <= n_before < 40, n_before
    # A part being written when the process died (renamed into place only once complete).
    write(killed / "results" / "part-999999.parquet.tmp", "garbage, not parquet")
    write(killed / "series" / "part-999999.parquet.tmp", "")

    code, stdout, stderr = run_cli("sweep", exp_file, "--out", killed, "--flush-rows", "1", "--quiet", "--resume")
    assert code == 0, stderr
    done = "1 run" if 40 - n_before == 1 else f"{40 - n_before} runs"
    assert f"{done} done, {n_before} already stored, 0 failed, of 40" in stdout
    ref_out, ref_err = ref_proc.communicate(timeout=120)
    assert ref_proc.returncode == 0, ref_err

    assert load_results(killed).equals(load_results(reference))
    manifest_keys = load_manifest(killed)["runs"]["key"]
    assert len(manifest_keys) == 40
    keys = raw_keys(killed)
    assert sorted(keys) == sorted(manifest_keys), "a run missing or stored twice across the results parts"
    assert not list(killed.rglob("*.tmp")), "temporary parts left behind"


class _Killed(BaseException):
    """Stands for SIGKILL in the simulated crash below (nothing written after it)."""


@pytest.mark.parametrize("kill_at", range(1, 9))
def test_crash_between_parts_loses_no_series(tmp_path, monkeypatch, kill_at):
    """SIGKILL simulated deterministically at every Parquet write of a sweep in turn (that write
    and every later one never happen): after --resume, every stored result has its series, and
    results and series equal an uninterrupted run's."""
    exp = load_experiment(write(tmp_path / "c.toml", game_toml("c", replications=2, turns=2)))
    reference = tmp_path / "reference"
    run_sweep(exp, ResultStore(reference, exp, flush_rows=1), progress=False)

    import strategy_abm.experiments.results as results_mod

    real_write = results_mod.pq.write_table
    writes = []

    def dying_write(table, where, *a, **k):
        writes.append(where)
        if len(writes) >= kill_at:
            raise _Killed
        return real_write(table, where, *a, **k)

    crashed = tmp_path / "crashed"
    with monkeypatch.context() as mp:
        mp.setattr(results_mod.pq, "write_table", dying_write)
        with pytest.raises(_Killed):
            run_sweep(exp, ResultStore(crashed, exp, flush_rows=1), progress=False)
    stored = set(load_results(crashed)["key"]) if not load_results(crashed).empty else set()
    series_keys = set(load_series(crashed)["key"]) if not load_series(crashed).empty else set()
    assert stored <= series_keys, "a result on disk without its series"
    report = run_sweep(exp, ResultStore(crashed, exp, resume=True, flush_rows=1), progress=False)
    assert report.skipped == len(stored) and report.done == exp.n_runs - len(stored)
    assert load_results(crashed).equals(load_results(reference))
    assert load_series(crashed).equals(load_series(reference))


# ------------------------------------------------------------------ 3. failing runs


def _flaky_strategy(monkeypatch, failing_seeds: set[int]):
    """Register (for this test only) ``flaky_test``: China's bri_classic, but raising on the
    first proposal of a game whose seed is in ``failing_seeds`` (a set the test may empty)."""
    from strategy_abm.strategies import REGISTRY
    from strategy_abm.strategies.powers import BriClassic

    class Flaky(BriClassic):
        name = "flaky_test"
        seed = None  # the game's seed, told by the test (a strategy does not see it)

        def propose(self, obs):
            if self.seed in failing_seeds:
                raise RuntimeError(f"flaky_test fails on seed {self.seed}")
            return super().propose(obs)

    REGISTRY.pop("flaky_test")  # registered by the class statement; re-added through monkeypatch
    monkeypatch.setitem(REGISTRY, "flaky_test", Flaky)
    tell_seed(monkeypatch, Flaky)


def test_failed_runs_are_recorded_and_resume_retries_only_them(tmp_path, monkeypatch):
    text = game_toml("flaky", values=("bri_classic", "flaky_test"), replications=4, turns=2, master_seed=11,
                     batch_size=2)  # fmt: skip
    exp_file = tmp_path / "flaky.toml"
    failing_seeds = {run_seed(11, 1, 0), run_seed(11, 1, 2)}
    _flaky_strategy(monkeypatch, failing_seeds)
    write(exp_file, text)
    exp = load_experiment(exp_file)
    failing_keys = {exp.run(1, 0).key, exp.run(1, 2).key}
    out = tmp_path / "out"

    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet")
    assert code == 1
    assert "flaky: 6 runs done, 0 already stored, 2 failed, of 8" in stdout
    assert "2 runs failed" in stderr and len(stderr.splitlines()) == 1
    failures = load_failures(out)
    assert set(failures["key"]) == failing_keys and len(failures) == 2
    assert set(failures["seed"]) == failing_seeds
    for _, row in failures.iterrows():
        assert row["error"] == f"RuntimeError: flaky_test fails on seed {row['seed']}"
        assert row["traceback"].startswith("Traceback (most recent call last)")
        assert "in propose" in row["traceback"] and row["error"] in row["traceback"]
    results = load_results(out)
    assert len(results) == 6 and not set(results["key"]) & failing_keys
    assert set(results["key"]) == {r.key for r in exp.runs()} - failing_keys

    # --resume retries the failed runs and nothing else (still failing: exit 1 again).
    import strategy_abm.experiments.sweep as sweep_mod

    attempted: list[str] = []

    def spy(task):
        attempted.extend(r["key"] for r in task["runs"])
        return run_batch(task)

    monkeypatch.setattr(sweep_mod, "run_batch", spy)
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--resume")
    assert code == 1 and "2 runs failed" in stderr
    assert sorted(attempted) == sorted(failing_keys)
    assert "0 runs done, 6 already stored, 2 failed, of 8" in stdout

    # Once the cause is gone, --resume completes the sweep and the failures are cleared.
    attempted.clear()
    failing_seeds.clear()
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--resume")
    assert code == 0, stderr
    assert sorted(attempted) == sorted(failing_keys)
    assert "2 runs done, 6 already stored, 0 failed, of 8" in stdout
    assert load_failures(out).empty
    assert load_results(out)["key"].tolist() == [r.key for r in exp.runs()]


# ------------------------------------------------------------------ 4. malformed experiments


HEAD = 'name = "t"\nscenario = "baseline"\nhorizon_turns = 2\nreplications = 2\nmaster_seed = 1\n'
FF = '[design]\nkind = "full_factorial"\n'
LHS = '[design]\nkind = "latin_hypercube"\nsamples = 4\n'
SOBOL = '[design]\nkind = "sobol"\nsamples = 4\n'
REC = '[record]\nfinal = ["influence_china"]\n'
DSR = '[factors."rules.distress_service_ratio"]\n'
STRAT = '[factors."powers.china.strategy"]\n'

BAD_EXPERIMENTS = {
    # id: (experiment text, text the error line must contain)
    "unknown_factor_key": (HEAD + FF + '[factors."powers.china.nope"]\nvalues = [1.0]\n' + REC,
                           "factors.powers.china.nope"),
    "invalid_factor_value": (HEAD + FF + STRAT + 'values = ["bri_2", "nosuch"]\n' + REC,
                             "factors.powers.china.strategy"),
    "out_of_bounds_value": (HEAD + FF + DSR + "values = [0.15, -5.0]\n" + REC, "factors.rules.distress_service_ratio"),
    "empty_values": (HEAD + FF + STRAT + "values = []\n" + REC, "factors.powers.china.strategy"),
    "inverted_range": (HEAD + LHS + DSR + "range = [0.2, 0.1]\n" + REC, "factors.rules.distress_service_ratio"),
    "empty_range": (HEAD + LHS + DSR + "range = [0.2, 0.2]\n" + REC, "factors.rules.distress_service_ratio"),
    "range_of_three": (HEAD + LHS + DSR + "range = [0.1, 0.2, 0.3]\n" + REC, "factors.rules.distress_service_ratio"),
    "range_on_string_field": (HEAD + LHS + STRAT + "range = [0.0, 1.0]\n" + REC, "factors.powers.china.strategy"),
    "values_in_sobol": (HEAD + SOBOL + DSR + "values = [0.1, 0.2]\n" + REC, "factors.rules.distress_service_ratio"),
    "range_in_full_factorial": (HEAD + FF + DSR + "range = [0.1, 0.2]\n" + REC, "factors.rules.distress_service_ratio"),
    "values_and_range": (HEAD + FF + DSR + "values = [0.1]\nrange = [0.1, 0.2]\n" + REC,
                         "factors.rules.distress_service_ratio"),
    "bad_design_kind": (HEAD + '[design]\nkind = "grid"\n' + REC, "design.kind"),
    "sobol_without_samples": (HEAD + '[design]\nkind = "sobol"\n' + DSR + "range = [0.1, 0.2]\n" + REC,
                              "design.samples"),
    "sobol_without_factors": (HEAD + SOBOL + REC, "design.kind"),
    "zero_replications": (HEAD.replace("replications = 2", "replications = 0") + FF + REC, "replications"),
    "negative_replications": (HEAD.replace("replications = 2", "replications = -3") + FF + REC, "replications"),
    "negative_master_seed": (HEAD.replace("master_seed = 1", "master_seed = -1") + FF + REC, "master_seed"),
    "unknown_final_metric": (HEAD + FF + '[record]\nfinal = ["nosuch_metric"]\n', "record.final"),
    "unknown_series_metric": (HEAD + FF + REC + 'series = ["nosuch_metric"]\n', "record.series"),
    "empty_record": (HEAD + FF + "[record]\nfinal = []\n", "record"),
    "missing_record": (HEAD + FF, "record"),
    "unknown_scenario": (HEAD.replace('"baseline"', '"nosuchscenario"') + FF + REC, "scenario"),
    "malformed_toml": ("name = [\n", "not valid TOML"),
    "unknown_top_level_key": (HEAD + "colour = 3\n" + FF + REC, "colour"),
    "zero_horizon": (HEAD.replace("horizon_turns = 2", "horizon_turns = 0") + FF + REC, "horizon_turns"),
    "ishigami_wrong_factors": ('name = "i"\nmodel = "ishigami"\nreplications = 1\nmaster_seed = 1\n' + SOBOL
                               + "[factors.x1]\nrange = [0.0, 1.0]\n" + '[record]\nfinal = ["y"]\n', "factors"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_EXPERIMENTS))
def test_malformed_experiment_is_a_one_line_error(tmp_path, case):
    text, field = BAD_EXPERIMENTS[case]
    exp_file = write(tmp_path / f"{case}.toml", text)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet")
    assert code == 2
    line = one_error_line(stderr)
    assert field in line, line
    assert not out.exists(), "a results folder was created for a bad experiment"


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["@TMP/nosuch.toml"], "nosuch.toml"),
        ([SMOKE, "--workers", "0"], "--workers"),
        ([SMOKE, "--workers", "two"], "--workers"),
        ([SMOKE, "--flush-rows", "0"], "--flush-rows"),
        ([SMOKE, "--scheduler", "localhost:8786"], "--scheduler"),
        ([SMOKE, "--scheduler", "remote"], "--scheduler"),
    ],
    ids=["missing_file", "zero_workers", "text_workers", "zero_flush_rows", "scheduler_no_scheme", "scheduler_word"],
)
def test_bad_sweep_options_are_one_line_errors(tmp_path, argv, field):
    out = tmp_path / "out"
    argv = [str(a).replace("@TMP", str(tmp_path)) for a in argv]
    code, stdout, stderr = run_cli("sweep", *argv, "--out", out, "--quiet")
    assert code == 2
    assert field in one_error_line(stderr)
    assert not out.exists()


def test_unreachable_scheduler_writes_nothing(tmp_path, monkeypatch):
    import distributed

    def refuse(*args, **kwargs):
        raise OSError("Timed out trying to connect (simulated)")

    monkeypatch.setattr(distributed, "Client", refuse)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("sweep", SMOKE, "--out", out, "--quiet", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2
    assert "--scheduler" in one_error_line(stderr)
    assert not out.exists()


# ------------------------------------------------------------------ 5. refusing to mix results


def test_resume_refuses_another_experiment_and_overwriting(tmp_path):
    first = write(tmp_path / "first.toml", game_toml("first", replications=1, series=()))
    other = write(tmp_path / "other.toml", game_toml("other", replications=1, master_seed=6, series=()))
    out = tmp_path / "out"
    code, _, stderr = run_cli("sweep", first, "--out", out, "--quiet")
    assert code == 0, stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    code, _, stderr = run_cli("sweep", other, "--out", out, "--quiet", "--resume")
    assert code == 2
    line = one_error_line(stderr)
    assert "--resume" in line and "another experiment" in line and "'first'" in line

    for exp_file in (first, other):  # without --resume: refused, whatever the experiment
        code, _, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet")
        assert code == 2
        assert "--resume" in one_error_line(stderr) and "already holds results" in stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before, "refused commands wrote"

    # The same experiment from another path is the same experiment: resume accepted, nothing to do.
    copy = write(tmp_path / "copy_of_first.toml", first.read_text())
    code, stdout, stderr = run_cli("sweep", copy, "--out", out, "--quiet", "--resume")
    assert code == 0, stderr
    assert "0 runs done, 2 already stored, 0 failed, of 2" in stdout

    stray = tmp_path / "stray"
    stray.mkdir()
    write(stray / "notes.txt", "mine")
    code, _, stderr = run_cli("sweep", first, "--out", stray, "--quiet")
    assert code == 2 and "--out" in one_error_line(stderr)
    assert [p.name for p in stray.iterdir()] == ["notes.txt"]


def test_resume_extends_an_experiment_with_more_replications(tmp_path):
    exp_file = write(tmp_path / "e.toml", game_toml("e", replications=2, series=()))
    out = tmp_path / "out"
    assert run_cli("sweep", exp_file, "--out", out, "--quiet")[0] == 0
    write(exp_file, game_toml("e", replications=3, series=()))
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--resume")
    assert code == 0, stderr
    assert "2 runs done, 4 already stored, 0 failed, of 6" in stdout


# ------------------------------------------------------------------ 6. sensitivity on Ishigami


@pytest.fixture(scope="module")
def ishigami_sobol(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ishigami") / "sobol"
    code, _, stderr = run_cli("sweep", ISHIGAMI, "--out", out, "--quiet")
    assert code == 0, stderr
    return out


def test_sobol_indices_of_ishigami_match_the_analytic_values(ishigami_sobol):
    exp = load_experiment(ISHIGAMI)
    assert len(load_results(ishigami_sobol)) == exp.n_runs == 1024 * 5
    indices = sensitivity(ishigami_sobol).set_index("factor")
    assert list(indices.index) == ["x1", "x2", "x3"] and set(indices["metric"]) == {"y"}
    for f in ("x1", "x2", "x3"):
        assert indices.loc[f, "S1"] == pytest.approx(ISHIGAMI_S1[f], abs=SOBOL_TOL), f
        assert indices.loc[f, "ST"] == pytest.approx(ISHIGAMI_ST[f], abs=SOBOL_TOL), f
        assert 0 < indices.loc[f, "S1_conf"] < 0.2 and 0 < indices.loc[f, "ST_conf"] < 0.2


def test_the_salib_problem_of_the_manifest_is_the_one_sampled_from_the_file(ishigami_sobol):
    # One builder serves sampling (the file) and analysis (the manifest): same names, order, bounds.
    from strategy_abm.experiments.experiment import problem_of_ranges, salib_problem

    exp = load_manifest(ishigami_sobol)["experiment"]
    from_manifest = problem_of_ranges({n: f["range"] for n, f in exp["factors"].items()})
    assert from_manifest == {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    assert salib_problem(load_experiment(ISHIGAMI).config) == from_manifest


def test_sensitivity_command_prints_and_writes_the_indices(ishigami_sobol):
    code, stdout, stderr = run_cli("sensitivity", ishigami_sobol)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].split() == ["metric", "factor", "S1", "S1_conf", "ST", "ST_conf"]
    printed = {cells[1]: cells for cells in (line.split() for line in lines[1:4])}
    for f in ("x1", "x2", "x3"):
        assert printed[f][0] == "y"
        assert float(printed[f][2]) == pytest.approx(ISHIGAMI_S1[f], abs=SOBOL_TOL)
        assert float(printed[f][4]) == pytest.approx(ISHIGAMI_ST[f], abs=SOBOL_TOL)
    csv = ishigami_sobol / "analysis" / "sensitivity.csv"
    table = pd.read_csv(csv)
    assert table["factor"].tolist() == ["x1", "x2", "x3"]
    assert table["S1"].tolist() == pytest.approx(sensitivity(ishigami_sobol)["S1"].tolist())
    png = ishigami_sobol / "analysis" / "sensitivity_y.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "sensitivity.csv" in lines[-1] and "sensitivity_y.png" in lines[-1]


def test_morris_on_ishigami_ranks_x1_and_x2_above_x3(tmp_path):
    text = ISHIGAMI.read_text().replace('kind = "sobol"', 'kind = "morris"').replace("samples = 1024", "samples = 100")
    text = text.replace('name = "ishigami"', 'name = "ishigami_morris"').replace("second_order = false", "levels = 4")
    exp_file = write(tmp_path / "morris.toml", text)
    out = tmp_path / "morris"
    code, _, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet")
    assert code == 0, stderr
    assert len(load_results(out)) == 100 * 4
    mu = sensitivity(out).set_index("factor")["mu_star"]
    assert min(mu["x1"], mu["x2"]) > mu["x3"] > 0, mu.to_dict()
    code, stdout, stderr = run_cli("sensitivity", out)
    assert code == 0, stderr
    assert "mu_star" in stdout.splitlines()[0]
    assert (out / "analysis" / "sensitivity_y.png").read_bytes()[:8] == PNG_MAGIC


def test_sensitivity_of_a_full_factorial_is_a_one_line_error(smoke_runs):
    code, _, stderr = run_cli("sensitivity", smoke_runs["one"]["dir"])
    assert code == 2
    assert "sensitivity" in one_error_line(stderr) and "full_factorial" in stderr


# ------------------------------------------------------------------ 7. seeds and keys


def test_keys_and_seeds_are_a_function_of_the_file(tmp_path):
    a, b = load_experiment(SMOKE), load_experiment(write(tmp_path / "same.toml", SMOKE.read_text()))
    assert a.hash == b.hash
    assert [(r.key, r.seed) for r in a.runs()] == [(r.key, r.seed) for r in b.runs()]
    for r in a.runs():
        assert r.seed == run_seed(12345, r.point, r.replication)
        assert r.key == run_key(a.hash, r.point, r.replication)
        assert a.run(r.point, r.replication) == r
    other_seed = load_experiment(write(tmp_path / "seed.toml", SMOKE.read_text().replace("12345", "12346")))
    assert not {r.key for r in a.runs()} & {r.key for r in other_seed.runs()}
    assert not {r.seed for r in a.runs()} & {r.seed for r in other_seed.runs()}
    # Sampled designs too are a function of the file.
    sobol_a, sobol_b = load_experiment(ISHIGAMI), load_experiment(write(tmp_path / "i.toml", ISHIGAMI.read_text()))
    assert sobol_a.points == sobol_b.points and sobol_a.hash == sobol_b.hash


DOCTRINES = experiments_dir() / "doctrines.toml"


def _without_crn(tmp_path: Path) -> Path:
    """experiments/doctrines.toml with its seeds per run (common_random_numbers left to its default)."""
    text = DOCTRINES.read_text()
    assert "common_random_numbers = true\n" in text
    return write(tmp_path / "doctrines_per_run.toml", text.replace("common_random_numbers = true\n", ""))


def test_seeds_and_keys_are_distinct_across_points_and_replications(tmp_path):
    exp = load_experiment(_without_crn(tmp_path))  # 4 points x 30 replications, a seed per run
    assert exp.config.common_random_numbers is False
    runs = list(exp.runs())
    assert len(runs) == 120
    assert len({r.seed for r in runs}) == 120
    assert len({r.key for r in runs}) == 120
    assert all(0 <= r.seed < 2**63 for r in runs)
    # The seed docs/experiments.md quotes for point 0, replication 0 of a per-run sweep: unchanged.
    assert exp.run(0, 0).seed == 5941692743685634787 == run_seed(2025, 0, 0)


def test_common_random_numbers_give_every_point_the_seeds_of_its_replications(tmp_path):
    exp = load_experiment(DOCTRINES)  # common_random_numbers = true: the doctrines' comparison is paired
    assert exp.config.common_random_numbers is True
    runs = list(exp.runs())
    assert len({r.key for r in runs}) == 120  # keys stay one per run
    for r in runs:
        assert r.seed == replication_seed(2025, r.replication) == exp.run(0, r.replication).seed
    assert len({r.seed for r in runs}) == 30  # one per replication
    assert replication_seed(2025, 0) == 7445275310668600866  # SeedSequence(2025, spawn_key=(0,)), top 63 bits
    # Another derivation than the per-run seeds, and another experiment (hash, keys) than without the option.
    assert not {r.seed for r in runs} & {run_seed(2025, p, r) for p in range(4) for r in range(30)}
    per_run = load_experiment(_without_crn(tmp_path))
    assert per_run.hash != exp.hash and not {r.key for r in runs} & {r.key for r in per_run.runs()}
    assert load_manifest_of(exp)["experiment"]["common_random_numbers"] is True
    assert load_experiment(SMOKE).config.common_random_numbers is False  # the default


def load_manifest_of(exp) -> dict:
    from strategy_abm.experiments.results import manifest_for

    return manifest_for(exp)


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]"])
def test_common_random_numbers_takes_a_boolean_only(tmp_path, value):
    text = game_toml("crn").replace("master_seed = 5\n", f"master_seed = 5\ncommon_random_numbers = {value}\n")
    out = tmp_path / "out"
    code, _, stderr = run_cli("sweep", write(tmp_path / "crn.toml", text), "--out", out, "--quiet")
    assert code == 2
    assert one_error_line(stderr).startswith(
        "strategy-abm: error: common_random_numbers: Input should be a valid boolean"
    )
    assert not out.exists()


def _world_events(model) -> list[tuple]:
    """The scripted and random events of a played game: (turn, event, target)."""
    return [(e["turn"], e["move"], e["target"]) for e in model.event_log if e["status"].endswith("_event")]


def test_common_random_numbers_replay_the_same_shocks_at_every_point(tmp_path):
    """Under common_random_numbers the two China doctrines play replication r on one seed: the
    same scripted and random events (turn, event, target host) while the doctrines' games differ;
    another replication draws other shocks. Each run is replayed from its stored seed and point."""
    text = game_toml("crn", replications=2, turns=40, master_seed=2025, batch_size=4)
    text = text.replace("master_seed = 2025\n", "master_seed = 2025\ncommon_random_numbers = true\n")
    out = tmp_path / "out"
    code, _, stderr = run_cli("sweep", write(tmp_path / "crn.toml", text), "--out", out, "--quiet")
    assert code == 0, stderr
    results = load_results(out)
    assert len(results) == 4
    events, finals = {}, {}
    for row in results.itertuples():
        assert row.seed == replication_seed(2025, row.replication)
        china = results.loc[row.Index, "powers.china.strategy"]
        model = CompetitionModel(scenario="baseline", seed=int(row.seed), turns=40,
                                 overrides=[f"powers.china.strategy={china}"]).run()  # fmt: skip
        assert model.metrics["influence_china"] == row.influence_china  # the replay is the stored run
        events[china, row.replication] = _world_events(model)
        finals[china, row.replication] = row.influence_china
    for rep in (0, 1):
        assert any(e[1] for e in events["bri_classic", rep])
        assert events["bri_classic", rep] == events["bri_2", rep]
        assert finals["bri_classic", rep] != finals["bri_2", rep]
    assert events["bri_classic", 0] != events["bri_classic", 1]
    # The paired difference is the mean of the per-replication differences, bri_2 - bri_classic.
    diff = paired_differences(results, ["influence_china"], ["powers.china.strategy"]).iloc[0]
    assert (diff["from"], diff["to"], diff["pairs"]) == ("bri_classic", "bri_2", 2)
    expected = sum(finals["bri_2", r] - finals["bri_classic", r] for r in (0, 1)) / 2
    assert diff["diff_mean"] == pytest.approx(expected, rel=1e-12)
    assert diff["diff_lo"] < diff["diff_mean"] < diff["diff_hi"]


def _with_replications(tmp_path: Path, n: int):
    return load_experiment(
        write(tmp_path / f"smoke{n}.toml", SMOKE.read_text().replace("replications = 3", f"replications = {n}"))
    )


def test_more_replications_keep_the_seeds_of_the_first(tmp_path):
    three, five = _with_replications(tmp_path, 3), _with_replications(tmp_path, 5)
    assert five.n_runs == 10 and three.n_runs == 6
    for r in three.runs():
        assert five.run(r.point, r.replication).seed == r.seed


def test_more_replications_keep_the_keys_of_the_first(tmp_path):
    three, five = _with_replications(tmp_path, 3), _with_replications(tmp_path, 5)
    for r in three.runs():
        assert five.run(r.point, r.replication).key == r.key


# ------------------------------------------------------------------ 8. memory hygiene


def _ten_run_task(tmp_path: Path, values=("bri_classic", "bri_2")) -> dict:
    exp = load_experiment(write(tmp_path / "ten.toml", game_toml("ten", values=values, replications=5,
                                                                 batch_size=10)))  # fmt: skip
    (task,) = list(_tasks(exp, exp.runs(), exp.resolved_scenario))
    assert len(task["runs"]) == 10
    return task


def live_models() -> int:
    """CompetitionModel objects still alive after a full collection."""
    from strategy_abm.sim.model import CompetitionModel

    gc.collect()
    return sum(isinstance(o, CompetitionModel) for o in gc.get_objects())


def test_run_batch_leaves_no_models_alive(tmp_path):
    task = _ten_run_task(tmp_path)
    before, ids_before = live_models(), len(mesa.Agent._ids)
    out = run_batch(task)
    assert [t for t, _ in out].count("results") == 10 and not [t for t, _ in out if t == "failures"]
    assert live_models() == before
    assert len(mesa.Agent._ids) == ids_before  # our agents never register in Mesa's own table


def test_run_batch_leaves_no_models_when_a_model_fails_to_build(tmp_path, monkeypatch):
    from strategy_abm.strategies import REGISTRY

    class Boom(REGISTRY["multi_vector"]):  # a host strategy: hosts are built after the powers
        name = "boom_test"

        def __init__(self, **params):
            raise RuntimeError("boom_test cannot be built")

    REGISTRY.pop("boom_test")
    monkeypatch.setitem(REGISTRY, "boom_test", Boom)
    exp = load_experiment(write(tmp_path / "boom.toml", game_toml("boom", values=("boom_test",),
                                                                  factor="hosts.tjk.strategy", replications=10,
                                                                  batch_size=10)))  # fmt: skip
    (task,) = list(_tasks(exp, exp.runs(), exp.resolved_scenario))
    before = live_models()
    out = run_batch(task)
    assert [t for t, _ in out] == ["failures"] * 10
    assert live_models() == before


def test_a_sampled_factor_on_an_integer_field_takes_whole_values(tmp_path):
    """horizon_turns is an integer: a Latin hypercube over [2, 6] plays whole numbers of turns."""
    text = HEAD + LHS + '[factors."horizon_turns"]\nrange = [2.0, 6.0]\n' + REC
    exp = load_experiment(write(tmp_path / "int.toml", text))
    values = [p["horizon_turns"] for p in exp.points]
    assert all(isinstance(v, int) and 2 <= v <= 6 for v in values), values


def test_a_points_scenario_is_the_one_its_overrides_give_without_reloading(tmp_path, monkeypatch):
    """A worker builds each design point's scenario from the base with the point's values set
    (experiment._with_values: only the tables on their paths validated again): the same scenario
    as load_scenario(base, overrides), for keys of hosts, moves' effect tables, rules and trade.
    A value that changes the scenario's ids is left to load_scenario."""
    from strategy_abm.experiments import sweep as sweep_mod
    from strategy_abm.experiments.experiment import Experiment, ExperimentConfig, _with_values
    from strategy_abm.scenario.config import load_scenario, scenario_to_toml

    factors = {
        "hosts.kgz.absorption_pct_gdp": [3.0, 9.0],
        "moves.critical_minerals.effects.mineral_output_t_per_bn.tungsten": [2000.0, 12000.0],
        "rules.distress_service_ratio": [0.12, 0.25],
        "trade.logit_scale_usd_per_t": [50.0, 200.0],
    }
    exp = Experiment(ExperimentConfig.model_validate({
        "name": "fast_points", "replications": 1, "master_seed": 3, "record": {"final": ["china_debt_share_kgz"]},
        "design": {"kind": "latin_hypercube", "samples": 4}, "factors": {k: {"range": v} for k, v in factors.items()},
    }))  # fmt: skip
    for i, point in enumerate(exp.points):
        fast, slow = _with_values(exp.scenario, point), load_scenario(exp.scenario, exp.point_overrides(i))
        assert fast == slow and scenario_to_toml(fast) == scenario_to_toml(slow)
        assert fast.hosts["kgz"].absorption_pct_gdp == point["hosts.kgz.absorption_pct_gdp"]
        assert fast.hosts["tjk"] is exp.scenario.hosts["tjk"]  # untouched tables are not rebuilt
    with pytest.raises(ValueError, match="ids"):
        _with_values(exp.scenario, {"powers.china.bloc": "western"})
    # The worker takes that path: with load_scenario out of reach, the sweep still plays every point.
    monkeypatch.setattr(sweep_mod, "load_scenario", lambda *a, **k: pytest.fail("a point's scenario was reloaded"))
    with ResultStore(tmp_path / "out", exp) as store:
        report = run_sweep(exp, store, workers=1)
    assert report.done == 4 and report.failed == 0


def test_the_driver_plays_on_its_own_base_scenario_the_one_the_tasks_text_gives(tmp_path, monkeypatch):
    """Runs played in the driver (one worker, or workers forked from it) start from the
    experiment's base scenario the driver loaded, not from parsing the task's text again: the
    text reads back to that very scenario, so the results are the same either way."""
    from strategy_abm.experiments import sweep as sweep_mod

    exp = load_experiment(experiments_dir() / "smoke.toml")
    task = next(_tasks(exp, exp.runs(), exp.resolved_scenario))
    assert sweep_mod._from_text(task).model_dump() == exp.scenario.model_dump()
    parsed = pd.DataFrame([row for table, rows in run_batch(task) if table == "results" for row in rows])
    monkeypatch.setattr(sweep_mod, "_from_text", lambda task: pytest.fail("the base scenario was parsed again"))
    monkeypatch.setattr(sweep_mod, "_BASES", type(sweep_mod._BASES)())
    monkeypatch.setattr(sweep_mod, "_SCENARIOS", type(sweep_mod._SCENARIOS)())
    with ResultStore(tmp_path / "out", exp) as store:
        assert run_sweep(exp, store, workers=1, progress=False).done == exp.n_runs
    stored = load_results(tmp_path / "out").set_index("key").loc[parsed["key"]].reset_index()
    pd.testing.assert_frame_equal(stored[parsed.columns], parsed, check_exact=True)
