"""Benchmark: random-policy steps per second of the PettingZoo environment ``strategy_abm_v0``.

Plays whole baseline games (40 turns) of ``strategy_abm.lab.env.parallel_env()`` with a random policy,
for at most ``--seconds`` (default 10) of wall time or ``--games`` games, whichever comes first, after
one warm-up game (the compiled kernels load then). Two policies: ``unmasked`` (every agent samples
its action space: illegal slots are dropped by the env) and ``masked`` (``env.masked_sample``: every
slot legal). With ``--hosts``, the hosts are agents too (two env steps a turn).

A step is one ``env.step(actions)`` call (every agent's action for one phase); the report gives steps
per second, agent-steps per second (steps x live agents) and games per second, on wall time.

Usage: ``python benchmarks/bench_env.py [--seconds 10] [--games 1000] [--hosts] [--max-offers 4]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def run(policy: str, seconds: float, games: int, hosts: bool, max_offers: int) -> dict:
    from strategy_abm.lab.env import parallel_env

    env = parallel_env(hosts_as_agents=hosts, max_offers=max_offers)
    rng = np.random.default_rng(0)
    for a in env.possible_agents:
        env.action_space(a).seed(0)

    def act(agent):
        if policy == "masked":
            return env.masked_sample(agent, rng)
        return env.action_space(agent).sample()

    def game(seed: int) -> tuple[int, int]:
        env.reset(seed=seed)
        steps = agent_steps = 0
        while env.agents:
            agent_steps += len(env.agents)
            env.step({a: act(a) for a in env.agents})
            steps += 1
        return steps, agent_steps

    game(10_000)  # warm-up: imports, compiled kernels
    steps = agent_steps = played = 0
    start = time.perf_counter()
    while played < games and time.perf_counter() - start < seconds:
        s, a = game(played)
        steps, agent_steps, played = steps + s, agent_steps + a, played + 1
    wall = time.perf_counter() - start
    return {"policy": policy, "games": played, "steps": steps, "wall_s": wall, "steps_per_s": steps / wall,
            "agent_steps_per_s": agent_steps / wall, "games_per_s": played / wall}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="wall-time bound per policy (default 10)")
    parser.add_argument("--games", type=int, default=1000, help="game bound per policy (default 1000)")
    parser.add_argument("--hosts", action="store_true", help="hosts are agents too")
    parser.add_argument("--max-offers", type=int, default=4, help="offer slots per power (default 4)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.games < 1:
        print("bench_env: --seconds must be > 0 and --games >= 1", file=sys.stderr)
        return 2
    mode = "powers and hosts" if args.hosts else "powers"
    print(f"strategy_abm_v0, baseline, agents: {mode}, K = {args.max_offers}")
    for policy in ("unmasked", "masked"):
        r = run(policy, args.seconds, args.games, args.hosts, args.max_offers)
        rates = f"{r['steps_per_s']:8.1f} steps/s  {r['agent_steps_per_s']:8.1f} agent-steps/s"
        rates += f"  {r['games_per_s']:6.2f} games/s"
        print(f"  {policy:>8}: {rates}  ({r['games']} games, {r['steps']} steps, {r['wall_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
