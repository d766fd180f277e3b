"""The world state as arrays sized by the scenario, and the scenario's numbers as tables.

The compiled rules (:mod:`.kernels`) read and write these arrays; their sizes come from the
scenario's ids (powers, hosts, routes, minerals, creditors), which are data, so a scenario with a
sixth host or three powers needs no code change. One row per actor or route, one column per state
variable; a map of shares (a host's opinion of each power, its trade partners, ...) is a block of
adjacent columns in the scenario's key order, so every sum runs in the order the dicts of the
scenario give. Column numbers of the fixed variables are module constants; the blocks' first
columns are in :class:`Layout` (``layout.opinion`` ...) and in the ``offsets`` array the kernels take.

Tables (all float64, so that a state is a few arrays numba unboxes fast):

- ``hosts[H, layout.host_columns]``: a host's scalars (:data:`H_GDP` ...) then its blocks:
  opinion, opinion anchor and influence stock per power; trade, telecom, cloud, logistics,
  energy and green-tech shares; per creditor (debt, rate, maturity, refinanced); per mineral
  (output_t, local_processing, developable, offtake per offtaker, then the deposit: resources,
  maximum output, capacity built, ramp-up years).
- ``powers[P, layout.power_columns]``: budgets, ledger, payoffs, counts, the payoff components,
  spending by domain and by move.
- ``routes[R, ROUTE_COLUMNS]``: :data:`R_CAPACITY` ..., then the cargo per flow (:data:`R_FLOW`);
  ``trade[TRADE_COLUMNS]``: :data:`T_DEMAND` ..., then per flow its demand share and value of time.
- ``acceptance[P, H, K, 2]``: (accepted, offered) counts per power, host and move.
- ``moves[K, layout.move_columns]``: a move's terms and effects (static);
  ``toolkit[P, K]``: efficiency, 0 where the move is not in the power's toolkit (static).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..scenario.config import FLOWS, OBJECTIVES, ConfigError, Scenario
from ..scenario.ids import DOMAINS, OTHER

# ---------------------------------------------------------------- host scalars (columns of ``hosts``)
(H_GDP, H_GROWTH_RATE, H_REVENUE_SHARE, H_POPULATION, H_LABOUR_ENTRANTS, H_GOVERNANCE, H_SATELLITE,
 H_ENERGY_EXPORTS, H_RENEWABLES, H_ENVIRONMENT, H_ABSORPTION_PCT, H_DEBT_CEILING_PCT, H_JOBS_CREATED,
 H_JOBS_TURN, H_DISTRESS, H_DISTRESS_TURNS, H_GROWTH_REALISED, H_GDP_TURN_START, H_PAYOFF, H_PAYOFF_TOTAL,
 H_ABSORPTION_ROOM, H_GAS_EXPORTS, H_USD_DEFLATOR, H_PRICE_LEVEL, H_DISTRESS_RATIO,
 H_SATELLITE_LICENCE, H_GAS_EXPORT_MAX) = range(27)  # fmt: skip
HOST_SCALARS = 27
# The attribute of HostState each scalar column holds (events and views name them so).
HOST_SCALAR_NAMES = (
    "gdp_usd_bn", "growth_rate", "revenue_share_gdp", "population_m", "labour_entrants_k", "governance",
    "satellite_coverage", "energy_exports_usd_bn", "renewables_share", "environment_damage",
    "absorption_pct_gdp", "debt_ceiling_pct_gdp", "jobs_created_k", "jobs_turn_k", "distress", "distress_turns",
    "growth_realised", "gdp_turn_start", "payoff", "payoff_total", "absorption_room", "gas_exports_bcm",
    "usd_deflator", "price_level", "distress_service_ratio", "satellite_licence", "gas_export_max_bcm",
)  # fmt: skip
# A host holds its satellite licence when ``satellite_licence`` (a 0/1 flag events set) is at least
# this: only then are offers of a move that requires it legal there (engine/legality.py).
LICENCE_HELD = 0.5
# Per creditor, per mineral: the fields of a block's entry.
C_DEBT, C_RATE, C_MATURITY, C_REFINANCED = range(4)
CREDITOR_FIELDS = ("debt", "rate", "maturity_years", "refinanced")
M_OUTPUT, M_PROCESSING, M_DEVELOPABLE = range(3)  # then the offtake shares, then the deposit (MD_*)
MINERAL_FIELDS = ("output_t", "local_processing", "developable")
# The deposit's fields, after the offtake shares (column ``3 + n_offtakers + MD_*`` of the entry):
# resources left (t, inf: not modelled), the most it can yield a year (t/yr), the capacity built
# (t/yr: output ramps up toward it) and the ramp-up's time constant (years).
MD_RESOURCES, MD_MAX_OUTPUT, MD_CAPACITY, MD_RAMP_YEARS = range(4)
DEPOSIT_FIELDS = ("resources_t", "max_output_t", "capacity_t", "ramp_up_years")

# ---------------------------------------------------------------- routes, trade
# A route's cargo by origin (R_FLOW + f for flow f of FLOWS) sums to R_VOLUME; R_CA_EXPORT is the
# exports' share of it (kept by the trade rule), R_EXPORT_CUT the realignment's cut (USD/t) of the
# route's cost for the region's exports.
(R_CAPACITY, R_VOLUME, R_TRANSIT, R_DELAY, R_MIN_DELAY, R_TARIFF, R_RISK, R_CA_EXPORT, R_EXPORT_CUT,
 R_FLOW) = range(10)  # fmt: skip
ROUTE_FIELDS = ("capacity_mt", "volume_mt", "transit_days", "delay_days", "min_delay_days", "tariff_usd_per_t",
                "political_risk", "ca_export_share", "export_cost_cut_usd_per_t",
                *(f"{f}_mt" for f in FLOWS))  # fmt: skip
ROUTE_COLUMNS = R_FLOW + len(FLOWS)
# Flow indices (FLOWS order): China-Europe transit, Central Asian exports westward, other cargo.
F_TRANSIT, F_EXPORTS, F_OTHER = range(3)
N_FLOWS = len(FLOWS)
(T_DEMAND, T_DEMAND_GROWTH, T_RISK_COST, T_LOGIT_SCALE, T_ADJUSTMENT, T_TIME_ALPHA, T_COST_ALPHA, T_BETA,
 T_DELAY_CV, T_RELIABILITY) = range(10)  # fmt: skip
TRADE_FIELDS = ("demand_mt", "demand_growth", "risk_cost_usd_per_t", "logit_scale_usd_per_t", "adjustment_rate",
                "congestion_time_alpha", "congestion_cost_alpha", "congestion_beta", "delay_cv",
                "reliability_ratio")  # fmt: skip
# (trade.realignment_max_cut_usd_per_t is a rule, RL_MAX_CUT: completed projects read it.)
# Then per flow f: its share of demand (T_FLOW_SHARE + f, from the routes' turn-0 cargo) and its
# value of time (T_FLOW_VOT + f, USD/t/day).
T_FLOW_SHARE = len(TRADE_FIELDS)
T_FLOW_VOT = T_FLOW_SHARE + len(FLOWS)
TRADE_COLUMNS = T_FLOW_VOT + len(FLOWS)

# ---------------------------------------------------------------- power scalars (columns of ``powers``)
(P_BUDGET_PER_YEAR, P_BUDGET_AVAILABLE, P_BUDGET_GRANTED, P_SPENT_TURN, P_SPENT_TOTAL, P_PRIVATE_MOBILISED,
 P_PAYOFF, P_PAYOFF_TOTAL, P_OFFERS_MADE, P_OFFERS_ACCEPTED) = range(10)  # fmt: skip
POWER_SCALARS = 10
# Then: the payoff components (OBJECTIVES order), spending by domain, project size accepted by move.

# ---------------------------------------------------------------- move columns (of ``moves``)
(MV_COST_SHARE, MV_SIZE_MIN, MV_SIZE_MAX, MV_ABSORPTION, MV_DEBT_FRACTION, MV_LOAN_RATE, MV_LOAN_MATURITY,
 MV_STANDARDS, MV_LAG_YEARS, MV_DOMAIN, MV_PRIVATE_PER_PUBLIC,
 E_INFLUENCE, E_OPINION, E_GDP_LEVEL, E_JOBS, E_GOVERNANCE, E_ENVIRONMENT, E_TELECOM, E_SATELLITE, E_CLOUD,
 E_LOGISTICS, E_ENERGY_EXPORT, E_RENEWABLES, E_GREEN_TECH, E_OFFTAKE_SHIFT, E_LOCAL_PROCESSING, E_EXPORT_CUT,
 E_DEBT_RELIEF, E_MINERAL_ANY, E_GAS_PIPELINE, MV_NEEDS_SATELLITE_LICENCE) = range(31)  # fmt: skip
MOVE_SCALARS = 31  # then route capacity per bn [R], route delay per bn [R], mineral output per bn [M]
EFFECT_FIELDS = {
    E_INFLUENCE: "influence", E_OPINION: "opinion", E_GDP_LEVEL: "gdp_level_pct", E_JOBS: "jobs_k_per_bn",
    E_GOVERNANCE: "governance", E_ENVIRONMENT: "environment", E_TELECOM: "telecom_shift",
    E_SATELLITE: "satellite_coverage", E_CLOUD: "cloud_shift", E_LOGISTICS: "logistics_shift",
    E_ENERGY_EXPORT: "energy_export_shift", E_RENEWABLES: "renewables", E_GREEN_TECH: "green_tech_shift",
    E_OFFTAKE_SHIFT: "mineral_offtake_shift", E_LOCAL_PROCESSING: "local_processing",
    E_EXPORT_CUT: "export_cost_cut_usd_per_t_per_bn", E_DEBT_RELIEF: "debt_relief",
    E_GAS_PIPELINE: "gas_pipeline_bcm_per_bn",
}  # fmt: skip

# ---------------------------------------------------------------- entries of ``offsets`` (int64)
(O_OPINION, O_ANCHOR, O_INFLUENCE, O_TRADE, O_TELECOM, O_CLOUD, O_LOGISTICS, O_ENERGY, O_GREEN, O_CREDITORS,
 O_MINERALS, O_MINERAL_STRIDE, O_COMPONENTS, O_BY_DOMAIN, O_BY_MOVE, O_ROUTE_CAPACITY, O_ROUTE_DELAY,
 O_MINERAL_OUTPUT, O_N_TRADE, O_N_TELECOM, O_N_CLOUD, O_N_LOGISTICS, O_N_ENERGY, O_N_GREEN, O_N_CREDITORS,
 O_N_OFFTAKERS, O_N_POWERS, O_N_MINERALS) = range(28)  # fmt: skip
N_OFFSETS = 28

# Host maps of shares, in column-block order.
HOST_VECTORS = ("trade_shares", "telecom_vendor_shares", "cloud_shares", "logistics_platform_shares",
                "energy_export_shares", "green_tech_origin")  # fmt: skip


class LayoutError(ConfigError):
    """The scenario's state does not fit one table layout: hosts whose share maps of one kind
    name different keys (every host's vector of a kind has the same columns). One line, naming
    the field, as every scenario error."""


@dataclass(frozen=True)
class Layout:
    """Where each state variable of a scenario sits in the arrays, and the ids in index order.

    Attributes:
        powers, hosts, routes, minerals, creditors, offtakers, moves, domains: ids in index order.
        opinion, anchor, influence, creditors_at, minerals_at: first column of each host block.
        vectors: host map attribute -> (first column, keys).
        host_columns, power_columns, move_columns: widths of the tables.
        offsets: the block offsets as an int64 array (``O_*`` entries), for the kernels.
    """

    powers: tuple[str, ...]
    hosts: tuple[str, ...]
    routes: tuple[str, ...]
    minerals: tuple[str, ...]
    creditors: tuple[str, ...]
    offtakers: tuple[str, ...]
    moves: tuple[str, ...]
    domains: tuple[str, ...]
    opinion: int
    anchor: int
    influence: int
    vectors: dict[str, tuple[int, tuple[str, ...]]]
    creditors_at: int
    minerals_at: int
    mineral_stride: int
    host_columns: int
    components: int
    by_domain: int
    by_move: int
    power_columns: int
    move_columns: int
    offsets: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, sc: Scenario) -> Layout:
        powers, hosts = sc.power_ids, sc.host_ids
        routes, minerals = sc.route_ids, sc.mineral_ids
        creditors, offtakers = sc.creditor_ids, (*sc.power_ids, OTHER)
        moves = tuple(sc.moves)
        col = HOST_SCALARS
        opinion, col = col, col + len(powers)
        anchor, col = col, col + len(powers)
        influence, col = col, col + len(powers)
        vectors = {}
        for name in HOST_VECTORS:
            # The first host's order of keys (a host listing them in another order is reordered:
            # the rules sum a vector in its column order).
            keys = tuple(getattr(sc.hosts[hosts[0]], name)) if hosts else ()
            for h in hosts[1:]:
                if set(getattr(sc.hosts[h], name)) != set(keys):
                    raise LayoutError(
                        f"hosts.{h}.{name}: names {sorted(getattr(sc.hosts[h], name))}, not the keys "
                        f"of hosts.{hosts[0]}.{name} {sorted(keys)} (every host lists the same keys)"
                    )
            vectors[name], col = (col, keys), col + len(keys)
        creditors_at, col = col, col + 4 * len(creditors)
        stride = 3 + len(offtakers) + len(DEPOSIT_FIELDS)
        minerals_at, col = col, col + stride * len(minerals)
        components = POWER_SCALARS
        by_domain = components + len(OBJECTIVES)
        by_move = by_domain + len(DOMAINS)
        v = {name: at for name, (at, _) in vectors.items()}
        n = {name: len(keys) for name, (_, keys) in vectors.items()}
        offsets = np.zeros(N_OFFSETS, dtype=np.int64)
        for index, value in (
            (O_OPINION, opinion), (O_ANCHOR, anchor), (O_INFLUENCE, influence), (O_TRADE, v["trade_shares"]),
            (O_TELECOM, v["telecom_vendor_shares"]), (O_CLOUD, v["cloud_shares"]),
            (O_LOGISTICS, v["logistics_platform_shares"]), (O_ENERGY, v["energy_export_shares"]),
            (O_GREEN, v["green_tech_origin"]), (O_CREDITORS, creditors_at), (O_MINERALS, minerals_at),
            (O_MINERAL_STRIDE, stride), (O_COMPONENTS, components), (O_BY_DOMAIN, by_domain), (O_BY_MOVE, by_move),
            (O_ROUTE_CAPACITY, MOVE_SCALARS), (O_ROUTE_DELAY, MOVE_SCALARS + len(routes)),
            (O_MINERAL_OUTPUT, MOVE_SCALARS + 2 * len(routes)), (O_N_TRADE, n["trade_shares"]),
            (O_N_TELECOM, n["telecom_vendor_shares"]), (O_N_CLOUD, n["cloud_shares"]),
            (O_N_LOGISTICS, n["logistics_platform_shares"]), (O_N_ENERGY, n["energy_export_shares"]),
            (O_N_GREEN, n["green_tech_origin"]), (O_N_CREDITORS, len(creditors)), (O_N_OFFTAKERS, len(offtakers)),
            (O_N_POWERS, len(powers)), (O_N_MINERALS, len(minerals)),
        ):  # fmt: skip
            offsets[index] = value
        offsets.flags.writeable = False
        return cls(
            powers=powers, hosts=hosts, routes=routes, minerals=minerals, creditors=creditors,
            offtakers=offtakers, moves=moves, domains=tuple(DOMAINS), opinion=opinion, anchor=anchor,
            influence=influence, vectors=vectors, creditors_at=creditors_at, minerals_at=minerals_at,
            mineral_stride=stride, host_columns=col, components=components, by_domain=by_domain, by_move=by_move,
            power_columns=by_move + len(moves), move_columns=MOVE_SCALARS + 2 * len(routes) + len(minerals),
            offsets=offsets,
        )  # fmt: skip

    def creditor(self, c: int, what: int) -> int:
        """Column of creditor ``c``'s field ``what`` (``C_DEBT`` ...)."""
        return self.creditors_at + 4 * c + what

    def mineral(self, m: int, what: int) -> int:
        """Column of mineral ``m``'s field ``what`` (``M_OUTPUT`` ...; ``3 + o`` is offtaker ``o``'s share)."""
        return self.minerals_at + self.mineral_stride * m + what

    def deposit(self, m: int, what: int) -> int:
        """Column of mineral ``m``'s deposit field ``what`` (``MD_RESOURCES`` ...)."""
        return self.mineral(m, 3 + len(self.offtakers) + what)


@dataclass
class Tables:
    """The static numbers of a scenario the compiled rules read (see the module's docstring).

    ``power_static[P, 1 + len(OBJECTIVES)]``: the share of a Western tie credited to the power
    (``PS_CREDIT``; 1 outside the Western bloc), then its objective weights (``PS_OBJECTIVES`` on).
    ``power_meta[P, 9]`` (int64, ``PM_*``): the power's entry in each host map (its bloc among the
    telecom, cloud, logistics and green-tech keys, its partner among the trade and energy keys; -1
    where the map has none), its corridor interest, creditor and offtaker indices.
    ``through[P, R]``: 1 where the route runs through the power (its ``northern_share`` interest).
    ``special`` (int64): the index of the power of id ``china`` (its own mining counts in the
    minerals it secures) and of the westward route (``trade.westward_route``); -1 for none.
    ``rules``: the scalar rules (``RL_*``); ``world_minerals[M, 2]``: world output (t/yr), China's share.
    """

    layout: Layout
    moves: np.ndarray
    toolkit: np.ndarray
    power_static: np.ndarray
    power_meta: np.ndarray
    rules: np.ndarray
    world_minerals: np.ndarray
    through: np.ndarray
    special: np.ndarray


# Scalar rules, in the order of ``Tables.rules``.
RULE_FIELDS = (
    "influence_decay", "opinion_reversion", "opinion_influence", "distress_service_ratio",
    "distress_opinion_swing", "distress_growth_penalty", "restructure_maturity_years", "failure_hazard",
    "delay_hazard", "failure_opinion", "environment_opinion", "jobs_opinion", "budget_carryover_years",
    "max_offers_per_turn", "host_growth_payoff_scale",
)  # fmt: skip
(RL_INFLUENCE_DECAY, RL_OPINION_REVERSION, RL_OPINION_INFLUENCE, RL_DISTRESS_RATIO, RL_DISTRESS_SWING,
 RL_DISTRESS_PENALTY, RL_RESTRUCTURE_YEARS, RL_FAILURE_HAZARD, RL_DELAY_HAZARD, RL_FAILURE_OPINION,
 RL_ENVIRONMENT_OPINION, RL_JOBS_OPINION, RL_CARRYOVER, RL_MAX_OFFERS, RL_GROWTH_SCALE, RL_DT,
 RL_TURNS_PER_YEAR, RL_W_TRADE, RL_W_DEBT, RL_W_DIGITAL, RL_W_ENERGY, RL_W_MINERALS, RL_HW_GROWTH,
 RL_HW_AUTONOMY, RL_HW_DEBT, RL_HW_JOBS, RL_W_CORRIDOR, RL_MAX_CUT) = range(28)  # fmt: skip
PRESENCE_KEYS = ("trade", "debt", "digital", "energy", "minerals")  # then "corridor", last (RL_W_CORRIDOR)
HOST_PAYOFF_KEYS = ("growth", "autonomy", "debt", "jobs")
CORRIDOR_CODES = {"chinese_transit": 0, "ca_exports_west": 1, "northern_share": 2}
(PM_TELECOM, PM_CLOUD, PM_LOGISTICS, PM_GREEN, PM_TRADE, PM_ENERGY, PM_CORRIDOR, PM_CREDITOR,
 PM_OFFTAKER, PM_WESTERN) = range(10)  # fmt: skip
PS_CREDIT, PS_OBJECTIVES = 0, 1


def _tungsten_and_china_energy(lay: Layout) -> tuple[int, int, int]:
    """(tungsten's mineral index, its output column, the column of the hosts' energy-export share
    to China), -1 for what the scenario lacks: the metrics kernels.reported_scalars computes."""
    tungsten = lay.minerals.index("tungsten") if "tungsten" in lay.minerals else -1
    at, keys = lay.vectors["energy_export_shares"]
    return (tungsten, lay.mineral(tungsten, M_OUTPUT) if tungsten >= 0 else -1,
            at + keys.index("china") if "china" in keys else -1)  # fmt: skip


def tables(sc: Scenario) -> Tables:
    """The static tables of scenario ``sc`` (cheap: built once per scenario and shared by its games)."""
    lay = Layout.of(sc)
    mv = np.zeros((len(lay.moves), lay.move_columns))
    for k, mid in enumerate(lay.moves):
        m = sc.moves[mid]
        e = m.effects
        mv[k, :MV_PRIVATE_PER_PUBLIC + 1] = (
            m.public_cost_share, m.size_min_usd_bn, m.size_max_usd_bn, m.local_absorption, m.debt_fraction,
            m.loan_rate, m.loan_maturity_years, m.standards, m.lag_years, DOMAINS.index(m.domain), m.private_per_public,
        )  # fmt: skip
        for column, name in EFFECT_FIELDS.items():
            mv[k, column] = getattr(e, name)
        # A minerals venture: any mineral named (even at 0 t), or a shift of offtake or processing.
        mv[k, E_MINERAL_ANY] = float(bool(e.mineral_output_t_per_bn or e.mineral_offtake_shift or e.local_processing))
        mv[k, MV_NEEDS_SATELLITE_LICENCE] = float(m.requires_satellite_licence)
        for r, rid in enumerate(lay.routes):
            # NaN: the move does not name the route (its delay is then left alone, even below its floor).
            mv[k, MOVE_SCALARS + r] = e.route_capacity_mt_per_bn.get(rid, np.nan)
            mv[k, MOVE_SCALARS + len(lay.routes) + r] = e.route_delay_days_per_bn.get(rid, np.nan)
        for i, mineral in enumerate(lay.minerals):
            mv[k, MOVE_SCALARS + 2 * len(lay.routes) + i] = e.mineral_output_t_per_bn.get(mineral, 0.0)
    toolkit = np.zeros((len(lay.powers), len(lay.moves)))
    static = np.zeros((len(lay.powers), 1 + len(OBJECTIVES)))
    meta = np.zeros((len(lay.powers), 10), dtype=np.int64)
    r = sc.rules

    def index(keys, key):
        return keys.index(key) if key in keys else -1

    for p, pid in enumerate(lay.powers):
        cfg = sc.powers[pid]
        for mid, eff in cfg.toolkit.items():
            toolkit[p, lay.moves.index(mid)] = eff
        bloc, partner = cfg.bloc, cfg.partner
        static[p, PS_CREDIT] = r.western_split.get(pid, 1.0)  # (rules.western_credit)
        static[p, PS_OBJECTIVES:] = [cfg.objectives[k] for k in OBJECTIVES]
        keys = {name: k for name, (_, k) in lay.vectors.items()}
        meta[p] = (
            index(keys["telecom_vendor_shares"], bloc), index(keys["cloud_shares"], bloc),
            index(keys["logistics_platform_shares"], bloc), index(keys["green_tech_origin"], bloc),
            index(keys["trade_shares"], partner), index(keys["energy_export_shares"], partner),
            CORRIDOR_CODES[cfg.corridor_interest], lay.creditors.index(pid), lay.offtakers.index(pid),
            int(bloc == "western"),
        )  # fmt: skip
    rules = np.array(
        [float(getattr(r, name)) for name in RULE_FIELDS]
        + [sc.dt, float(sc.turns_per_year)]
        + [r.presence_weights[k] for k in PRESENCE_KEYS]
        + [r.host_payoff_weights[k] for k in HOST_PAYOFF_KEYS]
        + [r.presence_weights["corridor"], sc.trade.realignment_max_cut_usd_per_t]
    )
    world = np.array([(sc.world.minerals[m].world_output_t, sc.world.minerals[m].china_share) for m in lay.minerals])
    through = np.array([[float(pid in sc.routes[r].through) for r in lay.routes] for pid in lay.powers])
    westward = sc.trade.westward_route
    special = np.array([lay.powers.index("china") if "china" in lay.powers else -1,
                        lay.routes.index(westward) if westward in lay.routes else -1,
                        lay.creditors.index("china") if "china" in lay.creditors else -1,
                        *_tungsten_and_china_energy(lay)], dtype=np.int64)  # fmt: skip
    for a in (mv, toolkit, static, meta, rules, world, through, special):
        a.flags.writeable = False
    return Tables(lay, mv, toolkit, static, meta, rules, world, through, special)


@dataclass
class State:
    """A game's mutable state (see the module's docstring for the tables' layout)."""

    hosts: np.ndarray
    powers: np.ndarray
    routes: np.ndarray
    trade: np.ndarray
    acceptance: np.ndarray

    def copy(self) -> State:
        return State(self.hosts.copy(), self.powers.copy(), self.routes.copy(), self.trade.copy(),
                     self.acceptance.copy())  # fmt: skip


def initial_state(sc: Scenario, lay: Layout) -> State:
    """The state at the start of a game, from the scenario's figures (influence stocks are set by
    the rules: ``kernels.initial_influence``)."""
    hosts = np.zeros((len(lay.hosts), lay.host_columns))
    for h, hid in enumerate(lay.hosts):
        cfg = sc.hosts[hid]
        row = hosts[h]
        for column, name in enumerate(HOST_SCALAR_NAMES):
            if getattr(cfg, name, None) is not None:
                row[column] = getattr(cfg, name)
        row[H_GROWTH_REALISED] = cfg.growth_rate
        row[H_GDP_TURN_START] = cfg.gdp_usd_bn
        if cfg.gas_export_max_bcm is None:  # no room to grow
            row[H_GAS_EXPORT_MAX] = cfg.gas_exports_bcm
        row[H_PRICE_LEVEL] = 1.0  # USD prices of the GDP vintage: real GDP = gdp / price_level
        row[H_DISTRESS_RATIO] = sc.distress_threshold(hid)
        for i, pid in enumerate(lay.powers):
            row[lay.opinion + i] = row[lay.anchor + i] = cfg.opinion[pid]
        for name, (at, keys) in lay.vectors.items():
            values = getattr(cfg, name)
            row[at : at + len(keys)] = [values[k] for k in keys]
        debt = cfg.public_external_debt_usd_bn
        for i, c in enumerate(lay.creditors):
            cred = cfg.creditors[c]
            row[lay.creditor(i, C_DEBT)] = debt * cred.share
            row[lay.creditor(i, C_RATE)] = cred.rate
            row[lay.creditor(i, C_MATURITY)] = cred.maturity_years
            row[lay.creditor(i, C_REFINANCED)] = cred.refinanced
        for i, m in enumerate(lay.minerals):
            mineral = cfg.minerals[m]
            row[lay.mineral(i, M_OUTPUT)] = mineral.output_t
            row[lay.mineral(i, M_PROCESSING)] = mineral.local_processing
            row[lay.mineral(i, M_DEVELOPABLE)] = float(mineral.developable)
            for j, who in enumerate(lay.offtakers):
                row[lay.mineral(i, 3 + j)] = mineral.offtake[who]
            # Mines produce at their capacity at the start; None resources: depletion not modelled.
            row[lay.deposit(i, MD_RESOURCES)] = np.inf if mineral.resources_t is None else mineral.resources_t
            row[lay.deposit(i, MD_MAX_OUTPUT)] = mineral.max_output_t
            row[lay.deposit(i, MD_CAPACITY)] = mineral.output_t
            row[lay.deposit(i, MD_RAMP_YEARS)] = mineral.ramp_up_years
    powers = np.zeros((len(lay.powers), lay.power_columns))
    for p, pid in enumerate(lay.powers):
        powers[p, P_BUDGET_PER_YEAR] = sc.powers[pid].budget_usd_bn_per_year
    routes = np.zeros((len(lay.routes), ROUTE_COLUMNS))
    for r, rid in enumerate(lay.routes):
        cfg = sc.routes[rid]
        for column, name in enumerate(ROUTE_FIELDS[:R_CA_EXPORT]):
            routes[r, column] = getattr(cfg, name)
        for f, flow in enumerate(FLOWS):
            routes[r, R_FLOW + f] = cfg.volume_mt * cfg.flow_shares[flow]
        routes[r, R_CA_EXPORT] = cfg.flow_shares[FLOWS[F_EXPORTS]]
    trade = np.zeros(TRADE_COLUMNS)  # (westward_route: a Layout index)
    trade[:T_FLOW_SHARE] = [getattr(sc.trade, f) for f in TRADE_FIELDS]
    # Each origin's share of demand: its share of the routes' cargo at turn 0 (equal shares if none).
    carried = routes[:, R_FLOW : R_FLOW + len(FLOWS)].sum(axis=0)
    total = carried.sum()
    for f, flow in enumerate(FLOWS):
        trade[T_FLOW_SHARE + f] = carried[f] / total if total > 0.0 else 1.0 / len(FLOWS)
        trade[T_FLOW_VOT + f] = sc.trade.flows[flow].value_of_time_usd_per_t_day
    acceptance = np.zeros((len(lay.powers), len(lay.hosts), len(lay.moves), 2))
    return State(hosts, powers, routes, trade, acceptance)
