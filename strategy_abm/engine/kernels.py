"""The game's rules over the arrays of :mod:`.arrays`, compiled with numba (:mod:`strategy_abm._compiled`).

Each function is a rule of docs/model.md (Submodels) written over plain arrays, in the order of
operations of the rule's equation, so that compiled and interpreted runs give the same bits.
``h``/``p``/``r``/``k``/``m`` index a host, power, route, move and mineral; ``o`` is the offsets
array of :class:`.arrays.Layout`, ``rl`` the scalar rules (``RL_*``), ``mv`` the moves table.
"""

from __future__ import annotations

import math

import numpy as np

from .._compiled import njit, njit_borrowing, njit_inline
from ..scenario.config import ENERGY_EXPORTS_USD_BN, GAS_BCM, GDP_USD_BN
from . import pcg
from .arrays import (
    C_DEBT,
    C_MATURITY,
    C_RATE,
    C_REFINANCED,
    E_CLOUD,
    E_DEBT_RELIEF,
    E_ENERGY_EXPORT,
    E_ENVIRONMENT,
    E_EXPORT_CUT,
    E_GAS_PIPELINE,
    E_GDP_LEVEL,
    E_GOVERNANCE,
    E_GREEN_TECH,
    E_INFLUENCE,
    E_JOBS,
    E_LOCAL_PROCESSING,
    E_LOGISTICS,
    E_MINERAL_ANY,
    E_OFFTAKE_SHIFT,
    E_OPINION,
    E_RENEWABLES,
    E_SATELLITE,
    E_TELECOM,
    F_EXPORTS,
    F_TRANSIT,
    H_ABSORPTION_PCT,
    H_ABSORPTION_ROOM,
    H_DEBT_CEILING_PCT,
    H_DISTRESS,
    H_DISTRESS_RATIO,
    H_DISTRESS_TURNS,
    H_ENERGY_EXPORTS,
    H_ENVIRONMENT,
    H_GAS_EXPORT_MAX,
    H_GAS_EXPORTS,
    H_GDP,
    H_GDP_TURN_START,
    H_GOVERNANCE,
    H_GROWTH_RATE,
    H_GROWTH_REALISED,
    H_JOBS_CREATED,
    H_JOBS_TURN,
    H_LABOUR_ENTRANTS,
    H_PAYOFF,
    H_PAYOFF_TOTAL,
    H_PRICE_LEVEL,
    H_RENEWABLES,
    H_REVENUE_SHARE,
    H_SATELLITE,
    H_USD_DEFLATOR,
    M_DEVELOPABLE,
    M_OUTPUT,
    M_PROCESSING,
    MD_CAPACITY,
    MD_MAX_OUTPUT,
    MD_RAMP_YEARS,
    MD_RESOURCES,
    MV_ABSORPTION,
    MV_COST_SHARE,
    MV_DEBT_FRACTION,
    MV_DOMAIN,
    MV_LAG_YEARS,
    MV_LOAN_MATURITY,
    MV_LOAN_RATE,
    MV_STANDARDS,
    N_FLOWS,
    O_ANCHOR,
    O_BY_DOMAIN,
    O_BY_MOVE,
    O_CLOUD,
    O_COMPONENTS,
    O_CREDITORS,
    O_ENERGY,
    O_GREEN,
    O_INFLUENCE,
    O_LOGISTICS,
    O_MINERAL_OUTPUT,
    O_MINERAL_STRIDE,
    O_MINERALS,
    O_N_CLOUD,
    O_N_CREDITORS,
    O_N_ENERGY,
    O_N_GREEN,
    O_N_LOGISTICS,
    O_N_MINERALS,
    O_N_OFFTAKERS,
    O_N_POWERS,
    O_N_TELECOM,
    O_N_TRADE,
    O_OPINION,
    O_ROUTE_CAPACITY,
    O_ROUTE_DELAY,
    O_TELECOM,
    O_TRADE,
    P_BUDGET_AVAILABLE,
    P_BUDGET_GRANTED,
    P_BUDGET_PER_YEAR,
    P_OFFERS_ACCEPTED,
    P_PAYOFF,
    P_PAYOFF_TOTAL,
    P_PRIVATE_MOBILISED,
    P_SPENT_TOTAL,
    P_SPENT_TURN,
    PM_CLOUD,
    PM_CORRIDOR,
    PM_CREDITOR,
    PM_ENERGY,
    PM_GREEN,
    PM_LOGISTICS,
    PM_OFFTAKER,
    PM_TELECOM,
    PM_TRADE,
    PM_WESTERN,
    PS_CREDIT,
    PS_OBJECTIVES,
    R_CA_EXPORT,
    R_CAPACITY,
    R_DELAY,
    R_EXPORT_CUT,
    R_FLOW,
    R_MIN_DELAY,
    R_RISK,
    R_TARIFF,
    R_TRANSIT,
    R_VOLUME,
    RL_CARRYOVER,
    RL_DELAY_HAZARD,
    RL_DISTRESS_PENALTY,
    RL_DISTRESS_SWING,
    RL_DT,
    RL_ENVIRONMENT_OPINION,
    RL_FAILURE_HAZARD,
    RL_FAILURE_OPINION,
    RL_GROWTH_SCALE,
    RL_HW_AUTONOMY,
    RL_HW_DEBT,
    RL_HW_GROWTH,
    RL_HW_JOBS,
    RL_INFLUENCE_DECAY,
    RL_JOBS_OPINION,
    RL_MAX_CUT,
    RL_OPINION_INFLUENCE,
    RL_OPINION_REVERSION,
    RL_RESTRUCTURE_YEARS,
    RL_TURNS_PER_YEAR,
    RL_W_CORRIDOR,
    RL_W_DEBT,
    RL_W_DIGITAL,
    RL_W_ENERGY,
    RL_W_MINERALS,
    RL_W_TRADE,
    T_ADJUSTMENT,
    T_BETA,
    T_COST_ALPHA,
    T_DELAY_CV,
    T_DEMAND,
    T_DEMAND_GROWTH,
    T_FLOW_SHARE,
    T_FLOW_VOT,
    T_LOGIT_SCALE,
    T_RELIABILITY,
    T_RISK_COST,
    T_TIME_ALPHA,
)

# Bounds GDP keeps during play (the schema's): intensities divide by it.
GDP_LOW, GDP_HIGH = GDP_USD_BN
# And the bounds of gas exports (bcm/yr) and their value (USD bn/yr) that pipelines keep.
GAS_HIGH, ENERGY_EXPORTS_HIGH = GAS_BCM[1], ENERGY_EXPORTS_USD_BN[1]

# The share maps a completed project moves toward the offerer: (effect column of the move, the
# power's key in the map (PM_*), the map's first column and size in the offsets (O_*)).
SHARE_SHIFTS = (
    (E_TELECOM, PM_TELECOM, O_TELECOM, O_N_TELECOM),
    (E_CLOUD, PM_CLOUD, O_CLOUD, O_N_CLOUD),
    (E_LOGISTICS, PM_LOGISTICS, O_LOGISTICS, O_N_LOGISTICS),
    (E_ENERGY_EXPORT, PM_ENERGY, O_ENERGY, O_N_ENERGY),
    (E_GREEN_TECH, PM_GREEN, O_GREEN, O_N_GREEN),
)

# Project table columns (float64 rows: the kernels keep one table).
(J_POWER, J_HOST, J_MOVE, J_SIZE, J_COMMITTED, J_REMAINING, J_STATUS, J_DELAYS, J_SERIAL) = range(9)
PROJECT_COLUMNS = 9
RUNNING, COMPLETED, FAILED = 0.0, 1.0, 2.0

# Special indices (``special`` int array): the power of id ``china`` (its own mining counts in the
# minerals it secures) and the westward route (``trade.westward_route``: the Middle Corridor); -1: none.
# S_CHINA_CREDITOR: the creditor of id ``china`` (the debt metrics' China); S_TUNGSTEN, S_TUNGSTEN_OUTPUT:
# the mineral ``tungsten`` and its output column; S_CHINA_ENERGY: the column of the hosts' share of
# energy exports to China (-1: none).
S_CHINA, S_WESTWARD, S_CHINA_CREDITOR, S_TUNGSTEN, S_TUNGSTEN_OUTPUT, S_CHINA_ENERGY = range(6)


# ------------------------------------------------------------------------------------- scalar rules


@njit_inline
def intensity(size_usd_bn, gdp_usd_bn):
    """Size of a project in percent of the host's GDP."""
    return 100.0 * size_usd_bn / gdp_usd_bn


@njit_inline
def bounded_gdp(gdp):
    return min(GDP_HIGH, max(GDP_LOW, gdp))


@njit_inline
def clip_opinion(value):
    return min(1.0, max(-1.0, value))


@njit_inline
def lag_turns(lag_years, turns_per_year):
    """Turns a project takes, counting the turn of commitment (at least one)."""
    return max(1, math.ceil(lag_years * turns_per_year - 1e-9))


@njit_inline
def hazards(governance, standards, failure, delay, dt):
    """Per-turn probabilities that a running project fails or slips a turn."""
    risk = (1.0 - governance / 100.0) * (1.0 - standards)
    return 1.0 - math.exp(-failure * risk * dt), 1.0 - math.exp(-delay * risk * dt)


@njit_inline
def blend(old_debt, old_value, new_debt, new_value):
    """Debt-weighted average of a creditor's rate (or maturity) after new lending."""
    total = old_debt + new_debt
    return old_value if total <= 0.0 else (old_debt * old_value + new_debt * new_value) / total


@njit_inline
def shift_toward(row, at, n, key, amount):
    """Move ``amount`` (0..1) of the shares ``row[at:at+n]`` to entry ``key`` (in place)."""
    a = min(max(amount, 0.0), 1.0)
    for i in range(n):
        row[at + i] = (1.0 - a) * row[at + i] + (a if i == key else 0.0)


@njit_inline
def diversification(values, n):
    """Normalised 1 - HHI of ``values[:n]``: 0 when one has everything, 1 when all are equal."""
    total = 0.0
    for i in range(n):
        total += values[i]
    if n < 2 or total <= 0.0:
        return 0.0
    hhi = 0.0
    for i in range(n):
        hhi += (values[i] / total) ** 2
    return max(0.0, min(1.0, (1.0 - hhi) / (1.0 - 1.0 / n)))


# ------------------------------------------------------------------------------------- debt


@njit_inline
def debt_total(hosts, o, h):
    total = 0.0
    at = o[O_CREDITORS]
    for c in range(o[O_N_CREDITORS]):
        total += hosts[h, at + 4 * c + C_DEBT]
    return total


@njit_inline
def debt_service_ratio(hosts, o, h):
    """Annual debt service (sum of D (r + 1/m)) over government revenue."""
    service = 0.0
    at = o[O_CREDITORS]
    for c in range(o[O_N_CREDITORS]):
        j = at + 4 * c
        service += hosts[h, j + C_DEBT] * (hosts[h, j + C_RATE] + 1.0 / hosts[h, j + C_MATURITY])
    return service / (hosts[h, H_REVENUE_SHARE] * hosts[h, H_GDP])


@njit_inline
def debt_room(hosts, o, h):
    """New debt (USD bn) the host can take before its ceiling."""
    return max(0.0, hosts[h, H_DEBT_CEILING_PCT] / 100.0 * hosts[h, H_GDP] - debt_total(hosts, o, h))


@njit_inline
def absorption_per_year(hosts, h):
    return hosts[h, H_ABSORPTION_PCT] / 100.0 * hosts[h, H_GDP]


@njit_inline
def room_next_turn(hosts, h, dt):
    """The absorption pool after the turn's refill: min(A, pool + A dt)."""
    annual = absorption_per_year(hosts, h)
    return min(annual, hosts[h, H_ABSORPTION_ROOM] + annual * dt)


@njit_inline
def borrow(hosts, o, h, c, amount, rate, maturity):
    j = o[O_CREDITORS] + 4 * c
    hosts[h, j + C_RATE] = blend(hosts[h, j + C_DEBT], hosts[h, j + C_RATE], amount, rate)
    hosts[h, j + C_MATURITY] = blend(hosts[h, j + C_DEBT], hosts[h, j + C_MATURITY], amount, maturity)
    hosts[h, j + C_DEBT] += amount


# ------------------------------------------------------------------------------------- turn opening


@njit_borrowing
def open_turn(hosts, powers, rl):
    """Start of a turn before events: each host notes its GDP (growth is measured from it)."""
    for h in range(hosts.shape[0]):
        hosts[h, H_GDP_TURN_START] = hosts[h, H_GDP]


@njit_borrowing
def refill_budgets(powers, rl):
    """Each power's allowance for the turn; unspent money carries over up to the carryover years."""
    dt = rl[RL_DT]
    for p in range(powers.shape[0]):
        per_year = powers[p, P_BUDGET_PER_YEAR]
        allowance = per_year * dt
        cap = per_year * max(rl[RL_CARRYOVER], dt)
        new = min(powers[p, P_BUDGET_AVAILABLE] + allowance, cap)
        powers[p, P_BUDGET_GRANTED] += new - powers[p, P_BUDGET_AVAILABLE]
        powers[p, P_BUDGET_AVAILABLE] = new
        powers[p, P_SPENT_TURN] = 0.0


@njit_borrowing
def refill_absorption(hosts, rl):
    for h in range(hosts.shape[0]):
        hosts[h, H_ABSORPTION_ROOM] = room_next_turn(hosts, h, rl[RL_DT])


# ------------------------------------------------------------------------------------- commitment


@njit_borrowing
def commit(hosts, powers, o, mv, offers, n_offers, projects, n_projects, turn, rl):
    """Accepted offers become projects: budgets are charged, loans add debt at once. ``offers``:
    the accepted offers as rows (power, move, host, size), hosts in order and each host's in the
    order it accepted them. Returns the new number of projects."""
    for i in range(n_offers):
        p, k, h, size = int(offers[i, 0]), int(offers[i, 1]), int(offers[i, 2]), offers[i, 3]
        cost = size * mv[k, MV_COST_SHARE]
        powers[p, P_BUDGET_AVAILABLE] -= cost
        powers[p, P_SPENT_TURN] += cost
        powers[p, P_SPENT_TOTAL] += cost
        d = o[O_BY_DOMAIN] + int(mv[k, MV_DOMAIN])
        powers[p, d] = powers[p, d] + cost
        powers[p, P_PRIVATE_MOBILISED] += size - cost
        powers[p, P_OFFERS_ACCEPTED] += 1.0
        powers[p, o[O_BY_MOVE] + k] = powers[p, o[O_BY_MOVE] + k] + size
        hosts[h, H_ABSORPTION_ROOM] -= size * mv[k, MV_ABSORPTION]
        if mv[k, MV_DEBT_FRACTION] > 0:
            borrow(hosts, o, h, p, size * mv[k, MV_DEBT_FRACTION], mv[k, MV_LOAN_RATE], mv[k, MV_LOAN_MATURITY])
        j = n_projects
        projects[j, J_POWER], projects[j, J_HOST], projects[j, J_MOVE], projects[j, J_SIZE] = p, h, k, size
        projects[j, J_COMMITTED] = turn
        projects[j, J_REMAINING] = lag_turns(mv[k, MV_LAG_YEARS], rl[RL_TURNS_PER_YEAR])
        projects[j, J_STATUS] = RUNNING
        projects[j, J_DELAYS] = 0.0
        projects[j, J_SERIAL] = powers[p, P_OFFERS_ACCEPTED] - 1.0  # numbers the project's hazard draws
        n_projects += 1
    return n_projects


# ------------------------------------------------------------------------------------- projects


@njit_borrowing
def complete(hosts, routes, o, mv, pm, wm, p, h, k, offer_size, efficiency, rl, special):
    """A completed project's effects on its host (and its corridor effects on the routes)."""
    if mv[k, E_GAS_PIPELINE] and gas_room(hosts[h]) <= 0.0:
        return  # a gas export pipeline with no gas to carry (none sold by pipeline, fields full): no effect
    x = intensity(offer_size, hosts[h, H_GDP]) * efficiency
    size = offer_size * efficiency
    hosts[h, o[O_INFLUENCE] + p] += mv[k, E_INFLUENCE] * x
    hosts[h, H_GDP] = bounded_gdp(hosts[h, H_GDP] * (1.0 + mv[k, E_GDP_LEVEL] * x / 100.0))
    jobs = mv[k, E_JOBS] * size
    hosts[h, H_JOBS_CREATED] += jobs
    hosts[h, H_JOBS_TURN] += jobs
    hosts[h, H_GOVERNANCE] = min(100.0, max(0.0, hosts[h, H_GOVERNANCE] + mv[k, E_GOVERNANCE] * x))
    env = mv[k, E_ENVIRONMENT] * x * (1.0 - mv[k, MV_STANDARDS])
    hosts[h, H_ENVIRONMENT] = min(100.0, max(0.0, hosts[h, H_ENVIRONMENT] + env))
    gain = (
        mv[k, E_OPINION] * x
        - rl[RL_ENVIRONMENT_OPINION] * max(env, 0.0)
        + rl[RL_JOBS_OPINION] * jobs / max(hosts[h, H_LABOUR_ENTRANTS], 1.0)
    )
    hosts[h, o[O_OPINION] + p] = clip_opinion(hosts[h, o[O_OPINION] + p] + gain)
    row = hosts[h]
    # Shares that move toward the offerer's bloc or partner: (effect, its key in the map, the map's
    # first column, its size). Each writes its own columns, so their order does not matter. Gas
    # sold by pipeline goes where the pipes go: only new pipeline capacity moves its destinations.
    for effect, key, at, n in SHARE_SHIFTS:
        if mv[k, effect] and pm[p, key] >= 0 and not (effect == E_ENERGY_EXPORT and row[H_GAS_EXPORTS] > 0):
            shift_toward(row, o[at], o[n], pm[p, key], mv[k, effect] * x)
    if mv[k, E_GAS_PIPELINE]:
        open_gas_pipeline(row, o, pm[p, PM_ENERGY], mv[k, E_GAS_PIPELINE] * size)
    if mv[k, E_SATELLITE]:
        hosts[h, H_SATELLITE] = min(1.0, hosts[h, H_SATELLITE] + mv[k, E_SATELLITE] * x)
    if mv[k, E_RENEWABLES]:
        hosts[h, H_RENEWABLES] = min(1.0, hosts[h, H_RENEWABLES] + mv[k, E_RENEWABLES] * x)
    if mv[k, E_MINERAL_ANY]:
        develop_minerals(row, o, mv, wm, pm[p, PM_OFFTAKER], k, size, x)
    if mv[k, E_DEBT_RELIEF]:
        j = o[O_CREDITORS] + 4 * pm[p, PM_CREDITOR] + C_DEBT
        hosts[h, j] -= min(hosts[h, j], mv[k, E_DEBT_RELIEF] * offer_size)
    route_effects(routes, o, mv, k, size, special, rl[RL_MAX_CUT])


@njit_inline
def deposit_room(row, o, m):
    """Capacity (t/yr) still to build at mineral ``m``'s deposits: up to their maximum output, and
    none once their resources are exhausted."""
    at = o[O_MINERALS] + o[O_MINERAL_STRIDE] * m
    tail = at + 3 + o[O_N_OFFTAKERS]
    if row[tail + MD_RESOURCES] <= 0.0:
        return 0.0
    return max(0.0, row[tail + MD_MAX_OUTPUT] - row[tail + MD_CAPACITY])


@njit_inline
def best_deposit(row, o, mv, wm, k):
    """The deposit a minerals venture of move ``k`` develops (-1 if none): among the developable
    minerals with output per USD bn > 0 and room to build, the one adding most to world supply per
    USD bn, the first on a tie."""
    best, best_share = -1, 0.0
    for m in range(wm.shape[0]):
        per_bn = mv[k, o[O_MINERAL_OUTPUT] + m]
        developable = row[o[O_MINERALS] + o[O_MINERAL_STRIDE] * m + M_DEVELOPABLE]
        if developable and per_bn > 0 and deposit_room(row, o, m) > 0.0:
            share = per_bn / wm[m, 0]
            if best < 0 or share > best_share:
                best, best_share = m, share
    return best


@njit_borrowing
def develop_minerals(row, o, mv, wm, offtaker, k, size, x):
    """A venture develops one deposit: it builds capacity (its output per USD bn, no more than the
    deposit's room), which output ramps up to (:func:`mining`); the new capacity is the offerer's
    offtake, the old output's offtake shifts a little. With no deposit to develop, the offtake of
    producing minerals shifts."""
    stride, n_off = o[O_MINERAL_STRIDE], o[O_N_OFFTAKERS]
    shift = mv[k, E_OFFTAKE_SHIFT] * x
    m = best_deposit(row, o, mv, wm, k)
    if m >= 0:
        at = o[O_MINERALS] + stride * m
        tail = at + 3 + n_off
        added = min(mv[k, o[O_MINERAL_OUTPUT] + m] * size, deposit_room(row, o, m))
        old = row[tail + MD_CAPACITY]
        new = old + added
        shift_toward(row, at + 3, n_off, offtaker, shift)
        if new > 0.0:
            for i in range(n_off):
                row[at + 3 + i] = (row[at + 3 + i] * old + (added if i == offtaker else 0.0)) / new
        row[tail + MD_CAPACITY] = new
        row[at + M_PROCESSING] = min(1.0, row[at + M_PROCESSING] + mv[k, E_LOCAL_PROCESSING] * x)
    else:
        for m in range(wm.shape[0]):
            at = o[O_MINERALS] + stride * m
            if row[at + M_OUTPUT] > 0:
                shift_toward(row, at + 3, n_off, offtaker, shift)


@njit_borrowing
def mining(hosts, o, rl):
    """A turn of mining: each deposit's output closes on its capacity with the ramp-up's time
    constant (at once when it is 0), never beyond what its resources left can yield in the turn,
    and the turn's output is taken from its resources."""
    dt = rl[RL_DT]
    stride, n_off = o[O_MINERAL_STRIDE], o[O_N_OFFTAKERS]
    for h in range(hosts.shape[0]):
        for m in range(o[O_N_MINERALS]):
            at = o[O_MINERALS] + stride * m
            tail = at + 3 + n_off
            capacity, output = hosts[h, tail + MD_CAPACITY], hosts[h, at + M_OUTPUT]
            ramp = hosts[h, tail + MD_RAMP_YEARS]
            output = capacity + (output - capacity) * math.exp(-dt / ramp) if ramp > 0.0 else capacity
            left = hosts[h, tail + MD_RESOURCES]
            output = max(0.0, min(output, left / dt))
            hosts[h, at + M_OUTPUT] = output
            hosts[h, tail + MD_RESOURCES] = max(0.0, left - output * dt)


@njit_inline
def gas_room(row):
    """Gas (bcm/yr) a host's fields could still export by a new pipeline: up to its
    ``gas_export_max_bcm``; none where it sells no gas by pipeline."""
    if row[H_GAS_EXPORTS] <= 0.0:
        return 0.0
    return max(0.0, row[H_GAS_EXPORT_MAX] - row[H_GAS_EXPORTS])


@njit_borrowing
def open_gas_pipeline(row, o, key, capacity_bcm):
    """An export pipeline of ``capacity_bcm`` (bcm/yr) to destination ``key`` of the host's energy
    exports completes and fills with new exports, as far as its fields have gas left to export
    (:func:`gas_room`): gas exports grow by C = min(capacity, room), their value in proportion, and
    the destination's share becomes (share E + C) / (E + C), the others' falling in proportion.
    Nothing happens in a host with no pipeline gas exports (E = 0) or no room, or for a power with
    no destination there (key < 0)."""
    exports = row[H_GAS_EXPORTS]
    capacity_bcm = min(capacity_bcm, gas_room(row))
    if exports <= 0.0 or key < 0 or capacity_bcm <= 0.0:
        return
    total = exports + capacity_bcm
    shift_toward(row, o[O_ENERGY], o[O_N_ENERGY], key, capacity_bcm / total)
    row[H_ENERGY_EXPORTS] = min(ENERGY_EXPORTS_HIGH, row[H_ENERGY_EXPORTS] * total / exports)
    row[H_GAS_EXPORTS] = min(GAS_HIGH, total)


@njit_borrowing
def route_effects(routes, o, mv, k, size, special, max_cut):
    """Corridor effects of a completed project: capacity, delays, and the westward route's cost cut
    for the region's exports (up to ``trade.realignment_max_cut_usd_per_t``)."""
    for r in range(routes.shape[0]):
        per_bn = mv[k, o[O_ROUTE_CAPACITY] + r]
        if not math.isnan(per_bn):
            routes[r, R_CAPACITY] = max(0.0, routes[r, R_CAPACITY] + per_bn * size)
        per_bn = mv[k, o[O_ROUTE_DELAY] + r]
        if not math.isnan(per_bn):
            routes[r, R_DELAY] = max(routes[r, R_MIN_DELAY], routes[r, R_DELAY] - per_bn * size)
    mid = special[S_WESTWARD]
    if mv[k, E_EXPORT_CUT] and mid >= 0:
        routes[mid, R_EXPORT_CUT] = min(routes[mid, R_EXPORT_CUT] + mv[k, E_EXPORT_CUT] * size, max_cut)


@njit
def hazard_draws(projects, n_projects, power, turn, stream, buffer):
    """The (failure, delay) uniforms in ``turn`` of power ``power``'s running projects committed
    before it: ``buffer[2 s], buffer[2 s + 1]`` for the project numbered ``lo + s``, from the
    power's hazard stream at the turn's region (``stream``: its words at the start of the turn's
    region, engine/streams.py). Returns ``lo`` (-1 if no project draws)."""
    words = np.empty((2, 4), dtype=np.uint64)
    return hazard_draws_from(projects, 0, n_projects, power, turn, stream, buffer, words)


@njit_borrowing
def hazard_draws_from(projects, first, n_projects, power, turn, stream, buffer, words):
    """:func:`hazard_draws` over the projects from ``first`` on (those before it have ended);
    ``words``: uint64[2, 4] scratch."""
    lo, hi = -1, -1
    for j in range(first, n_projects):
        if projects[j, J_STATUS] == RUNNING and projects[j, J_POWER] == power and projects[j, J_COMMITTED] < turn:
            serial = int(projects[j, J_SERIAL])
            if lo < 0 or serial < lo:
                lo = serial
            if serial > hi:
                hi = serial
    if lo < 0:
        return -1
    s, jump = words[0], words[1]
    for i in range(4):
        s[i] = stream[i]
    pcg.jump_into(s, np.uint64(0), np.uint64(2 * lo), jump)  # (pcg.advance, into scratch)
    pcg.apply_jump(s, jump)
    for i in range(2 * (hi - lo + 1)):
        buffer[i] = pcg.next_double(s)
    return lo


@njit
def progress(
    hosts, routes, powers, o, mv, pm, wm, toolkit, projects, n_projects, turn, rl, special, streams, buffer, events
):
    """Running projects advance a turn, may slip or fail, and apply their effects on completion.
    ``buffer``: float64 scratch of at least
    ``2 (n_projects + 1)`` per power. ``streams[p]``: power ``p``'s hazard stream at the start of
    the turn's region. ``events[j]`` is set to 1 (completed) or 2 (failed) for the
    projects that end this turn, 0 for the others."""
    lows = np.empty(powers.shape[0], dtype=np.int64)
    words = np.empty((2, 4), dtype=np.uint64)
    progress_from(hosts, routes, powers, o, mv, pm, wm, toolkit, projects, 0, n_projects, turn, rl, special, streams,
                  buffer, events, lows, words)  # fmt: skip


@njit_borrowing
def progress_from(hosts, routes, powers, o, mv, pm, wm, toolkit, projects, first, n_projects, turn, rl, special,
                  streams, buffer, events, lows, words):  # fmt: skip
    """:func:`progress` of the projects from ``first`` on (those before it have ended: ``events``
    is left alone for them); ``lows``: int64[P], ``words``: uint64[2, 4] scratch. Returns the
    first project still running afterwards (``n_projects`` if none)."""
    n_powers = powers.shape[0]
    stride = 2 * (n_projects + 1)
    for p in range(n_powers):
        lows[p] = hazard_draws_from(projects, first, n_projects, p, turn, streams[p],
                                    buffer[p * stride : (p + 1) * stride], words)  # fmt: skip
    for j in range(first, n_projects):
        events[j] = 0.0
        if projects[j, J_STATUS] != RUNNING:
            continue
        p, h, k = int(projects[j, J_POWER]), int(projects[j, J_HOST]), int(projects[j, J_MOVE])
        p_fail, p_delay = hazards(hosts[h, H_GOVERNANCE], mv[k, MV_STANDARDS], rl[RL_FAILURE_HAZARD],
                                  rl[RL_DELAY_HAZARD], rl[RL_DT])  # fmt: skip
        if projects[j, J_COMMITTED] < turn:
            at = p * stride + 2 * (int(projects[j, J_SERIAL]) - lows[p])
            if buffer[at] < p_fail:
                projects[j, J_STATUS] = FAILED
                events[j] = FAILED
                hosts[h, o[O_OPINION] + p] = clip_opinion(hosts[h, o[O_OPINION] + p] - rl[RL_FAILURE_OPINION])
                continue
            if buffer[at + 1] < p_delay:
                projects[j, J_DELAYS] += 1.0
                continue
        projects[j, J_REMAINING] -= 1.0
        if projects[j, J_REMAINING] <= 0:
            projects[j, J_STATUS] = COMPLETED
            events[j] = COMPLETED
            complete(hosts, routes, o, mv, pm, wm, p, h, k, projects[j, J_SIZE], toolkit[p, k], rl, special)
    while first < n_projects and projects[first, J_STATUS] != RUNNING:
        first += 1
    return first


# ------------------------------------------------------------------------------------- economy


@njit_borrowing
def economy(hosts, o, rl, distress_events, ratios):
    """GDP grows, debt amortises, and debt service above the threshold is distress. On entering
    distress, opinion swings against the largest power creditor, which restructures:
    ``distress_events[h]`` = that creditor's index + 1 (0: it owes no power), -1 when the host
    does not enter distress this turn; ``ratios[h]``: its debt-service ratio, before restructuring."""
    dt = rl[RL_DT]
    at, n_cred = o[O_CREDITORS], o[O_N_CREDITORS]
    n_powers = o[O_N_POWERS]
    for h in range(hosts.shape[0]):
        distress_events[h] = -1
        growth = hosts[h, H_GROWTH_RATE] - (rl[RL_DISTRESS_PENALTY] if hosts[h, H_DISTRESS] else 0.0)
        # GDP is in current USD: real growth times the USD deflator (the price level tracks the latter).
        inflation = (1.0 + hosts[h, H_USD_DEFLATOR]) ** dt
        nominal = (1.0 + growth) ** dt * inflation
        old, gdp = hosts[h, H_GDP], hosts[h, H_GDP] * nominal
        hosts[h, H_GDP] = bounded_gdp(gdp)
        if hosts[h, H_GDP] == gdp:
            hosts[h, H_PRICE_LEVEL] *= inflation
        else:  # GDP's bound binds: the guard's cut is no price change of real output (real GDP keeps its
            # real growth), and the debt rolled over with GDP follows the GDP the host got
            got = hosts[h, H_GDP] / old
            hosts[h, H_PRICE_LEVEL] *= inflation * got / nominal
            nominal = got
        for c in range(n_cred):
            j = at + 4 * c
            ref = hosts[h, j + C_REFINANCED]
            hosts[h, j + C_DEBT] = (
                hosts[h, j + C_DEBT] * max(0.0, 1.0 - (1.0 - ref) * dt / hosts[h, j + C_MATURITY]) * nominal**ref
            )
        ratios[h] = debt_service_ratio(hosts, o, h)
        in_distress = ratios[h] > hosts[h, H_DISTRESS_RATIO]
        if in_distress and not hosts[h, H_DISTRESS]:
            best, best_debt = -1, 0.0
            for p in range(n_powers):  # the powers are the first creditors, in order
                d = hosts[h, at + 4 * p + C_DEBT]
                if d > best_debt:
                    best, best_debt = p, d
            distress_events[h] = best + 1
            if best >= 0:
                j = o[O_OPINION] + best
                hosts[h, j] = clip_opinion(hosts[h, j] - rl[RL_DISTRESS_SWING])
                hosts[h, at + 4 * best + C_MATURITY] += rl[RL_RESTRUCTURE_YEARS]
        hosts[h, H_DISTRESS] = 1.0 if in_distress else 0.0
        hosts[h, H_DISTRESS_TURNS] += 1.0 if in_distress else 0.0


# ------------------------------------------------------------------------------------- trade


# Sweeps of the method of successive averages that find the turn's congested equilibrium, and
# the ratio volume/capacity above which congestion is taken as at 2 (the hard capacity binds there).
MSA_SWEEPS = 30
X_MAX = 2.0


@njit_inline
def trade_scratch(n_routes):
    """Length of :func:`trade_step_with`'s float64 scratch."""
    return 4 * n_routes + 2 * N_FLOWS * n_routes + 2 * N_FLOWS


@njit
def trade_step(routes, trade, rl):
    """Cargo of each origin goes to routes by generalised cost (congested, under capacity limits),
    with a lag (docs/model.md 7.7)."""
    trade_step_with(routes, trade, rl, np.empty(trade_scratch(routes.shape[0])))


@njit_inline
def route_costs(routes, trade, r, x, costs, n):
    """Generalised cost (USD/t) of route ``r`` at volume/capacity ``x`` for every flow f, into
    ``costs[f*n + r]``: tariff and time rise with congestion (BPR), the delay's spread costs
    reliability, risk costs, and the region's exports get the route's realignment cut. (The
    congestion terms are the route's, computed once for its flows.)"""
    congestion = x ** trade[T_BETA]
    slow = 1.0 + trade[T_TIME_ALPHA] * congestion
    days = (routes[r, R_TRANSIT] + routes[r, R_DELAY]) * slow
    spread = trade[T_DELAY_CV] * routes[r, R_DELAY] * slow
    tariff = routes[r, R_TARIFF] * (1.0 + trade[T_COST_ALPHA] * congestion)
    time = days + trade[T_RELIABILITY] * spread
    risk = trade[T_RISK_COST] * routes[r, R_RISK]
    for f in range(N_FLOWS):
        cost = tariff + trade[T_FLOW_VOT + f] * time + risk
        costs[f * n + r] = cost - routes[r, R_EXPORT_CUT] if f == F_EXPORTS else cost


@njit_borrowing
def flow_split(costs, is_open, n, demand, scale, out):
    """Logit split of ``demand`` over the open routes by ``costs[:n]`` into ``out[:n]`` (weights
    relative to the cheapest open route, so that they never all underflow)."""
    cmin = math.inf
    for r in range(n):
        if is_open[r]:
            cmin = min(cmin, costs[r])
    wsum = 0.0
    for r in range(n):
        out[r] = math.exp(-(costs[r] - cmin) / scale) if is_open[r] else 0.0
        wsum += out[r]
    for r in range(n):
        out[r] = demand * out[r] / wsum if wsum > 0.0 else 0.0


@njit_borrowing
def market_targets(routes, trade, demands, targets, work):
    """Cargo per flow and route (``targets[f*R + r]``) at the congested equilibrium of the turn,
    within capacity. ``demands[f]``: each flow's demand; ``work``: float64 scratch of 4 R + 2 F R + F."""
    n = routes.shape[0]
    load, is_open, x, split = work[:n], work[n : 2 * n], work[2 * n : 3 * n], work[3 * n : 4 * n]
    costs, leftover = work[4 * n : 4 * n + N_FLOWS * n], work[4 * n + N_FLOWS * n : 4 * n + N_FLOWS * n + N_FLOWS]
    scale = trade[T_LOGIT_SCALE]
    n_open = 0
    for r in range(n):
        is_open[r] = 1.0 if routes[r, R_CAPACITY] > 0.0 else 0.0
        n_open += int(is_open[r])
        load[r] = routes[r, R_VOLUME]
    for f in range(N_FLOWS):
        leftover[f] = 0.0
        for r in range(n):
            targets[f * n + r] = 0.0
    if n_open == 0:
        return
    # Stochastic user equilibrium: loads averaged over the logit responses to their own congestion.
    for sweep in range(MSA_SWEEPS + 1):
        for r in range(n):
            x[r] = min(load[r] / routes[r, R_CAPACITY], X_MAX) if is_open[r] else X_MAX
        for r in range(n):
            route_costs(routes, trade, r, x[r], costs, n)
        if sweep == MSA_SWEEPS:
            break
        step = 1.0 / (sweep + 1.0)
        for r in range(n):
            split[r] = 0.0
        for f in range(N_FLOWS):
            flow_split(costs[f * n :], is_open, n, demands[f], scale, x)
            for r in range(n):
                split[r] += x[r]
        for r in range(n):
            load[r] += step * (split[r] - load[r])
    # The split at the equilibrium costs; a route over capacity is filled, in proportion to its
    # flows, and closed, and the excess of each flow split again over the routes still open.
    for f in range(N_FLOWS):
        flow_split(costs[f * n :], is_open, n, demands[f], scale, x)
        for r in range(n):
            targets[f * n + r] = x[r]
    for _ in range(n + 1):
        spilled = 0.0
        for r in range(n):
            if not is_open[r]:
                continue
            total = 0.0
            for f in range(N_FLOWS):
                total += targets[f * n + r]
            if total > routes[r, R_CAPACITY]:
                kept = routes[r, R_CAPACITY] / total
                for f in range(N_FLOWS):
                    leftover[f] += targets[f * n + r] * (1.0 - kept)
                    spilled += targets[f * n + r] * (1.0 - kept)
                    targets[f * n + r] *= kept
                is_open[r] = 0.0
                n_open -= 1
        if spilled <= 1e-12 or n_open == 0:
            break
        for f in range(N_FLOWS):
            flow_split(costs[f * n :], is_open, n, leftover[f], scale, x)
            leftover[f] = 0.0
            for r in range(n):
                targets[f * n + r] += x[r]


@njit_borrowing
def trade_step_with(routes, trade, rl, work):
    """:func:`trade_step` with float64 scratch ``work`` (:func:`trade_scratch` long)."""
    dt = rl[RL_DT]
    n = routes.shape[0]
    trade[T_DEMAND] *= (1.0 + trade[T_DEMAND_GROWTH]) ** dt
    demands, targets = work[:N_FLOWS], work[N_FLOWS : N_FLOWS + N_FLOWS * n]
    for f in range(N_FLOWS):
        demands[f] = trade[T_DEMAND] * trade[T_FLOW_SHARE + f]
    # A route's volume set from outside (an event) carries its flows in proportion, or in the
    # demand's proportions on an empty route.
    for r in range(n):
        carried = 0.0
        for f in range(N_FLOWS):
            carried += routes[r, R_FLOW + f]
        if abs(carried - routes[r, R_VOLUME]) > 1e-9 * max(1.0, routes[r, R_VOLUME]):
            for f in range(N_FLOWS):
                share = routes[r, R_FLOW + f] / carried if carried > 0.0 else trade[T_FLOW_SHARE + f]
                routes[r, R_FLOW + f] = routes[r, R_VOLUME] * share
    market_targets(routes, trade, demands, targets, work[N_FLOWS + N_FLOWS * n :])
    step = 1.0 - math.exp(-trade[T_ADJUSTMENT] * dt)
    for r in range(n):
        volume = 0.0
        for f in range(N_FLOWS):
            v = routes[r, R_FLOW + f]
            routes[r, R_FLOW + f] = max(0.0, v + step * (targets[f * n + r] - v))
            volume += routes[r, R_FLOW + f]
        if volume > routes[r, R_CAPACITY]:
            kept = routes[r, R_CAPACITY] / volume
            volume = 0.0
            for f in range(N_FLOWS):
                routes[r, R_FLOW + f] *= kept
                volume += routes[r, R_FLOW + f]
        routes[r, R_VOLUME] = volume
        if volume > 0.0:
            routes[r, R_CA_EXPORT] = routes[r, R_FLOW + F_EXPORTS] / volume


# ------------------------------------------------------------------------------------- influence


@njit_inline
def transit_share(routes, through, p):
    """Share of the corridors' cargo that crosses power ``p``'s territory (``routes.<r>.through``);
    0 with no cargo."""
    own, total = 0.0, 0.0
    for r in range(routes.shape[0]):
        total += routes[r, R_VOLUME]
        if through[p, r]:
            own += routes[r, R_VOLUME]
    return own / total if total > 0.0 else 0.0


@njit_inline
def presence(hosts, o, pm, ps, rl, h, p, routes, through):
    """Ongoing presence of power ``p`` in host ``h``: trade, debt, digital, energy and mineral
    ties (Western ties credited by the Western split), and the region's corridor cargo through
    its territory."""
    credit = ps[p, PS_CREDIT]
    total = debt_total(hosts, o, h)
    debt = hosts[h, o[O_CREDITORS] + 4 * pm[p, PM_CREDITOR] + C_DEBT] / total if total > 0 else 0.0
    digital = digital_share(hosts, o, pm, h, p)
    producing, offtake = 0, 0.0
    for m in range(o[O_N_MINERALS]):
        at = o[O_MINERALS] + o[O_MINERAL_STRIDE] * m
        if hosts[h, at + M_OUTPUT] > 0:
            offtake += hosts[h, at + 3 + pm[p, PM_OFFTAKER]]
            producing += 1
    minerals = offtake / producing if producing else 0.0
    trade = hosts[h, o[O_TRADE] + pm[p, PM_TRADE]] if pm[p, PM_TRADE] >= 0 else 0.0
    energy = hosts[h, o[O_ENERGY] + pm[p, PM_ENERGY]] if pm[p, PM_ENERGY] >= 0 else 0.0
    return (
        rl[RL_W_TRADE] * trade * credit
        + rl[RL_W_DEBT] * debt
        + rl[RL_W_DIGITAL] * digital * credit
        + rl[RL_W_ENERGY] * energy * credit
        + rl[RL_W_MINERALS] * minerals
        + rl[RL_W_CORRIDOR] * transit_share(routes, through, p)
    )


@njit_inline
def digital_share(hosts, o, pm, h, p):
    """The power's bloc's mean share of a host's telecom gear, cloud and logistics platform."""
    t = hosts[h, o[O_TELECOM] + pm[p, PM_TELECOM]] if pm[p, PM_TELECOM] >= 0 else 0.0
    c = hosts[h, o[O_CLOUD] + pm[p, PM_CLOUD]] if pm[p, PM_CLOUD] >= 0 else 0.0
    g = hosts[h, o[O_LOGISTICS] + pm[p, PM_LOGISTICS]] if pm[p, PM_LOGISTICS] >= 0 else 0.0
    return (t + c + g) / 3.0


@njit_inline
def presence_inflow(hosts, o, pm, ps, rl, h, p, routes, through):
    """Presence times legitimacy (1 + k opinion, never below 0)."""
    legitimacy = max(0.0, 1.0 + rl[RL_OPINION_INFLUENCE] * hosts[h, o[O_OPINION] + p])
    return presence(hosts, o, pm, ps, rl, h, p, routes, through) * legitimacy


@njit_borrowing
def initial_influence(hosts, o, pm, ps, rl, routes, through):
    """Turn 0: influence stocks at the equilibrium of today's presence."""
    n_powers = o[O_N_POWERS]
    for h in range(hosts.shape[0]):
        for p in range(n_powers):
            inflow = presence_inflow(hosts, o, pm, ps, rl, h, p, routes, through)
            hosts[h, o[O_INFLUENCE] + p] = inflow / rl[RL_INFLUENCE_DECAY]


@njit_borrowing
def influence(hosts, o, pm, ps, rl, routes, through):
    """Influence stocks decay and grow from presence weighted by opinion; opinion relaxes."""
    dt, decay, reversion = rl[RL_DT], rl[RL_INFLUENCE_DECAY], rl[RL_OPINION_REVERSION]
    n_powers = o[O_N_POWERS]
    kept, held = math.exp(-decay * dt), math.exp(-reversion * dt)  # the same for every host and power
    for h in range(hosts.shape[0]):
        for p in range(n_powers):
            inflow = presence_inflow(hosts, o, pm, ps, rl, h, p, routes, through)
            j = o[O_INFLUENCE] + p
            equilibrium = inflow / decay
            hosts[h, j] = max(0.0, equilibrium + (hosts[h, j] - equilibrium) * kept)
            j, a = o[O_OPINION] + p, o[O_ANCHOR] + p
            value = hosts[h, a] + (hosts[h, j] - hosts[h, a]) * held
            hosts[h, j] = min(1.0, max(-1.0, value))


# ------------------------------------------------------------------------------------- metrics and payoffs

# Sections of the ``derived`` vector a turn's metrics read (see :func:`derived_size`).
(D_GDP_W, D_ROUTE_SHARES, D_SHARES, D_REGIONAL, D_DIVERSIFICATION, D_MINERALS, D_DSR, D_DEBT_TOTAL, D_DEBT_TO_GDP,
 D_CHINA_DEBT_SHARE, D_DISTRESS, D_DISTRESS_TURNS, D_REAL_GDP, D_DEBT_SHARES, D_MIDDLE_CA_EXPORTS, D_WEST_MINERALS,
 D_TUNGSTEN_NON_CHINA, D_CHINA_ENERGY) = range(18)  # fmt: skip
N_DERIVED = 18


@njit
def derived_offsets(n_hosts, n_powers, n_routes):
    """Start of each section of ``derived``: GDP weights [H], route shares [R], influence shares
    [H, P], regional influence [P], diversification [H], secured mineral supply [P],
    debt-service ratio [H], then the hosts' values that metrics and records report: debt total
    (USD bn), debt / GDP, China's share of the debt, distress (1/0), turns in distress, GDP at the
    start's prices [H each], each power's share of each host's debt [H, P], and four regional
    values (kernels.reported_scalars) [1 each]; the last entry is the length."""
    out = np.empty(N_DERIVED + 1, dtype=np.int64)
    sizes = (n_hosts, n_routes, n_hosts * n_powers, n_powers, n_hosts, n_powers, n_hosts, n_hosts, n_hosts, n_hosts,
             n_hosts, n_hosts, n_hosts, n_hosts * n_powers, 1, 1, 1, 1)  # fmt: skip
    at = 0
    for i in range(N_DERIVED):
        out[i] = at
        at += sizes[i]
    out[N_DERIVED] = at
    return out


@njit
def metrics_and_payoffs(hosts, powers, routes, trade, o, pm, ps, wm, rl, special, through, initial_output, turn,
                        derived):  # fmt: skip
    """The quantities the metrics share (into ``derived``), then every actor's payoff: a power's
    weighted components (its ``component`` columns) minus cost, a host's growth, autonomy, debt
    and jobs. Running totals count from turn 1 in payoff-years. Resets the turn's jobs."""
    d = derived_offsets(hosts.shape[0], o[O_N_POWERS], routes.shape[0])
    work = np.empty(metrics_scratch(hosts.shape[0], o[O_N_CREDITORS]))
    metrics_and_payoffs_with(hosts, powers, routes, trade, o, pm, ps, wm, rl, special, through, initial_output, turn,
                             derived, d, work)  # fmt: skip


@njit_inline
def reported_values(hosts, o, pm, special, derived, d):
    """The hosts' values the metrics and the actors' records report, each as metrics.py words it:
    debt total (the creditors in order), debt / GDP, China's share of the debt (0 without debt or
    without China among the creditors), distress as 1/0, whole turns in distress, GDP over the
    price level, and each power's share of the debt (0 without debt)."""
    n_powers = o[O_N_POWERS]
    china = special[S_CHINA_CREDITOR]
    for h in range(hosts.shape[0]):
        total = debt_total(hosts, o, h)
        derived[d[D_DEBT_TOTAL] + h] = total
        derived[d[D_DEBT_TO_GDP] + h] = total / hosts[h, H_GDP]
        owed = hosts[h, o[O_CREDITORS] + 4 * china + C_DEBT] if china >= 0 else 0.0
        derived[d[D_CHINA_DEBT_SHARE] + h] = owed / total if total > 0 else 0.0
        derived[d[D_DISTRESS] + h] = 1.0 if hosts[h, H_DISTRESS] != 0.0 else 0.0
        derived[d[D_DISTRESS_TURNS] + h] = float(int(hosts[h, H_DISTRESS_TURNS]))
        derived[d[D_REAL_GDP] + h] = hosts[h, H_GDP] / hosts[h, H_PRICE_LEVEL]
        for p in range(n_powers):
            owed = hosts[h, o[O_CREDITORS] + 4 * pm[p, PM_CREDITOR] + C_DEBT]
            derived[d[D_DEBT_SHARES] + h * n_powers + p] = owed / total if total != 0.0 else 0.0


@njit_inline
def reported_scalars(hosts, routes, o, pm, wm, special, initial_output, derived, d):
    """The regional values metrics.py reports, each summed as it words it: the Central Asian
    exports' share of the westward route's cargo; the world mineral supply the western bloc
    secures (its powers' in order); the share of world tungsten supply outside China (world
    supply moving with the region's output, as in :func:`mineral_shares`; NaN without tungsten);
    the region's energy exports going to China (USD bn/yr; 0 without China as a destination)."""
    mid = special[S_WESTWARD]
    derived[d[D_MIDDLE_CA_EXPORTS]] = routes[mid, R_CA_EXPORT] if mid >= 0 else np.nan
    secured = 0.0
    for p in range(o[O_N_POWERS]):
        if pm[p, PM_WESTERN] == 1:
            secured += derived[d[D_MINERALS] + p]
    derived[d[D_WEST_MINERALS]] = secured
    m, column = special[S_TUNGSTEN], special[S_TUNGSTEN_OUTPUT]
    if m >= 0:
        region = 0.0
        for h in range(hosts.shape[0]):
            region += hosts[h, column]
        world = wm[m, 0] + region - initial_output[m]
        world = 1e-9 if world < 1e-9 else world  # (Python's max(world, 1e-9), NaN included)
        derived[d[D_TUNGSTEN_NON_CHINA]] = 1.0 - wm[m, 1] * wm[m, 0] / world
    else:
        derived[d[D_TUNGSTEN_NON_CHINA]] = np.nan
    china = special[S_CHINA_ENERGY]
    energy = 0.0
    if china >= 0:
        for h in range(hosts.shape[0]):
            energy += hosts[h, H_ENERGY_EXPORTS] * hosts[h, china]
    derived[d[D_CHINA_ENERGY]] = energy


@njit_inline
def metrics_scratch(n_hosts, n_creditors):
    """Length of :func:`metrics_and_payoffs_with`'s float64 scratch."""
    return n_creditors + 3 + n_hosts + 8


@njit_borrowing
def metrics_and_payoffs_with(hosts, powers, routes, trade, o, pm, ps, wm, rl, special, through, initial_output, turn,
                             derived, d, work):  # fmt: skip
    """:func:`metrics_and_payoffs` with ``d`` = :func:`derived_offsets` and float64 scratch
    ``work`` (:func:`metrics_scratch` long)."""
    n_hosts, n_powers, n_routes = hosts.shape[0], o[O_N_POWERS], routes.shape[0]
    dt = rl[RL_DT]
    n_cred = o[O_N_CREDITORS]
    debts, corridor = work[:n_cred], work[n_cred : n_cred + 3]
    debt_totals, comps = work[n_cred + 3 : n_cred + 3 + n_hosts], work[n_cred + 3 + n_hosts : n_cred + 11 + n_hosts]
    gdp_total = 0.0
    for h in range(n_hosts):
        gdp_total += hosts[h, H_GDP]
    for h in range(n_hosts):
        derived[d[D_GDP_W] + h] = hosts[h, H_GDP] / gdp_total
    volume_total = 0.0
    for r in range(n_routes):
        volume_total += routes[r, R_VOLUME]
    for r in range(n_routes):
        derived[d[D_ROUTE_SHARES] + r] = routes[r, R_VOLUME] / volume_total if volume_total > 0.0 else 1.0 / n_routes
    for h in range(n_hosts):
        stock = 0.0
        for p in range(n_powers):
            stock += hosts[h, o[O_INFLUENCE] + p]
        for p in range(n_powers):
            value = hosts[h, o[O_INFLUENCE] + p] / stock if stock > 0.0 else 1.0 / n_powers
            derived[d[D_SHARES] + h * n_powers + p] = value
    for p in range(n_powers):
        total = 0.0
        for h in range(n_hosts):
            total += derived[d[D_GDP_W] + h] * derived[d[D_SHARES] + h * n_powers + p]
        derived[d[D_REGIONAL] + p] = total
    for h in range(n_hosts):
        for c in range(o[O_N_CREDITORS]):
            debts[c] = hosts[h, o[O_CREDITORS] + 4 * c + C_DEBT]
        row = hosts[h]
        derived[d[D_DIVERSIFICATION] + h] = (
            diversification(row[o[O_TRADE] :], o[O_N_TRADE])
            + diversification(debts, o[O_N_CREDITORS])
            + diversification(row[o[O_TELECOM] :], o[O_N_TELECOM])
            + diversification(derived[d[D_ROUTE_SHARES] :], n_routes)
        ) / 4.0
        derived[d[D_DSR] + h] = debt_service_ratio(hosts, o, h)
    reported_values(hosts, o, pm, special, derived, d)
    mineral_shares(hosts, o, pm, wm, special, initial_output, derived[d[D_MINERALS] :])
    reported_scalars(hosts, routes, o, pm, wm, special, initial_output, derived, d)

    # Corridor interests: who captures the corridors' value. China: the share of its transit
    # demand served; the West: the share of the region's exports on the westward route.
    total_volume, ca_exports, transit = 0.0, 0.0, 0.0
    for r in range(n_routes):
        total_volume += routes[r, R_VOLUME]
    for r in range(n_routes):
        ca_exports += routes[r, R_FLOW + F_EXPORTS]
    for r in range(n_routes):
        transit += routes[r, R_FLOW + F_TRANSIT]
    total_volume = total_volume if total_volume != 0.0 else 1.0
    ca_exports = ca_exports if ca_exports != 0.0 else 1.0
    mid = special[S_WESTWARD]
    transit_demand = trade[T_DEMAND] * trade[T_FLOW_SHARE + F_TRANSIT]
    corridor[0] = min(1.0, transit / transit_demand) if transit_demand > 0.0 else 0.0
    corridor[1] = routes[mid, R_FLOW + F_EXPORTS] / ca_exports if mid >= 0 else 0.0
    energy_total = 0.0
    for h in range(n_hosts):
        energy_total += hosts[h, H_ENERGY_EXPORTS]
    energy_total = energy_total if energy_total != 0.0 else 1.0
    for h in range(n_hosts):
        total = debt_total(hosts, o, h)
        debt_totals[h] = total if total != 0.0 else 1.0

    for p in range(n_powers):
        comps[0] = derived[d[D_REGIONAL] + p]
        leverage, digital, energy, opinion = 0.0, 0.0, 0.0, 0.0
        for h in range(n_hosts):
            owed = hosts[h, o[O_CREDITORS] + 4 * pm[p, PM_CREDITOR] + C_DEBT]
            leverage += derived[d[D_GDP_W] + h] * owed / debt_totals[h]
        comps[1] = leverage
        for h in range(n_hosts):
            digital += digital_share(hosts, o, pm, h, p)
        comps[2] = digital / n_hosts
        for h in range(n_hosts):
            share = hosts[h, o[O_ENERGY] + pm[p, PM_ENERGY]] if pm[p, PM_ENERGY] >= 0 else 0.0
            energy += hosts[h, H_ENERGY_EXPORTS] * share
        comps[3] = energy / energy_total
        comps[4] = derived[d[D_MINERALS] + p]
        if pm[p, PM_CORRIDOR] == 2:  # northern_share: the cargo on the routes through the power's territory
            comps[5] = transit_share(routes, through, p)
        else:
            comps[5] = corridor[pm[p, PM_CORRIDOR]]
        for h in range(n_hosts):
            opinion += (hosts[h, o[O_OPINION] + p] + 1.0) / 2.0
        comps[6] = opinion / n_hosts
        budget = powers[p, P_BUDGET_PER_YEAR] * dt
        comps[7] = powers[p, P_SPENT_TURN] / budget if budget > 0 else 0.0
        payoff = 0.0
        for i in range(7):
            payoff += ps[p, PS_OBJECTIVES + i] * comps[i]
        payoff -= ps[p, PS_OBJECTIVES + 7] * comps[7]
        for i in range(8):
            powers[p, o[O_COMPONENTS] + i] = comps[i]
        powers[p, P_PAYOFF] = payoff
        if turn > 0:
            powers[p, P_PAYOFF_TOTAL] += payoff * dt

    for h in range(n_hosts):
        if turn > 0:
            # real growth: the turn's change in USD prices is not growth
            inflation = (1.0 + hosts[h, H_USD_DEFLATOR]) ** dt
            hosts[h, H_GROWTH_REALISED] = (hosts[h, H_GDP] / (hosts[h, H_GDP_TURN_START] * inflation) - 1.0) / dt
        jobs = min(1.0, hosts[h, H_JOBS_TURN] / max(hosts[h, H_LABOUR_ENTRANTS] * dt, 1e-9))
        payoff = (
            rl[RL_HW_GROWTH] * rl[RL_GROWTH_SCALE] * hosts[h, H_GROWTH_REALISED]
            + rl[RL_HW_AUTONOMY] * derived[d[D_DIVERSIFICATION] + h]
            - rl[RL_HW_DEBT] * derived[d[D_DSR] + h]
            + rl[RL_HW_JOBS] * jobs
        )
        hosts[h, H_PAYOFF] = payoff
        if turn > 0:
            hosts[h, H_PAYOFF_TOTAL] += payoff * dt
        hosts[h, H_JOBS_TURN] = 0.0


@njit_borrowing
def mineral_shares(hosts, o, pm, wm, special, initial_output, out):
    """Per power (into ``out[:P]``), the mean over minerals of the world supply it secures: China
    its own mining plus its offtake from the region, the others their offtake from the region."""
    n_hosts, n_powers, stride = hosts.shape[0], o[O_N_POWERS], o[O_MINERAL_STRIDE]
    china = special[S_CHINA]
    for p in range(n_powers):
        out[p] = 0.0
    n_minerals = wm.shape[0]
    for m in range(n_minerals):
        at = o[O_MINERALS] + stride * m
        region_total = 0.0
        for h in range(n_hosts):
            region_total += hosts[h, at + M_OUTPUT]
        # World supply moves with the region's output: new mines add to it, exhausted ones take away.
        world = max(wm[m, 0] + region_total - initial_output[m], 1e-9)
        for p in range(n_powers):
            region = 0.0
            for h in range(n_hosts):
                region += hosts[h, at + M_OUTPUT] * hosts[h, at + 3 + pm[p, PM_OFFTAKER]]
            if p == china:
                out[p] += (wm[m, 1] * wm[m, 0] + region) / world
            else:
                out[p] += region / world
    for p in range(n_powers):
        out[p] = out[p] / n_minerals
