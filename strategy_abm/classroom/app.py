"""The classroom's web application (Starlette, Jinja2 templates, htmx with server-sent events).

One process serves many rooms. Each room lives in memory as a :class:`~.room.Room`, saved to the
:class:`~.store.Store` after every phase and every instructor action, and loaded back at start-up
(a restarted server resumes every room where it was). A background task calls each running
room's ``tick()`` about once a second, so deadlines pass even when nobody clicks.

Who may do what is carried by secret tokens in the path (the join links):

- ``/rooms/{room}/seat/{token}``: one seat (a power or a host); it sees ``Room.view(actor)`` and
  nothing else, and acts only for its own actor.
- ``/rooms/{room}/instructor/{token}``: the instructor's controls.
- ``/rooms/{room}/projector``: the public state only (no token: it is shown on the wall).

Every state-changing form carries a CSRF token (security.py) and is refused from another origin.
Errors: 400 with a one-line message naming the field, 403 for a wrong token or a seat acting for
another, 404 for an unknown room, 413 / 429 from the guard, and a 500 page that never shows a
traceback (it is logged server-side).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..engine.projects import Offer
from .security import (
    BROWSER_COOKIE,
    CSP,
    CSRF_FIELD,
    CSRF_HEADER,
    HEADERS,
    Guard,
    Limits,
    check_browser_token,
    check_csrf,
    csrf_token,
    new_browser_token,
)

log = logging.getLogger("strategy_abm.classroom")

HERE = Path(__file__).parent
TICK_SECONDS = 1.0  # how often the deadlines are checked
HEARTBEAT_SECONDS = 15.0  # an SSE comment keeps proxies and browsers from closing an idle stream
MAX_PHASE_SECONDS = 24 * 3600.0  # a deadline further than a day is a typo
MAX_OVERRIDES = 40  # --set lines of a new room
DEBRIEF_CACHE = 32  # debrief pages kept (each is a replay and its counterfactuals: seconds to make)
# The debrief page is a self-contained document (its own <style>, figures as data: URIs) and runs
# no script at all.
DEBRIEF_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class BadInput(HTTPException):
    """400 with a one-line message naming the field."""

    def __init__(self, field: str, problem: str):
        super().__init__(400, f"{field}: {problem}")


# ---------------------------------------------------------------------------------------------
# The rooms of this server


class Classroom:
    """The rooms this server holds, the store they are saved to and the signal of their changes.

    Every handler and the ticker run on the one event loop, and room methods are synchronous, so
    a room is never changed by two requests at once."""

    def __init__(self, store, clock: Callable[[], float] = time.time):
        self.store, self.clock = store, clock
        self.rooms: dict[str, Any] = store.load_all(clock=clock) if store is not None else {}
        self._signals: dict[str, asyncio.Event] = {}
        self._debriefs: dict[tuple, str] = {}

    def room(self, room_id: str):
        room = self.rooms.get(room_id)
        if room is None:
            raise HTTPException(404, "No such room: check the link, or ask the instructor for a new one.")
        return room

    def add(self, room) -> None:
        self.rooms[room.id] = room
        self.changed(room)

    def changed(self, room) -> None:
        """Save the room and wake its live-update streams."""
        if self.store is not None:
            self.store.save(room)
        signal = self._signals.pop(room.id, None)
        if signal is not None:
            signal.set()

    async def wait(self, room_id: str, timeout: float) -> None:
        """Until the room changes, or ``timeout`` seconds."""
        signal = self._signals.setdefault(room_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout)

    async def debrief(self, room, seat: str | None) -> str:
        """The debrief page of ``room`` (``seat`` None: the class summary), made in a worker
        thread (replays take seconds) and kept while the room does not change."""
        from anyio import to_thread

        from .debrief import debrief_html

        key = (room.id, room.version, seat)
        html = self._debriefs.get(key)
        if html is None:
            record = room.export()
            html = await to_thread.run_sync(lambda: debrief_html(record, seat))
            self._debriefs[key] = html
            while len(self._debriefs) > DEBRIEF_CACHE:
                self._debriefs.pop(next(iter(self._debriefs)))
        return html

    def tick(self) -> None:
        """Resolve every running room's phase whose deadline has passed."""
        for room in list(self.rooms.values()):
            if room.status != "running":
                continue
            try:
                if room.tick():
                    self.changed(room)
            except Exception:  # one broken room must not stop the others' deadlines
                log.exception("room %s: tick failed", room.id)

    def by_code(self, code: str):
        """(room, seat) of a short code typed on the home page, or None."""
        from .room import SeatError

        for room in self.rooms.values():
            if room.status == "over":
                continue
            try:
                return room, room.seat_by_code(code)
            except SeatError:
                continue
        return None


# ---------------------------------------------------------------------------------------------
# Templates and responses


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing value is a bug to see, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda x: "–" if x is None else f"{x:,.2f}"
    env.filters["pct"] = lambda x: "–" if x is None else f"{100 * x:.1f}%"
    env.filters["num"] = _num
    env.filters["tojson_attr"] = lambda x: json.dumps(x, sort_keys=True)
    return env


def _num(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float) and not math.isfinite(x):
        return "no limit" if x > 0 else "–"
    return f"{x:,.{digits}g}" if abs(x) < 1 else f"{x:,.2f}"


def _json_block(data: Any) -> str:
    """JSON for a page (the decision form's ``data-legal`` attribute, escaped again by the
    template): ``<`` escaped too, so it is safe in any HTML context."""
    return json.dumps(data, sort_keys=True, allow_nan=False).replace("<", "\\u003c")


def _wants_fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


class Pages:
    """Renders the templates with the values every page needs."""

    def __init__(self, classroom: Classroom):
        self.env = _templates()
        self.classroom = classroom

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("notice", None)
        html = self.env.get_template(name).render(request=request, now=self.classroom.clock(), **context)
        headers = {"cache-control": "no-store"}  # pages with tokens in them are not kept in caches
        return HTMLResponse(html, status_code=status, headers=headers)


# ---------------------------------------------------------------------------------------------
# Reading forms


async def _form(request: Request) -> dict[str, list[str]]:
    """The submitted form as {name: [values]}; a body that is not a form is a 400."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if not await request.body():  # an empty POST (a button with no fields, a token in the header)
            return {}
        raise HTTPException(400, "body: expected a form (application/x-www-form-urlencoded)")
    form = await request.form(max_files=0, max_fields=200)
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise BadInput(key, "files are not accepted")
        out.setdefault(key, []).append(value)
    return out


def _one(form: dict[str, list[str]], name: str, default: str | None = None) -> str:
    values = form.get(name)
    if not values:
        if default is None:
            raise BadInput(name, "missing")
        return default
    if len(values) > 1:
        raise BadInput(name, "given more than once")
    return values[0].strip()


def _number(form, name: str, *, least: float, most: float, default: str | None = None) -> float:
    text = _one(form, name, default)
    try:
        value = float(text)
    except ValueError:
        raise BadInput(name, f"must be a number, got {text[:40]!r}") from None
    if not math.isfinite(value) or not least <= value <= most:
        raise BadInput(name, f"must be between {least:g} and {most:g}, got {text[:40]!r}")
    return value


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also says yes to "²" or "①", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def _whole(form, name: str, *, least: int, most: int, default: str | None = None) -> int:
    text = _one(form, name, default)
    if not _digits(text.removeprefix("-")):
        raise BadInput(name, f"must be a whole number, got {text[:40]!r}")
    value = int(text)
    if not least <= value <= most:
        raise BadInput(name, f"must be between {least} and {most}, got {value}")
    return value


def _csrf_of(request: Request, form: dict[str, list[str]]) -> str | None:
    return request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) or [None])[0]


# ---------------------------------------------------------------------------------------------
# The application


def create_app(
    *,
    store=None,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    limits: Limits | None = None,
    tick_seconds: float = TICK_SECONDS,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
) -> Starlette:
    """The ASGI app. ``store``: a :class:`~.store.Store` (or ``data_dir``: the folder of its
    file; neither: rooms are kept in memory only). ``clock``: time for the rooms' deadlines.
    ``limits``: body size and rate limits (security.Limits). Rooms in the store are loaded now:
    a damaged store, or one another server holds, raises its one-line error here, before anything
    is served. A store made here from ``data_dir`` is closed (its file released) when the app stops."""
    from . import room  # noqa: F401  (imports the game: about a second, paid now rather than by the first request)

    own_store = store is None and data_dir is not None
    if own_store:
        from .store import Store

        store = Store(Path(data_dir) / "classroom.sqlite3")
    classroom = Classroom(store, clock)
    pages = Pages(classroom)
    views = _Views(classroom, pages, heartbeat_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def ticker():
            while True:
                await asyncio.sleep(tick_seconds)
                classroom.tick()

        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if own_store:
                store.close()

    routes = [
        Route("/", views.home, methods=["GET"], name="home"),
        Route("/rooms", views.create_room, methods=["POST"], name="create_room"),
        Route("/join", views.join, methods=["POST"], name="join"),
        Route("/rooms/{room_id}/events", views.events, methods=["GET"], name="events"),
        Route("/rooms/{room_id}/projector", views.projector, methods=["GET"], name="projector"),
        Route("/rooms/{room_id}/projector/panel", views.projector_panel, methods=["GET"], name="projector_panel"),
        Route("/rooms/{room_id}/seat/{token}", views.seat, methods=["GET"], name="seat"),
        Route("/rooms/{room_id}/seat/{token}/status", views.seat_status, methods=["GET"], name="seat_status"),
        Route("/rooms/{room_id}/seat/{token}/decision", views.seat_decision, methods=["GET"], name="seat_decision"),
        Route("/rooms/{room_id}/seat/{token}/submit", views.submit, methods=["POST"], name="submit"),
        Route("/rooms/{room_id}/debrief/{token}", views.debrief, methods=["GET"], name="debrief"),
        Route("/rooms/{room_id}/instructor/{token}", views.instructor, methods=["GET"], name="instructor"),
        Route("/rooms/{room_id}/instructor/{token}/panel", views.instructor_panel, methods=["GET"], name="panel"),
        Route("/rooms/{room_id}/instructor/{token}/export", views.export, methods=["GET"], name="export"),
        Route("/rooms/{room_id}/instructor/{token}/{action}", views.act, methods=["POST"], name="act"),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: views.http_error, Exception: views.server_error},
    )
    app.state.classroom = classroom
    app.add_middleware(Guard, limits=limits or Limits())
    return app


class _Views:
    """The request handlers (bound to one Classroom)."""

    def __init__(self, classroom: Classroom, pages: Pages, heartbeat_seconds: float):
        self.classroom, self.pages, self.heartbeat = classroom, pages, heartbeat_seconds

    # ------------------------------------------------------------------ errors

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        message = " ".join(str(exc.detail).split())  # one line
        if exc.status_code >= 500:
            log.error("%s %s: %s", request.method, request.url.path, message)
        if _wants_fragment(request) or request.url.path.endswith("/events"):
            return PlainTextResponse(message, status_code=exc.status_code)
        return self.pages.render(request, "error.html", status=exc.status_code, status_code=exc.status_code,
                                 message=message)  # fmt: skip

    async def server_error(self, request: Request, exc: Exception) -> Response:
        """The 500 page: the exception is logged here, the browser gets one sentence. (Starlette
        calls this outside the Guard, so the security headers are set here.)"""
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        try:  # the page itself must not be able to fail: plain text if the template does
            response = self.pages.render(request, "error.html", status=500, status_code=500,
                                         message="Something went wrong on the server. It has been logged; "
                                         "go back and try again.")  # fmt: skip
        except Exception:
            response = PlainTextResponse("Internal server error (logged).", status_code=500)
        response.headers.update({**HEADERS, "content-security-policy": CSP})
        return response

    # ------------------------------------------------------------------ home, create, join

    async def home(self, request: Request) -> Response:
        from ..scenario.config import builtin_scenarios, load_scenario, read_toml

        cookie = request.cookies.get(BROWSER_COOKIE) or new_browser_token()
        scenarios = {name: read_toml(path).get("description", "") for name, path in builtin_scenarios().items()}
        sc = load_scenario("baseline")
        names = sc.display_names()
        response = self.pages.render(
            request,
            "home.html",
            scenarios=scenarios,
            powers=[(p, names[p]) for p in sc.power_ids],
            hosts=[(h, names[h]) for h in sc.host_ids],
            csrf=cookie,
        )
        response.set_cookie(BROWSER_COOKIE, cookie, httponly=True, samesite="strict", path="/")
        return response

    async def create_room(self, request: Request) -> Response:
        form = await _form(request)
        check_browser_token(request.cookies.get(BROWSER_COOKIE), _csrf_of(request, form))
        from ..scenario.config import ConfigError, builtin_scenarios
        from .room import Room, RoomError

        scenario = _one(form, "scenario", "baseline")
        if scenario not in builtin_scenarios():
            raise BadInput("scenario", f"unknown scenario {scenario[:40]!r}")
        title = _one(form, "title", "")[:120]
        seed = _whole(form, "seed", least=0, most=2**63 - 1, default="0")
        minutes = _number(form, "phase_minutes", least=0.25, most=MAX_PHASE_SECONDS / 60, default="5")
        overrides: dict[str, str] = {}
        horizon = _one(form, "horizon_turns", "")
        if horizon:
            overrides["horizon_turns"] = str(_whole(form, "horizon_turns", least=1, most=400))
        lines = [line.strip() for line in _one(form, "overrides", "").splitlines() if line.strip()]
        if len(lines) > MAX_OVERRIDES:
            raise BadInput("overrides", f"at most {MAX_OVERRIDES} lines")
        for line in lines:
            key, eq, value = line.partition("=")
            if not eq or not key.strip():
                raise BadInput("overrides", f"each line is KEY=VALUE, got {line[:60]!r}")
            overrides[key.strip()] = value.strip()
        humans = tuple(form.get("human", []))
        try:
            room = Room.create(scenario, seed=seed, overrides=overrides, human_seats=humans,
                               phase_seconds=minutes * 60, title=title, clock=self.classroom.clock)  # fmt: skip
        except (RoomError, ConfigError) as exc:
            raise HTTPException(400, " ".join(str(exc).split())) from None
        self.classroom.add(room)
        return RedirectResponse(f"/rooms/{room.id}/instructor/{room.instructor_token}", status_code=303)

    async def join(self, request: Request) -> Response:
        form = await _form(request)
        check_browser_token(request.cookies.get(BROWSER_COOKIE), _csrf_of(request, form))
        code = _one(form, "code").replace(" ", "").replace("-", "")
        if not code.isalnum() or len(code) > 16:
            raise BadInput("code", "letters and digits only, as the instructor gave it")
        found = self.classroom.by_code(code)
        if found is None:
            raise BadInput("code", "no open seat has this code; check it with the instructor")
        room, seat = found
        return RedirectResponse(f"/rooms/{room.id}/seat/{seat.token}", status_code=303)

    # ------------------------------------------------------------------ live updates

    async def events(self, request: Request) -> Response:
        """Server-sent events of one room: ``event: update`` with the room's version, sent when
        it changes (and at once if the page's version ``v`` is already old). Public: it says
        only that something changed, never what."""
        room_id = request.path_params["room_id"]
        self.classroom.room(room_id)
        seen = request.query_params.get("v", "")

        async def stream():
            nonlocal seen
            yield "retry: 2000\n\n"
            while True:
                room = self.classroom.rooms.get(room_id)
                if room is None:
                    return
                if str(room.version) != seen:
                    seen = str(room.version)
                    yield f"event: update\ndata: {seen}\n\n"
                await self.classroom.wait(room_id, self.heartbeat)
                if room.version == int(seen):
                    yield ": keep-alive\n\n"

        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    # ------------------------------------------------------------------ projector

    async def projector(self, request: Request) -> Response:
        room = self.classroom.room(request.path_params["room_id"])
        return self.pages.render(request, "projector.html", room=room, public=room.public_view())

    async def projector_panel(self, request: Request) -> Response:
        room = self.classroom.room(request.path_params["room_id"])
        return self.pages.render(request, "_projector_panel.html", room=room, public=room.public_view())

    # ------------------------------------------------------------------ a seat

    def _seat(self, request: Request):
        from .room import SeatError

        room = self.classroom.room(request.path_params["room_id"])
        try:
            seat = room.seat_by_token(request.path_params["token"])
        except SeatError:
            raise HTTPException(403, "Forbidden: this link is not a seat of this room (or was reassigned).") from None
        return room, seat

    def _refused(self, request: Request, exc: Exception, page: str, context: Callable[[], dict]) -> Response:
        """400 for a bad form or a refused action: its one-line message as text to an htmx request,
        else ``page`` drawn again with the message (and the form's values, in ``context``)."""
        message = exc.detail if isinstance(exc, HTTPException) else " ".join(str(exc).split())
        if _wants_fragment(request):
            return PlainTextResponse(message, status_code=400)
        return self.pages.render(request, page, status=400, error=message, **context())

    def _seat_context(self, room, seat, values: dict | None = None) -> dict:
        view = room.view(seat.actor)
        legal = _legal_data(room, seat, view) if seat.human else {"kind": seat.kind, "decides": False}
        return {
            "room": room,
            "seat": seat,
            "view": view,
            "names": room.game.scenario.display_names(),
            "csrf": csrf_token(seat.token),
            "base": f"/rooms/{room.id}/seat/{seat.token}",
            "legal_data": legal,
            "legal_json": _json_block(legal),
            "offers": _offers_of(room, seat, view),
            "values": values or {},
        }

    async def seat(self, request: Request) -> Response:
        room, seat = self._seat(request)
        return self.pages.render(request, "seat.html", **self._seat_context(room, seat))

    async def seat_status(self, request: Request) -> Response:
        room, seat = self._seat(request)
        return self.pages.render(request, "_seat_status.html", **self._seat_context(room, seat))

    async def seat_decision(self, request: Request) -> Response:
        room, seat = self._seat(request)
        return self.pages.render(request, "_seat_decision.html", **self._seat_context(room, seat))

    async def submit(self, request: Request) -> Response:
        from .room import RoomError, SeatError

        room, seat = self._seat(request)
        form = await _form(request)
        check_csrf(seat.token, _csrf_of(request, form))
        actor = _one(form, "actor")
        if actor != seat.actor:
            raise HTTPException(403, f"Forbidden: this seat is {seat.actor}; it cannot act for {actor[:20]}.")
        view = room.view(seat.actor)
        try:
            key = _one(form, "phase_key")
            if key != _phase_key(view):
                raise BadInput("phase_key", f"the phase you decided for is over (now {_phase_text(view)}); "
                               "nothing was submitted")  # fmt: skip
            decision = _decision_of(form, seat, view, room)
            room.submit(seat.token, decision)
        except SeatError:
            raise HTTPException(403, "Forbidden: this link is no longer a seat of this room.") from None
        except (BadInput, RoomError) as exc:
            return self._refused(request, exc, "seat.html", lambda: self._seat_context(room, seat, values=form))
        self.classroom.changed(room)
        return RedirectResponse(f"/rooms/{room.id}/seat/{seat.token}", status_code=303)

    # ------------------------------------------------------------------ the debrief

    async def debrief(self, request: Request) -> Response:
        """The class summary for the instructor's token (at any time); a seat's own page for a
        seat's token, once the game is over (before, it would show the class how others played)."""
        from .room import SeatError

        room = self.classroom.room(request.path_params["room_id"])
        token = request.path_params["token"]
        seat = None
        try:
            room.check_instructor(token)
        except SeatError:
            try:
                seat = room.seat_by_token(token).actor
            except SeatError:
                raise HTTPException(403, "Forbidden: this link is not a seat of this room.") from None
        if seat is not None and room.status != "over":
            raise HTTPException(403, "Forbidden: your debrief opens when the instructor ends the game.")
        html = await self.classroom.debrief(room, seat)
        return HTMLResponse(html, headers={"content-security-policy": DEBRIEF_CSP, "cache-control": "no-store"})

    # ------------------------------------------------------------------ the instructor

    def _instructor(self, request: Request):
        from .room import SeatError

        room = self.classroom.room(request.path_params["room_id"])
        try:
            room.check_instructor(request.path_params["token"])
        except SeatError:
            raise HTTPException(403, "Forbidden: this is not the instructor's link of this room.") from None
        return room

    def _instructor_context(self, room) -> dict:
        return {
            "room": room,
            "public": room.public_view(),
            "csrf": csrf_token(room.instructor_token),
            "base": f"/rooms/{room.id}/instructor/{room.instructor_token}",
            "catalogue": room.catalogue(),
            "names": room.game.scenario.display_names(),
            "flags": room.public_view().get("submitted", {}),
        }

    async def instructor(self, request: Request) -> Response:
        room = self._instructor(request)
        return self.pages.render(request, "instructor.html", **self._instructor_context(room))

    async def instructor_panel(self, request: Request) -> Response:
        room = self._instructor(request)
        return self.pages.render(request, "_instructor_panel.html", **self._instructor_context(room))

    async def export(self, request: Request) -> Response:
        room = self._instructor(request)
        body = json.dumps(room.export(), indent=1, sort_keys=True) + "\n"
        name = f"room-{room.id}-turn{room.game.turn}.json"
        headers = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"}
        return Response(body, media_type="application/json", headers=headers)

    async def act(self, request: Request) -> Response:
        from .room import RoomError, SeatError

        room = self._instructor(request)
        action = request.path_params["action"]
        if action not in INSTRUCTOR_ACTIONS:
            raise HTTPException(404, f"No such instructor action: {action[:30]}.")
        form = await _form(request)
        token = room.instructor_token
        check_csrf(token, _csrf_of(request, form))
        try:
            notice = INSTRUCTOR_ACTIONS[action](room, token, form)
        except SeatError:
            raise HTTPException(403, "Forbidden: this is not the instructor's link of this room.") from None
        except (BadInput, RoomError) as exc:
            return self._refused(request, exc, "instructor.html", lambda: self._instructor_context(room))
        self.classroom.changed(room)
        if _wants_fragment(request):
            return self.pages.render(request, "_instructor_panel.html", notice=notice, **self._instructor_context(room))
        return RedirectResponse(f"/rooms/{room.id}/instructor/{token}", status_code=303)


# ---------------------------------------------------------------------------------------------
# Instructor actions: (room, instructor token, form) -> a sentence for the page


def _actor_field(room, form) -> str:
    actor = _one(form, "actor")
    if actor not in room.seats:
        raise BadInput("actor", f"no seat {actor[:20]!r} in this room")
    return actor


def _act_human(room, token, form) -> str:
    actor = _actor_field(room, form)
    human = _one(form, "human")
    if human not in ("0", "1"):
        raise BadInput("human", "must be 1 (a person plays) or 0 (its AI plays)")
    room.set_human(token, actor, human == "1")
    return f"{actor} is now played by {'a person' if human == '1' else 'its AI'}."


def _act_extend(room, token, form) -> str:
    seconds = _number(form, "seconds", least=1, most=MAX_PHASE_SECONDS)
    room.extend(token, seconds)
    return f"Deadline extended by {seconds:g} s."


def _act_inject(room, token, form) -> str:
    event = _one(form, "event")
    target = _one(form, "target", "") or None
    room.inject(token, event, target)
    return f"{event} will happen when the next turn opens."


def _act_branch(room, token, form) -> str:
    turn = _whole(form, "turn", least=1, most=10_000)
    room.branch(token, turn)
    return f"Back to the start of turn {turn}: a new branch."


def _act_reassign(room, token, form) -> str:
    actor = _actor_field(room, form)
    room.reassign(token, actor)
    return f"{actor} has a new link and code; the old ones no longer work."


def _simple(name: str) -> Callable:
    def act(room, token, form) -> str:
        getattr(room, name)(token)
        return f"{name.capitalize()}: done."

    return act


INSTRUCTOR_ACTIONS: dict[str, Callable] = {
    "start": _simple("start"),
    "pause": _simple("pause"),
    "resume": _simple("resume"),
    "force": _simple("force"),
    "end": _simple("end"),
    "extend": _act_extend,
    "human": _act_human,
    "reassign": _act_reassign,
    "inject": _act_inject,
    "branch": _act_branch,
}


# ---------------------------------------------------------------------------------------------
# A seat's decision: from the view to the form and back


def _phase_key(view: dict) -> str:
    return f"{view['turn']}:{view['phase']}:{view.get('status', '')}"


def _phase_text(view: dict) -> str:
    return f"turn {view['turn']}, {view['phase']}"


def _legal_data(room, seat, view: dict) -> dict:
    """What seat.js checks the form against (a JSON block in the page): ``Game.legal`` of the
    seat now, with the numbers a host needs to add up what it accepts. A seat that does not
    decide now: ``{"kind": ..., "decides": false}``."""
    game = room.game
    legal = game.legal(seat.actor) if not game.over else {"decides": False}
    if not legal.get("decides"):
        return {"kind": seat.kind, "decides": False}
    if seat.kind == "power":
        moves = {
            m: {
                "label": game.moves[m].label,
                "size_min": spec["size_min"],
                "size_max": spec["size_max"],
                "public_cost_share": spec["public_cost_share"],
                "targets": {h: {"size_max": t["size_max"], "room_max": _finite(t["room_max"])}
                            for h, t in spec["targets"].items()},
            }
            for m, spec in legal["moves"].items()
        }  # fmt: skip
        return {"kind": "power", "decides": True, "budget": legal["budget"], "max_offers": legal["max_offers"],
                "moves": moves}  # fmt: skip
    return {"kind": "host", "decides": True, "absorption_room": _finite(legal["absorption_room"]),
            "debt_room": _finite(legal["debt_room"])}  # fmt: skip


def _finite(x: float) -> float | None:
    """JSON has no infinity: 1e300 stands for "no limit"."""
    return x if math.isfinite(x) else 1e300


def _offer_value(o) -> str:
    """The value of a host's accept checkbox: power, move and size (repr: it reads back exactly)."""
    return f"{o.power}:{o.move}:{float(o.size_usd_bn)!r}"


def _offers_of(room, seat, view: dict) -> list[dict]:
    """A host deciding now: each offer made to it as the room's view gives it (what it would
    bring: ``Room.prospect``), with its checkbox value and its power's display name."""
    if seat.kind != "host" or "offers" not in view:
        return []
    names = room.game.scenario.display_names()
    out = []
    for o in view["offers"]:
        offer = Offer(o["power"], o["move"], o["host"], o["size_usd_bn"])
        out.append({**o, "value": _offer_value(offer), "power_name": names[o["power"]]})
    return out


def _decision_of(form: dict[str, list[str]], seat, view: dict, room) -> list[dict]:
    """The decision JSON ``Room.submit`` takes, from the seat's form; BadInput naming the field.

    A power's form has rows ``move_i``, ``host_i``, ``size_i`` (i from 0; a row with no move is
    empty); a host's form has checkboxes ``accept`` = "power:move:size" of the offers it takes."""
    if seat.kind == "power":
        rows = sorted({int(k.split("_")[1]) for k in form if k.split("_")[0] in ("move", "host", "size")
                       and k.count("_") == 1 and _digits(k.split("_")[1])})  # fmt: skip
        most = room.game.rules.max_offers_per_turn
        decision = []
        for i in rows:
            move, host, size = (_one(form, f"{f}_{i}", "") for f in ("move", "host", "size"))
            if not move:
                if host or size:
                    raise BadInput(f"move_{i}", "choose a move, or clear the row")
                continue
            if i >= most:
                raise BadInput(f"move_{i}", f"at most {most} offers a turn")
            if move not in room.game.moves:
                raise BadInput(f"move_{i}", f"unknown move {move[:40]!r}")
            if not host:
                raise BadInput(f"host_{i}", "choose a host")
            if host not in room.game.host_ids:
                raise BadInput(f"host_{i}", f"unknown host {host[:40]!r}")
            value = _number(form, f"size_{i}", least=0.0, most=1e6)
            decision.append({"move": move, "host": host, "size_usd_bn": value})
        return decision
    decision = []
    for value in form.get("accept", []):
        power, _, rest = value.partition(":")
        move, _, size = rest.rpartition(":")
        try:
            amount = float(size)
        except ValueError:
            raise BadInput("accept", f"not an offer: {value[:60]!r}") from None
        if not (power and move and math.isfinite(amount)):
            raise BadInput("accept", f"not an offer: {value[:60]!r}")
        decision.append({"power": power, "move": move, "size_usd_bn": amount})
    return decision
