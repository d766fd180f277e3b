"""Mesa reporters: how the DataCollector reads the records that the metrics computed."""

from __future__ import annotations

import mesa

from .agents import HostAgent, PowerAgent


def actor_reporters() -> dict[type, dict]:
    """Mesa ``agenttype_reporters``: one reporter per actor type returning the agent's record
    (a fresh dict each turn), so collecting costs one call per agent, not one per field."""

    return {PowerAgent: {"state": record}, HostAgent: {"state": record}}


def record(agent) -> dict:
    """An agent's record for the turn (module-level, so that a model with its DataCollector pickles)."""
    state = agent.__dict__["state"]  # (the agent's ``record``, without two properties: read every turn)
    return state.game.actor_record(state.actor_id)


class GameCollector(mesa.DataCollector):
    """Mesa's ``DataCollector`` for a ``CompetitionModel``: the same reporters, variables, tables
    and data frames, collected in one pass while its reporters are the model's own ones
    (:func:`game_reporters`), each metric read from the game's row of the turn, each actor type's
    records as Mesa records them (``(step, unique id, record)``). Mesa's generic ``collect``
    (which calls each reporter and deep-copies its value: the same float) does every collect
    once a caller has changed the reporters."""

    def __init__(self, metric_names: list[str], model_reporters: dict, agenttype_reporters: dict):
        super().__init__(model_reporters=model_reporters, agenttype_reporters=agenttype_reporters)
        self._names = tuple(metric_names)
        self._validated = True  # (Mesa's check of a user's reporters: these are the model's own, known to work)
        self._own = (dict(model_reporters), {t: dict(r) for t, r in agenttype_reporters.items()})

    def collect(self, model) -> None:
        if not (self._validated and not self.agent_reporters and self.model_reporters == self._own[0]
                and self.agenttype_reporters == self._own[1]) or not all(
                    t in model.agent_types for t in self.agenttype_reporters):  # fmt: skip
            super().collect(model)
            return
        metrics, model_vars = model.__dict__["game"].metrics, self.model_vars
        for name in self._names:
            model_vars[name].append(metrics[name])
        steps = model.steps
        by_type = self._agenttype_records[steps] = {}
        for agent_type, reporters in self.agenttype_reporters.items():
            agents = model.agents_by_type[agent_type]
            if len(reporters) == 1:  # (the model's own: one record per agent)
                (f,) = reporters.values()
                by_type[agent_type] = [(steps, a.unique_id, f(a)) for a in agents]
            else:
                funcs = tuple(reporters.values())
                by_type[agent_type] = [(steps, a.unique_id, *(f(a) for f in funcs)) for a in agents]
