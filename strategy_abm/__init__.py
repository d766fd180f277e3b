"""strategy_abm: an agent-based strategic competition game of great powers in Central Asia.

>>> from strategy_abm import CompetitionModel
>>> model = CompetitionModel(scenario="baseline", seed=0).run()
>>> frame = model.datacollector.get_model_vars_dataframe()
"""

from importlib.metadata import PackageNotFoundError, version

from .experiments.results import load_failures, load_manifest, load_results, load_series
from .scenario.config import ConfigError, Scenario, load_scenario
from .sim.model import CompetitionModel

try:
    __version__ = version("strategy_abm")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+local"

__all__ = [
    "CompetitionModel",
    "ConfigError",
    "Scenario",
    "__version__",
    "load_failures",
    "load_manifest",
    "load_results",
    "load_scenario",
    "load_series",
]
