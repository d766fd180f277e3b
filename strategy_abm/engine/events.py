"""Scripted events and random shocks: changes to state named by dotted paths.

A path is ``hosts.<id>.<field>[.<key>[.<key>]]`` (``<id>`` may be ``*`` for every host or
``{host}`` for the event's target), ``routes.<id>.<field>`` or ``trade.<field>``. Effects with a
``duration_turns`` are undone when it runs out. Random shocks draw from the model's generator
only, in the order they are listed, so a seed fixes them.
"""

from __future__ import annotations

import math

from ..scenario.config import STATE_BOUNDS, EventConfig, parse_date, state_variable
from ..scenario.ids import HOSTS, display

# Bounds that state variables keep whatever an event does to them: the schema's bounds of the field
# of that name (config.STATE_BOUNDS; a creditor's ``debt`` stock as the scenario's debt), so no
# event takes GDP to 0, a maturity to 0 (debt service D/m), a growth rate to -1 or beyond, or a
# number out of the reals.
BOUNDS: dict[str, tuple[float, float]] = STATE_BOUNDS


class EventEngine:
    """Fires the scenario's events each turn and undoes temporary ones when they expire."""

    def __init__(self, events: list[EventConfig], model):
        self.model = model
        self.scripted: dict[int, list[EventConfig]] = {}
        start = model.start_year
        for ev in events:
            if ev.at is not None:
                # The turn whose period contains the date (floor, not round: halves must not go to even).
                turn = math.floor((parse_date(ev.at) - start) * model.turns_per_year + 1e-9) + 1
                self.scripted.setdefault(turn, []).append(ev)
        self.random = [ev for ev in events if ev.probability_per_year is not None]
        self.active: list[tuple[int, EventConfig, list[tuple]]] = []  # (expiry turn, event, undo)

    def step(self, turn: int) -> None:
        model = self.model
        still = []
        for expiry, ev, undo in self.active:
            if turn >= expiry:
                for change in reversed(undo):
                    _undo(*change)
                model.log(
                    actor="world",
                    status="event_end",
                    text=f"End of: {ev.text.replace('{host}', 'the host')}",
                )
            else:
                still.append((expiry, ev, undo))
        self.active = still
        for ev in self.scripted.get(turn, []):
            self._fire(ev, turn)
        for ev in self.random:
            p = 1.0 - (1.0 - ev.probability_per_year) ** model.dt
            if model.rng.random() < p:
                self._fire(ev, turn)

    def _fire(self, ev: EventConfig, turn: int) -> None:
        target = ev.target
        if target == "random_host":  # scripted or random: the host is drawn from the model's generator
            target = HOSTS[int(self.model.rng.integers(len(HOSTS)))]
        undo = []
        for eff in ev.effects:
            for container, key, bound in self._resolve(eff.path, target):
                undo.append(_apply(container, key, eff.op, eff.value, bound))
        if ev.duration_turns:
            self.active.append((turn + ev.duration_turns, ev, undo))
        text = ev.text.replace("{host}", display(target) if target else "")
        kind = "scripted" if ev.at is not None else "random"
        self.model.log(actor="world", target=target or "", status=f"{kind}_event", move=ev.name, text=text)

    def _resolve(self, path: str, target: str | None) -> list[tuple[object, str, str]]:
        """(container, key, bound name) triples a path names in the model's or agents' state."""
        parts = path.split(".")
        model = self.model
        if parts[0] == "routes":
            return [(model.routes[parts[1]], parts[2], parts[2])]
        if parts[0] == "trade":
            return [(model.trade, parts[1], parts[1])]
        hosts = HOSTS if parts[1] == "*" else [target if parts[1] == "{host}" else parts[1]]
        out = []
        for h in hosts:
            agent = model.hosts[h]
            if len(parts) == 3:
                out.append((agent, parts[2], parts[2]))
                continue
            node = getattr(agent, parts[2])
            for p in parts[3:-1]:
                node = node[p]
            # hosts.kgz.opinion.china is bounded as an opinion, creditors.x.rate as a rate.
            out.append((node, parts[-1], state_variable(path)))
        return out


def _get(container, key):
    return container[key] if isinstance(container, dict) else getattr(container, key)


def _set(container, key, value):
    if isinstance(container, dict):
        container[key] = value
    else:
        setattr(container, key, value)


def _bounded(key: str, value: float, old: float) -> float:
    """``value`` within the bounds of the variable ``key``. A variable the rules already took
    beyond a bound (a maturity lengthened by restructuring, demand grown past its bound) may
    stay there, but no event takes it further out."""
    lo, hi = BOUNDS.get(key, (-math.inf, math.inf))
    return min(max(hi, old), max(min(lo, old), value))


def _undo(container, key: str, op: str, amount: float, bound: str) -> None:
    """Reverse a change recorded by :func:`_apply`."""
    if op == "add":
        _apply(container, key, "add", -amount, bound)
    elif op == "mul":
        _apply(container, key, "mul", amount, bound)
    else:
        _set(container, key, amount)


def _apply(container, key: str, op: str, value: float, bound: str) -> tuple:
    """Apply one change, keeping the variable within the bounds of ``bound`` (its field name);
    returns the change that undoes it."""
    old = _get(container, key)
    if op == "add":
        new = _floor(container, key, _bounded(bound, old + value, old))
        _set(container, key, new)
        return (container, key, "add", new - old, bound)
    if op == "mul":
        new = _floor(container, key, _bounded(bound, old * value, old))
        _set(container, key, new)
        if new == 0 or not math.isfinite(old / new):
            return (container, key, "set", old, bound)  # a product with zero cannot be divided back
        return (container, key, "mul", old / new, bound)
    _set(container, key, _floor(container, key, _bounded(bound, value, old)))
    return (container, key, "set", old, bound)


def _floor(container, key: str, value: float) -> float:
    """A route's delay never falls below what paperwork cannot remove (its min_delay_days)."""
    if key == "delay_days" and isinstance(container, dict) and "min_delay_days" in container:
        return max(value, container["min_delay_days"])
    return value
