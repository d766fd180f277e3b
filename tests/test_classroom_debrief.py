"""The classroom debrief (classroom/debrief.py, ``strategy-abm debrief``): pages of a recorded game,
the seats' decisions, turning points traced to their causes, refusals by reason, and
counterfactuals on common random numbers whose differences are checked against games played
directly."""

from __future__ import annotations

import html
import json
import re

import classroomtools
import pytest
from clitools import one_error_line, run_cli

from strategy_abm import Game, load_scenario
from strategy_abm.classroom.debrief import KEY_METRICS, analyse, debrief_html, key_metrics, write_debrief
from strategy_abm.classroom.record import (
    RecordError,
    dumps,
    new_record,
    replay,
)
from strategy_abm.engine.projects import Offer
from strategy_abm.report.folders import MARKERS

LOAN = Offer("china", "policy_bank_loan", "tkm", 2.5)  # far above what Turkmenistan's AI takes on


def play_record(humans: dict, *, turns: int = 8, seed: int = 0) -> dict:
    """A game played as a room plays it (tests/classroomtools.py); returns the record."""
    return classroomtools.play_record(seed, humans, turns=turns)[0]


def own(game: Game, seat: str) -> list:
    """What the seat's own AI decides now (asked from outside the game)."""
    strategy, obs = game.actor(seat).strategy, game.observe(seat)
    return list(strategy.propose(obs) if game.phase == "offers" else strategy.respond(obs))


def china_lends(game: Game, seat: str) -> list:
    return [LOAN] if game.turn == 4 else own(game, seat)


def tkm_borrows(game: Game, seat: str) -> list:
    return [LOAN] if game.turn == 4 else own(game, seat)


@pytest.fixture(scope="module")
def loan_record() -> dict:
    """8 turns, two human seats: China offers Turkmenistan a USD 2.5 bn policy-bank loan in turn 4
    and Turkmenistan accepts it (and nothing else that turn); otherwise both play as their AI."""
    return play_record({"china": china_lends, "tkm": tkm_borrows})


@pytest.fixture(scope="module")
def written(loan_record, tmp_path_factory):
    out = tmp_path_factory.mktemp("debrief") / "class"
    return write_debrief(loan_record, out)


def text_of(page: str) -> str:
    """A page's text: tags dropped, entities decoded, whitespace collapsed (none before punctuation)."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return re.sub(r" ([,.;:)])", r"\1", text)


def payoff_total(seat: str, submit: dict, turns: int = 8) -> float:
    """A seat's payoff-years in a game played directly (no record): ``submit`` maps a seat to
    ``choose(game, seat)``, everyone else its AI."""
    game = Game(load_scenario("baseline", [f"horizon_turns={turns}"]), 0)
    while not game.over:
        for _ in ("offers", "responses"):
            for a in game.waiting():
                if a in submit:
                    game.submit(a, submit[a](game, a))
            game.advance()
    return game.actor(seat).payoff_total


def test_a_debrief_of_a_recorded_game_is_written(written, loan_record):
    out = written.parent
    assert written == out / "index.html"
    assert sorted(p.name for p in out.glob("*.html")) == ["index.html", "seat-china.html", "seat-tkm.html"]
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == sorted(["influence.png", "debt.png", "routes.png", "payoffs.png", "diversification.png",
                              "seat-china.png", "seat-tkm.png"])  # fmt: skip
    for page in out.glob("*.html"):
        body = page.read_text(encoding="utf-8")
        assert "<script" not in body.lower() and "http://" not in body and "https://" not in body  # no CDN, no JS
        for src in re.findall(r'src="([^"]+)"', body):
            assert (out / src).is_file(), src  # every figure the page shows is there
    # The run folder of the game as played: the files `strategy-abm run --no-plots` writes, the same bytes
    # as `strategy-abm replay` of the record.
    run = out / "run"
    assert {p.name for p in run.iterdir()} >= {"model.csv", "actors.csv", "events.csv", "summary.json", "config.toml"}
    frames = replay(loan_record).frames()
    for name, frame in frames.items():
        assert (run / f"{name}.csv").read_text() == frame.to_csv(index=False)
    marker = json.loads((out / MARKERS["debrief"]).read_text())
    assert "index.html" in marker["files"] and "run/model.csv" in marker["files"]


def test_the_pages_name_each_human_seats_decisions(written, loan_record):
    out = written.parent
    index, china, tkm = (text_of((out / n).read_text()) for n in ("index.html", "seat-china.html", "seat-tkm.html"))
    assert "Seats held by students: China, Turkmenistan." in index
    assert "to Turkmenistan: USD 2.50 bn policy-bank loan: accepted" in china
    assert "from China: USD 2.50 bn policy-bank loan: accepted" in tkm
    # Every decision of the record appears on its seat's page, with its fate from the turn's report.
    reports = replay(loan_record).reports
    sc = load_scenario("baseline")
    for entry, report in zip(loan_record["turns"], reports, strict=True):
        for o in report.offers:
            if o.offer.power == "china":
                fate = "accepted" if o.accepted else f"refused ({o.reason})"
                assert (f"to {'Turkmenistan' if o.offer.host == 'tkm' else sc.display_names()[o.offer.host]}: USD "
                        f"{o.offer.size_usd_bn:.2f} bn {sc.moves[o.offer.move].label}: {fate}") in china  # fmt: skip
        made = entry["offers"]["china"]["decision"]
        assert [(d["move"], d["host"]) for d in made] == [
            (o.offer.move, o.offer.host) for o in report.offers if o.offer.power == "china"
        ]


def test_turning_points_point_at_the_turn_and_the_cause(loan_record):
    d = analyse(loan_record, counterfactuals=False)
    top = d.turning_points[0]
    assert top.turn == 4 and top.metric.subject == "tkm"
    assert top.metric.column in {"china_debt_share_tkm", "debt_to_gdp_tkm", "debt_service_ratio_tkm"}
    first = top.causes[0]
    assert first.kind == "accepted" and "China offered Turkmenistan a USD 2.50 bn policy-bank loan" in first.text
    assert first.human == ("china", "tkm")  # made and accepted by students
    # The loan is the jump: Turkmenistan's debt/GDP rises by its size over GDP (a loan adds debt at once).
    tp = next(t for t in d.turning_points if t.metric.column == "debt_to_gdp_tkm")
    assert tp.turn == 4
    gdp = d.played.series("gdp_usd_bn_tkm")[4]
    assert tp.change == pytest.approx(2.5 / gdp, rel=0.1)


def test_a_seat_that_played_as_its_ai_changed_nothing():
    record = play_record({"us": own, "kaz": own})
    d = analyse(record)
    cf = d.counterfactuals["us"]
    assert cf.payoffs["us"].final == 0.0 and cf.payoffs["us"].path_max == 0.0
    assert cf.metrics == () and cf.unchanged == len(key_metrics(d.played.model, d.scenario))
    assert cf.play.fallbacks == ()
    # The right value: the AI's own game, played directly.
    assert cf.payoffs["us"].played == payoff_total("us", {}) == cf.payoffs["us"].counterfactual
    assert d.counterfactuals["all"].payoffs["kaz"].final == 0.0


def test_a_different_choice_shows_in_the_payoff_with_the_right_sign():
    """The US seat makes no offer in 8 turns: it spends nothing, so the cost term of its payoff is
    0 while its AI pays for projects whose influence builds up with a lag: its payoff is higher
    than its AI's over a short game (a positive difference), by what two direct games give."""

    def nothing(game, seat):
        return []

    record = play_record({"us": nothing})
    d = analyse(record)
    diff = d.counterfactuals["us"].payoffs["us"]
    direct = payoff_total("us", {"us": nothing}) - payoff_total("us", {})
    assert diff.final == pytest.approx(direct, abs=1e-12) and diff.final > 0.5
    assert diff.counterfactual == payoff_total("us", {})
    assert len(d.counterfactuals) == 1  # one human seat: "every human seat by its AI" is the same game


def test_a_counterfactual_replays_the_other_students_as_far_as_legal(loan_record):
    d = analyse(loan_record)
    # China by its AI makes no such loan: Turkmenistan's recorded acceptance of it has nothing to
    # match; its AI answers that turn, and the page lists it.
    falls = d.counterfactuals["china"].play.fallbacks
    assert [(f.turn, f.phase, f.seat) for f in falls] == [(4, "responses", "tkm")]
    assert "policy_bank_loan" in falls[0].reason
    assert d.counterfactuals["china"].payoffs["china"].final != 0.0
    page = text_of(debrief_html(loan_record, "china", counterfactuals=False))
    assert "data:image/png;base64," in debrief_html(loan_record, None, counterfactuals=False)
    assert "Counterfactuals were not computed" in page


def test_refusals_are_counted_by_reason():
    def us(game, seat):
        if game.turn == 1:  # two offers Turkmenistan's closed_neutral doctrine refuses, one above Tajik room
            return [Offer("us", "training", "tkm", 0.1), Offer("us", "soft_infrastructure", "tkm", 0.1),
                    Offer("us", "grant_aid", "tjk", 0.29)]  # fmt: skip
        return []

    def kgz(game, seat):
        return []  # Kyrgyzstan's students accept nothing

    record = play_record({"us": us, "kgz": kgz}, turns=2)
    d = analyse(record, counterfactuals=False)
    assert d.refusals["us"] == {"refused by its strategy (closed_neutral)": 2, "no absorption room": 1}
    received = [o for r in d.played.reports for o in r.offers if o.offer.host == "kgz"]
    assert received and not any(o.accepted for o in received)
    assert sum(d.refusals["kgz"].values()) == len(received)
    assert set(d.refusals["kgz"]) <= {"refused by the submitted decision", "no absorption room", "debt ceiling"}


def test_a_debrief_at_any_turn_covers_the_finished_turns(loan_record):
    record = json.loads(json.dumps(loan_record))
    record["turns"] = record["turns"][:4]
    del record["turns"][3]["responses"]  # turn 4's offers are in, its responses not yet
    d = analyse(record, counterfactuals=False)
    assert d.turns == 3 and list(d.played.model["turn"]) == [0, 1, 2, 3]
    assert [t.turn for t in d.decisions["china"]] == [1, 2, 3]


def test_key_metrics_are_the_scenarios_columns():
    sc = load_scenario("baseline")
    game = replay(new_record("baseline", overrides={"horizon_turns": "1"}))
    metrics = key_metrics(game.frames()["model"], sc)
    assert len(metrics) == len(sc.power_ids) + 4 * len(sc.host_ids) + len(sc.route_ids) + 2
    assert {m.column.split("_")[0] for m in metrics} <= {p.split("_")[0] for p, *_ in KEY_METRICS}


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ('{"format": "strategy_abm.room", "version": 1, "scenario": "baseline", "seed": -1, "turns": []}', "seed"),
    ],
)
def test_a_bad_record_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, content, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "room.json").write_text(content)
    code, _, err = run_cli("debrief", "room.json", "--out", "deb")
    assert code == 2 and message in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["room.json"]


def test_an_illegal_recorded_decision_or_an_unsafe_out_is_refused(tmp_path, monkeypatch, loan_record):
    monkeypatch.chdir(tmp_path)
    bad = json.loads(json.dumps(loan_record))
    bad["turns"][1]["offers"]["china"]["decision"] = [{"move": "policy_bank_loan", "host": "kaz", "size_usd_bn": 999}]
    (tmp_path / "bad.json").write_text(dumps(bad))
    code, _, err = run_cli("debrief", "bad.json", "--out", "deb")
    assert code == 2 and "turn 2, china" in one_error_line(err)
    (tmp_path / "good.json").write_text(dumps(loan_record))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep\n")
    for out, message in (("mine", "non-empty folder"), (".", "current folder")):
        code, _, err = run_cli("debrief", "good.json", "--out", out, "--no-counterfactuals")
        assert code == 2 and message in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "good.json", "mine"]
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    with pytest.raises(RecordError):
        analyse({"format": "strategy_abm.room"})
    with pytest.raises(ValueError, match="seat: 'mars'"):
        debrief_html(loan_record, "mars", counterfactuals=False)


def test_the_pages_escape_what_people_typed_and_show_a_game_not_yet_started():
    record = new_record("baseline", overrides={"horizon_turns": "4"}, title='<script>alert("x")</script> & co')
    page = debrief_html(record)  # no turn played: no figure, no counterfactual, still a page
    assert "<script>" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in page
    assert "no turn played yet" in page and "<img" not in page


def test_disk_full_while_writing_a_debrief_keeps_the_earlier_one_and_leaves_nothing_else(tmp_path, monkeypatch,
                                                                                         loan_record):  # fmt: skip
    """A debrief is written whole or not at all (report.folders.written_whole, as a run folder):
    a write failing part-way is one line, exit 3, and the earlier debrief stays as it was."""
    import errno
    import os

    from strategy_abm.classroom import debrief as module

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "game.json"
    path.write_text(json.dumps(loan_record))
    out = tmp_path / "debrief"
    assert run_cli("debrief", path, "--out", out)[0] == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    pages = []

    def render(*args, **kwargs):
        pages.append(args)
        if len(pages) == 2:  # the instructor's page made, a seat's fails
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return "<html></html>"

    monkeypatch.setattr(module, "render", render)
    code, stdout, stderr = run_cli("debrief", path, "--out", out)
    assert code == 3 and len(pages) == 2
    line = one_error_line(stderr)
    assert f"cannot write the debrief to {str(out)!r}: No space left on device" in line
    assert "the earlier debrief there is unchanged" in line and "free some disk space" in line
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
