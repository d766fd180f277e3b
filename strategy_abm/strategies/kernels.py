"""Compiled versions of the built-in strategies, over the state arrays (engine/arrays.py).

Each kernel decides as its Python class does (strategies/powers.py, hosts.py, generic.py), number
for number, from the same state; its parameters are a float64 vector built by
:func:`power_params` / :func:`host_params` from the strategy's ``params``. Kernel kinds:

- powers: :data:`PORTFOLIO` (the doctrines and ``parametric``), :data:`RANDOM`, :data:`GREEDY`;
- hosts: :data:`SCORING` (``multi_vector``, ``debt_averse``, ``china_leaning``,
  ``closed_neutral``), :data:`RANDOM`, :data:`GREEDY`.

A power's offers are rows (power, move, host, size); a host's answer is the indices of the
offers made to it that it accepts, in the order it accepts them. A strategy class says which
kernel decides as it does (``Strategy.kernel``): only while its decision methods are the built-in
ones, so a subclass that overrides one is played by its own Python code. Random draws come from the
actor's strategy stream at the turn's region (engine/streams.py), drawn with engine/pcg.py.
"""

from __future__ import annotations

import math

import numpy as np

from .._compiled import njit, njit_borrowing, njit_inline, notice_if_uncached
from ..engine import kernels as K
from ..engine import pcg
from ..engine.arrays import (
    C_DEBT,
    E_CLOUD,
    E_DEBT_RELIEF,
    E_ENERGY_EXPORT,
    E_ENVIRONMENT,
    E_GAS_PIPELINE,
    E_GDP_LEVEL,
    E_INFLUENCE,
    E_JOBS,
    E_LOGISTICS,
    E_OPINION,
    E_TELECOM,
    H_ABSORPTION_ROOM,
    H_DISTRESS,
    H_DISTRESS_RATIO,
    H_ENERGY_EXPORTS,
    H_GAS_EXPORTS,
    H_GDP,
    H_GOVERNANCE,
    H_LABOUR_ENTRANTS,
    H_SATELLITE_LICENCE,
    LICENCE_HELD,
    MV_ABSORPTION,
    MV_COST_SHARE,
    MV_DEBT_FRACTION,
    MV_NEEDS_SATELLITE_LICENCE,
    MV_SIZE_MAX,
    MV_SIZE_MIN,
    MV_STANDARDS,
    O_CREDITORS,
    O_INFLUENCE,
    O_MINERAL_OUTPUT,
    O_N_CREDITORS,
    O_N_POWERS,
    O_OPINION,
    P_BUDGET_AVAILABLE,
    P_OFFERS_MADE,
    PM_CREDITOR,
    PS_OBJECTIVES,
    RL_DT,
    RL_MAX_OFFERS,
)
from ..engine.kernels import (
    best_deposit,
    debt_room,
    debt_service_ratio,
    debt_total,
    deposit_room,
    gas_room,
    intensity,
    room_next_turn,
)
from ..engine.projects import Offer as _Offer
from ..engine.turn import CompiledTurn

NONE, PORTFOLIO, RANDOM, GREEDY, SCORING = range(5)

# Portfolio parameters: spend share, offer size, give-up rate, acceptance prior, offers per turn,
# number of moves weighted, then (move index, weight) pairs in the doctrine's order, then one
# weight per host.
PF_SPEND, PF_OFFER_SIZE, PF_GIVE_UP, PF_PRIOR, PF_OFFERS, PF_N_MOVES, PF_MOVES = range(7)
# Greedy (power and host) and random parameters.
GR_SPEND, GR_PRIOR, GR_ENVIRONMENT, GR_GOODWILL = range(4)
RA_ACCEPT = 0
# Scoring host parameters, then the bias per power, then 1/0 per move (allowed or not).
(SC_CONCENTRATION, SC_DEBT, SC_SOFT_CEILING, SC_THRESHOLD, SC_ABSORPTION_SCALE, SC_ENVIRONMENT, SC_GOODWILL,
 SC_CONCENTRATION_SCALE, SC_DEBT_BASE, SC_DISTRESS_FACTOR, SC_NEAR_SHARE, SC_EXEMPT, SC_BIAS) = range(13)  # fmt: skip


# ------------------------------------------------------------------------------------- shared helpers


@njit_inline
def round_down(size, size_min):
    """Offer sizes in whole thousands of USD, rounded down, never below the move's minimum."""
    return max(size_min, math.floor(size * 1e6 + 1e-6) / 1e6)


@njit_inline
def headroom_cap(absorption, debt, mv, k):
    """Largest size of move ``k`` within a host's absorption and debt room (inf if it uses neither)."""
    cap = math.inf
    if mv[k, MV_ABSORPTION] > 0:
        cap = absorption / mv[k, MV_ABSORPTION]
    if mv[k, MV_DEBT_FRACTION] > 0:
        cap = min(cap, debt / mv[k, MV_DEBT_FRACTION])
    return cap


@njit_inline
def host_room(hosts, o, pm, rl, p, room):
    """Per host (rows of ``room``): the absorption it will have when it answers, its debt room,
    what it owes power ``p``, whether it is in distress, and its satellite licence (powers.HostRoom)."""
    for h in range(hosts.shape[0]):
        room[h, 0] = room_next_turn(hosts, h, rl[RL_DT])
        room[h, 1] = debt_room(hosts, o, h)
        room[h, 2] = hosts[h, o[O_CREDITORS] + 4 * pm[p, PM_CREDITOR] + C_DEBT]
        room[h, 3] = hosts[h, H_DISTRESS]
        room[h, 4] = hosts[h, H_SATELLITE_LICENCE]


@njit_inline
def room_cap(room, mv, k, h, budget_left):
    """Largest legal and acceptable size of move ``k`` for host ``h`` (0 if none)."""
    if mv[k, MV_NEEDS_SATELLITE_LICENCE] and room[h, 4] < LICENCE_HELD:
        return 0.0
    cap = min(mv[k, MV_SIZE_MAX], budget_left / mv[k, MV_COST_SHARE], headroom_cap(room[h, 0], room[h, 1], mv, k))
    if mv[k, E_DEBT_RELIEF]:
        cap = min(cap, room[h, 2]) if room[h, 3] else 0.0
    return cap if cap >= mv[k, MV_SIZE_MIN] else 0.0


@njit_inline
def room_take(room, mv, k, h, size):
    room[h, 0] -= size * mv[k, MV_ABSORPTION]
    room[h, 1] -= size * mv[k, MV_DEBT_FRACTION]
    if mv[k, E_DEBT_RELIEF]:
        room[h, 2] -= size


@njit_inline
def acceptance_rate(acceptance, p, h, k, prior):
    return (acceptance[p, h, k, 0] + prior) / (acceptance[p, h, k, 1] + prior)


@njit_inline
def add_offer(out, n, p, k, h, size):
    out[n, 0], out[n, 1], out[n, 2], out[n, 3] = p, k, h, size
    return n + 1


# ------------------------------------------------------------------------------------- powers


@njit
def portfolio(hosts, powers, acceptance, o, mv, pm, rl, p, params, memory, out):
    """A doctrine's portfolio (powers.PortfolioStrategy.propose). ``memory``: the strategy's tallies
    across turns (offered per move [K], per host [H], total). Returns the number of offers."""
    n_hosts, n_moves = hosts.shape[0], mv.shape[0]
    return portfolio_with(hosts, powers, acceptance, o, mv, pm, rl, p, params, memory, out, np.empty((n_hosts, 5)),
                          np.empty(n_moves, dtype=np.int64))  # fmt: skip


@njit_borrowing
def portfolio_with(hosts, powers, acceptance, o, mv, pm, rl, p, params, memory, out, room, candidate):
    """:func:`portfolio` with scratch ``room`` (float64[H, 5]) and ``candidate`` (int64[K])."""
    n_hosts, n_moves = hosts.shape[0], mv.shape[0]
    n_weighted = int(params[PF_N_MOVES])
    host_w_at = PF_MOVES + 2 * n_weighted
    wm = 0.0
    for i in range(n_weighted):
        wm += params[PF_MOVES + 2 * i + 1]
    wh = 0.0
    for h in range(n_hosts):
        wh += params[host_w_at + h]
    if n_weighted == 0 or wh <= 0:
        return 0
    budget_left = powers[p, P_BUDGET_AVAILABLE] * params[PF_SPEND]
    host_room(hosts, o, pm, rl, p, room)
    for i in range(n_weighted):
        k = int(params[PF_MOVES + 2 * i])
        candidate[i] = mv[k, MV_SIZE_MIN] * mv[k, MV_COST_SHARE] <= budget_left
    offered_host_at, total_at = n_moves, n_moves + n_hosts
    most = min(int(rl[RL_MAX_OFFERS]), int(params[PF_OFFERS]))
    give_up, prior = params[PF_GIVE_UP], params[PF_PRIOR]
    n = 0
    while n < most:
        total = memory[total_at] if memory[total_at] != 0.0 else 1.0
        pick, pick_value = -1, 0.0
        for i in range(n_weighted):  # the move furthest below its target share (the first on a tie)
            if candidate[i]:
                k = int(params[PF_MOVES + 2 * i])
                value = params[PF_MOVES + 2 * i + 1] / wm - memory[k] / total
                if pick < 0 or value > pick_value:
                    pick, pick_value = i, value
        if pick < 0:
            break
        k = int(params[PF_MOVES + 2 * pick])
        best, best_score, best_cap = -1, -1e9, 0.0
        for h in range(n_hosts):
            w = params[host_w_at + h]
            if w <= 0:
                continue
            cap = room_cap(room, mv, k, h, budget_left)
            if cap <= 0:
                continue
            taken = False
            for j in range(n):
                if int(out[j, 2]) == h and int(out[j, 1]) == k:
                    taken = True
            if taken:
                continue
            rate = acceptance_rate(acceptance, p, h, k, prior)
            if rate < give_up:
                continue
            deficit = w / wh - memory[offered_host_at + h] / total
            score = deficit * rate if deficit >= 0 else deficit / rate
            if score > best_score:
                best, best_score, best_cap = h, score, cap
        if best < 0:
            candidate[pick] = False
            continue
        size_min, size_max = mv[k, MV_SIZE_MIN], mv[k, MV_SIZE_MAX]
        size = size_min + params[PF_OFFER_SIZE] * (size_max - size_min)
        size = round_down(min(max(size, size_min), best_cap), size_min)
        n = add_offer(out, n, p, k, best, size)
        room_take(room, mv, k, best, size)
        budget_left -= size * mv[k, MV_COST_SHARE]
        memory[k] = memory[k] + size
        memory[offered_host_at + best] += size
        memory[total_at] += size
        for i in range(n_weighted):
            if candidate[i]:
                kk = int(params[PF_MOVES + 2 * i])
                candidate[i] = mv[kk, MV_SIZE_MIN] * mv[kk, MV_COST_SHARE] <= budget_left
    return n


@njit
def random_power(hosts, powers, o, mv, pm, rl, toolkit_sorted, n_toolkit, p, stream, out):
    """``random`` as a power (generic.Random.propose): a drawn number of offers, each a uniformly
    drawn toolkit move (``toolkit_sorted``: move indices in id order) and host and size."""
    work = np.empty(3 * int(rl[RL_MAX_OFFERS]) + hosts.shape[0])
    return random_power_with(hosts, powers, o, mv, pm, rl, toolkit_sorted, n_toolkit, p, stream, out, work,
                             np.empty(2, dtype=np.uint64))  # fmt: skip


@njit_borrowing
def random_power_with(hosts, powers, o, mv, pm, rl, toolkit_sorted, n_toolkit, p, stream, out, work, buffer):
    """:func:`random_power` with scratch ``work`` (float64[3 max_offers + H]) and ``buffer`` (uint64[2])."""
    slots = int(rl[RL_MAX_OFFERS])
    buffer[0], buffer[1] = 0, 0
    count = pcg.bounded(stream, buffer, slots + 1)
    draws = work[: 3 * slots]
    for i in range(3 * slots):
        draws[i] = pcg.next_double(stream)
    n_hosts = hosts.shape[0]
    owed = work[3 * slots : 3 * slots + n_hosts]
    for h in range(n_hosts):
        owed[h] = hosts[h, o[O_CREDITORS] + 4 * pm[p, PM_CREDITOR] + C_DEBT]
    budget_left = powers[p, P_BUDGET_AVAILABLE]
    n = 0
    for i in range(count):
        k = toolkit_sorted[min(int(draws[3 * i] * n_toolkit), n_toolkit - 1)]
        h = min(int(draws[3 * i + 1] * n_hosts), n_hosts - 1)
        if mv[k, MV_NEEDS_SATELLITE_LICENCE] and hosts[h, H_SATELLITE_LICENCE] < LICENCE_HELD:
            continue  # not legal there yet: the slot is skipped
        hi = min(mv[k, MV_SIZE_MAX], budget_left / mv[k, MV_COST_SHARE])
        if mv[k, E_DEBT_RELIEF]:
            hi = min(hi, owed[h])
        if hi < mv[k, MV_SIZE_MIN]:
            continue
        size = mv[k, MV_SIZE_MIN] + (hi - mv[k, MV_SIZE_MIN]) * draws[3 * i + 2]
        n = add_offer(out, n, p, k, h, size)
        budget_left -= size * mv[k, MV_COST_SHARE]
        if mv[k, E_DEBT_RELIEF]:
            owed[h] -= size
    return n


@njit_inline
def estimate_gain(hosts, o, mv, ps, wm, toolkit, p, k, h, size):
    """First-order gain in power ``p``'s weighted payoff components from a project (powers.estimate_gain)."""
    n_hosts = hosts.shape[0]
    w = PS_OBJECTIVES
    eff = toolkit[p, k]
    room = gas_room(hosts[h])
    if mv[k, E_GAS_PIPELINE] and room <= 0.0:
        return 0.0  # a gas pipeline with no gas to carry is never of use (kernels.gas_room, kernels.complete)
    x = intensity(size, hosts[h, H_GDP]) * eff
    total_gdp, total_exports = 0.0, 0.0
    for i in range(n_hosts):
        total_gdp += hosts[i, H_GDP]
    for i in range(n_hosts):
        total_exports += hosts[i, H_ENERGY_EXPORTS]
    gdp_w = hosts[h, H_GDP] / total_gdp
    stocks = 0.0
    for i in range(o[O_N_POWERS]):
        stocks += hosts[h, o[O_INFLUENCE] + i]
    stocks = max(stocks, 1e-9) if stocks > 0 else 1.0
    gain = ps[p, w + 0] * gdp_w * mv[k, E_INFLUENCE] * x / stocks
    gain += ps[p, w + 1] * gdp_w * size * mv[k, MV_DEBT_FRACTION] / max(debt_total(hosts, o, h), 1e-9)
    digital = mv[k, E_TELECOM] + mv[k, E_CLOUD] + mv[k, E_LOGISTICS]
    gain += ps[p, w + 2] * digital * x / 3.0 / n_hosts
    energy_w = hosts[h, H_ENERGY_EXPORTS] / max(total_exports, 1e-9)
    gas = hosts[h, H_GAS_EXPORTS]
    if gas <= 0.0:  # (gas sold by pipeline goes where the pipes go: kernels.complete)
        gain += ps[p, w + 3] * mv[k, E_ENERGY_EXPORT] * x * energy_w
    elif mv[k, E_GAS_PIPELINE]:  # the new pipeline's share of the grown exports (kernels.open_gas_pipeline)
        capacity = min(mv[k, E_GAS_PIPELINE] * size * eff, room)
        gain += ps[p, w + 3] * capacity / (gas + capacity) * energy_w
    m = best_deposit(hosts[h], o, mv, wm, k)
    if m >= 0:
        added = min(mv[k, o[O_MINERAL_OUTPUT] + m] * size * eff, deposit_room(hosts[h], o, m))
        gain += ps[p, w + 4] * added / wm[m, 0] / wm.shape[0]
    gain += ps[p, w + 6] * mv[k, E_OPINION] * x / 2.0 / n_hosts
    return gain


@njit
def greedy_power(hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted, n_toolkit, host_rank,
                 p, params, out):  # fmt: skip
    """``greedy`` as a power (generic.Greedy.propose): the (move, host) pairs of highest estimated
    gain per unit of public cost, at the largest acceptable size, until the budget is spent."""
    n_hosts = hosts.shape[0]
    return greedy_power_with(hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted, n_toolkit,
                             host_rank, p, params, out, np.empty((n_hosts, 5)), np.empty(n_toolkit * n_hosts),
                             np.empty(3 * n_toolkit * n_hosts, dtype=np.int64))  # fmt: skip


@njit_borrowing
def greedy_power_with(hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted, n_toolkit,
                      host_rank, p, params, out, room, values, keys):  # fmt: skip
    """:func:`greedy_power` with scratch ``room`` (float64[H, 5]), ``values`` (float64[K H]) and
    ``keys`` (int64[3 K H])."""
    n_hosts = hosts.shape[0]
    budget_left = powers[p, P_BUDGET_AVAILABLE] * params[GR_SPEND]
    host_room(hosts, o, pm, rl, p, room)
    n_pairs = n_toolkit * n_hosts
    keys_k, keys_h, order = keys[:n_pairs], keys[n_pairs : 2 * n_pairs], keys[2 * n_pairs : 3 * n_pairs]
    n_scored = 0
    for i in range(n_toolkit):
        k = toolkit_sorted[i]
        for h in range(n_hosts):
            cap = room_cap(room, mv, k, h, budget_left)
            if cap <= 0:
                continue
            gain = estimate_gain(hosts, o, mv, ps, wm, toolkit, p, k, h, cap)
            cost = cap * mv[k, MV_COST_SHARE]
            rate = acceptance_rate(acceptance, p, h, k, params[GR_PRIOR])
            values[n_scored], keys_k[n_scored], keys_h[n_scored] = gain / cost * rate, i, h
            n_scored += 1
    # Sort by (-value, move id, host id): insertion sort, stable on the keys' order.
    for a in range(n_scored):
        order[a] = a
    for a in range(1, n_scored):
        j = order[a]
        b = a - 1
        while b >= 0 and _greedy_before(values, keys_k, keys_h, host_rank, j, order[b]):
            order[b + 1] = order[b]
            b -= 1
        order[b + 1] = j
    n = 0
    most = int(rl[RL_MAX_OFFERS])
    for a in range(n_scored):
        j = order[a]
        if values[j] <= 0 or n >= most:
            break
        k, h = toolkit_sorted[keys_k[j]], keys_h[j]
        cap = room_cap(room, mv, k, h, budget_left)
        if cap <= 0:
            continue
        size = round_down(cap, mv[k, MV_SIZE_MIN])
        n = add_offer(out, n, p, k, h, size)
        room_take(room, mv, k, h, size)
        budget_left -= size * mv[k, MV_COST_SHARE]
    return n


@njit_inline
def _greedy_before(values, keys_k, keys_h, host_rank, a, b):
    if -values[a] != -values[b]:
        return -values[a] < -values[b]
    if keys_k[a] != keys_k[b]:
        return keys_k[a] < keys_k[b]
    return host_rank[keys_h[a]] < host_rank[keys_h[b]]


# ------------------------------------------------------------------------------------- hosts


@njit_inline
def offer_benefit(hosts, o, mv, toolkit, h, p, k, size, environment_weight, goodwill_weight):
    """Growth, jobs, environment and relief of an offer as host ``h`` sees it (hosts.offer_benefit)."""
    gdp = hosts[h, H_GDP]
    eff = toolkit[p, k]
    x = intensity(size, gdp) * eff
    growth = mv[k, E_GDP_LEVEL] * x
    jobs = mv[k, E_JOBS] * size * eff / max(hosts[h, H_LABOUR_ENTRANTS], 1.0)
    environment = environment_weight * mv[k, E_ENVIRONMENT] * x * (1.0 - mv[k, MV_STANDARDS])
    relief = mv[k, E_DEBT_RELIEF] * size / gdp * 100.0
    goodwill = goodwill_weight * x * (1.0 + hosts[h, o[O_OPINION] + p])
    return growth + jobs - environment + relief + goodwill


@njit_borrowing
def within_limits(hosts, o, mv, h, offers, ordered, n_ordered, absorption_scale, accepted):
    """Accept offers in the given order while they fit the absorption (scaled) and debt limits
    (HostStrategy.within_limits). Returns the number accepted (indices into ``accepted``)."""
    absorption = hosts[h, H_ABSORPTION_ROOM] * absorption_scale
    debt = debt_room(hosts, o, h)
    n = 0
    for a in range(n_ordered):
        i = ordered[a]
        k, size = int(offers[i, 1]), offers[i, 3]
        if size * mv[k, MV_ABSORPTION] <= absorption + 1e-12 and size * mv[k, MV_DEBT_FRACTION] <= debt + 1e-12:
            accepted[n] = i
            n += 1
            absorption -= size * mv[k, MV_ABSORPTION]
            debt -= size * mv[k, MV_DEBT_FRACTION]
    return n


@njit
def _rank_by_value(values, used, index, n):
    """Indices 0..n-1 sorted by (-value/used, index): insertion sort."""
    order = np.empty(n, dtype=np.int64)
    rank_into(values, used, index, n, order)
    return order


@njit_borrowing
def rank_into(values, used, index, n, order):
    """:func:`_rank_by_value` into ``order``."""
    for a in range(n):
        order[a] = a
    for a in range(1, n):
        j = order[a]
        b = a - 1
        while b >= 0 and (
            -values[j] / used[j] < -values[order[b]] / used[order[b]]
            or (-values[j] / used[j] == -values[order[b]] / used[order[b]] and index[j] < index[order[b]])
        ):
            order[b + 1] = order[b]
            b -= 1
        order[b + 1] = j


@njit
def scoring_host(hosts, o, mv, toolkit, rl, h, params, offers, made, n_made, accepted):
    """A scoring host (hosts.ScoringHost.respond): benefit minus weighted concentration and debt
    penalties, ranked by value per USD bn of absorption, accepted within its limits. ``made``:
    indices of the offers made to it (rows of ``offers``). Returns the number accepted."""
    return scoring_host_with(hosts, o, mv, toolkit, rl, h, params, offers, made, n_made, accepted,
                             np.empty(2 * n_made), np.empty(4 * n_made, dtype=np.int64))  # fmt: skip


@njit_borrowing
def scoring_host_with(hosts, o, mv, toolkit, rl, h, params, offers, made, n_made, accepted, work, keys):
    """:func:`scoring_host` with scratch ``work`` (float64[2 n_made]) and ``keys`` (int64[4 n_made])."""
    n_powers = o[O_N_POWERS]
    stock = 0.0
    for p in range(n_powers):
        stock += hosts[h, o[O_INFLUENCE] + p]
    threshold = hosts[h, H_DISTRESS_RATIO]  # of the host's debt-carrying capacity
    near = bool(hosts[h, H_DISTRESS]) or debt_service_ratio(hosts, o, h) > params[SC_NEAR_SHARE] * threshold
    allowed_at = SC_BIAS + n_powers
    values, used = work[:n_made], work[n_made : 2 * n_made]
    index, candidates = keys[:n_made], keys[n_made : 2 * n_made]
    order, ordered = keys[2 * n_made : 3 * n_made], keys[3 * n_made : 4 * n_made]
    n = 0
    gdp = hosts[h, H_GDP]
    for a in range(n_made):
        i = made[a]
        p, k, size = int(offers[i, 0]), int(offers[i, 1]), offers[i, 3]
        if not params[allowed_at + k]:
            continue
        x = intensity(size, gdp)
        share = hosts[h, o[O_INFLUENCE] + p] / stock if stock > 0.0 else 1.0 / n_powers
        concentration = params[SC_CONCENTRATION_SCALE] * max(0.0, share - 1.0 / n_powers) * x
        score = (
            offer_benefit(hosts, o, mv, toolkit, h, p, k, size, params[SC_ENVIRONMENT], params[SC_GOODWILL])
            - params[SC_CONCENTRATION] * concentration
            - params[SC_DEBT] * _debt_cost(hosts, o, mv, h, k, size, near, params)
            + params[SC_BIAS + p] * x
        )
        if p == int(params[SC_EXEMPT]):
            score += params[SC_CONCENTRATION] * concentration
        values[n], used[n], index[n], candidates[n] = score, max(size * mv[k, MV_ABSORPTION], 1e-9), a, i
        n += 1
    rank_into(values, used, index, n, order)
    n_ordered = 0
    for a in range(n):
        j = order[a]
        if values[j] > params[SC_THRESHOLD]:
            ordered[n_ordered] = candidates[j]
            n_ordered += 1
    return within_limits(hosts, o, mv, h, offers, ordered, n_ordered, params[SC_ABSORPTION_SCALE], accepted)


@njit_inline
def _debt_cost(hosts, o, mv, h, k, size, near, params):
    """The debt penalty of an offer (hosts.debt_cost), as the host sees it through opaque contracts."""
    new_debt = size * mv[k, MV_DEBT_FRACTION]
    if new_debt <= 0:
        return 0.0
    gdp = hosts[h, H_GDP]
    soft = params[SC_SOFT_CEILING]
    after = (debt_total(hosts, o, h) + new_debt) / gdp
    cost = intensity(new_debt, gdp) * (params[SC_DEBT_BASE] + max(0.0, after - soft) / soft)
    if near:
        cost *= params[SC_DISTRESS_FACTOR]
    return cost * (1.0 - (1.0 - mv[k, MV_STANDARDS]) * (1.0 - hosts[h, H_GOVERNANCE] / 100.0))


@njit
def greedy_host(hosts, o, mv, toolkit, h, params, offers, made, n_made, accepted):
    """``greedy`` as a host (hosts.greedy_response): the offers of highest one-turn benefit."""
    return greedy_host_with(hosts, o, mv, toolkit, h, params, offers, made, n_made, accepted, np.empty(2 * n_made),
                            np.empty(3 * n_made, dtype=np.int64))  # fmt: skip


@njit_borrowing
def greedy_host_with(hosts, o, mv, toolkit, h, params, offers, made, n_made, accepted, work, keys):
    """:func:`greedy_host` with scratch ``work`` (float64[2 n_made]) and ``keys`` (int64[3 n_made])."""
    values, used = work[:n_made], work[n_made : 2 * n_made]
    index, order, ordered = keys[:n_made], keys[n_made : 2 * n_made], keys[2 * n_made : 3 * n_made]
    for a in range(n_made):
        index[a] = a
    for a in range(n_made):
        i = made[a]
        p, k, size = int(offers[i, 0]), int(offers[i, 1]), offers[i, 3]
        values[a] = offer_benefit(hosts, o, mv, toolkit, h, p, k, size, params[GR_ENVIRONMENT], params[GR_GOODWILL])
        used[a] = max(size * mv[k, MV_ABSORPTION], 1e-9)
    rank_into(values, used, index, n_made, order)
    n = 0
    for a in range(n_made):
        if values[order[a]] > 0:
            ordered[n] = made[order[a]]
            n += 1
    return within_limits(hosts, o, mv, h, offers, ordered, n, 1.0, accepted)


@njit
def random_host(hosts, o, mv, rl, h, params, offers, made, n_made, stream, accepted):
    """``random`` as a host (hosts.random_response): each offer accepted with a probability, from a
    fixed block of draws per (power, offer slot), then the limits."""
    return random_host_with(hosts, o, mv, rl, h, params, offers, made, n_made, stream, accepted,
                            np.empty(o[O_N_POWERS] * int(rl[RL_MAX_OFFERS])),
                            np.empty(o[O_N_POWERS] + n_made, dtype=np.int64))  # fmt: skip


@njit_borrowing
def random_host_with(hosts, o, mv, rl, h, params, offers, made, n_made, stream, accepted, work, keys):
    """:func:`random_host` with scratch ``work`` (float64[P max_offers]) and ``keys`` (int64[P + n_made])."""
    n_powers = o[O_N_POWERS]
    slots = int(rl[RL_MAX_OFFERS])
    block = work[: n_powers * slots]
    for i in range(n_powers * slots):
        block[i] = pcg.next_double(stream)
    count, chosen = keys[:n_powers], keys[n_powers : n_powers + n_made]
    for i in range(n_powers):
        count[i] = 0
    n = 0
    for a in range(n_made):
        i = made[a]
        p = int(offers[i, 0])
        slot = count[p]
        count[p] += 1
        u = block[p * slots + slot] if slot < slots else pcg.next_double(stream)
        if u < params[RA_ACCEPT]:
            chosen[n] = i
            n += 1
    return within_limits(hosts, o, mv, h, offers, chosen, n, 1.0, accepted)


# ------------------------------------------------------------------------------------- from strategies to kernels


@njit
def propose(kind, hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted, n_toolkit, host_rank,
            p, params, memory, stream, out):  # fmt: skip
    """Power ``p``'s offers this turn by its kernel ``kind`` (rows of ``out``); returns their number."""
    if kind == PORTFOLIO:
        return portfolio(hosts, powers, acceptance, o, mv, pm, rl, p, params, memory, out)
    if kind == RANDOM:
        return random_power(hosts, powers, o, mv, pm, rl, toolkit_sorted, n_toolkit, p, stream, out)
    return greedy_power(hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted, n_toolkit,
                        host_rank, p, params, out)  # fmt: skip


@njit_inline
def scratch_sizes(n_powers, n_hosts, n_moves, most):
    """Lengths of the float64 and int64 scratch of :func:`propose_with` and :func:`respond_with`."""
    n_offers = n_powers * most
    floats = max(3 * most + n_hosts, n_moves * n_hosts, 2 * n_offers, n_powers * most)
    ints = max(n_moves, 3 * n_moves * n_hosts, 4 * n_offers, n_powers + n_offers)
    return floats, ints


@njit_borrowing
def propose_with(kind, hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted, n_toolkit, host_rank,
                 p, params, memory, stream, out, room, work, keys, buffer):  # fmt: skip
    """:func:`propose` with scratch ``room`` (float64[H, 5]), ``work`` and ``keys`` (float64 and
    int64, :func:`scratch_sizes` long) and ``buffer`` (uint64[2])."""
    if kind == PORTFOLIO:
        return portfolio_with(hosts, powers, acceptance, o, mv, pm, rl, p, params, memory, out, room, keys)
    if kind == RANDOM:
        return random_power_with(hosts, powers, o, mv, pm, rl, toolkit_sorted, n_toolkit, p, stream, out, work,
                                 buffer)  # fmt: skip
    n_pairs = n_toolkit * hosts.shape[0]
    return greedy_power_with(hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted, n_toolkit,
                             host_rank, p, params, out, room, work[:n_pairs], keys)  # fmt: skip


@njit_borrowing
def respond_with(kind, hosts, o, mv, toolkit, rl, h, params, offers, made, n_made, stream, accepted, work, keys):
    """:func:`respond` with scratch ``work`` and ``keys`` (float64 and int64, :func:`scratch_sizes` long)."""
    if kind == SCORING:
        return scoring_host_with(hosts, o, mv, toolkit, rl, h, params, offers, made, n_made, accepted, work, keys)
    if kind == RANDOM:
        return random_host_with(hosts, o, mv, rl, h, params, offers, made, n_made, stream, accepted, work, keys)
    return greedy_host_with(hosts, o, mv, toolkit, h, params, offers, made, n_made, accepted, work, keys)


@njit
def respond(kind, hosts, o, mv, toolkit, rl, h, params, offers, made, n_made, stream, accepted):
    """Host ``h``'s answer by its kernel ``kind``: the accepted offers' rows, in acceptance order,
    into ``accepted``; returns their number."""
    if kind == SCORING:
        return scoring_host(hosts, o, mv, toolkit, rl, h, params, offers, made, n_made, accepted)
    if kind == RANDOM:
        return random_host(hosts, o, mv, rl, h, params, offers, made, n_made, stream, accepted)
    return greedy_host(hosts, o, mv, toolkit, h, params, offers, made, n_made, accepted)


class KernelSpec:
    """A strategy's kernel for one actor of one game: its kind, parameters and memory (the
    portfolios' tallies across turns), and the calls that decide through it on the game's arrays."""

    def __init__(self, kind: int, params: np.ndarray, actor, game):
        lay = game.layout
        self.kind, self.params = kind, params
        self.memory = np.zeros(len(lay.moves) + len(lay.hosts) + 1)
        self.stream_at = len(lay.powers) + actor.actor_index  # the actor's strategy stream in game._cursors
        if actor.kind == "power":
            self.toolkit_sorted = np.array([lay.moves.index(m) for m in sorted(actor.toolkit)], dtype=np.int64)
            self.host_rank = np.array([sorted(lay.hosts).index(h) for h in lay.hosts], dtype=np.int64)
            self.n_toolkit = len(self.toolkit_sorted)
        self._out = None  # the offers' rows (float64[max offers, 4]), reused from turn to turn
        self._index = self._accepted = np.empty(0, dtype=np.int64)  # see answer

    def offers(self, game, power) -> list:
        t, st, lay = game.tables, game.state, game.layout
        out = self._out
        if out is None or out.shape[0] != int(t.rules[RL_MAX_OFFERS]):  # (the kernel overwrites the rows it gives)
            out = self._out = np.empty((int(t.rules[RL_MAX_OFFERS]), 4))
        stream = game._cursors[self.stream_at].copy()
        n = propose(self.kind, st.hosts, st.powers, st.acceptance, lay.offsets, t.moves, t.power_meta, t.power_static,
                    t.world_minerals, t.toolkit, t.rules, self.toolkit_sorted, self.n_toolkit,
                    self.host_rank, power._index, self.params, self.memory, stream, out)  # fmt: skip
        pid, moves, hosts = power.actor_id, lay.moves, lay.hosts
        offers = _Offers(_Offer(pid, moves[int(k)], hosts[int(h)], size) for _, k, h, size in out[:n].tolist())
        offers.rows = out[:n].copy()  # (the game reads the rows rather than building them again)
        return offers

    def answer(self, game, host, made: list) -> list:
        t, st, lay = game.tables, game.state, game.layout
        h = host._index
        rows = game.host_rows(host.actor_id) if made is game._by_host.get(host.actor_id) else None
        if rows is None:  # (the game asks with the host's offers of the turn, which it has as rows)
            power_index, move_index = game.power_index, game.move_index
            rows = np.array([(power_index[o.power], move_index[o.move], h, o.size_usd_bn) for o in made])
        if len(self._index) < len(made):  # (0, 1, ... and the accepted rows: reused from turn to turn)
            self._index = np.arange(2 * len(made), dtype=np.int64)
            self._accepted = np.empty(2 * len(made), dtype=np.int64)
        index, accepted = self._index[: len(made)], self._accepted
        stream = game._cursors[self.stream_at].copy()
        n = respond(self.kind, st.hosts, lay.offsets, t.moves, t.toolkit, t.rules, h, self.params, rows,
                    index, len(made), stream, accepted)  # fmt: skip
        return [made[i] for i in accepted[:n].tolist()]


class _Offers(list):
    """A power's offers from its kernel, with their rows (float64[n, 4]: power, move, host, size)."""

    __slots__ = ("rows",)


def spec_of(strategy, actor, game) -> KernelSpec | None:
    """The kernel of ``actor``'s ``strategy`` in ``game`` (None if the strategy has none)."""
    found = strategy.kernel(actor.kind, actor.actor_id, game.scenario, game.layout)
    return None if found is None else KernelSpec(*found, actor, game)


def play_compiled_turn(game, opening: bool = False):
    """Play ``game``'s turn in compiled code (:func:`play_turn`) when every actor's decider
    decides by a kernel (its ``kernel_spec(game)``) and no host strategy words its own refusals
    (``refusal_reason``); returns the turn's ``CompiledTurn`` for the game to record, or None
    (the game then plays the turn phase by phase). ``opening``: open the turn too (no event
    fires or ends in it: ``Game._open``'s rules, in compiled code)."""
    try:  # (asked every turn: a caller may wrap an agent or set a strategy between turns)
        specs = [decider.kernel_spec(game) for decider in map(game.deciders.get, game.actor_order)]
    except AttributeError:  # a decider of no kernel (a plain function, or none)
        return None
    if None in specs:
        return None
    plan = game.__dict__.get("_turn_plan")
    if plan is None or plan.specs != specs:
        plan = _TurnPlan(game, specs)
        if plan.names is None:  # a host strategy words its own refusals: its turns are played phase by phase
            return None
        game._turn_plan = plan
    return plan.play(game, opening)


class _TurnPlan:
    """The kernels' arrays of a game's actors (kinds, parameters, memory, toolkits) and the turn's
    output buffers, built once for a set of kernel specs. The specs' memory becomes rows of the
    plan's, so that turns played phase by phase and in compiled code share it."""

    def __init__(self, game, specs: list[KernelSpec]):
        lay = game.layout
        n_powers = len(lay.powers)
        self.specs = specs
        # Each host's strategy name (a refusal's reason), None if a strategy words its own refusals.
        self.names = {}
        for hid, host in game.hosts.items():
            strategy = host.strategy
            if getattr(strategy, "refusal_reason", None) is not None:
                self.names = None
                return
            self.names[hid] = getattr(strategy, "name", "") or host.cfg.strategy
        self.kinds = np.array([spec.kind for spec in specs], dtype=np.int64)
        self.params = np.zeros((len(specs), max(len(spec.params) for spec in specs)))
        self.memory = np.zeros((len(specs), max(len(spec.memory) for spec in specs)))
        for a, spec in enumerate(specs):
            self.params[a, : len(spec.params)] = spec.params
            self.memory[a, : len(spec.memory)] = spec.memory
            spec.memory = self.memory[a, : len(spec.memory)]
        self.toolkit_sorted = np.zeros((n_powers, len(lay.moves)), dtype=np.int64)
        self.n_toolkit = np.zeros(n_powers, dtype=np.int64)
        for p, spec in enumerate(specs[:n_powers]):
            self.toolkit_sorted[p, : spec.n_toolkit] = spec.toolkit_sorted
            self.n_toolkit[p] = spec.n_toolkit
        self.host_rank = specs[0].host_rank if n_powers else np.zeros(len(lay.hosts), dtype=np.int64)
        self.size = size = n_powers * int(game.tables.rules[RL_MAX_OFFERS])
        self.offers = np.zeros((size, 4))
        self.is_accepted = np.zeros(size, dtype=np.bool_)
        self.answers = np.zeros(size, dtype=np.int64)
        self.order = np.zeros(size, dtype=np.int64)
        self.refusal = np.zeros((size, 3))
        self.entering = np.zeros(len(lay.hosts), dtype=np.int64)
        self.ratios = np.zeros(len(lay.hosts))
        self.n_projects = np.zeros(2, dtype=np.int64)
        self.ended, self.ends = np.zeros(0), np.zeros(0, dtype=np.int64)
        self.counts = np.zeros(3, dtype=np.int64)

    def __setstate__(self, state: dict) -> None:
        # A copied or unpickled plan's specs get their memory as views of the plan's again (a view
        # is copied as an array of its own: the two would drift apart).
        self.__dict__.update(state)
        for a, spec in enumerate(self.specs):
            spec.memory = self.memory[a, : len(spec.memory)]

    def play(self, game, opening: bool):
        notice_if_uncached("kernels.play_turn")
        t, st, lay = game.tables, game.state, game.layout
        turn = game.turn + 1 if opening else game.turn
        n_jumps = turn - game._cursor_turn if opening else 0
        projects = game.reserve_projects(self.size)
        n_projects = self.n_projects
        n_projects[0], n_projects[1] = game._n_projects, game._first_running
        ended, ends = self.ended, self.ends
        if len(ended) < len(projects):
            ended, ends = self.ended, self.ends = np.zeros(len(projects)), np.zeros(len(projects), dtype=np.int64)
        play_turn(st.hosts, st.powers, st.routes, st.trade, st.acceptance, projects, n_projects, lay.offsets, t.moves,
                  t.toolkit, t.power_meta, t.power_static, t.rules, t.world_minerals, game.special, t.through,
                  game.initial_output, game.derived, self.kinds, self.params, self.memory, game._cursors,
                  self.toolkit_sorted, self.n_toolkit, self.host_rank, turn, self.offers, self.is_accepted,
                  self.answers, self.order, self.refusal, ended, ends, self.entering, self.ratios, self.counts,
                  game._jumps, n_jumps)  # fmt: skip
        game._n_projects, game._first_running = int(n_projects[0]), int(n_projects[1])
        n, n_answers = int(self.counts[0]), int(self.counts[1])
        # (rows as tuples of floats: the event log keeps them, and the garbage collector stops tracking
        # tuples of plain numbers, and the log's rows holding only those)
        rows = list(map(tuple, self.offers[:n].tolist()))
        return CompiledTurn(rows, self.is_accepted[:n].tolist(), self.answers[:n_answers].tolist(),
                            self.order[:n].tolist(), self.refusal[:n].tolist(),
                            [(j, ended[j]) for j in ends[: self.counts[2]].tolist()] if self.counts[2] else [],
                            self.entering.copy(), self.ratios.copy(), self.names, opening)  # fmt: skip


# ------------------------------------------------------------------------------------- a whole turn

# What a recorded turn says of each offer refused (turn_with's ``refusal[i, 0]``): beyond the
# host's absorption room, beyond its debt ceiling, or its strategy's choice (0: accepted).
REFUSED_ABSORPTION, REFUSED_DEBT, REFUSED_STRATEGY = 1, 2, 3


@njit_borrowing
def turn_with(hosts, powers, routes, trade, acceptance, projects, n_projects, o, mv, toolkit, pm, ps, rl, wm, special,
              through, initial_output, derived, kinds, params, memory, cursors, toolkit_sorted, n_toolkit, host_rank,
              turn, offers, commits, scratch, made, accepted, answers, is_accepted, buffer, ended, entering, ratios,
              stream, hazard_words, draw_buffer, room, work, keys, lows, trade_work, metrics_work, d, explain, order,
              refusal, counts):  # fmt: skip
    """A turn after its opening (events, budgets, streams at the turn's region), every actor decided
    by its kernel ``kinds[a]``: the powers' offers, the hosts' answers, the acceptance memory, then
    the rules (commitment, projects, economy, mining, trade, influence, metrics and payoffs), in the
    order of design.md that ``Game`` plays phase by phase. ``cursors``: the powers' hazard streams,
    then every actor's strategy stream. ``n_projects``: int64[2], the number of projects and the
    first that may still run. The arguments after ``turn`` are scratch and outputs (this
    allocates nothing): ``offers[:counts[0]]`` the turn's offers in the order made,
    ``is_accepted``, ``answers[:counts[1]]`` the accepted offers' indices in commitment order,
    ``ended`` the projects' ends (kernels.progress), ``entering`` and ``ratios`` the distress
    (kernels.economy); with ``explain``, ``order[:counts[0]]`` the offers by host (each host's in
    the order made: the event log's order) and ``refusal[i]`` = (why, USD bn needed, USD bn of room
    left) for each refused offer ``i`` (:data:`REFUSED_ABSORPTION` ...; the room after the offers
    the host accepted, as ``Game._refusal`` reads it)."""
    n_powers, n_hosts = powers.shape[0], hosts.shape[0]
    # Offers: every power decides on the state before anyone's offers.
    n_offers = 0
    for p in range(n_powers):
        if kinds[p] == RANDOM:
            for w in range(4):
                stream[w] = cursors[n_powers + p, w]
        n = propose_with(kinds[p], hosts, powers, acceptance, o, mv, pm, ps, wm, toolkit, rl, toolkit_sorted[p],
                         n_toolkit[p], host_rank, p, params[p], memory[p], stream, scratch, room, work, keys,
                         draw_buffer)  # fmt: skip
        powers[p, P_OFFERS_MADE] += n
        for i in range(n):
            for c in range(4):
                offers[n_offers, c] = scratch[i, c]
            n_offers += 1
    K.refill_absorption(hosts, rl)
    # Responses: every host answers the offers made to it, all answers before any is applied.
    n_commits = 0
    for i in range(n_offers):
        is_accepted[i] = False
    n_answers = 0
    n_ordered = 0
    for h in range(n_hosts):
        n_made = 0
        for i in range(n_offers):
            if int(offers[i, 2]) == h:
                made[n_made] = i
                n_made += 1
        if n_made == 0:
            continue
        a = n_powers + h
        if kinds[a] == RANDOM:
            for w in range(4):
                stream[w] = cursors[n_powers + a, w]
        n_acc = respond_with(kinds[a], hosts, o, mv, toolkit, rl, h, params[a], offers, made, n_made, stream,
                             accepted, work, keys)  # fmt: skip
        for j in range(n_acc):
            answers[n_answers] = accepted[j]
            is_accepted[accepted[j]] = True
            n_answers += 1
        if explain:
            left_absorption = hosts[h, H_ABSORPTION_ROOM]
            left_debt = debt_room(hosts, o, h)
            for j in range(n_acc):
                k, size = int(offers[accepted[j], 1]), offers[accepted[j], 3]
                left_absorption -= size * mv[k, MV_ABSORPTION]
                left_debt -= size * mv[k, MV_DEBT_FRACTION]
            for j in range(n_made):
                i = made[j]
                order[n_ordered] = i
                n_ordered += 1
                refusal[i, 0] = 0.0
                if is_accepted[i]:
                    continue
                k, size = int(offers[i, 1]), offers[i, 3]
                need_absorption, need_debt = size * mv[k, MV_ABSORPTION], size * mv[k, MV_DEBT_FRACTION]
                if need_absorption > left_absorption + 1e-12:
                    refusal[i, 0], refusal[i, 1], refusal[i, 2] = REFUSED_ABSORPTION, need_absorption, left_absorption
                elif need_debt > left_debt + 1e-12:
                    refusal[i, 0], refusal[i, 1], refusal[i, 2] = REFUSED_DEBT, need_debt, left_debt
                else:
                    refusal[i, 0] = REFUSED_STRATEGY
    for i in range(n_offers):
        p, k, h = int(offers[i, 0]), int(offers[i, 1]), int(offers[i, 2])
        acceptance[p, h, k, 0] += 1.0 if is_accepted[i] else 0.0
        acceptance[p, h, k, 1] += 1.0
    for j in range(n_answers):
        for c in range(4):
            commits[n_commits, c] = offers[answers[j], c]
        n_commits += 1
    n_projects[0] = K.commit(hosts, powers, o, mv, commits, n_commits, projects, n_projects[0], turn, rl)
    n_projects[1] = K.progress_from(hosts, routes, powers, o, mv, pm, wm, toolkit, projects, n_projects[1],
                                    n_projects[0], turn, rl, special, cursors[:n_powers], buffer, ended, lows,
                                    hazard_words)  # fmt: skip
    K.economy(hosts, o, rl, entering, ratios)
    K.mining(hosts, o, rl)
    K.trade_step_with(routes, trade, rl, trade_work)
    K.influence(hosts, o, pm, ps, rl, routes, through)
    K.metrics_and_payoffs_with(hosts, powers, routes, trade, o, pm, ps, wm, rl, special, through, initial_output,
                               turn, derived, d, metrics_work)  # fmt: skip
    counts[0], counts[1] = n_offers, n_answers


@njit
def play_turn(hosts, powers, routes, trade, acceptance, projects, n_projects, o, mv, toolkit, pm, ps, rl, wm, special,
              through, initial_output, derived, kinds, params, memory, cursors, toolkit_sorted, n_toolkit, host_rank,
              turn, offers, is_accepted, answers, order, refusal, ended, ends, entering, ratios, counts, jumps,
              n_jumps):  # fmt: skip
    """:func:`turn_with` of a per-turn ``Game`` (with its scratch, explained): the turn's outputs
    in ``offers`` .. ``counts``, each sized for the most offers a turn can have
    (powers x ``max_offers_per_turn``; ``ended``: the projects after commitment, and ``ends[:counts[2]]``
    the numbers of those that ended this turn). With
    ``n_jumps`` > 0 it opens the turn first, as ``Game._open`` does when no event fires or ends:
    the hosts note their GDP, the budgets refill, and every stream moves on by ``n_jumps``
    regions (``jumps``: each one's jump by a region)."""
    ended[:] = 0.0  # (reused from turn to turn: progress writes the projects still running only)
    if n_jumps > 0:
        K.open_turn(hosts, powers, rl)
        K.refill_budgets(powers, rl)
        for _ in range(n_jumps):
            for i in range(cursors.shape[0]):
                pcg.apply_jump(cursors[i], jumps[i])
    n_powers, n_hosts, n_routes = powers.shape[0], hosts.shape[0], routes.shape[0]
    size = n_powers * int(rl[RL_MAX_OFFERS])
    floats, ints = scratch_sizes(n_powers, n_hosts, mv.shape[0], int(rl[RL_MAX_OFFERS]))
    rows = np.zeros((2 * size, 4))
    indices = np.empty(2 * size, dtype=np.int64)
    words = np.zeros((4, 4), dtype=np.uint64)
    rule_work = np.empty(K.trade_scratch(n_routes) + K.metrics_scratch(n_hosts, o[O_N_CREDITORS]))
    n_trade = K.trade_scratch(n_routes)
    turn_with(hosts, powers, routes, trade, acceptance, projects, n_projects, o, mv, toolkit, pm, ps, rl, wm, special,
              through, initial_output, derived, kinds, params, memory, cursors, toolkit_sorted, n_toolkit, host_rank,
              turn, offers, rows[:size], rows[size:], indices[:size], indices[size:], answers, is_accepted,
              np.empty(n_powers * 2 * (projects.shape[0] + 1)), ended, entering, ratios, words[0], words[1:3],
              words[3][:2], np.empty((n_hosts, 5)), np.empty(floats), np.empty(ints, dtype=np.int64),
              np.empty(n_powers, dtype=np.int64), rule_work[:n_trade], rule_work[n_trade:],
              K.derived_offsets(n_hosts, n_powers, n_routes), True, order, refusal, counts)  # fmt: skip
    n_ended = 0  # the projects that ended, at the start of ``ended``'s scratch twin ``ends``
    for j in range(n_projects[0]):
        if ended[j] != 0.0:
            ends[n_ended] = j
            n_ended += 1
    counts[2] = n_ended
