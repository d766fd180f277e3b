"""One data vintage, nominal USD GDP, growth as level effects, distress by debt-carrying capacity and
Kazakhstan's borrowing limit (issue 8, items 4 and 5; docs/model.md "Input data" and "Growth").

Games run on the bulk path over a few seeds (about 2 ms a game once compiled); the values the
assertions rest on are printed (pytest -s shows them).
"""

from __future__ import annotations

import statistics
import tomllib

import numpy as np
import pytest

from strategy_abm.engine import kernels as K
from strategy_abm.engine.arrays import H_DISTRESS, H_DISTRESS_RATIO, H_GDP, H_PRICE_LEVEL
from strategy_abm.engine.turn import game_start
from strategy_abm.scenario.config import ConfigError, builtin_scenarios, load_scenario, validate_scenario
from strategy_abm.sim.bulk import BulkPlan

SEEDS = range(6)
HORIZON = 40  # 2025Q1-2034Q4
GROWTH_TOL = 0.01  # issue 8 item 5: average 2025-2034 real growth within one point of the trend input
KAZ_GDP_2025_IMF = 300.54  # RADIOCOM_IMF, IMF estimate of Kazakhstan's 2025 GDP, USD bn
KAZ_GDP_2025_TOL = 0.02  # the path is fitted on it: only the projects' level effects and shocks move it
# LIC-DSF thresholds (IMF_LICDSF) and each host's class (IMF_UZ_DSA, IMF_KG_DSA2020, ASIAPLUS_TJDSA; kaz, tkm argued)
THRESHOLDS = {"kaz": 0.23, "uzb": 0.23, "kgz": 0.23, "tjk": 0.18, "tkm": 0.18}
KAZ_DEBT_CEILING = 0.10  # KAZTAG_DEBTLIMIT - TCA_KZPUBDEBT headroom on top of 14.8 / 280.3


@pytest.fixture(scope="module")
def baseline_games():
    plan = BulkPlan("baseline")
    return plan, [plan.play(seed, record=[0, 4, 20, HORIZON]) for seed in SEEDS]


def test_initial_state_is_the_2024_vintage():
    """Turn 0 has 2024 GDP with the 2024-25 debt: Uzbekistan's debt-service ratio is its debt
    service over revenue on USD 115 bn of GDP (0.095; 0.120 on the 2023 GDP of 90.9)."""
    sc = load_scenario("baseline")
    t, start, _ = game_start(sc)
    lay = t.layout
    assert {h: sc.hosts[h].gdp_usd_bn for h in ("uzb", "tjk")} == {"uzb": 115.0, "tjk": 13.7}  # LTN_C5, TREND_TJ_GDP
    uzb = sc.hosts["uzb"]
    service = sum(
        uzb.public_external_debt_usd_bn * c.share * (c.rate + 1.0 / c.maturity_years) for c in uzb.creditors.values()
    )
    expected = service / (uzb.revenue_share_gdp * 115.0)
    h = lay.hosts.index("uzb")
    assert K.debt_service_ratio(start.hosts, lay.offsets, h) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.0951, abs=5e-4)
    assert start.hosts[h, H_GDP] == 115.0 and start.hosts[h, H_PRICE_LEVEL] == 1.0


def test_nominal_gdp_is_real_growth_times_the_usd_deflator():
    """Without projects or shocks, a year of the economy rule takes GDP to GDP (1 + g)(1 + d),
    the price level to 1 + d, and real GDP (GDP / price level) to GDP (1 + g)."""
    sc = load_scenario("baseline")
    t, start, _ = game_start(sc)
    lay = t.layout
    hosts = start.hosts.copy()
    events, ratios = np.zeros(len(lay.hosts), dtype=np.int64), np.zeros(len(lay.hosts))
    for _ in range(sc.turns_per_year):
        hosts[:, H_DISTRESS] = 0.0  # (no distress penalty: the rule of growth alone)
        K.economy(hosts, lay.offsets, t.rules, events, ratios)
    for i, hid in enumerate(lay.hosts):
        cfg = sc.hosts[hid]
        nominal = cfg.gdp_usd_bn * (1 + cfg.growth_rate) * (1 + cfg.usd_deflator)
        assert hosts[i, H_GDP] == pytest.approx(nominal, rel=1e-12)
        assert hosts[i, H_PRICE_LEVEL] == pytest.approx(1 + cfg.usd_deflator, rel=1e-12)
        assert hosts[i, H_GDP] / hosts[i, H_PRICE_LEVEL] == pytest.approx(cfg.gdp_usd_bn * (1 + cfg.growth_rate))


@pytest.mark.parametrize("deflator", [0.3, -0.3])
def test_gdp_at_its_bound_moves_neither_debt_nor_real_gdp_by_the_guard(deflator):
    """GDP is held within the schema's bounds (USD 0.1 bn to 100 trn): when a bound binds, the
    refinanced debt follows the GDP it got, not the growth it was denied, and real GDP keeps its
    real growth. Kyrgyzstan with a USD deflator of +-0.3 over 400 turns (both within the schema)
    ended with debt 2.2e8 times GDP (+0.3) or a real GDP of USD 3e14 bn (-0.3)."""
    sc = load_scenario("baseline", [f"hosts.kgz.usd_deflator={deflator}"])
    t, start, _ = game_start(sc)
    lay = t.layout
    h = lay.hosts.index("kgz")
    hosts = start.hosts.copy()
    bound = K.GDP_HIGH if deflator > 0 else K.GDP_LOW
    hosts[h, H_GDP] = bound
    debt, real = K.debt_total(hosts, lay.offsets, h), hosts[h, H_GDP] / hosts[h, H_PRICE_LEVEL]
    events, ratios = np.zeros(len(lay.hosts), dtype=np.int64), np.zeros(len(lay.hosts))
    for _ in range(sc.turns_per_year):
        hosts[:, H_DISTRESS] = 0.0
        K.economy(hosts, lay.offsets, t.rules, events, ratios)
    growth = sc.hosts["kgz"].growth_rate
    assert hosts[h, H_GDP] == bound
    assert hosts[h, H_GDP] / hosts[h, H_PRICE_LEVEL] == pytest.approx(real * (1 + growth), rel=1e-12)
    # Without the guard the refinanced debt would grow with nominal GDP; pinned, it only amortises.
    assert K.debt_total(hosts, lay.offsets, h) <= debt
    plan = BulkPlan(sc, turns=400)
    end = plan.play(0)[400]
    gdp, real, ratio = end["gdp_usd_bn_kgz"], end["real_gdp_usd_bn_kgz"], end["debt_to_gdp_kgz"]
    print(f"\nkgz at turn 400, deflator {deflator}: GDP {gdp:.3g}, real {real:.3g}, debt/GDP {ratio:.3g}")
    assert end["debt_to_gdp_kgz"] < 1.0
    assert end["real_gdp_usd_bn_kgz"] < 17.1 * (1 + growth) ** 100 * 2  # real growth and project level effects


def test_kazakhstan_2025_gdp_meets_the_imf(baseline_games):
    """Kazakhstan's nominal GDP at 2025Q4 is the IMF's 2025 estimate (USD 300.5 bn) within 2%
    (in constant USD it reached 271.6)."""
    _, games = baseline_games
    gdp = [g[4]["gdp_usd_bn_kaz"] for g in games]
    print(f"\nKazakhstan 2025Q4 GDP over seeds: mean {statistics.fmean(gdp):.1f}, range {min(gdp):.1f}-{max(gdp):.1f}")
    for v in gdp:
        assert v == pytest.approx(KAZ_GDP_2025_IMF, rel=KAZ_GDP_2025_TOL)


def test_growth_stays_near_trend(baseline_games):
    """Projects raise GDP's level once, by the return on the capital they add: average real growth
    2025-2034 per host stays within one point of its trend input (it was 1.5-2 points above)."""
    plan, games = baseline_games
    print()
    for hid, cfg in plan.scenario.hosts.items():
        col = f"real_gdp_usd_bn_{hid}"
        growth = [(g[HORIZON][col] / g[0][col]) ** (1 / 10) - 1 for g in games]
        mean = statistics.fmean(growth)
        print(f"{hid}: trend {cfg.growth_rate:.3f}, real growth {mean:.4f} ({min(growth):.4f}-{max(growth):.4f})")
        assert abs(mean - cfg.growth_rate) < GROWTH_TOL, hid


def test_distress_threshold_by_debt_carrying_capacity():
    """Each host's threshold is that of its LIC-DSF class; a host without a class (or a class the
    rules leave out) has rules.distress_service_ratio."""
    sc = load_scenario("baseline")
    t, start, _ = game_start(sc)
    lay = t.layout
    assert {h: start.hosts[i, H_DISTRESS_RATIO] for i, h in enumerate(lay.hosts)} == THRESHOLDS
    weak = load_scenario("baseline", ["rules.distress_service_ratio_by_capacity.medium=0.5"])
    assert weak.distress_threshold("tjk") == 0.5 and weak.distress_threshold("kgz") == 0.23
    default = load_scenario("baseline", ["rules.distress_service_ratio_by_capacity={}"])
    assert {default.distress_threshold(h) for h in default.hosts} == {default.rules.distress_service_ratio}


def test_distress_at_the_hosts_threshold():
    """The same debt service (16% of revenue) is distress at the weak threshold (14%), not at the
    medium one (18%)."""
    sc = load_scenario("baseline")
    t, start, _ = game_start(sc)
    lay = t.layout
    h = lay.hosts.index("tjk")
    events, ratios = np.zeros(len(lay.hosts), dtype=np.int64), np.zeros(len(lay.hosts))
    for threshold, distressed in ((0.18, False), (0.14, True)):
        hosts = start.hosts.copy()
        hosts[h, H_DISTRESS_RATIO] = threshold
        scale = 0.16 / K.debt_service_ratio(hosts, lay.offsets, h)
        for c in range(len(lay.creditors)):
            hosts[h, lay.creditor(c, 0)] *= scale
        K.economy(hosts, lay.offsets, t.rules, events, ratios)
        assert ratios[h] == pytest.approx(0.16, abs=0.005)
        assert bool(hosts[h, H_DISTRESS]) is distressed, threshold


def test_kazakhstan_borrows_within_its_debt_limit(baseline_games):
    """Kazakhstan's public external debt stays within the ceiling its government's debt limit
    leaves (10% of GDP; at 60% China's loans went 0.89 -> 24.8 bn)."""
    _, games = baseline_games
    ratio = [g[t]["debt_to_gdp_kaz"] for g in games for t in (4, 20, HORIZON)]
    china = [g[HORIZON]["china_debt_share_kaz"] * g[HORIZON]["debt_to_gdp_kaz"] * g[HORIZON]["gdp_usd_bn_kaz"]
             for g in games]  # fmt: skip
    print(f"\nKazakhstan: debt/GDP max {max(ratio):.4f}; China's loans at 2034Q4 {statistics.fmean(china):.2f} bn")
    assert max(ratio) <= KAZ_DEBT_CEILING * 1.01  # (refinanced debt follows GDP, which shocks can cut a little)
    assert games[0][0]["debt_to_gdp_kaz"] == pytest.approx(14.8 / 280.3)


def test_ranges_are_checked():
    """A range names a number of the scenario and is not empty (one-line errors); the baseline's hold its values."""
    sc = load_scenario("baseline")
    assert sc.ranges["hosts.tkm.public_external_debt_usd_bn"] == [1.5, 4.5]
    for path, (lo, hi) in sc.ranges.items():  # the baseline's ranges hold its own values
        node = sc
        for part in path.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        assert lo <= node <= hi, path
    load_scenario("baseline", ["hosts.tkm.public_external_debt_usd_bn=5.0"])  # --set may leave the range
    raw = tomllib.loads(builtin_scenarios()["baseline"].read_text())
    raw["ranges"]["hosts.kaz.nothing"] = [0.0, 1.0]
    with pytest.raises(ConfigError, match=r"^ranges\.hosts\.kaz\.nothing: names no number"):
        validate_scenario(raw)
    raw["ranges"] = {"hosts.kaz.usd_deflator": [0.05, 0.01]}
    with pytest.raises(ConfigError, match=r"^ranges\.hosts\.kaz\.usd_deflator: .* is empty"):
        validate_scenario(raw)
