"""Hosts' strategies: how a Central Asian state answers the offers made to it.

Each scores offers by a benefit (growth, jobs, environment) net of penalties on concentration
(deepening the lead of the most influential power) and on debt (above a soft ceiling, and more
so near distress), then accepts the best within its absorption capacity and debt ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..engine.projects import Offer
from ..engine.rules import intensity
from . import kernels
from .base import HostStrategy

# How a host values an offer, besides growth, jobs and relief: parameters of every strategy that
# scores offers (the scoring hosts, and ``greedy`` as a host). Assumptions, each set to a plausible
# order of magnitude (not in the calibration set); docs/model.md 7.2 lists them with their meaning.
VALUATION = {
    "environment_weight": 0.05,  # score lost per point of environmental damage (0-100 index) an offer brings
    "goodwill_weight": 0.02,  # score per 1% of GDP from a power in good standing, x (1 + opinion of it)
}
VALUATION_BOUNDS = {"environment_weight": (0.0, 1.0), "goodwill_weight": (0.0, 1.0)}
# The penalties of the scoring hosts, before their weights ``concentration_penalty`` and ``debt_penalty``.
PENALTIES = {
    "concentration_scale": 0.15,  # per 1% of GDP, per unit of the offerer's influence share above an equal share
    "debt_base_cost": 0.1,  # per 1% of GDP of new debt, before any excess over the soft ceiling
    "distress_debt_factor": 3.0,  # the debt penalty trebles near distress
    "near_distress_share": 0.8,  # near distress: debt service above this share of the distress threshold
}
PENALTY_BOUNDS = {
    "concentration_scale": (0.0, 1.0),
    "debt_base_cost": (0.0, 1.0),
    "distress_debt_factor": (1.0, 10.0),
    "near_distress_share": (0.0, 1.0),
}


def offer_benefit(obs, offer: Offer, valuation: Mapping[str, float] = VALUATION) -> float:
    """Growth (percent of GDP), jobs (share of a year's labour-market entrants) and
    environmental cost of an offer, as the host observing ``obs`` would see it on completion.
    ``valuation``: the weights of :data:`VALUATION` (a strategy's params hold them)."""
    host = obs.hosts[obs.actor]
    move = obs.moves[offer.move]
    e = move.effects
    eff = obs.powers[offer.power]["toolkit"][offer.move]
    gdp = host["gdp_usd_bn"]
    x = intensity(offer.size_usd_bn, gdp) * eff
    growth = e.gdp_level_pct * x
    jobs = e.jobs_k_per_bn * offer.size_usd_bn * eff / max(host["labour_entrants_k"], 1.0)
    environment = valuation["environment_weight"] * e.environment * x * (1.0 - move.standards)
    relief = e.debt_relief * offer.size_usd_bn / gdp * 100.0  # (not intensity(): other rounding)
    goodwill = valuation["goodwill_weight"] * x * (1.0 + host["opinion"][offer.power])
    return growth + jobs - environment + relief + goodwill


def concentration_cost(
    obs, offer: Offer, shares: Mapping[str, float] | None = None, scale: float = PENALTIES["concentration_scale"]
) -> float:
    """Penalty for deepening a power's lead beyond an equal share (multi-vector balance):
    ``scale`` x intensity x (share above an equal share, 1/4 with four powers). ``shares``: the
    host's influence shares, if known."""
    host = obs.hosts[obs.actor]
    shares = shares or host["influence_shares"]
    x = intensity(offer.size_usd_bn, host["gdp_usd_bn"])
    return scale * max(0.0, shares[offer.power] - 1.0 / len(shares)) * x


def debt_cost(
    obs,
    offer: Offer,
    soft_ceiling: float,
    near_distress: bool | None = None,
    penalties: Mapping[str, float] = PENALTIES,
) -> float:
    """Penalty for new debt: ``debt_base_cost`` per 1% of GDP, growing with debt above
    ``soft_ceiling`` (share of GDP), times ``distress_debt_factor`` when the debt-service ratio
    nears the distress threshold (``penalties``: the values of :data:`PENALTIES`).

    Opaque contracts hide part of the cost (brief: closed contracts, limited disclosure): the
    host sees a share 1 - (1 - standards)(1 - governance/100) of it, so low-standard loans look
    cheaper to weakly governed states."""
    move = obs.moves[offer.move]
    new_debt = offer.size_usd_bn * move.debt_fraction
    if new_debt <= 0:
        return 0.0
    host = obs.hosts[obs.actor]
    gdp = host["gdp_usd_bn"]
    after = (host["debt_total"] + new_debt) / gdp
    cost = intensity(new_debt, gdp) * (penalties["debt_base_cost"] + max(0.0, after - soft_ceiling) / soft_ceiling)
    if near_distress is None:
        near_distress = is_near_distress(obs, penalties["near_distress_share"])
    if near_distress:
        cost *= penalties["distress_debt_factor"]
    return cost * (1.0 - (1.0 - move.standards) * (1.0 - host["governance"] / 100.0))


def absorption_used(obs, offer: Offer) -> float:
    """Host capacity an offer would use (USD bn); relief and other capacity-free moves use a
    token amount so that ranking by value per capacity stays finite."""
    return max(offer.size_usd_bn * obs.moves[offer.move].local_absorption, 1e-9)


def is_near_distress(obs, share: float = PENALTIES["near_distress_share"]) -> bool:
    """The observing host is in distress, or its debt service is above ``share`` (80%) of the
    host's distress threshold (that of its debt-carrying capacity)."""
    host = obs.hosts[obs.actor]
    return host["distress"] or host["debt_service_ratio"] > share * host["distress_threshold"]


SCORING_CLASSIFIER = {
    "kinds": ("host",),
    "stochastic": False,
    "inspects": ("offers", "influence", "debt"),
    "actors": "any",
}


class ScoringHost(HostStrategy):
    """Benefit minus weighted concentration and debt penalties; accepts the best positive
    offers within its limits. The coefficients of benefit and penalties (:data:`VALUATION`,
    :data:`PENALTIES`) are parameters too."""

    defaults = {
        "concentration_penalty": 1.0,
        "debt_penalty": 1.0,
        "soft_debt_ceiling": 0.5,
        "threshold": 0.0,
        "absorption_scale": 1.0,
        "bias": {},
        **VALUATION,
        **PENALTIES,
    }
    tunable = {
        "concentration_penalty": (0.0, 10.0),
        "debt_penalty": (0.0, 10.0),
        "soft_debt_ceiling": (0.05, 2.0),
        "threshold": (-10.0, 10.0),
        "absorption_scale": (0.0, 1.0),
        **VALUATION_BOUNDS,
        **PENALTY_BOUNDS,
    }
    allowed_domains: tuple[str, ...] | None = None

    def score(self, obs, offer: Offer, view: tuple | None = None) -> float:
        """Value of an offer to the host observing ``obs``. ``view`` = (influence shares, near
        distress), the parts of the host's state that are the same for every offer of a turn."""
        p = self.params
        shares, near = view or self.view(obs)
        x = intensity(offer.size_usd_bn, obs.hosts[obs.actor]["gdp_usd_bn"])
        return (
            offer_benefit(obs, offer, p)
            - p["concentration_penalty"] * concentration_cost(obs, offer, shares, p["concentration_scale"])
            - p["debt_penalty"] * debt_cost(obs, offer, p["soft_debt_ceiling"], near, p)
            + p["bias"].get(offer.power, 0.0) * x
        )

    def view(self, obs) -> tuple[Mapping[str, float], bool]:
        """The host's influence shares and whether it is near distress (the same for every offer of a turn)."""
        return obs.hosts[obs.actor]["influence_shares"], is_near_distress(obs, self.params["near_distress_share"])

    def kernel(self, kind, actor_id, scenario, layout):
        """The scoring kernel (strategies/kernels.py); ``china_leaning``'s exemption of China from
        the concentration penalty is a parameter of it."""
        t = type(self)
        score = t.score
        if kind != "host" or t.respond is not ScoringHost.respond or t.view is not ScoringHost.view:
            return None
        if score is not ScoringHost.score and score is not ChinaLeaning.score:
            return None
        p = self.params
        exempt = layout.powers.index("china") if score is ChinaLeaning.score and "china" in layout.powers else -1
        vec = [p["concentration_penalty"], p["debt_penalty"], p["soft_debt_ceiling"], p["threshold"],
               p["absorption_scale"], p["environment_weight"], p["goodwill_weight"], p["concentration_scale"],
               p["debt_base_cost"], p["distress_debt_factor"], p["near_distress_share"], exempt]  # fmt: skip
        vec += [p["bias"].get(q, 0.0) for q in layout.powers]
        allowed = t.allowed_domains
        for m in layout.moves:
            vec.append(1.0 if allowed is None or scenario.moves[m].domain in allowed or m in t.allowed_moves else 0.0)
        return kernels.SCORING, np.array(vec, dtype=float)

    def respond(self, obs) -> list[Offer]:
        allowed, moves = self.allowed_domains, obs.moves
        view = self.view(obs)
        scored = [
            (self.score(obs, o, view), i, o)
            for i, o in enumerate(obs.offers)
            if allowed is None or moves[o.move].domain in allowed or o.move in self.allowed_moves
        ]
        # Capacity is the scarce resource: rank by value per USD bn of absorption used.
        scored.sort(key=lambda t: (-t[0] / absorption_used(obs, t[2]), t[1]))
        ordered = [o for s, _, o in scored if s > self.params["threshold"]]
        return self.within_limits(obs, ordered, self.params["absorption_scale"])

    allowed_moves: tuple[str, ...] = ()


class MultiVector(ScoringHost):
    """Multi-vector foreign policy (brief, 'How do the five states hedge'): take what brings
    growth and jobs, but balance between powers and keep debt sustainable."""

    name = "multi_vector"
    classifier = SCORING_CLASSIFIER


class DebtAverse(ScoringHost):
    """A state that guards its fiscal space above all (the lesson of Kyrgyzstan's and
    Tajikistan's exposure to Chinese credit in the brief): heavy debt penalty, low soft ceiling."""

    name = "debt_averse"
    classifier = SCORING_CLASSIFIER
    defaults = {**ScoringHost.defaults, "debt_penalty": 5.0, "soft_debt_ceiling": 0.25}


class ChinaLeaning(ScoringHost):
    """A state that leans toward Beijing: a bonus on Chinese offers and no concentration
    penalty for China's lead."""

    name = "china_leaning"
    classifier = SCORING_CLASSIFIER
    defaults = {**ScoringHost.defaults, "concentration_penalty": 0.5, "bias": {"china": 0.1}}

    def score(self, obs, offer, view=None):
        base = super().score(obs, offer, view)
        if offer.power == "china":
            shares = view[0] if view else None
            p = self.params
            cost = concentration_cost(obs, offer, shares, p["concentration_scale"])
            base += p["concentration_penalty"] * cost
        return base


class ClosedNeutral(ScoringHost):
    """Turkmenistan-like 'positive neutrality': limited engagement, energy deals, grants and
    relief only, at half its absorption capacity."""

    name = "closed_neutral"
    classifier = {"kinds": ("host",), "stochastic": False, "inspects": ("offers", "debt"), "actors": "any"}
    defaults = {**ScoringHost.defaults, "absorption_scale": 0.5, "debt_penalty": 2.0}
    allowed_domains = ("energy",)
    allowed_moves = ("grant_aid", "debt_relief")


def random_response(obs, accept_probability: float) -> list[Offer]:
    """Each offer is accepted with ``accept_probability``, then the limits are applied.

    The draws are a fixed block per turn, one row per power (the scenario's order) and one column per
    offer slot: a power's k-th offer to this host meets the same number whatever the other powers
    offered (an offer beyond ``rules.max_offers_per_turn`` draws after the block)."""
    rng = obs.rng
    slots = obs.rules.max_offers_per_turn
    powers = tuple(obs.powers)
    block = rng.random((len(powers), slots)).tolist()
    made = dict.fromkeys(powers, 0)
    chosen = []
    for o in obs.offers:
        k = made[o.power]
        made[o.power] += 1
        u = block[powers.index(o.power)][k] if k < slots else float(rng.random())
        if u < accept_probability:
            chosen.append(o)
    return HostStrategy.within_limits(obs, chosen)


def greedy_response(obs, valuation: Mapping[str, float] = VALUATION) -> list[Offer]:
    """Accept the offers (``obs.offers``) of highest one-turn benefit (no balance or debt penalty)."""
    scored = sorted(
        ((offer_benefit(obs, o, valuation), i, o) for i, o in enumerate(obs.offers)),
        key=lambda t: (-t[0] / absorption_used(obs, t[2]), t[1]),
    )
    return HostStrategy.within_limits(obs, [o for s, _, o in scored if s > 0])
