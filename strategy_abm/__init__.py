"""strategy_abm: an agent-based strategic competition game of great powers in Central Asia.

>>> from strategy_abm import CompetitionModel
>>> model = CompetitionModel(scenario="baseline", seed=0).run()
>>> frame = model.datacollector.get_model_vars_dataframe()
>>> game = Game("baseline", seed=0)     # the turn contract: observe, legal, submit, advance
"""

from . import strategies  # noqa: F401  (registers the scenario check of strategies)
from ._version import __version__
from .engine.turn import Game
from .experiments.results import load_failures, load_manifest, load_results, load_series
from .scenario.config import ConfigError, Scenario, load_scenario
from .sim.model import CompetitionModel

__all__ = [
    "CompetitionModel",
    "ConfigError",
    "Game",
    "Scenario",
    "__version__",
    "load_failures",
    "load_manifest",
    "load_results",
    "load_scenario",
    "load_series",
]
