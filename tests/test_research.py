"""What researchers need around the game: models freed after use, sweeps over strategy
parameters, recordable distress counts and dates, readable summaries and plots."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import mesa
import pytest

from strategy_abm import CompetitionModel
from strategy_abm.sim.agents import AGENT_IDS

# ------------------------------------------------------------------ models are released (issue 6, section 7)


def test_models_built_in_a_loop_are_released_and_memory_stays_flat():
    """200 games in a user's loop: none stays alive, and traced memory after 200 games is that
    after 50 (Mesa 3.3.1's Agent._ids kept every model: about 175 kB per 2-turn game)."""
    refs: list[weakref.ref] = []

    def play(seed: int) -> None:
        model = CompetitionModel(scenario="baseline", seed=seed, turns=2, record=True)
        model.run()
        refs.append(weakref.ref(model))

    for seed in range(10):  # warm caches (scenario cache, imports) before measuring
        play(seed)
    gc.collect()
    tracemalloc.start()
    try:
        for seed in range(10, 60):
            play(seed)
        gc.collect()
        after_50 = tracemalloc.get_traced_memory()[0]
        for seed in range(60, 210):
            play(seed)
        gc.collect()
        after_200 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert sum(r() is not None for r in refs) == 0
    assert after_200 - after_50 < 500_000, (after_50, after_200)  # the leak was about 26 MB here


def test_unique_ids_count_from_one_in_every_model():
    first = CompetitionModel(seed=0, turns=1)
    second = CompetitionModel(seed=1, turns=1)  # built while the first is alive
    for model in (first, second):
        ids = {a.actor_id: a.unique_id for a in model.agents}
        assert ids == {"china": 1, "us": 2, "g7": 3, "russia": 4, "kaz": 5, "uzb": 6, "kgz": 7, "tjk": 8, "tkm": 9}
    assert first in AGENT_IDS and second in AGENT_IDS
    assert first not in mesa.Agent._ids  # Mesa's own table, which holds models forever, is not used


def test_mesa_batch_run_leaves_no_model_alive():
    gc.collect()
    before = sum(isinstance(o, CompetitionModel) for o in gc.get_objects())
    rows = mesa.batch_run(CompetitionModel, {"seed": [0, 1, 2], "scenario": ["baseline"], "turns": [2]},
                          max_steps=2, display_progress=False)  # fmt: skip
    assert len(rows) == 3
    gc.collect()
    assert sum(isinstance(o, CompetitionModel) for o in gc.get_objects()) == before


# ------------------------------------------------------------------ sweeps over strategy parameters (section 9)

PARAMETRIC = """name = "par"
scenario = "baseline"
overrides = ["powers.us.strategy=parametric"]
horizon_turns = 2
replications = 1
master_seed = 3
[design]
kind = "latin_hypercube"
samples = 5
[factors."{key}"]
range = [{low}, {high}]
[record]
final = ["spent_usd_bn_us"]
"""


def _experiment(tmp_path, text: str, name: str = "exp.toml"):
    from strategy_abm.experiments.experiment import load_experiment

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_experiment(path)


def test_a_latin_hypercube_over_parametric_spend_share_runs_and_stores_the_sampled_values(tmp_path):
    from strategy_abm.experiments.results import ResultStore, load_results
    from strategy_abm.experiments.sweep import run_sweep

    key = "powers.us.strategy_params.spend_share"
    exp = _experiment(tmp_path, PARAMETRIC.format(key=key, low=0.2, high=0.9))
    sampled = [p[key] for p in exp.points]
    assert len(set(sampled)) == 5 and all(0.2 <= v <= 0.9 for v in sampled)
    # One sample per fifth of the range: a Latin hypercube.
    assert sorted(int((v - 0.2) / 0.7 * 5) for v in sampled) == [0, 1, 2, 3, 4]
    report = run_sweep(exp, ResultStore(tmp_path / "out", exp), progress=False)
    assert (report.done, report.failed) == (5, 0)
    results = load_results(tmp_path / "out")
    assert results[key].tolist() == sampled
    # Each run plays its sampled share.
    model = CompetitionModel(scenario=exp.scenario, overrides=exp.point_overrides(2), seed=0)
    assert model.powers["us"].strategy.params["spend_share"] == sampled[2]


def test_an_unset_strategy_parameter_is_sampled_around_its_strategys_default(tmp_path):
    """China's doctrine (bri_2 in the baseline) leaves ``offer_size`` at its default: a range over it needs
    no override first, is a float factor, and each run plays its sampled value."""
    from strategy_abm.strategies import REGISTRY

    key = "powers.china.strategy_params.offer_size"
    exp = _experiment(tmp_path, PARAMETRIC.format(key=key, low=0.1, high=0.9))
    china = exp.scenario.powers["china"]
    assert "offer_size" not in china.strategy_params
    assert "offer_size" in REGISTRY[china.strategy].tunable
    assert exp.factor_types == {key: "float"}
    model = CompetitionModel(scenario=exp.scenario, overrides=exp.point_overrides(1), seed=0)
    assert model.powers["china"].strategy.params["offer_size"] == exp.points[1][key]


@pytest.mark.parametrize(
    ("key", "low", "high", "message"),
    [
        ("powers.us.strategy_params.spend_share", 0.2, 1.5, "spend_share: 1.5 is outside [0.0, 1.0]"),
        ("powers.us.strategy_params.spend_share", -0.5, 0.5, "spend_share: -0.5 is outside [0.0, 1.0]"),
        ("powers.us.strategy_params.host_weights", 0.2, 0.5, "host_weights: must be a table"),
        ("powers.us.strategy_params.nope", 0.2, 0.5, "nope: unknown parameter of strategy 'parametric'"),
    ],
)
def test_a_range_outside_a_strategy_parameters_bounds_is_refused_naming_the_factor(tmp_path, key, low, high, message):
    from strategy_abm.scenario.config import ConfigError

    with pytest.raises(ConfigError) as err:
        _experiment(tmp_path, PARAMETRIC.format(key=key, low=low, high=high))
    assert str(err.value).startswith(f"factors.{key.rsplit('.', 1)[0]}.")
    assert message in str(err.value)


# ------------------------------------------------------------------ distress counts and dates (section 9)

# Uzbekistan and Tajikistan in distress from turn 1 (every host has a debt-carrying capacity class, so the
# classes' thresholds are lowered; on 2024 GDP their debt service is about 0.095 and 0.10 of revenue).
LOW_THRESHOLD = "rules.distress_service_ratio_by_capacity={weak = 0.09, medium = 0.09, strong = 0.09}"


def test_distress_turns_count_the_turns_in_distress_in_model_csv_and_summary(tmp_path):
    import json

    import pandas as pd

    from strategy_abm.report.output import write_run
    from strategy_abm.scenario.ids import HOSTS

    model = CompetitionModel(scenario="bri_classic", seed=0, turns=6, overrides=[LOW_THRESHOLD]).run()
    write_run(model, tmp_path / "run", plots=False)
    frame = pd.read_csv(tmp_path / "run" / "model.csv")
    for h in HOSTS:
        assert frame[f"distress_turns_{h}"].tolist() == frame[f"distress_{h}"].cumsum().tolist()
    # Tajikistan leaves distress after 2 turns: the count keeps them.
    assert frame["distress_tjk"].tolist() == [0, 1, 1, 0, 0, 0, 0]
    assert frame["distress_turns_tjk"].tolist() == [0, 1, 2, 2, 2, 2, 2]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"]["distress_turns_tjk"] == 2.0 == summary["hosts"]["tjk"]["distress_turns"]
    assert summary["final"]["distress_turns_uzb"] == 6.0


def test_a_sweep_records_distress_turns_and_the_date_of_each_series_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from strategy_abm.experiments.results import ResultStore, load_results, load_series
    from strategy_abm.experiments.sweep import run_sweep
    from strategy_abm.report.output import model_frame

    text = f"""name = "dates"
scenario = "hindcast_2022"
overrides = ["{LOW_THRESHOLD}"]
horizon_turns = 6
replications = 2
master_seed = 11
[record]
final = ["distress_turns_tjk", "distress_turns_uzb"]
series = ["distress_tjk", "distress_turns_tjk"]
"""
    exp = _experiment(tmp_path, text)
    run_sweep(exp, ResultStore(tmp_path / "out", exp), progress=False)
    results, series = load_results(tmp_path / "out"), load_series(tmp_path / "out")
    for (_, run), (_, rows) in zip(results.iterrows(), series.groupby("key", sort=False), strict=True):
        model = CompetitionModel(scenario=exp.scenario, seed=int(run["seed"])).run()
        frame = model_frame(model)
        assert rows["date"].tolist() == frame["date"].tolist()  # 2021Q4 (turn 0), 2022Q1, ...
        assert rows["distress_turns_tjk"].tolist() == frame["distress_turns_tjk"].tolist()
        assert run["distress_turns_tjk"] == rows["distress_turns_tjk"].iloc[-1] == model.hosts["tjk"].distress_turns
        assert run["distress_turns_uzb"] == model.hosts["uzb"].distress_turns
    assert series["date"].iloc[:2].tolist() == ["2021Q4", "2022Q1"]
    for part in (tmp_path / "out" / "series").glob("part-*.parquet"):
        assert pq.read_schema(part).field("date").type == pa.string()


# ------------------------------------------------------------------ the sweep's summary table (section 9)

LONG_FACTORS = [
    "rules.distress_service_ratio",
    "moves.policy_bank_loan.loan_rate",
    "moves.policy_bank_loan.loan_maturity_years",
    "moves.hard_infrastructure.debt_fraction",
    "powers.china.budget_usd_bn_per_year",
    "powers.us.strategy_params.spend_share",
]


def _fake_results(factors: list[str], metrics: list[str], points: int, reps: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for p in range(points):
        values = {f: float(rng.uniform(0.1, 30.0)) for f in factors}
        for r in range(reps):
            rows.append({"point": p, "replication": r, **values, **{m: float(rng.normal(50, 40)) for m in metrics}})
    return pd.DataFrame(rows)


def test_the_summary_says_what_plus_minus_is_and_fits_120_columns():
    from strategy_abm.engine.metrics import METRIC_COLUMNS
    from strategy_abm.experiments.analysis import format_summary, summarise

    metrics = list(METRIC_COLUMNS)  # every metric: several tables
    results = _fake_results(LONG_FACTORS, metrics, points=45, reps=3)
    text = format_summary(summarise(results, metrics, LONG_FACTORS), metrics, LONG_FACTORS)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120
    note = " ".join(lines[:3])
    assert "mean ± half-width of the 95% confidence interval of the mean" in note
    assert "replications" in note and "Student's t" in note
    # Every factor and metric has a column, under a short name keyed to its full name.
    headers = [line.split() for line in lines if line.startswith("point")]
    columns = [c for h in headers for c in h if c not in ("point", "runs")]
    assert sorted(columns) == sorted(
        [*metrics, "distress_service_ratio", "loan_rate", "loan_maturity_years", "debt_fraction",
         "china.budget_usd_bn_per_year", "us.spend_share"]
    )  # fmt: skip
    assert "  us.spend_share = powers.us.strategy_params.spend_share" in lines
    assert all(h[:2] == ["point", "runs"] for h in headers)
    assert sum(line.strip().startswith("39 ") for line in lines) == len(headers)  # 40 points in each table
    assert lines[-1] == "... 5 more design points (load_results for all)"


def test_the_summary_shows_the_mean_and_the_t_interval_half_width():
    import pandas as pd

    from strategy_abm.experiments.analysis import format_summary, summarise

    results = pd.DataFrame({
        "point": [0, 0, 0, 1],
        "replication": [0, 1, 2, 0],
        "powers.china.strategy": ["bri_2", "bri_2", "bri_2", "bri_classic"],
        "influence_china": [1.0, 2.0, 3.0, 5.0],
    })  # fmt: skip
    factors = ["powers.china.strategy"]
    text = format_summary(summarise(results, ["influence_china"], factors), ["influence_china"], factors)
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]
    # mean 2, half-width t(0.975, 2) * 1 / sqrt(3) = 4.3027 * 0.57735 = 2.4841; one run: no interval.
    assert rows == [["0", "3", "bri_2", "2.0000", "±", "2.4841"], ["1", "1", "bri_classic", "5.0000", "±", "n/a"]]


def test_the_sweep_command_prints_a_summary_within_120_columns(tmp_path, capsys):
    from strategy_abm.cli import main
    from strategy_abm.engine.metrics import METRIC_COLUMNS

    final = ", ".join(f'"{m}"' for m in METRIC_COLUMNS[:20])
    text = f"""name = "wide"
scenario = "baseline"
horizon_turns = 1
replications = 2
master_seed = 1
[factors."powers.china.strategy"]
values = ["bri_classic", "bri_2"]
[factors."moves.policy_bank_loan.loan_maturity_years"]
values = [10.0, 20.0]
[record]
final = [{final}]
"""
    (tmp_path / "wide.toml").write_text(text, encoding="utf-8")
    assert main(["sweep", str(tmp_path / "wide.toml"), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("wide: 8 runs done")  # the last line names the folder, whatever its length
    assert max(map(len, out[:-1])) <= 120 and len(out) > 20
    assert out[0].startswith("Each metric: mean ± half-width of the 95% confidence interval of the mean")
    assert "  china.strategy = powers.china.strategy" in out


# ------------------------------------------------------------------ sweep plots (section 9)

FACTORIAL = f"""name = "plots"
scenario = "baseline"
overrides = ["{LOW_THRESHOLD}"]
horizon_turns = 4
replications = 4
master_seed = 8
[factors."powers.china.strategy"]
values = ["bri_classic", "bri_2"]
[factors."powers.us.budget_usd_bn_per_year"]
values = [2.0, 4.0]
[record]
final = ["influence_china", "distress_tjk"]
series = ["influence_china", "distress_tjk"]
"""
SAMPLED = """name = "sampled"
scenario = "baseline"
horizon_turns = 2
replications = 1
master_seed = 4
[design]
kind = "latin_hypercube"
samples = 14
[factors."rules.distress_service_ratio"]
range = [0.10, 0.16]
[factors."powers.china.budget_usd_bn_per_year"]
range = [5.0, 15.0]
[record]
final = ["influence_china", "distress_tjk"]
"""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def factorial_sweep(tmp_path_factory):
    """A 2 x 2 full factorial, 4 replications, 4 turns, distress frequent: its folder."""
    from strategy_abm.experiments.results import ResultStore
    from strategy_abm.experiments.sweep import run_sweep

    tmp = tmp_path_factory.mktemp("factorial")
    exp = _experiment(tmp, FACTORIAL)
    run_sweep(exp, ResultStore(tmp / "out", exp), progress=False)
    return tmp / "out"


def _labels(folder):
    from strategy_abm.experiments.analysis import point_label
    from strategy_abm.experiments.results import load_manifest

    manifest = load_manifest(folder)
    factors = manifest["design"]["factors"]
    return {p: point_label(point, factors) for p, point in enumerate(manifest["design"]["points"])}


def test_sweep_plots_are_written(factorial_sweep):
    from strategy_abm.experiments.analysis import plot_results

    paths = plot_results(factorial_sweep)
    names = sorted(p.name for p in paths)
    assert names == ["compare_distress_tjk.png", "compare_influence_china.png", "fan_distress_tjk.png",
                     "fan_influence_china.png"]  # fmt: skip
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in paths)


def test_fan_chart_legends_name_the_full_factor_keys_and_the_x_axis_shows_dates(factorial_sweep):
    from strategy_abm.experiments.analysis import fan_chart
    from strategy_abm.experiments.results import load_series

    series = load_series(factorial_sweep)
    fig = fan_chart(series, "influence_china", _labels(factorial_sweep))
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "powers.china.strategy=bri_classic, powers.us.budget_usd_bn_per_year=2",
        "powers.china.strategy=bri_classic, powers.us.budget_usd_bn_per_year=4",
        "powers.china.strategy=bri_2, powers.us.budget_usd_bn_per_year=2",
        "powers.china.strategy=bri_2, powers.us.budget_usd_bn_per_year=4",
    ]
    assert ax.get_ylabel() == "influence_china"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    # The line is the median over replications, turn by turn.
    first = series[series["point"] == 0].groupby("turn")["influence_china"].median()
    assert ax.get_lines()[0].get_ydata().tolist() == pytest.approx(first.tolist())


def test_a_0_1_metric_is_drawn_as_the_share_of_runs(factorial_sweep):
    from strategy_abm.experiments.analysis import compare_chart, fan_chart
    from strategy_abm.experiments.results import load_results, load_series

    series, results = load_series(factorial_sweep), load_results(factorial_sweep)
    labels = _labels(factorial_sweep)
    fan = fan_chart(series, "distress_tjk", labels).axes[0]
    shares = series.groupby(["point", "turn"])["distress_tjk"].mean()
    assert 0 < shares.mean() < 1  # the sweep has runs in and out of distress
    for point, line in enumerate(fan.get_lines()):
        assert line.get_ydata().tolist() == pytest.approx(shares[point].tolist())
    assert fan.get_ylabel() == "share of runs with distress_tjk = 1"
    compare = compare_chart(results, "distress_tjk", labels).axes[0]
    plotted = [line.get_xdata()[0] for line in compare.get_lines() if line.get_marker() == "o"]
    assert plotted == pytest.approx(results.groupby("point")["distress_tjk"].mean().tolist())
    assert compare.get_xlabel() == "share of runs with distress_tjk = 1"
    assert [t.get_text() for t in compare.get_yticklabels()][0] == (
        "powers.china.strategy=bri_classic\npowers.us.budget_usd_bn_per_year=2"
    )


def test_share_of_runs_has_the_wilson_interval():
    from strategy_abm.experiments.analysis import share_of_runs

    assert share_of_runs([0] * 10) == pytest.approx((0.0, 0.0, 0.2775), abs=1e-4)
    assert share_of_runs([1] * 10) == pytest.approx((1.0, 0.7225, 1.0), abs=1e-4)
    assert share_of_runs([1, 0, 0, 0]) == pytest.approx((0.25, 0.0456, 0.6993), abs=1e-4)


def test_many_design_points_give_one_panel_per_factor(tmp_path):
    from strategy_abm.experiments.analysis import factor_panels, plot_results
    from strategy_abm.experiments.results import ResultStore, load_results
    from strategy_abm.experiments.sweep import run_sweep

    exp = _experiment(tmp_path, SAMPLED)
    run_sweep(exp, ResultStore(tmp_path / "out", exp), progress=False)
    paths = plot_results(tmp_path / "out")
    assert sorted(p.name for p in paths) == ["compare_distress_tjk.png", "compare_influence_china.png"]
    results = load_results(tmp_path / "out")
    fig = factor_panels(results, "influence_china", list(exp.config.factors), bins=7)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in visible] == list(exp.config.factors)
    for ax, factor in zip(visible, exp.config.factors, strict=True):
        dots = ax.collections[0].get_offsets()
        assert sorted(dots[:, 0].tolist()) == sorted(results[factor].tolist())  # every run
        means = ax.get_lines()[0].get_ydata()
        assert len(means) == 7  # 14 runs in 7 bins of 2
        binned = results.sort_values(factor)["influence_china"].to_numpy().reshape(7, 2).mean(axis=1)
        assert means.tolist() == pytest.approx(binned.tolist())


def test_binned_means_of_a_factor_with_few_values_are_per_value():
    import pandas as pd

    from strategy_abm.experiments.analysis import binned_means

    x = pd.Series(["b", "a", "b", "a", "c"])
    y = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    centres, means, _, _ = binned_means(x, y)
    assert centres.tolist() == ["a", "b", "c"] and means.tolist() == [3.0, 2.0, 5.0]
    centres, shares, lo, hi = binned_means(pd.Series([1.0, 1.0, 2.0]), pd.Series([1.0, 0.0, 0.0]), binary=True)
    assert centres.tolist() == [1.0, 2.0] and shares.tolist() == [0.5, 0.0]
    assert (lo <= shares).all() and (shares <= hi).all()


# ------------------------------------------------------------------ single-run plots (section 9)


def test_every_figure_of_a_run_names_its_scenario_and_seed(tmp_path, monkeypatch):
    from strategy_abm.report import plots
    from strategy_abm.report.output import write_run

    titles = []
    finish = plots._finish

    def record(fig, title, source, path, **marks):
        fig = finish(fig, title, source, path, **marks)
        titles.append((path.name, fig._suptitle.get_text()))
        return fig

    monkeypatch.setattr(plots, "_finish", record)
    write_run(CompetitionModel(scenario="hindcast_2022", seed=3, turns=2).run(), tmp_path / "run")
    assert sorted(name for name, _ in titles) == sorted(p.name for p in (tmp_path / "run" / "plots").iterdir())
    assert len(titles) == 5
    assert all(title.endswith(": hindcast_2022, seed 3") for _, title in titles), titles


def test_debt_figure_shows_each_hosts_distress_turns(tmp_path):
    from strategy_abm.report.output import model_frame
    from strategy_abm.report.plots import plot_debt
    from strategy_abm.scenario.ids import HOSTS, NAMES

    model = CompetitionModel(scenario="bri_classic", seed=0, turns=6, overrides=[LOW_THRESHOLD]).run()
    frame = model_frame(model)
    ax = plot_debt(frame, tmp_path / "debt.png", "baseline, seed 0").axes[3]
    rows = list(reversed(HOSTS))  # first host on top
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{NAMES[h]} ({model.hosts[h].distress_turns})"
                                                             for h in rows]  # fmt: skip
    for h, bars in zip(rows, ax.collections, strict=True):
        starts = sorted(path.vertices[:, 0].min() + 0.5 for path in bars.get_paths())
        assert starts == frame.loc[frame[f"distress_{h}"] == 1, "turn"].tolist()
    assert model.hosts["tjk"].distress_turns == 2 and model.hosts["kaz"].distress_turns == 0


def test_payoffs_figure_and_end_of_game_table_use_payoff_years(tmp_path):
    from strategy_abm.cli import summary_table
    from strategy_abm.report.output import actors_frame, model_frame
    from strategy_abm.report.plots import plot_payoffs
    from strategy_abm.scenario.ids import POWERS

    model = CompetitionModel(seed=0, turns=8).run()  # quarterly turns: payoff-years = payoff sum / 4
    fig = plot_payoffs(model_frame(model), actors_frame(model), tmp_path / "payoffs.png")
    cumulative = fig.axes[1]
    assert cumulative.get_ylabel() == "payoff-years"
    finals = [line.get_ydata()[-1] for line in cumulative.get_lines()]
    assert finals == pytest.approx([model.powers[p].payoff_total for p in POWERS])
    table = summary_table(model).splitlines()
    header = next(line for line in table if line.startswith("power"))
    assert "payoff-years" in header.split()
    start = header.index("payoff-years")
    for p, line in zip(POWERS, table[table.index(header) + 1 :], strict=False):
        cell = line[start - 2 : start + len("payoff-years")]
        assert float(cell) == pytest.approx(model.powers[p].payoff_total, abs=0.005)
