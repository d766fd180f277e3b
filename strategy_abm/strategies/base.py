"""Strategy base classes, the registry and the legality checks every strategy is held to.

A strategy is a small class with a ``name``, a docstring citing its doctrine, a ``classifier``
(which actor kinds may use it, whether it is stochastic, what it inspects) and ``params`` with
their bounds (``tunable``). Powers' strategies implement :meth:`PowerStrategy.propose`;
hosts' strategies implement :meth:`HostStrategy.respond`. Randomness comes only from the
acting agent's own generator (``actor.rng``: its stream for the turn, engine/streams.py), so games
are reproducible from their seed and a strategy's draws do not move any other actor's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from ..engine.projects import Offer
from ..scenario.ids import HOSTS, POWERS

REGISTRY: dict[str, type[Strategy]] = {}
# Keys that tables of strategy parameters must use.
TABLE_KEYS = {"host_weights": HOSTS, "bias": POWERS}
# Largest value in a table of strategy parameters. Weights are relative: a ratio above 1e3 between two
# of them is no longer a mix. A host's bias is score per 1% of GDP, as its penalties (tunable in [0, 10]).
TABLE_MAX = {"bias": 10.0}
TABLE_MAX_DEFAULT = 1e3


class StrategyError(RuntimeError):
    """A strategy returned an illegal decision (a bug in the strategy, never a user error)."""


class Strategy:
    """Base of all strategies.

    Class attributes:
        name: registry id, used in scenario configs.
        classifier: ``kinds`` (``power``/``host``), ``stochastic`` (bool), ``inspects``
            (what state it reads), ``actors`` (the actors whose doctrine it is, or ``any``).
        defaults: parameter defaults; ``tunable`` gives (low, high) bounds of numeric ones.
    """

    name: ClassVar[str] = ""
    classifier: ClassVar[dict[str, Any]] = {}
    defaults: ClassVar[dict[str, Any]] = {}
    tunable: ClassVar[dict[str, tuple[float, float]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            REGISTRY[cls.name] = cls

    def __init__(self, **params: Any):
        self.params = self.validate_params(params)

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults merged with ``params``; unknown names and out-of-bound values raise ValueError."""
        out = copy.deepcopy(cls.defaults)  # each instance owns its tables: a doctrine is never edited
        for key, value in params.items():
            if key not in cls.defaults:
                known = ", ".join(cls.defaults) or "none"
                raise ValueError(f"{key}: unknown parameter of strategy {cls.name!r} (known: {known})")
            if key in cls.tunable:
                lo, hi = cls.tunable[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key}: must be a number, got {value!r}")
                if not lo <= value <= hi:
                    raise ValueError(f"{key}: {value} is outside [{lo}, {hi}]")
            elif isinstance(cls.defaults[key], dict):
                top = TABLE_MAX.get(key, TABLE_MAX_DEFAULT)
                if not _bounded_table(value, top):
                    raise ValueError(f"{key}: must be a table of non-negative numbers, each at most {top:g}")
                ids = TABLE_KEYS.get(key)
                unknown = [k for k in value if ids is not None and k not in ids]
                if unknown:
                    raise ValueError(f"{key}.{unknown[0]}: unknown id (expected one of {', '.join(ids)})")
            out[key] = copy.deepcopy(value)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


def _bounded_table(value: Any, top: float) -> bool:
    """A table of numbers within [0, top] (so neither inf nor nan)."""
    return isinstance(value, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= top for v in value.values()
    )


class PowerStrategy(Strategy):
    """Chooses a power's offers. ``propose`` returns offers whose total public cost fits
    ``actor.budget_available``, each a move of the actor's toolkit within the move's size bounds."""

    def propose(self, actor, world) -> list[Offer]:
        raise NotImplementedError


class HostStrategy(Strategy):
    """Chooses which offers a host accepts, within absorption and debt ceiling."""

    def respond(self, actor, offers: list[Offer], world) -> list[Offer]:
        raise NotImplementedError

    @staticmethod
    def within_limits(actor, ordered: list[Offer], world, absorption_scale: float = 1.0) -> list[Offer]:
        """Accept offers in the given order while they fit absorption and the debt ceiling."""
        room = actor.absorption_room * absorption_scale
        debt_room = actor.debt_room()
        accepted = []
        for offer in ordered:
            move = world.moves[offer.move]
            new_debt = offer.size_usd_bn * move.debt_fraction
            use = offer.size_usd_bn * move.local_absorption
            if use <= room + 1e-12 and new_debt <= debt_room + 1e-12:
                accepted.append(offer)
                room -= use
                debt_room -= new_debt
        return accepted


def get_strategy(name: str) -> type[Strategy]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r} (known: {', '.join(sorted(REGISTRY))})") from None


def strategies_for(kind: str, **classifier: Any) -> list[str]:
    """Names of registered strategies usable by ``kind`` whose classifier matches the filters,
    e.g. ``strategies_for("power", stochastic=False, actors="china")``."""
    out = []
    for name, cls in sorted(REGISTRY.items()):
        c = cls.classifier
        if kind not in c.get("kinds", ()):
            continue
        ok = True
        for key, want in classifier.items():
            have = c.get(key)
            if key == "actors":
                ok &= have == "any" or want in have
            else:
                ok &= have == want
        if ok:
            out.append(name)
    return out


def make_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    return get_strategy(name)(**(params or {}))


def check_strategy(
    where: str, kind: str, name: str, params: Mapping[str, Any], toolkit, actor: str | None = None
) -> None:
    """Config-time check: the strategy exists, suits the actor kind (and, given ``actor``, is a
    doctrine of that actor or of ``any``: its classifier's ``actors``) and accepts the params."""
    from ..scenario.config import _field_error

    if name not in REGISTRY:
        raise _field_error(f"{where}.strategy", f"unknown strategy {name!r} (known: {', '.join(sorted(REGISTRY))})")
    cls = REGISTRY[name]
    if kind not in cls.classifier.get("kinds", ()):
        raise _field_error(
            f"{where}.strategy",
            f"{name!r} is a strategy for {'/'.join(cls.classifier['kinds'])}s, not {kind}s",
        )
    actors = cls.classifier.get("actors", "any")
    if actor is not None and actors != "any" and actor not in actors:
        raise _field_error(
            f"{where}.strategy",
            f"{name!r} is the doctrine of {', '.join(actors)}, not of {actor} "
            f"(strategies for {actor}: {', '.join(strategies_for(kind, actors=actor))})",
        )
    try:
        cls.validate_params(params)
    except ValueError as exc:
        key, _, problem = str(exc).partition(": ")  # "host_weights.zzz: unknown id ..." names the key
        raise _field_error(f"{where}.strategy_params.{key}", problem) from None
    if toolkit is not None:
        # Only weights the config gives: a doctrine's defaults may name moves a power lacks
        # (they are skipped), so one doctrine can serve several powers.
        for move in (params or {}).get("move_weights", {}):
            if move not in toolkit:
                raise _field_error(f"{where}.strategy_params.move_weights.{move}", "is not in this power's toolkit")


def check_offers(actor, offers: list[Offer], world) -> None:
    """Raise StrategyError unless the offers are legal for this power this turn."""
    total = 0.0
    relief = dict.fromkeys(world.hosts, 0.0)
    for o in offers:
        if o.power != actor.actor_id:
            raise StrategyError(f"{actor.actor_id}: offer made in the name of {o.power}")
        if o.move not in actor.toolkit:
            raise StrategyError(f"{actor.actor_id}: {o.move} is not in its toolkit")
        if o.host not in world.hosts:
            raise StrategyError(f"{actor.actor_id}: unknown host {o.host}")
        move = world.moves[o.move]
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
    size = debt = 0.0
    for o in accepted:
        if o not in pool:
            raise StrategyError(f"{actor.actor_id}: accepted an offer that was not made: {o}")
        pool.remove(o)
        size += o.size_usd_bn * world.moves[o.move].local_absorption
        debt += o.size_usd_bn * world.moves[o.move].debt_fraction
    if size > actor.absorption_room + 1e-9:
        raise StrategyError(f"{actor.actor_id}: accepted USD {size:.3f} bn beyond absorption")
    if debt > actor.debt_room() + 1e-9:
        raise StrategyError(f"{actor.actor_id}: accepted debt beyond its ceiling")
