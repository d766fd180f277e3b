"""Helpers over plain dicts keyed by the scenario's ids, for code that reads observations.

The rules themselves are the compiled kernels of :mod:`.kernels` (one implementation for every
path). What stays here is what Python strategies need to reason about an observation as the
rules would: a project's intensity, a vector's shares, and the deposit a minerals venture
would develop (``best_deposit``, the choice ``kernels.best_deposit`` makes: tests/test_limits.py
checks they agree).
"""

from __future__ import annotations

from collections.abc import Mapping


def intensity(size_usd_bn: float, gdp_usd_bn: float) -> float:
    """Size of a project in percent of the host's GDP: effects on shares scale with it."""
    return 100.0 * size_usd_bn / gdp_usd_bn


def normalise(values: Mapping[str, float]) -> dict[str, float]:
    """Shares of a non-negative vector (equal shares when everything is zero)."""
    total = sum(values.values())
    if total <= 0.0:
        return {k: 1.0 / len(values) for k in values}
    return {k: v / total for k, v in values.items()}


def deposit_room(mineral: Mapping) -> float:
    """Capacity (t/yr) still to build at a host's deposits of one mineral (``kernels.deposit_room``):
    up to their maximum output, none once their resources are exhausted."""
    if mineral["resources_t"] <= 0.0:
        return 0.0
    return max(0.0, mineral["max_output_t"] - mineral["capacity_t"])


def best_deposit(
    minerals: Mapping[str, Mapping], output_per_bn: Mapping[str, float], world_output: Mapping[str, float]
) -> str | None:
    """The deposit a minerals venture develops: among the host's developable minerals with output
    per USD bn > 0 and room to build (:func:`deposit_room`), the one whose output adds most to
    world supply (output per bn / world output), the first in ``minerals``' order on a tie; None if
    there is none. ``minerals``: the host's mineral states (``developable``, ``resources_t``,
    ``max_output_t``, ``capacity_t``); ``world_output``: t/yr by mineral."""
    best, best_share = None, 0.0
    for m, mineral in minerals.items():
        per_bn = output_per_bn.get(m, 0.0)
        if mineral["developable"] and per_bn > 0 and deposit_room(mineral) > 0.0:
            share = per_bn / world_output[m]
            if best is None or share > best_share:
                best, best_share = m, share
    return best
