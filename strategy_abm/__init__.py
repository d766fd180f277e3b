"""strategy_abm: an agent-based strategic competition game of great powers in Central Asia.

>>> from strategy_abm import CompetitionModel
>>> model = CompetitionModel(scenario="baseline", seed=0).run()
>>> frame = model.datacollector.get_model_vars_dataframe()
>>> game = Game("baseline", seed=0)     # the turn contract: observe, legal, submit, advance
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import strategies  # noqa: F401  (registers the scenario check of strategies)
from ._version import __version__
from .engine.turn import Game
from .scenario.config import ConfigError, Scenario, load_scenario

if TYPE_CHECKING:
    from .experiments.results import load_failures, load_manifest, load_results, load_series
    from .sim.model import CompetitionModel

# Imported on first use (PEP 562): Mesa (the model) and pandas (the results) take about half a
# second to import, which a sweep on the bulk path or a command that reads no results never needs.
_LAZY = {
    "CompetitionModel": ".sim.model",
    "load_failures": ".experiments.results",
    "load_manifest": ".experiments.results",
    "load_results": ".experiments.results",
    "load_series": ".experiments.results",
}

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


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
