"""Python views of the state arrays: an actor's or a route's variables by name, read and written in place.

The compiled rules work on the arrays of :mod:`.arrays`; what Python reads by name (events on
dotted paths, the metric registry, observations, the Mesa agents, outputs) goes through these
views, so there is one state and one vocabulary: ``host.gdp_usd_bn``, ``host.opinion["china"]``,
``host.creditors["private"]["rate"]``, ``route["delay_days"]``, ``trade["demand_mt"]``.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import numpy as np

from ..scenario.config import OBJECTIVES as OBJECTIVE_NAMES
from . import kernels as K
from .arrays import (
    C_DEBT,
    C_MATURITY,
    C_RATE,
    CREDITOR_FIELDS,
    DEPOSIT_FIELDS,
    HOST_SCALAR_NAMES,
    MINERAL_FIELDS,
    P_BUDGET_AVAILABLE,
    P_OFFERS_ACCEPTED,
    P_OFFERS_MADE,
    P_PAYOFF,
    P_PAYOFF_TOTAL,
    P_PRIVATE_MOBILISED,
    P_SPENT_TOTAL,
    P_SPENT_TURN,
    ROUTE_FIELDS,
    TRADE_FIELDS,
    Layout,
)


class Row:
    """Row ``index`` of a 2-D state table (or the whole of a 1-D one, ``index`` None), indexed by
    column. Unlike a numpy row view, it pickles as a reference to its table: a game copied or
    unpickled keeps its views on its own state arrays."""

    __slots__ = ("index", "table")

    def __init__(self, table: np.ndarray, index: int | None):
        self.table, self.index = table, index

    def __getitem__(self, column: int):
        return self.table[column] if self.index is None else self.table[self.index, column]

    def __setitem__(self, column: int, value) -> None:
        if self.index is None:
            self.table[column] = value
        else:
            self.table[self.index, column] = value

    def __getstate__(self):
        return (self.table, self.index)

    def __setstate__(self, state) -> None:
        self.table, self.index = state


_INDEXES: dict[tuple, dict[str, int]] = {}  # keys -> {key: position}, read-only once built


class ArrayMap(MutableMapping):
    """A map of names to cells of a float64 row: ``keys[i]`` is ``row[at + stride * i]``.
    Values read as Python floats; a write stores a float. Keys are fixed (no insertion or deletion)."""

    __slots__ = ("_at", "_index", "_keys", "_row", "_stride")

    def __init__(self, row: Row, at: int, keys: tuple[str, ...], stride: int = 1):
        self._row, self._at, self._keys, self._stride = row, at, keys, stride
        index = _INDEXES.get(keys)
        if index is None:  # (shared by every map of the same keys: a game builds ~130 maps)
            if len(_INDEXES) >= 256:
                _INDEXES.clear()
            index = _INDEXES[keys] = {k: i for i, k in enumerate(keys)}
        self._index = index

    def __getitem__(self, key: str) -> float:
        return float(self._row[self._at + self._stride * self._index[key]])

    def __setitem__(self, key: str, value: float) -> None:
        self._row[self._at + self._stride * self._index[key]] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("the keys of a state map are fixed by the scenario")

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return repr(dict(self))


class _Table(MutableMapping):
    """Named sub-maps of a row (a host's creditors or minerals): ``table[name][field]``."""

    __slots__ = ("_maps",)

    def __init__(self, maps: dict[str, MutableMapping]):
        self._maps = maps

    def __getitem__(self, key: str) -> MutableMapping:
        return self._maps[key]

    def __setitem__(self, key, value) -> None:
        raise TypeError("the entries of a state table are fixed by the scenario")

    __delitem__ = __setitem__

    def __iter__(self) -> Iterator[str]:
        return iter(self._maps)

    def __len__(self) -> int:
        return len(self._maps)

    def __repr__(self) -> str:
        return repr({k: dict(v) for k, v in self._maps.items()})


class _MineralMap(ArrayMap):
    """A host's mineral: output_t, local_processing, developable (bool), offtake (a share map) and
    its deposit (resources_t, max_output_t, capacity_t, ramp_up_years)."""

    __slots__ = ("deposit", "offtake")

    def __init__(self, row: Row, at: int, offtakers: tuple[str, ...]):
        super().__init__(row, at, (*MINERAL_FIELDS, "offtake", *DEPOSIT_FIELDS))
        self.offtake = ArrayMap(row, at + len(MINERAL_FIELDS), offtakers)
        self.deposit = ArrayMap(row, at + len(MINERAL_FIELDS) + len(offtakers), DEPOSIT_FIELDS)

    def __getitem__(self, key: str):
        if key == "offtake":
            return self.offtake
        if key == "developable":
            return bool(self._row[self._at + 2])
        if key in DEPOSIT_FIELDS:
            return self.deposit[key]
        return super().__getitem__(key)

    def __setitem__(self, key: str, value) -> None:
        if key == "offtake":
            for k, v in value.items():
                self.offtake[k] = v
            return
        if key in DEPOSIT_FIELDS:
            self.deposit[key] = value
            return
        super().__setitem__(key, value)


def _scalar(column: int, kind: type = float):
    """A column of the actor's row by name, read as ``kind`` (float; int for counts) and settable."""

    def get(self):
        return kind(self._row[column])

    def set(self, value) -> None:
        self._row[column] = value

    return property(get, set)


class HostView:
    """A host's state variables by name, over its row of the ``hosts`` table (see module docstring).

    Scalars are attributes (``gdp_usd_bn`` ...); ``distress`` reads as a bool and
    ``distress_turns`` as an int; maps (``opinion``, ``trade_shares`` ...) and tables
    (``creditors``, ``minerals``) are mappings that write through."""

    def __init__(self, hosts: np.ndarray, h: int, layout: Layout, actor_id: str):
        self._row = Row(hosts, h)
        self._hosts, self._h, self._o = hosts, h, layout.offsets
        self._power_ids = layout.powers
        self.actor_id = actor_id
        self._layout = lay = layout
        self._creditor_debt = [lay.creditors_at + 4 * i + C_DEBT for i in range(len(lay.creditors))]

    def __getattr__(self, name: str):
        # The maps and tables, each built on first use (most games never read most of them).
        lay = self.__dict__.get("_layout")
        if lay is None:
            raise AttributeError(name)
        row = self._row
        if name in ("opinion", "opinion_anchor", "influence"):
            at = {"opinion": lay.opinion, "opinion_anchor": lay.anchor, "influence": lay.influence}[name]
            value = ArrayMap(row, at, lay.powers)
        elif name in lay.vectors:
            at, keys = lay.vectors[name]
            value = ArrayMap(row, at, keys)
        elif name == "creditors":
            value = _Table({c: ArrayMap(row, lay.creditors_at + 4 * i, CREDITOR_FIELDS)
                            for i, c in enumerate(lay.creditors)})  # fmt: skip
        elif name == "minerals":
            value = _Table({m: _MineralMap(row, lay.minerals_at + lay.mineral_stride * i, lay.offtakers)
                            for i, m in enumerate(lay.minerals)})  # fmt: skip
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.__dict__[name] = value
        return value

    def open_gas_pipeline(self, destination: str, capacity_bcm: float) -> None:
        """A gas export pipeline of ``capacity_bcm`` (bcm/yr) to ``destination`` (a key of
        ``energy_export_shares``) completes: the rule of a completed pipeline project
        (kernels.open_gas_pipeline); nothing happens where the host exports no gas by pipeline."""
        keys = tuple(self.energy_export_shares)
        key = keys.index(destination) if destination in keys else -1
        K.open_gas_pipeline(self._hosts[self._h], self._o, key, float(capacity_bcm))

    @property
    def distress(self) -> bool:
        return bool(self._row[HOST_SCALAR_NAMES.index("distress")])

    @distress.setter
    def distress(self, value) -> None:
        self._row[HOST_SCALAR_NAMES.index("distress")] = float(bool(value))

    @property
    def distress_turns(self) -> int:
        return int(self._row[HOST_SCALAR_NAMES.index("distress_turns")])

    @distress_turns.setter
    def distress_turns(self, value) -> None:
        self._row[HOST_SCALAR_NAMES.index("distress_turns")] = value

    # Derived quantities are the rules' own (engine/kernels.py): one implementation.
    @property
    def debt_total(self) -> float:
        """Public external debt, USD bn (creditors in order)."""
        return K.debt_total(self._hosts, self._o, self._h)

    @property
    def debt_to_gdp(self) -> float:
        return self.debt_total / self.gdp_usd_bn

    @property
    def china_debt_share(self) -> float:
        total = self.debt_total
        return self.creditors["china"]["debt"] / total if total > 0 else 0.0

    @property
    def debt_service_ratio(self) -> float:
        """Annual debt service / government revenue."""
        return K.debt_service_ratio(self._hosts, self._o, self._h)

    def debt_room(self) -> float:
        """New debt (USD bn) the state can take before its hard ceiling."""
        return K.debt_room(self._hosts, self._o, self._h)

    def absorption_per_year(self) -> float:
        """Project money (USD bn) the state can take on in a year."""
        return K.absorption_per_year(self._hosts, self._h)

    def room_next_turn(self, dt: float) -> float:
        """Absorption room the state will have when it answers this turn's offers (after the refill)."""
        return K.room_next_turn(self._hosts, self._h, dt)

    def influence_shares(self) -> dict[str, float]:
        """Each power's share of the influence stocks (equal shares when all are zero)."""
        stocks = [self.influence[p] for p in self._power_ids]
        total = 0.0
        for v in stocks:
            total += v
        if total <= 0.0:
            return {p: 1.0 / len(stocks) for p in self._power_ids}
        return {p: v / total for p, v in zip(self._power_ids, stocks, strict=True)}


for _column, _name in enumerate(HOST_SCALAR_NAMES):
    if _name not in ("distress", "distress_turns"):
        setattr(HostView, _name, _scalar(_column))


# A creditor's rate and maturity, from its debt's column.
_RATE, _MATURITY = C_RATE - C_DEBT, C_MATURITY - C_DEBT


class RouteView(ArrayMap):
    """A corridor's variables by name (``capacity_mt`` ...), over its row of the ``routes`` table."""

    def __init__(self, routes: np.ndarray, r: int):
        super().__init__(Row(routes, r), 0, ROUTE_FIELDS)


class TradeView(ArrayMap):
    """The corridor demand's variables by name (``demand_mt`` ...), over the ``trade`` vector."""

    def __init__(self, trade: np.ndarray):
        super().__init__(Row(trade, None), 0, TRADE_FIELDS)


class Ledger:
    """A power's spending: ``total`` and ``private_mobilised`` (USD bn, in the state arrays), and
    ``by_domain`` (public money) and ``by_move`` (project size accepted), which list only what
    was spent on. In a game, the last two are summed from the game's commitments when read
    (``follow``), in commitment order: each accepted offer adds ``size x public_cost_share`` to its
    move's domain and its size to its move."""

    __slots__ = ("_power", "_by_domain", "_by_move", "_commitments", "_seen")

    def __init__(self, power: PowerView):
        self._power = power
        self._by_domain: dict[str, float] = {}
        self._by_move: dict[str, float] = {}
        self._commitments = None
        self._seen = 0

    def follow(self, commitments) -> None:
        """Sum the spending from ``commitments(start)``: the game's commitments from number
        ``start`` on, as ``(power id, move id, domain, size, public cost share)``."""
        self._commitments = commitments

    def _catch_up(self) -> None:
        if self._commitments is None:
            return
        me, by_domain, by_move = self._power.actor_id, self._by_domain, self._by_move
        new = self._commitments(self._seen)
        for power, move, domain, size, share in new:
            if power == me:
                by_domain[domain] = by_domain.get(domain, 0.0) + size * share
                by_move[move] = by_move.get(move, 0.0) + size
        self._seen += len(new)

    @property
    def by_domain(self) -> dict[str, float]:
        self._catch_up()
        return self._by_domain

    @property
    def by_move(self) -> dict[str, float]:
        self._catch_up()
        return self._by_move

    @property
    def total(self) -> float:
        return self._power.spent_total

    @property
    def private_mobilised(self) -> float:
        return self._power.private_mobilised


class PowerView:
    """A power's ledger, budget, payoff and counts by name, over its row of the ``powers`` table."""

    def __init__(self, powers: np.ndarray, p: int, layout: Layout, actor_id: str):
        self._row = Row(powers, p)
        self.actor_id = actor_id
        self.components = ArrayMap(self._row, layout.components, OBJECTIVE_NAMES)
        self.ledger = Ledger(self)

    budget_available = _scalar(P_BUDGET_AVAILABLE)
    spent_turn = _scalar(P_SPENT_TURN)
    spent_total = _scalar(P_SPENT_TOTAL)
    private_mobilised = _scalar(P_PRIVATE_MOBILISED)
    payoff = _scalar(P_PAYOFF)
    payoff_total = _scalar(P_PAYOFF_TOTAL)

    offers_made = _scalar(P_OFFERS_MADE, int)
    offers_accepted = _scalar(P_OFFERS_ACCEPTED, int)
