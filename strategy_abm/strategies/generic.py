"""Strategies any actor may use: ``random`` (uniform over legal decisions) and ``greedy``
(myopic best response). Each serves powers and hosts under one registry name."""

from __future__ import annotations

import numpy as np

from ..engine.legality import licensed
from ..engine.projects import Offer
from . import kernels
from .base import HostStrategy, PowerStrategy
from .hosts import VALUATION, VALUATION_BOUNDS, greedy_response, random_response
from .powers import HostRoom, estimate_gain, round_down


class Random(PowerStrategy, HostStrategy):
    """Uniform over legal decisions. As a power: a random number of offers, each a uniformly drawn toolkit
    move and host with a uniform size between the move's bounds and what the budget allows.
    As a host: accepts each offer with ``accept_probability``, within its limits."""

    name = "random"
    classifier = {
        "kinds": ("power", "host"),
        "stochastic": True,
        "inspects": ("budget",),
        "actors": "any",
    }
    defaults = {"accept_probability": 0.5}
    tunable = {"accept_probability": (0.0, 1.0)}

    def kernel(self, kind, actor_id, scenario, layout):
        """The random kernels (strategies/kernels.py); draws from the same stream, in the same order."""
        method = type(self).propose is Random.propose if kind == "power" else type(self).respond is Random.respond
        return (kernels.RANDOM, np.array([self.params["accept_probability"]])) if method else None

    def propose(self, obs) -> list[Offer]:
        rng = obs.rng
        moves = sorted(obs.own["toolkit"])
        budget_left = obs.own["budget_available"]
        hosts = tuple(obs.hosts)
        owed = {h: obs.own["owed"][h] for h in hosts}  # what relief can forgive
        offers = []
        most = obs.rules.max_offers_per_turn
        count = int(rng.integers(0, most + 1))
        # A fixed block of draws (move, host, size) per offer slot: a slot the budget rules out
        # does not shift the draws of the next ones.
        slots = rng.random((most, 3)).tolist()
        for u_move, u_host, u_size in slots[:count]:
            move_id = moves[min(int(u_move * len(moves)), len(moves) - 1)]
            host_id = hosts[min(int(u_host * len(hosts)), len(hosts) - 1)]
            move = obs.moves[move_id]
            if not licensed(obs.hosts[host_id], move):  # not legal there yet: the slot is skipped
                continue
            hi = min(move.size_max_usd_bn, budget_left / move.public_cost_share)
            if move.effects.debt_relief:
                hi = min(hi, owed[host_id])
            if hi < move.size_min_usd_bn:
                continue
            size = move.size_min_usd_bn + (hi - move.size_min_usd_bn) * u_size
            offers.append(Offer(obs.actor, move_id, host_id, size))
            budget_left -= size * move.public_cost_share
            if move.effects.debt_relief:
                owed[host_id] -= size
        return offers

    def respond(self, obs) -> list[Offer]:
        return random_response(obs, self.params["accept_probability"])


class Greedy(PowerStrategy, HostStrategy):
    """Myopic best response: offers the (move, host) pairs with the highest estimated gain in
    its own payoff per unit of public cost, at the largest acceptable size, until the budget
    is spent. Gains are estimated from the move's effects on the payoff components.
    As a host: accepts the offers of highest one-turn benefit, within its limits."""

    name = "greedy"
    classifier = {
        "kinds": ("power", "host"),
        "stochastic": False,
        "inspects": ("budget", "objectives", "host state"),
        "actors": "any",
    }
    # As a power: spend_share, and the prior of its acceptance memory (as the portfolios'); as a host:
    # the valuation weights of the scoring hosts (hosts.VALUATION).
    defaults = {"spend_share": 1.0, "acceptance_prior": 1.0, **VALUATION}
    tunable = {"spend_share": (0.0, 1.0), "acceptance_prior": (0.1, 10.0), **VALUATION_BOUNDS}

    def kernel(self, kind, actor_id, scenario, layout):
        """The greedy kernels (strategies/kernels.py)."""
        method = type(self).propose is Greedy.propose if kind == "power" else type(self).respond is Greedy.respond
        if not method:
            return None
        p = self.params
        return kernels.GREEDY, np.array([p["spend_share"], p["acceptance_prior"], p["environment_weight"],
                                         p["goodwill_weight"]])  # fmt: skip

    def propose(self, obs) -> list[Offer]:
        budget_left = obs.own["budget_available"] * self.params["spend_share"]
        limits = HostRoom(obs)
        scored = []
        for move_id in sorted(obs.own["toolkit"]):
            move = obs.moves[move_id]
            for host_id in obs.hosts:
                cap = limits.cap(move, host_id, budget_left)
                if cap <= 0:
                    continue
                gain = estimate_gain(obs, move_id, host_id, cap)
                cost = cap * move.public_cost_share
                rate = obs.acceptance_rate(host_id, move_id, self.params["acceptance_prior"])
                scored.append((gain / cost * rate, move_id, host_id))
        scored.sort(key=lambda t: (-t[0], t[1], t[2]))
        offers = []
        for value, move_id, host_id in scored:
            if value <= 0 or len(offers) >= obs.rules.max_offers_per_turn:
                break
            move = obs.moves[move_id]
            cap = limits.cap(move, host_id, budget_left)
            if cap <= 0:
                continue
            size = round_down(cap, move.size_min_usd_bn)
            offers.append(Offer(obs.actor, move_id, host_id, size))
            limits.take(move, host_id, size)
            budget_left -= size * move.public_cost_share
        return offers

    def respond(self, obs) -> list[Offer]:
        return greedy_response(obs, self.params)
