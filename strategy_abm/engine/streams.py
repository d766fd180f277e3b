"""The random streams of a game: one per purpose, derived from the game's seed.

Common random numbers: what one purpose draws never shifts what another draws, so two games on
the same seed that differ in one actor's strategy share their shocks, the hazard draws of every
other power's projects and every other actor's draws. Each stream is a numpy PCG64 generator
on ``SeedSequence(seed, spawn_key=key)``:

- ``(0,)`` scenario events and random shocks (``random_host`` draws included), drawn in turn order;
- ``(1, a)`` the hazards of power ``a``'s projects: in turn ``t``, its ``k``-th project (from 0)
  draws the (failure, delay) pair at positions ``t*2**64 + 2k`` and ``+ 2k + 1`` of the stream;
- ``(2, a)`` what actor ``a``'s strategy draws in turn ``t``, from position ``t*2**64`` on.

``a`` is the actor's index in the scenario's order (its powers, then its hosts). A turn's region
of a stream (2**64 draws, reached by ``advance``, not by drawing) does not depend on what was
drawn in earlier turns, so an actor's draws in a turn are the same whatever it drew before, and
a project's pair whichever other projects of its power still run. Mesa's own ``model.random``
and ``model.rng`` come from the bare seed (no spawn key) and the game draws nothing from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

import numpy as np

from . import pcg

EVENTS, HAZARDS, STRATEGIES = 0, 1, 2
TURN_REGION = 1 << 64  # draws set aside for each turn of a per-turn stream


def seed_entropy(seed) -> int:
    """The seed as ``SeedSequence`` entropy: an integer seed as it is, any other (a string from a
    GUI, a float) by the SHA-256 of its ``repr``, so every seed Mesa accepts fixes the streams."""
    if isinstance(seed, int | np.integer):
        return int(seed)
    return int.from_bytes(hashlib.sha256(repr(seed).encode()).digest(), "big")


class Streams:
    """The game's random streams (see the module's docstring). ``events`` is drawn in turn order;
    the per-turn streams are positioned at a turn's region when asked for."""

    def __init__(self, seed):
        self.entropy = seed_entropy(seed)
        self._events: np.random.Generator | None = None
        self._starts: dict[tuple[int, ...], tuple[np.random.Generator, dict]] = {}

    @property
    def events(self) -> np.random.Generator:
        """The events stream's generator (made when first asked for)."""
        if self._events is None:
            self._events = self.generator(EVENTS)
        return self._events

    def generator(self, *key: int) -> np.random.Generator:
        """A new generator on stream ``key``, at its start."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.entropy, spawn_key=key)))

    def words(self, *key: int) -> np.ndarray:
        """Stream ``key``'s state at its start as engine/pcg.py's four uint64 words: what
        ``pcg.words(self.generator(*key))`` gives, without making a generator (a few times faster)."""
        return start_words(self.entropy, key)

    def words_rows(self, keys: list[tuple[int, ...]]) -> np.ndarray:
        """:meth:`words` of each of ``keys``, as rows of a uint64[len(keys), 4] array (one compiled call)."""
        return start_words_rows(self.entropy, keys)

    def at_turn(self, key: tuple[int, ...], turn: int) -> np.random.Generator:
        """Stream ``key``'s generator at the start of ``turn``'s region. One generator per stream,
        re-positioned on each call (about 2 microseconds, against 20 for a new one)."""
        entry = self._starts.get(key)
        if entry is None:
            generator = self.generator(*key)
            entry = self._starts[key] = (generator, generator.bit_generator.state)
        generator, start = entry
        generator.bit_generator.state = start
        generator.bit_generator.advance(turn * TURN_REGION)
        return generator

    def strategy(self, actor_index: int, turn: int) -> np.random.Generator:
        """The generator actor ``actor_index``'s strategy draws from in ``turn``."""
        return self.at_turn((STRATEGIES, actor_index), turn)

    def hazard_pairs(self, power_index: int, turn: int, serials: Collection[int]) -> dict[int, list[float]]:
        """The (failure, delay) uniforms in ``turn`` of the projects of power ``power_index``
        numbered ``serials``: each project's pair is the same whichever others are asked for."""
        low, high = min(serials), max(serials)
        generator = self.at_turn((HAZARDS, power_index), turn)
        generator.bit_generator.advance(2 * low)  # PCG64 gives a double per 64-bit draw
        rows = generator.random((high - low + 1, 2)).tolist()
        return {k: rows[k - low] for k in serials}


def _uint32_words(n: int) -> list[int]:
    """An integer's little-endian 32-bit words (SeedSequence's ``_int_to_uint32_array``)."""
    if n == 0:
        return [0]
    words = []
    while n > 0:
        words.append(n & 0xFFFFFFFF)
        n >>= 32
    return words


def _assembled(entropy: int, key: tuple[int, ...]) -> list[int]:
    """The entropy ``SeedSequence(entropy, spawn_key=key)`` mixes, as uint32 words."""
    if entropy < 0 or any(k < 0 for k in key):
        raise ValueError("a seed and a stream key must be non-negative integers")
    run = _uint32_words(entropy)
    spawn = [w for k in key for w in _uint32_words(k)]
    if spawn and len(run) < 4:
        run += [0] * (4 - len(run))
    return run + spawn


def start_words_rows(entropy: int, keys: list[tuple[int, ...]]) -> np.ndarray:
    """:func:`start_words` of each of ``keys``: rows of a uint64[len(keys), 4] array."""
    assembled = [_assembled(entropy, key) for key in keys]
    starts = np.zeros(len(keys) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(a) for a in assembled])
    out = np.empty((len(keys), 4), dtype=np.uint64)
    pcg.seeded_words_rows(np.array([w for a in assembled for w in a], dtype=np.uint64), starts, out)
    return out


def start_words(entropy: int, key: tuple[int, ...]) -> np.ndarray:
    """The four uint64 words (engine/pcg.py) of ``PCG64(SeedSequence(entropy, spawn_key=key))``
    at its start: numpy's ``SeedSequence`` (its pool of four, ``generate_state(4, uint64)``) and
    ``PCG64`` seeding (``pcg64_set_seed``) done in compiled code, without making the objects.
    tests/test_crn.py checks it against numpy on many seeds and keys."""
    out = np.empty(4, dtype=np.uint64)
    pcg.seeded_words(np.array(_assembled(entropy, key), dtype=np.uint64), out)
    return out
