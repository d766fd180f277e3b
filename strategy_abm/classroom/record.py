"""The record of a classroom game: the one format for a room's persistence, its export, replay and
the debrief.

A record is a JSON document: the scenario (a built-in name), its ``--set`` style overrides, the
seed, and per turn the White Cell's injected events and every seat's decision, ``by`` a person
(``"human"``: the decision is stored), its strategy (``"ai"``) or its strategy because its person
missed the deadline (``"timeout"``). Only human decisions are stored: the rest is reproduced by
the seed (common random numbers, docs/model.md "Stochasticity"), so :func:`replay` plays the game
again to identical outputs. A turn entry without ``responses`` is a turn being played (its offers
phase resolved, or not even that when ``offers`` is missing too)::

    {"format": "strategy_abm.room", "version": 1, "strategy_abm_version": "...",
     "scenario": "baseline", "overrides": {"horizon_turns": "8"}, "seed": 0, "title": "...",
     "turns": [{"turn": 1, "injected": [{"event": "northern_disruption", "target": null}],
                "offers": {"us": {"by": "human", "decision": [{"move": "...", "host": "kaz",
                                                               "size_usd_bn": 1.5}]},
                           "china": {"by": "ai"}, ...},
                "responses": {"kaz": {"by": "human", "accepted": [{"power": "us", "move": "...",
                                                                    "size_usd_bn": 1.5}]},
                              "uzb": {"by": "timeout"}}}],
     "branches": [[...turns cut off by going back...]]}          # optional

Errors are :class:`RecordError` (a ``ValueError``) with a one-line message naming the field path,
``turns[2].offers.us.decision[0].size_usd_bn: must be a number``.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..engine.legality import StrategyError
from ..engine.projects import Offer
from ..engine.turn import OFFERS, RESPONSES, TurnReport
from ..scenario.config import ConfigError, Scenario, builtin_scenarios, load_scenario

FORMAT = "strategy_abm.room"
VERSION = 1
HUMAN, AI, TIMEOUT = "human", "ai", "timeout"
BY = (HUMAN, AI, TIMEOUT)
SIZE_TOLERANCE = 1e-9  # USD bn: a recorded acceptance matches an offer of this size or within it
MAX_RECORD_BYTES = 20_000_000  # a record of a 400-turn game with every seat human is far below this

_TOP = {"format", "version", "strategy_abm_version", "scenario", "overrides", "seed", "title", "turns", "branches"}
_TURN = {"turn", "injected", "offers", "responses"}


class RecordError(ValueError):
    """A record that cannot be read or replayed; ``str(err)`` is one line naming the field path."""


def new_record(scenario: str = "baseline", *, seed: int = 0, overrides: Mapping[str, str] | None = None,
               title: str = "") -> dict:  # fmt: skip
    """A record of a game not yet played (validated: an unknown scenario or a bad override is a
    :class:`RecordError` naming it)."""
    record = {
        "format": FORMAT,
        "version": VERSION,
        "strategy_abm_version": __version__,
        "scenario": scenario,
        "overrides": {str(k): str(v) for k, v in (overrides or {}).items()},
        "seed": seed,
        "title": title,
        "turns": [],
    }
    return validate_record(record)


def dumps(record: Mapping) -> str:
    """The record as the text of its file: JSON, one-space indent, keys sorted, a final newline."""
    return json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def loads(text: str | bytes) -> dict:
    """A record from its JSON text, validated (:func:`validate_record`)."""
    if len(text) > MAX_RECORD_BYTES:
        raise RecordError(f"record: larger than {MAX_RECORD_BYTES // 1_000_000} MB")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise RecordError(f"record: not valid JSON{where}") from None
    except RecursionError:
        raise RecordError("record: nested too deeply") from None
    return validate_record(data)


def _no_constant(name: str):
    raise RecordError(f"record: {name} is not a number a record may hold")


def load_record(path: str | os.PathLike) -> dict:
    """Read and validate the record file at ``path``; a missing or unreadable file, or an invalid
    record, is a :class:`RecordError` naming the file."""
    path = Path(path)
    try:
        if path.is_dir():
            raise RecordError(f"{str(path)!r}: is a folder, not a record file")
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise RecordError(f"{str(path)!r}: larger than {MAX_RECORD_BYTES // 1_000_000} MB, not a record")
        with open(path, "rb") as f:  # a pipe or a device has no size to check: read one byte past the limit
            text = f.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        raise RecordError(f"{str(path)!r}: no such file") from None
    except OSError as exc:
        raise RecordError(f"{str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    try:
        return loads(text)
    except RecordError as exc:
        raise RecordError(f"{path.name}: {exc}") from None


def record_scenario(record: Mapping) -> Scenario:
    """The record's scenario with its overrides applied (in sorted key order, as written)."""
    overrides = [f"{k}={v}" for k, v in sorted(record["overrides"].items())]
    return load_scenario(record["scenario"], overrides)


# ------------------------------------------------------------------------------------ validation


def validate_record(data: Any) -> dict:
    """Check every field of a record and return a normalised deep copy (sizes as floats). Ids
    (powers, hosts, moves, events) are checked against the record's scenario with its overrides.

    Raises:
        RecordError: one line naming the field path and the problem.
    """
    _keys(data, "record", _TOP, required=("format", "version", "scenario", "seed", "turns"))
    if data["format"] != FORMAT:
        raise RecordError(f"format: must be {FORMAT!r}, got {_short(data['format'])}")
    if type(data["version"]) is not int or data["version"] != VERSION:
        raise RecordError(f"version: this program reads version {VERSION}, got {_short(data['version'])}")
    name = data["scenario"]
    if not isinstance(name, str) or name not in builtin_scenarios():
        known = ", ".join(builtin_scenarios())
        raise RecordError(f"scenario: must be a built-in scenario name ({known}), got {_short(name)}")
    seed = data["seed"]
    if type(seed) is not int or seed < 0:
        raise RecordError(f"seed: must be a whole number, 0 or more, got {_short(seed)}")
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise RecordError("overrides: must be an object of KEY: VALUE strings")
    for k, v in overrides.items():
        if not isinstance(v, str):
            raise RecordError(f"overrides.{k}: must be a string (as --set {k}=VALUE), got {_short(v)}")
    for key in ("title", "strategy_abm_version"):
        if not isinstance(data.get(key, ""), str):
            raise RecordError(f"{key}: must be a string")
    out = {
        "format": FORMAT,
        "version": VERSION,
        "strategy_abm_version": data.get("strategy_abm_version", __version__),
        "scenario": name,
        "overrides": dict(overrides),
        "seed": seed,
        "title": data.get("title", ""),
    }
    try:
        sc = record_scenario(out)
    except ConfigError as exc:
        raise RecordError(f"overrides: {exc}") from None
    out["turns"] = _turns(data["turns"], "turns", sc)
    if "branches" in data:
        branches = data["branches"]
        if not isinstance(branches, list):
            raise RecordError("branches: must be a list of turn lists")
        out["branches"] = [_turns(b, f"branches[{i}]", sc, branch=True) for i, b in enumerate(branches)]
    return out


def _turns(turns: Any, path: str, sc: Scenario, *, branch: bool = False) -> list[dict]:
    """A list of turn entries: the game's from turn 1, or a branch's (turns cut off by going back)
    from the turn it was cut at."""
    if not isinstance(turns, list):
        raise RecordError(f"{path}: must be a list of turns")
    first = 1
    if branch and turns and isinstance(turns[0], dict) and type(turns[0].get("turn")) is int:
        first = max(1, turns[0]["turn"])
    if first - 1 + len(turns) > sc.horizon_turns:
        raise RecordError(f"{path}: {len(turns)} turns from turn {first}, more than the game's {sc.horizon_turns}")
    out = []
    for i, t in enumerate(turns):
        here = f"{path}[{i}]"
        n = first + i
        _keys(t, here, _TURN, required=("turn",))
        if type(t["turn"]) is not int or t["turn"] != n:
            raise RecordError(f"{here}.turn: must be {n} (turns in order from {first}), got {_short(t['turn'])}")
        entry: dict[str, Any] = {"turn": n, "injected": _injected(t.get("injected", []), f"{here}.injected", sc)}
        if "offers" in t:
            entry["offers"] = _seats(t["offers"], f"{here}.offers", sc, sc.power_ids, "decision", offer_item)
        if "responses" in t:
            if "offers" not in t:
                raise RecordError(f"{here}.responses: given without offers (a turn's offers come first)")
            entry["responses"] = _seats(t["responses"], f"{here}.responses", sc, sc.host_ids, "accepted",
                                        accepted_item)  # fmt: skip
        if i < len(turns) - 1 and "responses" not in entry:
            raise RecordError(f"{here}: only the last turn may be unfinished (no responses)")
        out.append(entry)
    return out


def _injected(items: Any, path: str, sc: Scenario) -> list[dict]:
    if not isinstance(items, list):
        raise RecordError(f"{path}: must be a list")
    names = {e.name for e in sc.events}
    out = []
    for j, item in enumerate(items):
        here = f"{path}[{j}]"
        _keys(item, here, {"event", "target"}, required=("event",))
        if item["event"] not in names:
            raise RecordError(f"{here}.event: {_short(item['event'])} is not an event of the scenario")
        target = item.get("target")
        if target is not None and target not in sc.host_ids:
            raise RecordError(f"{here}.target: must be a host id ({', '.join(sc.host_ids)}) or null")
        out.append({"event": item["event"], "target": target})
    return out


def _seats(seats: Any, path: str, sc: Scenario, ids: tuple, what: str, item_of) -> dict:
    if not isinstance(seats, dict):
        raise RecordError(f"{path}: must be an object of seats")
    out = {}
    for seat, entry in seats.items():
        here = f"{path}.{seat}"
        if seat not in ids:
            raise RecordError(f"{here}: not a seat of this phase ({', '.join(ids)})")
        _keys(entry, here, {"by", what}, required=("by",))
        by = entry["by"]
        if by not in BY:
            raise RecordError(f"{here}.by: must be one of {', '.join(BY)}, got {_short(by)}")
        if by != HUMAN:
            if what in entry:
                raise RecordError(f"{here}.{what}: only a 'human' entry carries a decision")
            out[seat] = {"by": by}
            continue
        if what not in entry:
            raise RecordError(f"{here}.{what}: a 'human' entry must give it (a list, maybe empty)")
        out[seat] = {"by": by, what: parse_items(entry[what], f"{here}.{what}", sc, item_of)}
    return out


def parse_items(items: Any, path: str, sc: Scenario, item_of) -> list[dict]:
    """A decision's list of items, each checked by ``item_of`` (``offer_item``/``accepted_item``)."""
    if not isinstance(items, list):
        raise RecordError(f"{path}: must be a list")
    if len(items) > 1000:
        raise RecordError(f"{path}: {len(items)} items, far more than a turn allows")
    return [item_of(item, f"{path}[{k}]", sc) for k, item in enumerate(items)]


# An item's id fields: field -> (the ids it may take, what to say when it is not one of them).
_ITEM_IDS = {
    "move": (lambda sc: sc.moves, lambda sc: "is not a move of the scenario"),
    "host": (lambda sc: sc.host_ids, lambda sc: f"is not a host ({', '.join(sc.host_ids)})"),
    "power": (lambda sc: sc.power_ids, lambda sc: f"is not a power ({', '.join(sc.power_ids)})"),
}


def _item(item: Any, path: str, sc: Scenario, ids: tuple[str, ...]) -> dict:
    """An item with the id fields ``ids`` (each one of the scenario's) and a ``size_usd_bn``."""
    fields = (*ids, "size_usd_bn")
    _keys(item, path, set(fields), required=fields)
    for key in ids:
        known, why = _ITEM_IDS[key]
        if item[key] not in known(sc):
            raise RecordError(f"{path}.{key}: {_short(item[key])} {why(sc)}")
    return {**{key: item[key] for key in ids}, "size_usd_bn": _size(item["size_usd_bn"], path)}


def offer_item(item: Any, path: str, sc: Scenario) -> dict:
    """An offer a power made: ``move``, ``host``, ``size_usd_bn``."""
    return _item(item, path, sc, ("move", "host"))


def accepted_item(item: Any, path: str, sc: Scenario) -> dict:
    """An offer a host accepted: ``power``, ``move``, ``size_usd_bn``."""
    return _item(item, path, sc, ("power", "move"))


def _size(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{path}.size_usd_bn: must be a number")
    if not math.isfinite(value):
        raise RecordError(f"{path}.size_usd_bn: must be a finite number")
    return float(value)


def _keys(obj: Any, path: str, allowed: set, required: Iterable[str]) -> None:
    if not isinstance(obj, dict):
        raise RecordError(f"{path}: must be an object")
    for key in obj:
        if key not in allowed:
            raise RecordError(f"{path}.{key}: unknown field (expected {', '.join(sorted(allowed))})")
    for key in required:
        if key not in obj:
            raise RecordError(f"{path}.{key}: missing")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------------ decisions


def offers_of(power: str, items: list[dict]) -> list[Offer]:
    """A power's recorded decision (validated items) as the engine's offers."""
    return [Offer(power, d["move"], d["host"], d["size_usd_bn"]) for d in items]


def match_accepted(host: str, made: Iterable[Offer], items: list[dict]) -> list[Offer]:
    """The offers made to ``host`` that a recorded acceptance names (power, move, and size within
    ``SIZE_TOLERANCE``), each offer matched at most once. Raises :class:`StrategyError` naming the
    item that matches no offer made."""
    pool = list(made)
    out = []
    for d in items:
        for o in pool:
            if (
                o.power == d["power"]
                and o.move == d["move"]
                and abs(o.size_usd_bn - d["size_usd_bn"]) <= SIZE_TOLERANCE
            ):
                pool.remove(o)
                out.append(o)
                break
        else:
            raise StrategyError(f"{host}: accepted an offer that was not made: {d['power']} {d['move']} of USD "
                                f"{d['size_usd_bn']:g} bn")  # fmt: skip
    return out


def offer_items(offers: Iterable[Offer]) -> list[dict]:
    """A power's offers as a record's decision items."""
    return [{"move": o.move, "host": o.host, "size_usd_bn": float(o.size_usd_bn)} for o in offers]


def accepted_items(offers: Iterable[Offer]) -> list[dict]:
    """A host's accepted offers as a record's decision items."""
    return [{"power": o.power, "move": o.move, "size_usd_bn": float(o.size_usd_bn)} for o in offers]


# ------------------------------------------------------------------------------------ replay


@dataclass(frozen=True)
class Fallback:
    """A recorded decision a lenient replay could not use: the seat's strategy decided instead."""

    turn: int
    phase: str
    seat: str
    reason: str


@dataclass
class Replay:
    """A game played from a record, through the turn contract, in the Mesa shell (so that its
    run folder is what ``strategy-abm run`` writes).

    Attributes:
        model: the ``CompetitionModel`` whose ``game`` was played; its DataCollector holds a row
            per resolved turn.
        reports: one ``TurnReport`` per resolved turn.
        fallbacks: the recorded decisions dropped by a lenient replay (:class:`Fallback`).
    """

    model: Any
    reports: list[TurnReport] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)

    @property
    def game(self):
        return self.model.game

    def advance(self) -> TurnReport | None:
        """``game.advance()``; after a turn's resolution the DataCollector records it (as
        ``CompetitionModel.step`` does) and the report is kept."""
        model, game = self.model, self.model.game
        report = game.advance()
        if report is not None:
            model.steps += 1  # (what Mesa's wrapped step() counts before the DataCollector keys its rows)
            model.last_report = report
            if model.datacollector is not None:
                model.datacollector.collect(model)
            if game.over:
                model.running = False
            self.reports.append(report)
        return report

    def frames(self) -> dict:
        """The run folder's tables as data frames: ``model``, ``actors``, ``events``."""
        from ..report.output import actors_frame, events_frame, model_frame

        return {
            "model": model_frame(self.model),
            "actors": actors_frame(self.model),
            "events": events_frame(self.model),
        }

    def write(self, out: str | os.PathLike, *, plots: bool = True) -> Path:
        """Write the run folder (``report.output.write_run``: the files ``strategy-abm run`` writes)."""
        from ..report.output import write_run

        return write_run(self.model, out, plots=plots)


def replay(record: Mapping, *, ai_seats: Iterable[str] = frozenset(), upto_turn: int | None = None,
           lenient: bool = False) -> Replay:  # fmt: skip
    """Play ``record`` (validated by :func:`validate_record`) on a fresh game of its scenario,
    overrides and seed: per turn, the recorded events are injected, each human decision is
    submitted, and the phase advances (the other seats' strategies decide). A last turn left
    unfinished leaves the game in the phase it was in.

    Args:
        ai_seats: seats whose human decisions are ignored: their strategy decides (the debrief's
            counterfactuals).
        upto_turn: play only the turns up to this one (all by default).
        lenient: a recorded decision no longer legal in a game changed by ``ai_seats`` is dropped
            for that seat and turn (its strategy decides) and listed in ``fallbacks``; otherwise
            it raises.

    Raises:
        RecordError: a recorded decision or injection is not legal where it was recorded (the
            message names the turn and the seat), or the record is invalid.
    """
    from ..sim.model import CompetitionModel

    record = validate_record(record)
    sc = record_scenario(record)
    ai = frozenset(ai_seats)
    unknown = sorted(ai - set(sc.actor_ids))
    if unknown:
        raise RecordError(f"ai_seats: {', '.join(unknown)} not a seat of the scenario")
    play = Replay(CompetitionModel(scenario=sc, seed=record["seed"]))
    for entry in record["turns"]:
        if upto_turn is not None and entry["turn"] > upto_turn:
            break
        play_turn(play, entry, ai=ai, lenient=lenient)
    return play


def play_turn(play: Replay, entry: Mapping, *, ai: frozenset = frozenset(), lenient: bool = False) -> None:
    """Play one recorded turn entry on ``play`` (its phases that the entry holds)."""
    game = play.game
    n = entry["turn"]
    where = f"turns[{n - 1}]"
    if game.over or game.turn != n - 1 or game.phase != OFFERS:
        raise RecordError(f"{where}: turn {n} cannot be played (the game is at turn {game.turn}, {game.phase})")
    game.waiting()  # the turn opens (events, budgets) before anything is injected in it
    for j, inj in enumerate(entry["injected"]):
        try:
            game.inject(inj["event"], inj["target"])
        except StrategyError as exc:
            raise RecordError(f"{where}.injected[{j}] (turn {n}): {exc}") from None
    if "offers" not in entry:
        return
    _phase(play, entry, "offers", ai, lenient)
    play.advance()
    if "responses" not in entry:
        return
    _phase(play, entry, "responses", ai, lenient)
    play.advance()


def _phase(play: Replay, entry: Mapping, phase: str, ai: frozenset, lenient: bool) -> None:
    game = play.game
    n = entry["turn"]
    waiting = set(game.waiting())
    for seat, what in entry[phase].items():
        if what["by"] != HUMAN or seat in ai:
            continue
        try:
            if seat not in waiting:
                raise StrategyError(f"{seat}: does not decide in this phase"
                                    + (" (it received no offers)" if phase == RESPONSES else ""))  # fmt: skip
            if phase == OFFERS:
                decision = offers_of(seat, what["decision"])
            else:
                decision = match_accepted(seat, game.observe(seat).offers, what["accepted"])
            game.submit(seat, decision)
        except StrategyError as exc:
            if not lenient:
                raise RecordError(f"turns[{n - 1}].{phase}.{seat} (turn {n}, {seat}): {exc}") from None
            play.fallbacks.append(Fallback(n, phase, seat, str(exc)))


def copy_record(record: Mapping) -> dict:
    """A deep copy of a record (records are plain JSON data)."""
    return copy.deepcopy(dict(record))
