"""Metrics and payoffs, computed once per turn after the rules have run.

Every model-level metric (a column of ``model.csv``, a key of ``summary.json``'s ``final``, a
metric a sweep can record) is declared once in the registry below, with its name, a one-line
description, its unit, whether it is a 0/1 state, and the function that computes it from the
state; :func:`metric_columns`, :func:`binary_metrics` and :func:`compute_metrics` derive from it.
A new metric is one function decorated with :func:`metric`.

A family of metrics has a column per power, host or route of the game's scenario:
``metric_columns(scenario)`` are a scenario's columns. :data:`METRIC_COLUMNS` and
:data:`BINARY_METRICS` are the baseline's (``configs/baseline.toml``), for docs and the code that
needs no scenario.

``compute_metrics`` returns the model-level row of ``model.csv``; it also sets each agent's
``record`` (its row of ``actors.csv``) and payoff. Reporters only read these: Mesa calls them
twice on the first collect, so they must not compute or draw anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# The baseline's ids, for the baseline's columns (METRIC_COLUMNS); games use their scenario's.
from ..scenario.ids import HOSTS, OTHER, POWERS, ROUTES
from . import rules

# The ids a family of metrics runs over in the baseline: one column per id, in this order.
FAMILY_IDS: dict[str, tuple[str, ...]] = {"power": tuple(POWERS), "host": tuple(HOSTS), "route": tuple(ROUTES)}
Ids = Mapping[str, tuple[str, ...]]


def family_ids(scenario) -> dict[str, tuple[str, ...]]:
    """The ids each family runs over in a scenario (or a game, which has the same ``*_ids``):
    ``{"power": power_ids, "host": host_ids, "route": route_ids}``; the baseline's for ``None``."""
    if scenario is None:
        return dict(FAMILY_IDS)
    return {"power": tuple(scenario.power_ids), "host": tuple(scenario.host_ids), "route": tuple(scenario.route_ids)}


@dataclass(frozen=True)
class Metric:
    """A model-level metric, or a family of them (one column per power, host or route).

    ``name``: the column, or for a family a pattern with ``{id}`` (``"debt_to_gdp_{id}"``);
    ``per``: ``None``, ``"power"``, ``"host"`` or ``"route"``; ``compute(state, id)``: the value
    (a float) from a :class:`MetricState`, ``id`` being ``None`` for a single metric;
    ``binary``: a 0/1 state (summarised over runs as the share of runs in the state)."""

    name: str
    description: str
    unit: str
    compute: Callable[[MetricState, str | None], float]
    per: str | None = None
    binary: bool = False

    def columns(self, ids: Ids | None = None) -> list[str]:
        """The metric's column names, in column order, for the families' ``ids`` (:func:`family_ids`;
        the baseline's by default)."""
        if self.per is None:
            return [self.name]
        return [self.name.format(id=i) for i in (ids or FAMILY_IDS)[self.per]]


REGISTRY: list[Metric] = []
# Derived from REGISTRY and kept up to date in place (other modules import these objects).
METRIC_COLUMNS: list[str] = []
# Metrics that are 0/1 states: summarised over runs as the share of runs in the state.
BINARY_METRICS: set[str] = set()


def metric_columns(scenario=None) -> list[str]:
    """The model-level metric columns of a scenario's games (``model.csv``, ``summary.json``'s
    ``final``, what a sweep may record), in registry order; the baseline's for ``None``."""
    ids = family_ids(scenario)
    return [c for m in REGISTRY for c in m.columns(ids)]


def binary_metrics(scenario=None) -> set[str]:
    """The 0/1 metric columns of a scenario's games (the baseline's for ``None``)."""
    ids = family_ids(scenario)
    return {c for m in REGISTRY if m.binary for c in m.columns(ids)}


_ID = re.compile(r"[a-z][a-z0-9_]*")


def metric_of(column: str) -> Metric | None:
    """The registered metric a column belongs to, in any scenario: the metric of that name, or the
    family whose name matches it with an id in place of ``{id}`` (the longest such name wins:
    ``distress_turns_kaz`` is a ``distress_turns_{id}``, not a ``distress_{id}``); ``None`` if none."""
    best: Metric | None = None
    for m in REGISTRY:
        if m.per is None:
            if m.name == column:
                return m
            continue
        head, _, tail = m.name.partition("{id}")
        if (
            column.startswith(head)
            and column.endswith(tail)
            and _ID.fullmatch(column[len(head) : len(column) - len(tail)])
            and (best is None or len(m.name) > len(best.name))
        ):
            best = m
    return best


def is_binary(column: str) -> bool:
    """Whether a metric column (of any scenario) is a 0/1 state."""
    m = metric_of(column)
    return m is not None and m.binary


def _derive() -> None:
    METRIC_COLUMNS[:] = [c for m in REGISTRY for c in m.columns()]
    BINARY_METRICS.clear()
    BINARY_METRICS.update(c for m in REGISTRY if m.binary for c in m.columns())


def register_metric(m: Metric) -> Metric:
    """Add ``m`` after the registered metrics (its columns come last in ``model.csv``).

    Raises:
        ValueError: ``per`` is not a known family, a family's name has no ``{id}``, the
            description is empty, or one of its columns is already a metric."""
    if m.per is not None and m.per not in FAMILY_IDS:
        raise ValueError(f"metric {m.name!r}: per must be one of {sorted(FAMILY_IDS)} or None, not {m.per!r}")
    if (m.per is not None) != ("{id}" in m.name):
        raise ValueError(f"metric {m.name!r}: a family's name (and only a family's) has an {{id}} placeholder")
    if not m.description.strip():
        raise ValueError(f"metric {m.name!r}: needs a one-line description")
    taken = set(METRIC_COLUMNS) & set(m.columns())
    if taken:
        raise ValueError(f"metric {m.name!r}: column {sorted(taken)[0]!r} is already a metric")
    REGISTRY.append(m)
    _derive()
    return m


def unregister_metric(name: str) -> None:
    """Remove the metric (or family) registered under ``name``. Raises KeyError if there is none."""
    for i, m in enumerate(REGISTRY):
        if m.name == name:
            del REGISTRY[i]
            _derive()
            return
    raise KeyError(f"no metric {name!r}")


def metric(name: str, description: str, unit: str, *, per: str | None = None, binary: bool = False):
    """Decorator: register ``fn(state, id) -> float`` as a metric (see :class:`Metric`)."""

    def register(fn: Callable[[MetricState, str | None], float]):
        register_metric(Metric(name, description, unit, fn, per, binary))
        return fn

    return register


class MetricState:
    """What the metrics and payoffs of one turn read: the model and the intermediate results
    several of them share, each computed once.

    ``model``: the game; ``gdp_w``: each host's share of the region's GDP; ``route_shares``: the
    routes' cargo shares; ``shares``: each host's influence shares per power; ``regional``: each
    power's GDP-weighted regional influence; ``diversification``: per host, 0..1;
    ``minerals``: per power, the world mineral supply it secures (:func:`mineral_shares`)."""

    @classmethod
    def of(cls, model, gdp_w, route_shares, shares, regional, diversification, minerals) -> MetricState:
        """A state whose shared quantities were computed already (the compiled rules' ``derived``)."""
        s = cls.__new__(cls)
        s.model = model
        s.gdp_w, s.route_shares, s.shares, s.regional = gdp_w, route_shares, shares, regional
        s.diversification, s.minerals = diversification, minerals
        return s

    def __init__(self, model) -> None:
        self.model = model
        hosts = model.hosts
        gdp_total = model.total_gdp()
        host_ids, power_ids = model.host_ids, model.power_ids
        self.gdp_w = {h: hosts[h].gdp_usd_bn / gdp_total for h in host_ids}
        self.route_shares = model.route_shares()
        self.shares = {h: hosts[h].influence_shares() for h in host_ids}
        self.regional = {p: sum(self.gdp_w[h] * self.shares[h][p] for h in host_ids) for p in power_ids}
        self.diversification = {h: hosts[h].diversification(self.route_shares) for h in host_ids}
        self.minerals = mineral_shares(model)


def mineral_shares(model) -> dict[str, float]:
    """Per power, mean over minerals of the world supply it secures: its offtake from the region,
    plus, for China (the power of id ``china``), its own mining (``world.minerals.<m>.china_share``)."""
    out = dict.fromkeys(model.power_ids, 0.0)
    for m in model.mineral_ids:
        world = model.world_minerals[m]
        region = {p: sum(h.minerals[m]["output_t"] * h.minerals[m]["offtake"][p] for h in model.hosts.values())
                  for p in model.power_ids}  # fmt: skip
        region_total = sum(h.minerals[m]["output_t"] for h in model.hosts.values())
        # Region output above the calibrated level adds to world supply.
        world_output = world["world_output_t"] + max(0.0, region_total - model.initial_region_output[m])
        for p in model.power_ids:
            own = world["china_share"] * world["world_output_t"] if p == "china" else 0.0
            out[p] += (own + region[p]) / world_output
    return {p: v / len(model.mineral_ids) for p, v in out.items()}


# The model-level metrics, in the column order of model.csv. Each reads the state after the
# turn's rules and payoffs (payoff_<p> reads the payoff compute_metrics has just set).
@metric("influence_{id}", "regional influence share (GDP-weighted mean of the hosts' shares; the four sum to 1)",
        "share 0..1", per="power")  # fmt: skip
def _influence(s: MetricState, p) -> float:
    return s.regional[p]


@metric("payoff_{id}", "the power's payoff this turn (its objective weights over the components, minus cost)",
        "dimensionless", per="power")  # fmt: skip
def _payoff(s: MetricState, p) -> float:
    return s.model.powers[p].payoff


@metric("spent_usd_bn_{id}", "cumulative public money committed", "USD bn", per="power")
def _spent(s: MetricState, p) -> float:
    return s.model.powers[p].ledger.total


@metric("debt_to_gdp_{id}", "public external debt / GDP", "ratio", per="host")
def _debt_to_gdp(s: MetricState, h) -> float:
    return s.model.hosts[h].debt_to_gdp


@metric("china_debt_share_{id}", "China's share of that debt", "share 0..1", per="host")
def _china_debt_share(s: MetricState, h) -> float:
    return s.model.hosts[h].china_debt_share


@metric("debt_service_ratio_{id}", "annual public external debt service / government revenue", "ratio", per="host")
def _debt_service_ratio(s: MetricState, h) -> float:
    return s.model.hosts[h].debt_service_ratio


@metric("distress_{id}", "1 while the debt-service ratio is above the scenario's distress threshold", "0/1",
        per="host", binary=True)  # fmt: skip
def _distress(s: MetricState, h) -> float:
    return float(s.model.hosts[h].distress)


@metric("distress_turns_{id}", "turns spent in distress so far (cumulative count of the turns with `distress_<h>` = 1)",
        "turns", per="host")  # fmt: skip
def _distress_turns(s: MetricState, h) -> float:
    return float(s.model.hosts[h].distress_turns)  # a float like every metric (one Parquet type)


@metric("diversification_{id}", "0..1, mean of normalised 1-HHI over trade partners, creditors, telecom vendors and "
        "routes", "index 0..1", per="host")  # fmt: skip
def _diversification(s: MetricState, h) -> float:
    return s.diversification[h]


@metric("gdp_usd_bn_{id}", "GDP", "USD bn", per="host")
def _gdp(s: MetricState, h) -> float:
    return s.model.hosts[h].gdp_usd_bn


@metric("route_volume_mt_{id}", "corridor cargo, annualised", "Mt/yr", per="route")
def _route_volume(s: MetricState, r) -> float:
    return s.model.routes[r]["volume_mt"]


@metric("route_capacity_mt_{id}", "corridor capacity, annualised", "Mt/yr", per="route")
def _route_capacity(s: MetricState, r) -> float:
    return s.model.routes[r]["capacity_mt"]


@metric("middle_ca_export_share", "share of Middle Corridor cargo that is Central Asian exports (the TRIPP question)",
        "share 0..1")  # fmt: skip
def _middle_ca_export_share(s: MetricState, _) -> float:
    # The Middle Corridor is the scenario's westward route (trade.westward_route).
    return s.model.routes[s.model.scenario.trade.westward_route]["ca_export_share"]


@metric("west_secured_mineral_share", "world critical-mineral supply secured by the US and G7 from the region "
        "(mean over minerals)", "share 0..1")  # fmt: skip
def _west_secured_mineral_share(s: MetricState, _) -> float:
    # The US and the G7: the powers of the western bloc (powers.<id>.bloc).
    return sum(s.minerals[p] for p, power in s.model.powers.items() if power.bloc == "western")


@metric("tungsten_non_china_share", "share of world tungsten supply outside China", "share 0..1")
def _tungsten_non_china_share(s: MetricState, _) -> float:
    model = s.model
    if "tungsten" not in model.world_minerals:  # a scenario without tungsten
        return math.nan
    tung = model.world_minerals["tungsten"]
    region_w = sum(hh.minerals["tungsten"]["output_t"] for hh in model.hosts.values())
    world_w = tung["world_output_t"] + max(0.0, region_w - model.initial_region_output["tungsten"])
    return 1.0 - tung["china_share"] * tung["world_output_t"] / world_w


@metric("china_overland_energy_usd_bn", "the region's energy exports going to China", "USD bn/yr")
def _china_overland_energy(s: MetricState, _) -> float:
    return sum(hh.energy_exports_usd_bn * hh.energy_export_shares.get("china", 0.0) for hh in s.model.hosts.values())


def compute_metrics(model) -> dict[str, float]:
    """Payoffs of every actor and each agent's record (set on the agents), then every registered
    metric of the current state, as ``{column: value}`` in ``metric_columns(model.scenario)`` order."""
    s = MetricState(model)
    _payoffs_and_records(model, s)
    return metric_row(s)


def metric_row(s: MetricState) -> dict[str, float]:
    """Every registered metric of the state ``s`` reads, as ``{column: value}`` in column order
    (the families over the ids of ``s.model``)."""
    ids = family_ids(s.model)
    return {c: m.compute(s, i) for m in REGISTRY for c, i in zip(m.columns(ids), _ids(m, ids), strict=True)}


def _ids(m: Metric, ids: Ids):
    return [None] if m.per is None else ids[m.per]


def _payoffs_and_records(model, s: MetricState) -> None:
    """Each actor's payoff (this turn's and its running total) and its record (actors.csv)."""
    hosts = model.hosts
    gdp_w, shares, regional, minerals = s.gdp_w, s.shares, s.regional, s.minerals
    host_ids, route_ids = model.host_ids, model.route_ids
    westward = model.scenario.trade.westward_route
    mid = model.routes[westward]

    # Corridor interests (design.md: who captures the Middle Corridor's value).
    volumes = {r: model.routes[r]["volume_mt"] for r in route_ids}
    total_volume = sum(volumes.values()) or 1.0
    ca_exports = sum(volumes[r] * model.routes[r]["ca_export_share"] for r in route_ids) or 1.0
    corridor = {
        # Chinese transit cargo moved, as a share of all corridor demand.
        "chinese_transit": min(
            1.0,
            sum(volumes[r] * (1.0 - model.routes[r]["ca_export_share"]) for r in route_ids) / model.trade["demand_mt"],
        ),
        "ca_exports_west": volumes[westward] * mid["ca_export_share"] / ca_exports,
    }
    route_cfg = model.scenario.routes
    energy_total = model.total_energy_exports() or 1.0
    debt_totals = {h: hosts[h].debt_total or 1.0 for h in host_ids}

    for p in model.power_ids:
        power = model.powers[p]
        bloc, partner = power.bloc, power.partner
        interest = power.cfg.corridor_interest
        if interest == "northern_share":  # the cargo on the routes through the power's territory
            value = sum(volumes[r] for r in route_ids if p in route_cfg[r].through) / total_volume
        else:
            value = corridor[interest]
        comps = {
            "influence": regional[p],
            "leverage": sum(gdp_w[h] * hosts[h].creditors[p]["debt"] / debt_totals[h] for h in host_ids),
            "digital": sum(rules.digital_share(hosts[h], bloc) for h in host_ids) / len(host_ids),
            "energy": sum(hosts[h].energy_exports_usd_bn * hosts[h].energy_export_shares[partner] for h in host_ids)
            / energy_total,
            "minerals": minerals[p],
            "corridor": value,
            "opinion": sum((hosts[h].opinion[p] + 1.0) / 2.0 for h in host_ids) / len(host_ids),
            "cost": power.spent_turn / (power.budget_usd_bn_per_year * model.dt)
            if power.budget_usd_bn_per_year * model.dt > 0 else 0.0,  # (a denormal budget times dt is 0)
        }  # fmt: skip
        w = power.cfg.objectives
        power.components = comps
        power.payoff = sum(w[k] * v for k, v in comps.items() if k != "cost") - w["cost"] * comps["cost"]
        if model.turn > 0:
            power.payoff_total += power.payoff * model.dt  # payoff-years: totals comparable across turn lengths
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
    for h in host_ids:
        host = hosts[h]
        if model.turn > 0:
            host.growth_realised = (host.gdp_usd_bn / host.gdp_turn_start - 1.0) / model.dt
        div = s.diversification[h]
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
            **{f"influence_share_{p}": shares[h][p] for p in model.power_ids},
            **{f"opinion_{p}": host.opinion[p] for p in model.power_ids},
            **{
                f"debt_share_{p}": host.creditors[p]["debt"] / total_debt if total_debt else 0.0
                for p in model.power_ids
            },  # fmt: skip
            **{f"telecom_{b}": v for b, v in host.telecom_vendor_shares.items()},
            "satellite_coverage": host.satellite_coverage,
            # The western bloc's share of the two-way markets (0 where it has no offer).
            "cloud_western": host.cloud_shares.get("western", 0.0),
            "logistics_western": host.logistics_platform_shares.get("western", 0.0),
            "renewables_share": host.renewables_share,
            **{f"energy_exports_to_{d}": v for d, v in host.energy_export_shares.items() if d != OTHER},
            **{f"{mm}_output_t": host.minerals[mm]["output_t"] for mm in model.mineral_ids},
        }
