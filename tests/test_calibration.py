"""History matching (issue 8 item 9): the implausibility on a toy model whose plausible interval
is known, the stored plausible set against its metadata, a miniature calibration of the game."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clitools import one_error_line, run_cli

from strategy_abm.experiments.calibration import (
    CalibrationConfig,
    Target,
    Waves,
    calibrate,
    history_match,
    implausibility,
    load_calibration,
    load_plausible,
    targets_of,
)
from strategy_abm.experiments.experiment import ExperimentConfig, design_size, run_seed
from strategy_abm.experiments.observations import (
    load_observations,
    metric_terms,
    observation_turn,
    observation_turns,
    value_from_metrics,
)
from strategy_abm.scenario.config import ConfigError, configs_dir, load_scenario, read_toml
from strategy_abm.sim.bulk import BulkPlan

STORED = configs_dir() / "calibration"


def test_implausibility_is_the_distance_over_the_pooled_standard_deviation():
    assert implausibility(3.0, 1.0, 1.0, 2.0, 1.0) == pytest.approx(1.0)  # |3 - 1| / sqrt(1 + 2 + 1)
    assert implausibility([1.0, 2.0], 1.0, 0.0, 0.0, 0.0).tolist() == [0.0, np.inf]


def _toy(slope: float, sd: float, reps: int):
    """y = slope x with run standard deviation sd: the mean and variance are given exactly."""

    def simulate(wave, box, x):
        return slope * x[:, :1], np.full((len(x), 1), sd**2), reps

    return simulate


@pytest.mark.parametrize(("sd", "reps", "half_width"), [(0.0, 4, 0.9), (0.4, 4, 3 * np.sqrt(0.09 + 0.16 * 1.25))])
def test_history_matching_a_toy_model_recovers_its_plausible_interval(sd, reps, half_width):
    # y = 2 x, z = 5, observation sd 0.3 (tolerance 0.9 at 3 sigmas): I <= 3 iff |2 x - 5| <= 3 sqrt(V),
    # V = 0.09 + sd^2 (1 + 1/R), so x in [(5 - w) / 2, (5 + w) / 2].
    target = Target("y", 5.0, 0.09, 0.0, "toy", (1,), ("y",))
    prior = {"x": [0.0, 10.0], "unused": [0.0, 1.0]}
    evaluated, log = history_match(_toy(2.0, sd, reps), [target], prior, Waves(count=3, points=200), master_seed=1)
    low, high = (5 - half_width) / 2, (5 + half_width) / 2
    kept = evaluated[evaluated.plausible]
    assert ((kept.x >= low) & (kept.x <= high)).all()
    rejected = evaluated[~evaluated.plausible]
    assert ((rejected.x < low) | (rejected.x > high)).all()
    # The later waves refocus on the interval: its ends are found to within 1% of the prior.
    assert kept.x.min() == pytest.approx(low, abs=0.1) and kept.x.max() == pytest.approx(high, abs=0.1)
    assert log[1]["box"]["x"][0] <= low and log[1]["box"]["x"][1] >= high
    assert log[1]["box"]["x"][1] - log[1]["box"]["x"][0] < 0.5 * 10  # narrower than the prior
    assert [w["points"] for w in log] == [200, 200, 200]


def test_history_matching_stops_when_no_point_is_plausible():
    target = Target("y", 100.0, 0.01, 0.0, "toy", (1,), ("y",))
    evaluated, log = history_match(_toy(1.0, 0.0, 2), [target], {"x": [0.0, 1.0]}, Waves(count=3, points=10), 0)
    assert len(log) == 1 and not evaluated.plausible.any()


def check_stored_set(folder: Path, cfg: CalibrationConfig) -> tuple[pd.DataFrame, dict]:
    """The checks of a stored plausible set against the file that made it (`make calibration`
    regenerates configs/calibration/ so that they hold after a change of the file or the ids)."""
    df, meta = load_plausible(folder)
    assert list(meta["prior"]) == list(cfg.factors)
    assert {k: list(v.range) for k, v in cfg.factors.items()} == meta["prior"]
    assert len(df) == meta["plausible"] == sum(w["plausible"] for w in meta["wave"]) > 0
    assert meta["points_per_wave"] == cfg.waves.points and meta["cutoff"] == cfg.waves.cutoff == 3.0
    assert [o["id"] for o in meta["observation"]] == [t.id for t in targets_of(cfg)[0]], "make calibration"
    for k, (low, high) in meta["plausible_range"].items():
        assert df[k].min() == pytest.approx(low) and df[k].max() == pytest.approx(high)
    assert (df.I_max <= 3.0).all()
    waves = pd.read_csv(folder / "waves.csv")
    assert len(waves) == meta["evaluated"] and waves.plausible.sum() == len(df)
    return df, meta


def test_the_stored_plausible_set_reloads_and_matches_its_metadata(tmp_path):
    check_stored_set(STORED, load_calibration("history_match"))
    # A changed file is refused: it is no longer the set its metadata describes.
    copy = tmp_path / "c"
    shutil.copytree(STORED, copy)
    text = (copy / "plausible.csv").read_text().splitlines()
    text[1] = text[1].replace("1", "2", 1)
    (copy / "plausible.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(ConfigError, match="digest differs"):
        load_plausible(copy)


MINI = {
    "name": "mini",
    "observations": ["kgz_debt_to_china_2025q2", "tjk_public_external_debt_2025q3", "titr_cargo_2024"],
    "overrides": ["powers.china.strategy=bri_2"],
    "replications": 3,
    "master_seed": 5,
    "waves": {"count": 1, "points": 6},
    "factors": {
        "hosts.kgz.absorption_pct_gdp": {"range": [3.0, 9.0]},
        "hosts.tjk.debt_ceiling_pct_gdp": {"range": [35.0, 100.0]},
    },
    "compare": {
        "replications": 2,
        "max_points": 1,
        "comparisons": [
            {
                "id": "debt",
                "what": "debt share",
                "factor": "powers.china.strategy",
                "a": "bri_classic",
                "b": "bri_2",
                "metrics": ["china_debt_share_kgz"],
            }
        ],
    },
}


def test_a_miniature_calibration_of_the_game_gives_the_values_its_runs_give(tmp_path):
    cfg = CalibrationConfig.model_validate(MINI)
    summary = calibrate(cfg, tmp_path / "cal")
    waves = pd.read_csv(tmp_path / "cal" / "waves.csv")
    assert summary["evaluated"] == len(waves) == 6
    obs = {o.id: o for o in load_observations()}
    kgz, tjk = obs["kgz_debt_to_china_2025q2"], obs["tjk_public_external_debt_2025q3"]
    # Point 2 replayed on the bulk path with the sweep's seeds gives the stored mean and spread.
    row = waves.iloc[2]
    sets = [
        "powers.china.strategy=bri_2",
        f"hosts.kgz.absorption_pct_gdp={float(row['hosts.kgz.absorption_pct_gdp'])!r}",
        f"hosts.tjk.debt_ceiling_pct_gdp={float(row['hosts.tjk.debt_ceiling_pct_gdp'])!r}",
    ]
    sc = load_scenario("baseline", sets)
    t_kgz, t_tjk = observation_turn(kgz, sc), observation_turn(tjk, sc)
    plan = BulkPlan(sc, turns=max(t_kgz, t_tjk))
    games = [plan.play(run_seed(5, 2, r), record=[t_kgz, t_tjk]) for r in range(3)]
    china = [g[t_kgz]["debt_to_gdp_kgz"] * g[t_kgz]["gdp_usd_bn_kgz"] * g[t_kgz]["china_debt_share_kgz"] for g in games]
    debt = np.array([g[t_tjk]["debt_to_gdp_tjk"] * g[t_tjk]["gdp_usd_bn_tjk"] for g in games])
    assert row["mean_kgz_debt_to_china_2025q2"] == pytest.approx(np.mean(china), rel=1e-9)
    assert row["sd_tjk_public_external_debt_2025q3"] == pytest.approx(np.std(debt, ddof=1), rel=1e-6, abs=1e-12)
    v = (tjk.tolerance / 3) ** 2 + np.var(debt, ddof=1) * (1 + 1 / 3) + (0.05 * tjk.value) ** 2
    assert row["I_tjk_public_external_debt_2025q3"] == pytest.approx(abs(debt.mean() - tjk.value) / np.sqrt(v))
    assert row["I_max"] == max(row["I_kgz_debt_to_china_2025q2"], row["I_tjk_public_external_debt_2025q3"])
    # A yearly observation is the mean of its year's four turns (observations.value_from_metrics),
    # on its own scenario (the hindcast) with the point's values.
    titr = obs["titr_cargo_2024"]
    hind = BulkPlan(load_scenario("hindcast_2022", sets), turns=max(observation_turns(titr)))
    cargo = [value_from_metrics(titr, hind.play(run_seed(5, 2, r), record=observation_turns(titr))) for r in range(3)]
    assert len(observation_turns(titr)) == 4
    assert row["mean_titr_cargo_2024"] == pytest.approx(np.mean(cargo), rel=1e-9)
    df, meta = load_plausible(tmp_path / "cal")
    assert len(df) == waves.plausible.sum() == meta["plausible"]
    assert [o["turns"] for o in meta["observation"]] == [[t_kgz], [t_tjk], observation_turns(titr)]
    text = (tmp_path / "cal" / "robustness.md").read_text()
    assert "## Calibration method and ranges" in text and "## Robustness of each doctrine comparison" in text
    if len(df):
        table = pd.read_csv(tmp_path / "cal" / "robustness.csv")
        assert set(table.point) == {-1, int(df.index[0])} and set(table.other) == {"pgii_asymmetric", "fossil_first"}


def test_calibrate_refuses_an_unknown_observation_with_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'name = "c"\nobservations = ["nope"]\nreplications = 2\nmaster_seed = 1\n[waves]\npoints = 4\n'
        '[factors."rules.distress_service_ratio"]\nrange = [0.1, 0.2]\n'
    )
    code, _, stderr = run_cli("calibrate", path, "--out", tmp_path / "out")
    assert code == 2
    assert one_error_line(stderr).startswith("strategy-abm: error: observations: unknown observation 'nope'")


def test_targets_are_the_observations_modules_quantities():
    """The calibration reads an observation where the out-of-sample checks do (one mapping), and
    refuses one that is not modelled."""
    cfg = load_calibration("history_match")
    targets, used = targets_of(cfg)
    assert [t.id for t in targets] == cfg.observations == [o.id for o in used]
    for t, o in zip(targets, used, strict=True):
        assert t.observation is o and t.metrics == metric_terms(o) and list(t.turns) == observation_turns(o)
        assert o.modelled and t.value == o.value and t.obs_var == pytest.approx((o.tolerance / 3) ** 2)
    bad = cfg.model_copy(update={"observations": ["kaz_gross_external_debt_2025q2"]})
    with pytest.raises(ConfigError, match="kaz_gross_external_debt_2025q2 is not modelled"):
        targets_of(bad)


def test_the_observations_file_is_not_a_scenario():
    from strategy_abm.scenario.config import builtin_scenarios

    assert "observations" not in builtin_scenarios()
    assert Path(configs_dir() / "observations.toml").is_file()


def test_the_sobol_experiment_covers_the_calibrated_assumptions_and_a_tiny_version_runs(tmp_path):
    from clitools import sweep_ok

    from strategy_abm.experiments.analysis import sensitivity
    from strategy_abm.experiments.experiment import experiments_dir

    text = (experiments_dir() / "assumptions_sobol.toml").read_text()
    # The full one: its file only (expanding and checking 32,768 points takes seconds).
    full = ExperimentConfig.model_validate(read_toml(experiments_dir() / "assumptions_sobol.toml"))
    assert full.design.kind == "sobol" and full.design.samples == 4096 and full.replications == 4
    assert design_size(full)[0] == 4096 * (6 + 2)
    priors = load_calibration("history_match").factors
    assert all(list(f.range) == list(priors[k].range) for k, f in full.factors.items())
    # The suite's version: N = 8, one replication (the full one: `make sobol`).
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(text.replace("samples = 4096", "samples = 8").replace("replications = 4", "replications = 1"))
    sweep_ok(tiny, tmp_path / "out")
    indices = sensitivity(tmp_path / "out")
    assert len(indices) == 4 * 6 and np.isfinite(indices[["S1", "ST"]].to_numpy()).all()
    # China's share of Tajik debt is driven by Tajikistan's absorption (ST 0.92 at N = 256).
    tjk = indices[indices.metric == "china_debt_share_tjk"].set_index("factor")
    assert tjk.ST.idxmax() == "hosts.tjk.absorption_pct_gdp"
