"""The observations file's loader and readers (strategy_abm/experiments/observations.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strategy_abm import CompetitionModel
from strategy_abm.experiments.observations import (
    Observation,
    load_observations,
    metric_terms,
    observation_turn,
    observation_turns,
    value_from_metrics,
    value_from_run,
    values_from_sweep,
)
from strategy_abm.report.output import actors_frame, model_frame
from strategy_abm.scenario.config import ConfigError
from strategy_abm.sim.bulk import BulkPlan

GOOD = """
[[observation]]
id = "kgz_debt_to_china_2025q2"
what = "debt"
scenario = "baseline"
date = "2025Q2"
value = 1.59
tolerance = 0.08
tolerance_reason = "about"
source = "CAL_KGCHINA"
actor = "kgz"
column = "debt_usd_bn"
times = "debt_share_china"
"""


def _write(tmp_path, text):
    path = tmp_path / "observations.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads(tmp_path):
    (obs,) = load_observations(_write(tmp_path, GOOD))
    assert obs == Observation(id="kgz_debt_to_china_2025q2", what="debt", scenario="baseline", date="2025Q2",
                              value=1.59, tolerance=0.08, tolerance_reason="about", source="CAL_KGCHINA", actor="kgz",
                              column="debt_usd_bn", times="debt_share_china")  # fmt: skip
    assert obs.bounds == pytest.approx((1.51, 1.67))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("value = 1.59", 'value = "x"'), ".value:"),
        (("tolerance = 0.08", "tolerance = 0.0"), ".tolerance:"),
        (('date = "2025Q2"', 'date = "2025-06"'), ".date:"),
        (('date = "2025Q2"', 'date = "2040Q1"'), ".date:"),
        (('source = "CAL_KGCHINA"', 'source = "NOPE"'), ".source:"),
        (('scenario = "baseline"', 'scenario = "nowhere"'), ".scenario:"),
        (('actor = "kgz"', 'actor = "mars"'), ".actor:"),
        (('column = "debt_usd_bn"', 'column = "debt_bn"'), ".column:"),
        (('times = "debt_share_china"', 'times = "x"'), ".times:"),
        (('id = "kgz_debt_to_china_2025q2"', 'id = "Bad-Id"'), ".id:"),
        (('what = "debt"\n', 'what = "debt"\ncolour = "red"\n'), ".colour: unknown field"),
        (('tolerance_reason = "about"\n', ""), ".tolerance_reason: missing"),
        (('times = "debt_share_china"', 'not_modelled = "no column"'), ".actor:"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(tmp_path, change, field):
    with pytest.raises(ConfigError) as err:
        load_observations(_write(tmp_path, GOOD.replace(*change)))
    assert field in str(err.value) and "\n" not in str(err.value)


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\.id: duplicate"):
        load_observations(_write(tmp_path, GOOD + GOOD))


def test_a_year_is_dated_by_its_q4_and_needs_turns_of_that_year(tmp_path):
    with pytest.raises(ConfigError, match=r"\.date: a period of a year"):
        load_observations(_write(tmp_path, GOOD.replace('date = "2025Q2"', 'date = "2025Q2"\nperiod = "year"')))
    with pytest.raises(ConfigError, match=r"\.date: 2024Q4 \(year\) is outside"):  # 2024 is before the start
        load_observations(_write(tmp_path, GOOD.replace('date = "2025Q2"', 'date = "2024Q4"\nperiod = "year"')))


def test_turns_of_a_date():
    """Baseline: turn 1 is 2025Q1, turn 0 the end of 2024Q4; the hindcast starts in 2022Q1."""
    (obs,) = [o for o in load_observations() if o.id == "kgz_debt_to_china_2025q2"]
    assert observation_turn(obs) == 2
    assert observation_turn(obs, "hindcast_2022") == 14
    year = Observation("x", "x", "hindcast_2022", "2023Q4", 1.0, 1.0, "x", "AT_TITR2024", column="c", period="year")
    assert observation_turns(year) == [5, 6, 7, 8]
    start = Observation("x", "x", "baseline", "2024Q4", 1.0, 1.0, "x", "AT_TITR2024", column="c")
    assert observation_turns(start) == [0]


@pytest.fixture(scope="module")
def game():
    model = CompetitionModel(scenario="baseline", seed=3, turns=4).run()
    return model_frame(model), actors_frame(model)


def test_value_from_run_is_the_product_of_the_actor_columns(game):
    """Kyrgyzstan's debt to China at turn 0 is the calibration: 4.56 x 0.369 (CAL_KGDEBT, CAL_KGCHINA)."""
    model, actors = game
    obs = Observation("x", "x", "baseline", "2024Q4", 1.0, 1.0, "x", "CAL_KGCHINA", actor="kgz",
                      column="debt_usd_bn", times="debt_share_china")  # fmt: skip
    assert value_from_run(obs, model, actors) == pytest.approx(4.56 * 0.369, abs=1e-9)
    assert value_from_metrics(obs, {0: model.iloc[0].to_dict()}) == pytest.approx(4.56 * 0.369, abs=1e-9)


def test_every_modelled_observation_reads_the_same_from_a_run_and_from_the_bulk_metrics(game):
    """The actor columns' metric expressions (ACTOR_METRICS) give the recorded actors.csv values."""
    model, actors = game
    plan = BulkPlan("baseline", turns=4)
    for obs in load_observations():
        if not obs.modelled or obs.scenario != "baseline" or max(observation_turns(obs)) > 4:
            continue
        assert metric_terms(obs) is not None, obs.id
        rows = plan.play(3, record=observation_turns(obs))
        assert value_from_metrics(obs, rows) == pytest.approx(value_from_run(obs, model, actors), rel=1e-9), obs.id


def test_values_from_a_sweeps_series_and_final_metrics():
    obs = Observation("x", "x", "baseline", "2025Q4", 1.0, 1.0, "x", "CAL_KGCHINA", actor="kgz",
                      column="debt_usd_bn", times="debt_share_china", period="year")  # fmt: skip
    series = pd.DataFrame({"key": ["b"] * 4 + ["a"] * 4, "turn": [1, 2, 3, 4] * 2,
                           "debt_to_gdp_kgz": [0.5] * 8, "gdp_usd_bn_kgz": [10.0] * 4 + [20.0] * 4,
                           "china_debt_share_kgz": [0.1, 0.2, 0.3, 0.4] * 2})  # fmt: skip
    # run a: 0.5 x 20 x mean(0.1..0.4) = 2.5; run b: 1.25 (in key order)
    assert values_from_sweep(obs, (pd.DataFrame({"key": ["a", "b"]}), series)) == pytest.approx([2.5, 1.25])
    at_horizon = Observation("x", "x", "baseline", "2034Q4", 1.0, 1.0, "x", "CAL_KGCHINA", actor="kgz",
                             column="gdp_usd_bn")  # fmt: skip
    final = pd.DataFrame({"key": ["b", "a"], "gdp_usd_bn_kgz": [3.0, 4.0]})
    assert values_from_sweep(at_horizon, (final, None)) == pytest.approx(np.array([4.0, 3.0]))
    assert values_from_sweep(obs, (final, None)) is None  # not stored: the year's series is needed
