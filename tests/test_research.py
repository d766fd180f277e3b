"""What researchers need around the game: models freed after use, sweeps over strategy
parameters, recordable distress counts and dates, readable summaries and plots."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import mesa

from strategy_abm import CompetitionModel
from strategy_abm.agents import AGENT_IDS

# ------------------------------------------------------------------ models are released (issue 6, section 7)


def test_models_built_in_a_loop_are_released_and_memory_stays_flat():
    """200 games in a user's loop: none stays alive, and traced memory after 200 games is that
    after 50 (Mesa 3.3.1's Agent._ids kept every model: about 175 kB per 2-turn game)."""
    refs: list[weakref.ref] = []

    def play(seed: int) -> None:
        model = CompetitionModel(scenario="baseline", seed=seed, turns=2, record=True)
        model.run()
        refs.append(weakref.ref(model))

    for seed in range(10):  # warm caches (scenario cache, imports) before measuring
        play(seed)
    gc.collect()
    tracemalloc.start()
    try:
        for seed in range(10, 60):
            play(seed)
        gc.collect()
        after_50 = tracemalloc.get_traced_memory()[0]
        for seed in range(60, 210):
            play(seed)
        gc.collect()
        after_200 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert sum(r() is not None for r in refs) == 0
    assert after_200 - after_50 < 500_000, (after_50, after_200)  # the leak was about 26 MB here


def test_unique_ids_count_from_one_in_every_model():
    first = CompetitionModel(seed=0, turns=1)
    second = CompetitionModel(seed=1, turns=1)  # built while the first is alive
    for model in (first, second):
        ids = {a.actor_id: a.unique_id for a in model.agents}
        assert ids == {"china": 1, "us": 2, "g7": 3, "russia": 4, "kaz": 5, "uzb": 6, "kgz": 7, "tjk": 8, "tkm": 9}
    assert first in AGENT_IDS and second in AGENT_IDS
    assert first not in mesa.Agent._ids  # Mesa's own table, which holds models forever, is not used


def test_mesa_batch_run_leaves_no_model_alive():
    gc.collect()
    before = sum(isinstance(o, CompetitionModel) for o in gc.get_objects())
    rows = mesa.batch_run(CompetitionModel, {"seed": [0, 1, 2], "scenario": ["baseline"], "turns": [2]},
                          max_steps=2, display_progress=False)  # fmt: skip
    assert len(rows) == 3
    gc.collect()
    assert sum(isinstance(o, CompetitionModel) for o in gc.get_objects()) == before
