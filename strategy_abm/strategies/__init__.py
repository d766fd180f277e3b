"""Strategy library: doctrines of the brief and generic strategies, with a registry that plugins
extend (``--plugin FILE_OR_MODULE``, :func:`load_plugin`, or the entry-point group
``strategy_abm.strategies`` of an installed package; see :mod:`.plugins`).

>>> from strategy_abm.strategies import strategies_for
>>> strategies_for("power", actors="china")
['bri_2', 'bri_classic', 'greedy', 'parametric', 'random']
"""

from ..engine.turn import register_compiled_turn, register_decider_factory
from ..scenario.config import register_strategy_check
from . import generic, hosts, powers  # noqa: F401  (registers the strategies)
from .base import (
    REGISTRY,
    HostStrategy,
    PowerStrategy,
    RegistryError,
    Strategy,
    StrategyError,
    check_offers,
    check_responses,
    check_strategy,
    compiled_turn,
    configured_deciders,
    get_strategy,
    make_strategy,
    strategies_for,
)
from .plugins import PluginError, load_plugin  # and the registry's first read loads the entry points

register_strategy_check(check_strategy)  # every scenario validation checks the actors' strategies
register_decider_factory(configured_deciders)  # a Game's actors are decided by their configured strategies
register_compiled_turn(compiled_turn)  # ... in compiled code, a whole turn at once, when all have kernels

__all__ = [
    "REGISTRY",
    "HostStrategy",
    "PluginError",
    "PowerStrategy",
    "RegistryError",
    "Strategy",
    "StrategyError",
    "check_offers",
    "check_responses",
    "check_strategy",
    "configured_deciders",
    "get_strategy",
    "load_plugin",
    "make_strategy",
    "strategies_for",
]
