"""The nine actors as Mesa agents: views of the actors' state that the engine's ``Game`` owns.

An agent holds no state of its own beyond Mesa's (``model``, ``unique_id``, ``pos``): every other
attribute is read from and written to its actor's state (:mod:`strategy_abm.engine.state`), so the
DataCollector's reporters, the outputs, strategies and tests read ``agent.budget_available`` or
``agent.creditors`` as before. ``propose(obs)``/``respond(obs)`` ask the actor's configured strategy
with the actor's observation (as a bare ``Game`` asks it: the strategy never sees the game or the
model); the shell's deciders call them, so a test may wrap them on an agent.
"""

from __future__ import annotations

import itertools
import weakref

import mesa

from ..engine.projects import Offer
from ..engine.state import HostState, PowerState


class _AgentIds(weakref.WeakKeyDictionary):
    """Per-model counters of agent ids that hold their models weakly.

    Mesa 3.3.1 numbers agents from ``Agent._ids``, a class-level ``defaultdict`` keyed by model:
    every model ever built stays alive through it (1.8 MB per 40-turn game). Our agents count
    here instead, with the same numbering (1, 2, ... per model, powers then hosts), and a model
    is freed as soon as its user drops it."""

    def __getitem__(self, model) -> itertools.count:
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = self[model] = itertools.count(1)
            return counter


AGENT_IDS = _AgentIds()


class _View:
    """Attribute access delegated to the actor's state (``self.state``), except Mesa's own
    attributes and what the view's class defines (an instance may override ``propose``)."""

    _LOCAL = frozenset({"model", "unique_id", "pos", "state", "cell", "propose", "respond"})

    def __getattr__(self, name: str):
        try:
            state = self.__dict__["state"]
        except KeyError:  # (while unpickling, before the state is back)
            raise AttributeError(name) from None
        return getattr(state, name)

    def __setattr__(self, name: str, value) -> None:
        if name in self._LOCAL:
            object.__setattr__(self, name, value)
        else:
            setattr(self.state, name, value)

    @property
    def rng(self):
        """The actor's own random stream for the turn (``engine/state.py``), not the model's."""
        return self.state.rng

    @property
    def record(self) -> dict:
        """The actor's row of ``actors.csv`` after the last turn (its state's; read by the
        DataCollector every turn, so not through ``__getattr__``)."""
        return self.state.record


class PowerAgent(_View, mesa.Agent):
    """A great power (a view of its :class:`~strategy_abm.engine.state.PowerState`)."""

    kind = "power"
    _ids = AGENT_IDS  # mesa.Agent.__init__ draws unique_id from it (see _AgentIds)

    def __init__(self, model, state: PowerState):
        object.__setattr__(self, "state", state)
        super().__init__(model)

    def propose(self, obs=None) -> list[Offer]:
        """Ask the strategy for this turn's offers, given the power's observation (default: observed now)."""
        obs = self.model.game.observe(self.state.actor_id) if obs is None else obs
        return list(self.state.strategy.propose(obs))


class HostAgent(_View, mesa.Agent):
    """A Central Asian state (a view of its :class:`~strategy_abm.engine.state.HostState`)."""

    kind = "host"
    _ids = AGENT_IDS

    def __init__(self, model, state: HostState):
        object.__setattr__(self, "state", state)
        super().__init__(model)

    def respond(self, obs=None) -> list[Offer]:
        """Ask the strategy which of the offers made to the host (``obs.offers``) to accept, given
        the host's observation (default: observed now)."""
        obs = self.model.game.observe(self.state.actor_id) if obs is None else obs
        return list(self.state.strategy.respond(obs)) if obs.offers else []
