"""Meta-game analysis: per-role payoff tensors over strategy profiles and what can be read from them.

A :class:`MetaGame` holds, for each role (a power that chooses a strategy), the mean payoff of
every pure profile (one strategy per role), and optionally the payoff of each seed so intervals
can be bootstrapped. Payoffs are the role's ``payoff_total`` at the horizon, in payoff-years
(docs/model.md 7.10). The functions below read a MetaGame; none of them runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MetaGame:
    """Per-role payoff tensors of a game in which each role picks one of its strategies.

    Fields:
        roles: actor ids that choose a strategy, e.g. ``("china", "us")``; R >= 1, unique.
        strategies: role -> strategy labels (``n_r`` >= 1 unique labels per role).
        payoffs: role -> mean payoff (payoff-years), shape ``(n_1, ..., n_R)`` in ``roles``' order.
        samples: role -> per-seed payoffs, shape ``(n_1, ..., n_R, seeds)`` (the same number of
            seeds for every role), or None; used to bootstrap intervals over seeds.

    The arrays are stored as read-only float64 copies. Raises ValueError with a one-line message
    naming the field when keys, shapes or labels disagree or a value is not finite.
    """

    roles: tuple[str, ...]
    strategies: dict[str, tuple[str, ...]]
    payoffs: dict[str, np.ndarray]
    samples: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        roles = tuple(self.roles)
        if not roles:
            raise ValueError("roles: at least one role is needed")
        for role in roles:
            if not isinstance(role, str) or not role:
                raise ValueError(f"roles: {role!r} is not a non-empty string")
        if len(set(roles)) != len(roles):
            raise ValueError(f"roles: repeated role in {roles}")
        object.__setattr__(self, "roles", roles)

        _same_keys("strategies", self.strategies, roles)
        strategies = {}
        for role in roles:
            labels = tuple(self.strategies[role])
            if not labels:
                raise ValueError(f"strategies.{role}: at least one strategy is needed")
            if any(not isinstance(s, str) or not s for s in labels):
                raise ValueError(f"strategies.{role}: every label must be a non-empty string")
            if len(set(labels)) != len(labels):
                raise ValueError(f"strategies.{role}: repeated label in {labels}")
            strategies[role] = labels
        object.__setattr__(self, "strategies", strategies)
        shape = tuple(len(strategies[r]) for r in roles)

        _same_keys("payoffs", self.payoffs, roles)
        payoffs = {role: _frozen_array(f"payoffs.{role}", self.payoffs[role], shape) for role in roles}
        object.__setattr__(self, "payoffs", payoffs)

        if self.samples is not None:
            _same_keys("samples", self.samples, roles)
            samples = {}
            seeds = None
            for role in roles:
                arr = np.asarray(self.samples[role])
                if arr.ndim != len(shape) + 1:
                    raise ValueError(f"samples.{role}: shape {arr.shape} is not {shape} + (seeds,)")
                if seeds is None:
                    seeds = arr.shape[-1]
                if seeds < 1:
                    raise ValueError(f"samples.{role}: at least one seed is needed")
                samples[role] = _frozen_array(f"samples.{role}", arr, (*shape, seeds))
            object.__setattr__(self, "samples", samples)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of strategies of each role, in ``roles``' order: ``(n_1, ..., n_R)``."""
        return tuple(len(self.strategies[r]) for r in self.roles)

    @property
    def n_seeds(self) -> int:
        """Number of seeds in ``samples`` (0 when there are none)."""
        return 0 if self.samples is None else self.samples[self.roles[0]].shape[-1]

    def payoff_array(self) -> np.ndarray:
        """All roles' mean payoffs stacked: shape ``(R, n_1, ..., n_R)``, payoff-years."""
        return np.stack([self.payoffs[r] for r in self.roles])

    def profile(self, labels: dict[str, str]) -> tuple[int, ...]:
        """The index tuple of the profile giving each role the named strategy.

        Raises ValueError if a role is missing or a label is not one of the role's strategies."""
        out = []
        for role in self.roles:
            if role not in labels:
                raise ValueError(f"profile: no strategy given for role {role!r}")
            if labels[role] not in self.strategies[role]:
                raise ValueError(f"profile.{role}: {labels[role]!r} is not one of {self.strategies[role]}")
            out.append(self.strategies[role].index(labels[role]))
        return tuple(out)


def _same_keys(field: str, mapping: object, roles: tuple[str, ...]) -> None:
    if not isinstance(mapping, dict):
        raise ValueError(f"{field}: expected a dict keyed by role, got {type(mapping).__name__}")
    if set(mapping) != set(roles):
        missing = sorted(set(roles) - set(mapping))
        extra = sorted(set(mapping) - set(roles))
        raise ValueError(f"{field}: keys must be the roles (missing {missing}, unknown {extra})")


def _frozen_array(field: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: not an array of numbers") from None
    if arr.shape != shape:
        raise ValueError(f"{field}: shape {arr.shape} does not match the strategies' {shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field}: {int(np.sum(~np.isfinite(arr)))} value(s) are not finite")
    arr.flags.writeable = False
    return arr


# --- profiles, mixes and regret -------------------------------------------------------------------

Profile = tuple[int, ...]
Mix = dict[str, np.ndarray]


@dataclass(frozen=True)
class Deviation:
    """A role's best unilateral deviation from a profile: the strategy it would switch to (its
    current one when no switch pays), and the gain in payoff-years (>= 0)."""

    role: str
    strategy: str
    gain: float


def _as_profile(game: MetaGame, profile: Profile | dict[str, str]) -> Profile:
    if isinstance(profile, dict):
        return game.profile(profile)
    idx = tuple(int(i) for i in profile)
    if len(idx) != len(game.roles):
        raise ValueError(f"profile: {len(idx)} indices for {len(game.roles)} roles")
    for role, i, n in zip(game.roles, idx, game.shape, strict=True):
        if not 0 <= i < n:
            raise ValueError(f"profile.{role}: index {i} is outside 0..{n - 1}")
    return idx


def best_deviations(game: MetaGame, profile: Profile | dict[str, str]) -> dict[str, Deviation]:
    """Each role's best unilateral deviation from a pure profile.

    ``profile`` is a tuple of strategy indices in ``game.roles``' order, or role -> label.
    Returns role -> :class:`Deviation` (gain in payoff-years, 0 when the role already plays a best
    response; ties go to the current strategy, then to the first label). Raises ValueError for a
    profile that does not fit the game."""
    idx = _as_profile(game, profile)
    out = {}
    for k, role in enumerate(game.roles):
        line = game.payoffs[role][(*idx[:k], slice(None), *idx[k + 1 :])]
        best = int(np.argmax(line))
        gain = float(line[best] - line[idx[k]])
        if gain <= 0.0:
            best, gain = idx[k], 0.0
        out[role] = Deviation(role, game.strategies[role][best], gain)
    return out


def regret(game: MetaGame, profile: Profile | dict[str, str]) -> float:
    """Regret of a pure profile: the largest gain (payoff-years) any one role gets by switching
    strategy alone; 0 exactly at a pure Nash equilibrium. See :func:`best_deviations`."""
    return max(d.gain for d in best_deviations(game, profile).values())


def regrets(game: MetaGame) -> np.ndarray:
    """Regret of every pure profile: shape ``(n_1, ..., n_R)``, payoff-years."""
    out = np.zeros(game.shape)
    for k, role in enumerate(game.roles):
        table = game.payoffs[role]
        out = np.maximum(out, table.max(axis=k, keepdims=True) - table)
    return out


def pure_equilibria(game: MetaGame, tol: float = 1e-12) -> list[dict[str, str]]:
    """Pure profiles whose regret is at most ``tol`` (payoff-years), as role -> label, in index order."""
    found = np.argwhere(regrets(game) <= tol)
    return [{r: game.strategies[r][int(i)] for r, i in zip(game.roles, row, strict=True)} for row in found]


def _check_mix(game: MetaGame, mix: Mix) -> Mix:
    if set(mix) != set(game.roles):
        raise ValueError(f"mix: keys must be the roles {list(game.roles)}")
    out = {}
    for role, n in zip(game.roles, game.shape, strict=True):
        x = np.asarray(mix[role], dtype=np.float64)
        if x.shape != (n,):
            raise ValueError(f"mix.{role}: shape {x.shape} is not ({n},)")
        if not np.all(np.isfinite(x)) or np.any(x < -1e-12) or abs(x.sum() - 1.0) > 1e-6:
            raise ValueError(f"mix.{role}: not a probability vector (non-negative, sum 1)")
        out[role] = x
    return out


def strategy_values(game: MetaGame, mix: Mix) -> Mix:
    """Each role's expected payoff (payoff-years) of each of its pure strategies when every other
    role plays its mix: role -> shape ``(n_r,)``. ``mix`` maps role -> probabilities, shape ``(n_r,)``."""
    mix = _check_mix(game, mix)
    return _values(game, mix)


def _values(game: MetaGame, mix: Mix) -> Mix:
    out = {}
    for k, role in enumerate(game.roles):
        table = game.payoffs[role]
        # Contract the other roles' axes with their mixes, last axis first: removing axis j leaves
        # the axes before it (role k's among them) where they were.
        for j in reversed(range(len(game.roles))):
            if j != k:
                table = np.tensordot(table, mix[game.roles[j]], axes=([j], [0]))
        out[role] = table
    return out


def mixed_regret(game: MetaGame, mix: Mix) -> dict[str, float]:
    """Each role's gain (payoff-years) from its best pure response to the others' mixes over its
    own mix: role -> gain >= 0. All zero exactly at a Nash equilibrium; the largest is the
    equilibrium's regret reported by the approximate solvers."""
    mix = _check_mix(game, mix)
    values = _values(game, mix)
    return {r: float(max(values[r].max() - values[r] @ mix[r], 0.0)) for r in game.roles}


# --- alpha-rank ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlphaRank:
    """The result of :func:`alpharank`.

    Fields:
        profiles: every pure profile as an index tuple, in C order of the payoff tensors (P of them).
        stationary: the chain's stationary distribution over ``profiles``, shape ``(P,)``, sums to 1.
        transitions: the Markov chain's row-stochastic matrix, shape ``(P, P)``.
        marginals: role -> mass of each of its strategies (summed over profiles), shape ``(n_r,)``.
        rankings: role -> its strategy labels by decreasing mass (ties in the role's strategy order).
    """

    roles: tuple[str, ...]
    strategies: dict[str, tuple[str, ...]]
    profiles: tuple[Profile, ...]
    stationary: np.ndarray
    transitions: np.ndarray
    marginals: dict[str, np.ndarray]
    rankings: dict[str, tuple[str, ...]]

    def mass(self, profile: Profile) -> float:
        """Stationary mass of one pure profile (index tuple)."""
        return float(self.stationary[self.profiles.index(tuple(profile))])


def fixation_probability(gain: float | np.ndarray, alpha: float, m: int) -> np.ndarray:
    """Probability that one mutant takes over a population of ``m`` residents under the Fermi
    (logistic) selection function with ranking intensity ``alpha``, when the mutant's payoff
    exceeds the residents' by ``gain`` (payoff units; may be negative):

        rho = (1 - exp(-alpha * gain)) / (1 - exp(-m * alpha * gain)),   1/m when gain = 0.

    Evaluated without overflow for any alpha and gain (a negative gain uses the equivalent
    exp((m-1) x) * expm1(x) / expm1(m x), x = alpha * gain). Shape of ``gain``."""
    x = alpha * np.asarray(gain, dtype=np.float64)
    out = np.full(x.shape, 1.0 / m)
    pos, neg = x > 0, x < 0
    xp, xn = x[pos], x[neg]
    out[pos] = np.expm1(-xp) / np.expm1(-m * xp)
    with np.errstate(under="ignore"):
        out[neg] = np.exp((m - 1) * xn) * np.expm1(xn) / np.expm1(m * xn)
    return out


def alpharank(game: MetaGame, alpha: float = 10.0, m: int = 50) -> AlphaRank:
    """Multi-population alpha-rank (Omidshafiei et al. 2019, Sci. Rep. 9:9937).

    One population of ``m`` individuals per role; a state is a pure profile. From profile s, a
    role k and another of its strategies s'_k are drawn uniformly among all sum_k (n_k - 1) such
    mutations (eta = 1 / sum_k (n_k - 1)); the mutant fixes with
    :func:`fixation_probability` of the gain f_k(s') - f_k(s) in role k's own payoff; otherwise
    the chain stays in s. The ranking is the chain's stationary distribution and each role's
    marginal of it. Payoffs are used as they are (payoff-years): ``alpha`` is per payoff-year, so
    rescaling payoffs by c is the same as alpha * c.

    Raises ValueError when alpha < 0 or m < 2. A game where every role has one strategy has the
    single profile with mass 1."""
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha: must be a finite number >= 0, got {alpha}")
    if int(m) != m or m < 2:
        raise ValueError(f"m: the population size must be an integer >= 2, got {m}")
    m = int(m)
    shape = game.shape
    profiles = tuple(tuple(int(i) for i in p) for p in np.ndindex(*shape))
    n_profiles = len(profiles)
    mutations = sum(n - 1 for n in shape)
    flat_index = np.arange(n_profiles).reshape(shape)
    transitions = np.zeros((n_profiles, n_profiles))
    if mutations:
        eta = 1.0 / mutations
        for k, role in enumerate(game.roles):
            table = game.payoffs[role]
            for a in range(shape[k]):
                for b in range(shape[k]):
                    if a == b:
                        continue
                    # Every profile in which role k plays a, moving to the same profile with b.
                    take = [slice(None)] * len(shape)
                    take[k] = a
                    src = flat_index[tuple(take)].ravel()
                    gain = table[tuple(take[:k] + [b] + take[k + 1 :])] - table[tuple(take)]
                    take[k] = b
                    dst = flat_index[tuple(take)].ravel()
                    transitions[src, dst] = eta * fixation_probability(gain.ravel(), alpha, m)
    np.fill_diagonal(transitions, 0.0)
    np.fill_diagonal(transitions, 1.0 - transitions.sum(axis=1))
    stationary = _stationary(transitions)
    dist = stationary.reshape(shape)
    marginals = {}
    rankings = {}
    for k, role in enumerate(game.roles):
        other = tuple(j for j in range(len(shape)) if j != k)
        marg = dist.sum(axis=other) if other else dist
        marginals[role] = marg
        order = sorted(range(shape[k]), key=lambda i, marg=marg: (-round(marg[i], 12), i))
        rankings[role] = tuple(game.strategies[role][i] for i in order)
    return AlphaRank(game.roles, dict(game.strategies), profiles, stationary, transitions, marginals, rankings)


def _stationary(transitions: np.ndarray) -> np.ndarray:
    """pi with pi P = pi, sum pi = 1, by the Grassmann-Taksar-Heyman state reduction: it uses no
    subtraction, so transition probabilities as small as 1e-300 (large alpha x m) keep their
    relative accuracy where an eigen-solver sees several eigenvalues 1 and returns any mix of the
    absorbing states. When a probability underflows to 0 the reduction can stop; then the
    eigenvector of eigenvalue 1 is used if that eigenvalue is simple, else ValueError."""
    n = transitions.shape[0]
    work = transitions.astype(np.float64, copy=True)
    for k in range(n - 1, 0, -1):
        out = work[k, :k].sum()
        if out <= 0.0:
            return _stationary_eig(transitions)
        work[:k, k] /= out
        work[:k, :k] += np.outer(work[:k, k], work[k, :k])
    pi = np.zeros(n)
    pi[0] = 1.0
    for k in range(1, n):
        pi[k] = pi[:k] @ work[:k, k]
    return pi / pi.sum()


def _stationary_eig(transitions: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eig(transitions.T)
    near_one = np.abs(values - 1.0) < 1e-9
    if near_one.sum() != 1:
        raise ValueError(
            f"alpha: the chain has {int(near_one.sum())} closed classes at this alpha x m (transition "
            "probabilities underflow to 0), so its stationary distribution is not unique: lower alpha or m"
        )
    vec = np.real(vectors[:, int(np.argmax(near_one))])
    vec = np.clip(vec / vec.sum(), 0.0, None)  # round-off below zero
    return vec / vec.sum()


# --- multi-population replicator dynamics --------------------------------------------------------


def replicator(game: MetaGame, start: Mix | None = None, steps: int = 1000, dt: float = 0.01) -> dict[str, np.ndarray]:
    """Multi-population replicator dynamics, integrated with fixed-step fourth-order Runge-Kutta.

    Each role's share x_i of strategy i grows at the rate of its payoff over the role's average:
    dx_i/dt = x_i (u(i, x_-k) - sum_j x_j u(j, x_-k)). ``dt`` is in the payoffs' units^-1 (a payoff
    gap of 1 payoff-year grows a share by a factor e per unit time). After each step shares are
    clipped at 0 and renormalised, so the state stays on the simplices.

    ``start``: role -> shares, shape ``(n_r,)`` (default: the centroid, uniform shares).
    Returns role -> trajectory, shape ``(steps + 1, n_r)`` (row 0 is the start). Raises
    ValueError for a bad start, steps < 1 or dt <= 0."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps: must be an integer >= 1, got {steps}")
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt: must be a positive number, got {dt}")
    x = _centroid(game) if start is None else _check_mix(game, start)
    x = {r: v / v.sum() for r, v in x.items()}
    out = {r: np.empty((int(steps) + 1, n)) for r, n in zip(game.roles, game.shape, strict=True)}
    for r in game.roles:
        out[r][0] = x[r]

    def field(state: Mix) -> Mix:
        values = _values(game, state)
        return {r: state[r] * (values[r] - values[r] @ state[r]) for r in game.roles}

    for t in range(1, int(steps) + 1):
        k1 = field(x)
        k2 = field({r: x[r] + 0.5 * dt * k1[r] for r in game.roles})
        k3 = field({r: x[r] + 0.5 * dt * k2[r] for r in game.roles})
        k4 = field({r: x[r] + dt * k3[r] for r in game.roles})
        for r in game.roles:
            nxt = np.clip(x[r] + dt / 6.0 * (k1[r] + 2 * k2[r] + 2 * k3[r] + k4[r]), 0.0, None)
            x[r] = nxt / nxt.sum()
            out[r][t] = x[r]
    return out


def _centroid(game: MetaGame) -> Mix:
    return {r: np.full(n, 1.0 / n) for r, n in zip(game.roles, game.shape, strict=True)}


# --- equilibria ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Equilibrium:
    """A (possibly mixed) strategy profile: role -> probabilities over its strategies, shape
    ``(n_r,)``; each role's expected payoff (payoff-years); and its regret, the largest gain any
    role gets from a best pure response (0 for an exact equilibrium, up to round-off)."""

    mix: dict[str, np.ndarray]
    values: dict[str, float]
    regret: float


def _equilibrium(game: MetaGame, mix: Mix) -> Equilibrium:
    values = _values(game, mix)
    gains = {r: float(max(values[r].max() - values[r] @ mix[r], 0.0)) for r in game.roles}
    return Equilibrium(mix, {r: float(values[r] @ mix[r]) for r in game.roles}, max(gains.values()))


def slice_game(game: MetaGame, roles: tuple[str, ...], fixed: dict[str, str]) -> MetaGame:
    """The sub-game of ``roles`` when every other role plays the strategy ``fixed`` gives it
    (role -> label). The result keeps ``roles``' order. Raises ValueError for an unknown role or
    label, or when the fixed roles and ``roles`` do not cover the game's roles exactly once."""
    for r in roles:
        if r not in game.roles:
            raise ValueError(f"roles: {r!r} is not a role of the game {list(game.roles)}")
    rest = [r for r in game.roles if r not in roles]
    if sorted(fixed) != sorted(rest):
        raise ValueError(f"fixed: give a strategy for exactly the roles {rest}, got {sorted(fixed)}")
    if len(set(roles)) != len(roles):
        raise ValueError(f"roles: repeated role in {roles}")
    take: list[int | slice] = []
    for r in game.roles:
        if r in fixed:
            if fixed[r] not in game.strategies[r]:
                raise ValueError(f"fixed.{r}: {fixed[r]!r} is not one of {game.strategies[r]}")
            take.append(game.strategies[r].index(fixed[r]))
        else:
            take.append(slice(None))
    kept = [r for r in game.roles if r in roles]  # the game's order of the kept roles
    perm = [kept.index(r) for r in roles]

    def cut(arr: np.ndarray, extra: int = 0) -> np.ndarray:
        sub = arr[(*take, *([slice(None)] * extra))]
        return np.transpose(sub, [*perm, *range(len(perm), len(perm) + extra)])

    payoffs = {r: cut(game.payoffs[r]) for r in roles}
    samples = None if game.samples is None else {r: cut(game.samples[r], 1) for r in roles}
    return MetaGame(tuple(roles), {r: game.strategies[r] for r in roles}, payoffs, samples)


def bimatrix_equilibria(game: MetaGame, tol: float = 1e-9, limit: int | None = None) -> list[Equilibrium]:
    """All Nash equilibria of a two-role game by support enumeration (exact for nondegenerate games).

    For every pair of supports of equal size k (a nondegenerate game has no other equilibria),
    solve the indifference equations: the column role's mix makes the row role indifferent over
    its support, and the other way round; keep the solution when both mixes are non-negative and
    no strategy outside the supports pays more than ``tol`` (payoff-years) above the support's value.
    Returns the equilibria, pure ones first, duplicates removed. A degenerate game (e.g. ties in
    payoffs) may have continua of equilibria, of which only the vertices found this way are
    returned. ``limit``: stop once that many are found (``limit=1``: the first equilibrium of the
    smallest support, as ``[0]`` of the full list, without visiting the larger supports). Raises
    ValueError unless the game has exactly two roles (see :func:`slice_game`).
    The enumeration visits sum_k C(n_1, k) C(n_2, k) = C(n_1 + n_2, n_1) - 1 support pairs: 8 x 8
    takes about 2 s, 10 x 10 about 30 s."""
    if len(game.roles) != 2:
        raise ValueError(f"game: support enumeration needs exactly two roles, got {len(game.roles)} (slice it first)")
    from itertools import combinations

    row, col = game.roles
    a, b = game.payoffs[row], game.payoffs[col]
    n1, n2 = a.shape
    found: list[Equilibrium] = []
    for k in range(1, min(n1, n2) + 1):
        for rows in combinations(range(n1), k):
            for cols in combinations(range(n2), k):
                y = _indifferent(a[np.ix_(rows, cols)])  # column mix making the row role indifferent
                x = _indifferent(b[np.ix_(rows, cols)].T)  # row mix making the column role indifferent
                if x is None or y is None or np.any(x < -tol) or np.any(y < -tol):
                    continue
                px, py = np.zeros(n1), np.zeros(n2)
                px[list(rows)], py[list(cols)] = np.clip(x, 0, None), np.clip(y, 0, None)
                px, py = px / px.sum(), py / py.sum()
                eq = _equilibrium(game, {row: px, col: py})
                if eq.regret <= tol * max(1.0, np.abs(a).max(), np.abs(b).max()) and not any(
                    np.allclose(px, e.mix[row], atol=1e-7) and np.allclose(py, e.mix[col], atol=1e-7) for e in found
                ):
                    found.append(eq)
                    if limit is not None and len(found) >= limit:
                        return found
    return found


def _indifferent(m: np.ndarray) -> np.ndarray | None:
    """y with m @ y = v * ones and sum(y) = 1 (m square, k x k), or None when singular."""
    k = m.shape[0]
    system = np.zeros((k + 1, k + 1))
    system[:k, :k] = m
    system[:k, k] = -1.0
    system[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    try:
        sol = np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(sol)) or np.linalg.cond(system) > 1e12:
        return None
    return sol[:k]


def approximate_equilibrium(
    game: MetaGame, method: str = "replicator", steps: int = 20000, dt: float = 0.01, seed: int = 0
) -> Equilibrium:
    """An approximate Nash equilibrium of a game of any number of roles, with its regret reported.

    ``method="replicator"``: the end point of :func:`replicator` from the centroid (``steps`` RK4
    steps of ``dt``); it converges where the dynamics do (e.g. dominance-solvable games) and may
    cycle elsewhere (then the regret says how far it is). ``method="regret_matching"``: each role
    plays regret matching against the others' current mixes for ``steps`` rounds and the result
    is each role's time-averaged mix (``dt`` and ``seed`` unused; deterministic). Always check
    ``Equilibrium.regret`` (payoff-years). Raises ValueError for an unknown method."""
    if method == "replicator":
        traj = replicator(game, steps=steps, dt=dt)
        mix = {r: traj[r][-1] for r in game.roles}
    elif method == "regret_matching":
        if int(steps) != steps or steps < 1:
            raise ValueError(f"steps: must be an integer >= 1, got {steps}")
        mix = _regret_matching(game, int(steps))
    else:
        raise ValueError(f"method: {method!r} is not 'replicator' or 'regret_matching'")
    return _equilibrium(game, mix)


def _regret_matching(game: MetaGame, steps: int) -> Mix:
    # Deterministic regret matching on expected payoffs (Hart & Mas-Colell 2000, in expectation):
    # each role's mix is proportional to its positive cumulative regrets; the averages are returned.
    cum = {r: np.zeros(n) for r, n in zip(game.roles, game.shape, strict=True)}
    avg = {r: np.zeros(n) for r, n in zip(game.roles, game.shape, strict=True)}
    mix = _centroid(game)
    for _ in range(steps):
        values = _values(game, mix)
        for r in game.roles:
            cum[r] += values[r] - values[r] @ mix[r]
            avg[r] += mix[r]
        for r in game.roles:
            pos = np.clip(cum[r], 0.0, None)
            mix[r] = pos / pos.sum() if pos.sum() > 0 else np.full(len(pos), 1.0 / len(pos))
    return {r: avg[r] / steps for r in game.roles}


# --- bootstrap over seeds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A statistic on the seeds' mean game (``estimate``) and its percentile bootstrap interval
    (``low``, ``high``) at ``level``; arrays have the statistic's shape."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float


def resample_seeds(game: MetaGame, rng: np.random.Generator) -> MetaGame:
    """The game whose payoffs are the means over seeds drawn with replacement from ``samples``
    (the same draw for every role and profile: seeds are common random numbers across profiles).
    Raises ValueError when the game has no samples."""
    if game.samples is None:
        raise ValueError("samples: the game has no per-seed payoffs to resample")
    draw = rng.integers(0, game.n_seeds, size=game.n_seeds)
    payoffs = {r: game.samples[r][..., draw].mean(axis=-1) for r in game.roles}
    return MetaGame(game.roles, game.strategies, payoffs)


def bootstrap(game: MetaGame, statistic, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap over seeds of ``statistic(MetaGame) -> float or array`` (fixed shape).

    The estimate is the statistic of the game of seed means (``samples`` averaged, not
    ``payoffs``, so both sides use the same data); each of ``n_boot`` replicates resamples the
    seed axis (:func:`resample_seeds`). Reproducible for a given ``seed``. Raises ValueError when
    the game has no samples, n_boot < 1 or level is not in (0, 1)."""
    if game.samples is None:
        raise ValueError("samples: the game has no per-seed payoffs to resample")
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot: must be an integer >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    mean_game = MetaGame(game.roles, game.strategies, {r: game.samples[r].mean(axis=-1) for r in game.roles})
    estimate = np.asarray(statistic(mean_game), dtype=np.float64)
    rng = np.random.default_rng(seed)
    reps = np.stack([np.asarray(statistic(resample_seeds(game, rng)), dtype=np.float64) for _ in range(int(n_boot))])
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(reps, [tail, 100.0 - tail], axis=0)
    return Interval(estimate, low, high, level)


def payoff_intervals(game: MetaGame, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict[str, Interval]:
    """Bootstrap interval of every role's mean payoff at every profile: role -> :class:`Interval`
    with arrays of shape ``(n_1, ..., n_R)`` (payoff-years). Raises as :func:`bootstrap`."""
    both = bootstrap(game, lambda g: g.payoff_array(), n_boot=n_boot, level=level, seed=seed)
    return {r: Interval(both.estimate[k], both.low[k], both.high[k], level) for k, r in enumerate(game.roles)}


# --- plots ---------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_payoff_heatmap(
    game: MetaGame, role: str, row_role: str, col_role: str, fixed: dict[str, str] | None = None, path=None
):
    """Heatmap of ``role``'s mean payoff (payoff-years) over the strategies of ``row_role`` (rows)
    and ``col_role`` (columns), the other roles held at ``fixed`` (role -> label); each cell is
    annotated with its value. Saved to ``path`` when given. Returns the matplotlib Figure.
    Raises ValueError as :func:`slice_game`, or when ``role`` is not a role of the game."""
    if role not in game.roles:
        raise ValueError(f"role: {role!r} is not a role of the game {list(game.roles)}")
    fixed = dict(fixed or {})
    sub = slice_game(game, (row_role, col_role), fixed)
    take = tuple(game.strategies[r].index(fixed[r]) if r in fixed else slice(None) for r in game.roles)
    table = game.payoffs[role][take]
    if game.roles.index(row_role) > game.roles.index(col_role):
        table = table.T
    plt = _pyplot()
    rows, cols = sub.strategies[row_role], sub.strategies[col_role]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(cols), 1.0 + 0.6 * len(rows)), layout="constrained")
    image = ax.imshow(table, cmap="viridis", aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{table[i, j]:.3g}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(col_role)
    ax.set_ylabel(row_role)
    held = ", ".join(f"{r}={s}" for r, s in fixed.items())
    ax.set_title(f"payoff of {role} (payoff-years)" + (f"\n{held}" if held else ""), fontsize=9)
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


def plot_alpharank(result: AlphaRank, path=None):
    """Bar chart of each role's alpha-rank marginal mass per strategy, one panel per role, strategies
    in ranking order. Saved to ``path`` when given. Returns the matplotlib Figure."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(result.roles), figsize=(3.2 * len(result.roles), 3.0), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, role in zip(axes, result.roles, strict=True):
        labels = result.rankings[role]
        mass = [result.marginals[role][result.strategies[role].index(s)] for s in labels]
        ax.bar(range(len(labels)), mass, color="tab:blue")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_title(role)
        ax.set_ylabel("stationary mass")
    fig.suptitle("alpha-rank")
    return _save(fig, path)


def plot_replicator(game: MetaGame, trajectory: dict[str, np.ndarray], dt: float = 0.01, path=None):
    """Each role's strategy shares along a :func:`replicator` trajectory (role -> shape
    ``(steps + 1, n_r)``), one panel per role, time = step x ``dt``. Saved to ``path`` when given.
    Returns the matplotlib Figure. Raises ValueError when a trajectory does not fit the game."""
    for role, n in zip(game.roles, game.shape, strict=True):
        if role not in trajectory or np.ndim(trajectory[role]) != 2 or np.shape(trajectory[role])[1] != n:
            raise ValueError(f"trajectory.{role}: expected shape (steps + 1, {n})")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(game.roles), figsize=(3.6 * len(game.roles), 3.0), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, role in zip(axes, game.roles, strict=True):
        traj = np.asarray(trajectory[role])
        time = np.arange(len(traj)) * dt
        for i, label in enumerate(game.strategies[role]):
            ax.plot(time, traj[:, i], label=label)
        ax.set_ylim(0, 1)
        ax.set_title(role)
        ax.set_xlabel("time")
        ax.set_ylabel("share")
        ax.legend(fontsize=7)
    fig.suptitle("replicator dynamics")
    return _save(fig, path)
