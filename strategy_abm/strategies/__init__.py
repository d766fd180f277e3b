"""Strategy library: doctrines of the brief and generic strategies, with a registry.

>>> from strategy_abm.strategies import strategies_for
>>> strategies_for("power", actors="china")
['bri_2', 'bri_classic', 'greedy', 'parametric', 'random']
"""

from ..scenario.config import register_strategy_check
from . import generic, hosts, powers  # noqa: F401  (registers the strategies)
from .base import (
    REGISTRY,
    HostStrategy,
    PowerStrategy,
    Strategy,
    StrategyError,
    check_offers,
    check_responses,
    check_strategy,
    get_strategy,
    make_strategy,
    strategies_for,
)

register_strategy_check(check_strategy)  # every scenario validation checks the actors' strategies

__all__ = [
    "REGISTRY",
    "HostStrategy",
    "PowerStrategy",
    "Strategy",
    "StrategyError",
    "check_offers",
    "check_responses",
    "check_strategy",
    "get_strategy",
    "make_strategy",
    "strategies_for",
]
