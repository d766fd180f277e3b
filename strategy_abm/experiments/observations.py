"""Dated observations the model is checked against (``configs/observations.toml``).

Each observation is a figure of shared/calibration that the initial state does not use, with the
scenario whose run it checks, the quarter whose end it describes, a tolerance and its source.
MINIMAL VERSION (calibration branch): the validation branch owns the full module; keep to
:func:`load_observations`, :func:`observation_turn` and the fields of :class:`Observation`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..scenario.config import ConfigError, Scenario, configs_dir, known_sources, load_scenario, parse_date, read_toml

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FIELDS = ("id", "what", "scenario", "date", "value", "tolerance", "tolerance_reason", "source", "actor", "column",
          "times")  # fmt: skip
REQUIRED = ("id", "what", "scenario", "date", "value", "tolerance", "tolerance_reason", "source", "column")


@dataclass(frozen=True)
class Observation:
    """A dated figure: ``value`` (unit of ``column``) at the end of ``date``'s turn of a run of
    ``scenario``, hit when the model is within ``tolerance`` (absolute). ``actor``: a column of
    ``actors.csv`` for that actor, or ``None`` for a column of ``model.csv``; ``times``: another
    column of the same row to multiply by (debt times China's share of it)."""

    id: str
    what: str
    scenario: str
    date: str
    value: float
    tolerance: float
    tolerance_reason: str
    source: str
    column: str
    actor: str | None = None
    times: str | None = None


def default_path() -> Path:
    return configs_dir() / "observations.toml"


def load_observations(path: str | Path | None = None) -> list[Observation]:
    """The observations of ``path`` (default ``configs/observations.toml``), validated.

    Raises:
        ConfigError: one line naming the observation and field (``observation[2].tolerance: ...``).
    """
    path = Path(path) if path is not None else default_path()
    raw = read_toml(path)
    entries = raw.get("observation")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("observation: give at least one [[observation]] table")
    out: list[Observation] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"observation[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: not a table")
        for key in entry:
            if key not in FIELDS:
                raise ConfigError(f"{where}.{key}: unknown field")
        for key in REQUIRED:
            if key not in entry:
                raise ConfigError(f"{where}.{key}: missing (required)")
        for key in ("value", "tolerance"):
            v = entry[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"{where}.{key}: a finite number, got {v!r}")
        if entry["tolerance"] <= 0:
            raise ConfigError(f"{where}.tolerance: must be above 0, got {entry['tolerance']}")
        for key in ("id", "what", "scenario", "date", "tolerance_reason", "source", "column", "actor", "times"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise ConfigError(f"{where}.{key}: a non-empty string")
        if not ID_RE.match(entry["id"]):
            raise ConfigError(f"{where}.id: {entry['id']!r} is not snake_case")
        if entry["id"] in seen:
            raise ConfigError(f"{where}.id: {entry['id']!r} is used twice")
        seen.add(entry["id"])
        try:
            parse_date(entry["date"])
        except ValueError as exc:
            raise ConfigError(f"{where}.date: {exc}") from None
        if entry["source"] not in known_sources():
            raise ConfigError(f"{where}.source: {entry['source']!r} is not an id of configs/sources.toml")
        out.append(Observation(**{k: (float(v) if k in ("value", "tolerance") else v) for k, v in entry.items()}))
    return out


def observation_turn(obs: Observation, scenario: Scenario | str | None = None) -> int:
    """The turn at whose end ``obs`` is compared with the state (turn 1 is the scenario's start
    quarter). ``scenario``: a Scenario or name (default the observation's own).

    Raises:
        ConfigError: the date lies before the scenario's first turn.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario or obs.scenario)
    turn = round((parse_date(obs.date) - parse_date(sc.start)) * sc.turns_per_year) + 1
    if turn < 1:
        raise ConfigError(f"observation {obs.id}: date {obs.date} is before the start of {sc.name} ({sc.start})")
    return turn


__all__ = ["Observation", "load_observations", "observation_turn"]
