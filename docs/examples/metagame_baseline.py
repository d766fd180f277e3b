"""A first meta-game of the baseline: China's and the US's doctrines played against each other.

Plays every profile of 3 China strategies x 3 US strategies over a few seeds (the same seeds in
every profile), takes each power's payoff_total at the horizon (payoff-years), and reads the table
with strategy_abm.lab.metagame: regret of each profile, the exact equilibria, alpha-rank, bootstrap
intervals, and the three figures, written into the folder given.

    PYTHONPATH=. python docs/examples/metagame_baseline.py OUT_FOLDER [--seeds 8]

The tournament command (strategy-abm tournament) does the same at scale; this script shows the
analysis on a table small enough to read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from strategy_abm import CompetitionModel, load_scenario
from strategy_abm.lab.metagame import (
    MetaGame,
    alpharank,
    bimatrix_equilibria,
    payoff_intervals,
    plot_alpharank,
    plot_payoff_heatmap,
    plot_replicator,
    regrets,
    replicator,
)

CHINA = ("bri_2", "bri_classic", "greedy")
US = ("pgii_asymmetric", "greedy", "random")


def play(seeds: int, china=CHINA, us=US) -> MetaGame:
    """The meta-game of the baseline over ``china`` x ``us``, seeds 0..seeds-1."""
    samples = {"china": np.zeros((len(china), len(us), seeds)), "us": np.zeros((len(china), len(us), seeds))}
    for i, c in enumerate(china):
        for j, u in enumerate(us):
            scenario = load_scenario("baseline", [f"powers.china.strategy={c}", f"powers.us.strategy={u}"])
            for s in range(seeds):
                model = CompetitionModel(scenario=scenario, seed=s).run()
                samples["china"][i, j, s] = model.powers["china"].payoff_total
                samples["us"][i, j, s] = model.powers["us"].payoff_total
    means = {r: v.mean(axis=-1) for r, v in samples.items()}
    return MetaGame(("china", "us"), {"china": tuple(china), "us": tuple(us)}, means, samples)


def report(game: MetaGame, out: Path) -> str:
    """The analysis as text; the figures go into ``out`` (which must exist)."""
    lines = []
    with np.printoptions(precision=3, suppress=True):
        for role in game.roles:
            lines.append(f"payoff of {role} (rows: china, columns: us)\n{game.payoffs[role]}")
        lines.append(f"regret of each profile\n{regrets(game)}")
    for eq in bimatrix_equilibria(game):
        mix = {r: dict(zip(game.strategies[r], np.round(eq.mix[r], 3).tolist(), strict=True)) for r in game.roles}
        lines.append(f"equilibrium {mix} payoffs {{{', '.join(f'{r}: {v:.3f}' for r, v in eq.values.items())}}}")
    rank = alpharank(game, alpha=1.0, m=50)
    lines.append(f"alpha-rank (alpha 1, m 50): {rank.rankings}")
    us = payoff_intervals(game, n_boot=500, seed=0)["us"]
    lines.append(f"widest 95% interval of a US payoff over seeds: {float((us.high - us.low).max()):.3f}")
    plot_payoff_heatmap(game, "us", "china", "us", path=out / "metagame_us_payoff.png")
    plot_alpharank(rank, path=out / "metagame_alpharank.png")
    plot_replicator(game, replicator(game, steps=2000, dt=0.05), dt=0.05, path=out / "metagame_replicator.png")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="an existing folder for the figures")
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        print(f"out: {str(args.out)!r} is not an existing folder", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print(f"--seeds: must be at least 1, got {args.seeds}", file=sys.stderr)
        return 2
    print(report(play(args.seeds), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
