"""Metrics and payoffs, computed once per turn after the rules have run.

``compute_metrics`` returns the model-level row of ``model.csv``; it also sets each agent's
``record`` (its row of ``actors.csv``) and payoff. Reporters only read these: Mesa calls them
twice on the first collect, so they must not compute or draw anything.
"""

from __future__ import annotations

from ..scenario.ids import BLOCS, HOSTS, MINERALS, POWER_BLOC, POWER_PARTNER, POWERS, ROUTES
from . import rules

METRIC_COLUMNS: list[str] = [
    *(f"influence_{p}" for p in POWERS),
    *(f"payoff_{p}" for p in POWERS),
    *(f"spent_usd_bn_{p}" for p in POWERS),
    *(f"debt_to_gdp_{h}" for h in HOSTS),
    *(f"china_debt_share_{h}" for h in HOSTS),
    *(f"debt_service_ratio_{h}" for h in HOSTS),
    *(f"distress_{h}" for h in HOSTS),
    *(f"distress_turns_{h}" for h in HOSTS),
    *(f"diversification_{h}" for h in HOSTS),
    *(f"gdp_usd_bn_{h}" for h in HOSTS),
    *(f"route_volume_mt_{r}" for r in ROUTES),
    *(f"route_capacity_mt_{r}" for r in ROUTES),
    "middle_ca_export_share",
    "west_secured_mineral_share",
    "tungsten_non_china_share",
    "china_overland_energy_usd_bn",
]
# Metrics that are 0/1 states: summarised over runs as the share of runs in the state.
BINARY_METRICS = frozenset(f"distress_{h}" for h in HOSTS)


def mineral_shares(model) -> dict[str, float]:
    """Per power, mean over minerals of the world supply it secures (China: its own mining
    plus its offtake from the region; others: their offtake from the region)."""
    out = dict.fromkeys(POWERS, 0.0)
    for m in MINERALS:
        world = model.world_minerals[m]
        region = {p: sum(h.minerals[m]["output_t"] * h.minerals[m]["offtake"][p] for h in model.hosts.values())
                  for p in POWERS}  # fmt: skip
        region_total = sum(h.minerals[m]["output_t"] for h in model.hosts.values())
        # Region output above the calibrated level adds to world supply.
        world_output = world["world_output_t"] + max(0.0, region_total - model.initial_region_output[m])
        out["china"] += (world["china_share"] * world["world_output_t"] + region["china"]) / world_output
        for p in ("us", "g7", "russia"):
            out[p] += region[p] / world_output
    return {p: v / len(MINERALS) for p, v in out.items()}


def compute_metrics(model) -> dict[str, float]:
    """Metrics of the current state, payoffs of every actor, and each agent's record."""
    hosts = model.hosts
    gdp_total = model.total_gdp()
    gdp_w = {h: hosts[h].gdp_usd_bn / gdp_total for h in HOSTS}
    route_shares = model.route_shares()
    m: dict[str, float] = {}

    shares = {h: hosts[h].influence_shares() for h in HOSTS}
    regional = {p: sum(gdp_w[h] * shares[h][p] for h in HOSTS) for p in POWERS}
    for h in HOSTS:
        host = hosts[h]
        m[f"debt_to_gdp_{h}"] = host.debt_to_gdp
        m[f"china_debt_share_{h}"] = host.china_debt_share
        m[f"debt_service_ratio_{h}"] = host.debt_service_ratio
        m[f"distress_{h}"] = float(host.distress)
        m[f"distress_turns_{h}"] = float(host.distress_turns)  # a float like every metric (one Parquet type)
        m[f"diversification_{h}"] = host.diversification(route_shares)
        m[f"gdp_usd_bn_{h}"] = host.gdp_usd_bn
    for r in ROUTES:
        m[f"route_volume_mt_{r}"] = model.routes[r]["volume_mt"]
        m[f"route_capacity_mt_{r}"] = model.routes[r]["capacity_mt"]
    mid = model.routes["middle"]
    m["middle_ca_export_share"] = mid["ca_export_share"]

    minerals = mineral_shares(model)
    m["west_secured_mineral_share"] = minerals["us"] + minerals["g7"]
    tung = model.world_minerals["tungsten"]
    region_w = sum(hh.minerals["tungsten"]["output_t"] for hh in hosts.values())
    world_w = tung["world_output_t"] + max(0.0, region_w - model.initial_region_output["tungsten"])
    m["tungsten_non_china_share"] = 1.0 - tung["china_share"] * tung["world_output_t"] / world_w
    m["china_overland_energy_usd_bn"] = sum(hh.energy_exports_usd_bn * hh.energy_export_shares["china"]
                                            for hh in hosts.values())  # fmt: skip

    # Corridor interests (design.md: who captures the Middle Corridor's value).
    volumes = {r: model.routes[r]["volume_mt"] for r in ROUTES}
    total_volume = sum(volumes.values()) or 1.0
    ca_exports = sum(volumes[r] * model.routes[r]["ca_export_share"] for r in ROUTES) or 1.0
    corridor = {
        # Chinese transit cargo moved, as a share of all corridor demand.
        "chinese_transit": min(
            1.0, sum(volumes[r] * (1.0 - model.routes[r]["ca_export_share"]) for r in ROUTES) / model.trade["demand_mt"]
        ),
        "ca_exports_west": volumes["middle"] * mid["ca_export_share"] / ca_exports,
        "northern_share": volumes["northern"] / total_volume,
    }
    energy_total = model.total_energy_exports() or 1.0
    debt_totals = {h: hosts[h].debt_total or 1.0 for h in HOSTS}

    for p in POWERS:
        power = model.powers[p]
        bloc, partner = POWER_BLOC[p], POWER_PARTNER[p]
        comps = {
            "influence": regional[p],
            "leverage": sum(gdp_w[h] * hosts[h].creditors[p]["debt"] / debt_totals[h] for h in HOSTS),
            "digital": sum(rules.digital_share(hosts[h], bloc) for h in HOSTS) / len(HOSTS),
            "energy": sum(hosts[h].energy_exports_usd_bn * hosts[h].energy_export_shares[partner] for h in HOSTS)
            / energy_total,
            "minerals": minerals[p],
            "corridor": corridor[power.cfg.corridor_interest],
            "opinion": sum((hosts[h].opinion[p] + 1.0) / 2.0 for h in HOSTS) / len(HOSTS),
            "cost": power.spent_turn / (power.budget_usd_bn_per_year * model.dt)
            if power.budget_usd_bn_per_year * model.dt > 0 else 0.0,  # (a denormal budget times dt is 0)
        }  # fmt: skip
        w = power.cfg.objectives
        power.components = comps
        power.payoff = sum(w[k] * v for k, v in comps.items() if k != "cost") - w["cost"] * comps["cost"]
        if model.turn > 0:
            power.payoff_total += power.payoff * model.dt  # payoff-years: totals comparable across turn lengths
        m[f"influence_{p}"] = regional[p]
        m[f"payoff_{p}"] = power.payoff
        m[f"spent_usd_bn_{p}"] = power.ledger.total
        power.record = {
            "actor": p,
            "kind": "power",
            "budget_available": power.budget_available,
            "spent_turn": power.spent_turn,
            "spent_total": power.ledger.total,
            "private_mobilised": power.ledger.private_mobilised,
            "offers_made": power.offers_made,
            "offers_accepted": power.offers_accepted,
            "payoff": power.payoff,
            "payoff_total": power.payoff_total,
            "regional_influence": regional[p],
            **{f"component_{k}": v for k, v in comps.items()},
        }

    hw = model.rules.host_payoff_weights
    growth_scale = model.rules.host_growth_payoff_scale
    for h in HOSTS:
        host = hosts[h]
        if model.turn > 0:
            host.growth_realised = (host.gdp_usd_bn / host.gdp_turn_start - 1.0) / model.dt
        div = m[f"diversification_{h}"]
        jobs = min(1.0, host.jobs_turn_k / max(host.labour_entrants_k * model.dt, 1e-9))
        host.payoff = (
            hw["growth"] * growth_scale * host.growth_realised
            + hw["autonomy"] * div
            - hw["debt"] * host.debt_service_ratio
            + hw["jobs"] * jobs
        )
        if model.turn > 0:
            host.payoff_total += host.payoff * model.dt
        total_debt = host.debt_total
        host.record = {
            "actor": h,
            "kind": "host",
            "gdp_usd_bn": host.gdp_usd_bn,
            "growth_rate": host.growth_realised,
            "debt_usd_bn": total_debt,
            "debt_to_gdp": host.debt_to_gdp,
            "china_debt_share": host.china_debt_share,
            "debt_service_ratio": host.debt_service_ratio,
            "distress": float(host.distress),
            "governance": host.governance,
            "environment_damage": host.environment_damage,
            "jobs_created_k": host.jobs_created_k,
            "diversification": div,
            "payoff": host.payoff,
            "payoff_total": host.payoff_total,
            **{f"influence_share_{p}": shares[h][p] for p in POWERS},
            **{f"opinion_{p}": host.opinion[p] for p in POWERS},
            **{f"debt_share_{p}": host.creditors[p]["debt"] / total_debt if total_debt else 0.0 for p in POWERS},
            **{f"telecom_{b}": host.telecom_vendor_shares[b] for b in BLOCS},
            "satellite_coverage": host.satellite_coverage,
            "cloud_western": host.cloud_shares["western"],
            "logistics_western": host.logistics_platform_shares["western"],
            "renewables_share": host.renewables_share,
            **{f"energy_exports_to_{d}": host.energy_export_shares[d] for d in ("china", "russia", "west")},
            **{f"{mm}_output_t": host.minerals[mm]["output_t"] for mm in MINERALS},
        }
    return m
