"""Strategy base classes, the registry and the legality checks every strategy is held to.

A strategy is a small class with a ``name``, a docstring citing its doctrine, a ``classifier``
(which actor kinds may use it, whether it is stochastic, what it inspects) and ``params`` with
their bounds (``tunable``). Powers' strategies implement :meth:`PowerStrategy.propose`;
hosts' strategies implement :meth:`HostStrategy.respond`. Either decides from an
:class:`~strategy_abm.engine.turn.Observation` only (what the actor may know, read-only), never
from the game. Randomness comes only from the actor's own generator (``obs.rng``: its stream for
the turn, engine/streams.py), so games are reproducible from their seed and a strategy's draws do
not move any other actor's.

Strategies written for the old signatures ``propose(self, actor, world)`` and
``respond(self, actor, offers, world)`` are refused when their class is defined, with a one-line
:class:`RegistryError` that says what to write instead.

Defining a subclass with its own ``name`` registers it (:func:`register`); a name already taken
by another class is an error, never a replacement. Plugins (:mod:`.plugins`) add strategies the
same way, from a ``--plugin`` file or module or an installed package's entry point.
"""

from __future__ import annotations

import copy
import inspect
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..engine.legality import StrategyError, check_offers, check_responses  # noqa: F401  (their home is the engine)
from ..engine.projects import Headroom, Offer

REGISTRY: dict[str, type[Strategy]] = {}
# Keys that tables of strategy parameters must use.
# Parameter tables keyed by the scenario's ids: which ids (of ``check_strategy``'s ``ids``) they may name.
TABLE_KEYS = {"host_weights": "hosts", "bias": "powers"}
# Largest value in a table of strategy parameters. Weights are relative: a ratio above 1e3 between two
# of them is no longer a mix. A host's bias is score per 1% of GDP, as its penalties (tunable in [0, 10]).
TABLE_MAX = {"bias": 10.0}
TABLE_MAX_DEFAULT = 1e3


KINDS = ("power", "host")
# A name is written in scenario files and in --set overrides: no spaces, no '=' or quotes.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Run once, the first time the registry is read (strategies/__init__ registers the loading of the
# installed packages' entry-point strategies): importing the package imports no third-party code.
REGISTRY_LOADERS: list[Callable[[], object]] = []
_LOADERS = {"done": False, "running": False}
_LOADERS_LOCK = threading.RLock()  # the threads of a Dask worker may read the registry at once


class RegistryError(TypeError):
    """A strategy class cannot be registered: its name is taken or its classifier is malformed
    (a bug in the class, reported when it is defined)."""


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
        # Only a class that sets its own name: a subclass inheriting its parent's name must not
        # take the parent's place in the registry.
        if cls.__dict__.get("name"):
            register(cls)

    def __init__(self, **params: Any):
        self.params = self.validate_params(params)

    @classmethod
    def validate_params(
        cls, params: Mapping[str, Any], ids: Mapping[str, tuple[str, ...]] | None = None
    ) -> dict[str, Any]:
        """Defaults merged with ``params``; unknown names and out-of-bound values raise ValueError,
        and so, given the scenario's ``ids`` (``{"powers": (...), "hosts": (...)}``), does a table
        of :data:`TABLE_KEYS` naming an id the scenario does not have."""
        out = _fresh(cls.defaults)  # each instance owns its tables: a doctrine is never edited
        for key, value in params.items():
            if key not in cls.defaults:
                known = ", ".join(cls.defaults) or "none"
                raise ValueError(f"{key}: unknown parameter of strategy {cls.name!r} (known: {known})")
            if key in cls.tunable:
                lo, hi = cls.tunable[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key}: must be a number, got {value!r}")
                if type(cls.defaults[key]) is int and not isinstance(value, int):  # a count (offers_per_turn)
                    raise ValueError(f"{key}: must be an integer, got {value!r}")
                if not lo <= value <= hi:
                    raise ValueError(f"{key}: {value} is outside [{lo}, {hi}]")
            elif isinstance(cls.defaults[key], dict):
                top = TABLE_MAX.get(key, TABLE_MAX_DEFAULT)
                if not _bounded_table(value, top):
                    raise ValueError(f"{key}: must be a table of non-negative numbers, each at most {top:g}")
                known = (ids or {}).get(TABLE_KEYS.get(key, ""))
                unknown = [k for k in value if known is not None and k not in known]
                if unknown:
                    raise ValueError(f"{key}.{unknown[0]}: unknown id (expected one of {', '.join(known)})")
            out[key] = copy.deepcopy(value)
        return out

    def kernel(self, kind: str, actor_id: str, scenario, layout):
        """The compiled kernel that decides as this strategy does for ``actor_id`` (a ``kind``
        actor of ``scenario``, whose arrays are laid out by ``layout``): ``(kernel kind,
        parameter vector)`` (strategies/kernels.py), or None. None by default: only the built-in
        strategies have kernels, and only while their decision methods are not overridden."""
        return None

    def reset(self) -> None:
        """Forget what an earlier game taught: whoever reuses an object for another game calls it
        before the first turn, so that the object plays each game as a fresh one would. Strategies
        that keep state across turns (the portfolios' tallies) override it; the parameters stay."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


def _bounded_table(value: Any, top: float) -> bool:
    """A table of numbers within [0, top] (so neither inf nor nan)."""
    return isinstance(value, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= top for v in value.values()
    )


class PowerStrategy(Strategy):
    """Chooses a power's offers. ``propose(obs)`` gets the power's observation (phase
    ``"offers"``) and returns offers whose total public cost fits ``obs.own["budget_available"]``,
    each a move of ``obs.own["toolkit"]`` within the move's size bounds (``Game.legal`` lists them)."""

    def propose(self, obs) -> list[Offer]:
        raise NotImplementedError


class HostStrategy(Strategy):
    """Chooses which offers a host accepts, within absorption and debt ceiling: ``respond(obs)``
    gets the host's observation (phase ``"responses"``; ``obs.offers`` the offers made to it) and
    returns the accepted ones, a subset of ``obs.offers``.

    A host strategy may also define ``refusal_reason(obs, offer) -> str`` to explain a refusal in
    the turn report (an empty string: the default reason)."""

    def respond(self, obs) -> list[Offer]:
        raise NotImplementedError

    @staticmethod
    def within_limits(obs, ordered: list[Offer], absorption_scale: float = 1.0) -> list[Offer]:
        """Accept offers in the given order while they fit absorption (scaled by ``absorption_scale``)
        and the debt ceiling (``obs.own``); an offer that does not fit is skipped."""
        own, moves = obs.own, obs.moves
        room = Headroom(own["absorption_room"] * absorption_scale, own["debt_room"])
        accepted = []
        for offer in ordered:
            move = moves[offer.move]
            if room.fits(move, offer.size_usd_bn, slack=1e-12):
                accepted.append(offer)
                room.take(move, offer.size_usd_bn)
        return accepted


def register(cls: type[Strategy]) -> None:
    """Add a strategy class to the registry under ``cls.name`` (defining a subclass with a ``name``
    does it). Raises :class:`RegistryError` if the name is taken by another class (never a silent
    replacement: a plugin must not change a doctrine that a scenario names) or if the class's
    ``name``, ``classifier`` or ``tunable`` is malformed."""
    name = cls.__dict__.get("name", cls.name)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise RegistryError(f"{_qualified(cls)}: strategy name {name!r} must be letters, digits, '_', '.' or '-'")
    existing = REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise RegistryError(
            f"strategy name {name!r} is already registered by {_qualified(existing)}; "
            f"{_qualified(cls)} cannot register it too (give it another name)"
        )
    _check_class(cls)
    REGISTRY[name] = cls


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_class(cls: type[Strategy]) -> None:
    """The classifier says who may use the strategy; a malformed one would let the wrong actor use
    it or fail later, mid-game, so it is refused when the class is defined."""
    where = f"{_qualified(cls)} ({cls.name!r})"
    c = cls.classifier
    kinds = c.get("kinds") if isinstance(c, dict) else None
    if not isinstance(kinds, tuple | list) or not kinds or any(k not in KINDS for k in kinds):
        raise RegistryError(f"{where}: classifier['kinds'] must list 'power' and/or 'host', got {kinds!r}")
    for kind, base, method in (("power", PowerStrategy, "propose"), ("host", HostStrategy, "respond")):
        if kind in kinds and not (issubclass(cls, base) and getattr(cls, method) is not getattr(base, method)):
            raise RegistryError(f"{where}: a {kind} strategy subclasses {base.__name__} and implements {method}()")
        if kind in kinds:
            _check_signature(where, getattr(cls, method), method)
    if not isinstance(c.get("stochastic"), bool):
        raise RegistryError(f"{where}: classifier['stochastic'] must be True or False, got {c.get('stochastic')!r}")
    actors = c.get("actors", "any")
    # A bare string other than "any" would match by substring ("us" in "russia").
    if actors != "any" and (
        not isinstance(actors, tuple | list) or not actors or not all(isinstance(a, str) for a in actors)
    ):
        raise RegistryError(f"{where}: classifier['actors'] must be 'any' or a tuple of actor ids, got {actors!r}")
    unknown = [k for k in cls.tunable if k not in cls.defaults]
    if unknown:
        raise RegistryError(f"{where}: tunable parameter {unknown[0]!r} has no default")


def _check_signature(where: str, function: Callable, method: str) -> None:
    """A decision method takes the observation alone: ``propose(self, obs)``. The signatures of
    before the turn contract (``propose(self, actor, world)``, ``respond(self, actor, offers,
    world)``) would fail mid-game with a bare TypeError, so they are refused when the class is defined."""
    try:
        params = list(inspect.signature(function).parameters.values())[1:]  # after self
    except (TypeError, ValueError):  # a builtin or a callable object: nothing to check
        return
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p.name for p in params if p.kind in positional and p.default is inspect.Parameter.empty]
    takes_one = any(p.kind in positional or p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    if len(required) > 1 or not takes_one:
        old = f"{method}(self, {', '.join(required)})" if required else f"{method}(self)"
        raise RegistryError(
            f"{where}: {old} is not a decision method: strategies decide from an observation alone, "
            f"{method}(self, obs) (the actor's state, offers and world are in obs: see docs/architecture.md, "
            "'Add a strategy')"
        )


def load_registry() -> None:
    """Run the registry's loaders (the installed packages' entry-point strategies) once per
    process; every function that reads the registry calls it first. A loader that fails raises
    (``ConfigError``, one line naming the entry point) and is tried again on the next call."""
    if _LOADERS["done"]:
        return
    with _LOADERS_LOCK:
        # "running": this thread is inside a loader (a plugin reading the registry while it loads).
        if _LOADERS["done"] or _LOADERS["running"]:
            return
        _LOADERS["running"] = True
        try:
            for loader in REGISTRY_LOADERS:
                loader()
            _LOADERS["done"] = True
        finally:
            _LOADERS["running"] = False


def get_strategy(name: str) -> type[Strategy]:
    load_registry()
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r} (known: {', '.join(sorted(REGISTRY))})") from None


def strategies_for(kind: str, **classifier: Any) -> list[str]:
    """Names of registered strategies usable by ``kind`` whose classifier matches the filters,
    e.g. ``strategies_for("power", stochastic=False, actors="china")``."""
    load_registry()
    out = []
    for name, cls in sorted(REGISTRY.items()):
        c = cls.classifier
        if kind not in c.get("kinds", ()):
            continue
        ok = True
        for key, want in classifier.items():
            have = c.get(key, "any" if key == "actors" else None)
            if key == "actors":
                ok &= have == "any" or want in have
            else:
                ok &= have == want
        if ok:
            out.append(name)
    return out


_SHARED = (str, int, float, bool, type(None))  # immutable: a copy may share them


def _fresh(value: Any) -> Any:
    """A deep copy of ``value`` (as ``copy.deepcopy``), quicker for the parameters' usual dicts and
    lists of numbers and strings (a game builds nine strategies)."""
    if type(value) is dict:
        return {k: v if type(v) in _SHARED else _fresh(v) for k, v in value.items()}
    if type(value) is list:
        return [v if type(v) in _SHARED else _fresh(v) for v in value]
    return value if type(value) in _SHARED else copy.deepcopy(value)


def make_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    return get_strategy(name)(**(params or {}))


def check_strategy(
    where: str,
    kind: str,
    name: str,
    params: Mapping[str, Any],
    toolkit,
    actor: str | None = None,
    ids: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Config-time check: the strategy exists, suits the actor kind (and, given ``actor``, is a
    doctrine of that actor or of ``any``: its classifier's ``actors``) and accepts the params
    (whose id tables name only the scenario's ``ids``, when given)."""
    from ..scenario.config import ConfigError, _field_error

    try:
        load_registry()
    except ConfigError as exc:  # a broken installed plugin: its own one-line message
        raise _field_error(f"{where}.strategy", str(exc)) from None
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        # A config only names strategies: a plugin's code is loaded by --plugin, never by a config.
        raise _field_error(
            f"{where}.strategy", f"unknown strategy {name!r} (known: {known}; a plugin's needs --plugin)"
        )
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
        cls.validate_params(params, ids)
    except ValueError as exc:
        key, _, problem = str(exc).partition(": ")  # "host_weights.zzz: unknown id ..." names the key
        raise _field_error(f"{where}.strategy_params.{key}", problem) from None
    if toolkit is not None:
        # Only weights the config gives: a doctrine's defaults may name moves a power lacks
        # (they are skipped), so one doctrine can serve several powers.
        for move in (params or {}).get("move_weights", {}):
            if move not in toolkit:
                raise _field_error(f"{where}.strategy_params.move_weights.{move}", "is not in this power's toolkit")


def configured_deciders(game) -> dict[str, Callable]:
    """The deciders of a ``Game`` from its scenario: each actor's configured strategy (a fresh
    instance, kept on the actor's state as ``strategy``), asked at call time with the actor's
    observation, so that replacing ``state.strategy`` mid-game changes who decides. The deciders
    are plain picklable objects (a game pickles mid-game)."""
    out: dict[str, Callable] = {}
    for states in (game.powers, game.hosts):
        for aid, state in states.items():
            state.strategy = make_strategy(state.cfg.strategy, state.cfg.strategy_params)
            out[aid] = ConfiguredDecider(state)
    return out


class ConfiguredDecider:
    """Asks an actor's configured strategy (``state.strategy``) for its decision: ``propose(obs)``
    for a power, ``respond(obs)`` for a host. A built-in strategy also decides in compiled code
    (:meth:`compiled_offers`, :meth:`compiled_answer`: its kernel, strategies/kernels.py), which
    the game prefers: the same decisions without building an observation."""

    __slots__ = ("_kernel", "state")

    def __init__(self, state):
        self.state = state
        self._kernel = None  # (strategy, its kernel spec or None, the kernel's memory) of the game

    def __call__(self, obs) -> list[Offer]:
        strategy = self.state.strategy
        return list(strategy.propose(obs) if obs.kind == "power" else strategy.respond(obs))

    def _spec(self, game):
        strategy = self.state.strategy
        if self._kernel is None or self._kernel[0] is not strategy:  # a strategy set mid-game starts afresh
            from . import kernels  # noqa: PLC0415  (numba compiles on first use)

            self._kernel = (strategy, kernels.spec_of(strategy, self.state, game), None)
        return self._kernel[1]

    def kernel_spec(self, game):
        """The kernel the actor's strategy decides by in ``game`` (kernels.KernelSpec), or None."""
        kernel = self._kernel
        if kernel is not None and kernel[0] is self.state.strategy:
            return kernel[1]
        return self._spec(game)

    def compiled_offers(self, game) -> list[Offer] | None:
        """The power's offers by its strategy's kernel, or None if it has none."""
        spec = self._spec(game)
        return None if spec is None else spec.offers(game, self.state)

    def compiled_answer(self, game, made: list[Offer]) -> list[Offer] | None:
        """The host's accepted offers among ``made`` by its strategy's kernel, or None if it has none."""
        spec = self._spec(game)
        return None if spec is None else spec.answer(game, self.state, made)


def compiled_turn(game, opening: bool = False):
    """A whole turn of ``game`` in compiled code when every actor decides by a kernel (the engine's
    ``register_compiled_turn``; kernels.play_compiled_turn), else None."""
    from . import kernels  # noqa: PLC0415  (numba compiles on first use)

    return kernels.play_compiled_turn(game, opening)
