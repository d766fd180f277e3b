"""The debrief of a classroom game: what happened, why, and what the students' choices changed.

From a room's record (``record.py``) the game is replayed (:func:`record.replay`) and read back:

- the figures of the run (``report/plots.py``), the turns in which students decided marked;
- each seat's decisions and their results, turn by turn (offers made or received, accepted or
  refused with the host's reason, the seat's payoff);
- turning points: the largest changes of the key metrics (:data:`KEY_METRICS`), each traced to
  what the turn report of that turn says happened to the metric's subject (events fired, offers
  accepted, projects completed or failed, debt distress);
- the refusals, counted by reason for each seat;
- counterfactuals: the same record and seed replayed with a human seat played by its configured
  strategy (its AI doctrine) instead, one for each human seat and one with every human seat by
  its AI. Each actor's random stream is its own (common random numbers), so the shocks, events and
  every other actor's draws are those of the game as played: the difference is what the students'
  choices changed, not luck. The other humans' recorded decisions are replayed as far as they stay
  legal in the changed game (``lenient``); those that do not are listed (the fallbacks).

:func:`analyse` computes all of it (a :class:`Debrief`), :func:`render` makes a page of it (the
class summary or one seat's) from the Jinja2 templates in ``templates/debrief``, and
:func:`write_debrief` writes every page, its figures (PNG) and the run folder's tables (the files
``strategy-abm run`` writes, in ``run/``) into a folder; :func:`debrief_html` gives one page with
its figures inline (data URIs) for the web app.
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..engine.turn import TurnReport
from ..report.folders import (
    check_target,
    written_whole,
)
from ..scenario.config import Scenario
from ..scenario.ids import display
from .record import HUMAN, TIMEOUT, Fallback, RecordError, record_scenario, replay, validate_record

# The key metrics: (column pattern, what it belongs to, label pattern, unit). Their largest changes
# are the turning points; the counterfactuals compare them. ``{}`` is an actor's or route's id.
KEY_METRICS = (
    ("influence_{}", "power", "regional influence of {}", "share"),
    ("debt_to_gdp_{}", "host", "{}: public external debt / GDP", "ratio"),
    ("china_debt_share_{}", "host", "{}: China's share of its debt", "share"),
    ("debt_service_ratio_{}", "host", "{}: debt service / revenue", "ratio"),
    ("diversification_{}", "host", "{}: supply-chain diversification", "0..1"),
    ("route_volume_mt_{}", "route", "cargo on the {} corridor", "Mt/yr"),
    ("middle_ca_export_share", "region", "Middle Corridor: Central Asian exports' share", "share"),
    ("west_secured_mineral_share", "region", "the West's secured share of critical minerals", "share"),
)
TURNING_POINTS = 10  # how many the class summary lists
PER_METRIC = 2  # at most this many of one metric, so that one noisy metric does not fill the list
CAUSES_SHOWN = 6  # causes listed under a turning point (the rest counted)
EPS = 1e-12  # changes below this are rounding, not a change
CRN_NOTE = (
    "Each counterfactual replays this game's record on the same seed with the named seats played by their "
    "configured AI doctrine. Every actor draws from its own random stream (common random numbers), so the "
    "events, shocks, project hazards and every other actor's draws are the same as in the game played: a "
    "difference below comes from the decisions that changed, and from nothing else."
)


# ------------------------------------------------------------------------------------ what is computed


@dataclass(frozen=True)
class Play:
    """One play of the record: the game as played, or a counterfactual.

    Attributes:
        ai_seats: the human seats played by their AI in it (empty: the game as played).
        model: ``model.csv``'s rows (turn 0 .. turns played); actors: ``actors.csv``'s rows.
        reports: one ``TurnReport`` per turn played.
        fallbacks: recorded decisions the lenient replay could not use (:class:`record.Fallback`).
    """

    ai_seats: frozenset[str]
    model: pd.DataFrame
    actors: pd.DataFrame
    reports: tuple[TurnReport, ...]
    fallbacks: tuple[Fallback, ...] = ()
    replay: Any = field(default=None, repr=False, compare=False)  # the record.Replay it came from

    def series(self, column: str) -> np.ndarray:
        """A model column by turn (turn 0 first)."""
        return self.model[column].to_numpy(dtype=float)

    def payoff_total(self, seat: str) -> np.ndarray:
        """The seat's cumulative payoff (payoff-years, ``actors.csv``'s ``payoff_total``) by turn."""
        rows = self.actors[self.actors["actor"] == seat].sort_values("turn")
        return rows["payoff_total"].to_numpy(dtype=float)


@dataclass(frozen=True)
class Metric:
    """A key metric of the game: its column, subject (``kind`` power, host, route or region, and
    ``subject`` its id), label and unit."""

    column: str
    kind: str
    subject: str
    label: str
    unit: str


@dataclass(frozen=True)
class Cause:
    """Something in a turn's report that touches a metric's subject. ``kind``: ``event``,
    ``distress``, ``accepted``, ``deal``, ``completed`` or ``failed``; ``human``: the seats of the
    class whose decision it was (an offer a student made, or accepted), else empty."""

    kind: str
    text: str
    human: tuple[str, ...] = ()


@dataclass(frozen=True)
class TurningPoint:
    """One of the largest changes of a key metric: from ``before`` (after turn-1) to ``after``
    (after ``turn``); ``score``: the change relative to the metric's largest value in the game."""

    metric: Metric
    turn: int
    date: str
    before: float
    after: float
    score: float
    causes: tuple[Cause, ...]
    more: int = 0  # causes not listed

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Difference:
    """A quantity as played against a counterfactual: final values and their difference (as
    played minus counterfactual), and the largest difference along the way with its turn."""

    label: str
    unit: str
    played: float
    counterfactual: float
    path_max: float  # the difference of largest magnitude at any turn (signed)
    path_turn: int  # the turn of it (0 if the paths never differ)

    @property
    def final(self) -> float:
        return self.played - self.counterfactual

    @classmethod
    def of(cls, label: str, unit: str, played: np.ndarray, counterfactual: np.ndarray) -> Difference:
        diff = played - counterfactual
        at = int(np.argmax(np.abs(diff))) if len(diff) else 0
        peak = float(diff[at]) if len(diff) else 0.0
        return cls(label, unit, float(played[-1]), float(counterfactual[-1]), peak, at if peak != 0.0 else 0)


@dataclass(frozen=True)
class Counterfactual:
    """The game replayed with ``seats`` played by their AI: ``payoffs`` (each human seat's payoff
    difference), ``metrics`` (the key metrics' differences, those that differ, largest first),
    ``unchanged`` (how many key metrics did not move at all)."""

    seats: frozenset[str]
    play: Play
    payoffs: dict[str, Difference]
    metrics: tuple[Difference, ...]
    unchanged: int


@dataclass(frozen=True)
class TurnDecision:
    """A seat's turn: who decided (``human``, ``timeout``, ``ai``), the offers (a power's made, a
    host's received) with their outcome, and the seat's payoff that turn and so far."""

    turn: int
    date: str
    by: str
    offers: tuple[dict, ...]
    payoff: float
    payoff_total: float


@dataclass(frozen=True)
class Seat:
    """A seat of the game: ``human`` if a person held it at any turn."""

    actor: str
    kind: str
    name: str
    human: bool
    decided: tuple[int, ...]  # turns in which its person decided
    timeouts: tuple[int, ...]  # turns its person missed (its AI decided)


@dataclass
class Debrief:
    """Everything the pages show. ``counterfactuals``: by seat id for each human seat, and ``"all"``
    (every human seat by its AI); empty if not asked for."""

    record: dict
    scenario: Scenario
    played: Play
    seats: dict[str, Seat]
    decisions: dict[str, tuple[TurnDecision, ...]]
    turning_points: tuple[TurningPoint, ...]
    refusals: dict[str, Counter]
    counterfactuals: dict[str, Counterfactual] = field(default_factory=dict)

    @property
    def human_seats(self) -> list[str]:
        return [a for a, s in self.seats.items() if s.human]

    @property
    def turns(self) -> int:
        return len(self.played.reports)

    @property
    def human_turns(self) -> list[int]:
        """Turns in which any student decided (the figures' shading)."""
        return sorted({t for s in self.seats.values() for t in s.decided})


# ------------------------------------------------------------------------------------ analysis


def analyse(record: Mapping, *, counterfactuals: bool = True) -> Debrief:
    """The debrief of ``record`` (a room's record, validated here) up to its last finished turn.

    Raises:
        RecordError: the record is invalid, or a recorded decision is not legal where it was
            recorded (one line naming the field, turn and seat).
    """
    record = validate_record(record)
    scenario = record_scenario(record)
    done = sum(1 for t in record["turns"] if "responses" in t)
    played = _play(record, frozenset(), done, lenient=False)
    seats = _seats(record, scenario)
    human = [a for a, s in seats.items() if s.human]
    debrief = Debrief(
        record=record,
        scenario=scenario,
        played=played,
        seats=seats,
        decisions={a: _decisions(played, record, scenario, a) for a in scenario.actor_ids},
        turning_points=tuple(turning_points(played, scenario)),
        refusals={a: refusal_counts(played, a, seats[a].kind) for a in scenario.actor_ids},
    )
    if counterfactuals and human and done:
        groups = [(a, frozenset([a])) for a in human]
        if len(human) > 1:  # with one human seat, "every human seat by its AI" is that seat's
            groups.append(("all", frozenset(human)))
        for key, ai in groups:
            cf = _play(record, ai, done, lenient=True)
            debrief.counterfactuals[key] = compare(played, cf, human, scenario)
    return debrief


def _play(record: dict, ai_seats: frozenset[str], upto: int, *, lenient: bool) -> Play:
    """The record replayed (``record.replay``) up to turn ``upto``, as frames and reports."""
    rp = replay(record, ai_seats=ai_seats, upto_turn=upto, lenient=lenient)
    frames = rp.frames()
    return Play(ai_seats, frames["model"], frames["actors"], tuple(rp.reports), tuple(rp.fallbacks), rp)


def _seats(record: dict, scenario: Scenario) -> dict[str, Seat]:
    names = scenario.display_names()
    decided: dict[str, list[int]] = {a: [] for a in scenario.actor_ids}
    missed: dict[str, list[int]] = {a: [] for a in scenario.actor_ids}
    for entry in record["turns"]:
        for phase in ("offers", "responses"):
            for seat, what in entry.get(phase, {}).items():
                if what["by"] == HUMAN:
                    decided[seat].append(entry["turn"])
                elif what["by"] == TIMEOUT:
                    missed[seat].append(entry["turn"])
    kinds = {**dict.fromkeys(scenario.power_ids, "power"), **dict.fromkeys(scenario.host_ids, "host")}
    return {
        a: Seat(a, kinds[a], names.get(a) or a, bool(decided[a] or missed[a]), tuple(decided[a]), tuple(missed[a]))
        for a in scenario.actor_ids
    }


def _by(record: dict, seat: str, kind: str, turn: int) -> str:
    """Who decided for ``seat`` at ``turn``: ``human``, ``timeout`` or ``ai`` (not in the record:
    its strategy)."""
    phase = "offers" if kind == "power" else "responses"
    entry = record["turns"][turn - 1]
    return entry.get(phase, {}).get(seat, {}).get("by", "ai")


def _decisions(play: Play, record: dict, scenario: Scenario, seat: str) -> tuple[TurnDecision, ...]:
    """The seat's turns: the offers it made (a power) or received (a host), each with its fate."""
    kind = "power" if seat in scenario.power_ids else "host"
    rows = play.actors[play.actors["actor"] == seat].set_index("turn")
    out = []
    for r in play.reports:
        mine = [o for o in r.offers if (o.offer.power if kind == "power" else o.offer.host) == seat]
        offers = tuple(
            {
                "power": o.offer.power,
                "host": o.offer.host,
                "move": o.offer.move,
                "label": scenario.moves[o.offer.move].label,
                "size_usd_bn": o.offer.size_usd_bn,
                "accepted": o.accepted,
                "reason": o.reason,
            }
            for o in mine
        )
        by = _by(record, seat, kind, r.turn)
        if kind == "host" and not mine:
            by = "-"  # no offer came: nothing to decide
        out.append(TurnDecision(r.turn, r.date, by, offers, float(rows.at[r.turn, "payoff"]),
                                float(rows.at[r.turn, "payoff_total"])))  # fmt: skip
    return tuple(out)


def key_metrics(model: pd.DataFrame, scenario: Scenario) -> list[Metric]:
    """The key metrics present in ``model`` (a scenario's own actors and routes), in
    :data:`KEY_METRICS` order."""
    names = scenario.display_names()
    ids = {"power": scenario.power_ids, "host": scenario.host_ids, "route": scenario.route_ids, "region": ("",)}
    out = []
    for pattern, kind, label, unit in KEY_METRICS:
        for i in ids[kind]:
            column = pattern.format(i)
            if column in model.columns:
                who = display(i, names=names) if kind in ("power", "host") else i
                out.append(Metric(column, kind, i, label.format(who) if i else label, unit))
    return out


def turning_points(play: Play, scenario: Scenario, n: int = TURNING_POINTS) -> list[TurningPoint]:
    """The ``n`` largest one-turn changes of the key metrics, each relative to the metric's largest
    magnitude in the game (so a share and a volume compare), at most :data:`PER_METRIC` of one
    metric, largest first; each with the causes the turn's report gives (:func:`causes`)."""
    candidates = []
    for metric in key_metrics(play.model, scenario):
        x = play.series(metric.column)
        scale = float(np.max(np.abs(x))) if len(x) else 0.0
        if scale <= EPS:
            continue
        for i, d in enumerate(np.diff(x)):
            if abs(d) > EPS:
                candidates.append((abs(d) / scale, i + 1, metric))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2].column))
    taken: Counter = Counter()
    out = []
    dates = play.model["date"].tolist()
    for score, turn, metric in candidates:
        if len(out) >= n:
            break
        if taken[metric.column] >= PER_METRIC:
            continue
        taken[metric.column] += 1
        x = play.series(metric.column)
        found = causes(play.reports[turn - 1], metric, scenario)
        out.append(TurningPoint(metric, turn, dates[turn], float(x[turn - 1]), float(x[turn]), float(score),
                                tuple(found[:CAUSES_SHOWN]), max(0, len(found) - CAUSES_SHOWN)))  # fmt: skip
    return out


def _touches_routes(scenario: Scenario, move: str) -> bool:
    e = scenario.moves[move].effects
    return bool(e.route_capacity_mt_per_bn or e.route_delay_days_per_bn or e.export_cost_cut_usd_per_t_per_bn)


def causes(report: TurnReport, metric: Metric, scenario: Scenario) -> list[Cause]:
    """What the turn's report says happened to the metric's subject, most direct first: events
    (for a host, those naming it), debt distress (of the host; against the power), offers accepted
    that turn (largest first), deals signed and projects completed or failed (involving the host or
    the power; for a corridor metric, those whose move acts on the corridors; all for a regional
    one), and last, for a host, the events with no target. An accepted offer names the seats whose
    person decided it (``decided_by`` ``"submitted"``: made, or accepted, by a student)."""
    kind, who = metric.kind, metric.subject

    def involves(power: str, host: str, move: str) -> bool:
        if kind == "host":
            return host == who
        if kind == "power":
            return power == who
        if kind == "route":
            return bool(move) and _touches_routes(scenario, move)
        return True

    events, distress, accepted, projects, regional = [], [], [], [], []
    for row in report.followed:
        status = row["status"]
        if status.endswith("_event"):
            if kind == "host" and row["target"] == "":
                regional.append(Cause("event", row["text"]))  # (after what names the host)
            elif kind != "host" or row["target"] == who:
                events.append(Cause("event", row["text"]))
        elif status == "distress":
            if (
                (kind == "host" and row["actor"] == who)
                or (kind == "power" and row["target"] == who)
                or (kind == "region")
            ):
                distress.append(Cause("distress", row["text"]))
        elif status in ("deal", "completed", "failed") and involves(row["actor"], row["target"], row["move"]):
            projects.append((-float(row["size_usd_bn"]), Cause(status, row["text"])))
    decided = report.decided_by
    for o in report.offers:
        if not o.accepted or not involves(o.offer.power, o.offer.host, o.offer.move):
            continue
        p, h = o.offer.power, o.offer.host
        human = tuple(a for a in (p, h) if decided.get(a) == "submitted")
        move = scenario.moves[o.offer.move]
        text = (f"{display(p, start=True, names=scenario.display_names())} offered "
                f"{display(h, names=scenario.display_names())} a USD {o.offer.size_usd_bn:.2f} bn {move.label}, "
                "accepted")  # fmt: skip
        accepted.append((-o.offer.size_usd_bn, Cause("accepted", text, human)))
    accepted.sort(key=lambda c: c[0])
    projects.sort(key=lambda c: c[0])
    return [*events, *distress, *(c for _, c in accepted), *(c for _, c in projects), *regional]


_REASON_DETAIL = re.compile(r":.*$")


def reason_kind(reason: str) -> str:
    """A refusal's reason without its numbers: ``no absorption room``, ``debt ceiling``, ``refused
    by its strategy (closed_neutral)``, ``refused by the submitted decision``."""
    return _REASON_DETAIL.sub("", reason).strip() or "refused"


def refusal_counts(play: Play, seat: str, kind: str) -> Counter:
    """How many offers were refused, by reason (:func:`reason_kind`): a power's offers, or those a
    host refused."""
    counts: Counter = Counter()
    for r in play.reports:
        for o in r.offers:
            if not o.accepted and (o.offer.power if kind == "power" else o.offer.host) == seat:
                counts[reason_kind(o.reason)] += 1
    return counts


def compare(played: Play, cf: Play, human: Iterable[str], scenario: Scenario) -> Counterfactual:
    """The counterfactual ``cf`` against the game as ``played``: each human seat's cumulative
    payoff, and the key metrics, final and along the path (as played minus counterfactual)."""
    names = scenario.display_names()
    payoffs = {
        a: Difference.of(
            f"payoff of {display(a, names=names)}", "payoff-years", played.payoff_total(a), cf.payoff_total(a)
        )  # fmt: skip
        for a in human
    }
    diffs = []
    unchanged = 0
    for m in key_metrics(played.model, scenario):
        d = Difference.of(m.label, m.unit, played.series(m.column), cf.series(m.column))
        if d.path_max == 0.0:
            unchanged += 1
            continue
        scale = max(float(np.max(np.abs(played.series(m.column)))), EPS)
        diffs.append((abs(d.path_max) / scale, d))
    diffs.sort(key=lambda x: -x[0])
    return Counterfactual(cf.ai_seats, cf, payoffs, tuple(d for _, d in diffs), unchanged)


# ------------------------------------------------------------------------------------ figures


FIGURES = {  # file name -> title in the page
    "influence.png": "Influence shares by power",
    "debt.png": "Debt and distress",
    "routes.png": "Corridors",
    "payoffs.png": "Payoffs of the powers",
    "diversification.png": "Supply-chain diversification",
}


def _figures(debrief: Debrief, seat: str | None, sink: Callable[[str, Callable[[Any], Any]], str]) -> dict[str, str]:
    """Draw the page's figures; ``sink(name, draw)`` stores one (``draw(target)`` saves the PNG to a
    path or a file object) and returns its ``src``. The class summary: the run's figures with every
    student's turns marked; a seat's page: the seat's payoff and the key metrics that its choices
    moved most, as played and by its AI, its own turns marked."""
    from ..report import plots

    d, sc = debrief, debrief.scenario
    model, actors = d.played.model, d.played.actors
    source = f"{sc.name}, seed {d.record['seed']}"
    names = sc.display_names()
    out = {}
    if seat is None:
        marks = d.human_turns
        draws = {
            "influence.png": lambda f: plots.plot_influence(model, actors, f, source, names, marks=marks),
            "debt.png": lambda f: plots.plot_debt(model, f, source, names, marks=marks),
            "routes.png": lambda f: plots.plot_routes(model, f, source, marks=marks),
            "payoffs.png": lambda f: plots.plot_payoffs(model, actors, f, source, names, marks=marks),
            "diversification.png": lambda f: plots.plot_diversification(model, f, source, names, marks=marks),
        }
        for name, draw in draws.items():
            out[name] = sink(name, draw)
        return out
    cf = d.counterfactuals.get(seat)
    panels = [(f"Cumulative payoff of {display(seat, names=names)} (payoff-years)",
               {"as played": d.played.payoff_total(seat)})]  # fmt: skip
    if cf is not None:
        panels[0][1][f"{display(seat, names=names)} by its AI"] = cf.play.payoff_total(seat)
        everyone = d.counterfactuals.get("all")
        if everyone is not None:
            panels[0][1]["every human seat by its AI"] = everyone.play.payoff_total(seat)
        columns = {m.label: m.column for m in key_metrics(model, sc)}
        for diff in cf.metrics[:3]:
            col = columns[diff.label]
            panels.append((diff.label, {"as played": d.played.series(col), "by its AI": cf.play.series(col)}))
    name = f"seat-{seat}.png"
    title = f"{display(seat, start=True, names=names)}: as played and by its AI"
    out[name] = sink(name, lambda f: plots.plot_paths(model, panels, f, title, source, marks=d.seats[seat].decided))
    return out


def _data_uri(name: str, draw: Callable[[Any], Any]) -> str:
    buffer = io.BytesIO()
    draw(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# ------------------------------------------------------------------------------------ pages


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("strategy_abm.classroom", "templates/debrief"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a template naming what the page lacks fails, never prints ""
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["signed"] = lambda v, digits=3: _num(v, digits, sign=True)
    return env


def _num(value: float, digits: int = 3, *, sign: bool = False) -> str:
    """A number for a table: ``digits`` significant decimals, ``-0`` shown as ``0``."""
    if value is None or not np.isfinite(value):
        return "-"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text.replace("-0." + "0" * digits, "0." + "0" * digits).replace("+0." + "0" * digits, "0." + "0" * digits)


def page_name(seat: str | None) -> str:
    """The file name of a page in a written debrief: ``index.html`` or ``seat-<id>.html``."""
    return "index.html" if seat is None else f"seat-{seat}.html"


def render(
    debrief: Debrief,
    seat: str | None = None,
    *,
    figures: str = "inline",
    folder: Path | None = None,
    href: Callable[[str | None], str] = page_name,
) -> str:
    """The HTML of a page: the class summary (``seat`` None) or a seat's page.

    Args:
        figures: ``"inline"`` (PNG data URIs: one self-contained page) or ``"files"`` (PNGs written
            into ``folder/figures``, referred to by relative paths).
        href: a page's link from its seat (None: the class summary); the web app gives its URLs.

    Raises:
        ValueError: ``seat`` is not an actor of the game.
    """
    if seat is not None and seat not in debrief.seats:
        raise ValueError(f"seat: {seat!r} is not a seat of this game ({', '.join(debrief.seats)})")
    if figures == "inline":
        sink = _data_uri
    elif figures != "files" or folder is None:
        raise ValueError(f"figures: 'inline', or 'files' with a folder; got {figures!r} (folder {folder})")
    else:

        def sink(name: str, draw) -> str:
            draw(folder / "figures" / name)
            return f"figures/{name}"

    srcs = _figures(debrief, seat, sink) if debrief.turns else {}
    d, sc = debrief, debrief.scenario
    names = sc.display_names()
    context = {
        "d": d,
        "seat": d.seats[seat] if seat else None,
        "sc": sc,
        "version": __version__,
        "title": d.record.get("title") or f"{sc.name}, seed {d.record['seed']}",
        "name": lambda a: display(a, names=names) if a else "",
        "Name": lambda a: display(a, start=True, names=names) if a else "",
        "href": href,
        "figures": srcs,
        "figure_titles": FIGURES,
        "crn_note": CRN_NOTE,
        "reasons": sorted({r for c in d.refusals.values() for r in c}),
        "by_text": {"human": "a student", "timeout": "its AI (deadline missed)", "ai": "its AI", "-": "no offer came"},
        "strategy": lambda a: (sc.powers[a] if a in sc.powers else sc.hosts[a]).strategy,
        "tally": lambda a: _tally(d.decisions[a]),
        "turning_points_of": lambda a: [
            tp for tp in d.turning_points if tp.metric.subject == a or any(a in c.human for c in tp.causes)
        ],
    }
    template = "index.html" if seat is None else "seat.html"
    return _environment().get_template(template).render(**context)


def _tally(turns: tuple[TurnDecision, ...]) -> dict:
    """A seat's offers (made or received) and how many were accepted, and its payoff so far."""
    offers = [o for t in turns for o in t.offers]
    return {"offers": len(offers), "accepted": sum(o["accepted"] for o in offers),
            "payoff_total": turns[-1].payoff_total if turns else 0.0}  # fmt: skip


def debrief_html(record: Mapping, seat: str | None = None, *, counterfactuals: bool = True,
                 href: Callable[[str | None], str] = page_name) -> str:  # fmt: skip
    """One page of the debrief of ``record`` as a self-contained HTML document (figures as data
    URIs; no script, no external file): the class summary, or ``seat``'s page.

    Raises:
        RecordError: an invalid record (see :func:`analyse`); ValueError: an unknown seat.
    """
    return render(analyse(record, counterfactuals=counterfactuals), seat, href=href)


def write_debrief(record: Mapping, out_dir: str | os.PathLike, *, counterfactuals: bool = True) -> Path:
    """Write the debrief of ``record`` into ``out_dir``: ``index.html`` (the class summary),
    ``seat-<id>.html`` for each human seat, ``figures/*.png``, and ``run/`` (the run folder of the
    game as played: what ``strategy-abm run`` writes). Returns the path of ``index.html``.

    The folder is written whole beside ``out_dir`` and moved into place (an earlier debrief there
    is replaced; any other non-empty folder is refused), so a failure leaves nothing half-written.

    Raises:
        RecordError: an invalid record (nothing is written).
        OutputError: ``out_dir`` cannot hold a debrief (as ``run --out``).
        FaultError: writing failed part-way (nothing is left).
    """
    out = Path(out_dir)
    check_target(out, "debrief")  # before any work: a bad --out costs nothing
    debrief = analyse(record, counterfactuals=counterfactuals)
    with written_whole(out, "debrief", "debrief") as tmp:
        (tmp / "figures").mkdir()
        _run_folder(debrief, tmp / "run")
        pages = [None, *debrief.human_seats]
        for seat in pages:
            html = render(debrief, seat, figures="files", folder=tmp)
            (tmp / page_name(seat)).write_text(html, encoding="utf-8")
    return out / "index.html"


def _run_folder(debrief: Debrief, out: Path) -> None:
    """The run folder of the game as played (``record.Replay.write``: ``report.output.write_run``);
    its figures are the debrief's (``figures/``, with the students' turns marked), not drawn twice."""
    debrief.played.replay.write(out, plots=False)


__all__ = [
    "CRN_NOTE",
    "KEY_METRICS",
    "Counterfactual",
    "Debrief",
    "Difference",
    "Play",
    "RecordError",
    "TurningPoint",
    "analyse",
    "debrief_html",
    "render",
    "write_debrief",
]
