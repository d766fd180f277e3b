"""Cross-entropy method (numpy) for the US: tune the parametric strategy's weights, starting from PGII.

The US plays ``parametric`` with weights drawn from a Gaussian over

    theta = (weight of each move of the US toolkit, weight of each host (both cut at 0),
             spend_share, offer_size (both clipped to [0, 1]))

centred at first on the ``pgii_asymmetric`` doctrine's own parameters (moves it does not name at 0), so
that the first mean is the doctrine itself (the script prints both to show it).

Each iteration draws ``--population`` candidates, scores each by the
US's mean ``payoff_total`` (payoff-years at the horizon, docs/model.md 7.10) over the same training
seeds (common random numbers), and refits the Gaussian to the ``--elite`` best. The other powers and
the hosts play the baseline's configured strategies. Games run in compiled code (``BulkPlan``).

At the end, the doctrine and the learned weights are both evaluated on held-out seeds (never trained
on), with the paired difference and its standard error; the script says the learned weights beat the
doctrine only if the mean paired gain is more than two standard errors above zero.

Usage (from the repository root): ``python docs/examples/cem_us.py [--iterations 12] [--population 24]
[--elite 6] [--train-seeds 16] [--test-seeds 128] [--seed 0]``; a few seconds after the kernels load.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from strategy_abm.scenario.config import load_scenario
from strategy_abm.sim.bulk import BulkPlan
from strategy_abm.strategies.powers import PgiiAsymmetric

POWER = "us"


def params_of(theta: np.ndarray, moves: list[str], hosts: list[str]) -> dict:
    """The parametric strategy's parameters that ``theta`` stands for."""
    n_m, n_h = len(moves), len(hosts)
    return {
        # A move or host at weight 0 is left out of its table, as the doctrine leaves it out: a named
        # move at 0 can still be picked once the others are above their shares (docs/model.md 6.x).
        "move_weights": {m: float(t) for m, t in zip(moves, theta[:n_m], strict=True) if t > 0},
        "host_weights": {h: float(t) for h, t in zip(hosts, theta[n_m : n_m + n_h], strict=True) if t > 0},
        "spend_share": float(np.clip(theta[-2], 0.0, 1.0)),
        "offer_size": float(np.clip(theta[-1], 0.0, 1.0)),
        "offers_per_turn": PgiiAsymmetric.defaults["offers_per_turn"],
    }


def payoffs(base, strategy: str, params: dict | None, seeds) -> np.ndarray:
    """The US's payoff_total at the horizon in each game (one per seed)."""
    overrides = [f"powers.{POWER}.strategy={strategy}"]
    for key, value in (params or {}).items():  # one dotted override per leaf (as the CLI's --set)
        leaves = value.items() if isinstance(value, dict) else [(None, value)]
        for name, v in leaves:
            overrides.append(f"powers.{POWER}.strategy_params.{key}{'' if name is None else '.' + name}={v!r}")
    plan = BulkPlan(load_scenario(base, overrides))
    return np.array([rows[plan.horizon][f"payoff_total_{POWER}"] for rows in plan.play_block(seeds)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--population", type=int, default=24)
    parser.add_argument("--elite", type=int, default=6)
    parser.add_argument("--train-seeds", type=int, default=16)
    parser.add_argument("--test-seeds", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0, help="seed of the CEM's own draws")
    args = parser.parse_args(argv)
    if not 1 <= args.elite <= args.population:
        parser.error("--elite must be between 1 and --population")

    base = load_scenario("baseline")
    doctrine = PgiiAsymmetric.defaults
    # The doctrine's moves in its table's order, then the rest of the toolkit: the strategy breaks
    # ties between equal weights by table order, so this order makes the start the doctrine itself.
    moves = [*doctrine["move_weights"], *(m for m in base.powers[POWER].toolkit if m not in doctrine["move_weights"])]
    hosts = [*doctrine["host_weights"], *(h for h in base.host_ids if h not in doctrine["host_weights"])]
    theta = np.array([
        *(doctrine["move_weights"].get(m, 0.0) for m in moves),
        *(doctrine["host_weights"].get(h, doctrine["default_host_weight"]) for h in hosts),
        doctrine["spend_share"],
        doctrine["offer_size"],
    ])  # fmt: skip
    # Spread: 0.05 for a weight (the doctrine's are 0.05 to 0.4), 0.1 for a share.
    sigma = np.r_[np.full(len(moves) + len(hosts), 0.05), 0.1, 0.1]
    floor = sigma / 10  # (keeps it exploring)
    train = range(args.train_seeds)
    test = range(100_000, 100_000 + args.test_seeds)  # held out: never trained on
    rng = np.random.default_rng(args.seed)

    start = payoffs(base, "parametric", params_of(theta, moves, hosts), train).mean()
    doctrine_train = payoffs(base, "pgii_asymmetric", None, train).mean()
    print(f"training seeds: start (parametric at the doctrine's parameters) {start:.4f}, "
          f"pgii_asymmetric {doctrine_train:.4f} payoff-years")  # fmt: skip
    best_theta, best = theta, start
    for it in range(args.iterations):
        draws = theta + sigma * rng.standard_normal((args.population, theta.size))
        scores = np.array([payoffs(base, "parametric", params_of(d, moves, hosts), train).mean() for d in draws])
        elite = draws[np.argsort(scores)[-args.elite :]]
        theta, sigma = elite.mean(axis=0), elite.std(axis=0) + floor
        if scores.max() > best:
            best, best_theta = float(scores.max()), draws[int(np.argmax(scores))]
        print(f"iteration {it + 1}: mean {scores.mean():.4f}, elite mean {np.sort(scores)[-args.elite :].mean():.4f}, "
              f"best so far {best:.4f}")  # fmt: skip

    learned = params_of(best_theta, moves, hosts)
    ours = payoffs(base, "parametric", learned, test)
    theirs = payoffs(base, "pgii_asymmetric", None, test)
    gain = ours - theirs
    se = gain.std(ddof=1) / np.sqrt(gain.size)
    print(f"held-out seeds ({gain.size}): pgii_asymmetric {theirs.mean():.4f}, learned {ours.mean():.4f} "
          f"payoff-years; paired gain {gain.mean():+.4f} (s.e. {se:.4f})")  # fmt: skip
    verdict = "beats" if gain.mean() > 2 * se else "does not measurably beat"
    print(f"the learned strategy {verdict} the doctrine on held-out seeds")
    print("learned parameters:", json.dumps(learned, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
