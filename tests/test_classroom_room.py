"""Rooms without HTTP (classroom/room.py) and their store (classroom/store.py): seat isolation,
tokens and codes, the turn flow with a fake clock, the instructor's controls, going back to an
earlier turn, export and replay, and rooms surviving a restart."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import numpy as np
import pytest
from clitools import run_cli

from strategy_abm.classroom.record import dumps, replay
from strategy_abm.classroom.room import CODE_ALPHABET, Room, RoomError, SeatError
from strategy_abm.classroom.store import Store, StoreError


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _room(humans=("china", "us", "kaz"), turns=4, seed=1, clock=None, **kwargs) -> Room:
    return Room.create("baseline", seed=seed, overrides={"horizon_turns": str(turns)}, human_seats=humans,
                       phase_seconds=60, clock=clock or Clock(), **kwargs)  # fmt: skip


def _offer(room: Room, power: str, size: float | None = None, skip: int = 0) -> list[dict]:
    """A legal offer: the power's ``skip``-th affordable move with a target, to its first target."""
    moves = [(m, s) for m, s in room.game.legal(power)["moves"].items() if s["targets"]]
    move, spec = moves[skip]
    host = next(iter(spec["targets"]))
    return [{"move": move, "host": host, "size_usd_bn": spec["size_min"] if size is None else size}]


def _csvs(play) -> dict[str, str]:
    return {name: frame.to_csv(index=False) for name, frame in play.frames().items()}


def _tok(room: Room, actor: str) -> str:
    return room.seats[actor].token


def _to_responses(room: Room) -> None:
    """Both powers submit: the offers phase resolves."""
    room.submit(_tok(room, "china"), _offer(room, "china"))
    room.submit(_tok(room, "us"), _offer(room, "us"))


# ------------------------------------------------------------------------------------ seats


def test_a_power_never_sees_another_powers_pending_offers_or_private_state():
    room = _room()
    room.start(room.instructor_token)
    china_budget = room.game.powers["china"].budget_available
    # An offer with a size nobody else would pick, somewhere in China's bounds.
    china = _offer(room, "china", skip=1)
    legal = room.game.legal("china")["moves"][china[0]["move"]]
    china[0]["size_usd_bn"] = round(legal["size_min"] + 0.0123456789 * (legal["size_max"] - legal["size_min"]), 12)
    room.submit(_tok(room, "china"), china)
    assert room.game.phase == "offers"  # the US has not submitted yet
    us = room.view("us")
    text = json.dumps(us)
    assert repr(china[0]["size_usd_bn"]) not in text
    # Private state appears once, the US's own: the other powers' public facts only.
    assert text.count('"budget_available"') == 1 and text.count('"objectives"') == 1 and text.count('"owed"') == 1
    assert us["own"]["budget_available"] == room.game.powers["us"].budget_available != china_budget
    assert {k for p in us["powers"].values() for k in p} == {"toolkit", "offers_made", "offers_accepted"}
    assert us["submitted"]["china"] is True and us["my_submission"] is None  # who, not what
    assert set(us["own"]) >= {"budget_available", "toolkit", "objectives", "owed"}
    assert us["own"]["toolkit"] == dict(room.game.scenario.powers["us"].toolkit)
    for other in ("kaz", "g7"):  # no other seat sees it either, nor the projector
        assert repr(china[0]["size_usd_bn"]) not in json.dumps(room.view(other))
    assert repr(china[0]["size_usd_bn"]) not in json.dumps(room.public_view())
    assert room.view("china")["my_submission"] == china
    assert "own" not in room.public_view()
    # Once resolved, the host it was made to sees it, with what it would bring.
    room.submit(_tok(room, "us"), _offer(room, "us"))
    host = china[0]["host"]
    assert host in room.deciding()  # (seed 1: China's offer goes to Kazakhstan, a human seat)
    seen = room.view(host)["offers"]
    mine = [o for o in seen if o["power"] == "china" and o["size_usd_bn"] == china[0]["size_usd_bn"]]
    assert len(mine) == 1 and {"gdp_gain_pct", "jobs_k", "new_debt_usd_bn", "environment_damage"} <= set(mine[0])
    assert repr(china[0]["size_usd_bn"]) not in json.dumps(room.view("us"))  # the US still does not see it


def test_tokens_and_codes():
    room, other = _room(), _room()
    codes = [s.code for r in (room, other) for s in r.seats.values()]
    assert len(set(codes)) == len(codes) == 18  # unique among the open rooms
    assert all(len(c) == 6 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert all(len(s.token) >= 32 for s in room.seats.values())
    us = room.seats["us"]
    assert room.seat_by_token(us.token) is us and room.seat_by_code(f" {us.code.lower()} ") is us
    for bad in ("", "x" * 32, other.seats["us"].token):
        with pytest.raises(SeatError):
            room.seat_by_token(bad)
    with pytest.raises(SeatError):
        room.seat_by_code("ZZZZZZ" if us.code != "ZZZZZZ" else "YYYYYY")
    with pytest.raises(SeatError):
        room.start(us.token)  # a seat's token is not the instructor's
    assert room.status == "lobby"
    room.check_instructor(room.instructor_token)


def test_a_bad_submission_is_one_line_and_changes_nothing():
    room = _room()
    with pytest.raises(RoomError, match="not started"):
        room.submit(_tok(room, "us"), _offer(room, "us"))
    room.start(room.instructor_token)
    version = room.version
    bad = _offer(room, "us")
    bad[0]["size_usd_bn"] = "a lot"
    with pytest.raises(RoomError, match=r"^decision\[0\]\.size_usd_bn: must be a number$"):
        room.submit(_tok(room, "us"), bad)
    bad[0]["size_usd_bn"] = 1e6
    with pytest.raises(RoomError, match="outside its size bounds"):
        room.submit(_tok(room, "us"), bad)
    with pytest.raises(RoomError, match="not a move"):
        room.submit(_tok(room, "us"), [{"move": "bribe", "host": "kaz", "size_usd_bn": 1}])
    with pytest.raises(RoomError, match="does not decide in this phase"):
        room.submit(_tok(room, "kaz"), [])
    with pytest.raises(RoomError, match="must be a list"):
        room.submit(_tok(room, "us"), {"move": "x"})
    assert room.version == version and room.view("us")["my_submission"] is None


def test_views_are_made_once_per_room_version_and_follow_every_change():
    """The seats' views are cached per room version (a class's pages ask many times between two
    changes): the same until the room changes, then the new state, phase, flags and log."""
    from strategy_abm.classroom.room import _json

    clock = Clock()
    room = _room(clock=clock)
    room.start(room.instructor_token)
    first = room.view("us")
    clock.now += 10  # time alone changes only the common part: the time left
    again = room.view("us")
    assert again["legal"] is first["legal"] and again["hosts"] is room.public_view()["hosts"]
    assert again["seconds_left"] == first["seconds_left"] - 10
    room.submit(_tok(room, "china"), _offer(room, "china"))
    assert room.view("us")["submitted"]["china"] and room.view("china")["my_submission"]
    room.submit(_tok(room, "us"), _offer(room, "us"))  # the offers phase resolves
    after = room.view("kaz")
    assert after["phase"] == "responses" and after["decides"] and after["offers"]
    assert room.view("us")["my_offers"] and not room.view("us")["decides"]
    # every part of every seat's view is what the game gives now
    for actor in room.seats:
        view, obs = room.view(actor), room.game.observe(actor)
        for part in ("hosts", "powers", "routes", "metrics", "own"):
            assert view[part] == _json(getattr(obs, part)), (actor, part)
        assert view["legal"] == _json(room.game.legal(actor))
    room.force(room.instructor_token)  # the responses: turn 2 opens, last turn's fate in the views
    assert room.view("us")["turn"] == 2 and room.view("us")["last_turn"]["turn"] == 1
    assert room.public_view()["last_turn"]["turn"] == 1


# ------------------------------------------------------------------------------------ the turn flow


def test_the_phase_resolves_when_every_human_has_submitted_and_a_resubmission_replaces():
    room = _room()
    room.start(room.instructor_token)
    room.submit(_tok(room, "us"), _offer(room, "us"))
    room.submit(_tok(room, "us"), _offer(room, "us", skip=1))  # replaces the first
    assert room.game.phase == "offers"
    room.submit(_tok(room, "china"), _offer(room, "china"))
    entry = room.record["turns"][0]
    assert entry["offers"]["us"] == {"by": "human", "decision": _offer_after(room, "us")}
    assert entry["offers"]["g7"] == {"by": "ai"}
    assert (room.game.phase, room.deciding()) == ("responses", ["kaz"])  # (Kazakhstan received offers)
    assert "The US changed its decision" in room.log


def _offer_after(room, power):
    return room.record["turns"][0]["offers"][power]["decision"]


def test_a_missed_deadline_lets_the_ai_decide_and_says_so():
    clock = Clock()
    room = _room(clock=clock)
    room.start(room.instructor_token)
    assert room.deadline == clock.now + 60
    room.submit(_tok(room, "us"), _offer(room, "us"))
    clock.now += 59
    assert room.tick() is False and room.game.phase == "offers"
    clock.now += 1
    assert room.tick() is True
    assert room.record["turns"][0]["offers"]["china"] == {"by": "timeout"}
    assert "China missed the deadline: its AI decided" in room.log
    assert room.deadline == clock.now + 60  # the next phase's deadline
    # Played on until the end by the deadline alone: every human seat timed out.
    while room.status != "over":
        clock.now += 60
        assert room.tick()
    assert room.game.over and len(room.record["turns"]) == 4 and room.deadline is None
    assert _csvs(replay(room.export())) == _csvs(room.play)


def test_pause_resume_extend_and_force():
    clock = Clock()
    room = _room(clock=clock)
    tok = room.instructor_token
    room.start(tok)
    clock.now += 20
    room.pause(tok)
    clock.now += 1000
    assert room.tick() is False and room.view("us")["seconds_left"] == 40
    room.extend(tok, 30)
    room.resume(tok)
    assert room.deadline == clock.now + 70
    room.extend(tok, 5)
    assert room.deadline == clock.now + 75
    for bad in (0, -5, float("nan"), "10", 1e9):
        with pytest.raises(RoomError, match="seconds"):
            room.extend(tok, bad)
    room.force(tok)
    assert room.record["turns"][0]["offers"]["us"] == {"by": "timeout"}
    with pytest.raises(RoomError, match="not paused"):
        room.resume(tok)
    with pytest.raises(SeatError):
        room.force(_tok(room, "us"))


def test_ai_seats_never_block_the_room():
    room = _room(humans=())
    room.start(room.instructor_token)
    assert room.status == "over" and room.game.over  # nobody to wait for: played to the end at once
    assert all(e["offers"]["us"] == {"by": "ai"} for e in room.record["turns"])
    plain = replay(room.export())
    from strategy_abm import CompetitionModel

    model = CompetitionModel(scenario="baseline", seed=1, overrides=["horizon_turns=4"]).run()
    from strategy_abm.report.output import events_frame

    assert _csvs(plain)["events"] == events_frame(model).to_csv(index=False)


def test_set_human_and_reassign():
    room = _room()
    tok = room.instructor_token
    room.start(tok)
    room.submit(_tok(room, "us"), _offer(room, "us"))
    room.set_human(tok, "china", False)  # the last human left to wait for: resolves at once
    assert room.record["turns"][0]["offers"]["china"] == {"by": "ai"}
    assert "China is now played by its AI" in room.log
    with pytest.raises(RoomError, match="played by its AI"):
        room.submit(_tok(room, "china"), [])
    old = room.seats["us"].token, room.seats["us"].code
    seat = room.reassign(tok, "us")
    assert (seat.token, seat.code) != old and room.seat_by_token(seat.token) is seat
    with pytest.raises(SeatError):
        room.seat_by_token(old[0])
    with pytest.raises(RoomError, match="not a seat"):
        room.set_human(tok, "atlantis", True)


def test_inject_end_and_catalogue():
    room = _room()
    tok = room.instructor_token
    names = {e["name"]: e for e in room.catalogue()}
    assert names["commodity_slump"]["target"] == "required" and names["northern_disruption"]["target"] == "fixed"
    room.start(tok)
    with pytest.raises(RoomError, match="unknown event"):
        room.inject(tok, "alien_landing")
    with pytest.raises(RoomError, match="name the host"):
        room.inject(tok, "commodity_slump")
    with pytest.raises(SeatError):
        room.inject(_tok(room, "us"), "northern_disruption")
    assert room.record["turns"][0]["injected"] == []
    room.inject(tok, "commodity_slump", "kgz")
    assert room.record["turns"][0]["injected"] == [{"event": "commodity_slump", "target": "kgz"}]
    room.force(tok)
    room.force(tok)
    assert room.game.turn == 2
    assert any(r["status"] == "injected_event" and r["target"] == "kgz" for r in room.game.event_log)
    room.end(tok)
    assert room.status == "over"
    with pytest.raises(RoomError, match="over"):
        room.submit(_tok(room, "us"), [])
    assert _csvs(replay(room.export())) == _csvs(room.play)


def test_branch_back_to_an_earlier_turn():
    clock = Clock()
    room = _room(clock=clock)
    tok = room.instructor_token
    room.start(tok)
    for _ in range(2):  # turns 1 and 2: the US makes an offer, the other humans time out
        room.submit(_tok(room, "us"), _offer(room, "us"))
        room.force(tok)
        if room.game.phase == "responses":
            room.force(tok)
    assert (room.game.turn, room.game.phase) == (3, "offers")
    room.inject(tok, "debt_market_stress")  # in turn 3, to fire in turn 4
    room.submit(_tok(room, "us"), _offer(room, "us"))  # pending
    played = json.loads(json.dumps(room.record["turns"]))
    room.branch(tok, 2)
    assert [e["turn"] for e in room.record["turns"]] == [1, 2]
    assert room.record["turns"][1] == {"turn": 2, "injected": []}
    assert room.record["branches"] == [played[1:]]
    fresh = replay({**room.export(), "turns": played[:1]})
    assert _csvs(room.play) == _csvs(fresh)
    fresh.game.waiting()  # turn 2 opens, as in the room
    assert (room.game.turn, room.game.phase) == (fresh.game.turn, "offers") == (2, "offers")
    for name in ("hosts", "powers", "routes", "trade", "acceptance"):
        assert np.array_equal(getattr(room.game.state, name), getattr(fresh.game.state, name), equal_nan=True), name
    assert room.view("us")["my_submission"] is None and room.game.injected == ()
    with pytest.raises(RoomError, match="from 1 to 2"):
        room.branch(tok, 3)
    assert room.status == "running" and room.deadline == clock.now + 60
    # The branch plays on, and its export replays to the same game (the branches kept aside).
    room.submit(_tok(room, "us"), _offer(room, "us", skip=1))
    room.force(tok)
    assert _csvs(replay(room.export())) == _csvs(room.play)


def test_export_replays_to_the_rooms_own_run_folder(tmp_path):
    room = _room()
    tok = room.instructor_token
    room.start(tok)
    room.submit(_tok(room, "us"), _offer(room, "us"))
    room.submit(_tok(room, "china"), _offer(room, "china"))
    if "kaz" in room.deciding():
        room.submit(_tok(room, "kaz"), [])
    room.inject(tok, "northern_disruption")
    room.force(tok)
    room.write_run(tmp_path / "room", plots=False)
    path = tmp_path / "room.json"
    path.write_text(dumps(room.export()), encoding="utf-8")
    code, _, stderr = run_cli("replay", path, "--out", tmp_path / "replayed", "--no-plots", "--quiet")
    assert code == 0, stderr
    for name in ("model.csv", "actors.csv", "events.csv", "summary.json"):
        assert (tmp_path / "replayed" / name).read_bytes() == (tmp_path / "room" / name).read_bytes(), name
    again = Room.from_export(room.export(), human_seats=["us"])
    assert again.status == "paused" and _csvs(again.play) == _csvs(room.play)


# ------------------------------------------------------------------------------------ the store


def test_rooms_survive_a_restart(tmp_path):
    clock = Clock()
    path = tmp_path / "data" / "classroom.sqlite3"
    store = Store(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lobby = _room(clock=clock)
    running = _room(clock=clock, seed=4)
    running.start(running.instructor_token)
    running.submit(_tok(running, "us"), _offer(running, "us"))  # pending when the server stops
    paused = _room(clock=clock, seed=5, humans=("kaz",))
    paused.start(paused.instructor_token)
    paused.inject(paused.instructor_token, "starlink_kaz")
    if paused.status == "running":
        paused.pause(paused.instructor_token)
    rooms = {r.id: r for r in (lobby, running, paused)}
    for r in rooms.values():
        store.save(r)
    store.close()
    back = Store(path).load_all(clock=clock)  # a new process: a new store on the same file
    assert set(back) == set(rooms)
    for room_id, room in rooms.items():
        again = back[room_id]
        assert (again.status, again.game.turn, again.game.phase) == (room.status, room.game.turn, room.game.phase)
        assert again.record == room.record and again.log == room.log
        for actor in ("us", "china", "kaz"):
            assert json.dumps(again.view(actor)) == json.dumps(room.view(actor))
        assert json.dumps(again.public_view()) == json.dumps(room.public_view())
    # The pending submission survived: China's submission resolves the phase as it would have.
    china = _offer(running, "china")
    running.submit(_tok(running, "china"), china)
    back[running.id].submit(_tok(running, "china"), china)
    assert back[running.id].record == running.record
    assert _csvs(back[running.id].play) == _csvs(running.play)


def test_a_server_killed_without_closing_its_store_loses_no_save(tmp_path):
    """The store writes ahead (WAL, synced at checkpoints): a server process that dies without
    closing leaves its log beside the file (owner-only, like the file) and the next one reads
    every save from it."""
    import subprocess
    import sys

    path = tmp_path / "classroom.sqlite3"
    code = (
        "import os, sys\n"
        "from strategy_abm.classroom.room import Room\n"
        "from strategy_abm.classroom.store import Store\n"
        "store = Store(sys.argv[1])\n"
        "room = Room.create('baseline', overrides={'horizon_turns': '3'}, human_seats=('us',))\n"
        "room.start(room.instructor_token)\n"
        "room.force(room.instructor_token)\n"
        "store.save(room)\n"
        "print(room.id, room.game.turn, room.game.phase, room.version)\n"
        "sys.stdout.flush()\n"
        "os._exit(0)  # killed: no close, no checkpoint\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    room_id, turn, phase, version = out.stdout.split()
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and stat.S_IMODE(os.stat(wal).st_mode) == 0o600
    back = Store(path).load_all()
    assert (back[room_id].game.turn, back[room_id].game.phase) == (int(turn), phase) == (2, "offers")
    assert back[room_id].version == int(version) and back[room_id].status == "running"


def test_a_damaged_or_foreign_store_file_is_refused_and_left_alone(tmp_path):
    junk = tmp_path / "classroom.sqlite3"
    junk.write_bytes(b"not a database at all" * 10)
    before = junk.read_bytes()
    with pytest.raises(StoreError) as err:
        Store(junk)
    assert str(junk) in str(err.value) and "\n" not in str(err.value)
    assert junk.read_bytes() == before
    foreign = tmp_path / "other.sqlite3"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        Store(foreign)
    assert foreign.read_bytes() == before
    # A store whose file was cut short.
    good = tmp_path / "good.sqlite3"
    store = Store(good)
    store.save(_room())
    store.close()
    good.write_bytes(good.read_bytes()[:200])
    before = good.read_bytes()
    with pytest.raises(StoreError, match="good.sqlite3"):
        Store(good).load_all()
    assert good.read_bytes() == before


def test_a_store_in_use_by_another_server_is_refused_in_one_line_and_left_alone(tmp_path):
    """Two servers on one file would each save their own copy of the rooms over the other's
    (students' decisions lost): the file belongs to the store that opened it until it is closed."""
    path = tmp_path / "classroom.sqlite3"
    first = Store(path)
    room = _room()
    first.save(room)

    def files():  # the store and its write-ahead log (WAL mode: saves sit there until a checkpoint)
        return [p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()]

    before = files()
    with pytest.raises(StoreError) as err:
        Store(path)  # a second `serve` (or `play`) on the same data folder
    message = str(err.value)
    assert message.startswith(str(path)) and "in use" in message and "\n" not in message
    assert "damaged" not in message
    assert files() == before
    first.close()  # (checkpoints the log into the file)
    before = files()
    other = sqlite3.connect(path, isolation_level=None)  # any other program writing to it
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreError, match="in use"):
        Store(path)
    other.execute("ROLLBACK")
    other.close()
    assert files() == before
    again = Store(path)  # once the others are gone
    assert set(again.load_all()) == {room.id}
    again.close()


def test_the_store_lives_in_the_user_data_folder(tmp_path, monkeypatch):
    from strategy_abm.classroom.store import default_path

    monkeypatch.setenv("STRATEGY_ABM_DATA", str(tmp_path / "mine"))
    assert default_path() == tmp_path / "mine" / "classroom.sqlite3"
    monkeypatch.delenv("STRATEGY_ABM_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "strategy_abm" / "classroom.sqlite3"
    store = Store()
    room = _room()
    store.save(room)
    store.delete(room.id)
    store.close()
    assert Store().load_all() == {}


def test_a_finished_game_branched_is_paused_and_replays_its_own_future():
    """Back to turn 2 of a game the AI played to its end: the room waits, paused; resumed, the AI
    seats play the same turns again (the same seed: the same game), the old ones kept aside."""
    room = _room(humans=())
    tok = room.instructor_token
    room.start(tok)
    assert room.status == "over"
    before, csvs = json.loads(json.dumps(room.record["turns"])), _csvs(room.play)
    room.branch(tok, 2)
    assert (room.status, room.game.turn, room.deadline) == ("paused", 2, None)
    room.resume(tok)
    assert room.status == "over" and room.record["turns"] == before and _csvs(room.play) == csvs
    assert room.record["branches"] == [before[1:]]
