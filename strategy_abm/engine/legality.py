"""The legality of a decision: one implementation for the turn (``Game.submit`` and the decisions
of configured strategies) and for the strategies' own checks (``strategies.check_offers``)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .arrays import LICENCE_HELD
from .projects import Headroom, Offer


def licensed(host, move) -> bool:
    """Whether ``move`` may be offered to ``host`` (a HostState or an observation's host map): a
    move that ``requires_satellite_licence`` only where the host holds the licence."""
    if not move.requires_satellite_licence:
        return True
    held = host["satellite_licence"] if isinstance(host, Mapping) else host.satellite_licence
    return held >= LICENCE_HELD


class StrategyError(RuntimeError):
    """An illegal decision. From a strategy it is a bug in the strategy (never a user error); from
    ``Game.submit`` the submission was wrong and the game is unchanged. The message names the
    actor and the problem."""


def check_offers(actor, offers: list[Offer], world) -> None:
    """Raise StrategyError unless the offers are legal for this power this turn."""
    most = world.rules.max_offers_per_turn
    if len(offers) > most:
        raise StrategyError(f"{actor.actor_id}: {len(offers)} offers, more than rules.max_offers_per_turn = {most}")
    total = 0.0
    relief = dict.fromkeys(world.hosts, 0.0)
    for o in offers:
        if not isinstance(o, Offer):
            raise StrategyError(f"{actor.actor_id}: {o!r} is not an Offer")
        if o.power != actor.actor_id:
            raise StrategyError(f"{actor.actor_id}: offer made in the name of {o.power}")
        if o.move not in actor.toolkit:
            raise StrategyError(f"{actor.actor_id}: {o.move} is not in its toolkit")
        if o.host not in world.hosts:
            raise StrategyError(f"{actor.actor_id}: unknown host {o.host}")
        size = o.size_usd_bn
        # A Python or numpy float (or int): an array, a bool or a string would pass the
        # comparisons below and fail later, mid-resolution.
        if isinstance(size, bool) or not isinstance(size, int | float) or not math.isfinite(size):
            raise StrategyError(f"{actor.actor_id}: offer size {size!r} is not a finite number of USD bn")
        move = world.moves[o.move]
        if not licensed(world.hosts[o.host], move):
            raise StrategyError(
                f"{actor.actor_id}: {o.move} needs a satellite licence in {o.host}, which it does not hold yet "
                f"(hosts.{o.host}.satellite_licence = {world.hosts[o.host].satellite_licence:g})"
            )
        if not move.size_min_usd_bn - 1e-9 <= o.size_usd_bn <= move.size_max_usd_bn + 1e-9:
            raise StrategyError(f"{actor.actor_id}: {o.move} of USD {o.size_usd_bn} bn is outside its size bounds")
        if move.effects.debt_relief:
            relief[o.host] += o.size_usd_bn
            if relief[o.host] > world.hosts[o.host].creditors[o.power]["debt"] + 1e-9:
                raise StrategyError(f"{actor.actor_id}: debt relief offered exceeds what {o.host} owes it")
        total += o.size_usd_bn * move.public_cost_share
    if total > actor.budget_available + 1e-9:
        raise StrategyError(f"{actor.actor_id}: offers cost {total:.3f} > budget {actor.budget_available:.3f}")


def check_responses(actor, offers: list[Offer], accepted: list[Offer], world) -> None:
    """Raise StrategyError unless the accepted offers were made and fit the host's limits."""
    pool = list(offers)
    room = Headroom(actor.absorption_room, actor.debt_room())
    for o in accepted:
        if not isinstance(o, Offer):
            raise StrategyError(f"{actor.actor_id}: {o!r} is not an Offer")
        if o not in pool:
            raise StrategyError(f"{actor.actor_id}: accepted an offer that was not made: {o}")
        pool.remove(o)
        room.take(world.moves[o.move], o.size_usd_bn)
    if room.absorption < -1e-9:
        used = actor.absorption_room - room.absorption
        raise StrategyError(f"{actor.actor_id}: accepted USD {used:.3f} bn beyond absorption")
    if room.debt < -1e-9:
        raise StrategyError(f"{actor.actor_id}: accepted debt beyond its ceiling")
