"""Pattern-oriented validation (design.md, "Validation targets").

Each test checks one real-world pattern over 30 seeds within a tolerance stated in a constant of
strategy_abm/experiments/validation.py (the targets of docs/validation.md); the ranges over the
seeds are printed after the run. Games are cached per (scenario, seed, overrides), so the suite
plays each game once (about 0.03 s each).

Read configs/hindcast_2022.toml before quoting the hindcast: its Middle Corridor capacity path is
an assumption fitted to the 2022 and 2023 cargo, so those two years are reproduced by
construction; the tests guard the fit, they do not show that the model predicts it.
"""

from __future__ import annotations

import pytest

from strategy_abm import CompetitionModel
from strategy_abm.experiments import validation as V
from strategy_abm.report.output import actors_frame

SEEDS = range(30)  # the patterns hold over 30 seeds; their ranges are printed after the run (conftest.py)

# (a) Turn 0 equals the calibration (shared/calibration/README.md).
EXACT_TOL = 1e-9  # figures copied from the config must come through unchanged
CHINA_DEBT_SHARE_T0 = {"kgz": 0.369, "tjk": 0.32, "uzb": 0.104}  # CAL_KGCHINA, TREND_TJDEBT, ZAMIN_UZ
GOVERNANCE_CPI_2024 = {"kaz": 40.0, "uzb": 32.0, "kgz": 25.0, "tjk": 19.0, "tkm": 17.0}  # KUN_CPI2024
KAZ_DEBT_TO_GDP_T0 = 14.8 / 280.3  # KURSIV_KZDEBT_Q1 / 2024 GDP (derived from WB_GDP and RADIOCOM_IMF)
MIDDLE_VOLUME_T0_MT = 4.5  # AT_TITR2024
# Trade shares of the calibration table (README.md), which rounds to two digits.
TRADE_SHARE_TOL = 0.005
TRADE_SHARES_CALIBRATION = {
    "kaz": {"china": 0.21, "russia": 0.19},
    "uzb": {"china": 0.19, "russia": 0.18},
    "kgz": {"china": 0.44, "russia": 0.22},
    "tjk": {"china": 0.25, "russia": 0.23},
    "tkm": {"china": 0.50},
}

# (b)-(d): the targets and their sources live in strategy_abm/experiments/validation.py, which
# docs/validation.md's tables are generated from too (`strategy-abm validation-report`).

# ------------------------------------------------------------------------------------ helpers


def model_frame(model):
    return model.datacollector.get_model_vars_dataframe()


def check(result: V.PatternResult, pattern_ranges) -> None:
    """Print the pattern's ranges over the seeds after the run, and assert it holds."""
    for label, values in result.quantities.items():
        pattern_ranges.record(f"{result.id}: {label}", values, result.target, result.hit)
    assert result.hit, result.describe()


# ------------------------------------------------------------------------------------ (a) turn 0


@pytest.fixture(scope="module")
def start():
    """The baseline before any turn is played (its turn-0 row is already collected)."""
    return CompetitionModel(scenario="baseline", seed=0)


def test_turn0_china_debt_shares_are_the_calibration(start):
    """China's share of public external debt: KGZ 36.9% (Exim Bank of China, Jan 2024),
    TJK about 32% (MoF, Apr 2025), UZB 10.4%, in the recorded turn-0 row."""
    row = model_frame(start).iloc[0]
    for host, share in CHINA_DEBT_SHARE_T0.items():
        assert row[f"china_debt_share_{host}"] == pytest.approx(share, abs=EXACT_TOL), host


def test_turn0_governance_is_cpi_2024(start):
    """Governance is the Corruption Perceptions Index 2024 score (KAZ 40 ... TKM 17), in the
    actors' recorded turn-0 data."""
    frame = actors_frame(start)
    actors = frame[frame["turn"] == 0].set_index("actor")
    for host, cpi in GOVERNANCE_CPI_2024.items():
        assert actors.loc[host, "governance"] == pytest.approx(cpi, abs=EXACT_TOL), host


def test_turn0_debt_and_corridor_are_the_calibration(start):
    """Kazakhstan's public external debt (USD 14.8 bn) over its 2024 GDP (USD 280.3 bn, derived), and
    Middle Corridor cargo of 4.5 Mt in 2024."""
    row = model_frame(start).iloc[0]
    assert row["debt_to_gdp_kaz"] == pytest.approx(KAZ_DEBT_TO_GDP_T0, abs=EXACT_TOL)
    assert row["route_volume_mt_middle"] == pytest.approx(MIDDLE_VOLUME_T0_MT, abs=EXACT_TOL)


def test_turn0_trade_shares_are_the_calibration(start):
    """China's and Russia's shares of each state's trade are the calibration table's (China
    21% of Kazakhstan's trade ... about 50% of Turkmenistan's), and the config's exactly."""
    for host, shares in TRADE_SHARES_CALIBRATION.items():
        state = start.hosts[host].trade_shares
        assert state == pytest.approx(start.scenario.hosts[host].trade_shares, abs=EXACT_TOL), host
        for partner, share in shares.items():
            assert state[partner] == pytest.approx(share, abs=TRADE_SHARE_TOL), (host, partner)


# ------------------------------------------------------------------------------------ (b) hindcast


def test_hindcast_middle_corridor_cargo(pattern_ranges):
    """Middle Corridor (TITR) cargo after the 2022 Northern shock: about 1.5 Mt in 2022, 2.7 Mt
    in 2023 and 4.5 Mt in 2024 (each within 20%), strictly increasing, in every seed (2022-2023
    are fitted, see the module doc)."""
    check(V.hindcast_cargo(SEEDS), pattern_ranges)


def test_hindcast_middle_corridor_capacity_reaches_6mt(pattern_ranges):
    """In 2024 the Middle Corridor has a capacity of about 6 Mt/yr, and carries less than it."""
    check(V.hindcast_capacity(SEEDS), pattern_ranges)


def test_hindcast_northern_route_stays_larger(pattern_ranges):
    """Even after the shock the Northern route via Russia carries more than the Middle Corridor,
    every turn (in 2024 about 2 m China-Europe rail TEU against TITR's 35,600: INDEX1520_CRE,
    AT_TITR2024)."""
    check(V.hindcast_northern_larger(SEEDS), pattern_ranges)


# ------------------------------------------------------------------------------------ (c) doctrines


@pytest.mark.parametrize("host", V.DEBT_HOSTS)
def test_bri_classic_leaves_more_china_debt_than_bri_2(host, pattern_ranges):
    """Debt-financed BRI (policy-bank loans, hard infrastructure) leaves Kyrgyzstan and
    Tajikistan owing a larger share of their debt to China than 'small and beautiful' BRI 2.0
    (means over the seeds)."""
    check(V.classic_more_china_debt(SEEDS, host), pattern_ranges)


@pytest.mark.xfail(
    reason="issue 8: over 30 seeds one bri_classic game spends 0.494 of China's money on loans and hard "
    "infrastructure (mean 0.574, 29 of 30 above 0.5): 'in every seed' misses narrowly; kept visible",
    strict=True,
)
def test_bri_classic_spends_on_loans_and_hard_infrastructure(pattern_ranges):
    """Under bri_classic most of China's money goes to policy-bank loans and hard infrastructure
    (brief: fast, large, debt-financed) in every seed; under bri_2 less of it does."""
    check(V.classic_spends_on_loans(SEEDS), pattern_ranges)


@pytest.mark.parametrize("host", V.DEBT_HOSTS)
def test_bri_classic_raises_china_debt_share(host, pattern_ranges):
    """Under bri_classic, China's share of Kyrgyz and Tajik public external debt rises above
    the calibration (KGZ 36.9%, TJK about 32%), on average over the seeds."""
    check(V.classic_raises_china_debt(SEEDS, host), pattern_ranges)


@pytest.mark.xfail(
    reason="issue 8: with 2024 GDP and the LIC-DSF thresholds of their sourced classes (kgz strong 23%, tjk medium "
    "18%), no host enters distress under bri_classic in these seeds; the pattern held only at the weak 14% for all",
    strict=True,
)
@pytest.mark.parametrize("host", V.DEBT_HOSTS)
def test_bri_classic_distress_hits_kgz_tjk_more_than_kaz(host, pattern_ranges):
    """Under bri_classic, Kyrgyzstan and Tajikistan spend more turns in debt distress than
    Kazakhstan (the small, poorer borrowers bear BRI's debt risk), and more than under bri_2."""
    check(V.classic_distress(SEEDS, host), pattern_ranges)


# ------------------------------------------------------------------------------------ (d) Turkmen gas


def test_turkmen_gas_stays_with_china(pattern_ranges):
    """About 80% of Turkmenistan's gas exports go to China and stay there without a westward
    pipeline: China's share is still at least 70% at the horizon of the baseline, every seed."""
    check(V.turkmen_gas_with_china(SEEDS), pattern_ranges)
