"""The classroom's record and its replay (classroom/record.py), ``Game.inject`` (engine/turn.py) and
``strategy-abm replay``.

A record keeps only the people's decisions and the White Cell's injections: replaying it on the
same scenario and seed gives the same game (common random numbers), a recorded decision that is
not legal where it was recorded is refused naming the turn and the seat, and a counterfactual
replay (some seats back to their AI) falls back on the seat's strategy where a decision no longer
fits, and says so."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from classroomtools import play_record
from clitools import one_error_line, run_cli

from strategy_abm import CompetitionModel, Game, load_scenario
from strategy_abm.classroom.record import (
    Fallback,
    RecordError,
    dumps,
    load_record,
    loads,
    replay,
    validate_record,
)
from strategy_abm.report.output import events_frame
from strategy_abm.strategies import StrategyError

TURNS = "4"


def _own_choice(game: Game, actor: str) -> list:
    """What the actor's own configured strategy decides now (asked from outside the game)."""
    strategy, obs = game.actor(actor).strategy, game.observe(actor)
    return list(strategy.propose(obs) if game.phase == "offers" else strategy.respond(obs))


def _smallest_first_move(game: Game, power: str) -> list:
    """A legal decision no doctrine makes: the smallest offer of the power's first affordable move
    to its first target."""
    from strategy_abm.engine.projects import Offer

    legal = game.legal(power)
    move, spec = next((m, s) for m, s in legal["moves"].items() if s["targets"])
    host = next(iter(spec["targets"]))
    return [Offer(power, move, host, spec["size_min"])]


def _accept_all_that_fit(game: Game, host: str) -> list:
    return list(game.legal(host)["acceptable"])[:1]


def _csvs(play) -> dict[str, str]:
    return {name: frame.to_csv(index=False) for name, frame in play.frames().items()}


# ------------------------------------------------------------------------------------ Game.inject


def test_inject_refuses_what_it_cannot_fire_and_leaves_the_game_unchanged():
    game = Game(load_scenario("baseline", ["horizon_turns=3"]), 0)
    game.waiting()
    before = pickle.dumps(game)
    cases = [
        (("no_such_event", None), "unknown event 'no_such_event'"),
        (("commodity_slump", None), "name the host"),  # a random_host event: nothing is drawn for it
        (("commodity_slump", "mars"), "'mars' is not a host id"),
        (("northern_disruption", "kaz"), "it has no target"),
        (("starlink_kaz", "tjk"), None),  # acts on {host}: any host may be named
    ]
    for args, message in cases:
        if message is None:
            continue
        with pytest.raises(StrategyError, match=message):
            game.inject(*args)
        assert game.injected == ()
    assert pickle.dumps(game) == before
    game.inject("starlink_kaz", "tjk")
    assert game.injected == (("starlink_kaz", "tjk"),)
    while game.turn < 3:
        game.play_turn()
        game.waiting()
    with pytest.raises(StrategyError, match="no turn left"):  # injected in the last turn: it would never fire
        game.inject("debt_market_stress")
    game.play_turn()
    with pytest.raises(StrategyError, match="no turn left"):
        game.inject("debt_market_stress")


def test_an_injected_event_fires_when_the_next_turn_opens_and_draws_nothing():
    """The event fires at turn 2's opening, after the scheduled events; the shocks schedule and
    every actor's stream are those of the game without it (common random numbers)."""
    sc = load_scenario("baseline", ["horizon_turns=12"])
    plain, hit = Game(sc, 5), Game(sc, 5)
    for g in (plain, hit):
        g.waiting()
    hit.inject("debt_market_stress")
    hit.inject("commodity_slump", "kgz")  # a random shock, fired on the host named
    seen = {}
    for g in (plain, hit):
        g.play_turn()
        seen[g] = (g.hosts["kaz"].creditors["private"]["rate"], g.hosts["kgz"].gdp_usd_bn)
        g.waiting()  # turn 2 opens
    assert seen[hit] == seen[plain]  # nothing happened in the turn they were injected in
    added = hit.hosts["kaz"].creditors["private"]["rate"] - plain.hosts["kaz"].creditors["private"]["rate"]
    assert added == pytest.approx(0.02, abs=1e-12)
    assert hit.hosts["kgz"].gdp_usd_bn == pytest.approx(plain.hosts["kgz"].gdp_usd_bn * 0.97, rel=1e-12)
    rows = [r for r in hit.event_log if r["status"] == "injected_event"]
    assert [(r["turn"], r["move"], r["target"]) for r in rows] == [(2, "debt_market_stress", ""),
                                                                    (2, "commodity_slump", "kgz")]  # fmt: skip
    opened = [r for r in hit.event_log if r["turn"] == 2 and r["actor"] == "world"]
    assert opened[-1]["status"] == "injected_event"  # after the turn's scheduled events
    streams: dict[Game, list] = {plain: [], hit: []}
    while not plain.over:
        for g in (plain, hit):  # each actor's generator of the turn, read without drawing from it
            streams[g].append([g.observe(a).rng.bit_generator.state["state"] for a in g.actor_order])
            g.play_turn()
            g.waiting()
    assert streams[plain] == streams[hit]
    shocks = {g: [(r["turn"], r["status"], r["move"], r["target"]) for r in g.event_log
                  if r["status"] in ("scripted_event", "random_event")] for g in (plain, hit)}  # fmt: skip
    assert shocks[plain] == shocks[hit]
    assert any(s[1] == "random_event" for s in shocks[plain])  # (seed 5 has shocks in 12 turns)
    assert plain.metrics != hit.metrics  # the injection changed the game


# ------------------------------------------------------------------------------------ replay


@pytest.fixture(scope="module")
def human_game():
    """Seed 2, four turns: the US makes its smallest first offer every turn; Kazakhstan accepts
    one offer that fits; a debt-market stress injected in turn 1."""
    humans = {"us": _smallest_first_move, "kaz": _accept_all_that_fit}
    return play_record(2, humans, inject={1: [("debt_market_stress", None)], 2: [("commodity_slump", "kgz")]})


def test_a_record_with_human_decisions_replays_to_identical_outputs_twice(human_game):
    record, live = human_game
    assert any(e["offers"]["us"]["decision"] for e in record["turns"])
    first, second = replay(record), replay(copy.deepcopy(record))
    assert len(first.reports) == 4 and first.game.over
    assert _csvs(first) == _csvs(second) == _csvs(live)
    assert first.reports == live.reports
    # The decisions mattered: the same seed with every seat AI is another game.
    plain = CompetitionModel(scenario="baseline", seed=2, overrides=["horizon_turns=4"]).run()
    assert events_frame(plain).to_csv(index=False) != _csvs(first)["events"]
    assert {r.decided_by["us"] for r in first.reports} == {"submitted"}


def test_a_record_of_the_ais_own_decisions_equals_a_plain_run(tmp_path):
    """Every human seat decided what its AI would have: `strategy-abm replay` writes the CSVs and
    summary that `strategy-abm run` writes for the same scenario, seed and overrides."""
    record, _ = play_record(3, {"us": _own_choice, "china": _own_choice, "kaz": _own_choice, "tjk": _own_choice})
    assert sum(bool(e["offers"]["china"]["decision"]) for e in record["turns"]) >= 1
    path = tmp_path / "room.json"
    path.write_text(dumps(record), encoding="utf-8")
    code, stdout, stderr = run_cli("replay", path, "--out", tmp_path / "replayed", "--no-plots")
    assert code == 0, stderr
    assert "replayed 4 turns (the whole game)" in stdout and "influence" in stdout  # the end-of-game table
    code, _, stderr = run_cli("run", "--seed", "3", "--set", f"horizon_turns={TURNS}", "--out", tmp_path / "run",
                              "--no-plots", "--quiet")  # fmt: skip
    assert code == 0, stderr
    for name in ("model.csv", "actors.csv", "events.csv", "summary.json"):
        assert (tmp_path / "replayed" / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name


def test_an_illegal_recorded_decision_names_its_turn_and_seat(human_game):
    record, _ = human_game
    broken = copy.deepcopy(record)
    broken["turns"][1]["offers"]["us"]["decision"][0]["size_usd_bn"] = 1e6  # far beyond the budget
    with pytest.raises(RecordError, match=r"^turns\[1\]\.offers\.us \(turn 2, us\): us: .*outside its size bounds"):
        replay(broken)
    broken = copy.deepcopy(record)
    taken = next(e for e in broken["turns"] if e["responses"].get("kaz", {}).get("accepted"))
    taken["responses"]["kaz"]["accepted"][0]["size_usd_bn"] += 0.5  # an offer no one made
    n = taken["turn"]
    with pytest.raises(RecordError, match=rf"^turns\[{n - 1}\]\.responses\.kaz \(turn {n}, kaz\): .*not made"):
        replay(broken)


def test_a_lenient_counterfactual_falls_back_on_the_seats_strategy(human_game):
    """With the US back to its AI, Kazakhstan's recorded acceptances of the US's human offers
    name offers no longer made: strict replay refuses, lenient replay lets Kazakhstan's strategy
    decide those turns and lists them; the result is the game where those entries were AI."""
    record, _ = human_game
    kaz = [(e["turn"], e["responses"].get("kaz", {}).get("accepted", [])) for e in record["turns"]]
    us_offers_taken = [turn for turn, accepted in kaz if any(a["power"] == "us" for a in accepted)]
    assert us_offers_taken  # the fixture's Kazakhstan took at least one US offer
    with pytest.raises(RecordError, match=r"\(turn \d, kaz\)"):
        replay(record, ai_seats={"us"})
    play = replay(record, ai_seats={"us"}, lenient=True)
    assert [(f.turn, f.phase, f.seat) for f in play.fallbacks] == [(t, "responses", "kaz") for t in us_offers_taken]
    assert all("not made" in f.reason for f in play.fallbacks)
    assert isinstance(play.fallbacks[0], Fallback)
    by_hand = copy.deepcopy(record)
    for e in by_hand["turns"]:
        e["offers"]["us"] = {"by": "ai"}
        if e["turn"] in us_offers_taken:
            e["responses"]["kaz"] = {"by": "ai"}
    assert _csvs(play) == _csvs(replay(by_hand))
    assert replay(record, upto_turn=2).game.turn == 2 and len(replay(record, upto_turn=2).reports) == 2


def test_an_unfinished_turn_leaves_the_game_in_its_phase(human_game):
    record, _ = human_game
    cut = copy.deepcopy(record)
    cut["turns"] = cut["turns"][:3]
    cut["turns"][2].pop("responses")
    play = replay(cut)
    assert (play.game.turn, play.game.phase, len(play.reports)) == (3, "responses", 2)
    cut["turns"][2].pop("offers")
    play = replay(cut)
    assert (play.game.turn, play.game.phase) == (3, "offers")
    assert play.game.injected == ()  # turn 3 had no injection
    cut["turns"] = cut["turns"][:2]
    cut["turns"][1].pop("responses")
    cut["turns"][1].pop("offers")
    assert replay(cut).game.injected == (("commodity_slump", "kgz"),)  # to fire in turn 3


# ------------------------------------------------------------------------------------ validation


def _base() -> dict:
    return {
        "format": "strategy_abm.room", "version": 1, "scenario": "baseline", "seed": 0,
        "overrides": {"horizon_turns": "3"},
        "turns": [{"turn": 1, "injected": [{"event": "debt_market_stress", "target": None}],
                   "offers": {"us": {"by": "human", "decision": [{"move": "blended_finance", "host": "kaz",
                                                                  "size_usd_bn": 0.5}]},
                              "china": {"by": "ai"}},
                   "responses": {"kaz": {"by": "timeout"}}}],
    }  # fmt: skip


def _with(path: str, value) -> dict:
    data = _base()
    *parents, last = path.split("/")
    node = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


D = "turns/0/offers/us/decision/0/"  # the first offer of the US's decision
DP = "turns[0].offers.us.decision[0]"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(D + "size_usd_bn", "big"), f"{DP}.size_usd_bn: must be a number"),
        (_with(D + "size_usd_bn", True), f"{DP}.size_usd_bn: must be a number"),
        (_with(D + "host", "mars"), f"{DP}.host: 'mars' is not a host"),
        (_with(D + "move", "teleport"), f"{DP}.move: 'teleport' is not a move"),
        (_with(D + "colour", "red"), f"{DP}.colour: unknown field"),
        (_with("turns/0/offers/kaz", {"by": "ai"}), "turns[0].offers.kaz: not a seat of this phase"),
        (_with("turns/0/offers/china/decision", []), "turns[0].offers.china.decision: only a 'human' entry"),
        (_with("turns/0/offers/us/decision", KeyError), "turns[0].offers.us.decision: a 'human' entry must give it"),
        (_with("turns/0/offers/us/by", "robot"), "turns[0].offers.us.by: must be one of human, ai, timeout"),
        (_with("turns/0/injected/0/event", "alien_landing"), "turns[0].injected[0].event: 'alien_landing' is not"),
        (_with("turns/0/injected/0/target", "mars"), "turns[0].injected[0].target: must be a host id"),
        (_with("turns/0/turn", 2), "turns[0].turn: must be 1"),
        (_with("turns/0/offers", KeyError), "turns[0].responses: given without offers"),
        (_with("scenario", "atlantis"), "scenario: must be a built-in scenario name"),
        (_with("seed", -1), "seed: must be a whole number, 0 or more"),
        (_with("seed", 1.5), "seed: must be a whole number, 0 or more"),
        (_with("overrides", {"horizon_turns": "0"}), "overrides: horizon_turns"),
        (_with("overrides", {"horizon_turns": 3}), "overrides.horizon_turns: must be a string"),
        (_with("overrides", {"horizon_turns": "0"}), "overrides: "),
        (_with("format", "diplomacy"), "format: must be 'strategy_abm.room'"),
        (_with("version", 2), "version: this program reads version 1, got 2"),
        (_with("colour", "red"), "record.colour: unknown field"),
        (_with("turns", [{"turn": 1}, {"turn": 2}]), "turns[0]: only the last turn may be unfinished"),
        (_with("turns", [{"turn": n} for n in range(1, 5)]), "turns: 4 turns from turn 1, more than the game's 3"),
    ],
)  # fmt: skip
def test_a_wrong_field_is_named_by_its_path(data, message):
    with pytest.raises(RecordError) as err:
        validate_record(data)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_a_valid_record_round_trips_through_its_file(tmp_path):
    record = validate_record(_base())
    assert record["turns"][0]["offers"]["us"]["decision"][0]["size_usd_bn"] == 0.5
    path = tmp_path / "r.json"
    path.write_text(dumps(record), encoding="utf-8")
    assert load_record(path) == record
    assert dumps(record) == json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    with pytest.raises(RecordError, match=r"^record: not valid JSON \(line 1"):
        loads("{nope")
    with pytest.raises(RecordError, match="NaN is not a number"):
        loads(dumps(record).replace("0.5", "NaN"))
    with pytest.raises(RecordError, match="no such file"):
        load_record(tmp_path / "missing.json")


def test_a_record_file_that_never_ends_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    """A pipe or a device (``replay /dev/zero``) has no size to check first: reading it whole
    would exhaust the memory. At most the limit and one byte are read."""
    import os
    import threading

    from strategy_abm.classroom import record as record_module

    monkeypatch.setattr(record_module, "MAX_RECORD_BYTES", 1_000_000)
    fifo = tmp_path / "endless.json"
    os.mkfifo(fifo)
    written = []

    def writer():  # a bounded "endless" stream: 20 MB in 64 KiB chunks, until the reader hangs up
        with open(fifo, "wb") as f:
            try:
                for _ in range(320):
                    f.write(b" " * 65536)
                    written.append(65536)
            except BrokenPipeError:
                pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with pytest.raises(RecordError, match=r"^endless\.json: record: larger than 1 MB"):
        load_record(fifo)
    thread.join(10)
    assert sum(written) < 3_000_000  # the reader stopped near the limit (plus the pipe's buffer)


# ------------------------------------------------------------------------------------ the command


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{nope", "room.json: record: not valid JSON"),
        (json.dumps(_with("seed", "zero")), "room.json: seed: must be a whole number"),
        (dumps(_with("turns/0/offers/us/decision/0/size_usd_bn", 1e6)), "room.json: turns[0].offers.us (turn 1, us)"),
    ],
)
def test_replay_bad_input_is_one_line_and_writes_nothing(tmp_path, content, expected):
    path = tmp_path / "room.json"
    path.write_text(content, encoding="utf-8")
    code, stdout, stderr = run_cli("replay", path, "--out", tmp_path / "out", "--no-plots", "--quiet")
    assert code == 2 and stdout == ""
    assert one_error_line(stderr).startswith(f"strategy-abm: error: {expected}")
    assert not (tmp_path / "out").exists()


def test_replay_refuses_an_unsafe_out_as_run_does(tmp_path):
    path = tmp_path / "room.json"
    path.write_text(dumps(validate_record(_base())), encoding="utf-8")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, stdout, stderr = run_cli("replay", path, "--out", mine, "--no-plots", "--quiet")
    assert code == 2 and stdout == ""
    assert "--out" in one_error_line(stderr)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    code, _, stderr = run_cli("replay", tmp_path / "absent.json", "--out", tmp_path / "o")
    assert code == 2 and "no such file" in one_error_line(stderr)
