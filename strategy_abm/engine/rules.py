"""The game's rules as pure functions.

Nothing here holds state or draws random numbers: each function maps plain values (floats and
small dicts keyed by the scenario's ids) to new values. The game's turn runs the compiled
rules of engine/kernels.py, the one implementation over the state; these are the same
equations for the strategies' Python code (``intensity``, ``best_deposit``) and for tests.
Equations are documented in docs/model.md (Submodels).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ..scenario.config import GDP_USD_BN


def intensity(size_usd_bn: float, gdp_usd_bn: float) -> float:
    """Size of a project in percent of the host's GDP: effects on shares scale with it."""
    return 100.0 * size_usd_bn / gdp_usd_bn


def shift_toward(shares: Mapping[str, float], key: str, amount: float) -> dict[str, float]:
    """Move ``amount`` (0..1) of every share to ``key``: s' = (1-a) s + a [k == key].

    Keeps the vector on the simplex; a key not in ``shares`` leaves it unchanged."""
    if key not in shares:
        return dict(shares)
    a = min(max(amount, 0.0), 1.0)
    return {k: (1.0 - a) * v + (a if k == key else 0.0) for k, v in shares.items()}


def diversification(shares: Iterable[float]) -> float:
    """Normalised 1 - HHI: 0 when one partner has everything, 1 when all have equal shares."""
    values = list(shares)
    n = len(values)
    total = sum(values)
    if n < 2 or total <= 0.0:
        return 0.0
    hhi = sum((v / total) ** 2 for v in values)
    return max(0.0, min(1.0, (1.0 - hhi) / (1.0 - 1.0 / n)))


def normalise(values: Mapping[str, float]) -> dict[str, float]:
    """Shares of a non-negative vector (equal shares when everything is zero)."""
    total = sum(values.values())
    if total <= 0.0:
        return {k: 1.0 / len(values) for k in values}
    return {k: v / total for k, v in values.items()}


# --------------------------------------------------------------------------------------- debt


def debt_service(creditors: Mapping[str, Mapping[str, float]]) -> float:
    """Annual gross public external debt service: interest plus amortisation,
    DS = sum_c D_c (r_c + 1 / m_c). Rolled-over amortisation is still paid (and re-borrowed),
    so it counts toward the debt-service ratio as in the IMF-World Bank framework."""
    return sum(c["debt"] * (c["rate"] + 1.0 / c["maturity_years"]) for c in creditors.values())


def amortise(creditors: Mapping[str, Mapping[str, float]], dt: float, gdp_growth: float) -> dict[str, float]:
    """Debt by creditor after one turn: the part not rolled over amortises, the rolled-over part
    (share rho_c) keeps pace with the economy (background borrowing from multilateral and
    private lenders): D_c' = D_c (1 - (1 - rho_c) dt / m_c) (1 + g)^(rho_c dt)."""
    return {
        k: c["debt"]
        * max(0.0, 1.0 - (1.0 - c["refinanced"]) * dt / c["maturity_years"])
        * (1.0 + gdp_growth) ** (dt * c["refinanced"])
        for k, c in creditors.items()
    }


def blend_rate(old_debt: float, old_rate: float, new_debt: float, new_rate: float) -> float:
    """Average rate of a creditor's stock after new lending (debt-weighted)."""
    total = old_debt + new_debt
    return old_rate if total <= 0.0 else (old_debt * old_rate + new_debt * new_rate) / total


def largest_power_creditor(creditors: Mapping[str, Mapping[str, float]], powers: Iterable[str]) -> str | None:
    """The great power holding most of a host's debt (None if it owes none of them)."""
    best, best_debt = None, 0.0
    for p in powers:
        d = creditors[p]["debt"]
        if d > best_debt:
            best, best_debt = p, d
    return best


# --------------------------------------------------------------------------------------- projects


def hazards(governance: float, standards: float, failure: float, delay: float, dt: float) -> tuple[float, float]:
    """Per-turn probabilities that a running project fails or slips a turn.

    Both scale with (1 - governance/100)(1 - standards): low governance and low standards fail
    more often (design.md). Hazards are annual rates turned into per-turn probabilities."""
    risk = (1.0 - governance / 100.0) * (1.0 - standards)
    return 1.0 - math.exp(-failure * risk * dt), 1.0 - math.exp(-delay * risk * dt)


def lag_turns(lag_years: float, turns_per_year: int) -> int:
    """Turns a project takes, counting the turn of commitment (which it works through): a
    one-turn project completes at the end of the turn it is accepted in."""
    return max(1, math.ceil(lag_years * turns_per_year - 1e-9))


def absorption_refill(room: float, annual: float, dt: float) -> float:
    """A host's absorption pool after a turn's refill: capacity comes back at the annual rate
    ``annual`` (USD bn a year) and can be saved up to one year's worth, so a lumpy project larger
    than one turn's capacity can still be taken on: min(A, pool + A dt)."""
    return min(annual, room + annual * dt)


def best_deposit(
    minerals: Mapping[str, Mapping], output_per_bn: Mapping[str, float], world_output: Mapping[str, float]
) -> str | None:
    """The deposit a minerals venture develops: among the host's developable minerals with output
    per USD bn > 0, the one whose output adds most to world supply (output per bn / world output),
    the first in ``minerals``' order on a tie; None if there is none. ``minerals``: the host's
    mineral states (``developable``); ``world_output``: t/yr by mineral."""
    best, best_share = None, 0.0
    for m, mineral in minerals.items():
        per_bn = output_per_bn.get(m, 0.0)
        if mineral["developable"] and per_bn > 0:
            share = per_bn / world_output[m]
            if best is None or share > best_share:
                best, best_share = m, share
    return best


# --------------------------------------------------------------------------------------- trade


def route_cost(route: Mapping[str, float], value_of_time: float, risk_cost: float) -> float:
    """Generalised cost per tonne: tariff + value of time x (transit + delay) + risk premium."""
    return (
        route["tariff_usd_per_t"]
        + value_of_time * (route["transit_days"] + route["delay_days"])
        + risk_cost * route["political_risk"]
    )


def route_targets(
    costs: Mapping[str, float], capacities: Mapping[str, float], demand: float, scale: float
) -> dict[str, float]:
    """Cargo each route would carry: logit shares of demand, then capacity limits.

    Cargo above a route's capacity spills to the uncapped routes in proportion to their logit
    weights; what no route can take is lost (unserved demand). The targets sum to at most demand.

    Weights are exp(-(c - c_min)/scale) <= 1, with 1 for the cheapest route. When the routes
    still open all weigh next to nothing (a small scale: the cheapest route is full and the
    others' weights underflow), they are weighed again against the cheapest open route, so the
    split never divides by zero or by a denormal sum."""
    cmin = min(costs.values())
    weights = {r: math.exp(-(c - cmin) / scale) for r, c in costs.items()}
    targets = dict.fromkeys(costs, 0.0)
    open_routes = list(costs)  # a list, not a set: float sums must not depend on hash order
    remaining = demand
    while remaining > 1e-12 and open_routes:
        wsum = sum(weights[r] for r in open_routes)
        if wsum < 1e-200:
            cmin_open = min(costs[r] for r in open_routes)
            weights.update({r: math.exp(-(costs[r] - cmin_open) / scale) for r in open_routes})
            wsum = sum(weights[r] for r in open_routes)
        alloc = {r: remaining * weights[r] / wsum for r in open_routes}
        remaining = 0.0
        for r in list(open_routes):
            room = capacities[r] - targets[r]
            if alloc[r] >= room:
                targets[r] = capacities[r]
                remaining += alloc[r] - room
                open_routes.remove(r)
            else:
                targets[r] += alloc[r]
    return targets


def adjust_volume(volume: float, target: float, capacity: float, rate: float, dt: float) -> float:
    """Partial adjustment of a route's flow toward its target (shippers switch with a lag)."""
    step = 1.0 - math.exp(-rate * dt)
    return min(capacity, max(0.0, volume + step * (target - volume)))


# --------------------------------------------------------------------------------------- influence


def western_credit(power: str, western_split: Mapping[str, float]) -> float:
    """Share of its bloc's ties credited to this power: ``rules.western_split`` for the powers of
    a bloc several share (the US and the G7), 1 for a power alone in its bloc (China, Russia)."""
    return western_split.get(power, 1.0)


def digital_share(host, bloc: str) -> float:
    """A bloc's mean share of a host's telecom gear, cloud and logistics platform (0 where it
    has no offer, as Russia in cloud and platforms)."""
    return (
        host.telecom_vendor_shares.get(bloc, 0.0)
        + host.cloud_shares.get(bloc, 0.0)
        + host.logistics_platform_shares.get(bloc, 0.0)
    ) / 3.0


def presence(
    host, power: str, weights: Mapping[str, float], western_split: Mapping[str, float], *, bloc: str, partner: str
) -> float:
    """Ongoing presence of a power in a host, 0..1: trade, debt, digital, energy and mineral ties
    (``bloc`` and ``partner``: the power's, which the host's share vectors are keyed by).

    Reads the host's state (duck-typed: any object with the host's state attributes)."""
    credit = western_credit(power, western_split)
    debt_total = sum(c["debt"] for c in host.creditors.values())
    debt = host.creditors[power]["debt"] / debt_total if debt_total > 0 else 0.0
    digital = digital_share(host, bloc)
    producing = [m for m in host.minerals.values() if m["output_t"] > 0]
    minerals = sum(m["offtake"][power] for m in producing) / len(producing) if producing else 0.0
    return (
        weights["trade"] * host.trade_shares[partner] * credit
        + weights["debt"] * debt
        + weights["digital"] * digital * credit
        + weights["energy"] * host.energy_export_shares.get(partner, 0.0) * credit
        + weights["minerals"] * minerals
    )


def legitimacy(opinion: float, opinion_influence: float) -> float:
    """Multiplier of presence by public opinion: 1 + k * opinion, never below zero."""
    return max(0.0, 1.0 + opinion_influence * opinion)


def bounded_gdp(gdp_usd_bn: float) -> float:
    """GDP kept within the schema's bounds (USD 0.1 bn to world GDP): intensities divide by it,
    and a long slump at the lowest growth the schema allows would otherwise shrink it toward 0."""
    lo, hi = GDP_USD_BN
    return min(hi, max(lo, gdp_usd_bn))


def influence_step(stock: float, inflow: float, decay: float, dt: float) -> float:
    """dI/dt = inflow - decay * I, integrated exactly over one turn (stock stays >= 0)."""
    equilibrium = inflow / decay
    return max(0.0, equilibrium + (stock - equilibrium) * math.exp(-decay * dt))


def opinion_step(opinion: float, anchor: float, reversion: float, dt: float) -> float:
    """Opinion relaxes toward its calibrated level; clipped to [-1, 1]."""
    value = anchor + (opinion - anchor) * math.exp(-reversion * dt)
    return min(1.0, max(-1.0, value))


def clip_opinion(value: float) -> float:
    return min(1.0, max(-1.0, value))
