"""Pattern-oriented validation (design.md, "Validation targets").

Each test checks one real-world pattern within a tolerance stated in a module constant. Games are
cached per (scenario, seed, overrides), so the suite plays each game once (about 0.1 s each).

Read configs/hindcast_2022.toml before quoting the hindcast: its Middle Corridor capacity path is
an assumption fitted to the 2022 and 2023 cargo, so those two years are reproduced by
construction; the tests guard the fit, they do not show that the model predicts it.
"""

from __future__ import annotations

import functools
import statistics
from collections import defaultdict
from itertools import pairwise

import pytest

from strategy_abm import CompetitionModel
from strategy_abm.report.output import actors_frame

SEEDS = range(5)

# (a) Turn 0 equals the calibration (shared/calibration/README.md).
EXACT_TOL = 1e-9  # figures copied from the config must come through unchanged
CHINA_DEBT_SHARE_T0 = {"kgz": 0.369, "tjk": 0.32, "uzb": 0.104}  # CAL_KGCHINA, TREND_TJDEBT, ZAMIN_UZ
GOVERNANCE_CPI_2024 = {"kaz": 40.0, "uzb": 32.0, "kgz": 25.0, "tjk": 19.0, "tkm": 17.0}  # KUN_CPI2024
KAZ_DEBT_TO_GDP_T0 = 14.8 / 261.4  # KURSIV_KZDEBT_Q1 / WB_GDP
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

# (b) Hindcast 2022-2024 of Middle Corridor (TITR) cargo.
HINDCAST = "hindcast_2022"
TITR_CARGO_MT = {2022: 1.5, 2023: 2.7, 2024: 4.5}  # derived (MENAFN_TITR2023), TREND_TITR2023, AT_TITR2024
TITR_CARGO_REL_TOL = 0.20  # 2024 is not pinned by capacity: the game's delay cuts push it up
TITR_CAPACITY_2024_MT = 6.0  # TREND_TITR_NOV24
TITR_CAPACITY_REL_TOL = 0.20  # the powers' own corridor projects add to the scripted 6 Mt/yr

# (c) Doctrines and debt over the baseline's seeds.
DOCTRINES = ("bri_classic", "bri_2")
DEBT_HOSTS = ("kgz", "tjk")
LOAN_MOVES = ("policy_bank_loan", "hard_infrastructure")
LOAN_SPENDING_DOMINANCE = 0.5  # share of China's spending that counts as "dominates"

# (d) Turkmen gas.
TKM_CHINA_GAS_MIN = 0.7  # about 80% today (DARYO_TM_FITCH); "mostly" = at least 70% at the horizon


# ------------------------------------------------------------------------------------ helpers


@functools.cache
def play(scenario: str, seed: int, overrides: tuple[str, ...] = ()) -> CompetitionModel:
    """A game played to its horizon (cached: tests only read it)."""
    return CompetitionModel(scenario=scenario, seed=seed, overrides=list(overrides)).run()


def china_doctrine(doctrine: str) -> tuple[str, ...]:
    return (f"powers.china.strategy={doctrine}",)


def baseline_games(doctrine: str | None = None) -> list[CompetitionModel]:
    """The baseline over SEEDS, with China's doctrine overridden if given."""
    overrides = china_doctrine(doctrine) if doctrine else ()
    return [play("baseline", seed, overrides) for seed in SEEDS]


def model_frame(model: CompetitionModel):
    return model.datacollector.get_model_vars_dataframe()


def annual_means(model: CompetitionModel, column: str) -> dict[int, float]:
    """Mean of a per-turn column over the turns of each calendar year played (turn 0 is the
    quarter before the start and belongs to no year of the game). Flows are annualised."""
    values = model_frame(model)[column]
    by_year: dict[int, list[float]] = defaultdict(list)
    for turn in range(1, model.turn + 1):
        by_year[int(model.date_of(turn)[:4])].append(float(values.iloc[turn]))
    return {year: statistics.fmean(v) for year, v in by_year.items()}


def seed_mean(models: list[CompetitionModel], read) -> float:
    return statistics.fmean(read(m) for m in models)


def loan_spending_share(model: CompetitionModel) -> float:
    """Share of China's accepted project money in policy-bank loans and hard infrastructure."""
    by_move = model.powers["china"].ledger.by_move
    total = sum(by_move.values())
    return sum(by_move.get(m, 0.0) for m in LOAN_MOVES) / total if total else 0.0


def within(value: float, target: float, rel_tol: float) -> bool:
    """|value - target| at most rel_tol of the target (the observed figure)."""
    return abs(value - target) <= rel_tol * abs(target)


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
    """Kazakhstan's public external debt (USD 14.8 bn) over its 2023 GDP (USD 261.4 bn), and
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


@pytest.mark.parametrize("seed", SEEDS)
def test_hindcast_middle_corridor_cargo(seed):
    """Middle Corridor (TITR) cargo after the 2022 Northern shock: about 1.5 Mt in 2022, 2.7 Mt
    in 2023 and 4.5 Mt in 2024, strictly increasing (2022-2023 are fitted, see the module doc)."""
    cargo = annual_means(play(HINDCAST, seed), "route_volume_mt_middle")
    assert sorted(cargo) == sorted(TITR_CARGO_MT)
    for year, target in TITR_CARGO_MT.items():
        assert within(cargo[year], target, TITR_CARGO_REL_TOL), f"{year}: {cargo[year]:.2f} Mt vs {target} Mt"
    assert all(cargo[a] < cargo[b] for a, b in pairwise(sorted(cargo))), cargo


@pytest.mark.parametrize("seed", SEEDS)
def test_hindcast_middle_corridor_capacity_reaches_6mt(seed):
    """In 2024 the Middle Corridor has a capacity of about 6 Mt/yr, and carries less than it."""
    model = play(HINDCAST, seed)
    capacity = annual_means(model, "route_capacity_mt_middle")[2024]
    assert within(capacity, TITR_CAPACITY_2024_MT, TITR_CAPACITY_REL_TOL), capacity
    assert annual_means(model, "route_volume_mt_middle")[2024] < capacity


@pytest.mark.parametrize("seed", SEEDS)
def test_hindcast_northern_route_stays_larger(seed):
    """Even after the shock the Northern route via Russia carries more than the Middle Corridor,
    every turn (in 2024 about 2 m China-Europe rail TEU against TITR's 35,600: INDEX1520_CRE,
    AT_TITR2024)."""
    frame = model_frame(play(HINDCAST, seed))
    gap = frame["route_volume_mt_northern"] - frame["route_volume_mt_middle"]
    assert (gap > 0).all(), gap.min()


# ------------------------------------------------------------------------------------ (c) doctrines


def horizon_china_debt_share(doctrine: str, host: str) -> float:
    return seed_mean(baseline_games(doctrine), lambda m: m.hosts[host].china_debt_share)


def mean_distress_turns(doctrine: str, host: str) -> float:
    return seed_mean(baseline_games(doctrine), lambda m: m.hosts[host].distress_turns)


@pytest.mark.parametrize("host", DEBT_HOSTS)
def test_bri_classic_leaves_more_china_debt_than_bri_2(host):
    """Debt-financed BRI (policy-bank loans, hard infrastructure) leaves Kyrgyzstan and
    Tajikistan owing a larger share of their debt to China than 'small and beautiful' BRI 2.0."""
    classic, bri2 = (horizon_china_debt_share(d, host) for d in DOCTRINES)
    assert classic > bri2, f"{host}: {classic:.3f} under bri_classic, {bri2:.3f} under bri_2"


def test_bri_classic_spends_on_loans_and_hard_infrastructure():
    """Under bri_classic most of China's money goes to policy-bank loans and hard infrastructure
    (brief: fast, large, debt-financed); under bri_2 less of it does."""
    classic, bri2 = ([loan_spending_share(m) for m in baseline_games(d)] for d in DOCTRINES)
    assert min(classic) > LOAN_SPENDING_DOMINANCE, classic
    assert statistics.fmean(classic) > statistics.fmean(bri2), (classic, bri2)


@pytest.mark.parametrize("host", DEBT_HOSTS)
def test_bri_classic_raises_china_debt_share(host):
    """Under bri_classic, China's share of Kyrgyz and Tajik public external debt rises above
    the calibration (KGZ 36.9%, TJK about 32%), on average over the seeds."""
    assert horizon_china_debt_share("bri_classic", host) > CHINA_DEBT_SHARE_T0[host]


# A visible miss, not a widened test: Kyrgyz distress under bri_classic is rare (0.15 turns a game
# over seeds 0-19 on issue 8's world: 3 one-turn spells in 20 games, as before), and since the 2025
# deals, licences and PGII's larger offer count none falls in seeds 0-4. Patterns over 30 seeds
# (issue 8, item 10) are where this belongs.
KGZ_RARE = pytest.mark.xfail(
    strict=True, reason="Kyrgyz distress under bri_classic: 0.15 turns a game over 20 seeds, none in seeds 0-4"
)


@pytest.mark.parametrize("host", [pytest.param("kgz", marks=KGZ_RARE), "tjk"])
def test_bri_classic_distress_hits_kgz_tjk_more_than_kaz(host):
    """Under bri_classic, Kyrgyzstan and Tajikistan spend more turns in debt distress than
    Kazakhstan (the small, poorer borrowers bear BRI's debt risk), and more than under bri_2."""
    classic = mean_distress_turns("bri_classic", host)
    assert classic > mean_distress_turns("bri_classic", "kaz"), classic
    assert classic > mean_distress_turns("bri_2", host), classic


# ------------------------------------------------------------------------------------ (d) Turkmen gas


@pytest.mark.parametrize("seed", SEEDS)
def test_turkmen_gas_stays_with_china(seed):
    """About 80% of Turkmenistan's gas exports go to China and stay there without a westward
    pipeline: China's share is still at least 70% at the horizon of the baseline."""
    share = play("baseline", seed).hosts["tkm"].energy_export_shares["china"]
    assert share >= TKM_CHINA_GAS_MIN, share
