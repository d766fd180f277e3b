"""The brief's question: the US's best response to China's BRI 2.0 with USD 2 bn a year, and how far PGII is from it.

Two parts, on the held-out seeds of ``experiments/tune_us_vs_bri2.toml`` (100 to 131; China plays
``bri_2``, the G7 and Russia their baseline doctrines, the US has the baseline's USD 2 bn a year):

1. **What spending buys.** The US plays ``parametric`` with PGII's move and host weights and offer
   shape, at spending shares from 0 to 1. For each: the public money committed over the game, the
   US's ``payoff_total`` (payoff-years) under the scenario's objective weights, the same games'
   payoff with the cost weight at 0 (*gross*: what the money bought), and the cost term (their
   difference). The line under the table is the *break-even cost weight*: the weight at which
   PGII's spending (share 0.8) buys exactly what it costs, compared with spending as little as the
   strategy can (share 0): ``(gross(0.8) - gross(0)) / (cost(0.8) - cost(0)) x weight``.
2. **How far each strategy's mix is from PGII's.** For PGII and for each ``best.toml`` given
   (the output of ``strategy-abm tune``), the games are played on the recorded path and the
   accepted offers summed: the project value by move and by host (shares of the total), the money
   committed, the payoff, and the total variation distance (half the sum of absolute differences
   of the shares: 0 the same mix, 1 nothing in common) of the move and host mixes from PGII's.

Usage (from the repository root), after the tunings of docs/lab.md's worked example::

    python docs/examples/us_best_response.py runs/tune/tune_us_vs_bri2/best.toml \
        runs/tune/tune_us_vs_bri2_spending_pays/best.toml

A best.toml's own scenario (the baseline, or ``configs/examples/us_spending_pays.toml``) is the
game it is played in; PGII is played in the same scenario for its row. About 10 s per best.toml.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np

from strategy_abm import Game
from strategy_abm.scenario.config import builtin_scenarios, load_scenario
from strategy_abm.sim.bulk import BulkPlan
from strategy_abm.strategies.powers import PgiiAsymmetric

POWER = "us"
SEEDS = range(100, 132)  # tune_us_vs_bri2.toml's eval_seeds
SHARES = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0)
DOCTRINE_SHARE = PgiiAsymmetric.defaults["spend_share"]


def leaves(prefix: str, params: dict) -> list[str]:
    """``--set``-style overrides, one per leaf of ``params``."""
    out = []
    for key, value in params.items():
        if isinstance(value, dict):
            out += [f"{prefix}.{key}.{k}={v!r}" for k, v in value.items()]
        else:
            out.append(f"{prefix}.{key}={value!r}")
    return out


def horizon_values(scenario, overrides: list[str], metrics: tuple[str, ...]) -> np.ndarray:
    """``metrics`` at the horizon of each held-out game (bulk path); shape (seeds, metrics)."""
    plan = BulkPlan(load_scenario(scenario, ["horizon_turns=40", "powers.china.strategy=bri_2", *overrides]))
    return np.array([[rows[plan.horizon][m] for m in metrics] for rows in plan.play_block(SEEDS)])


def spending_table(scenario) -> None:
    weight = load_scenario(scenario).powers[POWER].objectives["cost"]
    pgii = {k: v for k, v in PgiiAsymmetric.defaults.items() if k != "spend_share"}
    base = ["powers.us.strategy=parametric", *leaves("powers.us.strategy_params", pgii)]
    metrics = (f"spent_usd_bn_{POWER}", f"payoff_total_{POWER}")
    print(f"1. What spending buys ({scenario}; cost weight {weight:g}; PGII's weights; mean of {len(SEEDS)} games)")
    print(f"{'spend_share':>11} {'money USD bn':>12} {'payoff_total':>12} {'gross':>8} {'cost term':>9}")
    rows = {}
    for share in SHARES:
        net = horizon_values(scenario, [*base, f"powers.us.strategy_params.spend_share={share}"], metrics)
        gross = horizon_values(scenario, [*base, f"powers.us.strategy_params.spend_share={share}",
                                          "powers.us.objectives.cost=0"], metrics)  # fmt: skip
        money, payoff, free = net[:, 0].mean(), net[:, 1].mean(), gross[:, 1].mean()
        rows[share] = (money, payoff, free, free - payoff)
        print(f"{share:>11g} {money:>12.2f} {payoff:>12.3f} {free:>8.3f} {free - payoff:>9.3f}")
    (_, _, g0, c0), (_, _, g1, c1) = rows[0.0], rows[DOCTRINE_SHARE]
    if weight > 0 and c1 > c0:
        print(f"break-even cost weight of PGII's spending (share {DOCTRINE_SHARE:g} against 0): "
              f"{(g1 - g0) / (c1 - c0) * weight:.4f} (the scenario's: {weight:g})")  # fmt: skip
    print()


def mix(scenario, strategy: str, params: dict | None) -> dict:
    """The accepted offers' value by move and host (shares), money and payoff, over the held-out games."""
    over = ["horizon_turns=40", "powers.china.strategy=bri_2", f"powers.{POWER}.strategy={strategy}"]
    sc = load_scenario(scenario, [*over, *leaves(f"powers.{POWER}.strategy_params", params or {})])
    moves, hosts = defaultdict(float), defaultdict(float)
    money, payoff = [], []
    for seed in SEEDS:
        game = Game(sc, seed, record=False)
        while not game.over:
            report = game.advance()
            for outcome in report.offers if report is not None else ():
                if outcome.accepted and outcome.offer.power == POWER:
                    moves[outcome.offer.move] += outcome.offer.size_usd_bn
                    hosts[outcome.offer.host] += outcome.offer.size_usd_bn
        money.append(game.metrics[f"spent_usd_bn_{POWER}"])
        payoff.append(game.metrics[f"payoff_total_{POWER}"])
    total = sum(moves.values())
    share = 1.0 / total if total > 0 else 0.0  # (no project accepted: no mix)
    return {"moves": {m: v * share for m, v in moves.items()}, "hosts": {h: v * share for h, v in hosts.items()},
            "value": total / len(SEEDS), "money": float(np.mean(money)), "payoff": float(np.mean(payoff))}  # fmt: skip


def distance(a: dict, b: dict) -> float:
    """Total variation distance of two share tables."""
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in {*a, *b})


def describe(label: str, m: dict, ref: dict | None) -> None:
    top = sorted(m["moves"].items(), key=lambda kv: -kv[1])[:5]
    where = sorted(m["hosts"].items(), key=lambda kv: -kv[1])
    print(f"  {label}: payoff_total {m['payoff']:.3f}, money {m['money']:.2f} USD bn, projects accepted "
          f"USD {m['value']:.2f} bn a game")  # fmt: skip
    if not m["moves"]:
        print("    no project accepted in any game: no mix to compare")
        return
    print("    moves: " + ", ".join(f"{k} {v:.2f}" for k, v in top))
    print("    hosts: " + ", ".join(f"{k} {v:.2f}" for k, v in where))
    if ref is not None:
        print(f"    distance from PGII's mix: moves {distance(m['moves'], ref['moves']):.2f}, "
              f"hosts {distance(m['hosts'], ref['hosts']):.2f}")  # fmt: skip


def parent_of(best: Path) -> str:
    """The scenario a best.toml extends: a built-in name, or a path (tune writes it absolute;
    shown relative to the working folder)."""
    parent = tomllib.loads(best.read_text())["extends"]
    return parent if parent in builtin_scenarios() else os.path.relpath(parent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("best", nargs="*", type=Path, help="best.toml files written by strategy-abm tune")
    args = parser.parse_args(argv)
    for path in args.best:
        if not path.is_file():
            first = "experiments/tune_us_vs_bri2.toml, experiments/tune_us_vs_bri2_spending_pays.toml"
            parser.error(f"{path}: no such file (run strategy-abm tune on its tuning file first: {first})")
    parents = {path: parent_of(path) for path in args.best}
    for scenario in dict.fromkeys(["baseline", *parents.values()]):
        spending_table(scenario)
    print("2. The mixes (accepted projects' value by move and host, shares; mean of the held-out games)")
    for path, parent in parents.items():
        sc = load_scenario(path)
        ref = mix(parent, "pgii_asymmetric", None)
        print(f"in {parent}:")
        describe("pgii_asymmetric", ref, None)
        best = mix(path, "parametric", sc.powers[POWER].strategy_params)
        describe(f"best response ({path})", best, ref)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
