"""Shared helpers of the strategy and invariant tests: cached games and the offers and responses
each actor made during a game (recorded around the agents' ``propose``/``respond``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pytest

from strategy_abm import CompetitionModel
from strategy_abm.scenario.ids import HOSTS, POWERS


def pytest_addoption(parser):
    parser.addoption(
        "--docs-screenshots",
        action="store_true",
        default=False,
        help="the classroom's browser tests also write the screenshots of docs/classroom.md into "
        "docs/img/classroom/ (PNG, palette-reduced); commit them when the pages change",
    )


@dataclass
class Record:
    """What the actors decided each turn, with the limits they decided under."""

    # (turn, power, budget_available when proposing, offers)
    offers: list[tuple[int, str, float, list]] = field(default_factory=list)
    # (turn, host, offers made, accepted, absorption_room, debt_room)
    responses: list[tuple[int, str, list, list, float, float]] = field(default_factory=list)


def record_decisions(model: CompetitionModel) -> Record:
    """Wrap every agent's ``propose``/``respond`` so the decisions are recorded (the model's
    own legality checks still run after them)."""
    rec = Record()
    for pid in POWERS:
        power = model.powers[pid]

        def propose(obs, power=power, inner=power.propose):
            budget = power.budget_available
            offers = inner(obs)
            rec.offers.append((model.turn, power.actor_id, budget, list(offers)))
            return offers

        power.propose = propose
    for hid in HOSTS:
        host = model.hosts[hid]

        def respond(obs, host=host, inner=host.respond):
            room, debt_room = host.absorption_room, host.debt_room()
            offers = list(obs.offers)
            accepted = inner(obs)
            rec.responses.append((model.turn, host.actor_id, list(offers), list(accepted), room, debt_room))
            return accepted

        host.respond = respond
    return rec


def play_recorded(overrides=(), seed=0, turns=8, scenario="baseline") -> tuple[CompetitionModel, Record]:
    model = CompetitionModel(scenario=scenario, seed=seed, overrides=list(overrides), turns=turns)
    rec = record_decisions(model)
    return model.run(), rec


@functools.cache
def _play(scenario: str, seed: int, overrides: tuple[str, ...], turns: int | None) -> CompetitionModel:
    return CompetitionModel(scenario=scenario, seed=seed, overrides=list(overrides), turns=turns).run()


@pytest.fixture(scope="session")
def play():
    """``play(overrides=(), seed=0, turns=None)``: a game played to its horizon, cached per
    session (tests must only read it)."""

    def _get(overrides=(), seed=0, turns=None, scenario="baseline"):
        return _play(scenario, seed, tuple(overrides), turns)

    return _get


_play_recorded_cached = functools.cache(play_recorded)


@pytest.fixture(scope="session")
def recorded():
    """``recorded(overrides=(), seed=0, turns=8)``: a game played with every decision recorded,
    ``(model, Record)``, cached per session (tests must only read it; ``overrides`` a tuple)."""
    return _play_recorded_cached


# ------------------------------------------------------------------------------------ validation ranges


class PatternRanges:
    """Value ranges over seeds that the validation tests record; printed after the run
    (``pytest_terminal_summary``), so a plain ``pytest -q`` shows how close each pattern is."""

    def __init__(self):
        self.rows: list[tuple[str, int, float, float, float, str, str]] = []

    def record(self, label: str, values, target: str, hit: bool | None) -> None:
        import numpy as np

        v = np.asarray(values, dtype=float)
        verdict = "hit" if hit else ("miss" if hit is not None else "")
        self.rows.append((label, len(v), float(v.min()), float(np.median(v)), float(v.max()), target, verdict))


_RANGES = PatternRanges()


@pytest.fixture(scope="session")
def pattern_ranges() -> PatternRanges:
    """``pattern_ranges.record(label, values_per_seed, target_text, hit)``: a line of the summary."""
    return _RANGES


def pytest_terminal_summary(terminalreporter):
    if not _RANGES.rows:
        return
    tr = terminalreporter
    tr.section("validation: ranges over seeds (min / median / max)")
    width = max(len(r[0]) for r in _RANGES.rows)
    for label, n, lo, med, hi, target, verdict in _RANGES.rows:
        tr.write_line(f"{label:<{width}}  n={n:<3} {lo:>10.4g} {med:>10.4g} {hi:>10.4g}   target {target}  {verdict}")
