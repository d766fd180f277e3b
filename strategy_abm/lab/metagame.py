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
