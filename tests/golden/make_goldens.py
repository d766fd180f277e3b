"""Record the golden outputs the engine must keep reproducing (``tests/test_golden.py``).

Run from the repository root after a deliberate change of results, and commit the new files in
a commit of their own that says why::

    .venv/bin/python tests/golden/make_goldens.py

Each game's ``model.csv``, ``actors.csv`` and ``events.csv`` (as ``strategy-abm run`` writes
them) are stored gzip-compressed under ``tests/golden/<game>/``.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The games the engine must reproduce bit for bit: the baseline over ten seeds, the hindcast over
# three, the classic-BRI counterfactual, three mixes of doctrines and one game in which every
# actor plays at random.
GAMES: dict[str, dict] = {
    **{f"baseline_seed{s}": {"scenario": "baseline", "seed": s, "overrides": []} for s in range(10)},
    **{f"hindcast_2022_seed{s}": {"scenario": "hindcast_2022", "seed": s, "overrides": []} for s in range(3)},
    "bri_classic_seed0": {"scenario": "bri_classic", "seed": 0, "overrides": []},
    "mix_bri2_fossil": {"scenario": "baseline", "seed": 1, "overrides": [
        "powers.china.strategy=bri_2", "powers.us.strategy=fossil_first"]},
    "mix_greedy_debt_averse": {"scenario": "baseline", "seed": 2, "overrides": [
        "powers.china.strategy=greedy", "powers.russia.strategy=greedy", "hosts.kgz.strategy=debt_averse",
        "hosts.tjk.strategy=china_leaning"]},
    "mix_parametric_pgii": {"scenario": "baseline", "seed": 3, "overrides": [
        "powers.us.strategy=parametric", "powers.us.strategy_params.spend_share=0.6",
        "powers.g7.strategy=pgii_asymmetric", "hosts.uzb.strategy=greedy"]},
    "all_random": {"scenario": "baseline", "seed": 4, "overrides": [
        *(f"powers.{p}.strategy=random" for p in ("china", "us", "g7", "russia")),
        *(f"hosts.{h}.strategy=random" for h in ("kaz", "uzb", "kgz", "tjk", "tkm"))]},
}  # fmt: skip


def game_csvs(spec: dict, compiled: bool = True) -> dict[str, bytes]:
    """The three CSV files of one game, as ``write_run`` writes them (``compiled=False``: the
    strategies' Python code decides instead of their kernels)."""
    from strategy_abm import CompetitionModel
    from strategy_abm.report.output import actors_frame, events_frame, model_frame

    model = CompetitionModel(
        scenario=spec["scenario"], seed=spec["seed"], overrides=spec["overrides"], compiled=compiled
    ).run()
    return {
        "model.csv": model_frame(model).to_csv(index=False).encode(),
        "actors.csv": actors_frame(model).to_csv(index=False).encode(),
        "events.csv": events_frame(model).to_csv(index=False).encode(),
    }


def main() -> int:
    for name, spec in GAMES.items():
        folder = HERE / name
        folder.mkdir(exist_ok=True)
        for file, data in game_csvs(spec).items():
            # mtime=0: the same content gives the same bytes, so git sees no change.
            (folder / f"{file}.gz").write_bytes(gzip.compress(data, mtime=0))
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
