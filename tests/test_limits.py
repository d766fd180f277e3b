"""The absorption and debt limits in one place (``engine.projects.Headroom``), the absorption refill
(``kernels.room_next_turn``) and the choice of a mineral deposit (``kernels.best_deposit``): their
values, and the agreement of every user of the limits (a power's sizing, a host's choice, the
legality check)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from strategy_abm import CompetitionModel
from strategy_abm.engine import kernels, rules
from strategy_abm.engine.projects import Headroom, Offer
from strategy_abm.strategies import HostStrategy, StrategyError, check_responses
from strategy_abm.strategies.powers import HostRoom

LOAN = SimpleNamespace(local_absorption=0.5, debt_fraction=0.8)
RELIEF = SimpleNamespace(local_absorption=0.0, debt_fraction=0.0)


def test_headroom_caps_fits_and_takes():
    room = Headroom(absorption=2.0, debt=1.0)
    assert room.cap(LOAN) == 1.25  # debt binds: 1.0/0.8 < 2.0/0.5
    assert room.fits(LOAN, 1.25) and not room.fits(LOAN, 1.26)
    assert room.fits(LOAN, 1.25 + 1e-13, slack=1e-12)
    room.take(LOAN, 1.0)
    assert room == Headroom(absorption=1.5, debt=pytest.approx(0.2))
    assert room.cap(RELIEF) == math.inf and room.fits(RELIEF, 1e9)
    assert Headroom(0.3, 5.0).cap(SimpleNamespace(local_absorption=0.6, debt_fraction=0.0)) == pytest.approx(0.5)


@pytest.mark.parametrize(("pool", "expected"), [(0.0, 0.5), (0.5, 1.0), (1.9, 2.0), (2.0, 2.0)])
def test_absorption_refill_saves_up_to_a_year(pool, expected):
    """kernels.room_next_turn: min(A, pool + A dt), with A = 2.0 a year (2% of a GDP of 100), dt 0.25."""
    model = CompetitionModel(seed=0, turns=1)
    host = model.hosts["kaz"]
    host.gdp_usd_bn, host.absorption_pct_gdp, host.absorption_room = 100.0, 2.0, pool
    assert host.room_next_turn(0.25) == expected


def test_room_next_turn_is_the_refill_the_host_gets():
    model = CompetitionModel(seed=0, turns=4)
    model.step()
    expected = {h: host.room_next_turn(model.dt) for h, host in model.hosts.items()}
    kernels.refill_absorption(model.game.state.hosts, model.game.tables.rules)  # the turn's refill, all hosts
    for h, host in model.hosts.items():
        assert host.absorption_room == expected[h]


def test_best_deposit():
    room = {"resources_t": 1e6, "max_output_t": 100.0, "capacity_t": 0.0}
    minerals = {"a": {"developable": True, **room}, "b": {"developable": True, **room},
                "c": {"developable": False, **room}}  # fmt: skip
    world = {"a": 100.0, "b": 50.0, "c": 1.0}
    assert rules.best_deposit(minerals, {"a": 10.0, "b": 5.0, "c": 100.0}, world) == "a"  # a tie: the first
    assert rules.best_deposit(minerals, {"a": 10.0, "b": 6.0}, world) == "b"  # 6/50 > 10/100
    assert rules.best_deposit(minerals, {"c": 100.0}, world) is None  # not developable
    assert rules.best_deposit(minerals, {"a": 0.0}, world) is None
    # A deposit built to its maximum output, or exhausted, has no room: the next one is developed.
    full = {**minerals, "b": {**minerals["b"], "capacity_t": 100.0}}
    assert rules.best_deposit(full, {"a": 10.0, "b": 6.0}, world) == "a"
    exhausted = {**minerals, "b": {**minerals["b"], "resources_t": 0.0}}
    assert rules.best_deposit(exhausted, {"a": 10.0, "b": 6.0}, world) == "a"
    assert rules.best_deposit({"b": full["b"]}, {"b": 6.0}, world) is None


def test_sizing_choosing_and_checking_agree_on_the_limits():
    """A power sizes an offer to the largest a host can take (HostRoom); the host accepts that
    size (within_limits) and the check passes; 1% more is refused by both wherever a limit binds."""
    model = CompetitionModel(seed=0, turns=8)
    for _ in range(4):
        model.step()
    checked = binding = 0
    game = model.game
    sizing = {pid: game.observe(pid) for pid in model.powers}  # what each power sizes its offers to
    for host in model.hosts.values():
        host.absorption_room = host.room_next_turn(model.dt)  # as when the host answers
    for pid, power in model.powers.items():
        room = HostRoom(sizing[pid])
        for hid, host in model.hosts.items():
            answering = game.observe(hid)
            for move_id in power.toolkit:
                move = model.moves[move_id]
                if move.effects.debt_relief:
                    continue
                cap = room.cap(move, hid, budget_left=1e9)
                if cap <= 0:
                    continue
                offer = Offer(pid, move_id, hid, cap)
                assert HostStrategy.within_limits(answering, [offer]) == [offer]
                check_responses(host, [offer], [offer], model)
                checked += 1
                if cap < move.size_max_usd_bn:  # a host limit binds
                    bigger = Offer(pid, move_id, hid, cap * 1.01)
                    assert HostStrategy.within_limits(answering, [bigger]) == []
                    with pytest.raises(StrategyError, match="beyond"):
                        check_responses(host, [bigger], [bigger], model)
                    binding += 1
    assert checked > 100 and binding > 20, (checked, binding)


@pytest.mark.parametrize("scenario", ["baseline", "hindcast_2022"])
def test_the_python_choice_of_a_deposit_is_the_rules_choice(scenario):
    """rules.best_deposit (what a Python strategy predicts over dicts) picks the deposit the rules
    develop (kernels.best_deposit over the state arrays), for every host and minerals move."""
    from strategy_abm.engine.turn import Game

    game = Game(scenario, seed=0)
    t, lay = game.tables, game.layout
    world = {m: v["world_output_t"] for m, v in game.world_minerals.items()}
    moves = [m for m, move in game.moves.items() if move.effects.mineral_output_t_per_bn]
    assert moves
    for h, host in game.hosts.items():
        for move in moves:
            per_bn = game.moves[move].effects.mineral_output_t_per_bn
            python = rules.best_deposit(host.minerals, per_bn, world)
            m = kernels.best_deposit(game.state.hosts[game.host_index[h]], lay.offsets, t.moves, t.world_minerals,
                                     game.move_index[move])  # fmt: skip
            assert python == (lay.minerals[m] if m >= 0 else None), (h, move)
