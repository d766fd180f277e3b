"""Powers' strategies: the doctrines of the brief as portfolios, plus random, greedy and parametric.

A *portfolio* strategy spreads a share of the available budget over moves and hosts by weights,
offering next whichever move (and host) is furthest below its target share of what has been
offered so far, so that over a game the mix of offers follows the doctrine's weights. Hosts that
keep refusing a move get fewer such offers (acceptance memory).
"""

from __future__ import annotations

import math

import numpy as np

from ..engine.legality import licensed
from ..engine.projects import Headroom, Offer
from ..engine.rules import best_deposit, deposit_room, intensity
from . import kernels
from .base import PowerStrategy


def round_down(size: float, size_min: float = 0.0) -> float:
    """Offer sizes in whole thousands of USD (1e-6 bn), rounded down so that a size capped by a
    budget or a host's room never rounds past it, but never below the move's ``size_min``: a
    minimum off the grid (0.5000005) is offered as it is. Callers pass sizes within
    [size_min, cap], so the result is too (USD bn)."""
    return max(size_min, math.floor(size * 1e6 + 1e-6) / 1e6)


class HostRoom:
    """What each host can still take this turn, net of the offers this power has planned.

    A host cannot take two offers that each fill its whole capacity, so a power sizes each offer
    to the room its earlier offers of the turn leave (computed once per turn: strategies run in
    the hot loop of every sweep)."""

    __slots__ = ("distress", "hosts", "owed", "power", "room")

    def __init__(self, obs):
        self.power = obs.actor
        # The absorption the host will have when it answers (refilled before it does), and its debt room.
        self.room = {h: Headroom(a["absorption_room_next"], a["debt_room"]) for h, a in obs.hosts.items()}
        self.owed = dict(obs.own["owed"])
        self.distress = {h: a["distress"] for h, a in obs.hosts.items()}
        self.hosts = obs.hosts

    def cap(self, move, host: str, budget_left: float) -> float:
        """Largest legal and acceptable size of ``move`` for ``host`` (0 if none)."""
        if not licensed(self.hosts[host], move):
            return 0.0
        cap = min(move.size_max_usd_bn, budget_left / move.public_cost_share, self.room[host].cap(move))
        if move.effects.debt_relief:
            # Relief of one's own loans only, and only for a state in distress.
            cap = min(cap, self.owed[host]) if self.distress[host] else 0.0
        return cap if cap >= move.size_min_usd_bn else 0.0

    def take(self, move, host: str, size: float) -> None:
        self.room[host].take(move, size)
        if move.effects.debt_relief:
            self.owed[host] -= size


def portfolio_classifier(*actors: str) -> dict:
    """Classifier of a portfolio strategy: deterministic, for powers; ``actors`` whose doctrine it is."""
    return {
        "kinds": ("power",),
        "stochastic": False,
        "inspects": ("budget", "host limits", "acceptance"),
        "actors": "any" if actors == ("any",) else actors,
    }


class PortfolioStrategy(PowerStrategy):
    """Weights over moves and hosts; the base of the doctrines and the tunable ``parametric``."""

    defaults = {
        "move_weights": {},
        # Target shares by host: empty, equal over the scenario's hosts; else a host it does not
        # name gets default_host_weight (0 here: a table given whole names the hosts it wants).
        "host_weights": {},
        "default_host_weight": 0.0,
        "spend_share": 0.8,
        # An offer's size: offer_size of the way from the move's size_min to its size_max (then
        # capped by the budget left and the host's room).
        "offer_size": 0.5,
        # At most this many offers a turn (and never more than rules.max_offers_per_turn, the
        # world's bound). Assumption: six, a power's diplomatic and lending bandwidth; a fraction
        # counts as the whole number below it.
        "offers_per_turn": 6,
        # Acceptance memory (assumptions): a host's rate for a move is (accepted + prior)/(offered + prior),
        # and the power stops offering a move to a host whose rate falls below give_up_rate (with the
        # defaults, after five straight refusals).
        "give_up_rate": 0.2,
        "acceptance_prior": 1.0,
    }
    tunable = {
        "spend_share": (0.0, 1.0),
        "offer_size": (0.0, 1.0),
        "offers_per_turn": (1, 100),
        "give_up_rate": (0.0, 1.0),
        "acceptance_prior": (0.1, 10.0),
        "default_host_weight": (0.0, 1000.0),
    }

    def __init__(self, **params):
        super().__init__(**params)
        self.reset()

    def reset(self) -> None:
        """Forget the offers of an earlier game (the tallies the mix is steered by)."""
        self._offered_move: dict[str, float] = {}
        self._offered_host: dict[str, float] = {}
        self._offered_total = 0.0

    def kernel(self, kind, actor_id, scenario, layout):
        """The portfolio kernel (strategies/kernels.py), with this strategy's weights as vectors."""
        if kind != "power" or type(self).propose is not PortfolioStrategy.propose:
            return None
        p = self.params
        toolkit = scenario.powers[actor_id].toolkit
        weights = {m: w for m, w in (p["move_weights"] or dict.fromkeys(toolkit, 1.0)).items()
                   if m in toolkit and w > 0}  # fmt: skip
        vec = [p["spend_share"], p["offer_size"], p["give_up_rate"], p["acceptance_prior"], int(p["offers_per_turn"])]
        vec.append(len(weights))
        for m, w in weights.items():
            vec += [layout.moves.index(m), w]
        named, default = p["host_weights"], p["default_host_weight"]
        vec += [named.get(h, default) if named else 1.0 for h in layout.hosts]
        return kernels.PORTFOLIO, np.array(vec, dtype=float)

    def propose(self, obs) -> list[Offer]:
        p = self.params
        toolkit, moves = obs.own["toolkit"], obs.moves
        weights = {m: w for m, w in (p["move_weights"] or dict.fromkeys(toolkit, 1.0)).items()
                   if m in toolkit and w > 0}  # fmt: skip
        named, default = p["host_weights"], p["default_host_weight"]
        host_w = {h: named.get(h, default) if named else 1.0 for h in obs.hosts}
        wm, wh = sum(weights.values()), sum(host_w.values())
        if not weights or wh <= 0:
            return []
        targets_m = {m: w / wm for m, w in weights.items()}
        targets_h = [(h, w / wh) for h, w in host_w.items() if w > 0]
        budget_left = obs.own["budget_available"] * p["spend_share"]
        limits = HostRoom(obs)
        offers: list[Offer] = []
        min_cost = {m: moves[m].size_min_usd_bn * moves[m].public_cost_share for m in weights}
        candidates = [m for m in weights if min_cost[m] <= budget_left]
        offered_move, offered_host = self._offered_move, self._offered_host
        most = min(obs.rules.max_offers_per_turn, int(p["offers_per_turn"]))
        give_up, prior = p["give_up_rate"], p["acceptance_prior"]
        while len(offers) < most and candidates:
            total = self._offered_total or 1.0
            # The move, then the host, furthest below its target share of what was offered.
            move_id = max(candidates, key=lambda m: targets_m[m] - offered_move.get(m, 0.0) / total)
            move = moves[move_id]
            best, best_score, best_cap = None, -1e9, 0.0
            for h, target in targets_h:
                cap = limits.cap(move, h, budget_left)
                if cap <= 0 or any(o.host == h and o.move == move_id for o in offers):
                    continue
                rate = obs.acceptance_rate(h, move_id, prior)
                if rate < give_up:  # this host keeps refusing this move: stop offering it
                    continue
                deficit = target - offered_host.get(h, 0.0) / total
                # Refusals lower a host's claim whether it is below (x rate) or above (/ rate) target.
                score = deficit * rate if deficit >= 0 else deficit / rate
                if score > best_score:
                    best, best_score, best_cap = h, score, cap
            if best is None:
                candidates.remove(move_id)
                continue
            size = move.size_min_usd_bn + p["offer_size"] * (move.size_max_usd_bn - move.size_min_usd_bn)
            size = round_down(min(max(size, move.size_min_usd_bn), best_cap), move.size_min_usd_bn)
            offers.append(Offer(obs.actor, move_id, best, size))
            limits.take(move, best, size)
            budget_left -= size * move.public_cost_share
            offered_move[move_id] = offered_move.get(move_id, 0.0) + size
            offered_host[best] = offered_host.get(best, 0.0) + size
            self._offered_total += size
            candidates = [m for m in candidates if min_cost[m] <= budget_left]
        return offers


# A doctrine's host_weights name the brief's five states. Assumption: a host it does not name (a
# scenario's own, e.g. Azerbaijan) is a minor target, weighted as the doctrines weight
# Turkmenistan (0.1; the named weights sum to 1).
DOCTRINE_DEFAULT_HOST = {"default_host_weight": 0.1}


class Parametric(PortfolioStrategy):
    """Weights over moves and hosts, a spending share and an offer size: the strategy to tune.

    With no ``move_weights`` it spreads evenly over the toolkit."""

    name = "parametric"
    classifier = portfolio_classifier("any")


class BriClassic(PortfolioStrategy):
    """China's classic Belt and Road (brief, 'The two models of engagement'): state-directed
    policy-bank lending, big hard infrastructure, Huawei 5G and energy, large offers with low
    standards, concentrated where China already leads."""

    name = "bri_classic"
    classifier = portfolio_classifier("china")
    defaults = {
        **PortfolioStrategy.defaults,
        "move_weights": {"policy_bank_loan": 0.30, "hard_infrastructure": 0.25, "telecom_5g": 0.12,
                         "fossil_energy": 0.08, "power_grid": 0.10, "surveillance_tech": 0.05,
                         "logistics_platform": 0.04, "grant_aid": 0.03, "debt_relief": 0.03},
        "host_weights": {"kaz": 0.15, "uzb": 0.15, "kgz": 0.3, "tjk": 0.3, "tkm": 0.1},
        "spend_share": 0.9,
        "offer_size": 0.6,
        **DOCTRINE_DEFAULT_HOST,
    }  # fmt: skip


class Bri2(PortfolioStrategy):
    """'BRI 2.0' (brief): smaller, greener, more local projects; digital (Digital Silk Road
    2.0 cloud and AI), green-tech exports, training and jobs; fewer loans."""

    name = "bri_2"
    classifier = portfolio_classifier("china")
    defaults = {
        **PortfolioStrategy.defaults,
        "move_weights": {"green_tech": 0.25, "cloud_ai": 0.12, "telecom_5g": 0.10, "logistics_platform": 0.08,
                         "grant_aid": 0.08, "training": 0.08, "critical_minerals": 0.10,
                         "corridor_upgrade": 0.10, "policy_bank_loan": 0.05, "debt_relief": 0.04},
        "host_weights": {"kaz": 0.3, "uzb": 0.3, "kgz": 0.15, "tjk": 0.1, "tkm": 0.15},
        "spend_share": 0.7,
        "offer_size": 0.2,
        **DOCTRINE_DEFAULT_HOST,
    }  # fmt: skip


class PgiiAsymmetric(PortfolioStrategy):
    """The US/G7 asymmetric strategy (brief, PGII): soft infrastructure (customs, digital
    documents, tariffs), DFC/EXIM blended finance, training, Open RAN and satellite internet,
    C5+1 critical minerals, B5+1 business platform, TRIPP."""

    name = "pgii_asymmetric"
    classifier = portfolio_classifier("us", "g7")
    defaults = {
        **PortfolioStrategy.defaults,
        "move_weights": {"soft_infrastructure": 0.18, "blended_finance": 0.20, "training": 0.10, "open_ran": 0.10,
                         "satellite_internet": 0.06, "cloud_ai": 0.06, "critical_minerals": 0.12,
                         "business_platform": 0.10, "route_realignment": 0.08},
        "host_weights": {"kaz": 0.4, "uzb": 0.35, "kgz": 0.1, "tjk": 0.05, "tkm": 0.1},
        "spend_share": 0.8,
        "offer_size": 0.4,
        # Assumption: PGII works through many small programmes (customs, training, DFC/EXIM
        # guarantees), so it makes up to twelve offers a turn where the other doctrines make six:
        # at its offer sizes that spends a budget of up to about USD 6 bn a year (issue 8).
        "offers_per_turn": 12,
        **DOCTRINE_DEFAULT_HOST,
    }  # fmt: skip


class FossilFirst(PortfolioStrategy):
    """The US fossil-fuel push (brief, 'The energy twist'): energy-first, funding upstream oil
    and gas and pipelines, which cuts against PGII's soft-infrastructure basis."""

    name = "fossil_first"
    classifier = portfolio_classifier("us")
    defaults = {
        **PortfolioStrategy.defaults,
        "move_weights": {"fossil_energy": 0.55, "critical_minerals": 0.15, "blended_finance": 0.15,
                         "corridor_upgrade": 0.10, "grant_aid": 0.05},
        "host_weights": {"kaz": 0.4, "uzb": 0.2, "kgz": 0.05, "tjk": 0.05, "tkm": 0.3},
        "spend_share": 0.9,
        "offer_size": 0.5,
        **DOCTRINE_DEFAULT_HOST,
    }  # fmt: skip


class GlobalGateway(PortfolioStrategy):
    """The EU's Global Gateway (brief; EUR 12 bn package 2025): standards, green energy and
    water, the Middle Corridor and soft infrastructure, critical raw materials."""

    name = "global_gateway"
    classifier = portfolio_classifier("g7")
    defaults = {
        **PortfolioStrategy.defaults,
        "move_weights": {"green_tech": 0.22, "corridor_upgrade": 0.18, "soft_infrastructure": 0.15,
                         "critical_minerals": 0.12, "blended_finance": 0.10, "training": 0.08,
                         "open_ran": 0.05, "grant_aid": 0.05, "power_grid": 0.05},
        "host_weights": {"kaz": 0.3, "uzb": 0.3, "kgz": 0.15, "tjk": 0.15, "tkm": 0.1},
        "spend_share": 0.8,
        "offer_size": 0.4,
        **DOCTRINE_DEFAULT_HOST,
    }  # fmt: skip


class Incumbent(PortfolioStrategy):
    """Russia the incumbent (design.md): energy and nuclear/grid (Rosatom), the Northern
    corridor, security-backed grants and surveillance, debt relief for states in distress."""

    name = "incumbent"
    classifier = portfolio_classifier("russia")
    defaults = {
        **PortfolioStrategy.defaults,
        "move_weights": {"fossil_energy": 0.30, "power_grid": 0.20, "grant_aid": 0.15, "debt_relief": 0.10,
                         "policy_bank_loan": 0.10, "surveillance_tech": 0.08, "training": 0.07},
        "host_weights": {"kaz": 0.2, "uzb": 0.2, "kgz": 0.25, "tjk": 0.25, "tkm": 0.1},
        "spend_share": 0.8,
        "offer_size": 0.3,
        **DOCTRINE_DEFAULT_HOST,
    }  # fmt: skip


def estimate_gain(obs, move_id: str, host_id: str, size: float) -> float:
    """First-order estimate of the change in a power's weighted payoff components once a
    project completes (used by ``greedy``), from the power's observation ``obs``."""
    move = obs.moves[move_id]
    e = move.effects
    hosts = obs.hosts
    host = hosts[host_id]
    toolkit = obs.own["toolkit"]
    w = obs.own["objectives"]
    room = max(0.0, host["gas_export_max_bcm"] - host["gas_exports_bcm"]) if host["gas_exports_bcm"] > 0.0 else 0.0
    if e.gas_pipeline_bcm_per_bn and room <= 0.0:
        return 0.0  # a gas pipeline with no gas to carry is never of use (kernels.gas_room, kernels.complete)
    x = intensity(size, host["gdp_usd_bn"]) * toolkit[move_id]
    gdp_w = host["gdp_usd_bn"] / sum(h["gdp_usd_bn"] for h in hosts.values())
    stocks = sum(host["influence"].values())
    stocks = max(stocks, 1e-9) if stocks > 0 else 1.0  # a share of next to nothing stays finite
    gain = w["influence"] * gdp_w * e.influence * x / stocks
    gain += w["leverage"] * gdp_w * size * move.debt_fraction / max(host["debt_total"], 1e-9)
    gain += w["digital"] * (e.telecom_shift + e.cloud_shift + e.logistics_shift) * x / 3.0 / len(hosts)
    energy_total = sum(h["energy_exports_usd_bn"] for h in hosts.values())
    energy_w = host["energy_exports_usd_bn"] / max(energy_total, 1e-9)
    gas = host["gas_exports_bcm"]
    if gas <= 0.0:  # (gas sold by pipeline goes where the pipes go: kernels.complete)
        gain += w["energy"] * e.energy_export_shift * x * energy_w
    elif e.gas_pipeline_bcm_per_bn:  # the new pipeline's share of the grown exports (kernels.open_gas_pipeline)
        capacity = min(e.gas_pipeline_bcm_per_bn * size * toolkit[move_id], room)
        gain += w["energy"] * capacity / (gas + capacity) * energy_w
    # A venture develops the host's best deposit (rules.best_deposit, as on completion): the
    # capacity it builds there (no more than the deposit's room) as a share of world supply, which
    # the offerer takes, averaged over the minerals as the payoff is.
    if e.mineral_output_t_per_bn:
        world_output = {m: v["world_output_t"] for m, v in obs.world_minerals.items()}
        deposit = best_deposit(host["minerals"], e.mineral_output_t_per_bn, world_output)
        if deposit is not None:
            added = min(e.mineral_output_t_per_bn[deposit] * size * toolkit[move_id],
                        deposit_room(host["minerals"][deposit]))  # fmt: skip
            gain += w["minerals"] * added / world_output[deposit] / len(obs.world_minerals)
    gain += w["opinion"] * e.opinion * x / 2.0 / len(hosts)
    return gain
