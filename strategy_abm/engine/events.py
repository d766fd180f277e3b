"""Scripted events and random shocks: changes to state named by dotted paths.

A path is ``hosts.<id>.<field>[.<key>[.<key>]]`` (``<id>`` may be ``*`` for every host or
``{host}`` for the event's target), ``routes.<id>.<field>`` or ``trade.<field>``. Effects with a
``duration_turns`` are layers over the variable's underlying value and end when it runs out;
overlapping ones, in any order and of any op, are undone by recomputing the variable from its
underlying value and the effects still active (:class:`_Variable`, docs/model.md 7.9). Random
shocks and ``random_host`` targets draw from the game's events stream only (``model.streams.events``,
engine/streams.py), in the order they are listed, so a seed fixes them whatever the actors do; the
schedule is drawn ahead, in compiled code (:meth:`EventEngine.due`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .._compiled import njit
from ..scenario.config import STATE_BOUNDS, EventConfig, parse_date, state_variable
from . import pcg
from .arrays import H_ABSORPTION_ROOM, P_BUDGET_AVAILABLE, P_BUDGET_GRANTED, P_OFFERS_MADE
from .streams import EVENTS

# Bounds that state variables keep whatever an event does to them: the schema's bounds of the field
# of that name (config.STATE_BOUNDS; a creditor's ``debt`` stock as the scenario's debt), so no
# event takes GDP to 0, a maturity to 0 (debt service D/m), a growth rate to -1 or beyond, or a
# number out of the reals.
BOUNDS: dict[str, tuple[float, float]] = STATE_BOUNDS


class EventEngine:
    """Fires the scenario's events each turn and ends temporary ones when they expire."""

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
        # (expiry turn, event, the layers it put on variables), in firing order.
        self.active: list[tuple[int, EventConfig, list[tuple[_Variable, _Layer]]]] = []
        # Variables under at least one temporary effect, by their path with the host named
        # ("hosts.kgz.gdp_usd_bn"): a path, not an object's id, so a copied or unpickled game
        # still finds a variable's layers.
        self.layered: dict[str, _Variable] = {}
        self._words = None
        self._schedule: dict[int, list[tuple[EventConfig, str | None]]] = {}
        self._drawn_to = 0
        self._draw_inputs: tuple | None = None  # what _draw passes that the seed does not change
        # Whether the model keeps an event log (the bulk path's does not: no sentences to write).
        self._logs = getattr(model, "keeps_log", True)

    def restart(self, words: np.ndarray | None = None) -> None:
        """Back to a game's start, for the next game on the same model (the bulk path plays its
        games one after another on one engine, the scenario's events read once). ``words``: the
        events stream's start, if the caller has it (``Streams.words(EVENTS)``), else drawn when
        the schedule is."""
        self.active = []
        self.layered = {}
        self._words = words
        self._schedule = {}
        self._drawn_to = 0

    def schedule(self) -> dict[int, list[tuple[EventConfig, str | None]]]:
        """Every turn's :meth:`due` events up to the model's horizon, as ``{turn: due(turn)}``
        with only the turns where some event fires (the dict is the engine's own: read, do not change)."""
        self.due(1)
        return self._schedule

    def step(self, turn: int) -> None:
        """The events of ``turn``: temporary effects that run out end, then the events due fire."""
        self.expire(turn)
        for ev, target in self.due(turn):
            self.fire(ev, turn, target)

    def quiet(self, turn: int) -> bool:
        """Whether ``turn`` has no event firing and no temporary effect ending (``step`` would do nothing)."""
        return not self.due(turn) and not any(turn >= expiry for expiry, _, _ in self.active)

    def expire(self, turn: int) -> None:
        """End the temporary effects whose time is up at ``turn``."""
        model = self.model
        still = []
        for expiry, ev, layers in self.active:
            if turn >= expiry:
                for variable, layer in layers:
                    variable.remove(layer)
                    if not variable.layers:
                        del self.layered[variable.ident]
                if self._logs:
                    model.log(
                        actor="world",
                        status="event_end",
                        text=f"End of: {ev.text.replace('{host}', 'the host')}",
                    )
            else:
                still.append((expiry, ev, layers))
        self.active = still

    def due(self, turn: int) -> list[tuple[EventConfig, str | None]]:
        """The events that fire in ``turn`` with their targets, in firing order (scripted, then
        random). The draws from the events stream do not depend on the state, so the whole
        schedule is drawn at once, in compiled code, up to the model's horizon (:func:`_draw`):
        the same schedule whichever path plays the game, and whatever the actors do."""
        if turn > self._drawn_to:
            self._draw(max(turn, getattr(self.model, "horizon", turn)))
        return self._schedule.get(turn, [])

    def _draw(self, turns: int) -> None:
        if not self.random and not any(ev.target == "random_host" for evs in self.scripted.values() for ev in evs):
            self._schedule = {t: [(ev, ev.target) for ev in evs] for t, evs in self.scripted.items()}
            self._drawn_to = turns
            return
        if self._words is None:  # the events stream's start (it is drawn from nowhere else)
            self._words = self.model.streams.words(EVENTS)
        if self._draw_inputs is None:  # (the same for every game of the scenario: made once)
            hosts = tuple(self.model.hosts)
            scripted = [(t, ev) for t in sorted(self.scripted) for ev in self.scripted[t]]
            arrays = (
                np.array([1.0 - (1.0 - ev.probability_per_year) ** self.model.dt for ev in self.random]),
                np.array([ev.target == "random_host" for ev in self.random], dtype=np.bool_),
                np.array([t for t, _ in scripted], dtype=np.int64),
                np.array([ev.target == "random_host" for _, ev in scripted], dtype=np.bool_),
            )
            self._draw_inputs = (hosts, scripted, arrays)
        hosts, scripted, arrays = self._draw_inputs
        rows = _draw(self._words.copy(), *arrays, len(hosts), turns)
        schedule: dict[int, list] = {}
        for turn, kind, index, target in rows.tolist():
            ev = scripted[index][1] if kind == 0 else self.random[index]
            schedule.setdefault(turn, []).append((ev, hosts[target] if target >= 0 else ev.target))
        self._schedule, self._drawn_to = schedule, turns

    def fire(self, ev: EventConfig, turn: int, target: str | None, *, status: str | None = None) -> None:
        """Apply event ``ev`` (its target drawn by :meth:`due`) in ``turn``; ``status`` is its
        row's status in the event log (default ``scripted_event`` or ``random_event``)."""
        layers = []
        for eff in ev.effects:
            for container, key, bound, ident in self._resolve(eff.path, target):
                variable = self.layered.get(ident)
                if ev.duration_turns:
                    if variable is None:
                        variable = self.layered[ident] = _Variable(container, key, bound, ident)
                    layers.append((variable, variable.push(eff.op, eff.value)))
                elif variable is not None:
                    variable.change_base(eff.op, eff.value)
                else:
                    _set(container, key, _apply(container, key, eff.op, eff.value, bound)[0])
        if ev.gas_pipeline is not None:
            hosts = self.model.hosts if target is None else [target]
            for h in hosts:
                self.model.hosts[h].open_gas_pipeline(ev.gas_pipeline.destination, ev.gas_pipeline.capacity_bcm)
        for pr in ev.projects:  # deals signed: projects committed now (Game / bulk World.commit_deal)
            self.model.commit_deal(pr.power, pr.move, pr.host, pr.size_usd_bn)
        if ev.duration_turns:
            self.active.append((turn + ev.duration_turns, ev, layers))
        if not self._logs:
            return
        text = ev.text.replace("{host}", self.model.display(target) if target else "")
        if status is None:
            status = "scripted_event" if ev.at is not None else "random_event"
        self.model.log(actor="world", target=target or "", status=status, move=ev.name, text=text)

    def _resolve(self, path: str, target: str | None) -> list[tuple[object, str, str, str]]:
        """(container, key, bound name, concrete path) of each variable a path names in the state."""
        parts = path.split(".")
        model = self.model
        if parts[0] == "routes":
            return [(model.routes[parts[1]], parts[2], parts[2], path)]
        if parts[0] == "trade":
            return [(model.trade, parts[1], parts[1], path)]
        hosts = tuple(model.hosts) if parts[1] == "*" else [target if parts[1] == "{host}" else parts[1]]
        out = []
        for h in hosts:
            agent = model.hosts[h]
            if len(parts) == 3:
                out.append((agent, parts[2], parts[2], f"hosts.{h}.{parts[2]}"))
                continue
            node = getattr(agent, parts[2])
            for p in parts[3:-1]:
                node = node[p]
            # hosts.kgz.opinion.china is bounded as an opinion, creditors.x.rate as a rate.
            out.append((node, parts[-1], state_variable(path), ".".join(["hosts", h, *parts[2:]])))
        return out


def target_rule(ev: EventConfig) -> tuple[str, str | None]:
    """How an event fired by hand (``Game.inject``) takes its target, as (rule, default):
    ``("required", None)`` for a ``random_host`` event (injecting draws nothing from the events
    stream, so the host must be named); ``("optional", host)`` for one that acts on its target
    (``{host}`` paths or a gas pipeline), any host, its own by default; else ``("fixed", ev.target)``:
    its own target (a host id or None), the only one it takes."""
    if ev.target == "random_host":
        return "required", None
    if ev.gas_pipeline is not None or any("{host}" in e.path for e in ev.effects):
        return "optional", ev.target
    return "fixed", ev.target


@njit
def _draw(words, probabilities, random_target, scripted_turn, scripted_random, n_hosts, turns):
    """The events schedule of turns 1..``turns`` from the events stream (``words``, engine/pcg.py),
    as rows (turn, 0 scripted / 1 random, index, target host or -1), in firing order. Each turn:
    the scripted events of the turn in order, each drawing its host if ``random_host``; then each
    random event draws a uniform and fires below its per-turn probability, drawing its host if
    ``random_host``. A host is ``Generator.integers(n_hosts)``, whose 32-bit draws share the
    generator's buffer of half-used 64-bit draws with every other ``integers`` of the stream."""
    out = np.empty((len(scripted_turn) + turns * len(probabilities), 4), dtype=np.int64)
    n = 0
    buffer = np.zeros(2, dtype=np.uint64)
    for turn in range(1, turns + 1):
        for j in range(len(scripted_turn)):
            if scripted_turn[j] == turn:
                target = -1
                if scripted_random[j]:
                    target = pcg.bounded(words, buffer, n_hosts)
                out[n, 0], out[n, 1], out[n, 2], out[n, 3] = turn, 0, j, target
                n += 1
        for i in range(len(probabilities)):
            if pcg.next_double(words) < probabilities[i]:
                target = -1
                if random_target[i]:
                    target = pcg.bounded(words, buffer, n_hosts)
                out[n, 0], out[n, 1], out[n, 2], out[n, 3] = turn, 1, i, target
                n += 1
    return out[:n]


class _Layer:
    """One temporary effect on one variable. ``change`` is what undoes it on the value below:
    the amount added (add) or old/new (mul; None when the product is 0). A set ``holds`` its
    value instead, which the rules move while it is on top."""

    __slots__ = ("op", "value", "change", "held")

    def __init__(self, op: str, value: float):
        self.op, self.value = op, value
        self.change: float | None = None
        self.held: float | None = None


class _Variable:
    """A state variable under temporary effects: its underlying value (``base``: the value
    without them) and the active effects as layers in firing order; the variable's value is
    the base with every layer applied in turn.

    The rules change the variable itself between events (projects cut a route's delay, GDP
    grows). Before each change by an event (:meth:`sync`), such a change is carried down
    through the layers above the topmost set: an add or a mul layer is transparent (the change
    reaches the base, and undoing the layer later removes only the layer's own change), while a
    set, or a factor of 0, hides what is below it (the rules were acting on the value it set,
    and that change ends with it)."""

    __slots__ = ("container", "key", "bound", "ident", "base", "layers", "last")

    def __init__(self, container, key: str, bound: str, ident: str):
        self.container, self.key, self.bound = container, key, bound
        self.ident = ident
        self.base = self.last = _get(container, key)
        self.layers: list[_Layer] = []

    def sync(self) -> None:
        """Carry a change the rules made since the last write down to the layer it belongs to."""
        value = _get(self.container, self.key)
        if value == self.last:
            return
        for layer in reversed(self.layers):
            if layer.op == "set":
                layer.held = value
                break
            if layer.op == "add":
                value = _apply(self.container, self.key, "add", -layer.change, self.bound, value)[0]
            elif layer.change is not None:
                value = _apply(self.container, self.key, "mul", layer.change, self.bound, value)[0]
            elif layer.value != 0:  # a product of 0 (a factor on 0): divide by the factor
                value = _apply(self.container, self.key, "mul", 1.0 / layer.value, self.bound, value)[0]
            else:  # a factor of 0 wiped out the value below: what the rules did to the 0 ends with it
                break
        else:
            self.base = value
        self.last = _get(self.container, self.key)

    def push(self, op: str, value: float) -> _Layer:
        """A temporary effect fires: it goes on top, applied to the variable's value now."""
        self.sync()
        layer = _Layer(op, value)
        self.layers.append(layer)
        self._write(self._layer_on(layer, self.last))
        return layer

    def remove(self, layer: _Layer) -> None:
        """A temporary effect ends: the variable is recomputed from the base and the others."""
        self.sync()
        self.layers = [other for other in self.layers if other is not layer]
        self._recompose()

    def change_base(self, op: str, value: float) -> None:
        """A permanent effect changes the underlying value; the active layers stay on top."""
        self.sync()
        self.base = _apply(self.container, self.key, op, value, self.bound, self.base)[0]
        self._recompose()

    def _layer_on(self, layer: _Layer, below: float) -> float:
        """The value with ``layer`` applied on ``below``: a set gives what it holds."""
        if layer.op == "set":
            if layer.held is None:
                layer.held = _apply(self.container, self.key, "set", layer.value, self.bound, below)[0]
            return layer.held
        new, layer.change = _apply(self.container, self.key, layer.op, layer.value, self.bound, below)
        return new

    def _recompose(self) -> None:
        value = self.base
        for layer in self.layers:
            value = self._layer_on(layer, value)
        self._write(value)

    def _write(self, value: float) -> None:
        _set(self.container, self.key, value)
        self.last = value


def deal_room(hosts: np.ndarray, h: int) -> None:
    """After a deal is committed: it drew on host ``h``'s absorption room, but it is signed whatever
    room was left, so it takes the room down to 0 at most (the host takes no other project until
    the room refills)."""
    hosts[h, H_ABSORPTION_ROOM] = max(hosts[h, H_ABSORPTION_ROOM], 0.0)


def grant_deal(powers: np.ndarray, p: int, cost: float) -> None:
    """A deal's public cost is granted to power ``p`` before it is committed (and charged): the deal
    is financed outside the power's yearly allowance, so its budget left is unchanged, while its
    spending and grants count the deal. Counted as an offer made (the commitment counts it accepted)."""
    powers[p, P_BUDGET_GRANTED] += cost
    powers[p, P_BUDGET_AVAILABLE] += cost
    powers[p, P_OFFERS_MADE] += 1.0


_MAPPING: dict[type, bool] = {}  # container type -> whether it is a Mapping (an ABC check is slow)


def _is_mapping(container) -> bool:
    kind = type(container)
    found = _MAPPING.get(kind)
    if found is None:
        found = _MAPPING[kind] = isinstance(container, Mapping)
    return found


def _get(container, key):
    return container[key] if _is_mapping(container) else getattr(container, key)


def _set(container, key, value):
    if _is_mapping(container):
        container[key] = value
    else:
        setattr(container, key, value)


def _bounded(key: str, value: float, old: float) -> float:
    """``value`` within the bounds of the variable ``key``. A variable the rules already took
    beyond a bound (a maturity lengthened by restructuring, demand grown past its bound) may
    stay there, but no event takes it further out."""
    lo, hi = BOUNDS.get(key, (-math.inf, math.inf))
    return min(max(hi, old), max(min(lo, old), value))


def _apply(container, key: str, op: str, value: float, bound: str, old: float | None = None) -> tuple:
    """One change to ``old`` (default: the variable's value), kept within the bounds of ``bound``
    (its field name). Returns the new value and what undoes the change: the amount added (add),
    old/new (mul), or None (set, or a product that cannot be divided back)."""
    if old is None:
        old = _get(container, key)
    if op == "add":
        new = _floor(container, key, _bounded(bound, old + value, old))
        return new, new - old
    if op == "mul":
        new = _floor(container, key, _bounded(bound, old * value, old))
        if new == 0 or not math.isfinite(old / new):
            return new, None  # a product with zero cannot be divided back
        return new, old / new
    return _floor(container, key, _bounded(bound, value, old)), None


def _floor(container, key: str, value: float) -> float:
    """A route's delay never falls below what paperwork cannot remove (its min_delay_days)."""
    if key == "delay_days" and _is_mapping(container) and "min_delay_days" in container:
        return max(value, container["min_delay_days"])
    return value
