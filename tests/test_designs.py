"""Sampled designs on integer fields (issue 6, section 3) and one Parquet schema per results
folder (issue 6, section 4).

Integer factors: a range ``[low, high]`` on an integer field stands for the integers low..high,
each with equal weight, and Morris effects divide by the step actually taken. Schema: every part
of ``results/``, ``series/`` and ``failures/`` has the schema fixed from the experiment, so plain
pandas and pyarrow read a table's folder as one dataset.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from clitools import run_cli

from strategy_abm.experiments.analysis import morris_indices, sensitivity
from strategy_abm.experiments.experiment import load_experiment, whole_value
from strategy_abm.experiments.results import ResultStore, load_manifest, load_results, table_schemas

HEAD = 'name = "t"\nscenario = "baseline"\nhorizon_turns = 2\nreplications = 1\nmaster_seed = 1\n'
REC = '[record]\nfinal = ["influence_china"]\n'


def experiment(tmp_path: Path, body: str, head: str = HEAD, record: str = REC):
    path = tmp_path / "exp.toml"
    path.write_text(head + body + record, encoding="utf-8")
    return load_experiment(path)


# ------------------------------------------------------------------ 3. integer factors in sampled designs


def test_latin_hypercube_over_an_integer_range_gives_each_integer_equal_weight(tmp_path):
    """40 points over horizon_turns in [2, 6]: 8 of each (rounding gave 5, 10, 10, 10, 5)."""
    exp = experiment(
        tmp_path, '[design]\nkind = "latin_hypercube"\nsamples = 40\n[factors.horizon_turns]\nrange = [2, 6]\n'
    )
    values = [p["horizon_turns"] for p in exp.points]
    assert all(type(v) is int for v in values)
    assert Counter(values) == {2: 8, 3: 8, 4: 8, 5: 8, 6: 8}
    assert exp.factor_types == {"horizon_turns": "int"}


def test_whole_value_splits_the_range_into_equal_bins():
    # 1,000 evenly spread fractions of [2, 6] give 200 of each integer; the ends map to the ends.
    xs = [2 + 4 * (i + 0.5) / 1000 for i in range(1000)]
    assert Counter(whole_value(x, 2, 6) for x in xs) == dict.fromkeys(range(2, 7), 200)
    assert whole_value(2.0, 2, 6) == 2 and whole_value(6.0, 2, 6) == 6
    # Bin edges at 2 + 4 k / 5: 2.8 starts the bin of 3, just below it is still 2.
    assert whole_value(2.8, 2, 6) == 3 and whole_value(2.79, 2, 6) == 2
    # A Morris level on a bin edge despite rounding: 2/3 of [0, 2] is the edge of the top bin.
    assert whole_value(0 + (2 / 3) * 2, 0, 2) == 2


def test_sobol_over_an_integer_range_samples_every_integer_about_equally(tmp_path):
    exp = experiment(
        tmp_path,
        '[design]\nkind = "sobol"\nsamples = 1024\n[factors.horizon_turns]\nrange = [2, 6]\n'
        '[factors."rules.distress_service_ratio"]\nrange = [0.1, 0.3]\n',
    )
    counts = Counter(p["horizon_turns"] for p in exp.points)
    assert len(exp.points) == 1024 * 4 and sorted(counts) == [2, 3, 4, 5, 6]
    # Rounding gave the ends half weight (about 512 each against 1,024); equal bins give about 819.
    assert all(abs(c - len(exp.points) / 5) < 0.02 * len(exp.points) for c in counts.values()), counts
    assert all(type(p["rules.distress_service_ratio"]) is float for p in exp.points)


def test_morris_levels_on_an_integer_range_of_matching_size_are_exact(tmp_path):
    """[2, 5] with 4 levels: the grid is exactly 2, 3, 4, 5 and every step is the nominal one."""
    exp = experiment(tmp_path, '[design]\nkind = "morris"\nsamples = 20\nlevels = 4\n[factors.horizon_turns]\n'
                     "range = [2, 5]\n")  # fmt: skip
    values = [p["horizon_turns"] for p in exp.points]
    assert set(values) == {2, 3, 4, 5}
    steps = {abs(b - a) for a, b in zip(values[::2], values[1::2], strict=True)}
    assert steps == {2}  # Morris step 4 / (2 x 3) = 2/3 of the range of 3


def test_a_float_strategy_parameter_is_not_taken_for_an_integer(tmp_path):
    """spend_share set to 1 (an integer in TOML) is still a real number: the range is not rounded."""
    head = HEAD + 'overrides = ["powers.us.strategy=parametric", "powers.us.strategy_params.spend_share=1"]\n'
    exp = experiment(tmp_path, '[design]\nkind = "latin_hypercube"\nsamples = 10\n'
                     '[factors."powers.us.strategy_params.spend_share"]\nrange = [0, 1]\n', head=head)  # fmt: skip
    values = [p["powers.us.strategy_params.spend_share"] for p in exp.points]
    assert exp.factor_types == {"powers.us.strategy_params.spend_share": "float"}
    assert len(set(values)) == 10 and all(type(v) is float and 0 < v < 1 for v in values)


def test_a_count_strategy_parameter_is_sampled_as_an_integer(tmp_path):
    """offers_per_turn is a count: a fraction was taken and cut (8.7 -> 8), so a range [6, 12]
    reached 12 only at its very end. Now the parameter refuses fractions, and a range over it is
    sampled over the integers 6..12, each with equal weight."""
    head = HEAD + 'overrides = ["powers.us.strategy=parametric"]\n'
    exp = experiment(tmp_path, '[design]\nkind = "latin_hypercube"\nsamples = 14\n'
                     '[factors."powers.us.strategy_params.offers_per_turn"]\nrange = [6, 12]\n', head=head)  # fmt: skip
    values = [p["powers.us.strategy_params.offers_per_turn"] for p in exp.points]
    assert exp.factor_types == {"powers.us.strategy_params.offers_per_turn": "int"}
    assert sorted(values) == sorted([*range(6, 13)] * 2) and all(type(v) is int for v in values)


def _linear_morris(levels: int, low: int, high: int, slope: float, integer: bool, n: int = 30):
    """A Morris design of one factor on [low, high] (SALib), integers if asked, and y = slope x."""
    from SALib.sample import morris

    problem = {"num_vars": 1, "names": ["x"], "bounds": [[low, high]]}
    x = morris.sample(problem, n, num_levels=levels, seed=4)
    if integer:
        x = np.array([[whole_value(v, low, high)] for v in x[:, 0]], dtype=float)
    return problem, x, slope * x[:, 0]


@pytest.mark.parametrize(("levels", "low", "high"), [(4, 2, 3), (4, 2, 6), (6, 0, 7), (2, 1, 4)])
def test_morris_mu_star_uses_the_realised_step_of_integer_factors(levels, low, high):
    """y = 3 x: every elementary effect is 3 x (high - low) per whole range, whatever the step taken.

    Hand-computed for [2, 3] with 4 levels: the levels 2, 2.33, 2.67, 3 become 2, 2, 3, 3; the
    nominal step (2/3 of the range) always moves 2 -> 3, the whole range. mu* = 3 / 1 = 3; the
    nominal step gave 3 / (2/3) = 4.5, 1.5 times too high."""
    problem, x, y = _linear_morris(levels, low, high, 3.0, integer=True)
    si = morris_indices(problem, x, y, levels, seed=1, integer=["x"])
    assert si["mu_star"][0] == pytest.approx(3.0 * (high - low), rel=1e-12)
    assert si["mu"][0] == pytest.approx(3.0 * (high - low), rel=1e-12)
    assert si["sigma"][0] == pytest.approx(0.0, abs=1e-9)
    if (levels, low, high) == (4, 2, 3):
        from SALib.analyze import morris

        nominal = morris.analyze(problem, x, y, num_levels=levels, seed=1)
        assert nominal["mu_star"][0] == pytest.approx(4.5)  # the bug the realised step fixes


def test_morris_indices_of_real_factors_equal_salibs_bit_for_bit():
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    from strategy_abm.experiments.sweep import ishigami

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    for levels in (2, 4, 6):
        x = sample.sample(problem, 40, num_levels=levels, seed=3)
        y = np.array([ishigami(*row) for row in x])
        want = analyze.analyze(problem, x, y, num_levels=levels, seed=7)
        got = morris_indices(problem, x, y, levels, seed=7)
        for key in ("mu", "mu_star", "sigma", "mu_star_conf"):
            assert np.array_equal(np.asarray(want[key], dtype=float), got[key]), (levels, key)


def test_sensitivity_of_a_morris_sweep_over_an_integer_factor(tmp_path):
    """End to end: the stored points are integers, the manifest says so, and mu* of horizon_turns
    is the mean of |change of the metric| / (change of turns / (3 - 2)), computed here by hand."""
    body = ('[design]\nkind = "morris"\nsamples = 3\nlevels = 4\n[factors.horizon_turns]\nrange = [2, 3]\n'
            '[factors."rules.distress_service_ratio"]\nrange = [0.1, 0.3]\n')  # fmt: skip
    exp_file = tmp_path / "exp.toml"
    exp_file.write_text(HEAD + body + REC, encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = run_cli("sweep", exp_file, "--out", out, "--quiet")
    assert code == 0, err
    manifest = load_manifest(out)
    assert manifest["design"]["factor_types"] == {"horizon_turns": "int", "rules.distress_service_ratio": "float"}
    points = manifest["design"]["points"]
    y = load_results(out).set_index("point")["influence_china"]
    effects = []
    for t in range(3):  # trajectories of 3 points: each step changes one factor
        for s in range(2):
            a, b = points[3 * t + s], points[3 * t + s + 1]
            if a["horizon_turns"] != b["horizon_turns"]:
                effects.append((y[3 * t + s + 1] - y[3 * t + s]) / ((b["horizon_turns"] - a["horizon_turns"]) / 1))
    assert len(effects) == 3
    indices = sensitivity(out).set_index("factor")
    assert indices.loc["horizon_turns", "mu_star"] == pytest.approx(np.mean(np.abs(effects)), rel=1e-12)


# ------------------------------------------------------------------ 4. one Parquet schema per results folder


SCHEMA_BODY = (
    '[factors."powers.china.budget_usd_bn_per_year"]\nvalues = [10, 12.5]\n'  # a float field, one value written as 10
    "[factors.horizon_turns]\nvalues = [2, 3]\n"  # an integer field
    '[factors."powers.china.strategy"]\nvalues = ["bri_2"]\n'  # a string field
    '[factors."hosts.kaz.minerals.uranium.developable"]\nvalues = [true]\n'  # a boolean field
)
SCHEMA_RECORD = '[record]\nfinal = ["influence_china", "distress_tjk"]\nseries = ["influence_china"]\n'


@pytest.fixture(scope="module")
def several_parts(tmp_path_factory) -> Path:
    """A sweep of 8 runs written one row per part (--flush-rows 1)."""
    base = tmp_path_factory.mktemp("schema")
    exp_file = base / "exp.toml"
    exp_file.write_text(HEAD.replace("replications = 1", "replications = 2") + SCHEMA_BODY + SCHEMA_RECORD)
    out = base / "out"
    code, _, err = run_cli("sweep", exp_file, "--out", out, "--quiet", "--flush-rows", "1")
    assert code == 0, err
    return out


def test_factor_types_come_from_the_scenario_fields(tmp_path):
    exp = experiment(tmp_path, SCHEMA_BODY, record=SCHEMA_RECORD)
    assert exp.factor_types == {
        "powers.china.budget_usd_bn_per_year": "float",
        "horizon_turns": "int",
        "powers.china.strategy": "str",
        "hosts.kaz.minerals.uranium.developable": "bool",
    }
    budgets = [p["powers.china.budget_usd_bn_per_year"] for p in exp.points]
    assert budgets == [10.0, 10.0, 12.5, 12.5] and all(type(b) is float for b in budgets)
    assert exp.point_overrides(0)[0] == "powers.china.budget_usd_bn_per_year=10.0"


def test_every_part_has_the_schema_fixed_from_the_experiment(several_parts, tmp_path):
    want = table_schemas(experiment(tmp_path, SCHEMA_BODY, record=SCHEMA_RECORD))
    assert want["results"] == pa.schema([
        ("key", pa.string()), ("point", pa.int64()), ("replication", pa.int64()), ("seed", pa.int64()),
        ("powers.china.budget_usd_bn_per_year", pa.float64()), ("horizon_turns", pa.int64()),
        ("powers.china.strategy", pa.string()), ("hosts.kaz.minerals.uranium.developable", pa.bool_()),
        ("influence_china", pa.float64()), ("distress_tjk", pa.float64()),
    ])  # fmt: skip
    for table in ("results", "series"):
        parts = sorted((several_parts / table).glob("part-*.parquet"))
        assert len(parts) >= 4, table
        for part in parts:
            assert pq.read_schema(part).remove_metadata() == want[table], part


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda d: pd.read_parquet(d), id="pandas.read_parquet"),
        pytest.param(lambda d: pads.dataset(d).to_table().to_pandas(), id="pyarrow.dataset"),
        pytest.param(lambda d: pq.read_table(d).to_pandas(), id="pyarrow.parquet.read_table"),
    ],
)
def test_plain_pandas_and_pyarrow_read_a_results_folder_of_several_parts(several_parts, read):
    results = read(several_parts / "results").sort_values(["point", "replication"]).reset_index(drop=True)
    assert len(results) == 8
    assert results["powers.china.budget_usd_bn_per_year"].dtype == np.float64
    assert results["powers.china.budget_usd_bn_per_year"].tolist() == [10.0] * 4 + [12.5] * 4
    assert results["horizon_turns"].dtype == np.int64 and results["horizon_turns"].tolist() == [2, 2, 3, 3] * 2
    assert results["hosts.kaz.minerals.uranium.developable"].dtype == bool
    assert set(results["powers.china.strategy"]) == {"bri_2"}
    assert results["distress_tjk"].dtype == np.float64
    pd.testing.assert_frame_equal(results, load_results(several_parts), check_dtype=False)
    series = read(several_parts / "series")
    assert len(series) == 4 * 3 + 4 * 4  # turns 0..2 and 0..3
    assert series["turn"].dtype == np.int64 and series["influence_china"].dtype == np.float64


def test_failures_parts_share_one_schema(tmp_path):
    exp = experiment(tmp_path, SCHEMA_BODY, record=SCHEMA_RECORD)
    store = ResultStore(tmp_path / "out", exp, flush_rows=1)
    run = exp.run(0, 0)
    ident = {"key": run.key, "point": run.point, "replication": run.replication, "seed": run.seed}
    store.add("failures", [{**ident, "error": "ValueError: x", "traceback": "Traceback ..."}])
    store.add("failures", [{**ident, "error": "ValueError: y", "traceback": ""}])
    store.flush()
    parts = sorted((tmp_path / "out" / "failures").glob("part-*.parquet"))
    assert len(parts) == 2
    assert {pq.read_schema(p).remove_metadata() for p in parts} == {table_schemas(exp)["failures"]}
    assert pd.read_parquet(tmp_path / "out" / "failures")["error"].tolist() == ["ValueError: x", "ValueError: y"]
