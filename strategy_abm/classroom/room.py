"""A classroom room: one game, its seats (a person or the seat's AI at each power and host), the
instructor's controls and a deadline per phase. No HTTP and no threads: the web app calls these
methods, and time comes from the ``clock`` the room is given.

Everything that changes the game goes into the room's record (classroom/record.py): the people's
decisions, who missed a deadline, the White Cell's injections, the turns cut off by going back.
The room's game is always the record's replay, so a room rebuilt from its record after a restart,
or an export replayed by ``strategy-abm replay``, is the same game.

A seat's view is what ``observe(seat)`` and ``legal(seat)`` give it, made JSON-able: never another
power's pending offers nor another seat's private state.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..engine.events import target_rule
from ..engine.legality import StrategyError, check_offers, check_responses
from ..engine.projects import Offer
from ..engine.turn import OFFERS, RESPONSES
from .record import (
    HUMAN,
    TIMEOUT,
    RecordError,
    accepted_item,
    copy_record,
    match_accepted,
    new_record,
    offer_item,
    offers_of,
    parse_items,
    record_scenario,
    replay,
    validate_record,
)

LOBBY, RUNNING, PAUSED, OVER = "lobby", "running", "paused", "over"
# Seat codes: typed by students from a projector, so no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_PHASE_SECONDS = 24 * 3600.0  # a deadline a day away is a typo, not a class
LOG_IN_VIEW = 40  # the newest log sentences a view carries
# Event-log statuses anyone may read: events, project ends, deals and accepted offers (a project
# is visible once signed). A refused offer is known to its power and its host only.
PUBLIC_STATUSES = frozenset({"scripted_event", "random_event", "injected_event", "event_end", "distress",
                             "completed", "failed", "deal", "accepted"})  # fmt: skip

_CODES_IN_USE: set[str] = set()  # the seat codes of the rooms of this process (unique among them)


class RoomError(ValueError):
    """A request the room cannot do (bad input, wrong moment): a one-line message for the user."""


class SeatError(PermissionError):
    """A wrong token, or a seat acting where it may not: a one-line message."""


@dataclass
class Seat:
    """One actor's place in a room. ``token``: the secret of its join link; ``code``: six
    characters to type instead; ``human``: a person plays it (else its configured strategy)."""

    actor: str
    kind: str  # "power" or "host"
    name: str
    token: str
    code: str
    human: bool


def _token() -> str:
    return secrets.token_urlsafe(24)


def _new_code(taken: Iterable[str] = ()) -> str:
    taken = set(taken)
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in _CODES_IN_USE and code not in taken:
            _CODES_IN_USE.add(code)
            return code


class Room:
    """A game played by people and AI seats, phase by phase (see the module).

    Attributes:
        id, instructor_token, title: the room's identity and its instructor's secret.
        record: the record of the game so far (classroom/record.py), kept up to date.
        seats: actor id -> :class:`Seat`.
        status: ``"lobby"`` (not started), ``"running"``, ``"paused"`` or ``"over"``.
        phase_seconds: the length of a phase's deadline, s; deadline: the clock time it ends
            (None when no deadline runs: lobby, paused, over).
        version: bumped on every change (what live updates watch).
        log: sentences of what happened, newest last.
    """

    def __init__(self, *, record: Mapping, seats: Mapping[str, Seat], room_id: str | None = None,
                 instructor_token: str | None = None, phase_seconds: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.record = validate_record(record)
        self.id = room_id or secrets.token_hex(6)
        self.instructor_token = instructor_token or _token()
        self.title = self.record["title"]
        self.seats = dict(seats)
        self.clock = clock
        self.phase_seconds = _seconds(phase_seconds, "phase_seconds")
        self.status = LOBBY
        self.deadline: float | None = None
        self.remaining: float | None = None  # seconds left of a paused phase
        self.version = 0
        self.log: list[str] = []
        self._pending: dict[str, tuple[list[Offer], list[dict]]] = {}  # this phase's human submissions
        # The seats' views of the current version, less their common part (which holds the time):
        # a class's pages ask for them many times between two changes (benchmarks/bench_classroom.py).
        self._views: tuple[int, dict[str | None, dict]] = (-1, {})
        try:
            self.play = replay(self.record)
        except RecordError as exc:
            raise RoomError(str(exc)) from None
        self._open_turn()

    # ------------------------------------------------------------------ building

    @classmethod
    def create(cls, scenario: str = "baseline", *, seed: int = 0, overrides: Mapping[str, str] | None = None,
               human_seats: Iterable[str] = (), phase_seconds: float = 300.0, title: str = "",
               clock: Callable[[], float] = time.time) -> Room:  # fmt: skip
        """A room in the lobby for a built-in ``scenario`` with ``overrides`` (``--set`` style,
        strings) and ``seed``; ``human_seats``: the actors people play (the others: their AI).

        Raises:
            RoomError: an unknown scenario, a bad override or seat, a bad phase length.
        """
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise RoomError(f"seed: must be a whole number, 0 or more, got {seed!r}")
        try:
            record = new_record(scenario, seed=seed, overrides=overrides, title=str(title))
        except RecordError as exc:
            raise RoomError(str(exc)) from None
        room = cls(record=record, seats=cls._seats_for(record, human_seats), phase_seconds=phase_seconds, clock=clock)
        room._say(f"Room created: {room._scenario_line()}")
        return room

    @classmethod
    def from_export(cls, record: Mapping, *, human_seats: Iterable[str] = (), phase_seconds: float = 300.0,
                    clock: Callable[[], float] = time.time) -> Room:  # fmt: skip
        """A room rebuilt from an exported record (new tokens and codes), paused where the record
        stops (``"over"`` if its game is over), ready for the instructor to resume or branch."""
        try:
            record = validate_record(record)
        except RecordError as exc:
            raise RoomError(str(exc)) from None
        room = cls(record=record, seats=cls._seats_for(record, human_seats), phase_seconds=phase_seconds, clock=clock)
        room.status = OVER if room.game.over else PAUSED
        room.remaining = None if room.game.over else room.phase_seconds
        room._say(f"Room rebuilt from an export: {room._scenario_line()}, {len(room.play.reports)} turns played")
        return room

    @staticmethod
    def _seats_for(record: Mapping, human_seats: Iterable[str]) -> dict[str, Seat]:
        sc = record_scenario(record)
        humans = set(human_seats)
        unknown = sorted(humans - set(sc.actor_ids))
        if unknown:
            raise RoomError(f"human_seats: {', '.join(unknown)} not a seat (seats: {', '.join(sc.actor_ids)})")
        names = sc.display_names()
        seats, codes = {}, []
        for actor in sc.actor_ids:
            codes.append(_new_code(codes))
            kind = "power" if actor in sc.powers else "host"
            seats[actor] = Seat(actor, kind, names[actor], _token(), codes[-1], actor in humans)
        return seats

    def release(self) -> None:
        """Free the room's seat codes for other rooms (when the room is deleted)."""
        for seat in self.seats.values():
            _CODES_IN_USE.discard(seat.code)

    @property
    def game(self):
        return self.play.game

    # ------------------------------------------------------------------ who is who

    def seat_by_token(self, token: str) -> Seat:
        """The seat whose token this is (compared in constant time); SeatError if none."""
        found = None
        for seat in self.seats.values():  # every seat compared: the time does not tell which matched
            if hmac.compare_digest(str(seat.token).encode(), str(token).encode()):
                found = seat
        if found is None:
            raise SeatError("unknown seat token")
        return found

    def seat_by_code(self, code: str) -> Seat:
        """The seat of this code (case and surrounding blanks ignored); SeatError if none."""
        wanted = str(code).strip().upper()
        found = None
        for seat in self.seats.values():
            if hmac.compare_digest(seat.code.encode(), wanted.encode()):
                found = seat
        if found is None:
            raise SeatError("unknown seat code")
        return found

    def check_instructor(self, token: str) -> None:
        """SeatError unless ``token`` is the instructor's."""
        if not hmac.compare_digest(self.instructor_token.encode(), str(token).encode()):
            raise SeatError("not the instructor's token")

    # ------------------------------------------------------------------ views

    def deciding(self) -> list[str]:
        """The human seats that decide in this phase (the game's ``waiting()``, played by people)."""
        if self.status == OVER or self.game.over:
            return []
        return [a for a in self.game.waiting() if self.seats[a].human]

    def _common(self) -> dict:
        game = self.game
        deciding = self.deciding()
        left = None
        if self.deadline is not None:
            left = max(0.0, self.deadline - self.clock())
        elif self.remaining is not None:
            left = self.remaining
        return {
            "room": self.id,
            "title": self.title,
            "scenario": self.record["scenario"],
            "status": self.status,
            "turn": game.turn,
            "horizon": game.horizon,
            "date": game.date,
            "phase": game.phase,
            "deadline": self.deadline,
            "seconds_left": left,
            "version": self.version,
            "seats": {a: {"name": s.name, "kind": s.kind, "human": s.human} for a, s in self.seats.items()},
            "deciding": deciding,
            "submitted": {a: a in self._pending for a in self.seats},
            "log": self.log[-LOG_IN_VIEW:],
        }

    def view(self, actor: str) -> dict:
        """What seat ``actor`` sees (JSON-able): the common part (status, turn, date, phase,
        deadline, who decides and who has submitted: never what), and the seat's observation:
        ``own`` (its private state), ``legal`` (its moves and size bounds when it decides),
        ``hosts``/``powers``/``routes``/``metrics`` (public state), ``my_submission`` (its own
        pending decision), ``last_turn`` (its offers of the last turn and their fate, reasons
        for refusals, the turn's events as sentences); a power in the responses phase also its
        offers of this turn (``my_offers``); a host deciding, ``offers`` received with what
        each would bring (:func:`prospect`).

        Raises:
            RoomError: ``actor`` is not a seat.
        """
        if actor not in self.seats:
            raise RoomError(f"{actor!r}: not a seat of this room")
        out = self._common()
        out.update(self._cached(actor, self._seat_part))
        return out

    def _cached(self, key: str | None, make: Callable[[str | None], dict]) -> dict:
        """``make(key)``, made once per room version (every change of the room or its game bumps
        the version; the parts cached hold no time). Shared between callers: read only."""
        version, parts = self._views
        if version != self.version:
            parts = {}
            self._views = (self.version, parts)
        if key not in parts:
            parts[key] = make(key)
        return parts[key]

    def _seat_part(self, actor: str) -> dict:
        """A seat's view less the common part (see :meth:`view`)."""
        game = self.game
        obs = game.observe(actor)
        seat = self.seats[actor]
        out = dict(
            seat={"actor": actor, "kind": seat.kind, "name": seat.name, "human": seat.human, "code": seat.code},
            decides=actor in game.waiting() and self.status in (RUNNING, PAUSED),
            own=_json(obs.own),
            legal=_json(game.legal(actor)) if self.status != OVER else {"phase": game.phase, "decides": False},
            **{k: v for k, v in self._cached(None, self._public_part).items() if k != "last_turn"},
            my_submission=self._pending[actor][1] if actor in self._pending else None,
            last_turn=self._last_turn(actor),
        )
        if seat.kind == "power" and game.phase == RESPONSES:
            out["my_offers"] = [
                _offer_json(o) for h in game.host_ids for o in game.observe(h).offers if o.power == actor
            ]
        if seat.kind == "host" and game.phase == RESPONSES:
            fits = set(game.legal(actor).get("acceptable", ()))
            out["offers"] = [{**prospect(game, o, obs), "fits": o in fits} for o in obs.offers]
        return out

    def public_view(self) -> dict:
        """The projector's view: the common part, every host's public state, the routes, the
        metrics and the last turn's public events; no seat's private state or pending decision."""
        out = self._common()
        out.update(self._cached(None, self._public_part))
        return out

    def _public_part(self, _: None) -> dict:
        game = self.game
        obs = game.observe(game.host_ids[0])  # (the public part of any observation is the same)
        return dict(hosts=_json(obs.hosts), powers=_json(obs.powers), routes=_json(obs.routes),
                    metrics=_json(obs.metrics), last_turn=self._last_turn(None))  # fmt: skip

    def _last_turn(self, actor: str | None) -> dict | None:
        """The last resolved turn as ``actor`` may know it (None: the public)."""
        if not self.play.reports:
            return None
        report = self.play.reports[-1]
        mine = (actor,) if actor is not None else ()
        rows = [r for r in report.followed if r["status"] in PUBLIC_STATUSES or {r["actor"], r["target"]} & set(mine)]
        out = {"turn": report.turn, "date": report.date, "events": [r["text"] for r in rows]}
        if actor is not None:
            mine = [o for o in report.offers if actor in (o.offer.power, o.offer.host)]
            out["offers"] = [{**_offer_json(o.offer), "accepted": o.accepted, "reason": o.reason} for o in mine]
        return out

    def catalogue(self) -> list[dict]:
        """The events the White Cell may inject: ``name``, ``text``, ``target`` (``"required"``,
        ``"optional"`` or ``"fixed"``, :func:`engine.events.target_rule`), ``default_target``,
        ``kind`` (scripted or random in the scenario), ``duration_turns``."""
        out = []
        seen = set()
        for ev in self.game.scenario.events:
            if ev.name in seen:
                continue
            seen.add(ev.name)
            rule, default = target_rule(ev)
            out.append({"name": ev.name, "text": ev.text, "target": rule, "default_target": default,
                        "kind": "scripted" if ev.at is not None else "random",
                        "duration_turns": ev.duration_turns})  # fmt: skip
        return out

    # ------------------------------------------------------------------ seats act

    def submit(self, token: str, decision_json: Any) -> None:
        """The seat of ``token`` submits its decision for this phase: a power's offers
        ``[{"move", "host", "size_usd_bn"}, ...]``, a host's accepted offers ``[{"power", "move",
        "size_usd_bn"}, ...]``. Checked as ``Game.submit`` checks it; a resubmission before the
        phase resolves replaces the earlier one. When every human seat deciding now has
        submitted (and the room runs), the phase resolves at once.

        Raises:
            SeatError: unknown token. RoomError: not this seat's phase, the room not running,
                or an illegal decision (the message names the field or the rule).
        """
        seat = self.seat_by_token(token)
        if self.status in (LOBBY, OVER):
            raise RoomError("the game has not started yet" if self.status == LOBBY else "the game is over")
        name = self._name(seat.actor)
        if not seat.human:
            raise RoomError(f"{name} is played by its AI now; ask the instructor")
        game = self.game
        if seat.actor not in game.waiting():
            raise RoomError(f"{name} does not decide in this phase ({game.phase}, turn {game.turn})")
        try:
            decision, items = self._checked(seat.actor, decision_json)
        except (RecordError, StrategyError) as exc:
            raise RoomError(str(exc)) from None
        again = seat.actor in self._pending
        self._pending[seat.actor] = (decision, items)
        self._say(f"{self._name(seat.actor)} {'changed its decision' if again else 'submitted'}")
        self._settle()

    def tick(self) -> bool:
        """Resolve the phase if its deadline has passed (the seats that did not submit: their AI
        decides, recorded as ``"timeout"`` and logged). Returns whether anything changed."""
        if self.status != RUNNING or self.deadline is None or self.clock() < self.deadline:
            return False
        self._resolve_phase()
        self._settle()
        return True

    # ------------------------------------------------------------------ the instructor

    def start(self, token: str) -> None:
        self.check_instructor(token)
        if self.status != LOBBY:
            raise RoomError(f"the room is {self.status}, not in the lobby")
        self.status = RUNNING
        self._say("The game starts")
        self._new_deadline()
        self._settle()

    def pause(self, token: str) -> None:
        self.check_instructor(token)
        if self.status != RUNNING:
            raise RoomError(f"the room is {self.status}, not running")
        self.remaining = None if self.deadline is None else max(0.0, self.deadline - self.clock())
        self.deadline = None
        self.status = PAUSED
        self._say("Paused")

    def resume(self, token: str) -> None:
        self.check_instructor(token)
        if self.status != PAUSED:
            raise RoomError(f"the room is {self.status}, not paused")
        self.status = RUNNING
        left = self.remaining if self.remaining is not None else self.phase_seconds
        self.deadline, self.remaining = self.clock() + left, None
        self._say("Resumed")
        self._settle()

    def extend(self, token: str, seconds: float) -> None:
        """Give the phase ``seconds`` more (running or paused)."""
        self.check_instructor(token)
        seconds = _seconds(seconds, "seconds")
        if self.status == RUNNING and self.deadline is not None:
            self.deadline += seconds
        elif self.status == PAUSED:
            self.remaining = (self.remaining or 0.0) + seconds
        else:
            raise RoomError(f"the room is {self.status}: no deadline to extend")
        self._say(f"Deadline extended by {seconds:g} s")

    def force(self, token: str) -> None:
        """Resolve the phase now (as if its deadline had passed)."""
        self.check_instructor(token)
        if self.status not in (RUNNING, PAUSED):
            raise RoomError(f"the room is {self.status}: nothing to resolve")
        self._say("The instructor closes the phase")
        self._resolve_phase()
        self._settle()

    def set_human(self, token: str, actor: str, human: bool) -> None:
        """Make seat ``actor`` played by a person (``human``) or by its AI; a pending
        submission of a seat handed to its AI is dropped (its AI decides)."""
        self.check_instructor(token)
        seat = self._seat(actor)
        if not isinstance(human, bool):
            raise RoomError(f"human: must be true or false, got {human!r}")
        if seat.human == human:
            return
        seat.human = human
        if not human:
            self._pending.pop(actor, None)
        self._say(f"{self._name(actor)} is now played by {'a person' if human else 'its AI'}")
        self._settle()

    def reassign(self, token: str, actor: str) -> Seat:
        """A new token and code for seat ``actor``: the old ones stop working."""
        self.check_instructor(token)
        seat = self._seat(actor)
        _CODES_IN_USE.discard(seat.code)
        seat.token = _token()
        seat.code = _new_code(s.code for s in self.seats.values())
        self._say(f"{self._name(actor)} has a new join link")
        return seat

    def inject(self, token: str, event_name: str, target: str | None = None) -> None:
        """The White Cell: event ``event_name`` of the scenario fires when the next turn opens."""
        self.check_instructor(token)
        if self.status == OVER:
            raise RoomError("the game is over")
        if target == "":
            target = None
        try:
            self.game.inject(event_name, target)
        except StrategyError as exc:
            raise RoomError(str(exc)) from None
        fired = self.game.injected[-1]
        self.record["turns"][-1]["injected"].append({"event": fired[0], "target": fired[1]})
        # Not in the room's log, which every seat reads: the White Cell's event is a surprise until
        # it fires (then the seats read it among last turn's events); the instructor sees it queued.
        self.version += 1

    def queued(self) -> list[str]:
        """The White Cell's events waiting for the next turn, as sentences (the instructor's page)."""
        out = []
        for name, target in self.game.injected:
            on = f" on {self.game.display(target)}" if target else ""
            out.append(f"{name}{on}: takes effect when turn {self.game.turn + 1} opens")
        return out

    def end(self, token: str) -> None:
        """End the game where it is (its record stops here)."""
        self.check_instructor(token)
        if self.status == OVER:
            raise RoomError("the game is already over")
        self._finish("The instructor ends the game")

    def branch(self, token: str, turn: int) -> None:
        """Go back to the start of ``turn`` (1 to the turn being played): the record is cut there
        (the part cut off is kept under ``"branches"``) and the game is rebuilt by replay. A room
        that was over is paused there, a running one runs on with a fresh deadline; the pending
        submissions are dropped."""
        self.check_instructor(token)
        current = self.game.turn
        if isinstance(turn, bool) or not isinstance(turn, int) or not 1 <= turn <= max(current, 1):
            raise RoomError(f"turn: must be a whole number from 1 to {max(current, 1)}, got {turn!r}")
        record = copy_record(self.record)
        cut = record["turns"][turn - 1 :]
        record["turns"] = record["turns"][: turn - 1]
        record.setdefault("branches", []).append(cut)
        self.record = validate_record(record)
        self.play = replay(self.record)
        self._pending = {}
        self._open_turn()
        if self.status == OVER:
            self.status, self.deadline, self.remaining = PAUSED, None, self.phase_seconds
        elif self.status == PAUSED:
            self.remaining = self.phase_seconds
        self._say(f"Back to the start of turn {turn} ({self.game.date}): a new branch")
        if self.status == RUNNING:
            self._new_deadline()
            self._settle()

    def export(self) -> dict:
        """The record of the game so far (what ``strategy-abm replay`` plays)."""
        return copy_record(self.record)

    def write_run(self, out, *, plots: bool = True):
        """The run folder of the game so far (the files ``strategy-abm run`` writes)."""
        return self.play.write(out, plots=plots)

    # ------------------------------------------------------------------ the phases

    def _settle(self) -> None:
        """Resolve phases while the room runs and no person is left to wait for: every deciding
        human has submitted, or no human decides (the AI seats never block the room)."""
        while self.status == RUNNING and not self.game.over:
            deciding = self.deciding()
            if any(a not in self._pending for a in deciding):
                break
            self._resolve_phase()

    def _resolve_phase(self) -> None:
        game = self.game
        phase = game.phase
        entry = self.record["turns"][-1]
        key = "decision" if phase == OFFERS else "accepted"
        seats: dict[str, dict] = {}
        for actor in game.waiting():
            seat = self.seats[actor]
            if actor in self._pending:
                decision, items = self._pending[actor]
                game.submit(actor, decision)  # (checked when submitted; nothing has changed since)
                seats[actor] = {"by": HUMAN, key: items}
            elif seat.human:
                seats[actor] = {"by": TIMEOUT}
                self._say(f"{self._name(actor)} missed the deadline: its AI decided")
            else:
                seats[actor] = {"by": "ai"}
        entry[phase] = seats
        self._pending = {}
        report = self.play.advance()
        if report is not None:
            taken = sum(o.accepted for o in report.offers)
            self._say(f"Turn {report.turn} ({report.date}) resolved: {taken} of {len(report.offers)} offers accepted")
        self.version += 1  # the game moved on (a phase with no sentence to log changes the views too)
        if game.over:
            self._finish(f"The game is over after {game.turn} turns")
            return
        self._open_turn()
        self._new_deadline()

    def _open_turn(self) -> None:
        """Open the game's current turn (events, budgets) and give it its record entry."""
        game = self.game
        if game.over:
            return
        game.waiting()
        turns = self.record["turns"]
        if not turns or turns[-1]["turn"] != game.turn:
            turns.append({"turn": game.turn, "injected": []})
            if self.version:  # (not when the room is built)
                self._say(f"Turn {game.turn} ({game.date}) opens")

    def _new_deadline(self) -> None:
        if self.status == RUNNING:
            self.deadline, self.remaining = self.clock() + self.phase_seconds, None

    def _finish(self, why: str) -> None:
        self.status, self.deadline, self.remaining = OVER, None, None
        self._pending = {}
        self._say(why)

    def _seat(self, actor: str) -> Seat:
        if actor not in self.seats:
            raise RoomError(f"{actor!r}: not a seat of this room ({', '.join(self.seats)})")
        return self.seats[actor]

    def _name(self, actor: str) -> str:
        """The actor's name at the start of a sentence ("The US")."""
        return self.game.display(actor, start=True)

    def _say(self, text: str) -> None:
        self.log.append(text)
        self.version += 1

    def _scenario_line(self) -> str:
        sets = ", ".join(f"{k}={v}" for k, v in sorted(self.record["overrides"].items()))
        return f"{self.record['scenario']}, seed {self.record['seed']}" + (f" ({sets})" if sets else "")

    # ------------------------------------------------------------------ persistence (store.py)

    def state(self) -> dict:
        """Everything the store keeps of the room (JSON-able): the record, the seats, the
        status, the deadline, the pending submissions and the log."""
        return {
            "id": self.id,
            "instructor_token": self.instructor_token,
            "record": self.record,
            "seats": [asdict(s) for s in self.seats.values()],
            "status": self.status,
            "phase_seconds": self.phase_seconds,
            "deadline": self.deadline,
            "remaining": self.remaining,
            "pending": {a: items for a, (_, items) in self._pending.items()},
            "log": self.log,
            "version": self.version,
        }

    @classmethod
    def from_state(cls, state: Mapping, *, clock: Callable[[], float] = time.time) -> Room:
        """The room :meth:`state` describes, its game rebuilt by replaying its record.

        Raises:
            RoomError: the state or its record is not valid (one line naming the field).
        """
        try:
            seats = {s["actor"]: Seat(**s) for s in state["seats"]}
            room = cls(record=state["record"], seats=seats, room_id=state["id"],
                       instructor_token=state["instructor_token"], phase_seconds=state["phase_seconds"],
                       clock=clock)  # fmt: skip
            if state["status"] not in (LOBBY, RUNNING, PAUSED, OVER):
                raise RoomError(f"status: {state['status']!r} is not a room status")
            if set(seats) != set(room.game.scenario.actor_ids):
                raise RoomError("seats: not the seats of the record's scenario")
            room.status = state["status"]
            room.deadline, room.remaining = state["deadline"], state["remaining"]
            room.log = list(state["log"])
            room.version = int(state["version"])
        except RecordError as exc:
            raise RoomError(str(exc)) from None
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RoomError):
                raise
            raise RoomError(f"room state: {type(exc).__name__}: {exc}") from None
        _CODES_IN_USE.update(s.code for s in seats.values())
        for actor, items in state.get("pending", {}).items():
            seat = room.seats.get(actor)
            if seat is None or not seat.human:
                continue
            try:
                if actor not in room.game.waiting():
                    raise StrategyError(f"{actor}: does not decide in this phase")
                room._pending[actor] = room._checked(actor, items)
            except (RecordError, StrategyError) as exc:  # (cannot happen for a state the room wrote)
                room.log.append(f"{room._name(actor)}'s submission was lost on restart: {exc}")
        return room

    def _checked(self, actor: str, decision_json: Any) -> tuple[list[Offer], list[dict]]:
        """A seat's decision as JSON items, parsed and held to the game's legality checks (those
        of ``Game.submit``): (the engine's offers, the record's items). Raises RecordError (a
        malformed item, its path named) or StrategyError (an illegal decision)."""
        game = self.game
        state = game.actor(actor)
        if state.kind == "power":
            items = parse_items(decision_json, "decision", game.scenario, offer_item)
            decision = offers_of(actor, items)
            check_offers(state, decision, game)
        else:
            items = parse_items(decision_json, "decision", game.scenario, accepted_item)
            made = game.observe(actor).offers
            decision = match_accepted(actor, made, items)
            check_responses(state, list(made), decision, game)
        return decision, items


# ------------------------------------------------------------------------------------ helpers


def prospect(game, offer: Offer, obs) -> dict:
    """What ``offer`` would bring its host on completion, from the move's effects in the scenario
    at the host's GDP now (``obs``: the host's observation) and the offering power's efficiency at
    the move: ``gdp_gain_pct`` (GDP level, %), ``jobs_k`` (thousand jobs), ``new_debt_usd_bn`` at
    ``loan_rate`` over ``loan_maturity_years``, ``environment_damage`` (index points, after the
    move's standards), ``absorption_usd_bn`` (capacity it uses), ``lag_years``."""
    move = game.moves[offer.move]
    efficiency = obs.powers[offer.power]["toolkit"].get(offer.move, 1.0)
    size = offer.size_usd_bn
    x = 100.0 * size / obs.hosts[offer.host]["gdp_usd_bn"] * efficiency  # the kernels' intensity
    e = move.effects
    return {
        **_offer_json(offer),
        "label": move.label,
        "domain": move.domain,
        "lag_years": move.lag_years,
        "gdp_gain_pct": e.gdp_level_pct * x,
        "jobs_k": e.jobs_k_per_bn * size * efficiency,
        "new_debt_usd_bn": size * move.debt_fraction,
        "loan_rate": move.loan_rate if move.debt_fraction > 0 else None,
        "loan_maturity_years": move.loan_maturity_years if move.debt_fraction > 0 else None,
        "environment_damage": e.environment * x * (1.0 - move.standards),
        "absorption_usd_bn": size * move.local_absorption,
    }


def _offer_json(o: Offer) -> dict:
    return {"power": o.power, "move": o.move, "host": o.host, "size_usd_bn": float(o.size_usd_bn)}


def _json(x: Any) -> Any:
    """An observation's values as JSON: mappings to objects, sequences to lists, offers to
    objects, numbers to floats or ints (not finite: null)."""
    kind = type(x)  # the common exact types first: a view converts some 1,500 values
    if kind is float:
        return x if math.isfinite(x) else None
    if kind is int or kind is str or kind is bool or x is None:
        return x
    if kind is dict or isinstance(x, Mapping):
        return {str(k): _json(v) for k, v in x.items()}
    if isinstance(x, Offer):
        return _offer_json(x)
    if isinstance(x, list | tuple):
        return [_json(v) for v in x]
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, int):
        return x
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if f.is_integer() and type(x).__name__.startswith(("int", "uint")):
        return int(f)
    return f if math.isfinite(f) else None


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RoomError(f"{name}: must be a number of seconds, got {value!r}")
    if not 0 < value <= MAX_PHASE_SECONDS:
        raise RoomError(f"{name}: must be more than 0 and at most {MAX_PHASE_SECONDS:g} s, got {value:g}")
    return float(value)
