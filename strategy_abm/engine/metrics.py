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

import numpy as np

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
    ``binary``: a 0/1 state (summarised over runs as the share of runs in the state).
    ``reads``: for a metric whose value is a number the rules left as it is, where:
    ``("derived", section)`` (the section of the rules' ``derived``, kernels.D_*: a family's
    entry for the id) or, for a family, ``("hosts" | "powers" | "routes", column)`` (the id's row
    of that table); :func:`metric_row` then reads it directly (``compute`` reads the same number)."""

    name: str
    description: str
    unit: str
    compute: Callable[[MetricState, str | None], float]
    per: str | None = None
    binary: bool = False
    reads: tuple[str, int] | None = None

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
    key = ("columns", _VERSION[0], tuple(ids.items()))
    columns = _PLANS.get(key)
    if columns is None:
        columns = _PLANS[key] = [c for m in REGISTRY for c in m.columns(ids)]
    return list(columns)


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


_VERSION = [0]  # bumped on every change of the registry (the cached plans' key)


def _derive() -> None:
    _VERSION[0] += 1
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
    if m.reads is not None and m.reads[0] not in ("derived", *([] if m.per is None else ["hosts", "powers", "routes"])):
        raise ValueError(f"metric {m.name!r}: reads is from 'derived' or, for a family, a state table")
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


def metric(name: str, description: str, unit: str, *, per: str | None = None, binary: bool = False,
           reads: tuple[str, int] | None = None):  # fmt: skip
    """Decorator: register ``fn(state, id) -> float`` as a metric (see :class:`Metric`)."""

    def register(fn: Callable[[MetricState, str | None], float]):
        register_metric(Metric(name, description, unit, fn, per, binary, reads))
        return fn

    return register


# Sections of the compiled rules' ``derived`` by (hosts, powers, routes): MetricState reads them every turn.
_OFFSETS: dict[tuple[int, int, int], list[int]] = {}
_ZERO = np.zeros(1)  # (the last of MetricState.values: what a record reports of a market the scenario lacks)


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
        minerals secured, debt-service ratios, and the hosts' reported values: ``debt_total``,
        ``debt_to_gdp``, ``china_debt_share``, ``distress``, ``distress_turns``, ``real_gdp``).
        Also gives each table's rows as lists of floats (``host_rows``, ``power_rows``,
        ``route_rows`` by id) and ``values``: ``derived`` and the tables' rows, flat, then 0.0 (what
        :func:`metric_row` and :func:`actor_records` gather from). ``values`` is a copy taken now;
        the rest is built from it when first read (most turns read only ``values``)."""
        s = cls.__new__(cls)
        st = model.state
        s.model, s.layout = model, model.layout
        s.values = np.concatenate((derived, st.hosts.ravel(), st.powers.ravel(), st.routes.ravel(), _ZERO))
        s.derived = s.values[: len(derived)]
        s.shapes = (st.hosts.shape, st.powers.shape, st.routes.shape)
        return s

    # What of_derived gives, each built on first read: name -> (how, section of ``derived``).
    _LAZY = {
        "gdp_w": ("host", K.D_GDP_W), "route_shares": ("route", K.D_ROUTE_SHARES), "regional": ("power", K.D_REGIONAL),
        "diversification": ("host", K.D_DIVERSIFICATION), "minerals": ("power", K.D_MINERALS),
        "debt_service_ratio": ("host", K.D_DSR), "debt_total": ("host", K.D_DEBT_TOTAL),
        "debt_to_gdp": ("host", K.D_DEBT_TO_GDP), "china_debt_share": ("host", K.D_CHINA_DEBT_SHARE),
        "distress": ("host", K.D_DISTRESS), "distress_turns": ("host", K.D_DISTRESS_TURNS),
        "real_gdp": ("host", K.D_REAL_GDP), "shares": ("shares", K.D_SHARES), "host_rows": ("rows", "hosts"),
        "power_rows": ("rows", "powers"), "route_rows": ("rows", "routes"), "offsets": ("offsets", None),
    }  # fmt: skip

    def __getattr__(self, name: str):
        how, what = self._LAZY.get(name, (None, None))
        if how is None or "derived" not in self.__dict__:
            raise AttributeError(name)
        model = self.model
        if how == "offsets":
            sizes = (len(model.host_ids), len(model.power_ids), len(model.route_ids))
            d = _OFFSETS.get(sizes)
            if d is None:
                d = _OFFSETS[sizes] = K.derived_offsets(*sizes).tolist()
            value = d
        elif how == "rows":
            table = ("hosts", "powers", "routes").index(what)
            at = len(self.derived) + sum(math.prod(shape) for shape in self.shapes[:table])
            shape = self.shapes[table]
            rows = self.values[at : at + math.prod(shape)].reshape(shape).tolist()
            ids = (model.host_ids, model.power_ids, model.route_ids)[table]
            value = dict(zip(ids, rows, strict=True))
        elif how == "shares":
            at, powers = self.offsets[what], model.power_ids
            n = len(powers)
            values = self.derived[at : at + n * len(model.host_ids)].tolist()
            value = {
                h: dict(zip(powers, values[i * n : (i + 1) * n], strict=True)) for i, h in enumerate(model.host_ids)
            }
        else:
            ids = {"host": model.host_ids, "power": model.power_ids, "route": model.route_ids}[how]
            at = self.offsets[what]
            value = dict(zip(ids, self.derived[at : at + len(ids)].tolist(), strict=True))
        self.__dict__[name] = value
        return value

    def scalar(self, section: int) -> float:
        """The one value of a section of the rules' ``derived`` (kernels.reported_scalars)."""
        return self.derived[self.offsets[section]].item()

    def creditor_debt(self, host: str, creditor: str) -> float:
        """USD bn ``host`` owes ``creditor`` (0 if the scenario has no such creditor)."""
        lay = self.layout
        if creditor not in lay.creditors:
            return 0.0
        return self.host_rows[host][lay.creditor(lay.creditors.index(creditor), A.C_DEBT)]


# The model-level metrics, in the column order of model.csv. Each reads the state after the
# turn's rules and payoffs (payoff_<p> reads the payoff kernels.metrics_and_payoffs has just set).
@metric("influence_{id}", "regional influence share (GDP-weighted mean of the hosts' shares; the four sum to 1)",
        "share 0..1", per="power", reads=("derived", K.D_REGIONAL))  # fmt: skip
def _influence(s: MetricState, p) -> float:
    return s.regional[p]


@metric("payoff_{id}", "the power's payoff this turn (its objective weights over the components, minus cost)",
        "dimensionless", per="power", reads=("powers", A.P_PAYOFF))  # fmt: skip
def _payoff(s: MetricState, p) -> float:
    return s.power_rows[p][A.P_PAYOFF]


@metric("payoff_total_{id}", "the power's payoffs so far, each times its turn's length in years (7.10: what a "
        "game's payoff is)", "payoff-years", per="power", reads=("powers", A.P_PAYOFF_TOTAL))  # fmt: skip
def _payoff_total(s: MetricState, p) -> float:
    return s.power_rows[p][A.P_PAYOFF_TOTAL]


@metric("spent_usd_bn_{id}", "cumulative public money committed", "USD bn", per="power",
        reads=("powers", A.P_SPENT_TOTAL))  # fmt: skip
def _spent(s: MetricState, p) -> float:
    return s.power_rows[p][A.P_SPENT_TOTAL]


# The hosts' debt ratios, distress and real GDP: the rules compute them (kernels.reported_values),
# as the actors' records report them too.
@metric("debt_to_gdp_{id}", "public external debt / GDP", "ratio", per="host", reads=("derived", K.D_DEBT_TO_GDP))
def _debt_to_gdp(s: MetricState, h) -> float:
    return s.debt_to_gdp[h]


@metric("china_debt_share_{id}", "China's share of that debt", "share 0..1", per="host",
        reads=("derived", K.D_CHINA_DEBT_SHARE))  # fmt: skip
def _china_debt_share(s: MetricState, h) -> float:
    return s.china_debt_share[h]


@metric("debt_service_ratio_{id}", "annual public external debt service / government revenue", "ratio", per="host",
        reads=("derived", K.D_DSR))  # fmt: skip
def _debt_service_ratio(s: MetricState, h) -> float:
    return s.debt_service_ratio[h]


@metric("distress_{id}",
        "1 while the debt-service ratio is above the host's distress threshold (that of its debt-carrying capacity)",
        "0/1", per="host", binary=True, reads=("derived", K.D_DISTRESS))  # fmt: skip
def _distress(s: MetricState, h) -> float:
    return s.distress[h]


@metric("distress_turns_{id}", "turns spent in distress so far (cumulative count of the turns with `distress_<h>` = 1)",
        "turns", per="host", reads=("derived", K.D_DISTRESS_TURNS))  # fmt: skip
def _distress_turns(s: MetricState, h) -> float:
    return s.distress_turns[h]  # a float like every metric (one Parquet type)


@metric("diversification_{id}", "0..1, mean of normalised 1-HHI over trade partners, creditors, telecom vendors and "
        "routes", "index 0..1", per="host", reads=("derived", K.D_DIVERSIFICATION))  # fmt: skip
def _diversification(s: MetricState, h) -> float:
    return s.diversification[h]


@metric("gdp_usd_bn_{id}", "GDP", "USD bn", per="host", reads=("hosts", A.H_GDP))
def _gdp(s: MetricState, h) -> float:
    return s.host_rows[h][A.H_GDP]


@metric("route_volume_mt_{id}", "corridor cargo, annualised", "Mt/yr", per="route", reads=("routes", A.R_VOLUME))
def _route_volume(s: MetricState, r) -> float:
    return s.route_rows[r][A.R_VOLUME]


@metric("route_capacity_mt_{id}", "corridor capacity, annualised", "Mt/yr", per="route",
        reads=("routes", A.R_CAPACITY))  # fmt: skip
def _route_capacity(s: MetricState, r) -> float:
    return s.route_rows[r][A.R_CAPACITY]


# Regional values the rules compute (kernels.reported_scalars), each as its description says.
@metric("middle_ca_export_share", "share of Middle Corridor cargo that is Central Asian exports (the TRIPP question)",
        "share 0..1", reads=("derived", K.D_MIDDLE_CA_EXPORTS))  # fmt: skip
def _middle_ca_export_share(s: MetricState, _) -> float:
    # The Middle Corridor is the scenario's westward route (trade.westward_route).
    return s.scalar(K.D_MIDDLE_CA_EXPORTS)


@metric("west_secured_mineral_share", "world critical-mineral supply secured by the US and G7 from the region "
        "(mean over minerals)", "share 0..1", reads=("derived", K.D_WEST_MINERALS))  # fmt: skip
def _west_secured_mineral_share(s: MetricState, _) -> float:
    # The US and the G7: the powers of the western bloc (powers.<id>.bloc).
    return s.scalar(K.D_WEST_MINERALS)


@metric("tungsten_non_china_share", "share of world tungsten supply outside China", "share 0..1",
        reads=("derived", K.D_TUNGSTEN_NON_CHINA))  # fmt: skip
def _tungsten_non_china_share(s: MetricState, _) -> float:
    # NaN in a scenario without tungsten; world supply moves with the region's output (kernels.mineral_shares).
    return s.scalar(K.D_TUNGSTEN_NON_CHINA)


@metric("china_overland_energy_usd_bn", "the region's energy exports going to China", "USD bn/yr",
        reads=("derived", K.D_CHINA_ENERGY))  # fmt: skip
def _china_overland_energy(s: MetricState, _) -> float:
    return s.scalar(K.D_CHINA_ENERGY)


@metric(
    "real_gdp_usd_bn_{id}",
    "GDP at the USD prices of the start (gdp_usd_bn over the host's USD price level)",
    "USD bn",
    per="host",
    reads=("derived", K.D_REAL_GDP),
)
def _real_gdp(s: MetricState, h) -> float:
    return s.real_gdp[h]


def metric_row(s: MetricState) -> dict[str, float]:
    """Every registered metric of the state ``s`` reads, as ``{column: value}`` in column order
    (the families over the ids of ``s.model``). A state of the rules' ``derived``
    (:meth:`MetricState.of_derived`) has the metrics that declare ``reads`` gathered from its
    ``values`` in one step, the others computed."""
    ids = family_ids(s.model)
    if "values" not in s.__dict__:
        return {c: compute(s, i) for c, compute, i in _plan(ids)}
    columns, at, computed = _gather_plan(ids, s)
    row = s.values.take(at).tolist()
    for j, compute, i in computed:
        row[j] = compute(s, i)
    return dict(zip(columns, row, strict=True))


_PLANS: dict = {}


def _plan(ids: Ids) -> list[tuple[str, Callable, str | None]]:
    """(column, function, id) of every registered metric for the families' ``ids``, in column
    order; cached per registry and ids (a game asks every turn)."""
    key = (_VERSION[0], tuple(ids.items()))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 64:
            _PLANS.clear()
        plan = _PLANS[key] = [(c, m.compute, i) for m in REGISTRY for c, i in zip(m.columns(ids), _ids(m, ids),
                                                                                 strict=True)]  # fmt: skip
    return plan


def _gather_plan(ids: Ids, s: MetricState) -> tuple[list[str], np.ndarray, list[tuple[int, Callable, str | None]]]:
    """(columns, where each column's value is in ``s.values`` (the last entry, 0.0, for those
    computed), (position, function, id) of the computed ones), cached per registry, ids and layout."""
    lay = s.layout
    key = ("gather", _VERSION[0], tuple(ids.items()), id(lay), len(s.derived), s.shapes)
    entry = _PLANS.get(key)
    if entry is not None and entry[0] is lay:
        return entry[1]
    columns, at, computed = [], [], []
    for m in REGISTRY:
        for column, i in zip(m.columns(ids), _ids(m, ids), strict=True):
            if m.reads is None:
                computed.append((len(columns), m.compute, i))
                at.append(len(s.values) - 1)
            else:
                at.append(_value_at(s, m.reads, m.per, i))
            columns.append(column)
    plan = (columns, np.array(at, dtype=np.int64), computed)
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[key] = (lay, plan)
    return plan


def _value_at(s: MetricState, reads: tuple[str, int], per: str, actor: str) -> int:
    """Where ``s.values`` holds a family's value for ``actor`` (its ``reads``: module docstring)."""
    where, section = reads
    lay = s.layout
    index = 0 if per is None else {"host": lay.hosts, "power": lay.powers, "route": lay.routes}[per].index(actor)
    if where == "derived":
        return s.offsets[section] + index
    table = ("hosts", "powers", "routes").index(where)
    at = len(s.derived) + sum(math.prod(shape) for shape in s.shapes[:table])
    return at + index * s.shapes[table][1] + section


def _ids(m: Metric, ids: Ids):
    return [None] if m.per is None else ids[m.per]


def actor_records(model, s: MetricState) -> dict[str, dict]:
    """Each actor's row of ``actors.csv`` after the turn, by actor id, from the state's rows and
    what the rules computed (``kernels.metrics_and_payoffs``: payoffs, shares, the hosts'
    reported values), gathered from ``s.values`` (:meth:`MetricState.of_derived`) in one step."""
    keys, at, spans = _record_plan(model, s)
    values = s.values.take(at).tolist()
    out: dict[str, dict] = {}
    for actor, kind, start, end in spans:
        values[start], values[start + 1] = actor, kind  # (in place of two 0.0s)
        if kind == "power":  # (the offer counts are whole numbers: ints, as the state's views give them)
            values[start + 6], values[start + 7] = int(values[start + 6]), int(values[start + 7])
        out[actor] = dict(zip(keys[kind], values[start:end], strict=True))
    return out


_RECORD_PLANS: dict = {}


def _record_plan(model, s: MetricState) -> tuple:
    """(the records' keys by kind, where each value is in ``s.values`` (0.0 for the id and kind),
    each actor's (id, kind, first, end) in that list), built once per layout: the records are
    built every turn. The keys are those of the records, in their order."""
    lay = s.layout
    key = (id(lay), tuple(model.power_ids), tuple(model.host_ids), len(s.values))
    entry = _RECORD_PLANS.get(key)
    if entry is not None and entry[0] is lay:
        return entry[1]
    powers = model.power_ids
    d, n_derived, (hosts_shape, powers_shape, _) = s.offsets, len(s.derived), s.shapes
    zero = len(s.values) - 1  # (0.0: a market the scenario lacks)

    def host(h: int, column: int) -> int:
        return n_derived + h * hosts_shape[1] + column

    def power(p: int, column: int) -> int:
        return n_derived + hosts_shape[0] * hosts_shape[1] + p * powers_shape[1] + column

    def derived(section: int, i: int) -> int:
        return d[section] + i

    components = [(f"component_{k}", lay.components + i) for i, k in enumerate(OBJECTIVES)]
    opinion = [(f"opinion_{p}", lay.opinion + i) for i, p in enumerate(powers)]
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
                 *(n for n, _ in opinion), *(f"debt_share_{p}" for p in powers), *(f"telecom_{b}" for b in telecom),
                 "satellite_coverage", "cloud_western", "logistics_western", "renewables_share",
                 *(n for n, _ in energy_out), *(n for n, _ in outputs))  # fmt: skip
    at: list[int] = []
    spans = []
    n_powers = len(powers)
    for p, pid in enumerate(lay.powers):
        first = len(at)
        at += [zero, zero]  # (the actor's id and kind)
        at += [power(p, c) for c in (A.P_BUDGET_AVAILABLE, A.P_SPENT_TURN, A.P_SPENT_TOTAL, A.P_PRIVATE_MOBILISED,
                                     A.P_OFFERS_MADE, A.P_OFFERS_ACCEPTED, A.P_PAYOFF, A.P_PAYOFF_TOTAL)]  # fmt: skip
        at += [derived(K.D_REGIONAL, p), *(power(p, c) for _, c in components)]
        spans.append((pid, "power", first, len(at)))
    for h, hid in enumerate(lay.hosts):
        first = len(at)
        at += [zero, zero, host(h, A.H_GDP), host(h, A.H_GROWTH_REALISED)]
        at += [derived(section, h) for section in (K.D_DEBT_TOTAL, K.D_DEBT_TO_GDP, K.D_CHINA_DEBT_SHARE, K.D_DSR,
                                                   K.D_DISTRESS)]  # fmt: skip
        at += [host(h, c) for c in (A.H_GOVERNANCE, A.H_ENVIRONMENT, A.H_JOBS_CREATED)]
        at += [derived(K.D_DIVERSIFICATION, h), host(h, A.H_PAYOFF), host(h, A.H_PAYOFF_TOTAL)]
        at += [derived(K.D_SHARES, h * n_powers + p) for p in range(n_powers)]
        at += [host(h, c) for _, c in opinion]
        at += [derived(K.D_DEBT_SHARES, h * n_powers + p) for p in range(n_powers)]
        at += [host(h, telecom_at + i) for i in range(len(telecom))] + [host(h, A.H_SATELLITE)]
        # The western bloc's share of the two-way markets (0 where it has no offer).
        at += [host(h, cloud_at + cloud.index("western")) if "western" in cloud else zero,
               host(h, logistics_at + logistics.index("western")) if "western" in logistics else zero]  # fmt: skip
        at += [host(h, A.H_RENEWABLES), *(host(h, c) for _, c in energy_out), *(host(h, c) for _, c in outputs)]
        spans.append((hid, "host", first, len(at)))
    by_id = {actor: span for span in spans for actor in [span[0]]}
    spans = [by_id[a] for a in (*model.power_ids, *model.host_ids)]  # (the records in the game's order)
    plan = ({"power": power_keys, "host": host_keys}, np.array(at, dtype=np.int64), spans)
    if len(_RECORD_PLANS) >= 16:
        _RECORD_PLANS.clear()
    _RECORD_PLANS[key] = (lay, plan)
    return plan
