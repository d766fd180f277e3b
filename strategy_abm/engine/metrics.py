"""Metrics and payoffs, computed once per turn after the rules have run.

Every model-level metric (a column of ``model.csv``, a key of ``summary.json``'s ``final``, a
metric a sweep can record) is declared once in the registry below, with its name, a one-line
description, its unit, whether it is a 0/1 state, and the function that computes it from the
state; :func:`metric_columns`, :func:`binary_metrics` and :func:`metric_row` derive from it.
A new metric is one function decorated with :func:`metric`.

A family of metrics has a column per power, host or route of the game's scenario:
``metric_columns(scenario)`` are a scenario's columns. :data:`METRIC_COLUMNS` and
:data:`BINARY_METRICS` are the baseline's (``configs/baseline.toml``), for docs and the code that
needs no scenario.

The payoffs and the quantities several metrics share are computed by the compiled rules
(``kernels.metrics_and_payoffs``); :meth:`MetricState.of_derived` hands them to the metrics with the
state's rows. :func:`metric_row` gives the model-level row of ``model.csv``, :func:`actor_records`
each actor's row of ``actors.csv``. Reporters only read these: Mesa calls them twice on the first
collect, so they must not compute or draw anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter

from ..scenario.config import OBJECTIVES

# The baseline's ids, for the baseline's columns (METRIC_COLUMNS); games use their scenario's.
from ..scenario.ids import HOSTS, OTHER, POWERS, ROUTES
from . import arrays as A
from . import kernels as K

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


# Sections of the compiled rules' ``derived`` by (hosts, powers, routes), and each layout's debt
# columns (id(layout) -> (layout, columns)): MetricState.of_derived runs every turn.
_OFFSETS: dict[tuple[int, int, int], list[int]] = {}
_DEBT_COLUMNS: dict[int, tuple] = {}


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

    @classmethod
    def of_derived(cls, model, derived) -> MetricState:
        """The state of ``model`` (a game: its ids, layout and state arrays) whose shared
        quantities the compiled rules computed into ``derived`` (``kernels.metrics_and_payoffs``:
        GDP weights, route shares, influence shares, regional influence, diversification,
        minerals secured, debt-service ratios). Also gives each table's rows as lists of floats
        (``host_rows``, ``power_rows``, ``route_rows`` by id: one conversion per turn, which the
        metrics and the actors' records read by column) and each host's ``debt_total``."""
        hosts, powers, routes = model.host_ids, model.power_ids, model.route_ids
        sizes = (len(hosts), len(powers), len(routes))
        d = _OFFSETS.get(sizes)
        if d is None:
            d = _OFFSETS[sizes] = K.derived_offsets(*sizes).tolist()
        values = derived.tolist()

        def section(i, ids):
            return dict(zip(ids, values[d[i] : d[i] + len(ids)], strict=True))

        at, n = d[K.D_SHARES], len(powers)
        shares = {h: dict(zip(powers, values[at + i * n : at + (i + 1) * n], strict=True)) for i, h in enumerate(hosts)}
        s = cls.of(model, section(K.D_GDP_W, hosts), section(K.D_ROUTE_SHARES, routes), shares,
                   section(K.D_REGIONAL, powers), section(K.D_DIVERSIFICATION, hosts),
                   section(K.D_MINERALS, powers))  # fmt: skip
        state, lay = model.state, model.layout
        s.layout = lay
        s.host_rows = dict(zip(hosts, state.hosts.tolist(), strict=True))
        s.power_rows = dict(zip(powers, state.powers.tolist(), strict=True))
        s.route_rows = dict(zip(routes, state.routes.tolist(), strict=True))
        s.debt_service_ratio = section(K.D_DSR, hosts)
        debt_columns = _DEBT_COLUMNS.get(id(lay))
        if debt_columns is None or debt_columns[0] is not lay:
            if len(_DEBT_COLUMNS) >= 16:
                _DEBT_COLUMNS.clear()
            columns = [lay.creditor(c, A.C_DEBT) for c in range(len(lay.creditors))]
            debt_columns = _DEBT_COLUMNS[id(lay)] = (lay, columns)
        s.debt_total = {}
        for h, row in s.host_rows.items():
            total = 0.0  # (kernels.debt_total: the creditors in order)
            for j in debt_columns[1]:
                total += row[j]
            s.debt_total[h] = total
        return s

    def creditor_debt(self, host: str, creditor: str) -> float:
        """USD bn ``host`` owes ``creditor`` (0 if the scenario has no such creditor)."""
        lay = self.layout
        if creditor not in lay.creditors:
            return 0.0
        return self.host_rows[host][lay.creditor(lay.creditors.index(creditor), A.C_DEBT)]


# The model-level metrics, in the column order of model.csv. Each reads the state after the
# turn's rules and payoffs (payoff_<p> reads the payoff kernels.metrics_and_payoffs has just set).
@metric("influence_{id}", "regional influence share (GDP-weighted mean of the hosts' shares; the four sum to 1)",
        "share 0..1", per="power")  # fmt: skip
def _influence(s: MetricState, p) -> float:
    return s.regional[p]


@metric("payoff_{id}", "the power's payoff this turn (its objective weights over the components, minus cost)",
        "dimensionless", per="power")  # fmt: skip
def _payoff(s: MetricState, p) -> float:
    return s.power_rows[p][A.P_PAYOFF]


@metric("spent_usd_bn_{id}", "cumulative public money committed", "USD bn", per="power")
def _spent(s: MetricState, p) -> float:
    return s.power_rows[p][A.P_SPENT_TOTAL]


@metric("debt_to_gdp_{id}", "public external debt / GDP", "ratio", per="host")
def _debt_to_gdp(s: MetricState, h) -> float:
    return s.debt_total[h] / s.host_rows[h][A.H_GDP]


@metric("china_debt_share_{id}", "China's share of that debt", "share 0..1", per="host")
def _china_debt_share(s: MetricState, h) -> float:
    total = s.debt_total[h]
    return s.creditor_debt(h, "china") / total if total > 0 else 0.0


@metric("debt_service_ratio_{id}", "annual public external debt service / government revenue", "ratio", per="host")
def _debt_service_ratio(s: MetricState, h) -> float:
    return s.debt_service_ratio[h]


@metric("distress_{id}",
        "1 while the debt-service ratio is above the host's distress threshold (that of its debt-carrying capacity)",
        "0/1", per="host", binary=True)  # fmt: skip
def _distress(s: MetricState, h) -> float:
    return float(bool(s.host_rows[h][A.H_DISTRESS]))


@metric("distress_turns_{id}", "turns spent in distress so far (cumulative count of the turns with `distress_<h>` = 1)",
        "turns", per="host")  # fmt: skip
def _distress_turns(s: MetricState, h) -> float:
    return float(int(s.host_rows[h][A.H_DISTRESS_TURNS]))  # a float like every metric (one Parquet type)


@metric("diversification_{id}", "0..1, mean of normalised 1-HHI over trade partners, creditors, telecom vendors and "
        "routes", "index 0..1", per="host")  # fmt: skip
def _diversification(s: MetricState, h) -> float:
    return s.diversification[h]


@metric("gdp_usd_bn_{id}", "GDP", "USD bn", per="host")
def _gdp(s: MetricState, h) -> float:
    return s.host_rows[h][A.H_GDP]


@metric("route_volume_mt_{id}", "corridor cargo, annualised", "Mt/yr", per="route")
def _route_volume(s: MetricState, r) -> float:
    return s.route_rows[r][A.R_VOLUME]


@metric("route_capacity_mt_{id}", "corridor capacity, annualised", "Mt/yr", per="route")
def _route_capacity(s: MetricState, r) -> float:
    return s.route_rows[r][A.R_CAPACITY]


@metric("middle_ca_export_share", "share of Middle Corridor cargo that is Central Asian exports (the TRIPP question)",
        "share 0..1")  # fmt: skip
def _middle_ca_export_share(s: MetricState, _) -> float:
    # The Middle Corridor is the scenario's westward route (trade.westward_route).
    return s.route_rows[s.model.scenario.trade.westward_route][A.R_CA_EXPORT]


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
    output = s.layout.mineral(s.layout.minerals.index("tungsten"), A.M_OUTPUT)  # (the hosts' minerals["tungsten"])
    region_w = sum(row[output] for row in s.host_rows.values())
    # (world supply moves with the region's output, as in kernels.mineral_shares)
    world_w = max(tung["world_output_t"] + region_w - model.initial_region_output["tungsten"], 1e-9)
    return 1.0 - tung["china_share"] * tung["world_output_t"] / world_w


@metric("china_overland_energy_usd_bn", "the region's energy exports going to China", "USD bn/yr")
def _china_overland_energy(s: MetricState, _) -> float:
    at, keys = s.layout.vectors["energy_export_shares"]
    if "china" not in keys:
        return 0.0
    china = at + keys.index("china")
    return sum(row[A.H_ENERGY_EXPORTS] * row[china] for row in s.host_rows.values())


@metric(
    "real_gdp_usd_bn_{id}",
    "GDP at the USD prices of the start (gdp_usd_bn over the host's USD price level)",
    "USD bn",
    per="host",
)
def _real_gdp(s: MetricState, h) -> float:
    row = s.host_rows[h]
    return row[A.H_GDP] / row[A.H_PRICE_LEVEL]


def metric_row(s: MetricState) -> dict[str, float]:
    """Every registered metric of the state ``s`` reads, as ``{column: value}`` in column order
    (the families over the ids of ``s.model``)."""
    return {c: compute(s, i) for c, compute, i in _plan(family_ids(s.model))}


_PLANS: dict = {}


def _plan(ids: Ids) -> list[tuple[str, Callable, str | None]]:
    """(column, function, id) of every registered metric for the families' ``ids``, in column
    order; cached per registry and ids (a game asks every turn)."""
    key = (tuple(REGISTRY), tuple(ids.items()))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 64:
            _PLANS.clear()
        plan = _PLANS[key] = [(c, m.compute, i) for m in REGISTRY for c, i in zip(m.columns(ids), _ids(m, ids),
                                                                                 strict=True)]  # fmt: skip
    return plan


def _ids(m: Metric, ids: Ids):
    return [None] if m.per is None else ids[m.per]


def actor_records(model, s: MetricState) -> dict[str, dict]:
    """Each actor's row of ``actors.csv`` after the turn, by actor id, from the state's rows and
    the payoffs the rules computed (``kernels.metrics_and_payoffs``)."""
    plan = _record_plan(model, s.layout)
    shares, regional = s.shares, s.regional
    power_keys, power_head, power_counts, power_tail = plan["power"]
    out: dict[str, dict] = {}
    for p in model.power_ids:
        row = s.power_rows[p]
        made, taken = power_counts(row)
        out[p] = dict(zip(power_keys, (p, "power", *power_head(row), int(made), int(taken), *power_tail(row),
                                       regional[p], *plan["components"](row)), strict=True))  # fmt: skip
    host_keys, host_a, host_b, owed, host_c, host_d = plan["host"]
    china, cloud_w, logistics_w = plan["china"], plan["cloud_w"], plan["logistics_w"]
    for h in model.host_ids:
        row = s.host_rows[h]
        total_debt = s.debt_total[h]
        gdp, growth, distress, *rest = host_a(row)
        share = shares[h]
        out[h] = dict(zip(host_keys, (
            h, "host", gdp, growth, total_debt, total_debt / gdp,
            (row[china] if china is not None else 0.0) / total_debt if total_debt > 0 else 0.0,
            s.debt_service_ratio[h], float(bool(distress)), *rest, s.diversification[h], *host_b(row),
            *[share[p] for p in model.power_ids], *plan["opinion"](row),
            *[row[j] / total_debt if total_debt else 0.0 for j in owed],
            *host_c(row),
            # The western bloc's share of the two-way markets (0 where it has no offer).
            row[cloud_w] if cloud_w is not None else 0.0, row[logistics_w] if logistics_w is not None else 0.0,
            *host_d(row),
        ), strict=True))  # fmt: skip
    return out


def _getter(columns) -> Callable:
    """``row -> tuple`` of ``row``'s ``columns`` (a tuple whatever their number)."""
    columns = tuple(columns)
    if len(columns) > 1:
        return itemgetter(*columns)
    if columns:
        return lambda row, j=columns[0]: (row[j],)
    return lambda row: ()


_RECORD_PLANS: dict = {}


def _record_plan(model, lay) -> dict:
    """The keys and column getters of the actors' records of a game's layout (built once per layout:
    the records are built every turn). The keys are those of the records, in their order."""
    key = (id(lay), tuple(model.power_ids), tuple(model.host_ids))
    entry = _RECORD_PLANS.get(key)
    if entry is not None and entry[0] is lay:
        return entry[1]
    powers = model.power_ids
    components = [(f"component_{k}", lay.components + i) for i, k in enumerate(OBJECTIVES)]
    opinion = [(f"opinion_{p}", lay.opinion + i) for i, p in enumerate(powers)]
    owed = [(f"debt_share_{p}", lay.creditor(lay.creditors.index(p), A.C_DEBT)) for p in powers]
    telecom_at, telecom = lay.vectors["telecom_vendor_shares"]
    cloud_at, cloud = lay.vectors["cloud_shares"]
    logistics_at, logistics = lay.vectors["logistics_platform_shares"]
    energy_at, energy = lay.vectors["energy_export_shares"]
    outputs = [(f"{m}_output_t", lay.mineral(i, A.M_OUTPUT)) for i, m in enumerate(lay.minerals)]
    energy_out = [(f"energy_exports_to_{d}", energy_at + i) for i, d in enumerate(energy) if d != OTHER]
    power_keys = ("actor", "kind", "budget_available", "spent_turn", "spent_total", "private_mobilised",
                  "offers_made", "offers_accepted", "payoff", "payoff_total", "regional_influence",
                  *(n for n, _ in components))  # fmt: skip
    host_keys = ("actor", "kind", "gdp_usd_bn", "growth_rate", "debt_usd_bn", "debt_to_gdp", "china_debt_share",
                 "debt_service_ratio", "distress", "governance", "environment_damage", "jobs_created_k",
                 "diversification", "payoff", "payoff_total", *(f"influence_share_{p}" for p in powers),
                 *(n for n, _ in opinion), *(n for n, _ in owed), *(f"telecom_{b}" for b in telecom),
                 "satellite_coverage", "cloud_western", "logistics_western", "renewables_share",
                 *(n for n, _ in energy_out), *(n for n, _ in outputs))  # fmt: skip
    plan = {
        "power": (power_keys, _getter((A.P_BUDGET_AVAILABLE, A.P_SPENT_TURN, A.P_SPENT_TOTAL, A.P_PRIVATE_MOBILISED)),
                  itemgetter(A.P_OFFERS_MADE, A.P_OFFERS_ACCEPTED), _getter((A.P_PAYOFF, A.P_PAYOFF_TOTAL))),
        "components": _getter(j for _, j in components),
        "host": (host_keys,
                 _getter((A.H_GDP, A.H_GROWTH_REALISED, A.H_DISTRESS, A.H_GOVERNANCE, A.H_ENVIRONMENT,
                          A.H_JOBS_CREATED)),
                 _getter((A.H_PAYOFF, A.H_PAYOFF_TOTAL)),
                 [j for _, j in owed],
                 _getter((*(telecom_at + i for i in range(len(telecom))), A.H_SATELLITE)),
                 _getter((A.H_RENEWABLES, *(j for _, j in energy_out), *(j for _, j in outputs)))),
        "opinion": _getter(j for _, j in opinion),
        "china": lay.creditor(lay.creditors.index("china"), A.C_DEBT) if "china" in lay.creditors else None,
        "cloud_w": cloud_at + cloud.index("western") if "western" in cloud else None,
        "logistics_w": logistics_at + logistics.index("western") if "western" in logistics else None,
    }  # fmt: skip
    if len(_RECORD_PLANS) >= 16:
        _RECORD_PLANS.clear()
    _RECORD_PLANS[key] = (lay, plan)
    return plan
