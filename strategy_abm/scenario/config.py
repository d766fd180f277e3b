"""Scenarios as validated data.

A scenario is a TOML file: actors' initial states, budgets, toolkits, objective weights, strategy
per actor, the move catalogue, routes, events, horizon and turn length. It is validated on load
with pydantic; every world figure names its source id (from ``configs/sources.toml``, which
restates ``shared/calibration/SOURCES.md``) or says ``assumption: <why>`` / ``derived: <how>``.

Errors are raised as :class:`ConfigError` with a one-line message naming the field.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from .frozen import FrozenMap, frozen_dicts
from .ids import DOMAINS, NON_POWER_CREDITORS, OTHER, RESERVED_IDS
from .names import FolderName

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def configs_dir() -> Path:
    """Folder of the built-in scenarios (``STRATEGY_ABM_CONFIGS`` overrides it)."""
    env = os.environ.get("STRATEGY_ABM_CONFIGS")
    return Path(env) if env else PACKAGE_DIR.parent / "configs"


class ConfigError(ValueError):
    """A scenario or override is invalid; ``str(err)`` is a one-line message naming the field."""


Share = Annotated[float, Field(ge=0.0, le=1.0)]
Opinion = Annotated[float, Field(ge=-1.0, le=1.0)]
SHARE_TOLERANCE = 1e-3


def within(low: float, high: float) -> Any:
    """Field metadata of a number in [low, high] (``Annotated[float, within(0.1, 1e5)]``). Every
    number of a scenario has finite bounds that mean something in the domain (docs/model.md, 6.1,
    "Bounds, and why"); together they keep every rule finite."""
    return Field(ge=low, le=high)


# Bounds shared by several fields, with why (docs/model.md, 6.1 "Bounds" lists them all).
GDP_USD_BN = (0.1, 1e5)  # USD 100 m, a micro-state's economy, up to world GDP (about USD 105 trn)
MONEY_USD_BN = (0.0, 1e5)  # stocks and flows of a state: at most world GDP
MATURITY_YEARS = (0.25, 60.0)  # a loan runs at least a quarter (debt service = D/m) and at most 60 years
RATE = (0.0, 0.5)  # annual interest rate
GROWTH = (-0.3, 0.3)  # annual real growth of a state's economy
# Annual change of a state's GDP deflator in US dollars (inflation less depreciation against the USD).
USD_DEFLATOR = (-0.3, 0.3)
# IMF-World Bank LIC-DSF classes of debt-carrying capacity, weakest first (their thresholds are data).
CAPACITY_CLASSES = ("weak", "medium", "strong")
PAYOFF_WEIGHT = (0.0, 100.0)  # relative weights of objectives: a ratio above 1e4 is no longer a trade-off
PROJECT_USD_BN = (1e-3, 1e3)  # USD 1 m (smaller is not a strategic project) to USD 1 trn
PER_PCT_GDP = 10.0  # effect per 1% of host GDP invested: at most 10 units (10 points, 10%, ...)
MINERAL_T = (0.0, 1e7)  # a state's yearly output of one mineral, t: above any critical mineral's world output
RESOURCE_T = (0.0, 1e9)  # a deposit's contained metal, t: above the world's resources of any critical mineral
ENERGY_EXPORTS_USD_BN = (0.0, 1e4)  # a state's energy exports: above the world's energy trade (about USD 3 trn)
GAS_BCM = (0.0, 1e4)  # gas flows, bcm/yr: about two and a half times the world's production
FREIGHT_MT = (0.0, 1e4)  # corridor flows and capacity, Mt/yr: about all the world's seaborne trade
DAYS = (0.0, 365.0)  # transit or delay on a corridor: at most a year


class Strict(BaseModel):
    """Base of every config table: unknown keys are errors, numbers must be finite, types are
    strict (``true`` is not a number, ``"12"`` is not an integer) and a loaded scenario is
    immutable (loads are cached and shared)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True, strict=True, frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _read_only(cls, data, handler):
        """``frozen=True`` stops attribute assignment only: every dict of the table (moves'
        effects, rules' weights, strategy params, at any depth) becomes a read-only
        :class:`FrozenMap`, so that no game, strategy or caller can change a cached scenario.
        (A wrap validator: it runs after every validator of the subclass.)"""
        model = handler(data)
        for name, value in model.__dict__.items():
            if isinstance(value, dict | list) and not isinstance(value, FrozenMap):
                model.__dict__[name] = frozen_dicts(value)
        return model


class _FieldError(ValueError):
    """Raised inside validators to point at a nested field by its dotted path (a field of a model,
    or a key of a table): the error message names ``<where>.<field>``."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


FieldError = _FieldError  # for the validators of other files' models (lab/tune.py): same one-line naming


def _check_keys(value: dict, keys: tuple[str, ...], what: str, *, complete: bool = True) -> None:
    """Every key of ``value`` is one of ``keys`` (and, if ``complete``, every one is there)."""
    for k in value:
        if k not in keys:
            raise _FieldError(str(k), f"unknown {what} (expected one of {', '.join(keys)})")
    if complete:
        for k in keys:
            if k not in value:
                raise _FieldError(k, f"missing {what}")


def _check_vector(
    value: dict[str, float], keys: tuple[str, ...] | None, what: str, *, keep_order: bool = False
) -> dict[str, float]:
    """A share vector must name exactly ``keys`` (any keys if ``None``) and sum to 1. It comes back
    in the order of ``keys``, or of ``value`` with ``keep_order`` (or without ``keys``)."""
    if keys is None or keep_order:
        if keys is not None:
            _check_keys(value, keys, what)
        keys = tuple(value)
    _check_keys(value, keys, what)
    for k, v in value.items():
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"share of {k!r} is {v}, must be within [0, 1]")
    total = sum(value.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"shares sum to {total:.4f}, must sum to 1")
    if abs(total - 1.0) <= 1e-9:  # leave exact inputs alone: a resolved config re-loads identically
        return {k: value[k] for k in keys}
    return {k: value[k] / total for k in keys}


SOURCE_RE = re.compile(r"^(assumption|derived): \S.*$")
# "ID", "ID+ID", optionally followed by a note: "ID; China 10.4% ..." or "ID (note)".
SOURCE_IDS_RE = re.compile(r"^([A-Z0-9_]+(?:\+[A-Z0-9_]+)*)(?:[;( ].*)?$")


@functools.lru_cache(maxsize=4)
def known_sources(folder: str | None = None) -> dict[str, str]:
    """Source ids and titles from ``configs/sources.toml``."""
    path = Path(folder) if folder else configs_dir()
    with open(path / "sources.toml", "rb") as fh:
        return {k: v["title"] for k, v in tomllib.load(fh)["sources"].items()}


def _check_source_ref(ref: str) -> None:
    """A source reference names known ids (``ID`` or ``ID+ID``, optionally with a note) or says
    ``assumption: <why>`` / ``derived: <how>``."""
    known = known_sources()
    ids = SOURCE_IDS_RE.match(ref)
    if not (SOURCE_RE.match(ref) or (ids and all(i in known for i in ids.group(1).split("+")))):
        raise ValueError(
            f"{ref!r} is neither a source id of configs/sources.toml nor 'assumption: ...' / 'derived: ...'"
        )


def _given(model: BaseModel, optional: list[str]) -> list[str]:
    """The optional figures of ``model`` that differ from their defaults (a resolved config writes
    the defaults out too; they keep the rules as they were and need no source)."""
    fields = type(model).model_fields
    return [f for f in optional if getattr(model, f) != fields[f].get_default(call_default_factory=True)]


def _check_sources(sources: dict[str, str], figures: list[str], optional: list[str] = ()) -> None:
    """Every figure has a source entry, each entry names a known id or says why it has none
    (``optional``: figures that may have a source entry without needing one)."""
    for key, ref in sources.items():
        if key not in figures and key not in optional:
            raise ValueError(f"sources.{key}: names no figure of this table")
        try:
            _check_source_ref(ref)
        except ValueError as exc:
            raise ValueError(f"sources.{key}: {exc}") from None
    for fig in figures:
        if fig not in sources:
            raise ValueError(f"sources.{fig}: missing (every world figure needs a source)")


# An id of an actor, route, mineral, bloc or partner: it becomes part of column names
# (``debt_to_gdp_<host>``) and event paths (``hosts.<id>.gdp_usd_bn``).
ID_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
ID_RULE = "must be 1 to 32 lower-case letters, digits or '_', starting with a letter"


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise ValueError(f"{what} id {value!r} {ID_RULE}")
    if value in RESERVED_IDS:
        raise ValueError(f"{what} id {value!r} is reserved (ids may not be {', '.join(RESERVED_IDS)})")
    return value


def scenario_ids(data: Any) -> dict[str, Any]:
    """The ids a raw scenario declares, in the order its tables list them: ``powers``, ``hosts``,
    ``routes``, ``minerals`` (of ``world.minerals``), ``creditors`` (the powers, then
    :data:`~strategy_abm.scenario.ids.NON_POWER_CREDITORS`), ``offtakers`` (the powers and
    ``other``), ``blocs`` and ``partners`` (the powers' distinct ``bloc`` and ``partner``, the
    partners then ``other``) and ``bloc_of`` (power -> bloc). Validation checks each table's keys
    against these (pydantic's validation context); malformed tables give empty ids here and
    their own error in validation."""

    def table(value: Any) -> dict:
        return value if isinstance(value, dict) else {}

    data = table(data)
    powers_raw = table(data.get("powers"))
    powers = tuple(powers_raw)
    bloc_of = {p: table(v).get("bloc") for p, v in powers_raw.items()}
    partner_of = {p: table(v).get("partner") for p, v in powers_raw.items()}
    return {
        "powers": powers,
        "hosts": tuple(table(data.get("hosts"))),
        "routes": tuple(table(data.get("routes"))),
        "minerals": tuple(table(table(data.get("world")).get("minerals"))),
        "creditors": (*powers, *NON_POWER_CREDITORS),
        "offtakers": (*powers, OTHER),
        "blocs": tuple(dict.fromkeys(b for b in bloc_of.values() if isinstance(b, str))),
        "partners": (*dict.fromkeys(q for q in partner_of.values() if isinstance(q, str) and q != OTHER), OTHER),
        "bloc_of": {p: b for p, b in bloc_of.items() if isinstance(b, str)},
    }


def _ids(info: ValidationInfo, family: str) -> Any:
    """The scenario's ids of ``family`` (see :func:`scenario_ids`), or ``None`` when a table is
    validated on its own, outside a scenario (then only its shape is checked)."""
    ctx = info.context
    return ctx.get(family) if isinstance(ctx, dict) else None


class Creditor(Strict):
    """One creditor class's part of a host's public external debt."""

    share: Share
    rate: Annotated[float, within(*RATE)]
    maturity_years: Annotated[float, within(*MATURITY_YEARS)]
    refinanced: Share = 0.0  # part of amortisation rolled over by the same creditor class


class Mineral(Strict):
    """A host's output of one critical mineral and who takes it."""

    output_t: Annotated[float, within(*MINERAL_T)] = 0.0
    # Who takes the output: the powers and ``other``, all to ``other`` unless given.
    offtake: dict[str, float] = Field(default_factory=lambda: {OTHER: 1.0})
    local_processing: Share = 0.0
    developable: bool = False  # a deposit a critical_minerals venture can develop (say so explicitly)
    # The deposits: contained metal (None: depletion not modelled), the most they can yield a year
    # (None: today's output, no room to grow) and the time constant of a new mine's ramp-up.
    resources_t: Annotated[float, within(*RESOURCE_T)] | None = None
    max_output_t: Annotated[float, within(*MINERAL_T)] | None = None
    ramp_up_years: Annotated[float, within(0.0, 30.0)] = 0.0  # 0: a new mine produces at capacity at once

    @model_validator(mode="before")
    @classmethod
    def _max_output(cls, data):
        if isinstance(data, Mapping) and data.get("max_output_t") is None:
            data = {**data, "max_output_t": data.get("output_t", 0.0)}
        return data

    @model_validator(mode="after")
    def _room(self):
        if self.max_output_t < self.output_t:
            raise _FieldError("max_output_t", f"{self.max_output_t:g} is below output_t {self.output_t:g}")
        return self

    @field_validator("offtake")
    @classmethod
    def _offtake(cls, v, info: ValidationInfo):
        offtakers = _ids(info, "offtakers")
        if offtakers is not None and v == {OTHER: 1.0}:  # the default: no power takes any
            v = dict.fromkeys(offtakers, 0.0) | v
        return _check_vector(v, offtakers, "offtaker")


# Share vectors of a host: (the scenario's ids they are keyed by, what an id is, complete). A
# market's vector may leave out a bloc that has no offer in it (Russia has no cloud or platform).
HOST_VECTORS = {
    "trade_shares": ("partners", "trade partner", True),
    "telecom_vendor_shares": ("blocs", "bloc", True),
    "cloud_shares": ("blocs", "bloc", False),
    "logistics_platform_shares": ("blocs", "bloc", False),
    "energy_export_shares": ("partners", "destination", True),
    "green_tech_origin": ("blocs", "bloc", False),
}


class HostConfig(Strict):
    """A Central Asian state: its calibrated initial state and its response strategy."""

    name: str
    display: str | None = None  # the name in sentences ("Kazakhstan"); ``name`` if not given
    strategy: str
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    gdp_usd_bn: Annotated[float, within(*GDP_USD_BN)]
    growth_rate: Annotated[float, within(*GROWTH)]
    # No state collects less than 1% of GDP; debt service is measured against revenue.
    revenue_share_gdp: Annotated[float, within(0.01, 1.0)]
    population_m: Annotated[float, within(0.01, 1e4)]  # 10,000 people up to above the world's population
    labour_entrants_k: Annotated[float, within(0.0, 1e5)]  # up to 100 m a year, near the world's yearly cohort
    public_external_debt_usd_bn: Annotated[float, within(*MONEY_USD_BN)]
    creditors: dict[str, Creditor]
    governance: Annotated[float, Field(ge=0.0, le=100.0)]
    opinion: dict[str, Opinion]
    trade_shares: dict[str, float]
    telecom_vendor_shares: dict[str, float]
    satellite_coverage: Share
    # 1 if a satellite-internet operator is licensed in the host, else 0 (events set it): offers of
    # a move that ``requires_satellite_licence`` are legal only where it is held (>= 0.5).
    satellite_licence: Share = 0.0
    cloud_shares: dict[str, float]
    logistics_platform_shares: dict[str, float]
    energy_export_shares: dict[str, float]
    energy_exports_usd_bn: Annotated[float, within(*ENERGY_EXPORTS_USD_BN)]
    # Gas exported by pipeline, bcm/yr: its destinations move only with pipeline capacity (0: none).
    gas_exports_bcm: Annotated[float, within(*GAS_BCM)] = 0.0
    # The most gas its fields can export by pipeline, bcm/yr: new pipelines fill up to it and carry
    # nothing beyond (not given: today's gas_exports_bcm, no room to grow, as a deposit's max_output_t).
    gas_export_max_bcm: Annotated[float, within(*GAS_BCM)] | None = None
    renewables_share: Share
    green_tech_origin: dict[str, float]
    minerals: dict[str, Mineral] = Field(default_factory=dict)
    environment_damage: Annotated[float, Field(ge=0.0, le=100.0)]
    absorption_pct_gdp: Annotated[float, within(0.01, 50.0)]  # projects a state can take on per year, % of GDP
    debt_ceiling_pct_gdp: Annotated[float, within(0.0, 300.0)]  # 0: no new debt at all
    # Nominal USD GDP = real growth plus this deflator (0: GDP in constant USD, as before it existed).
    usd_deflator: Annotated[float, within(*USD_DEFLATOR)] = 0.0
    # The LIC-DSF class whose debt-service threshold marks distress (rules.distress_service_ratio_by_capacity);
    # None: the default rules.distress_service_ratio.
    debt_carrying_capacity: Literal[CAPACITY_CLASSES] | None = None
    sources: dict[str, str]

    @field_validator("creditors", mode="before")
    @classmethod
    def _creditor_ids(cls, v, info: ValidationInfo):
        creditors = _ids(info, "creditors")
        if isinstance(v, dict) and creditors is not None:
            _check_keys(v, creditors, "creditor")
        return v

    @field_validator("creditors")
    @classmethod
    def _creditors(cls, v, info: ValidationInfo):
        creditors = _ids(info, "creditors") or tuple(v)
        _check_vector({k: c.share for k, c in v.items()}, creditors, "creditor")
        return {k: v[k] for k in creditors}

    @field_validator("opinion")
    @classmethod
    def _opinion(cls, v, info: ValidationInfo):
        powers = _ids(info, "powers") or tuple(v)
        _check_keys(v, powers, "power")
        return {k: v[k] for k in powers}

    @field_validator(*HOST_VECTORS)
    @classmethod
    def _vector(cls, v, info: ValidationInfo):
        family, what, complete = HOST_VECTORS[info.field_name]
        keys = _ids(info, family)
        if keys is None:
            return _check_vector(v, None, what)
        if complete:  # partners keep the host's own order (the baseline's, which the goldens pin)
            return _check_vector(v, keys, what, keep_order=family == "partners")
        _check_keys(v, keys, what, complete=False)
        if not v:
            raise ValueError(f"names no {what} (give at least one)")
        return _check_vector(v, tuple(k for k in keys if k in v), what)

    @field_validator("minerals")
    @classmethod
    def _minerals(cls, v, info: ValidationInfo):
        minerals = _ids(info, "minerals")
        if minerals is None:
            return v
        _check_keys(v, minerals, "mineral", complete=False)
        return {k: v[k] if k in v else Mineral.model_validate({}, context=info.context) for k in minerals}

    @model_validator(mode="after")
    def _sourced(self):
        _check_sources(self.sources, HOST_FIGURES + _given(self, HOST_OPTIONAL_FIGURES), HOST_OPTIONAL_FIGURES)
        if self.gas_export_max_bcm is not None and self.gas_export_max_bcm < self.gas_exports_bcm:
            raise _FieldError(
                "gas_export_max_bcm", f"{self.gas_export_max_bcm:g} is below gas_exports_bcm {self.gas_exports_bcm:g}"
            )
        return self


HOST_FIGURES = [
    "gdp_usd_bn", "growth_rate", "revenue_share_gdp", "population_m", "labour_entrants_k",
    "public_external_debt_usd_bn", "creditors", "governance", "opinion", "trade_shares",
    "telecom_vendor_shares", "satellite_coverage", "cloud_shares", "logistics_platform_shares",
    "energy_export_shares", "energy_exports_usd_bn", "renewables_share", "green_tech_origin",
    "minerals", "environment_damage", "absorption_pct_gdp", "debt_ceiling_pct_gdp", "satellite_licence",
]  # fmt: skip
# Figures a host may leave out (their defaults keep the rules as they were); given, they need a source.
HOST_OPTIONAL_FIGURES = ["usd_deflator", "debt_carrying_capacity", "gas_exports_bcm", "gas_export_max_bcm"]

OBJECTIVES = (
    "influence",
    "leverage",
    "digital",
    "energy",
    "minerals",
    "corridor",
    "opinion",
    "cost",
)
CORRIDOR_INTERESTS = ("chinese_transit", "ca_exports_west", "northern_share")
# The origins of corridor cargo (routes' flow_shares, trade.flows): China-Europe transit, the
# region's exports westward, and the rest (third countries' trade, imports).
FLOWS = ("chinese_transit", "ca_exports", "other")


class PowerConfig(Strict):
    """A great power: budget, toolkit (move -> efficiency), objectives and strategy."""

    name: str
    display: str | None = None  # the name in sentences ("the US"); ``name`` if not given
    # Technology bloc whose standards the power's digital moves spread ("western"), and the trade
    # partner / energy destination its presence counts through ("west"): hosts' share vectors are
    # keyed by these. Powers of one bloc share its ties by ``rules.western_split``.
    bloc: str
    partner: str
    strategy: str
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    budget_usd_bn_per_year: Annotated[float, within(0.0, 1e3)]  # USD 1 trn a year, ten times China's peak BRI lending
    toolkit: dict[str, Annotated[float, within(0.01, 3.0)]]  # efficiency: below 1% a move is as good as absent
    objectives: dict[str, Annotated[float, within(*PAYOFF_WEIGHT)]]
    corridor_interest: Literal[CORRIDOR_INTERESTS]
    sources: dict[str, str]

    @field_validator("bloc")
    @classmethod
    def _bloc(cls, v):
        return _check_id(v, "bloc")

    @field_validator("partner")
    @classmethod
    def _partner(cls, v):
        return _check_id(v, "partner")

    @field_validator("toolkit")
    @classmethod
    def _toolkit(cls, v):
        if not v:
            raise ValueError("toolkit is empty: a power needs at least one move")
        return v

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, v):
        _check_keys(v, OBJECTIVES, "objective", complete=False)
        return {k: v.get(k, 0.0) for k in OBJECTIVES}

    @model_validator(mode="after")
    def _sourced(self):
        _check_sources(self.sources, ["budget_usd_bn_per_year", "toolkit", "objectives"])
        return self


class Effects(Strict):
    """What a completed project does. Share and opinion effects are per 1% of host GDP invested
    (intensity = size / GDP * 100); capacity, output and jobs effects are per USD bn."""

    influence: Annotated[float, within(0.0, 1.0)] = 0.0
    opinion: Annotated[float, within(-1.0, 1.0)] = 0.0  # at most the whole opinion scale per 1% of GDP
    # Projects add to the GDP level; their costs are environment and debt.
    gdp_level_pct: Annotated[float, within(0.0, PER_PCT_GDP)] = 0.0
    jobs_k_per_bn: Annotated[float, within(0.0, 1e3)] = 0.0  # 1 m jobs per USD bn is USD 1,000 a job
    governance: Annotated[float, within(-PER_PCT_GDP, PER_PCT_GDP)] = 0.0
    environment: Annotated[float, within(-PER_PCT_GDP, PER_PCT_GDP)] = 0.0
    telecom_shift: Share = 0.0
    satellite_coverage: Share = 0.0
    cloud_shift: Share = 0.0
    logistics_shift: Share = 0.0
    energy_export_shift: Share = 0.0
    renewables: Share = 0.0
    green_tech_shift: Share = 0.0
    # At most 1,000 t a year per USD m invested.
    mineral_output_t_per_bn: dict[str, Annotated[float, within(0.0, 1e6)]] = Field(default_factory=dict)
    mineral_offtake_shift: Share = 0.0
    local_processing: Share = 0.0
    route_capacity_mt_per_bn: dict[str, Annotated[float, within(-100.0, 100.0)]] = Field(default_factory=dict)
    route_delay_days_per_bn: dict[str, Annotated[float, within(*DAYS)]] = Field(default_factory=dict)
    # TRIPP-type realignment: USD/t the westward route's cost falls for the region's exports
    # (trade.realignment_max_cut_usd_per_t caps the sum).
    export_cost_cut_usd_per_t_per_bn: Annotated[float, within(0.0, 1e4)] = 0.0
    debt_relief: Share = 0.0
    # Export pipeline capacity to the offerer's energy partner, bcm/yr per USD bn (a host with
    # pipeline gas exports only).
    gas_pipeline_bcm_per_bn: Annotated[float, within(0.0, 1e3)] = 0.0

    @field_validator("mineral_output_t_per_bn")
    @classmethod
    def _minerals(cls, v, info: ValidationInfo):
        minerals = _ids(info, "minerals")
        if minerals is not None:
            _check_keys(v, minerals, "mineral", complete=False)
        return v

    @field_validator("route_capacity_mt_per_bn", "route_delay_days_per_bn")
    @classmethod
    def _routes(cls, v, info: ValidationInfo):
        routes = _ids(info, "routes")
        if routes is not None:
            _check_keys(v, routes, "route", complete=False)
        return v


class MoveType(Strict):
    """One entry of the move catalogue (see the table in docs/model.md)."""

    domain: Literal[DOMAINS]
    label: str
    purpose: str = ""
    size_min_usd_bn: Annotated[float, within(*PROJECT_USD_BN)]
    size_max_usd_bn: Annotated[float, within(*PROJECT_USD_BN)]
    lag_years: Annotated[float, within(0.0, 30.0)]  # longer than any project, and than most games
    debt_fraction: Share
    loan_rate: Annotated[float, within(*RATE)] = 0.0
    loan_maturity_years: Annotated[float, within(*MATURITY_YEARS)] = 15.0  # blends into a creditor's maturity
    private_per_public: Annotated[float, within(0.0, 100.0)] = 0.0  # private USD per public USD mobilised
    standards: Share
    # Share of the project that draws on the host's implementation capacity: turnkey projects
    # built by the lender's own contractors draw less (brief: little participation of local firms).
    local_absorption: Share = 1.0
    # Offers of the move are legal only to a host that holds a satellite licence (Starlink).
    requires_satellite_licence: bool = False
    effects: Effects = Field(default_factory=Effects)
    source: str

    @model_validator(mode="after")
    def _bounds(self):
        if self.size_max_usd_bn < self.size_min_usd_bn:
            raise ValueError("size_max_usd_bn is below size_min_usd_bn")
        return self

    @field_validator("source")
    @classmethod
    def _source(cls, v):
        _check_source_ref(v)
        return v

    @property
    def public_cost_share(self) -> float:
        """Share of a project's size the offering power pays (the rest is private capital)."""
        return 1.0 / (1.0 + self.private_per_public)


class RouteConfig(Strict):
    """A corridor for China-Europe transit and Central Asian exports westward."""

    name: str
    capacity_mt: Annotated[float, within(*FREIGHT_MT)]
    volume_mt: Annotated[float, within(*FREIGHT_MT)]
    transit_days: Annotated[float, within(0.1, DAYS[1])]
    delay_days: Annotated[float, within(*DAYS)]
    min_delay_days: Annotated[float, within(*DAYS)]
    tariff_usd_per_t: Annotated[float, within(0.0, 1e4)]  # above the value of most freight per tonne
    political_risk: Share
    # The route's cargo by origin at turn 0 (keys: FLOWS), on the simplex: it sets the flows' demand.
    flow_shares: dict[str, float]
    # Powers whose territory the route crosses: a power with the ``northern_share`` corridor
    # interest values the cargo on routes through it (the Northern Corridor through Russia).
    through: list[str] = Field(default_factory=list)
    sources: dict[str, str]

    @field_validator("flow_shares")
    @classmethod
    def _flows(cls, v):
        return _check_vector(v, FLOWS, "flow")

    @model_validator(mode="after")
    def _sourced(self):
        if self.volume_mt > self.capacity_mt:
            raise _FieldError("volume_mt", f"{self.volume_mt} is above capacity_mt {self.capacity_mt}")
        if self.delay_days < self.min_delay_days:
            raise _FieldError("delay_days", f"{self.delay_days} is below min_delay_days {self.min_delay_days}")
        _check_sources(
            self.sources,
            ["capacity_mt", "volume_mt", "transit_days", "delay_days", "min_delay_days", "tariff_usd_per_t",
             "political_risk", "flow_shares"],
        )  # fmt: skip
        return self


class FlowConfig(Strict):
    """Shippers of one origin of cargo (``FLOWS``): what a day on the way costs them."""

    value_of_time_usd_per_t_day: Annotated[float, within(0.0, 1e4)]


class TradeConfig(Strict):
    """Corridor cargo demand and how shippers choose routes: each flow (origin) a logit over its
    generalised cost, which rises with congestion (docs/model.md 7.7)."""

    demand_mt: Annotated[float, within(0.01, FREIGHT_MT[1])]
    demand_growth: Annotated[float, within(-0.5, 0.5)]
    risk_cost_usd_per_t: Annotated[float, within(0.0, 1e5)]
    logit_scale_usd_per_t: Annotated[float, within(0.01, 1e5)]  # spread of shippers' route costs, USD/t
    adjustment_rate: Annotated[float, within(0.01, 20.0)]  # per year: a time constant between 18 days and 100 years
    # Volume-delay (BPR) function: time and tariff x (1 + alpha (V/cap)^beta); alpha 10 is 11 times at capacity.
    congestion_time_alpha: Annotated[float, within(0.0, 10.0)]
    congestion_cost_alpha: Annotated[float, within(0.0, 10.0)]
    congestion_beta: Annotated[float, within(0.0, 10.0)]  # V/cap is taken at most 2 (2^10 = 1024)
    # Reliability: the delay's standard deviation per day of delay, and its value per value of time.
    delay_cv: Annotated[float, within(0.0, 5.0)]
    reliability_ratio: Annotated[float, within(0.0, 10.0)]
    realignment_max_cut_usd_per_t: Annotated[float, within(0.0, 1e4)]
    # The origins of cargo (keys: FLOWS): each chooses routes by its own value of time.
    flows: dict[str, FlowConfig]
    # The route that carries Central Asian exports westward, bypassing Russia and China (the
    # Middle Corridor): realignment projects cut its cost for the region's exports, and the
    # ca_exports_west interest and the middle_ca_export_share metric read it.
    westward_route: str
    sources: dict[str, str]

    @field_validator("flows")
    @classmethod
    def _flows(cls, v):
        _check_keys(v, FLOWS, "flow")
        return {k: v[k] for k in FLOWS}

    @model_validator(mode="after")
    def _sourced(self):
        _check_sources(
            self.sources,
            ["demand_mt", "demand_growth", "risk_cost_usd_per_t", "logit_scale_usd_per_t", "adjustment_rate",
             "congestion_time_alpha", "congestion_cost_alpha", "congestion_beta", "delay_cv", "reliability_ratio",
             "realignment_max_cut_usd_per_t", "flows"],
        )  # fmt: skip
        return self


class WorldMineral(Strict):
    world_output_t: Annotated[float, within(1.0, 1e9)]  # t/yr: more than the world's output of any critical mineral
    china_share: Share  # China's own mining, a share of world output


class WorldConfig(Strict):
    """Global supply of the critical minerals the region produces."""

    minerals: dict[str, WorldMineral]
    sources: dict[str, str]

    @field_validator("minerals")
    @classmethod
    def _all(cls, v):
        if not v:
            raise ValueError("names no mineral (give at least one)")
        for m in v:
            try:
                _check_id(m, "mineral")
            except ValueError as exc:
                raise _FieldError(m, str(exc)) from None
        return v

    @model_validator(mode="after")
    def _sourced(self):
        _check_sources(self.sources, ["minerals"])
        return self


class RulesConfig(Strict):
    """Coefficients of the rules (docs/model.md, Submodels). Most are assumptions, stated."""

    influence_decay: Annotated[float, within(0.01, 5.0)]  # per year: influence fades within 100 years at the slowest
    # Each channel is a share, so presence stays within [0, 60].
    presence_weights: dict[str, Annotated[float, within(0.0, 10.0)]]
    western_split: dict[str, float]
    opinion_reversion: Annotated[float, within(0.0, 5.0)]
    opinion_influence: Annotated[float, within(0.0, 10.0)]
    distress_service_ratio: Annotated[float, within(0.01, 1.0)]  # debt service / revenue
    # Thresholds by debt-carrying capacity (hosts.*.debt_carrying_capacity); a class left out uses the default.
    distress_service_ratio_by_capacity: dict[Literal[CAPACITY_CLASSES], Annotated[float, within(0.01, 1.0)]] = Field(
        default_factory=dict
    )
    distress_opinion_swing: Annotated[float, within(0.0, 2.0)]
    distress_growth_penalty: Annotated[float, within(0.0, 0.5)]  # growth - penalty >= -0.8: GDP stays positive
    restructure_maturity_years: Annotated[float, within(0.0, 30.0)]
    failure_hazard: Annotated[float, within(0.0, 1.0)]
    delay_hazard: Annotated[float, within(0.0, 1.0)]
    failure_opinion: Annotated[float, within(0.0, 1.0)]
    environment_opinion: Annotated[float, within(0.0, 1.0)]  # per point of the 0-100 damage index
    jobs_opinion: Annotated[float, within(0.0, 10.0)]
    budget_carryover_years: Annotated[float, within(0.0, 5.0)]
    # Offers a power may make in one turn (check_offers enforces it; every built-in strategy stops there).
    max_offers_per_turn: Annotated[int, within(1, 100)]
    host_payoff_weights: dict[str, Annotated[float, within(*PAYOFF_WEIGHT)]]
    # Host payoff points per unit of annual growth (x 0.05 growth = 0.5), on the scale of its other terms (0..1).
    host_growth_payoff_scale: Annotated[float, within(0.0, 100.0)]
    sources: dict[str, str]

    @field_validator("presence_weights")
    @classmethod
    def _presence(cls, v):
        keys = ("trade", "debt", "digital", "energy", "minerals", "corridor")
        _check_keys(v, keys, "presence channel", complete=False)
        return {k: v.get(k, 0.0) for k in keys}

    @field_validator("western_split")
    @classmethod
    def _split(cls, v, info: ValidationInfo):
        """Share of a bloc's ties (trade, digital, energy) credited to each of its powers, for the
        blocs of several powers (the US and the G7 in the baseline's western bloc): keyed by the
        scenario's power ids, summing to 1 within each such bloc. A power alone in its bloc has
        all of its ties (it may be left out, or given 1)."""
        powers, bloc_of = _ids(info, "powers"), _ids(info, "bloc_of")
        if powers is None or bloc_of is None:
            return v
        _check_keys(v, powers, "power", complete=False)
        out: dict[str, float] = {}
        for bloc in dict.fromkeys(bloc_of[p] for p in powers if p in bloc_of):
            members = tuple(p for p in powers if bloc_of.get(p) == bloc)
            if len(members) > 1:
                try:
                    out.update(_check_vector({p: v[p] for p in members if p in v}, members, f"power of bloc {bloc}"))
                except _FieldError:
                    raise
                except ValueError as exc:
                    raise ValueError(f"the {bloc} bloc's powers ({', '.join(members)}): {exc}") from None
            elif members[0] in v:
                if v[members[0]] != 1.0:
                    raise _FieldError(
                        members[0], f"is alone in the {bloc} bloc and has all of its ties (give 1 or leave it out)"
                    )
                out[members[0]] = 1.0
        return {p: out[p] for p in powers if p in out}

    @field_validator("host_payoff_weights")
    @classmethod
    def _host_weights(cls, v):
        keys = ("growth", "autonomy", "debt", "jobs")
        _check_keys(v, keys, "host objective", complete=False)
        return {k: v.get(k, 0.0) for k in keys}

    @model_validator(mode="after")
    def _sourced(self):
        fields = type(self).model_fields
        figures = [n for n in fields if n != "sources" and fields[n].is_required()]
        optional = [n for n in fields if n not in figures and n != "sources"]
        _check_sources(self.sources, figures + _given(self, optional), optional)
        return self


PATH_RE = re.compile(
    r"^(hosts\.(\*|\{host\}|[a-z0-9_]+)(\.[a-z0-9_]+){1,3}|routes\.[a-z0-9_]+\.[a-z0-9_]+|trade\.[a-z0-9_]+)$"
)


# An event's factor (op "mul"): at most a hundredfold change at once (negative flips a sign, as of opinion).
EVENT_FACTOR = (-100.0, 100.0)


class EventEffect(Strict):
    """A change to state: ``path`` such as ``routes.northern.political_risk`` or
    ``hosts.{host}.gdp_usd_bn`` (``{host}`` is the event's target, ``*`` every host). A ``set``
    value must lie within the variable's bounds (checked by the scenario); ``add`` and ``mul``
    results are kept within them when the event fires (engine/events.py)."""

    path: str
    op: Literal["add", "mul", "set"]
    value: Annotated[float, within(-1e9, 1e9)]  # no state variable spans more (a mineral's output: 1e7 t)

    @field_validator("path")
    @classmethod
    def _path(cls, v):
        if not PATH_RE.match(v):
            raise ValueError(f"path {v!r} is not hosts.<id>.<field>, routes.<id>.<field> or trade.<field>")
        return v

    @model_validator(mode="after")
    def _factor(self):
        lo, hi = EVENT_FACTOR
        if self.op == "mul" and not lo <= self.value <= hi:
            raise _FieldError("value", f"a factor of {self.value} is outside [{lo:g}, {hi:g}]")
        return self


class GasPipelineEvent(Strict):
    """A gas export pipeline from the event's target host completes (kernels.open_gas_pipeline):
    ``capacity_bcm`` a year to ``destination``, a key of the host's ``energy_export_shares``."""

    destination: str
    capacity_bcm: Annotated[float, within(*GAS_BCM)]


class EventProject(Strict):
    """A deal an event signs: ``power``'s project of ``move`` in ``host`` of ``size_usd_bn``,
    committed when the event fires as if the host had accepted the power's offer (its debt, its
    lag, its hazards and its effects on completion), with its public cost granted to the power
    on top of its budget (the deal is financed outside its yearly allowance). Its size is the
    deal's own, within the schema's bounds of a project, not the move's size bounds."""

    power: str
    move: str
    host: str
    size_usd_bn: Annotated[float, within(*PROJECT_USD_BN)]


class EventConfig(Strict):
    """A scripted event (``at`` a date) or a random shock (``probability_per_year``): changes to
    state (``effects``), deals it signs (``projects``: scripted events only) and/or the completion
    of a gas export pipeline (``gas_pipeline``)."""

    name: str
    text: str
    at: str | None = None
    probability_per_year: Share | None = None
    target: str | None = None
    duration_turns: Annotated[int, Field(ge=1, le=400)] | None = None  # 400 turns: the longest game
    effects: list[EventEffect] = Field(default_factory=list)
    gas_pipeline: GasPipelineEvent | None = None
    projects: list[EventProject] = Field(default_factory=list)
    source: str

    @field_validator("at")
    @classmethod
    def _at(cls, v):
        if v is not None:
            parse_date(v)
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v):
        _check_source_ref(v)
        return v

    @model_validator(mode="after")
    def _when(self, info: ValidationInfo):
        if (self.at is None) == (self.probability_per_year is None):
            raise ValueError("give exactly one of 'at' (scripted) or 'probability_per_year' (random)")
        hosts = _ids(info, "hosts")
        if self.target is not None and self.target != "random_host" and hosts is not None and self.target not in hosts:
            raise ValueError(f"target {self.target!r} is not a host id or 'random_host'")
        uses_target = any("{host}" in e.path for e in self.effects)
        if uses_target and self.target is None:
            raise ValueError("an effect path uses {host} but the event has no target")
        if not self.effects and not self.projects and self.gas_pipeline is None:
            raise ValueError("changes nothing: give effects, projects or a gas_pipeline")
        if self.gas_pipeline is not None:
            if self.target is None:
                raise ValueError("a gas_pipeline event needs a target (the exporting host)")
            if self.duration_turns is not None:
                raise ValueError("a gas_pipeline stays built: it takes no duration_turns")
            partners = _ids(info, "partners")
            if partners is not None and self.gas_pipeline.destination not in partners:
                raise _FieldError("gas_pipeline.destination",
                                  f"{self.gas_pipeline.destination!r} is not a destination (expected one of "
                                  f"{', '.join(partners)})")  # fmt: skip
        if self.projects and (self.at is None or self.duration_turns is not None):
            # A deal is signed once, at its date: it is neither drawn nor undone when a duration ends.
            raise ValueError("projects are for scripted events ('at') without a duration_turns")
        return self


DATE_RE = re.compile(r"^(\d{4})(?:Q([1-4])|H([12])|-(0[1-9]|1[0-2]))?$")
# A turn's label, by turns per year: the year, its half, its quarter or its month.
PERIODS = {1: "a year", 2: "a half-year", 4: "a quarter", 12: "a month"}
PERIOD_STARTS = {1: "YYYY", 2: "YYYYH1/H2, YYYY-01/07 or YYYY", 4: "YYYYQn, YYYY-01/04/07/10 or YYYY", 12: "YYYY-MM"}


def parse_date(text: str) -> float:
    """``2025Q1`` / ``2025H2`` / ``2025-03`` / ``2025`` -> fractional year at the period's start."""
    m = DATE_RE.match(text)
    if not m:
        raise ValueError(f"date {text!r} is not YYYY, YYYYQn, YYYYHn or YYYY-MM")
    year, quarter, half, month = m.groups()
    if quarter:
        return int(year) + (int(quarter) - 1) / 4
    if half:
        return int(year) + (int(half) - 1) / 2
    if month:
        return int(year) + (int(month) - 1) / 12
    return float(year)


def start_month(text: str) -> int:
    """The month (0-11) in which a date (see :func:`parse_date`) starts."""
    return round((parse_date(text) % 1) * 12)


def format_date(year: float, turns_per_year: int) -> str:
    """Fractional year at a turn's start -> the label of the period it starts: ``2025`` (1 turn a
    year), ``2025H2`` (2), ``2025Q3`` (4) or ``2025-07`` (12). Exact for the turns of a scenario,
    whose start is aligned with its turns (see ``Scenario.start``). Raises ValueError for another
    number of turns per year."""
    months = math.floor(year * 12 + 1e-6)  # whole months: floats of 400 turns are off by far less
    whole, month = divmod(months, 12)
    if turns_per_year == 12:
        return f"{whole}-{month + 1:02d}"
    if turns_per_year == 4:
        return f"{whole}Q{month // 3 + 1}"
    if turns_per_year == 2:
        return f"{whole}H{month // 6 + 1}"
    if turns_per_year == 1:
        return str(whole)
    raise ValueError(f"turns_per_year: {turns_per_year} is not one of 1, 2, 4, 12")


# Checks of each actor's strategy, registered by the strategies package when it is imported (the
# package's __init__ imports it), so that this layer imports nothing above it.
STRATEGY_CHECKS: list[Callable[..., None]] = []


def _ids_arg(check: Callable[..., None], ids: dict) -> dict:
    """``{"ids": ids}`` for a check that takes them, else ``{}`` (a check written before actors were data)."""
    return {"ids": ids} if _takes_ids(check) else {}


@functools.lru_cache(maxsize=256)
def _takes_ids(check: Callable[..., None]) -> bool:
    """Whether ``check`` takes ``ids`` (its signature, read once: every validation asks)."""
    params = inspect.signature(check).parameters.values()
    return any(p.name == "ids" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def register_strategy_check(check: Callable[..., None]) -> None:
    """Have every scenario validation call ``check(where, kind, name, params, toolkit, actor=id,
    ids=ids)`` for each power, then each host (``where`` is ``powers.<id>`` or ``hosts.<id>``,
    ``kind`` ``"power"`` or ``"host"``, ``toolkit`` ``None`` for a host, ``ids`` the scenario's
    ``{"powers": (...), "hosts": (...)}``, passed to a check whose signature takes it). It refuses a scenario by raising
    ``_field_error(field, problem)``. Registering a check twice runs it once."""
    if check not in STRATEGY_CHECKS:
        STRATEGY_CHECKS.append(check)


class Scenario(Strict):
    """A whole game: the nine actors, the move catalogue, routes, rules, events and horizon."""

    name: FolderName  # it names the default output folder: never a path
    description: str
    start: str
    turns_per_year: Literal[1, 2, 4, 12]
    horizon_turns: Annotated[int, Field(ge=1, le=400)]  # 400 turns: a century of quarters
    powers: dict[str, PowerConfig]
    hosts: dict[str, HostConfig]
    moves: dict[str, MoveType]
    routes: dict[str, RouteConfig]
    trade: TradeConfig
    world: WorldConfig
    rules: RulesConfig
    events: list[EventConfig] = Field(default_factory=list)
    # Plausible range [low, high] of an uncertain figure, by its --set path ("hosts.tkm.public_external_debt_usd_bn"),
    # for calibration and sensitivity runs; the figure's own source says why the range is what it is.
    ranges: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(default_factory=dict)

    @field_validator("start", mode="before")
    @classmethod
    def _start_year(cls, v):
        # `start = 2025` in TOML (or --set start=2025) is an integer: the year it names.
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return v

    @field_validator("start")
    @classmethod
    def _start(cls, v):
        parse_date(v)
        return v

    @model_validator(mode="after")
    def _start_aligned(self):
        """A game starts at the start of one of its turns' periods, so that every turn is one
        whole period with its own label (a quarterly game starting in March would be off by one)."""
        tpy = self.turns_per_year
        if start_month(self.start) % (12 // tpy):
            raise _field_error("start", f"{self.start} is not the start of {PERIODS[tpy]}, where a game of {tpy} "
                               f"turn{'s' if tpy > 1 else ''} a year starts ({PERIOD_STARTS[tpy]})")  # fmt: skip
        return self

    @field_validator("turns_per_year", mode="before")
    @classmethod
    def _turns_per_year(cls, v):
        # A literal choice accepts True as 1 even in strict mode: a boolean is not a number of turns.
        if isinstance(v, bool):
            raise ValueError(f"must be one of 1, 2, 4 or 12 (an integer), not {str(v).lower()}")
        return v

    @classmethod
    def model_validate(cls, obj: Any, *, context: Any = None, **kwargs: Any) -> Scenario:
        """Validate a raw scenario against its own ids (:func:`scenario_ids`, the validation context)."""
        if context is None:
            context = scenario_ids(obj)
        return super().model_validate(obj, context=context, **kwargs)

    @field_validator("powers", mode="before")
    @classmethod
    def _powers(cls, v):
        return _id_table(v, "power")

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts(cls, v):
        return _id_table(v, "host")

    @field_validator("routes", mode="before")
    @classmethod
    def _routes(cls, v):
        return _id_table(v, "route")

    @model_validator(mode="after")
    def _distinct_actors(self):
        both = [a for a in self.powers if a in self.hosts]
        if both:
            raise _field_error(f"hosts.{both[0]}", "is also a power's id (every actor needs its own id)")
        for rid, route in self.routes.items():
            for i, p in enumerate(route.through):
                if p not in self.powers:
                    raise _field_error(f"routes.{rid}.through.{i}", f"{p!r} is not a power of this scenario "
                                       f"({', '.join(self.powers)})")  # fmt: skip
        if self.trade.westward_route not in self.routes:
            raise _field_error("trade.westward_route", f"{self.trade.westward_route!r} is not a route of this "
                               f"scenario ({', '.join(self.routes)})")  # fmt: skip
        return self

    # ------------------------------------------------------------------ the scenario's ids

    @property
    def power_ids(self) -> tuple[str, ...]:
        """The powers, in the order of the file (the order of every power column)."""
        return tuple(self.powers)

    @property
    def host_ids(self) -> tuple[str, ...]:
        return tuple(self.hosts)

    @property
    def route_ids(self) -> tuple[str, ...]:
        return tuple(self.routes)

    @property
    def mineral_ids(self) -> tuple[str, ...]:
        """The critical minerals (of ``world.minerals``); every host has an entry for each."""
        return tuple(self.world.minerals)

    @property
    def creditor_ids(self) -> tuple[str, ...]:
        return (*self.powers, *NON_POWER_CREDITORS)

    @property
    def bloc_ids(self) -> tuple[str, ...]:
        """The powers' distinct technology blocs, in power order."""
        return tuple(dict.fromkeys(p.bloc for p in self.powers.values()))

    @property
    def actor_ids(self) -> tuple[str, ...]:
        """Powers then hosts: the order of actors in every output."""
        return (*self.powers, *self.hosts)

    def display_names(self) -> dict[str, str]:
        """Each actor's name for sentences: its ``display``, else its ``name``."""
        return {a: c.display or c.name for a, c in (*self.powers.items(), *self.hosts.items())}

    @field_validator("moves")
    @classmethod
    def _moves(cls, v):
        if len(v) < 1:
            raise ValueError("the move catalogue is empty")
        return v

    @model_validator(mode="after")
    def _cross(self):
        ids = {"powers": self.power_ids, "hosts": self.host_ids}  # what a strategy's tables may name
        for pid, p in self.powers.items():
            for move in p.toolkit:
                if move not in self.moves:
                    raise _field_error(f"powers.{pid}.toolkit.{move}", "is not a move of the catalogue")
            for check in STRATEGY_CHECKS:
                check(
                    f"powers.{pid}",
                    "power",
                    p.strategy,
                    p.strategy_params,
                    p.toolkit,
                    actor=pid,
                    **_ids_arg(check, ids),
                )
        for hid, h in self.hosts.items():
            for check in STRATEGY_CHECKS:
                check(f"hosts.{hid}", "host", h.strategy, h.strategy_params, None, actor=hid, **_ids_arg(check, ids))
        self._check_world_minerals()
        self._check_ranges()
        start = parse_date(self.start)
        state = None
        for i, ev in enumerate(self.events):
            if ev.at is not None and parse_date(ev.at) < start - 1e-9:
                raise _field_error(f"events.{i}.at", f"{ev.at} is before the scenario start {self.start}")
            for j, pr in enumerate(ev.projects):
                self._check_event_project(f"events.{i}.projects.{j}", pr)
            for j, eff in enumerate(ev.effects):
                state = state or _state_shape(self)
                where = f"events.{i}.effects.{j}.path"
                parts = eff.path.split(".")
                if parts[0] == "hosts" and (parts[2] in HOST_VECTORS or "offtake" in parts):
                    raise _field_error(where, f"{eff.path!r} is part of a share vector, which events cannot change")
                if not _path_exists(state, eff.path, ev.target):
                    raise _field_error(where, f"{eff.path!r} names no state variable")
                name = state_variable(eff.path)
                lo, hi = STATE_BOUNDS[name]
                if eff.op == "set" and not lo <= eff.value <= hi:
                    raise _field_error(
                        f"events.{i}.effects.{j}.value",
                        f"{eff.value} is outside [{lo:g}, {hi:g}], the bounds of {name}",
                    )
        return self

    def _check_ranges(self) -> None:
        """Each range names a number of the scenario and low <= high. Whether it holds the value is
        not checked here: --set may take a figure outside its plausible range on purpose."""
        for path, (lo, hi) in self.ranges.items():
            node: Any = self
            for part in path.split("."):
                node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
                if node is None or part == "sources":
                    break
            if not isinstance(node, int | float) or isinstance(node, bool):
                raise _field_error(f"ranges.{path}", "names no number of the scenario")
            if not lo <= hi:
                raise _field_error(f"ranges.{path}", f"[{lo:g}, {hi:g}] is empty (low must not exceed high)")

    def distress_threshold(self, host: str) -> float:
        """Debt service / revenue above which host ``host`` is in distress: the threshold of its
        debt-carrying capacity if it has one and the rules give one, else the default."""
        capacity = self.hosts[host].debt_carrying_capacity
        return self.rules.distress_service_ratio_by_capacity.get(capacity, self.rules.distress_service_ratio)

    def _check_event_project(self, where: str, pr: EventProject) -> None:
        """A deal names a power, a move of its toolkit and a host."""
        if pr.power not in self.powers:
            raise _field_error(f"{where}.power", f"{pr.power!r} is not a power id")
        if pr.move not in self.powers[pr.power].toolkit:
            raise _field_error(f"{where}.move", f"{pr.move!r} is not in the toolkit of {pr.power}")
        if pr.host not in self.hosts:
            raise _field_error(f"{where}.host", f"{pr.host!r} is not a host id")
        # Its size is the deal's own (sourced), not bound by the move's size_min/size_max, which bound
        # what strategies offer: a scenario that narrows them keeps its deals.

    def _check_world_minerals(self) -> None:
        """World output covers China's own mining and the region's output at the start, so that
        every secured share of world supply stays within [0, 1]."""
        for m, world in self.world.minerals.items():
            region = sum(h.minerals[m].output_t for h in self.hosts.values())
            outside_china = world.world_output_t * (1.0 - world.china_share)
            if region > outside_china * (1.0 + 1e-9):
                raise _field_error(
                    f"world.minerals.{m}.world_output_t",
                    f"{world.world_output_t:g} t leaves {outside_china:g} t outside China, below the region's "
                    f"output of {region:g} t (hosts.*.minerals.{m}.output_t)",
                )

    @property
    def dt(self) -> float:
        """Length of a turn in years: every annual rate in the config is scaled by it."""
        return 1.0 / self.turns_per_year


# Config fields that are not state variables of the running game (events cannot touch them).
NOT_STATE = ("name", "display", "strategy", "strategy_params", "sources", "public_external_debt_usd_bn")


def _state_shape(sc: Scenario) -> dict:
    """The shape of the game's state, as events address it: the config's tables less what is
    not state, with each creditor's ``share`` replaced by its ``debt`` stock (as HostAgent holds it)."""
    data = sc.model_dump(include={"hosts", "routes", "trade"})
    for host in data["hosts"].values():
        for k in NOT_STATE:
            host.pop(k, None)
        if host.get("gas_export_max_bcm") is None:  # (not given: today's exports, a state variable all the same)
            host["gas_export_max_bcm"] = host["gas_exports_bcm"]
        for c in host["creditors"].values():
            c["debt"] = c.pop("share")
    for route in data["routes"].values():
        for k in ("name", "sources", "through", "flow_shares"):
            route.pop(k)
    for k in ("sources", "westward_route", "flows", "realignment_max_cut_usd_per_t"):  # not state
        data["trade"].pop(k)
    return data


def _bounds(annotation: Any, metadata: list | tuple = ()) -> tuple[float, float] | None:
    """Closed bounds of a number (or of a table's numbers) from its pydantic metadata; None if it
    is not a number. An exclusive bound is given as the nearest float inside it."""
    origin = typing.get_origin(annotation)
    if origin is dict:
        return _bounds(typing.get_args(annotation)[1])
    if origin is Annotated:
        base, *extra = typing.get_args(annotation)
        meta = list(metadata)
        for e in extra:
            meta.extend(e.metadata if isinstance(e, FieldInfo) else [e])
        return _bounds(base, meta)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _bounds(args[0], metadata) if len(args) == 1 else None
    if annotation not in (float, int):
        return None
    lo, hi = -math.inf, math.inf
    for m in metadata:
        if getattr(m, "ge", None) is not None:
            lo = max(lo, float(m.ge))
        if getattr(m, "gt", None) is not None:
            lo = max(lo, math.nextafter(float(m.gt), math.inf))
        if getattr(m, "le", None) is not None:
            hi = min(hi, float(m.le))
        if getattr(m, "lt", None) is not None:
            hi = min(hi, math.nextafter(float(m.lt), -math.inf))
    return lo, hi


def number_bounds(model: type[BaseModel], name: str) -> tuple[float, float] | None:
    """Bounds (low, high) of a numeric field of a config table, or of the numbers of a table field
    (``dict[str, number]``); None if the field holds no numbers. Share vectors (``trade_shares``,
    ``offtake``, ...) carry no bounds here: their validator keeps them on the simplex."""
    field = model.model_fields[name]
    return _bounds(field.annotation, field.metadata)


def _state_bounds() -> dict[str, tuple[float, float]]:
    bounds: dict[str, tuple[float, float]] = {"debt": MONEY_USD_BN}  # a creditor's stock, as HostAgent holds it
    for model in (HostConfig, Creditor, Mineral, RouteConfig, TradeConfig):
        for name in model.model_fields:
            b = number_bounds(model, name)
            if name in NOT_STATE or name == "share" or b is None or not all(map(math.isfinite, b)):
                continue
            if bounds.setdefault(name, b) != b:  # events bound a variable by its field name alone
                raise TypeError(f"{name}: two state variables of this name with different bounds")
    return bounds


# Bounds of every state variable an event can address, by field name (the schema's own bounds).
STATE_BOUNDS: dict[str, tuple[float, float]] = _state_bounds()


def state_variable(path: str) -> str:
    """The field name whose bounds hold for an event path: ``hosts.kgz.opinion.china`` is an
    ``opinion``, ``hosts.*.creditors.private.rate`` a ``rate``, ``trade.demand_mt`` a ``demand_mt``."""
    parts = path.split(".")
    if parts[0] == "hosts" and parts[2] in STATE_BOUNDS:
        return parts[2]
    return parts[-1]


def _path_exists(state: dict, path: str, target: str | None) -> bool:
    parts = path.split(".")
    if parts[0] == "hosts" and parts[1] in ("*", "{host}"):
        hosts = list(state["hosts"])
        parts[1] = target if target in hosts else hosts[0]
    node: Any = state
    for p in parts:
        if not isinstance(node, dict) or p not in node or p == "sources":
            return False
        node = node[p]
    return isinstance(node, int | float) and not isinstance(node, bool)


def _id_table(v: Any, what: str) -> dict:
    """A table of actors or routes keyed by their ids (at least one; each id per :data:`ID_RE`)."""
    if not isinstance(v, dict):
        raise ValueError(f"must be a table of {what}s keyed by id")
    if not v:
        raise ValueError(f"names no {what} (a game needs at least one)")
    for k in v:
        try:
            _check_id(k, what)
        except ValueError as exc:
            raise _FieldError(str(k), str(exc)) from None
    return v


def _field_error(field: str, problem: str) -> _FieldError:
    return _FieldError(field, problem)


# ---------------------------------------------------------------------------------------------
# Loading, overrides, errors


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario names and files (every ``configs/*.toml`` but the data files of
    ``NOT_SCENARIOS``: the source ids and the dated observations). Listed again whenever the
    folder changes (a file added, removed or renamed changes its modification time)."""
    folder = configs_dir()
    key = (str(folder), os.stat(folder).st_mtime_ns)
    if _BUILTINS.get("key") != key:
        found = {p.stem: p for p in sorted(folder.glob("*.toml")) if p.stem not in NOT_SCENARIOS}
        _BUILTINS.update(key=key, found=found)
    return dict(_BUILTINS["found"])


_BUILTINS: dict = {}


NOT_SCENARIOS = ("sources", "observations")


def resolve_path(name_or_path: str | os.PathLike) -> Path:
    """A built-in scenario name, or a path to a TOML file."""
    text = str(name_or_path)
    builtins = builtin_scenarios()
    if text in builtins:
        return builtins[text]
    path = Path(text)
    if path.suffix == ".toml" or os.sep in text or path.exists():
        if path.is_dir():
            raise ConfigError(f"scenario: {text!r} is a folder, not a TOML file")
        if not path.is_file():
            raise ConfigError(f"scenario: file {text!r} does not exist")
        return path
    raise ConfigError(f"scenario: {text!r} is neither a built-in scenario ({', '.join(builtins)}) nor a .toml file")


# Limits that keep hostile files from exhausting the interpreter's stack: the deepest scenario key
# (hosts.kaz.minerals.uranium.offtake.china) is 6 levels, and no scenario needs a long extends chain.
MAX_NESTING = 32  # tables and arrays inside one another, in a file or a --set
MAX_EXTENDS = 32  # files a scenario's extends chain may pass through
UTF8_BOM = b"\xef\xbb\xbf"


def read_toml(path: Path) -> dict:
    """Read a TOML file with a one-line error for unreadable or malformed files.

    A UTF-8 byte-order mark (written by some Windows editors) is skipped. Raises
    :class:`ConfigError` for text that is not UTF-8 or not TOML, and for tables or arrays nested
    more than ``MAX_NESTING`` deep."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"scenario: cannot read {str(path)!r}: {exc.strerror}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"scenario: {path.name} is UTF-16 text (it starts with a byte-order mark); save it as UTF-8")
    try:
        text = data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"scenario: {path.name} is not UTF-8 text") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scenario: {path.name} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"scenario: {path.name}: tables or arrays nested more than {MAX_NESTING} deep") from None
    except ValueError as exc:  # an integer of more than 4,300 digits, which Python will not convert
        raise ConfigError(f"scenario: {path.name}: {str(exc).split(';')[0]}") from None
    where = _too_deep(raw, MAX_NESTING)
    if where is not None:
        raise ConfigError(f"scenario: {path.name}: tables or arrays nested more than {MAX_NESTING} deep (at {where})")
    return raw


def _too_deep(value: Any, limit: int) -> str | None:
    """Where ``value`` nests dicts and lists more than ``limit`` deep (a dotted path, shortened),
    or ``None``. Iterative, so it cannot itself run out of stack."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if len(path) >= limit:
            shown = ".".join(path[:4])
            return shown + ("..." if len(path) > 4 else "")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((child, (*path, str(k))) for k, child in items)
    return None


# A bare word: letters, digits and _ . - + { } with at least one letter (bri_2, 2025Q3, WB_GDP,
# hosts.{host}.debt_usd_bn), or a year and month (2025-03, which TOML does not read as a date).
# "1.2.3", text with spaces or quotes and unclosed brackets are not.
BARE_WORD = re.compile(r"[\w.+\-{}]*[^\W\d_][\w.+\-{}]*|\d{4}-\d{2}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``powers.china.strategy=bri_2`` -> (["powers", "china", "strategy"], "bri_2").

    The value is read as a TOML value (numbers, booleans, arrays, quoted strings, inline
    tables); a bare word (:data:`BARE_WORD`, e.g. ``bri_2``) is taken as a string. Anything
    else (an unterminated quote, an unclosed bracket, ``1.2.3``, text with spaces, an empty
    value) raises :class:`ConfigError` naming the ``--set``."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE with a dotted KEY")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: KEY must be dotted names like powers.china.strategy")
    if key.count(".") >= MAX_NESTING:
        raise ConfigError(f"--set {text[:60]!r}...: KEY has more than {MAX_NESTING} parts")
    if not raw:
        raise ConfigError(f'--set {text!r}: no VALUE after "=" (write {key}="" for an empty string)')
    try:
        doc = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        doc = None
    except RecursionError:
        raise ConfigError(f"--set {key}: VALUE nests arrays or tables more than {MAX_NESTING} deep") from None
    except ValueError as exc:  # an integer of more than 4,300 digits, which Python will not convert
        raise ConfigError(f"--set {key}: {str(exc).split(';')[0]}") from None
    if doc is not None and list(doc) == ["v"]:
        value = doc["v"]
    elif BARE_WORD.fullmatch(raw):
        value = raw
    else:
        raise ConfigError(
            f'--set {text!r}: not a valid VALUE (give a number, true/false, a "quoted string", an [array] '
            "or a bare word such as bri_2)"
        )
    if _too_deep(value, MAX_NESTING) is not None:
        raise ConfigError(f"--set {key}: VALUE nests arrays or tables more than {MAX_NESTING} deep")
    return key.split("."), value


def apply_overrides(raw: dict, overrides: list[str] | None) -> dict:
    """Apply dotted ``KEY=VALUE`` overrides to a raw scenario dict (returns a new dict)."""
    import copy

    data = copy.deepcopy(raw)
    for text in overrides or []:
        keys, value = parse_override(text)
        node = data
        for i, k in enumerate(keys[:-1]):
            if isinstance(node, list):
                if not k.isdigit() or int(k) >= len(node):
                    raise ConfigError(f"{'.'.join(keys[: i + 1])}: no such list item")
                node = node[int(k)]
                continue
            if k not in node:
                node[k] = {}  # a table the file leaves to its defaults; validation rejects unknown keys
            if not isinstance(node[k], dict | list):
                raise ConfigError(f"{'.'.join(keys[: i + 1])}: is a value, not a table")
            node = node[k]
        last = keys[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError(f"{'.'.join(keys)}: no such list item")
            node[int(last)] = value
        else:
            node[last] = value
    return data


def read_config(path: Path, kind: str) -> dict:
    """:func:`read_toml` for a file of another ``kind`` ("experiment", "tournament", ...): its
    one-line errors name that kind instead of "scenario"."""
    try:
        return read_toml(path)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("scenario:", f"{kind}:", 1)) from None


def validate_config(model: type[BaseModel], raw: dict):
    """``model.model_validate(raw)``, its errors as one :class:`ConfigError` line naming the field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None


# How pydantic names the branches of a union in an error's location (``str | StrategyEntry``: "str"
# and, for a model of this package, its wrap validator): not keys of the file.
_UNION_BRANCH = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\]|function-[a-z-]+\[.*\])$")


def _branch_at(err: dict) -> int | None:
    """The index in ``err``'s location of a union branch's name, if any."""
    return next((i for i, p in enumerate(err["loc"]) if isinstance(p, str) and _UNION_BRANCH.match(p)), None)


def _fitting_branches(errors: list[dict]) -> list[dict]:
    """``errors`` without those of a union's branch that does not take the input's type at all
    ("Input should be a valid string" for a table) when another branch says what is wrong with it."""

    def took_it(o: dict, at: int) -> bool:  # the branch took the input: its problem is inside it
        return len(o["loc"]) > at + 1 or not o["type"].endswith("_type")

    keep = []
    for e in errors:
        at = _branch_at(e)
        if at is not None and not took_it(e, at):
            where, branch = e["loc"][:at], e["loc"][at]
            if any(_branch_at(o) == at and o["loc"][:at] == where and o["loc"][at] != branch and took_it(o, at)
                   for o in errors):  # fmt: skip
                continue
        keep.append(e)
    return keep


def _format_validation_error(exc: ValidationError) -> str:
    """One line for pydantic's errors: the first unknown key (usually a typo of a required one)
    or else the first problem, then up to three required keys missing beside that unknown key
    (the closest name first, offered as "did you mean"), then a count of the rest."""
    errors = _fitting_branches(exc.errors())
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    shown = [err]
    line = _format_error(err)
    if err["type"] == "extra_forbidden":
        parent, unknown = err["loc"][:-1], str(err["loc"][-1])
        missing = [e for e in errors if e["type"] == "missing" and e["loc"][:-1] == parent]
        close = difflib.get_close_matches(unknown, [str(e["loc"][-1]) for e in missing], n=1)
        if close:
            line = line.replace(": unknown key", f": unknown key (did you mean {close[0]}?)", 1)
            missing.sort(key=lambda e: str(e["loc"][-1]) != close[0])
        for e in missing[:3]:
            line += "; " + _format_error(e)
            shown.append(e)
    rest = len(errors) - len(shown)
    return line + (f" (and {rest} more problem{'s' if rest > 1 else ''})" if rest else "")


def _shown(value: Any) -> str:
    """``repr(value)``, but an integer of more than 15 digits in short form (``1e+308``)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        try:
            return f"{float(value):.6g}"
        except OverflowError:  # beyond any float
            return f"{'-' if value < 0 else ''}1e+{int(abs(value).bit_length() * math.log10(2))}"
    return repr(value)


def _format_error(err: dict) -> str:
    """One pydantic error as ``field: problem``."""
    loc = [str(p) for p in err["loc"] if not (isinstance(p, str) and _UNION_BRANCH.match(p))]
    msg = err["msg"]
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _FieldError):
        return ".".join([*loc, inner.field]) + f": {inner.problem}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "missing (required)"
    elif "input" in err and not isinstance(err["input"], dict | list):
        msg = f"{msg} (got {_shown(err['input'])})"
    # Messages that name a sub-field ("sources.x: ...") already say where they point.
    m = re.match(r"^([a-z_]+\.[a-z_.0-9]+): (.*)$", msg)
    if not m and not loc:  # a rule of the whole file ("eval_seeds: ...") names its field itself
        m = re.match(r"^([a-z_][a-z_0-9]*): (.*)$", msg)
    if m:
        loc, msg = [*loc, m.group(1)], m.group(2)
    field = ".".join(loc) if loc else "scenario"
    return f"{field}: {msg}"


def validate_scenario(data: dict) -> Scenario:
    """Validate a raw scenario dict, raising :class:`ConfigError` with a one-line message."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None
    except _FieldError as exc:
        raise ConfigError(str(exc)) from None


def _merge(base: dict, over: dict) -> dict:
    """Deep-merge tables; any other value (lists included) in ``over`` replaces the base's."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_scenario_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """Raw scenario dict with ``extends = "other"`` resolved (the base is merged under it).

    A chain may pass through at most ``MAX_EXTENDS`` files and never through one twice."""
    if len(_seen) > MAX_EXTENDS:
        raise ConfigError(f"extends: a chain of more than {MAX_EXTENDS} extends (from {_seen[0].name})")
    raw = read_toml(path)
    base_name = raw.pop("extends", None)
    dropped = raw.pop("drop", None)
    if base_name is None:
        if dropped is not None:
            raise ConfigError(
                "drop: leaves out actors, routes or minerals of the scenario it extends; this one extends none"
            )
        return raw
    if not isinstance(base_name, str):
        raise ConfigError("extends: must be a scenario name or path")
    try:
        base_path = resolve_path(base_name if base_name in builtin_scenarios() else path.parent / base_name)
    except ConfigError as exc:
        raise ConfigError(f"extends: {str(exc).removeprefix('scenario: ')}") from None
    chain = (*_seen, path.resolve())
    if base_path.resolve() in chain:  # a cycle: name it from the file it comes back to
        cycle = [p.name for p in chain[chain.index(base_path.resolve()) :]] + [base_path.name]
        raise ConfigError(f"extends: a cycle, {' -> '.join(cycle)}")
    base = read_scenario_raw(base_path, (*_seen, path.resolve()))
    if dropped is not None:
        base = drop_ids(base, dropped)
    return _merge(base, raw)


# Tables whose keys are figure names, not ids: a drop leaves them alone.
_NOT_KEYED_BY_IDS = ("sources",)


def drop_ids(raw: dict, dropped: Any) -> dict:
    """``drop = ["g7"]`` in a scenario that extends another: the base's powers, hosts, routes or
    minerals of these ids are left out, with every table entry keyed by them (a host's opinion of
    a dropped power, its creditor share, a mineral's offtake, ``rules.western_split``, a strategy's
    ``host_weights``, ...), every list item naming them (``routes.<r>.through``) and every
    ``[ranges]`` entry whose path names them (``hosts.<h>.gdp_usd_bn``). Share vectors
    that lose a share no longer sum to 1: the extending file gives them again, which validation
    asks for, naming the field. Raises :class:`ConfigError` for an id the base does not have."""
    if not isinstance(dropped, list) or not all(isinstance(d, str) for d in dropped):
        raise ConfigError("drop: must be a list of ids of the base's powers, hosts, routes or minerals")
    known = scenario_ids(raw)
    for d in dropped:
        if not any(d in known[f] for f in ("powers", "hosts", "routes", "minerals")):
            raise ConfigError(f"drop: {d!r} is no power, host, route or mineral of the scenario it extends")
    gone = set(dropped)

    def prune(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: v if k in _NOT_KEYED_BY_IDS else prune(v) for k, v in node.items() if k not in gone}
        if isinstance(node, list):
            return [prune(v) for v in node if not (isinstance(v, str) and v in gone)]
        return node

    out = {k: v if k in ("events", "ranges") else prune(v) for k, v in raw.items()}
    if isinstance(raw.get("ranges"), dict):  # keyed by paths that name ids (hosts.tkm.gdp_usd_bn)
        out["ranges"] = {k: v for k, v in raw["ranges"].items() if not gone & set(str(k).split("."))}
    return out


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, mtime: float, overrides: tuple[str, ...]) -> Scenario:
    raw = read_scenario_raw(Path(path))
    return validate_scenario(apply_overrides(raw, list(overrides)))


def load_scenario(
    name_or_path: str | os.PathLike | Scenario = "baseline", overrides: list[str] | None = None
) -> Scenario:
    """Load and validate a scenario by built-in name or path, with dotted overrides.

    Loads are cached by file, modification time and overrides; the scenario is immutable, so
    the cached object is shared safely."""
    if isinstance(name_or_path, Scenario):
        if not overrides:
            return name_or_path
        raw = name_or_path.model_dump(mode="python")
        return validate_scenario(apply_overrides(raw, overrides))
    path = resolve_path(name_or_path)
    # The cache key holds the modification times of the file's folder and of the built-in configs,
    # so editing a base that a scenario extends is seen too.
    stamp = max(e.stat().st_mtime for folder in {path.parent, configs_dir()} for e in os.scandir(folder)
                if e.name.endswith(".toml") and not e.name.startswith("."))  # fmt: skip
    return _load_cached(str(path.resolve()), stamp, tuple(overrides or ()))


def scenario_to_toml(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML text (re-loads to an identical scenario)."""
    import tomli_w

    data = scenario.model_dump(mode="python", exclude_none=True)
    return tomli_w.dumps(data)
