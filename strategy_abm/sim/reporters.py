"""Mesa reporters: how the DataCollector reads the records that the metrics computed."""

from __future__ import annotations

from .agents import HostAgent, PowerAgent


def actor_reporters() -> dict[type, dict]:
    """Mesa ``agenttype_reporters``: one reporter per actor type returning the agent's record
    (a fresh dict each turn), so collecting costs one call per agent, not one per field."""

    return {PowerAgent: {"state": record}, HostAgent: {"state": record}}


def record(agent) -> dict:
    """An agent's record for the turn (module-level, so that a model with its DataCollector pickles)."""
    state = agent.__dict__["state"]  # (the agent's ``record``, without two properties: read every turn)
    return state.game.actor_record(state.actor_id)
