"""Common random numbers (issue 7, item 7): independent streams per purpose, derived from the
seed (engine/streams.py). Changing one actor's strategy leaves the shocks, the hazards of the
other powers' projects and every other actor's draws unchanged, so "the same seed with BRI 2.0
instead" is a controlled comparison."""

from __future__ import annotations

import numpy as np
import pytest

from strategy_abm import CompetitionModel
from strategy_abm.engine.streams import Streams, seed_entropy
from strategy_abm.report.output import actors_frame, events_frame, model_frame
from strategy_abm.scenario.ids import HOSTS, POWERS

CHINA = ("bri_classic", "bri_2")
EVENT_STATUSES = ("scripted_event", "random_event", "event_end")
ALL_RANDOM_BUT_CHINA = (*(f"powers.{p}.strategy=random" for p in POWERS if p != "china"),
                        *(f"hosts.{h}.strategy=random" for h in HOSTS))  # fmt: skip


class Recorder:
    """A generator that logs every draw made from it: (method, arguments, numbers drawn)."""

    def __init__(self, generator: np.random.Generator, log: list):
        self._generator, self._log = generator, log

    def __getattr__(self, name):
        method = getattr(self._generator, name)

        def draw(*args, **kwargs):
            out = method(*args, **kwargs)
            self._log.append((name, args, np.asarray(out).tolist()))
            return out

        return draw


def recorded_game(seed: int, overrides: list[str], turns: int = 20):
    """A game with every strategy draw logged (the strategies' Python code plays: their kernels
    draw the same numbers from the same streams, tests/test_bulk.py); returns the model and the
    strategies' draws by (actor, turn)."""
    model = CompetitionModel(scenario="baseline", seed=seed, overrides=overrides, turns=turns, compiled=False)
    strategy_draws: dict[tuple[str, int], list] = {}
    streams, order = model.streams, model.actor_order
    strategy = streams.strategy
    streams.strategy = lambda a, t: Recorder(strategy(a, t), strategy_draws.setdefault((order[a], t), []))
    return model.run(), strategy_draws


def world_events(model) -> list[tuple]:
    """The scripted and random events and their ends: (turn, target, name, status)."""
    ev = events_frame(model)
    ev = ev[ev["status"].isin(EVENT_STATUSES)]
    return list(ev[["turn", "target", "move", "status"]].itertuples(index=False, name=None))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_change_of_china_doctrine_leaves_the_events_alone(seed):
    """Same seed, China bri_classic vs bri_2: identical scripted and random event sequences."""
    games = [CompetitionModel(seed=seed, overrides=[f"powers.china.strategy={d}"]).run() for d in CHINA]
    classic, bri2 = (world_events(g) for g in games)
    assert classic == bri2
    assert any(status == "random_event" for *_, status in classic)  # there are shocks to compare
    # ... while the games themselves differ (the comparison is not between two copies).
    assert not model_frame(games[0]).equals(model_frame(games[1]))


def test_other_actors_draw_the_same_numbers_whatever_china_plays():
    """Every actor but China plays ``random``: each draws the same numbers, turn by turn, and the
    US (whose budget and state are the same on turn 1) makes the same first offers."""
    (a, draws_a), (b, draws_b) = (
        recorded_game(0, [f"powers.china.strategy={d}", *ALL_RANDOM_BUT_CHINA]) for d in CHINA
    )
    others = [key for key in draws_a if key[0] != "china"]
    assert len(others) > 100  # 8 actors x 20 turns, less the hosts' turns without offers
    for key in others:
        if key in draws_b:  # a host draws only in a turn it received offers
            assert draws_a[key] == draws_b[key], key
    assert {k for k in draws_a if k[0] in POWERS and k[0] != "china"} == {
        k for k in draws_b if k[0] in POWERS and k[0] != "china"
    }
    first = [[(e["move"], e["target"], e["size_usd_bn"]) for e in g.event_log if e["turn"] == 1 and e["actor"] == "us"
              and e["status"] in ("accepted", "rejected")] for g in (a, b)]  # fmt: skip
    assert first[0] and first[0] == first[1]


@pytest.mark.parametrize("turn", [2, 9, 33])
def test_a_projects_hazards_are_its_own_whichever_other_projects_run(turn):
    """The k-th project of a power draws its (failure, delay) pair in a turn from the power's hazard
    stream at (turn, 2k), as Streams.hazard_pairs gives it, whatever else runs."""
    from strategy_abm.engine import kernels, pcg
    from strategy_abm.engine.streams import HAZARDS, Streams

    streams = Streams(11)
    words = pcg.words(streams.generator(HAZARDS, 1))
    pcg.advance(words, np.uint64(turn), np.uint64(0))  # the stream at the turn's region

    def pairs(serials):
        table = np.zeros((len(serials), kernels.PROJECT_COLUMNS))
        table[:, kernels.J_POWER], table[:, kernels.J_SERIAL] = 1, serials
        table[:, kernels.J_COMMITTED], table[:, kernels.J_STATUS] = turn - 1, kernels.RUNNING
        buffer = np.empty(2 * (max(serials) + 2))
        lo = kernels.hazard_draws(table, len(serials), 1, turn, words, buffer)
        return {k: buffer[2 * (k - lo) : 2 * (k - lo) + 2].tolist() for k in serials}

    alone, crowded = pairs([7]), pairs([3, 7, 12])
    assert alone[7] == crowded[7] == streams.hazard_pairs(1, turn, [7])[7]
    assert crowded[12] == streams.hazard_pairs(1, turn, [12])[12]


@pytest.mark.parametrize(
    "overrides", [[], ["powers.china.strategy=bri_2", *ALL_RANDOM_BUT_CHINA]], ids=["baseline", "random"]
)
def test_the_game_draws_nothing_from_mesas_generators(overrides):
    """``model.rng`` and ``model.random`` stay for Mesa; the game's draws all come from its streams."""
    model = CompetitionModel(seed=5, overrides=overrides, turns=12)
    rng_state, random_state = model.rng.bit_generator.state, model.random.getstate()
    model.run()
    assert model.rng.bit_generator.state == rng_state
    assert model.random.getstate() == random_state


@pytest.mark.parametrize("seed", [7, "7", "a label"], ids=["int", "numeric-string", "string"])
def test_a_game_is_reproducible_from_its_seed(seed):
    overrides = ["powers.china.strategy=bri_2", *ALL_RANDOM_BUT_CHINA]
    games = [CompetitionModel(seed=seed, overrides=overrides, turns=16).run() for _ in range(2)]
    for frame in (model_frame, actors_frame, events_frame):
        assert frame(games[0]).equals(frame(games[1]))
    other = CompetitionModel(seed=8, overrides=overrides, turns=16).run()
    assert not events_frame(other).equals(events_frame(games[0]))


def test_streams_are_spawned_from_the_seed_by_purpose():
    """The keys of engine/streams.py: (0,) events, (1, power) hazards, (2, actor) strategies, each
    a PCG64 generator on SeedSequence(seed, spawn_key=key); turn t of a per-turn stream starts at
    draw t * 2**64, and the k-th project's pair is draws 2k and 2k + 1 of its turn."""

    def stream(key, turn=0, skip=0):
        generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence(11, spawn_key=key)))
        generator.bit_generator.advance(turn * 2**64 + skip)
        return generator

    streams = Streams(11)
    assert streams.events.random(3).tolist() == stream((0,)).random(3).tolist()
    assert streams.strategy(2, 9).random(3).tolist() == stream((2, 2), 9).random(3).tolist()
    # Whatever was drawn before in the turn or in earlier turns, a turn starts at its region.
    streams.strategy(2, 8).random(5)
    assert streams.strategy(2, 9).random(3).tolist() == stream((2, 2), 9).random(3).tolist()
    pairs = streams.hazard_pairs(1, 4, [3, 7])
    assert pairs == {3: stream((1, 1), 4, 6).random(2).tolist(), 7: stream((1, 1), 4, 14).random(2).tolist()}
    assert streams.hazard_pairs(1, 4, [7]) == {7: pairs[7]} == {7: streams.hazard_pairs(1, 4, range(10))[7]}
    assert streams.hazard_pairs(1, 5, [7])[7] != pairs[7]
    assert len({tuple(stream(k).random(2)) for k in [(0,), (1, 0), (2, 0), (2, 1)]}) == 4
    assert seed_entropy(11) == 11 and seed_entropy("x") == seed_entropy("x") != seed_entropy("y")


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1, 2**32, 2**70 + 3, "a seed string", 7.5])
def test_stream_start_words_equal_numpys_seeding(seed):
    """``Streams.words`` (SeedSequence and PCG64 seeding in compiled code) gives the state numpy's
    generator on the same stream starts from, for short, long and hashed seeds and any key."""
    from strategy_abm.engine import pcg  # noqa: PLC0415

    streams = Streams(seed)
    keys = [(0,), (1, 0), (1, 3), (2, 8), (2, 2**33 + 5), (), (5, 6, 7, 8, 9)]
    for key in keys:
        expected = pcg.words(streams.generator(*key))
        assert streams.words(*key).tolist() == expected.tolist(), key
    # Many streams in one call (how a game starts its streams): the same words, row by row.
    assert streams.words_rows(keys).tolist() == [streams.words(*key).tolist() for key in keys]
