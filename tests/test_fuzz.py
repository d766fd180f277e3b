"""Whole games over the schema's whole range (issue 6, section 1): property-based, with Hypothesis.

Each example is a scenario drawn anywhere inside the schema's bounds, the bounds included, with
every actor playing a random strategy allowed for it, over a short horizon. Whatever the draw,
every turn must keep the game meaningful: finite metrics and actor records, shares in [0, 1]
(influence shares summing to 1), no negative debt, GDP or budget, and no spending beyond the
budget granted. An illegal offer or response raises StrategyError, which fails the example too.

The numbers come from the pydantic field metadata (``config.number_bounds``), so a new field is
drawn without touching this file; ``test_every_number_of_the_schema_is_bounded_and_drawn`` fails
if a numeric field has no finite bounds or escapes the draw. Hypothesis draws the shape of a
game (strategy mix, horizon, turn length, how often a number sits on a bound, events) and a
seed; the ~1,150 numbers of a scenario are drawn from that seed, since one Hypothesis example
cannot hold that many floats. ``derandomize=True`` makes CI deterministic.

By default this runs ``DEFAULT_GAMES`` games of at most 6 turns (a few seconds);
``STRATEGY_ABM_FUZZ_GAMES=N`` runs N games and ``STRATEGY_ABM_FUZZ_TURNS=T`` draws horizons up to T turns.
"""

from __future__ import annotations

import math
import os
import types
import typing

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from strategy_abm import CompetitionModel
from strategy_abm.scenario.config import (
    EVENT_FACTOR,
    HOST_VECTORS,
    PROJECT_USD_BN,
    STATE_BOUNDS,
    EventConfig,
    EventEffect,
    EventProject,
    GasPipelineEvent,
    Scenario,
    _state_shape,
    load_scenario,
    number_bounds,
    parse_date,
    state_variable,
    validate_scenario,
)
from strategy_abm.scenario.ids import HOSTS, MINERALS, POWERS, ROUTES
from strategy_abm.strategies import REGISTRY, strategies_for
from strategy_abm.strategies.base import TABLE_KEYS, TABLE_MAX, TABLE_MAX_DEFAULT

DEFAULT_GAMES = 300
GAMES = int(os.environ.get("STRATEGY_ABM_FUZZ_GAMES", DEFAULT_GAMES))
MAX_TURNS = int(os.environ.get("STRATEGY_ABM_FUZZ_TURNS", 6))  # horizons are drawn in [1, MAX_TURNS]
TOL = 1e-9  # float slack on shares, sums and budgets

BASELINE = load_scenario("baseline")
TEMPLATE = BASELINE.model_dump(mode="python")
# Fields of a scenario drawn by the games' shape rather than from their bounds.
SHAPE_FIELDS = {"turns_per_year", "horizon_turns", "events"}
# Share vectors carry no bounds of their own: their validator keeps them on the simplex.
SHARE_VECTORS = {*HOST_VECTORS, "offtake", "western_split", "flow_shares"}
# Tables keyed by ids where any subset of the ids may appear.
OPTIONAL_KEYS = {
    "mineral_output_t_per_bn": MINERALS,
    "route_capacity_mt_per_bn": ROUTES,
    "route_delay_days_per_bn": ROUTES,
}


# ------------------------------------------------------------------------------------ drawing


class Draw:
    """Numbers within bounds from one seed: a bound itself with probability ``edge``, else
    uniform or log-uniform (so that small magnitudes of wide ranges are drawn too)."""

    def __init__(self, seed: int, edge: float):
        self.rng = np.random.default_rng(seed)
        self.edge = edge
        self.drawn: set[tuple[str, str]] = set()  # (table class, field) pairs drawn

    def number(self, lo: float, hi: float) -> float:
        u = self.rng.random()
        if u < self.edge / 2:
            return lo
        if u < self.edge or lo == hi:
            return hi
        if self.rng.random() < 0.5:
            return float(min(hi, max(lo, self.rng.uniform(lo, hi))))
        # Log-uniform magnitude over the part of the range of the drawn sign.
        sign = 1.0 if hi > 0 and (lo >= 0 or self.rng.random() < 0.5) else -1.0
        top = hi if sign > 0 else -lo
        bottom = max(lo if sign > 0 else -hi, 0.0)
        floor = max(bottom, top * 1e-12)
        value = sign * math.exp(self.rng.uniform(math.log(floor), math.log(top)))
        return float(min(hi, max(lo, value)))

    def simplex(self, keys) -> dict[str, float]:
        keys = list(keys)
        if self.rng.random() < self.edge:  # a vertex: one key holds everything
            hot = keys[int(self.rng.integers(len(keys)))]
            return {k: float(k == hot) for k in keys}
        w = self.rng.dirichlet(np.full(len(keys), 0.5))
        w = w / w.sum()
        return {k: float(v) for k, v in zip(keys, w, strict=True)}

    def table(self, model: type[BaseModel], template: dict) -> dict:
        """A config table with every number redrawn within its field's bounds."""
        out = dict(template)
        for name, field in model.model_fields.items():
            if name not in template or name in SHAPE_FIELDS:
                continue
            value = template[name]
            sub = _submodel(field.annotation)
            if sub is not None and isinstance(value, dict) and typing.get_origin(field.annotation) is dict:
                out[name] = {k: self.table(sub, v) for k, v in value.items()}
            elif sub is not None:
                out[name] = self.table(sub, value)
            elif field.annotation is bool:
                out[name] = bool(self.rng.random() < 0.5)
            elif name in SHARE_VECTORS:
                out[name] = self.simplex(value)
                self.drawn.add((model.__name__, name))
            elif (bounds := number_bounds(model, name)) is not None:
                self.drawn.add((model.__name__, name))
                if isinstance(value, dict):
                    keys = (
                        [k for k in OPTIONAL_KEYS[name] if self.rng.random() < 0.5] if name in OPTIONAL_KEYS else value
                    )
                    out[name] = {k: self.number(*bounds) for k in keys}
                elif _is_int(field.annotation):  # a count (rules.max_offers_per_turn): a whole number
                    out[name] = int(round(self.number(*bounds)))
                else:
                    out[name] = self.number(*bounds)
        return out


def _is_int(annotation) -> bool:
    """An integer field (``int`` or ``Annotated[int, ...]``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is int


def _submodel(annotation) -> type[BaseModel] | None:
    """The config table a field holds (directly, optionally or as the values of a table keyed by id)."""
    if typing.get_origin(annotation) is dict:
        annotation = typing.get_args(annotation)[1]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # ``Table | None``
        tables = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        annotation = tables[0] if len(tables) == 1 else annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _addressable_paths() -> list[str]:
    """Every state variable an event may name, with the host written as ``<host>``."""
    paths = []

    def walk(node, prefix):
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, [*prefix, k])
            elif isinstance(v, int | float) and not isinstance(v, bool):
                paths.append(".".join([*prefix, k]))

    state = _state_shape(BASELINE)
    walk({"hosts": {"<host>": state["hosts"]["kaz"]}, "routes": state["routes"], "trade": state["trade"]}, [])
    vectors = [p for p in paths if p.startswith("hosts.") and (p.split(".")[2] in HOST_VECTORS or "offtake" in p)]
    return [p for p in paths if p not in vectors]


ADDRESSABLE = _addressable_paths()


def draw_events(d: Draw, turns_per_year: int, horizon: int) -> list[dict]:
    """Up to four events on random state variables, scripted within the game or random."""
    start = parse_date(TEMPLATE["start"])
    events = []
    for i in range(int(d.rng.integers(0, 5))):
        effects, target = [], None
        for _ in range(int(d.rng.integers(1, 3))):
            path = ADDRESSABLE[int(d.rng.integers(len(ADDRESSABLE)))]
            if path.startswith("hosts."):
                who = ["*", "{host}", HOSTS[int(d.rng.integers(len(HOSTS)))]][int(d.rng.integers(3))]
                if who == "{host}":
                    target = target or ["random_host", *HOSTS][int(d.rng.integers(len(HOSTS) + 1))]
                path = path.replace("<host>", who)
            op = ["add", "mul", "set"][int(d.rng.integers(3))]
            lo, hi = STATE_BOUNDS[state_variable(path)]
            if op == "set":
                value = d.number(lo, hi)
            elif op == "mul":
                value = d.number(*EVENT_FACTOR)
            else:
                value = d.number(-(hi - lo), hi - lo)
            effects.append({"path": path, "op": op, "value": value})
            d.drawn.add((EventEffect.__name__, "value"))
        event = {
            "name": f"fuzz_{i}",
            "text": "A drawn event in {host}",
            "effects": effects,
            "source": "assumption: fuzz",
        }
        if target is not None:
            event["target"] = target
        if d.rng.random() < 0.5:
            year = start + int(d.rng.integers(horizon + 1)) / turns_per_year
            event["at"] = f"{math.floor(year)}-{round((year - math.floor(year)) * 12) + 1:02d}"
        else:
            event["probability_per_year"] = d.number(0.0, 1.0)
            d.drawn.add((EventConfig.__name__, "probability_per_year"))
        if d.rng.random() < 0.5:
            event["duration_turns"] = int(d.rng.integers(1, horizon + 2)) if d.rng.random() < 0.9 else 400
            d.drawn.add((EventConfig.__name__, "duration_turns"))
        if "duration_turns" not in event and d.rng.random() < 0.3:  # a gas export pipeline completes
            event["target"] = event.get("target") or ["random_host", *HOSTS][int(d.rng.integers(len(HOSTS) + 1))]
            partners = list(TEMPLATE["hosts"]["tkm"]["energy_export_shares"])
            capacity = d.number(*number_bounds(GasPipelineEvent, "capacity_bcm"))
            destination = partners[int(d.rng.integers(len(partners)))]
            event["gas_pipeline"] = {"destination": destination, "capacity_bcm": capacity}
            d.drawn.add((GasPipelineEvent.__name__, "capacity_bcm"))
        if "at" in event and "duration_turns" not in event and d.rng.random() < 0.5:  # a deal signed
            pid = POWERS[int(d.rng.integers(len(POWERS)))]
            moves = sorted(BASELINE.powers[pid].toolkit)
            event["projects"] = [{"power": pid, "move": moves[int(d.rng.integers(len(moves)))],
                                  "host": HOSTS[int(d.rng.integers(len(HOSTS)))],
                                  "size_usd_bn": d.number(*PROJECT_USD_BN)}]  # fmt: skip
            d.drawn.add((EventProject.__name__, "size_usd_bn"))
        events.append(event)
    return events


def draw_params(d: Draw, name: str, toolkit) -> dict:
    """Some of a strategy's parameters, drawn within their bounds (tunables and tables)."""
    cls = REGISTRY[name]
    params = {}
    for key, (lo, hi) in cls.tunable.items():
        if d.rng.random() < 0.5:
            value = d.number(lo, hi)
            params[key] = int(round(value)) if type(cls.defaults[key]) is int else value  # a count: a whole number
    for key, default in cls.defaults.items():
        if isinstance(default, dict) and d.rng.random() < 0.3:
            top = TABLE_MAX.get(key, TABLE_MAX_DEFAULT)
            family = TABLE_KEYS.get(key)  # the baseline's ids of that family; move_weights: the power's own moves
            ids = {"hosts": HOSTS, "powers": POWERS}[family] if family else sorted(toolkit)
            params[key] = {k: d.number(0.0, top) for k in ids if d.rng.random() < 0.7}
    return params


def repair(raw: dict) -> dict:
    """Cross-field rules the schema checks, made to hold by moving the drawn numbers."""
    for host in raw["hosts"].values():  # creditors' shares are a share vector, drawn one by one
        total = sum(c["share"] for c in host["creditors"].values())
        for i, c in enumerate(host["creditors"].values()):
            c["share"] = c["share"] / total if total > 0 else float(i == 0)
    for host in raw["hosts"].values():  # an optional figure, given, needs a source
        if host.get("gas_export_max_bcm") is not None:  # the fields' ceiling is not below the exports
            host["gas_exports_bcm"], host["gas_export_max_bcm"] = sorted(
                (host.get("gas_exports_bcm", 0.0), host["gas_export_max_bcm"])
            )
        for figure in ("gas_exports_bcm", "gas_export_max_bcm"):
            if host.get(figure):
                host["sources"][figure] = "assumption: drawn"
    for host in raw["hosts"].values():  # a deposit's maximum output is not below its output
        for mineral in host["minerals"].values():
            if mineral.get("max_output_t") is not None:
                mineral["output_t"], mineral["max_output_t"] = sorted((mineral["output_t"], mineral["max_output_t"]))
    for move in raw["moves"].values():
        move["size_min_usd_bn"], move["size_max_usd_bn"] = sorted((move["size_min_usd_bn"], move["size_max_usd_bn"]))
    for route in raw["routes"].values():
        route["volume_mt"], route["capacity_mt"] = sorted((route["volume_mt"], route["capacity_mt"]))
        route["min_delay_days"], route["delay_days"] = sorted((route["min_delay_days"], route["delay_days"]))
    _, w_max = number_bounds(type(BASELINE.world.minerals["uranium"]), "world_output_t")
    for m, world in raw["world"]["minerals"].items():
        region = sum(h["minerals"][m]["output_t"] for h in raw["hosts"].values())
        if region > (1.0 - world["china_share"]) * world["world_output_t"]:
            if world["china_share"] < 1.0 and region / (1.0 - world["china_share"]) <= w_max:
                world["world_output_t"] = max(world["world_output_t"], region / (1.0 - world["china_share"]))
            else:
                world["world_output_t"] = w_max
                # (twice the room: 1 - a tiny ratio loses most of its digits in a float)
                world["china_share"] = max(0.0, 1.0 - 2.0 * region / w_max)
    return raw


def build_raw(
    seed: int, edge: float, turns_per_year: int, horizon: int, strategies: dict[str, str]
) -> tuple[dict, Draw]:
    d = Draw(seed, edge)
    raw = d.table(Scenario, TEMPLATE)
    raw["turns_per_year"] = turns_per_year
    raw["horizon_turns"] = horizon
    raw["events"] = draw_events(d, turns_per_year, horizon)
    for actor, name in strategies.items():
        table = raw["powers"][actor] if actor in POWERS else raw["hosts"][actor]
        table["strategy"] = name
        table["strategy_params"] = draw_params(d, name, table.get("toolkit", {}))
    return repair(raw), d


@st.composite
def games(draw):
    strategies = {p: draw(st.sampled_from(strategies_for("power", actors=p))) for p in POWERS}
    strategies |= {h: draw(st.sampled_from(strategies_for("host", actors=h))) for h in HOSTS}
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "edge": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        "turns_per_year": draw(st.sampled_from([1, 2, 4, 12])),
        "horizon": draw(st.integers(1, MAX_TURNS)),
        "strategies": strategies,
        "game_seed": draw(st.integers(0, 2**32 - 1)),
        "record": draw(st.booleans()),  # the event log and data collector too
    }


# ------------------------------------------------------------------------------------ invariants


def _within(value: float, lo: float, hi: float, what: str) -> None:
    assert lo - TOL <= value <= hi + TOL, f"{what} = {value!r} is outside [{lo}, {hi}]"


def check_turn(model: CompetitionModel) -> None:
    where = f"turn {model.turn}"
    m = model.metrics
    bad = sorted(k for k, v in m.items() if not math.isfinite(v))
    assert not bad, f"{where}: non-finite metrics {bad}"
    influence = [m[f"influence_{p}"] for p in POWERS]
    for p, v in zip(POWERS, influence, strict=True):
        _within(v, 0.0, 1.0, f"{where}: influence_{p}")
    assert abs(sum(influence) - 1.0) <= TOL, f"{where}: influence shares sum to {sum(influence)!r}"
    for name in ("west_secured_mineral_share", "tungsten_non_china_share", "middle_ca_export_share"):
        _within(m[name], 0.0, 1.0, f"{where}: {name}")
    for h in HOSTS:
        for name in (f"china_debt_share_{h}", f"diversification_{h}"):
            _within(m[name], 0.0, 1.0, f"{where}: {name}")
        assert m[f"distress_{h}"] in (0.0, 1.0)
        assert m[f"gdp_usd_bn_{h}"] > 0.0 and m[f"debt_to_gdp_{h}"] >= 0.0 and m[f"debt_service_ratio_{h}"] >= 0.0
    for r in ROUTES:
        volume, capacity = m[f"route_volume_mt_{r}"], m[f"route_capacity_mt_{r}"]
        assert volume >= 0.0 and capacity >= 0.0, f"{where}: route {r} {volume} of {capacity}"
        if model.turn > 0:  # after the trade rule ran (an event may cut capacity below the flow at once)
            assert volume <= capacity + TOL, f"{where}: route {r} carries {volume} above its capacity {capacity}"
    assert model.trade["demand_mt"] > 0.0

    for hid, host in model.hosts.items():
        rec = host.record
        bad = sorted(k for k, v in rec.items() if isinstance(v, float) and not math.isfinite(v))
        assert not bad, f"{where}: {hid} has non-finite {bad}"
        shares = [rec[f"influence_share_{p}"] for p in POWERS]
        for p, v in zip(POWERS, shares, strict=True):
            _within(v, 0.0, 1.0, f"{where}: {hid} influence_share_{p}")
        assert abs(sum(shares) - 1.0) <= TOL, f"{where}: {hid} influence shares sum to {sum(shares)!r}"
        shares = [k for k in rec if k.startswith(("debt_share_", "telecom_", "energy_exports_to_"))]
        for k in [*shares, "china_debt_share", "diversification", "satellite_coverage", "cloud_western",
                  "logistics_western", "renewables_share"]:  # fmt: skip
            _within(rec[k], 0.0, 1.0, f"{where}: {hid} {k}")
        for p in POWERS:
            _within(rec[f"opinion_{p}"], -1.0, 1.0, f"{where}: {hid} opinion_{p}")
        for k in ("governance", "environment_damage"):
            _within(rec[k], 0.0, 100.0, f"{where}: {hid} {k}")
        assert rec["gdp_usd_bn"] > 0.0, f"{where}: {hid} GDP {rec['gdp_usd_bn']}"
        assert rec["debt_usd_bn"] >= 0.0 and rec["jobs_created_k"] >= 0.0
        for c, cred in host.creditors.items():
            assert cred["debt"] >= 0.0 and cred["maturity_years"] > 0.0, f"{where}: {hid} owes {c} {cred}"
        for mineral, state in host.minerals.items():
            assert state["output_t"] >= 0.0
            _within(sum(state["offtake"].values()), 1.0, 1.0, f"{where}: {hid} {mineral} offtake sum")
        assert host.absorption_room >= -TOL * max(1.0, host.absorption_per_year())

    for pid, power in model.powers.items():
        rec = power.record
        bad = sorted(k for k, v in rec.items() if isinstance(v, float) and not math.isfinite(v))
        assert not bad, f"{where}: {pid} has non-finite {bad}"
        assert power.budget_available >= -TOL, f"{where}: {pid} budget {power.budget_available}"
        assert power.ledger.total <= power.budget_granted + TOL * max(1.0, power.budget_granted), (
            f"{where}: {pid} spent {power.ledger.total} of {power.budget_granted} granted"
        )
        assert rec["spent_turn"] >= 0.0 and rec["private_mobilised"] >= 0.0
        assert 0 <= rec["offers_accepted"] <= rec["offers_made"]
        for k, v in rec.items():
            if k.startswith("component_") and k != "component_cost":
                _within(v, 0.0, 1.0, f"{where}: {pid} {k}")
        assert rec["component_cost"] >= 0.0


def play(game: dict) -> CompetitionModel:
    raw, _ = build_raw(game["seed"], game["edge"], game["turns_per_year"], game["horizon"], game["strategies"])
    scenario = validate_scenario(raw)  # a drawn scenario the schema refuses is a bug of the draw or the schema
    model = CompetitionModel(scenario=scenario, seed=game["game_seed"], record=game["record"])
    check_turn(model)
    while model.running:
        model.step()
        check_turn(model)
    assert model.turn == game["horizon"]
    return model


@settings(
    max_examples=GAMES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(game=games())
def test_games_over_the_whole_schema_keep_their_invariants(game):
    play(game)


# ------------------------------------------------------------------------------------ the draw itself


def _numeric_fields(model: type[BaseModel], seen=None) -> set[tuple[str, str]]:
    """(table class, field) of every number or table of numbers in the schema below ``model``."""
    seen = set() if seen is None else seen
    out = set()
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        if sub is None and typing.get_origin(field.annotation) is list:
            sub = _submodel(typing.get_args(field.annotation)[0])
        if sub is not None:
            if sub not in seen:
                seen.add(sub)
                out |= _numeric_fields(sub, seen)
        elif name in SHARE_VECTORS or number_bounds(model, name) is not None:
            out.add((model.__name__, name))
    return out


def test_every_number_of_the_schema_is_bounded_and_drawn():
    """Every numeric field has finite bounds (or is a share vector), and the fuzz draws it."""
    fields = _numeric_fields(Scenario)
    unbounded = []
    for model_name, name in sorted(fields):
        if name in SHARE_VECTORS:
            continue
        model = next(m for m in _models(Scenario) if m.__name__ == model_name)
        lo, hi = number_bounds(model, name)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            unbounded.append(f"{model_name}.{name}")
    assert not unbounded, f"numbers without finite bounds: {unbounded}"
    drawn: set[tuple[str, str]] = set()
    for seed in range(20):
        strategies = {a: "random" for a in (*POWERS, *HOSTS)} | {"china": "parametric", "kgz": "china_leaning"}
        _, d = build_raw(seed, 0.5, 4, MAX_TURNS, strategies)
        drawn |= d.drawn
    shape = {("Scenario", "turns_per_year"), ("Scenario", "horizon_turns")}
    assert fields - shape - drawn == set(), "numbers the fuzz never draws"
    tables = {"HostConfig", "Creditor", "Mineral", "PowerConfig", "MoveType", "Effects", "RouteConfig",
              "TradeConfig", "FlowConfig", "WorldMineral", "RulesConfig", "EventConfig", "EventEffect",
              "EventProject", "GasPipelineEvent"}  # fmt: skip
    assert tables <= {t for t, _ in drawn}


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    out = [model]
    for field in model.model_fields.values():
        sub = _submodel(field.annotation)
        if sub is None and typing.get_origin(field.annotation) is list:
            sub = _submodel(typing.get_args(field.annotation)[0])
        if sub is not None and sub not in out:
            out += [m for m in _models(sub) if m not in out]
    return out


@pytest.mark.parametrize("edge", [0.0, 1.0])
def test_the_draw_reaches_the_bounds(edge):
    """With edge 1 every drawn number sits on a bound; with edge 0 (almost) none does."""
    raw, _ = build_raw(7, edge, 4, 3, {a: "random" for a in (*POWERS, *HOSTS)})
    gdp = [h["gdp_usd_bn"] for h in raw["hosts"].values()]
    on_bound = [g in number_bounds(type(BASELINE.hosts["kaz"]), "gdp_usd_bn") for g in gdp]
    assert all(on_bound) if edge == 1.0 else not any(on_bound)
    validate_scenario(raw)


def test_every_state_variable_an_event_can_address_is_bounded():
    """Events clamp each variable they change to its schema bounds (events.BOUNDS): all are finite."""
    names = {state_variable(p.replace("<host>", "kaz")) for p in ADDRESSABLE}
    assert {"gdp_usd_bn", "growth_rate", "debt", "maturity_years", "opinion", "output_t", "demand_growth"} <= names
    for name in names:
        lo, hi = STATE_BOUNDS[name]
        assert math.isfinite(lo) and math.isfinite(hi) and lo < hi, name
