"""The PettingZoo environment strategy_abm_v0 (strategy_abm/lab/env.py): PettingZoo's own conformance
tests, the mask against the engine's legality check, illegal slots as no-ops, and rewards against
the payoffs CompetitionModel reports for the same decisions."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

from strategy_abm.engine.legality import StrategyError, check_offers  # noqa: E402
from strategy_abm.engine.projects import Offer  # noqa: E402
from strategy_abm.engine.turn import Game  # noqa: E402
from strategy_abm.lab.env import parallel_env  # noqa: E402
from strategy_abm.sim.model import CompetitionModel  # noqa: E402

TURNS = 4  # a short horizon keeps the conformance tests fast


def test_parallel_api_and_seed_tests_pass_with_powers_as_agents():
    env = parallel_env(horizon_turns=TURNS)
    assert env.metadata["name"] == "strategy_abm_v0"
    parallel_api_test(env, num_cycles=TURNS + 2)
    parallel_seed_test(lambda: parallel_env(horizon_turns=TURNS), num_cycles=TURNS + 2)
    assert env.possible_agents == ["china", "us", "g7", "russia"]


def test_parallel_api_and_seed_tests_pass_with_hosts_as_agents():
    env = parallel_env(hosts_as_agents=True, horizon_turns=TURNS)
    parallel_api_test(env, num_cycles=2 * TURNS + 2)
    parallel_seed_test(lambda: parallel_env(hosts_as_agents=True, horizon_turns=TURNS), num_cycles=2 * TURNS + 2)
    obs, infos = env.reset(seed=3)
    assert set(obs) == {"china", "us", "g7", "russia", "kaz", "uzb", "kgz", "tjk", "tkm"}
    # Two steps a turn: the offers phase (hosts' masks empty), then the responses phase.
    assert not infos["kaz"]["action_mask"].any() and infos["us"]["action_mask"].any()
    rng = np.random.default_rng(0)
    actions = {a: env.masked_sample(a, rng) for a in env.agents}
    obs, rewards, *_, infos = env.step(actions)
    assert env.game.phase == "responses" and env.game.turn == 1
    assert not any(infos[p]["action_mask"].any() for p in env.power_ids)
    assert all(rewards[a] == 0.0 for a in env.agents), rewards  # nothing resolved yet
    waiting = env.game.waiting()
    assert waiting
    for h in env.host_ids:  # 1 where the slot holds an offer the host could accept on its own
        legal = env.game.legal(h)
        expected = [o in legal["acceptable"] for o in legal["offers"]] if h in waiting else []
        assert infos[h]["action_mask"].tolist() == [*expected, *[0] * (env.host_slots - len(expected))]
    assert any(infos[h]["action_mask"].any() for h in waiting)
    for h in waiting:  # a host's masked sample is kept whole too
        for _ in range(20):
            action = env.masked_sample(h, rng)
            assert len(env.decode(h, action)) == int(action.sum())
    _, rewards, *_ = env.step({a: env.masked_sample(a, rng) for a in env.agents})
    assert env.game.phase == "offers" and env.game.turn == 2  # (observing opens the next turn)
    assert rewards["china"] == env.game.powers["china"].payoff_total != 0.0


def test_one_power_as_agent_the_others_by_their_strategies():
    env = parallel_env(powers=["us"], horizon_turns=TURNS)
    parallel_api_test(env, num_cycles=TURNS + 2)
    assert env.possible_agents == ["us"]
    env.reset(seed=4)
    total = 0.0
    while env.agents:
        _, rewards, *_ = env.step({"us": np.zeros(12, np.int64)})  # the US offers nothing
        total += rewards["us"]
    # The same game played by the contract: the US submits nothing, the rest decide by their strategies.
    game = Game(env.scenario, 4, record=False, deciders={"us": lambda obs: []})
    while not game.over:
        report = game.play_turn()
    assert report.decided_by["china"] == "strategy" and any(o.offer.power == "china" for o in report.offers)
    assert total == pytest.approx(game.powers["us"].payoff_total, rel=1e-12, abs=1e-12)
    hosts = parallel_env(powers=["us"], hosts_as_agents=True, horizon_turns=TURNS)
    assert hosts.host_slots == 4 + 3 * 12  # K from the US, the world's bound from each other power
    parallel_api_test(hosts, num_cycles=2 * TURNS + 2)


def test_spaces_are_cached_and_observations_fit_them():
    env = parallel_env(horizon_turns=TURNS)
    obs, _ = env.reset(seed=0)
    for a in env.agents:
        assert env.observation_space(a) is env.observation_space(a)
        assert env.action_space(a) is env.action_space(a)
        assert obs[a].dtype == np.float32 and env.observation_space(a).contains(obs[a])
    us = env.action_space("us")
    assert list(us.nvec) == [len(env.toolkits["us"]) + 1, 5, 4] * 4
    # The own-state slice: budget_available then the yearly budget (docs/lab.md's layout).
    at = 5 * (9 + 3 * 4) + 2
    assert obs["us"][at : at + 2].tolist() == pytest.approx([env.game.powers["us"].budget_available, 2.0])


def test_mask_equals_what_the_engine_accepts_for_each_single_offer():
    env = parallel_env(horizon_turns=TURNS)
    env.reset(seed=5)
    for _ in range(3):  # a few turns, so budgets, debts and rooms have moved
        for p in env.power_ids:
            mask = env.action_mask(p)
            state = env.game.powers[p]
            for mi, m in enumerate(env.toolkits[p]):
                for hi, h in enumerate(env.host_ids):
                    for b in range(env.size_buckets):
                        offer = Offer(p, m, h, float(env.sizes[p][mi, b]))
                        try:
                            check_offers(state, [offer], env.game)
                            legal = True
                        except StrategyError:
                            legal = False
                        assert bool(mask[mi, hi, b]) == legal, (p, m, h, b)
        env.step({p: env.masked_sample(p) for p in env.agents})


def test_a_masked_sample_is_kept_whole():
    env = parallel_env(horizon_turns=TURNS)
    env.reset(seed=11)
    rng = np.random.default_rng(0)
    kept = 0
    while env.agents:
        actions = {}
        for p in env.agents:
            for _ in range(20):
                action = env.masked_sample(p, rng)
                chosen = int((action[0::3] > 0).sum())
                assert len(env.decode(p, action)) == chosen
                kept += chosen
            actions[p] = action
        env.step(actions)
    assert kept > 0


def test_an_illegal_slot_is_a_no_op():
    legal_only = parallel_env(horizon_turns=TURNS)
    with_illegal = parallel_env(horizon_turns=TURNS)
    legal_only.reset(seed=2)
    with_illegal.reset(seed=2)
    mask = legal_only.action_mask("us")
    good = np.argwhere(mask)[0]
    bad = np.argwhere(mask == 0)[0]  # a move not affordable, a host not a target or a size over budget
    a_good = np.zeros(12, np.int64)
    a_good[:3] = (good[0] + 1, good[1], good[2])
    a_both = a_good.copy()
    a_both[3:6] = (bad[0] + 1, bad[1], bad[2])
    assert len(with_illegal.decode("us", a_both)) == 1
    # Over budget after the earlier slots: the same legal offer twice, when twice does not fit.
    budget = with_illegal.game.powers["us"].budget_available
    share = [with_illegal.game.moves[m].public_cost_share for m in with_illegal.toolkits["us"]]
    costly = [c for c in np.argwhere(mask) if with_illegal.sizes["us"][c[0], c[2]] * share[c[0]] > budget / 2 + 1e-9]
    twice = np.zeros(12, np.int64)
    twice[:3] = twice[3:6] = (costly[0][0] + 1, costly[0][1], costly[0][2])
    assert len(with_illegal.decode("us", twice)) == 1
    others = {p: np.zeros(12, np.int64) for p in ("china", "g7", "russia")}
    o1, r1, *_ = legal_only.step({**others, "us": a_good})
    o2, r2, *_ = with_illegal.step({**others, "us": a_both})
    assert r1 == r2
    assert all(np.array_equal(o1[a], o2[a]) for a in o1)
    assert np.array_equal(legal_only.game.state.hosts, with_illegal.game.state.hosts)
    assert np.array_equal(legal_only.game.state.powers, with_illegal.game.state.powers)


def test_rewards_sum_to_the_payoff_competition_model_reports_for_the_same_decisions():
    env = parallel_env(horizon_turns=TURNS)
    env.reset(seed=7)
    rng = np.random.default_rng(1)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    played: dict[str, list] = {p: [] for p in env.power_ids}
    while env.agents:
        _, rewards, _, truncations, infos = env.step({p: env.masked_sample(p, rng) for p in env.agents})
        for p, r in rewards.items():
            totals[p] += r
            played[p].append(list(infos[p]["decision"]))
    assert all(truncations.values())
    assert any(played["us"]), "the random policy made no offer: the check would be empty"

    model = CompetitionModel(scenario="baseline", seed=7, turns=TURNS)
    for p in env.power_ids:  # the same decisions, turn by turn, made by deciders inside the model
        model.powers[p].propose = lambda obs, p=p: played[p][obs.turn - 1]
    model.run()
    # model.csv's payoff_<p> is the payoff of a turn (a rate per year, docs/model.md 7.10); the
    # reward is the turn's addition to payoff_total, payoff_<p> x dt (payoff-years).
    rows = model.datacollector.get_model_vars_dataframe().iloc[1:]
    assert len(rows) == TURNS
    for p in env.power_ids:
        assert totals[p] == pytest.approx(float((rows[f"payoff_{p}"] * model.dt).sum()), rel=1e-12, abs=1e-12)
        assert totals[p] == pytest.approx(model.powers[p].payoff_total, rel=1e-12, abs=1e-12)
    assert totals["us"] != 0.0


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="max_offers"):
        parallel_env(max_offers=0)
    with pytest.raises(ValueError, match="size_buckets"):
        parallel_env(size_buckets=0)
    with pytest.raises(ValueError, match="seed"):
        parallel_env(seed=-1)
    with pytest.raises(ValueError, match="powers"):
        parallel_env(powers=["usa"])
    with pytest.raises(ValueError, match="^hosts_as_agents: must be True or False, got 'no'$"):
        parallel_env(hosts_as_agents="no")  # (a string would be taken as true)
