"""numpy's PCG64 generator in compiled code: the game's streams (engine/streams.py) drawn inside kernels.

A stream's state is four uint64 words ``(state_high, state_low, inc_high, inc_low)``, taken from
``numpy.random.PCG64(...).state`` (:func:`words`); stepping, jumping ahead and ``random()`` are
numpy's (``pcg64.h``: the 128-bit LCG with the XSL-RR output, and a double from the top 53 bits),
so a kernel draws exactly the numbers ``Generator.random`` gives (tests/test_bulk.py checks it
on many seeds). 128-bit products are built from 32-bit halves: numba has no 128-bit integers.
"""

from __future__ import annotations

import functools

import numpy as np

from .._compiled import njit_wrapping as njit

njit_inline = functools.partial(njit, inline=True)
njit_borrowing = functools.partial(njit, borrowing=True)

MASK32 = np.uint64(0xFFFFFFFF)
U32 = np.uint64(32)
U11 = np.uint64(11)
U58 = np.uint64(58)
U63 = np.uint64(63)
U1 = np.uint64(1)
U0 = np.uint64(0)
MULT_HIGH = np.uint64(2549297995355413924)
MULT_LOW = np.uint64(4865540595714422341)
TO_DOUBLE = 1.0 / 9007199254740992.0


def words(generator: np.random.Generator) -> np.ndarray:
    """The four uint64 words of a numpy PCG64 generator's state (its ``random()`` buffer unused)."""
    st = generator.bit_generator.state["state"]
    s, inc = int(st["state"]), int(st["inc"])
    m = (1 << 64) - 1
    return np.array([s >> 64, s & m, inc >> 64, inc & m], dtype=np.uint64)


@njit_inline
def _mul_high(a, b):
    """High 64 bits of the 128-bit product of two uint64."""
    a_lo, a_hi = a & MASK32, a >> U32
    b_lo, b_hi = b & MASK32, b >> U32
    t = a_lo * b_lo
    w = a_hi * b_lo + (t >> U32)
    w1 = (w & MASK32) + a_lo * b_hi
    return a_hi * b_hi + (w >> U32) + (w1 >> U32)


@njit_inline
def _mul128(ah, al, bh, bl):
    """(a * b) mod 2**128 as (high, low)."""
    return _mul_high(al, bl) + al * bh + ah * bl, al * bl


@njit_inline
def _add128(ah, al, bh, bl):
    low = al + bl
    carry = U1 if low < al else U0
    return ah + bh + carry, low


@njit_inline
def step(s):
    """One LCG step of stream ``s`` (in place): state = state * MULT + inc."""
    h, lo = _mul128(s[0], s[1], MULT_HIGH, MULT_LOW)
    s[0], s[1] = _add128(h, lo, s[2], s[3])


@njit_inline
def next_double(s):
    """The next ``Generator.random()`` of stream ``s`` (in place), in [0, 1)."""
    step(s)
    x = s[0] ^ s[1]
    rot = s[0] >> U58
    out = (x >> rot) | (x << ((U0 - rot) & U63))
    return np.float64(out >> U11) * TO_DOUBLE


@njit_inline
def next_uint64(s):
    step(s)
    x = s[0] ^ s[1]
    rot = s[0] >> U58
    return (x >> rot) | (x << ((U0 - rot) & U63))


@njit
def jump_of(s, delta_high, delta_low):
    """The affine map ``state -> mult * state + plus`` that jumps stream ``s`` ahead by ``delta`` =
    delta_high * 2**64 + delta_low steps (pcg_advance_lcg_128), as uint64[4] (mult, plus)."""
    out = np.empty(4, dtype=np.uint64)
    jump_into(s, delta_high, delta_low, out)
    return out


@njit_borrowing
def jump_into(s, delta_high, delta_low, out):
    """:func:`jump_of` into ``out`` (uint64[4])."""
    acc_mh, acc_ml, acc_ph, acc_pl = U0, U1, U0, U0
    cur_mh, cur_ml = MULT_HIGH, MULT_LOW
    cur_ph, cur_pl = s[2], s[3]
    dh, dl = delta_high, delta_low
    while dh != U0 or dl != U0:
        if dl & U1:
            acc_mh, acc_ml = _mul128(acc_mh, acc_ml, cur_mh, cur_ml)
            th, tl = _mul128(acc_ph, acc_pl, cur_mh, cur_ml)
            acc_ph, acc_pl = _add128(th, tl, cur_ph, cur_pl)
        # cur_plus = (cur_mult + 1) * cur_plus; cur_mult = cur_mult ** 2
        m1h, m1l = _add128(cur_mh, cur_ml, U0, U1)
        cur_ph, cur_pl = _mul128(m1h, m1l, cur_ph, cur_pl)
        cur_mh, cur_ml = _mul128(cur_mh, cur_ml, cur_mh, cur_ml)
        dl = (dl >> U1) | ((dh & U1) << U63)
        dh = dh >> U1
    out[0], out[1], out[2], out[3] = acc_mh, acc_ml, acc_ph, acc_pl


@njit_inline
def apply_jump(s, jump):
    """Jump stream ``s`` (in place) by a map from :func:`jump_of` (of a stream with the same ``inc``)."""
    th, tl = _mul128(jump[0], jump[1], s[0], s[1])
    s[0], s[1] = _add128(th, tl, jump[2], jump[3])


@njit
def advance(s, delta_high, delta_low):
    """Jump stream ``s`` ahead by ``delta`` = delta_high * 2**64 + delta_low steps (in place), as
    ``bit_generator.advance`` does."""
    apply_jump(s, jump_of(s, delta_high, delta_low))


@njit_borrowing
def bounded(s, buffer, values):
    """``Generator.integers(0, values)`` for 1 <= values <= 2**32 - 1: numpy's Lemire method on
    32-bit draws. ``buffer``: uint64[2], the generator's (has a half-used draw, that draw): a 32-bit
    draw takes the low half of a 64-bit one and keeps the high half for the next 32-bit draw of the
    stream (``random()`` does not touch it), so one buffer goes with a stream, zeroed at its start."""
    rng = np.uint64(values - 1)
    if rng == U0:
        return 0
    excl = rng + U1
    m = _next32(s, buffer) * excl
    leftover = m & MASK32
    if leftover < excl:
        threshold = (MASK32 - rng) % excl
        while leftover < threshold:
            m = _next32(s, buffer) * excl
            leftover = m & MASK32
    return int(m >> U32)


@njit_inline
def _next32(s, buffer):
    if buffer[0] == U0:
        buffer[1] = next_uint64(s)
        buffer[0] = U1
    else:
        buffer[1] = buffer[1] >> U32
        buffer[0] = U0
    return buffer[1] & MASK32


# numpy's SeedSequence constants (bit_generator.pyx); its uint32 arithmetic is done in uint64, masked.
INIT_A, MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
INIT_B, MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
MIX_MULT_L, MIX_MULT_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
XSHIFT = np.uint64(16)


@njit_inline
def _hashmix(value, hash_const):
    value = value ^ hash_const[0]
    hash_const[0] = (hash_const[0] * MULT_A) & MASK32
    value = (value * hash_const[0]) & MASK32
    return value ^ (value >> XSHIFT)


@njit_inline
def _mix(x, y):
    result = (MIX_MULT_L * x - MIX_MULT_R * y) & MASK32
    return result ^ (result >> XSHIFT)


@njit
def seeded_words_rows(entropy, starts, out):
    """:func:`seeded_words` of many streams in one call: stream ``i``'s assembled entropy is
    ``entropy[starts[i]:starts[i + 1]]``, its words go to ``out[i]``."""
    for i in range(out.shape[0]):
        seeded_words(entropy[starts[i] : starts[i + 1]], out[i])


@njit
def seeded_words(entropy, out):
    """Into ``out``: the start words of ``PCG64(SeedSequence(...))`` whose assembled entropy (run
    entropy padded to the pool size, then the spawn key, as uint32 words in a uint64 array) is
    ``entropy``: the sequence's pool of four mixed as ``SeedSequence.mix_entropy``, four 64-bit
    words drawn as ``generate_state(4, uint64)``, then ``pcg64_set_seed`` (seed from the first two,
    increment from the last two)."""
    pool = np.zeros(4, dtype=np.uint64)
    hash_const = np.empty(1, dtype=np.uint64)
    hash_const[0] = INIT_A
    n = entropy.shape[0]
    for i in range(4):
        pool[i] = _hashmix(entropy[i] if i < n else U0, hash_const)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = _mix(pool[i_dst], _hashmix(pool[i_src], hash_const))
    for i_src in range(4, n):
        for i_dst in range(4):
            pool[i_dst] = _mix(pool[i_dst], _hashmix(entropy[i_src], hash_const))
    state = np.empty(8, dtype=np.uint64)
    h = INIT_B
    for i in range(8):
        value = pool[i % 4] ^ h
        h = (h * MULT_B) & MASK32
        value = (value * h) & MASK32
        state[i] = value ^ (value >> XSHIFT)
    w = np.empty(4, dtype=np.uint64)
    for i in range(4):  # little-endian pairs of uint32 words
        w[i] = state[2 * i] | (state[2 * i + 1] << U32)
    # pcg_setseq_128_srandom_r: state = 0; inc = seq << 1 | 1; step; state += seed; step.
    inc_high = (w[2] << U1) | (w[3] >> U63)
    inc_low = (w[3] << U1) | U1
    high, low = _add128(inc_high, inc_low, w[0], w[1])
    high, low = _mul128(high, low, MULT_HIGH, MULT_LOW)
    high, low = _add128(high, low, inc_high, inc_low)
    out[0], out[1], out[2], out[3] = high, low, inc_high, inc_low


@njit
def region_jumps(cursors):
    """Each stream's jump by one turn's region (2**64 draws, engine/streams.py), for rows of words."""
    out = np.empty_like(cursors)
    for i in range(cursors.shape[0]):
        out[i] = jump_of(cursors[i], np.uint64(1), np.uint64(0))
    return out


@njit
def jump_all(cursors, jumps):
    """Move every stream (rows of words) on by its jump (in place)."""
    for i in range(cursors.shape[0]):
        apply_jump(cursors[i], jumps[i])
