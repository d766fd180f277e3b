"""Read-only containers: what a loaded scenario, an observation and a turn report are made of.

A loaded scenario is cached and shared by every game that loads it (``config.load_scenario``), and
strategies read parts of it (the moves, the rules) through their observations: a change made
through one game must never reach another. Pydantic's ``frozen=True`` stops only attribute
assignment, so every dict of a scenario is a :class:`FrozenMap` too.
"""

from __future__ import annotations

from typing import Any


class FrozenMap(dict):
    """A read-only dict: it refuses every change, yet pickles, deep-copies and serialises to JSON
    as a dict does (``MappingProxyType`` does none of these, and observations and reports travel
    to worker processes, subprocess environments and web clients)."""

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError("an observation, report or loaded scenario is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __reduce__(self):
        return (FrozenMap, (dict(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self  # nothing in it can change


def frozen(value: Any) -> Any:
    """A read-only deep copy: dicts become :class:`FrozenMap`, lists and tuples tuples."""
    if isinstance(value, dict):
        return FrozenMap({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    return value


def frozen_dicts(value: Any) -> Any:
    """``value`` with every dict in it (at any depth, in lists too) a :class:`FrozenMap`; lists stay
    lists (a schema field typed ``list`` keeps its type) and are copied."""
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, dict):
        return FrozenMap({k: frozen_dicts(v) for k, v in value.items()})
    if isinstance(value, list):
        return [frozen_dicts(v) for v in value]
    return value
