"""A turn played whole in compiled code (``Game.play_turn`` when every actor decides by a kernel:
the Mesa shell's usual case) records what the same turn played phase by phase records: every
DataCollector column, the event log, each turn's report (offers, outcomes, refusal reasons, who
decided, what followed, metrics), the projects and the ledgers."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from strategy_abm import CompetitionModel
from strategy_abm.engine import turn as turn_module

GAMES = {
    "baseline": ("baseline", 0, []),
    "baseline_seed5": ("baseline", 5, []),
    "hindcast": ("hindcast_2022", 1, []),
    "all_random": (
        "baseline",
        4,
        [f"powers.{p}.strategy=random" for p in ("china", "us", "g7", "russia")]
        + [f"hosts.{h}.strategy=random" for h in ("kaz", "uzb", "kgz", "tjk", "tkm")],
    ),  # fmt: skip
    "greedy_mix": (
        "baseline",
        2,
        ["powers.china.strategy=greedy", "hosts.kgz.strategy=greedy", "hosts.tjk.strategy=china_leaning"],
    ),  # fmt: skip
}


def _play(scenario, seed, overrides, *, whole: bool, compiled: bool = True, wrap_turns=()):
    """A game and the report of each of its turns. ``whole``: let the game play turns whole in
    compiled code; ``wrap_turns``: turns during which a host's ``respond`` is wrapped by a caller
    (which makes the shell play them phase by phase, the wrapper asking the same strategy)."""
    model = CompetitionModel(scenario=scenario, seed=seed, overrides=overrides, compiled=compiled)
    reports = []
    saved = list(turn_module._COMPILED_TURNS)
    if not whole:
        turn_module._COMPILED_TURNS.clear()
    try:
        while model.running:
            host = model.hosts["kgz"]
            if model.game.turn + 1 in wrap_turns:
                host.respond = type(host).respond.__get__(host)  # a caller's wrapper: the agent decides
            elif "respond" in host.__dict__:
                del host.__dict__["respond"]
            model.step()
            reports.append(model.last_report)
    finally:
        turn_module._COMPILED_TURNS[:] = saved
    return model, reports


def _whole(reports) -> list[int]:
    """The turns played whole in compiled code (their reports' outcomes wait in compact records)."""
    return [r.turn for r in reports if isinstance(r.__dict__.get("_outcomes"), turn_module._CompactOutcomes)]


def _same(a, b):
    pd.testing.assert_frame_equal(a.datacollector.get_model_vars_dataframe(),
                                  b.datacollector.get_model_vars_dataframe(), check_exact=True)  # fmt: skip
    for kind in (type(a.powers["china"]), type(a.hosts["kaz"])):
        pd.testing.assert_frame_equal(a.datacollector.get_agenttype_vars_dataframe(kind),
                                      b.datacollector.get_agenttype_vars_dataframe(kind), check_exact=True)  # fmt: skip
    # (as frames: a row's NaN size is equal to itself there, whichever float object holds it)
    assert len(a.event_log) == len(b.event_log)
    pd.testing.assert_frame_equal(pd.DataFrame(a.event_log), pd.DataFrame(b.event_log), check_exact=True)
    assert a.projects == b.projects
    for pid in a.powers:
        assert a.powers[pid].ledger.by_domain == b.powers[pid].ledger.by_domain
        assert a.powers[pid].ledger.by_move == b.powers[pid].ledger.by_move


def _same_reports(ra, rb):
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb, strict=True):
        assert x.decided_by == y.decided_by and list(x.decided_by) == list(y.decided_by)
        assert x.offers == y.offers  # offers in the order made, accepted or not, and why not
        assert x.followed == y.followed
        assert x.metrics == y.metrics
        assert x == y


@pytest.mark.parametrize("name", list(GAMES))
def test_whole_compiled_turns_record_what_phase_by_phase_turns_record(name):
    scenario, seed, overrides = GAMES[name]
    whole, whole_reports = _play(scenario, seed, overrides, whole=True)
    assert _whole(whole_reports) == list(range(1, whole.game.horizon + 1))
    phased, phased_reports = _play(scenario, seed, overrides, whole=False)
    assert _whole(phased_reports) == []
    _same(whole, phased)
    _same_reports(whole_reports, phased_reports)
    refused = [o for r in whole_reports for o in r.offers if not o.accepted]
    assert refused and all(o.reason for o in refused)


def test_whole_turns_equal_the_python_strategies():
    """Against the strategies' Python classes deciding (``compiled=False``): the same records."""
    scenario, seed, overrides = GAMES["baseline"]
    whole, whole_reports = _play(scenario, seed, overrides, whole=True)
    python, python_reports = _play(scenario, seed, overrides, whole=True, compiled=False)
    assert _whole(python_reports) == []
    _same(whole, python)
    _same_reports(whole_reports, python_reports)


def test_a_game_that_switches_between_whole_and_phased_turns():
    """Turns 8-15 played phase by phase (a caller wraps a host's ``respond``), the others whole: the
    strategies' memory (the portfolios' tallies) carries across, and the game is the same."""
    scenario, seed, overrides = GAMES["baseline_seed5"]
    mixed, mixed_reports = _play(scenario, seed, overrides, whole=True, wrap_turns=range(8, 16))
    assert _whole(mixed_reports) == [t for t in range(1, mixed.game.horizon + 1) if not 8 <= t < 16]
    phased, phased_reports = _play(scenario, seed, overrides, whole=False)
    _same(mixed, phased)
    _same_reports(mixed_reports, phased_reports)


def test_an_unpickled_game_switches_between_whole_and_phased_turns():
    """A model pickled after whole turns, then played on with turns 12-17 phase by phase: the
    strategies' memory is the same whichever way a turn is played after the copy."""
    scenario, seed, overrides = GAMES["baseline_seed5"]
    model = CompetitionModel(scenario=scenario, seed=seed, overrides=overrides)
    for _ in range(10):
        model.step()
    copy = pickle.loads(pickle.dumps(model))
    host = copy.hosts["kgz"]
    while copy.running:
        if 11 <= copy.game.turn + 1 < 17:
            host.respond = type(host).respond.__get__(host)
        elif "respond" in host.__dict__:
            del host.__dict__["respond"]
        copy.step()
    phased, _ = _play(scenario, seed, overrides, whole=False)
    _same(copy, phased)
