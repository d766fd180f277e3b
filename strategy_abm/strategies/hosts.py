"""Hosts' strategies: how a Central Asian state answers the offers made to it.

Each scores offers by a benefit (growth, jobs, environment) net of penalties on concentration
(deepening the lead of the most influential power) and on debt (above a soft ceiling, and more
so near distress), then accepts the best within its absorption capacity and debt ceiling.
"""

from __future__ import annotations

from ..engine.projects import Offer
from ..scenario.ids import POWERS
from .base import HostStrategy
from .powers import MAX_OFFERS


def offer_benefit(host, offer: Offer, world) -> float:
    """Growth (percent of GDP), jobs (share of a year's labour-market entrants) and
    environmental cost of an offer, as the host would see it on completion."""
    move = world.moves[offer.move]
    e = move.effects
    eff = world.powers[offer.power].toolkit[offer.move]
    x = 100.0 * offer.size_usd_bn / host.gdp_usd_bn * eff
    growth = e.gdp_level_pct * x
    jobs = e.jobs_k_per_bn * offer.size_usd_bn * eff / max(host.labour_entrants_k, 1.0)
    environment = 0.05 * e.environment * x * (1.0 - move.standards)
    relief = e.debt_relief * offer.size_usd_bn / host.gdp_usd_bn * 100.0
    return growth + jobs - environment + relief + 0.02 * x * (1.0 + host.opinion[offer.power])


def concentration_cost(host, offer: Offer, world, shares: dict[str, float] | None = None) -> float:
    """Penalty for deepening a power's lead beyond an equal share (multi-vector balance):
    0.15 x intensity x (share above 1/4). ``shares``: the host's influence shares, if known."""
    shares = shares or host.influence_shares()
    x = 100.0 * offer.size_usd_bn / host.gdp_usd_bn
    return 0.15 * max(0.0, shares[offer.power] - 1.0 / len(POWERS)) * x


def debt_cost(host, offer: Offer, world, soft_ceiling: float, near_distress: bool | None = None) -> float:
    """Penalty for new debt: grows with debt above ``soft_ceiling`` (share of GDP) and
    trebles when the debt-service ratio nears the distress threshold.

    Opaque contracts hide part of the cost (brief: closed contracts, limited disclosure): the
    host sees a share 1 - (1 - standards)(1 - governance/100) of it, so low-standard loans look
    cheaper to weakly governed states."""
    move = world.moves[offer.move]
    new_debt = offer.size_usd_bn * move.debt_fraction
    if new_debt <= 0:
        return 0.0
    after = (host.debt_total + new_debt) / host.gdp_usd_bn
    cost = 100.0 * new_debt / host.gdp_usd_bn * (0.1 + max(0.0, after - soft_ceiling) / soft_ceiling)
    if near_distress is None:
        near_distress = is_near_distress(host, world)
    if near_distress:
        cost *= 3.0
    return cost * (1.0 - (1.0 - move.standards) * (1.0 - host.governance / 100.0))


def absorption_used(offer: Offer, world) -> float:
    """Host capacity an offer would use (USD bn); relief and other capacity-free moves use a
    token amount so that ranking by value per capacity stays finite."""
    return max(offer.size_usd_bn * world.moves[offer.move].local_absorption, 1e-9)


def is_near_distress(host, world) -> bool:
    """In distress, or with debt service above 80% of the distress threshold."""
    return host.distress or host.debt_service_ratio > 0.8 * world.rules.distress_service_ratio


SCORING_CLASSIFIER = {
    "kinds": ("host",),
    "stochastic": False,
    "inspects": ("offers", "influence", "debt"),
    "actors": "any",
}


class ScoringHost(HostStrategy):
    """Benefit minus weighted concentration and debt penalties; accepts the best positive
    offers within its limits."""

    defaults = {
        "concentration_penalty": 1.0,
        "debt_penalty": 1.0,
        "soft_debt_ceiling": 0.5,
        "threshold": 0.0,
        "absorption_scale": 1.0,
        "bias": {},
    }
    tunable = {
        "concentration_penalty": (0.0, 10.0),
        "debt_penalty": (0.0, 10.0),
        "soft_debt_ceiling": (0.05, 2.0),
        "threshold": (-10.0, 10.0),
        "absorption_scale": (0.0, 1.0),
    }
    allowed_domains: tuple[str, ...] | None = None

    def score(self, actor, offer: Offer, world, view: tuple | None = None) -> float:
        """Value of an offer to this host. ``view`` = (influence shares, near distress), the
        parts of the host's state that are the same for every offer of a turn."""
        p = self.params
        shares, near = view or (actor.influence_shares(), is_near_distress(actor, world))
        x = 100.0 * offer.size_usd_bn / actor.gdp_usd_bn
        return (
            offer_benefit(actor, offer, world)
            - p["concentration_penalty"] * concentration_cost(actor, offer, world, shares)
            - p["debt_penalty"] * debt_cost(actor, offer, world, p["soft_debt_ceiling"], near)
            + p["bias"].get(offer.power, 0.0) * x
        )

    def respond(self, actor, offers: list[Offer], world) -> list[Offer]:
        allowed = self.allowed_domains
        view = (actor.influence_shares(), is_near_distress(actor, world))
        scored = [
            (self.score(actor, o, world, view), i, o)
            for i, o in enumerate(offers)
            if allowed is None or world.moves[o.move].domain in allowed or o.move in self.allowed_moves
        ]
        # Capacity is the scarce resource: rank by value per USD bn of absorption used.
        scored.sort(key=lambda t: (-t[0] / absorption_used(t[2], world), t[1]))
        ordered = [o for s, _, o in scored if s > self.params["threshold"]]
        return self.within_limits(actor, ordered, world, self.params["absorption_scale"])

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

    def score(self, actor, offer, world, view=None):
        base = super().score(actor, offer, world, view)
        if offer.power == "china":
            shares = view[0] if view else None
            base += self.params["concentration_penalty"] * concentration_cost(actor, offer, world, shares)
        return base


class ClosedNeutral(ScoringHost):
    """Turkmenistan-like 'positive neutrality': limited engagement, energy deals, grants and
    relief only, at half its absorption capacity."""

    name = "closed_neutral"
    classifier = {"kinds": ("host",), "stochastic": False, "inspects": ("offers", "debt"), "actors": "any"}
    defaults = {**ScoringHost.defaults, "absorption_scale": 0.5, "debt_penalty": 2.0}
    allowed_domains = ("energy",)
    allowed_moves = ("grant_aid", "debt_relief")


def random_response(actor, offers: list[Offer], world, accept_probability: float) -> list[Offer]:
    """Each offer is accepted with ``accept_probability``, then the limits are applied.

    The draws are a fixed block per turn, one row per power (``POWERS`` order) and one column per
    offer slot: a power's k-th offer to this host meets the same number whatever the other powers
    offered (an offer beyond ``MAX_OFFERS`` draws after the block)."""
    rng = actor.rng
    block = rng.random((len(POWERS), MAX_OFFERS)).tolist()
    made = dict.fromkeys(POWERS, 0)
    chosen = []
    for o in offers:
        k = made[o.power]
        made[o.power] += 1
        u = block[POWERS.index(o.power)][k] if k < MAX_OFFERS else float(rng.random())
        if u < accept_probability:
            chosen.append(o)
    return HostStrategy.within_limits(actor, chosen, world)


def greedy_response(actor, offers: list[Offer], world) -> list[Offer]:
    """Accept the offers of highest one-turn benefit (no balance or debt penalty)."""
    scored = sorted(
        ((offer_benefit(actor, o, world), i, o) for i, o in enumerate(offers)),
        key=lambda t: (-t[0] / absorption_used(t[2], world), t[1]),
    )
    return HostStrategy.within_limits(actor, [o for s, _, o in scored if s > 0], world)
