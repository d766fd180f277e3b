"""The classroom web app, every endpoint through Starlette's TestClient (no network): creating and
joining rooms, what a seat may see and do (isolation: 403), bad input (400 naming the field),
CSRF, the instructor's controls, deadlines, persistence across a restart, the live-update stream,
the export, the debrief, and the serve/play commands (without serving)."""

from __future__ import annotations

import html
import json
import re
import threading
import time

import pytest
from starlette.testclient import TestClient

from strategy_abm.classroom.app import create_app
from strategy_abm.classroom.security import csrf_token
from strategy_abm.classroom.store import StoreError


class Clock:
    """A settable clock for the rooms' deadlines."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, clock):
    return create_app(data_dir=tmp_path, clock=clock, tick_seconds=3600, heartbeat_seconds=0.2)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def make_room(client, humans=("us", "kaz"), **fields):
    """Create a room through the home page's form; returns (room, instructor page path)."""
    client.get("/")
    data = {"csrf": client.cookies["sabm_csrf"], "scenario": "baseline", "title": "Test class", "seed": "0",
            "horizon_turns": "3", "phase_minutes": "5", "human": list(humans), **fields}  # fmt: skip
    r = client.post("/rooms", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    path = r.headers["location"]
    room_id = path.split("/")[2]
    return client.app.state.classroom.rooms[room_id], path


def act(client, room, action, **fields):
    base = f"/rooms/{room.id}/instructor/{room.instructor_token}"
    data = {"csrf": csrf_token(room.instructor_token), **fields}
    return client.post(f"{base}/{action}", data=data, follow_redirects=False)


def seat_url(room, actor):
    return f"/rooms/{room.id}/seat/{room.seats[actor].token}"


def legal_offer(room, power):
    """One legal offer of ``power`` now, from the game's own legal(): the first move and target."""
    legal = room.game.legal(power)
    for move, spec in legal["moves"].items():
        for host, target in spec["targets"].items():
            size = min(spec["size_min"], target["size_max"])
            return move, host, size
    raise AssertionError(f"{power} has no legal offer")


def submit_offers(client, room, power, rows, **extra):
    data = {"csrf": csrf_token(room.seats[power].token), "actor": power, "phase_key": phase_key(room, power)}
    for i, (move, host, size) in enumerate(rows):
        data |= {f"move_{i}": move, f"host_{i}": host, f"size_{i}": repr(size)}
    data |= extra
    return client.post(f"{seat_url(room, power)}/submit", data=data, follow_redirects=False)


def phase_key(room, actor) -> str:
    view = room.view(actor)
    return f"{view['turn']}:{view['phase']}:{view['status']}"


# ------------------------------------------------------------------------------ rooms and pages


def test_creating_a_room_leads_to_its_instructor_page_with_every_seat(client):
    room, path = make_room(client)
    assert path == f"/rooms/{room.id}/instructor/{room.instructor_token}"
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    for actor, seat in room.seats.items():
        assert f'data-testid="seat-code-{actor}">{seat.code}<' in page.text
        assert f'href="/rooms/{room.id}/seat/{seat.token}"' in page.text
    assert room.seats["us"].human and room.seats["kaz"].human and not room.seats["china"].human
    controls = ("start", "end", "inject-form", "branch", "export-link", "debrief-link", "human-toggle-china")
    controls += ("reassign-us", "seats", "white-cell", "log")
    for testid in controls:
        assert f'data-testid="{testid}"' in page.text
    assert room.status == "lobby" and room.title == "Test class"


def test_the_projector_shows_the_room_but_no_token(client):
    room, _ = make_room(client)
    page = client.get(f"/rooms/{room.id}/projector")
    assert page.status_code == 200 and 'data-testid="projector-panel"' in page.text
    assert room.instructor_token not in page.text
    for seat in room.seats.values():
        assert seat.token not in page.text
    panel = client.get(f"/rooms/{room.id}/projector/panel")
    assert panel.status_code == 200 and "<html" not in panel.text


def test_joining_with_a_code_opens_the_seat(client):
    room, _ = make_room(client)
    code = room.seats["kaz"].code
    r = client.post("/join", data={"csrf": client.cookies["sabm_csrf"], "code": code.lower()}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == seat_url(room, "kaz")
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'data-actor="kaz"' in page.text


def test_a_seat_page_carries_its_own_token_and_no_other(client):
    room, _ = make_room(client)
    act(client, room, "start")
    page = client.get(seat_url(room, "us"))
    assert page.status_code == 200
    assert 'data-actor="us"' in page.text and csrf_token(room.seats["us"].token) in page.text
    for actor, seat in room.seats.items():
        if actor != "us":
            assert seat.token not in page.text and csrf_token(seat.token) not in page.text
    assert room.instructor_token not in page.text
    # The form: one row per allowed offer, validated against the legal bounds in a JSON block.
    legal = json.loads(html.unescape(re.search(r'data-legal="([^"]*)"', page.text).group(1)))
    game_legal = room.game.legal("us")
    assert legal["budget"] == pytest.approx(game_legal["budget"])
    assert set(legal["moves"]) == set(game_legal["moves"])
    for i in range(game_legal["max_offers"]):
        assert f'data-testid="move-{i}"' in page.text and f'data-testid="size-{i}"' in page.text
    for part in ("status", "decision"):
        r = client.get(f"{seat_url(room, 'us')}/{part}")
        assert r.status_code == 200 and "<html" not in r.text


# ------------------------------------------------------------------------------ isolation


def test_a_seat_cannot_act_for_another_seat(client):
    room, _ = make_room(client)
    act(client, room, "start")
    move, host, size = legal_offer(room, "us")
    r = submit_offers(client, room, "us", [(move, host, size)], actor="china")
    assert r.status_code == 403 and "cannot act for china" in r.text
    assert not room.view("us")["submitted"]["us"]


def test_a_wrong_or_foreign_token_is_403(client):
    room, _ = make_room(client)
    other, _ = make_room(client, humans=("china",))
    assert client.get(f"/rooms/{room.id}/seat/not-a-token").status_code == 403
    # A real seat token of another room does not open a seat here.
    assert client.get(f"/rooms/{room.id}/seat/{other.seats['china'].token}").status_code == 403
    assert client.get(f"/rooms/{room.id}/seat/{other.seats['china'].token}/status").status_code == 403


def test_instructor_actions_and_pages_need_the_instructor_token(client):
    room, _ = make_room(client)
    seat_token = room.seats["us"].token
    for path in ("", "/panel", "/export"):
        assert client.get(f"/rooms/{room.id}/instructor/{seat_token}{path}").status_code == 403
    r = client.post(f"/rooms/{room.id}/instructor/{seat_token}/start", data={"csrf": csrf_token(seat_token)})
    assert r.status_code == 403
    assert room.status == "lobby"


# ------------------------------------------------------------------------------ CSRF


def test_a_submission_without_or_with_another_seats_csrf_token_is_403(client):
    room, _ = make_room(client)
    act(client, room, "start")
    move, host, size = legal_offer(room, "us")
    r = submit_offers(client, room, "us", [(move, host, size)], csrf="")
    assert r.status_code == 403
    r = submit_offers(client, room, "us", [(move, host, size)], csrf=csrf_token(room.seats["kaz"].token))
    assert r.status_code == 403
    assert not room.view("us")["submitted"]["us"]
    r = client.post(f"/rooms/{room.id}/instructor/{room.instructor_token}/pause", data={})
    assert r.status_code == 403 and room.status == "running"
    # The header form of the token (htmx requests) is accepted too.
    headers = {"x-csrf-token": csrf_token(room.instructor_token)}
    path = f"/rooms/{room.id}/instructor/{room.instructor_token}/pause"
    r = client.post(path, headers=headers, data={}, follow_redirects=False)
    assert r.status_code == 303 and room.status == "paused"


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"seed": "-1"}, "seed: must be between 0"), ({"seed": "x"}, "seed: must be a whole number"),
     ({"scenario": "nope"}, "scenario: unknown scenario"), ({"phase_minutes": "0"}, "phase_minutes: must be between"),
     ({"horizon_turns": "zero"}, "horizon_turns: must be a whole number"),
     ({"overrides": "no equals sign"}, "overrides: each line is KEY=VALUE")],
)  # fmt: skip
def test_creating_a_room_with_bad_input_is_400_naming_the_field(client, fields, message):
    client.get("/")
    data = {"csrf": client.cookies["sabm_csrf"], "scenario": "baseline", **fields}
    r = client.post("/rooms", data=data, follow_redirects=False)
    assert r.status_code == 400
    assert message in r.text
    assert "Traceback" not in r.text


def test_a_bad_decision_is_400_naming_the_field_and_the_form_keeps_its_values(client):
    room, _ = make_room(client)
    act(client, room, "start")
    move, host, _ = legal_offer(room, "us")
    r = submit_offers(client, room, "us", [(move, host, "abc")])
    assert r.status_code == 400 and "size_0: must be a number" in r.text
    assert 'data-testid="error-message"' in r.text and f'<option value="{move}" selected>' in r.text
    r = submit_offers(client, room, "us", [("warp_drive", host, 1.0)])
    assert r.status_code == 400 and "move_0: unknown move" in r.text
    r = submit_offers(client, room, "us", [(move, "", 1.0)])
    assert r.status_code == 400 and "host_0: choose a host" in r.text
    r = submit_offers(client, room, "us", [(move, host, 1e5)])  # beyond the move's bounds or the budget
    assert r.status_code == 400
    r = submit_offers(client, room, "us", [(move, host, 1.0)], phase_key="1:responses:running")
    assert r.status_code == 400 and "phase_key: the phase you decided for is over" in r.text
    assert not room.view("us")["submitted"]["us"]


@pytest.mark.parametrize(
    ("action", "fields", "message"),
    [("extend", {"seconds": "-5"}, "seconds: must be between"), ("human", {"actor": "us", "human": "2"}, "human:"),
     ("human", {"actor": "mars", "human": "1"}, "actor: no seat"), ("branch", {"turn": "x"}, "turn: must be a whole"),
     ("inject", {"event": "no_such_event"}, "no_such_event")],
)  # fmt: skip
def test_instructor_actions_with_bad_input_are_400(client, action, fields, message):
    room, _ = make_room(client)
    act(client, room, "start")
    r = act(client, room, action, **fields)
    assert r.status_code == 400 and message in r.text and "Traceback" not in r.text
    assert act(client, room, "warp").status_code == 404


@pytest.mark.parametrize("digits", ["²", "①", "1²", "--1"])  # isdigit() (after a "-") says yes, int() no
def test_whole_numbers_in_odd_digits_are_400_not_500(client, digits):
    client.get("/")
    for name in ("seed", "horizon_turns"):
        data = {"csrf": client.cookies["sabm_csrf"], "scenario": "baseline", name: digits}
        r = client.post("/rooms", data=data, follow_redirects=False)
        assert r.status_code == 400 and f"{name}: must be a whole number" in r.text, (name, r.status_code)
    room, _ = make_room(client)
    act(client, room, "start")
    r = act(client, room, "branch", turn=digits)
    assert r.status_code == 400 and "turn: must be a whole number" in r.text
    move, host, size = legal_offer(room, "us")  # a row numbered in such digits is no row of the form
    r = submit_offers(client, room, "us", [], **{f"move_{digits}": move, f"host_{digits}": host,
                                                 f"size_{digits}": repr(size)})  # fmt: skip
    assert r.status_code == 303 and room.record["turns"][0]["offers"]["us"] == {"by": "human", "decision": []}


# ------------------------------------------------------------------------------ the turn flow


def test_a_turn_played_by_two_students_and_the_ai(client):
    room, _ = make_room(client)
    assert act(client, room, "start").status_code == 303
    assert room.status == "running" and room.game.phase == "offers"
    move, host, size = legal_offer(room, "us")
    r = submit_offers(client, room, "us", [(move, host, size)])
    assert r.status_code == 303 and r.headers["location"] == seat_url(room, "us")
    # us was the only human power: the offers phase resolved at once.
    offers = room.export()["turns"][0]["offers"]
    assert offers["us"] == {"by": "human", "decision": [{"move": move, "host": host, "size_usd_bn": size}]}
    assert offers["china"] == {"by": "ai"}
    if "kaz" in room.game.waiting():  # kaz received offers: it decides
        page = client.get(seat_url(room, "kaz"))
        values = re.findall(r'name="accept" value="([^"]+)"', page.text)
        assert values
        data = {"csrf": csrf_token(room.seats["kaz"].token), "actor": "kaz", "phase_key": phase_key(room, "kaz"),
                "accept": []}  # fmt: skip
        r = client.post(f"{seat_url(room, 'kaz')}/submit", data=data, follow_redirects=False)
        assert r.status_code == 303
        assert room.export()["turns"][0]["responses"]["kaz"] == {"by": "human", "accepted": []}
    assert room.game.turn == 2 or room.game.phase == "offers"


def test_a_missed_deadline_lets_the_ai_decide_and_the_log_says_so(client, clock):
    room, _ = make_room(client)
    act(client, room, "start")
    assert room.deadline == pytest.approx(clock.now + 300)
    clock.now += 301
    client.app.state.classroom.tick()
    assert room.export()["turns"][0]["offers"]["us"] == {"by": "timeout"}
    assert any("missed the deadline" in line for line in room.log)
    page = client.get(f"/rooms/{room.id}/instructor/{room.instructor_token}")
    assert "missed the deadline" in page.text


def test_instructor_controls_change_the_room(client, clock):
    room, _ = make_room(client)
    assert act(client, room, "start").status_code == 303 and room.status == "running"
    deadline = room.deadline
    assert act(client, room, "extend", seconds="90").status_code == 303
    assert room.deadline == pytest.approx(deadline + 90)
    assert act(client, room, "pause").status_code == 303 and room.status == "paused"
    assert act(client, room, "resume").status_code == 303 and room.status == "running"
    assert act(client, room, "human", actor="china", human="1").status_code == 303 and room.seats["china"].human
    old = room.seats["us"].token
    assert act(client, room, "reassign", actor="us").status_code == 303
    assert room.seats["us"].token != old
    assert client.get(f"/rooms/{room.id}/seat/{old}").status_code == 403
    assert client.get(seat_url(room, "us")).status_code == 200
    event = room.catalogue()[0]
    target = "kaz" if event.get("target") not in (None, "", "none") else ""
    assert act(client, room, "inject", event=event["name"], target=target).status_code == 303
    assert act(client, room, "force").status_code == 303
    assert room.game.phase == "responses" or room.game.turn == 2
    assert act(client, room, "force").status_code == 303
    assert room.game.turn == 2 and room.game.phase == "offers"
    assert act(client, room, "branch", turn="1").status_code == 303
    assert room.game.turn <= 1 and room.record.get("branches")
    assert act(client, room, "end").status_code == 303 and room.status == "over"


def test_the_export_is_the_record_as_a_download(client):
    from strategy_abm.classroom.record import replay, validate_record

    room, _ = make_room(client)
    act(client, room, "start")
    act(client, room, "force")
    act(client, room, "force")
    r = client.get(f"/rooms/{room.id}/instructor/{room.instructor_token}/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    record = validate_record(json.loads(r.text))
    assert record["format"] == "strategy_abm.room" and record["seed"] == 0 and len(record["turns"]) >= 1
    assert len(replay(record).reports) == room.game.turn - (0 if room.game.over else 1)


def test_the_debrief_is_the_instructors_at_any_time_and_a_seats_once_the_game_is_over(client):
    from strategy_abm.classroom.app import DEBRIEF_CSP

    room, _ = make_room(client, humans=("us",), horizon_turns="3")
    act(client, room, "start")
    move, host, size = legal_offer(room, "us")
    assert submit_offers(client, room, "us", [(move, host, size)]).status_code == 303
    act(client, room, "force")  # us misses turn 2's offers; the AI answers
    assert room.game.turn == 3 and room.status == "running"
    instructor = client.get(f"/rooms/{room.id}/debrief/{room.instructor_token}")
    assert instructor.status_code == 200 and "<html" in instructor.text.lower()
    assert instructor.headers["content-security-policy"] == DEBRIEF_CSP and "script-src" not in DEBRIEF_CSP
    assert "the US" in instructor.text
    seat = client.get(f"/rooms/{room.id}/debrief/{room.seats['us'].token}")
    assert seat.status_code == 403 and "when the instructor ends the game" in seat.text
    assert client.get(f"/rooms/{room.id}/debrief/not-a-token").status_code == 403
    act(client, room, "end")
    seat = client.get(f"/rooms/{room.id}/debrief/{room.seats['us'].token}")
    assert seat.status_code == 200 and seat.text != instructor.text
    assert f'href="/rooms/{room.id}/debrief/{room.seats["us"].token}"' in client.get(seat_url(room, "us")).text


# ------------------------------------------------------------------------------ persistence


def test_a_new_app_on_the_same_data_folder_resumes_every_room_at_the_same_phase(tmp_path, clock):
    first = create_app(data_dir=tmp_path, clock=clock, tick_seconds=3600)
    with TestClient(first) as c:
        room, _ = make_room(c)
        act(c, room, "start")
        move, host, size = legal_offer(room, "us")
        assert submit_offers(c, room, "us", [(move, host, size)]).status_code == 303
        state = (room.id, room.game.turn, room.game.phase, room.status, room.seats["us"].token)
        record = room.export()
        with pytest.raises(StoreError, match="in use by another program"):  # a second server meanwhile
            create_app(data_dir=tmp_path, clock=clock, tick_seconds=3600)
    second = create_app(data_dir=tmp_path, clock=clock, tick_seconds=3600)  # the first has stopped
    resumed = second.state.classroom.rooms[state[0]]
    assert (resumed.id, resumed.game.turn, resumed.game.phase, resumed.status, resumed.seats["us"].token) == state
    assert resumed.export()["turns"] == record["turns"]
    with TestClient(second) as c:
        assert c.get(f"/rooms/{resumed.id}/seat/{state[4]}").status_code == 200


# ------------------------------------------------------------------------------ live updates


def test_the_event_stream_sends_an_update_after_a_submission(client):
    room, _ = make_room(client)
    act(client, room, "start")
    before = room.version
    move, host, size = legal_offer(room, "us")
    seen: list[str] = []
    with client.stream("GET", f"/rooms/{room.id}/events?v={before}") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        poster = threading.Thread(target=lambda: submit_offers(client, room, "us", [(move, host, size)]))
        poster.start()
        deadline = time.monotonic() + 20
        for line in lines:  # keep-alive comments every 0.2 s bound the wait
            seen.append(line)
            if line.startswith("data: ") or time.monotonic() > deadline:
                break
        poster.join(20)
    assert "event: update" in seen
    assert int(seen[-1].removeprefix("data: ")) == room.version > before


def test_the_event_stream_of_an_unknown_room_is_404(client):
    assert client.get("/rooms/nope/events").status_code == 404


# ------------------------------------------------------------------------------ the commands


def test_play_creates_a_running_room_with_one_human_seat_and_prints_its_link(tmp_path, monkeypatch, capsys):
    from strategy_abm import cli
    from strategy_abm.classroom import server

    served, opened = [], []
    monkeypatch.setattr(server, "run", lambda app, sock: (served.append(app), sock.close()))
    monkeypatch.setattr(server.webbrowser, "open", opened.append)
    assert cli.main(["play", "--as", "kaz", "--seed", "3", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    url = re.search(r"play kaz: (http://127\.0\.0\.1:\d+/rooms/\S+/seat/\S+)", out).group(1)
    assert opened == [url]
    (room,) = served[0].state.classroom.rooms.values()
    assert [a for a, s in room.seats.items() if s.human] == ["kaz"]
    assert room.status == "running" and room.export()["seed"] == 3
    assert url.endswith(f"/rooms/{room.id}/seat/{room.seats['kaz'].token}")
    assert (tmp_path / "classroom.sqlite3").exists()


def test_play_and_serve_refuse_bad_options_in_one_line(tmp_path, capsys):
    from strategy_abm import cli

    assert cli.main(["play", "--as", "mars", "--no-browser", "--data", str(tmp_path)]) == 2
    assert "argument --as: unknown seat 'mars'" in capsys.readouterr().err
    assert cli.main(["play", "--as", "us", "--scenario", "nope", "--no-browser"]) == 2
    assert cli.main(["serve", "--port", "70000"]) == 2
    assert "argument --port: must be at most 65535" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["play", "--as", "us", "--no-browser"]])
def test_a_data_folder_that_is_a_file_is_a_bad_argument(tmp_path, capsys, command):
    from strategy_abm import cli

    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    for data in (notes, notes / "sub"):
        assert cli.main([*command, "--data", str(data)]) == 2
        err = capsys.readouterr().err
        assert err == f"strategy-abm: error: argument --data: {str(notes)!r} is a file, not a folder\n"
    assert notes.read_text() == "keep me" and list(tmp_path.iterdir()) == [notes]


def test_serve_refuses_a_damaged_rooms_file_and_leaves_it(tmp_path, capsys):
    from strategy_abm import cli

    (tmp_path / "classroom.sqlite3").write_bytes(b"not a database at all")
    assert cli.main(["serve", "--port", "0", "--data", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "classroom.sqlite3" in err
    assert (tmp_path / "classroom.sqlite3").read_bytes() == b"not a database at all"


def test_serve_on_loopback_prints_its_address_and_no_warning(tmp_path, monkeypatch, capsys):
    from strategy_abm import cli
    from strategy_abm.classroom import server

    monkeypatch.setattr(server, "run", lambda app, sock: sock.close())
    assert cli.main(["serve", "--port", "0", "--data", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert re.search(r"classroom: http://127\.0\.0\.1:\d+/ ", captured.out)
    assert "warning" not in captured.err


def test_a_white_cell_event_is_the_instructors_secret_until_it_fires(client):
    room, path = make_room(client)
    act(client, room, "start")
    assert act(client, room, "inject", event="commodity_slump", target="kgz").status_code == 303
    assert "commodity_slump" in client.get(path).text  # the instructor sees it queued
    for page in (seat_url(room, "us"), seat_url(room, "kaz"), f"/rooms/{room.id}/projector"):
        assert "commodity_slump" not in client.get(page).text, page
    act(client, room, "force")
    act(client, room, "force")  # turn 2 opens: the event fires and is public news
    assert room.game.turn == 2
    assert any(r["status"] == "injected_event" and r["target"] == "kgz" for r in room.game.event_log)
    assert "queued-events" not in client.get(path).text


def test_serve_takes_a_rate_limit_for_a_class_behind_one_address(tmp_path, monkeypatch, capsys):
    from strategy_abm import cli
    from strategy_abm.classroom import server

    seen = {}
    monkeypatch.setattr(server, "run", lambda app, sock: (seen.update(app=app), sock.close()))
    assert cli.main(["serve", "--port", "0", "--data", str(tmp_path), "--rate-limit", "200"]) == 0
    guard = next(m for m in seen["app"].user_middleware if m.cls.__name__ == "Guard")
    assert (guard.kwargs["limits"].rate, guard.kwargs["limits"].burst) == (200.0, 1200.0)
    assert cli.main(["serve", "--port", "0", "--rate-limit", "0"]) == 2
    assert "argument --rate-limit: must be at least 1, got 0" in capsys.readouterr().err


def test_each_pages_live_panel_listens_to_its_room_and_fetches_its_own_fragment(client):
    """Instructor, projector and seat pages each hold one element on the room's event stream
    whose panel is refetched, on each update, from the page's own fragment URL, which answers."""
    import re

    room, path = make_room(client)
    pages = {
        path: ("instructor-panel", f"{path}/panel"),
        f"/rooms/{room.id}/projector": ("projector-panel", f"/rooms/{room.id}/projector/panel"),
        seat_url(room, "us"): ("status-panel", f"{seat_url(room, 'us')}/status"),
    }
    for page_path, (panel, fragment) in pages.items():
        text = client.get(page_path).text
        assert text.count(f'sse-connect="/rooms/{room.id}/events?v={room.version}"') == 1, page_path
        tag = re.search(rf'<\w+[^>]* id="{panel}" data-testid="{panel}"[^>]*>', text)
        assert tag, page_path
        assert f'hx-get="{fragment}"' in tag.group(0) and 'hx-trigger="sse:update"' in tag.group(0)
        assert client.get(fragment).status_code == 200, fragment
