"""The turn as a contract: ``Game`` holds a game's state and plays it phase by phase.

A turn has two simultaneous decision phases and a resolution::

    game = Game(scenario, seed)
    while not game.over:
        for actor in game.waiting():          # phase "offers": the powers
            obs = game.observe(actor)         # what it may know, read-only
            moves = game.legal(actor)         # move types, targets, size bounds allowed now
            game.submit(actor, offers)        # validated; illegal -> StrategyError, state unchanged
        game.advance()                        # actors that did not submit: their deciders decide
        ...                                   # phase "responses": the hosts that received offers
        report = game.advance()               # resolution; a TurnReport

The order of a turn and its arithmetic are those of design.md: events, offers, responses,
commitment, project progress, economy and debt, trade, influence, metrics and payoffs. The
engine imports no strategy: whoever builds a ``Game`` gives it ``deciders`` (actor id ->
callable), or the strategies package's registered factory builds them from the scenario's
configured strategies (``register_decider_factory``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .._compiled import notice_if_cold
from ..scenario.config import Scenario, format_date, load_scenario, parse_date
from ..scenario.frozen import FrozenMap
from ..scenario.frozen import frozen as _frozen
from ..scenario.ids import display
from . import kernels as K
from . import pcg, rules
from .arrays import initial_state, tables
from .events import EventEngine, deal_room, grant_deal, target_rule
from .legality import StrategyError, check_offers, check_responses, licensed
from .metrics import MetricState, actor_records, metric_row
from .projects import Headroom, Offer, Project, ProjectStatus
from .state import HostState, PowerState
from .streams import HAZARDS, STRATEGIES, Streams
from .views import RouteView, TradeView

OFFERS, RESPONSES, OVER = "offers", "responses", "over"

# An actor's decider: its observation -> its decision (a power's offers; a host's accepted offers,
# a subset of ``obs.offers``). It sees what the actor may know, never the game.
Decider = Callable[["Observation"], Any]
# Builds the configured deciders of a game (the strategies package registers one: the engine
# imports no strategy, as scenario/config.py's strategy check).
_DECIDER_FACTORIES: list[Callable[[Game], Mapping[str, Decider]]] = []


def register_decider_factory(factory: Callable[[Game], Mapping[str, Decider]]) -> None:
    """Make ``factory(game)`` the source of the deciders of actors a ``Game`` is not given."""
    _DECIDER_FACTORIES[:] = [factory]


# Plays a turn's decisions and resolution in compiled code when every actor's decider is a strategy
# kernel (the strategies package registers one): ``play(game, opening)`` -> ``CompiledTurn`` or None
# (an actor has no kernel: the turn is played phase by phase, the game left as it was). ``opening``:
# the turn is not opened yet and no event fires or ends in it, so the compiled code opens it too
# (kernels.open_turn, the budgets, the streams moved on to its region), as ``Game._open`` would.
_COMPILED_TURNS: list[Callable[[Game], Any]] = []


def register_compiled_turn(play: Callable[[Game], Any]) -> None:
    """Make ``play(game)`` the way ``Game.play_turn`` plays a whole turn in compiled code."""
    _COMPILED_TURNS[:] = [play]


@dataclass(frozen=True)
class CompiledTurn:
    """What a turn played in compiled code (``register_compiled_turn``) left to record, as plain
    lists: ``rows`` the offers in the order made, each ``(power, move, host, size)`` (layout
    indices as floats, USD bn); ``accepted`` a flag per offer; ``answers`` the accepted offers'
    positions in commitment order; ``by_host`` every offer's position, hosts in order (the event
    log's order); ``refusal`` per offer ``[why, USD bn needed, USD bn of room left]`` (why: 0
    accepted, 1 absorption, 2 debt ceiling, 3 the strategy's choice); ``ended`` the projects that
    ended, as (number, kernels.progress's code); ``entering``, ``ratios`` as kernels.economy gives
    them; ``strategy_names`` each
    host's strategy name (a refusal's reason); ``opened``: the compiled code opened the turn."""

    rows: list
    accepted: list
    answers: list
    by_host: list
    refusal: list
    ended: list
    entering: Any
    ratios: Any
    strategy_names: Mapping[str, str]
    opened: bool = False


@dataclass(frozen=True)
class OfferOutcome:
    """One offer of the turn and its fate: ``reason`` says why a refused offer was refused."""

    offer: Offer
    accepted: bool
    reason: str = ""


@dataclass(frozen=True)
class TurnReport:
    """What each actor did in a turn and what followed.

    Attributes:
        turn, date: the turn played.
        decided_by: actor id -> ``"submitted"`` (from outside) or ``"strategy"`` (its decider).
        offers: every offer made, in the order made, with its outcome and the host's reason for a refusal.
        followed: the event log's rows of the turn (events, responses, completions, failures,
            distress), when the game records them (``record=True``), else empty.
        metrics: the model-level metrics after the turn.
    """

    turn: int
    date: str
    decided_by: Mapping[str, str]
    offers: tuple[OfferOutcome, ...]
    followed: tuple[Mapping[str, Any], ...]
    metrics: Mapping[str, float]

    def refusals(self) -> list[OfferOutcome]:
        return [o for o in self.offers if not o.accepted]


class _LazyTurnReport(TurnReport):
    """The report a ``Game`` returns: ``offers`` and ``followed`` are built from the turn's compact
    records on first read (most callers never read them: the Mesa shell keeps the last report only).
    Equal to, and pickled as, the plain :class:`TurnReport` of the same values."""

    @classmethod
    def of(cls, turn, date, decided_by, metrics, outcomes, game, start, end) -> _LazyTurnReport:
        report = object.__new__(cls)
        report.__dict__.update(turn=turn, date=date, decided_by=decided_by, metrics=metrics,
                               _outcomes=outcomes, _log=(game, start, end))  # fmt: skip
        return report

    @property
    def offers(self) -> tuple[OfferOutcome, ...]:
        made = self.__dict__.get("_offers")
        if made is None:
            outcomes = self.__dict__.pop("_outcomes")
            if callable(outcomes):  # (a turn played in compiled code: its outcomes from compact records)
                outcomes = outcomes()
            made = self.__dict__["_offers"] = tuple(OfferOutcome(*o) for o in outcomes)
        return made

    @property
    def followed(self) -> tuple[Mapping[str, Any], ...]:
        rows = self.__dict__.get("_followed")
        if rows is None:
            game, start, end = self.__dict__.pop("_log")
            rows = self.__dict__["_followed"] = tuple(FrozenMap(r) for r in game.event_log[start:end])
        return rows

    def __eq__(self, other):
        if not isinstance(other, TurnReport):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(TurnReport))

    __hash__ = TurnReport.__hash__

    def __reduce__(self):
        return (TurnReport, tuple(getattr(self, f.name) for f in fields(TurnReport)))


@dataclass(frozen=True)
class Observation:
    """What one actor may know, read-only (mappings are :class:`FrozenMap`, lists tuples): all a
    strategy decides from (``propose(obs)``, ``respond(obs)``); it never sees the ``Game``.

    Attributes:
        actor, kind, turn, phase, date: who observes, and when.
        hosts: public state of every host (economy, debt and creditor shares, opinion, influence
            stocks and shares, digital and energy shares, minerals, governance, labour entrants,
            limits: ``absorption_room_next`` is the room it will have when it answers this turn's
            offers, ``debt_room`` the new debt before its ceiling, USD bn).
        powers: public facts of every power (toolkit efficiencies, offers made and accepted).
        routes: every corridor's state; metrics: the model-level metrics of the last turn.
        own: the actor's private state. A power: ``budget_available`` (USD bn this turn),
            ``budget_usd_bn_per_year``, ``toolkit`` (move -> efficiency), ``objectives`` (payoff
            weights), ``acceptance`` (``"host/move"`` -> (accepted, offered)), ``owed`` (host ->
            USD bn it owes this power), ``spent_total``, ``payoff_total``. A host:
            ``absorption_room`` (in the response phase, after this turn's refill), ``debt_room``,
            ``payoff_total``.
        offers: in the response phase, the offers made to this host; otherwise empty. Never
            another power's pending offers.
        moves, rules, dt, world_minerals: the game's fixed data (the scenario's move catalogue and
            rules, the turn's length in years, the world's mineral supply), the same read-only
            objects for every actor and turn.
        rng: the actor's own random generator for this turn (a property: see :attr:`rng`).
    """

    actor: str
    kind: str
    turn: int
    phase: str
    date: str
    hosts: Mapping[str, Mapping[str, Any]]
    powers: Mapping[str, Mapping[str, Any]]
    routes: Mapping[str, Mapping[str, float]]
    metrics: Mapping[str, float]
    own: Mapping[str, Any]
    offers: tuple[Offer, ...] = ()
    moves: Mapping[str, Any] = field(default_factory=FrozenMap, repr=False)
    rules: Any = field(default=None, repr=False)
    dt: float = 0.0
    world_minerals: Mapping[str, Mapping[str, float]] = field(default_factory=FrozenMap, repr=False)
    # Gives the actor's generator for the turn on first use (positioning a stream costs a few
    # microseconds: deterministic strategies never pay it). Not pickled or copied: see ``rng``.
    draws: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def rng(self):
        """The actor's own numpy ``Generator`` for this turn: its stream ``(2, actor index)`` at the
        turn's region (engine/streams.py), the same object however often it is asked in a turn.
        A strategy that draws only from it draws the same numbers whatever the other actors do.
        An observation copied or unpickled out of its game has none (RuntimeError)."""
        if self.draws is None:
            raise RuntimeError(f"{self.actor}: this observation has no random stream (copied out of its game?)")
        return self.draws()

    def acceptance_rate(self, host: str, move: str, prior: float = 1.0) -> float:
        """A power's share of its past offers of ``move`` to ``host`` that were accepted, with
        ``prior`` of a success: (accepted + prior) / (offered + prior)."""
        ok, n = self.own["acceptance"].get(f"{host}/{move}", (0, 0))
        return (ok + prior) / (n + prior)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["draws"] = None  # the generator stays with its game
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


_OBSERVATION_FIELDS = tuple(f.name for f in fields(Observation))


def _observation(*values) -> Observation:
    """An ``Observation`` of every field's value, in field order, without the frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field: most of an observation's cost)."""
    obs = object.__new__(Observation)
    obs.__dict__.update(zip(_OBSERVATION_FIELDS, values, strict=True))
    return obs


class _Draws:
    """An actor's generator for the turn, fetched when a strategy first asks (``Observation.rng``)."""

    __slots__ = ("state",)

    def __init__(self, state):
        self.state = state

    def __call__(self):
        return self.state.rng


class Game:
    """One game, built from a scenario and a seed, played through the turn contract.

    Args:
        scenario: a ``Scenario`` (or a built-in name or path, loaded by the scenario layer).
        seed: seed of the game's random streams (``engine/streams.py``).
        record: keep the event log (``False``: same rules and results, lighter bookkeeping).
        compiled: let configured built-in strategies decide in compiled code (their kernels,
            strategies/kernels.py: the same decisions, faster); ``False`` asks their Python code.
        deciders: actor id -> decider for actors not submitted from outside: a callable from the
            actor's :class:`Observation` to its decision (a power's offers, a host's accepted
            offers among ``obs.offers``); actors it leaves out get the registered factory's (the
            configured strategies).

    Attributes:
        turn: the turn being played once its offers phase has begun, else the turns played.
        phase: ``"offers"``, ``"responses"`` or ``"over"``.
        state: the world state as arrays (:mod:`.arrays`: ``hosts``, ``powers``, ``routes``,
            ``trade``, ``acceptance``), laid out by ``layout``; ``tables`` the scenario's numbers.
        powers, hosts: each actor's state by id, views of the arrays (:mod:`.state`).
        routes, trade, projects, event_log, metrics: as in ``CompetitionModel``.
        power_ids, host_ids, route_ids, mineral_ids: the scenario's ids, in its order (the game
            has whatever actors, routes and minerals its scenario lists).
    """

    def __init__(
        self,
        scenario: Scenario | str,
        seed: int,
        *,
        record: bool = True,
        deciders: Mapping[str, Decider] | None = None,
        compiled: bool = True,
    ):
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        notice_if_cold()
        self.scenario = sc
        self.seed = seed
        self.record = record
        self.compiled = compiled
        self.dt = sc.dt
        self.turns_per_year = sc.turns_per_year
        self.start_year = parse_date(sc.start)
        self.horizon = sc.horizon_turns
        self.moves = sc.moves
        self.rules = sc.rules
        self.power_ids, self.host_ids = sc.power_ids, sc.host_ids
        self.route_ids, self.mineral_ids = sc.route_ids, sc.mineral_ids
        self.names = sc.display_names()
        self.turn = 0
        # Common random numbers: one stream per purpose, so that changing one actor's strategy
        # leaves the shocks, the hazards of matching projects and the other actors' draws alone.
        self.streams = Streams(seed)
        self.actor_order: tuple[str, ...] = (*sc.powers, *sc.hosts)  # an actor's index in its streams' keys
        # The state: arrays laid out from the scenario's ids (engine/arrays.py), changed by the
        # compiled rules (engine/kernels.py); the actors, routes and trade are views of them.
        t, start, self.initial_output = game_start(sc)
        self.tables = t
        lay = self.layout = t.layout
        self.state = start.copy()
        self.host_index = {h: i for i, h in enumerate(lay.hosts)}
        self.power_index = {p: i for i, p in enumerate(lay.powers)}
        self.move_index = {m: i for i, m in enumerate(lay.moves)}
        self.powers: dict[str, PowerState] = {
            pid: PowerState(self, pid, cfg, i) for i, (pid, cfg) in enumerate(sc.powers.items())
        }
        self.hosts: dict[str, HostState] = {
            hid: HostState(self, hid, cfg, i) for i, (hid, cfg) in enumerate(sc.hosts.items())
        }
        self.routes = {rid: RouteView(self.state.routes, i) for i, rid in enumerate(lay.routes)}
        self.trade = TradeView(self.state.trade)
        self.world_minerals = {m: v.model_dump() for m, v in sc.world.minerals.items()}
        self.special = t.special
        self._offers_of_projects: list[Offer] = []  # by project number (the rows of the projects table)
        self._project_table = np.zeros((64, K.PROJECT_COLUMNS))
        self._n_projects = 0
        self._first_running = 0  # no project before it still runs (a compiled turn's progress starts there)
        # Each power's hazard stream and each actor's strategy stream, at the start of the current
        # turn's region (engine/streams.py): moved on by one region a turn.
        self._cursors = self.streams.words_rows([*((HAZARDS, a) for a in range(len(lay.powers))),
                                                 *((STRATEGIES, a) for a in range(len(self.actor_order)))])  # fmt: skip
        self._jumps = pcg.region_jumps(self._cursors)
        self._cursor_turn = 0
        # The event log: rows as dicts, or as compact tuples (an offer's answer, a project's end) that
        # become dicts when the log is read (``event_log``): most games never read it.
        self._log: list = []
        self._log_read = 0  # _log[:_log_read] are dicts
        self.events = EventEngine(sc.events, self)

        self.initial_region_output = dict(zip(lay.minerals, self.initial_output.tolist(), strict=True))
        self.derived = np.zeros(K.derived_offsets(len(lay.hosts), len(lay.powers), len(lay.routes))[-1])
        self.metrics: dict[str, float] = {}
        self._update_metrics()

        # What every observation shares: the scenario's read-only moves and rules, the turn's
        # length, the world's minerals (a read-only copy: the game's own is the rules').
        self._fixed = (sc.moves, sc.rules, sc.dt, _frozen(self.world_minerals))
        self._public: tuple | None = None  # the current phase's public view (see _public_view)
        self.deciders: dict[str, Decider] = {}
        if _DECIDER_FACTORIES:
            self.deciders.update(_DECIDER_FACTORIES[0](self))
        for aid, decider in (deciders or {}).items():
            _check_decider(aid, decider)
        self.deciders.update(deciders or {})
        self.phase = OFFERS if self.turn < self.horizon else OVER
        self._opened = False  # whether the current turn's offers phase has begun (events, budgets)
        self._pending: dict[str, list[Offer]] = {}  # submissions of the current phase
        self._by_host: dict[str, list[Offer]] = {}  # offers made this turn, by host
        self._made: list[Offer] = []  # offers made this turn, in order
        self._made_at: dict[str, list[int]] = {}  # positions in _made of the offers in _by_host, by host
        self._offer_texts: dict[tuple[str, str, str], tuple[str, str, str]] = {}  # see _offer_text
        self._project_texts: dict[tuple[str, str, str], tuple[str, str, str]] = {}  # see _progress
        self._outcomes: list[OfferOutcome] = []
        self._decided_by: dict[str, str] = {}
        self._log_start = 0
        self._injected: list[tuple[Any, str | None]] = []  # (event, target) to fire when the next turn opens

    # ------------------------------------------------------------------ public helpers

    @property
    def over(self) -> bool:
        return self.phase == OVER

    @property
    def date(self) -> str:
        """Label of the period just played (turn 0: the period before the start)."""
        cached = self.__dict__.get("_date")
        if cached is None or cached[0] != self.turn:  # (the event log asks for it for every row)
            cached = self._date = (self.turn, self.date_of(self.turn))
        return cached[1]

    def date_of(self, turn: int) -> str:
        return format_date(self.start_year + (turn - 1) * self.dt, self.turns_per_year)

    def display(self, actor_id: str, *, start: bool = False) -> str:
        """An actor's name in sentences (its scenario ``display``, else ``name``; an unknown id as itself)."""
        cache = self.__dict__.setdefault("_displayed", {})
        key = (actor_id, start)
        if key not in cache:
            cache[key] = display(actor_id, start=start, names=self.names)
        return cache[key]

    def total_gdp(self) -> float:
        return sum(h.gdp_usd_bn for h in self.hosts.values())

    def total_energy_exports(self) -> float:
        return sum(h.energy_exports_usd_bn for h in self.hosts.values())

    def route_shares(self) -> dict[str, float]:
        return rules.normalise({r: v["volume_mt"] for r, v in self.routes.items()})

    @property
    def event_log(self) -> list[dict]:
        """The event log, oldest row first: the rows of ``events.csv`` (empty with ``record=False``)."""
        log = self._log
        if self._log_read < len(log):
            for i in range(self._log_read, len(log)):
                if type(log[i]) is tuple:
                    log[i] = self._row_of(log[i])
            self._log_read = len(log)
        return log

    @event_log.setter
    def event_log(self, rows: list[dict]) -> None:
        self._log, self._log_read = rows, 0

    def _row_of(self, entry: tuple) -> dict:
        """The event-log row of a compact entry: ``(turn, date, offer or its row, accepted)`` of an answer,
        ``(turn, date, project number, failed)`` of a project's end."""
        turn, date, what, flag = entry
        if type(what) is int:  # a project's end
            o = self._project_offer(what)
            key = (o.power, o.host, o.move)
            named = self._project_texts.get(key)
            if named is None:  # (the project's name around its size, and the move's domain)
                move = self.moves[o.move]
                named = self._project_texts[key] = (f"{self.display(o.power, start=True)}'s USD ",
                                                    f" bn {move.label} in {self.display(o.host)} ",
                                                    move.domain)  # fmt: skip
            status, verb = ("failed", "fails") if flag else ("completed", "is completed")
            return {"turn": turn, "date": date, "actor": o.power, "target": o.host, "domain": named[2],
                    "move": o.move, "size_usd_bn": o.size_usd_bn, "status": status,
                    "text": f"{named[0]}{o.size_usd_bn:.2f}{named[1]}{verb}"}  # fmt: skip
        o = self._offer_of(what) if type(what) is tuple else what
        head, tail, domain = self._offer_texts.get((o.power, o.host, o.move)) or self._offer_text(o.power, o.host,
                                                                                                  o.move)  # fmt: skip
        status = "accepted" if flag else "rejected"
        return {"turn": turn, "date": date, "actor": o.power, "target": o.host, "domain": domain, "move": o.move,
                "size_usd_bn": o.size_usd_bn, "status": status,
                "text": f"{head}{o.size_usd_bn:.2f}{tail}{status}"}  # fmt: skip

    def _offer_of(self, row: tuple) -> Offer:
        """The offer of a row ``(power, move, host, size)`` (layout indices, as floats)."""
        lay = self.layout
        return Offer(lay.powers[int(row[0])], lay.moves[int(row[1])], lay.hosts[int(row[2])], row[3])

    def commitments(self, start: int = 0) -> list[tuple[str, str, str, float, float]]:
        """The accepted offers and signed deals from number ``start`` on, in commitment order, as
        ``(power, move, domain, size USD bn, public cost share)`` (what the powers' ledgers sum)."""
        moves, out = self.moves, []
        for j in range(start, len(self._offers_of_projects)):
            o = self._project_offer(j)
            move = moves[o.move]
            out.append((o.power, o.move, move.domain, o.size_usd_bn, move.public_cost_share))
        return out

    def _project_offer(self, j: int) -> Offer:
        """The offer project ``j`` was committed from (kept as a row by a compiled turn until read)."""
        o = self._offers_of_projects[j]
        if type(o) is tuple:
            o = self._offers_of_projects[j] = self._offer_of(o)
        return o

    def log(self, *, actor: str, target: str = "", domain: str = "", move: str = "",
            size: float = float("nan"), status: str, text: str) -> None:  # fmt: skip
        """Append a row to the event log (``events.csv``)."""
        if not self.record:
            return
        self._log.append({
            "turn": self.turn, "date": self.date, "actor": actor, "target": target, "domain": domain,
            "move": move, "size_usd_bn": size, "status": status, "text": text,
        })  # fmt: skip

    @property
    def projects(self) -> list[Project]:
        """Every project committed so far, in commitment order, with its state now (a snapshot)."""
        status = {K.RUNNING: ProjectStatus.RUNNING, K.COMPLETED: ProjectStatus.COMPLETED,
                  K.FAILED: ProjectStatus.FAILED}  # fmt: skip
        table = self._project_table
        return [
            Project(j, self._project_offer(j), int(table[j, K.J_COMMITTED]), int(table[j, K.J_REMAINING]),
                    status[table[j, K.J_STATUS]], int(table[j, K.J_DELAYS]))
            for j in range(len(self._offers_of_projects))
        ]  # fmt: skip

    @property
    def running_projects(self) -> list[Project]:
        """Projects still under way, in commitment order."""
        return [p for p in self.projects if p.status is ProjectStatus.RUNNING]

    def actor(self, actor_id: str) -> PowerState | HostState:
        """The state of an actor; an unknown id raises KeyError naming it."""
        if actor_id in self.powers:
            return self.powers[actor_id]
        if actor_id in self.hosts:
            return self.hosts[actor_id]
        raise KeyError(f"unknown actor {actor_id!r} (known: {', '.join(self.actor_order)})")

    # ------------------------------------------------------------------ the contract

    def waiting(self) -> list[str]:
        """Actors still to decide in this phase: the powers in the offers phase, the hosts that
        received offers in the responses phase; none once the game is over."""
        self._open()
        if self.phase == OFFERS:
            return [p for p in self.power_ids if p not in self._pending]
        if self.phase == RESPONSES:
            return [h for h in self.host_ids if self._by_host[h] and h not in self._pending]
        return []

    def observe(self, actor_id: str) -> Observation:
        """What ``actor_id`` may know now, as a read-only :class:`Observation`.

        The public part (hosts, powers, routes, metrics) is built once per phase and shared by
        every actor's observation of that phase (nothing changes within a phase: submissions and
        decisions are applied when it resolves); ``own`` is built per call."""
        state = self.actor(actor_id)
        self._open()
        public = self._public_view()
        if state.kind == "power":
            own = FrozenMap({
                "budget_available": state.budget_available,
                "budget_usd_bn_per_year": state.budget_usd_bn_per_year,
                "toolkit": FrozenMap(state.toolkit),
                "objectives": state.cfg.objectives,  # (a loaded scenario's dicts are read-only)
                "acceptance": FrozenMap(state.acceptance_seen),
                "owed": FrozenMap({h: s.creditors[actor_id]["debt"] for h, s in self.hosts.items()}),
                "spent_total": state.ledger.total,
                "payoff_total": state.payoff_total,
            })  # fmt: skip
        else:
            own = FrozenMap({
                "absorption_room": state.absorption_room,
                "debt_room": state.debt_room(),
                "payoff_total": state.payoff_total,
            })  # fmt: skip
        offers = tuple(self._by_host.get(actor_id, ())) if self.phase == RESPONSES else ()
        fixed = self._fixed
        return _observation(actor_id, state.kind, self.turn, self.phase, *public, own, offers, *fixed, _Draws(state))

    def _public_view(self) -> tuple:
        """(date, hosts, powers, routes, metrics) of the current phase, read-only, built on the
        phase's first observation (``_open`` and ``_resolve`` drop it; a new phase is a new key).
        Built by hand, not by the generic ``_frozen``: the sweep observes millions of times."""
        key = (self.turn, self.phase)
        if self._public is None or self._public[0] != key:
            if self._public is not None and self._public[0] == (self.turn, OFFERS) and self.phase == RESPONSES:
                # Between the phases only the powers' offer counts and the hosts' absorption pools
                # change, and a refilled pool is what ``absorption_room_next`` said: the hosts'
                # view, the routes and the metrics of the offers phase stand.
                date, hosts, _, routes, metrics = self._public[1]
            else:
                date, metrics = self.date, FrozenMap(self.metrics)
                hosts = FrozenMap({h: self._public_host(s) for h, s in self.hosts.items()})
                routes = FrozenMap({r: FrozenMap(v) for r, v in self.routes.items()})
            view = (
                date,
                hosts,
                FrozenMap({
                    p: FrozenMap({"toolkit": FrozenMap(s.toolkit), "offers_made": s.offers_made,
                                  "offers_accepted": s.offers_accepted})
                    for p, s in self.powers.items()
                }),
                routes,
                metrics,
            )  # fmt: skip
            self._public = (key, view)
        return self._public[1]

    def _public_host(self, h: HostState) -> FrozenMap:
        total = h.debt_total
        return FrozenMap({
            "gdp_usd_bn": h.gdp_usd_bn,
            "growth_rate": h.growth_rate,
            "growth_realised": h.growth_realised,
            "debt_total": total,
            "debt_to_gdp": total / h.gdp_usd_bn,  # (h.debt_to_gdp, without summing the creditors again)
            "debt_service_ratio": h.debt_service_ratio,
            "creditor_shares": FrozenMap({k: (c["debt"] / total if total > 0 else 0.0)
                                          for k, c in h.creditors.items()}),
            "distress": h.distress,
            "distress_threshold": h.distress_service_ratio,  # its class's debt-service threshold
            "governance": h.governance,
            "opinion": FrozenMap(h.opinion),
            "influence": FrozenMap(h.influence),  # the stocks (their sum scales a project's gain in share)
            "influence_shares": FrozenMap(h.influence_shares()),
            "trade_shares": FrozenMap(h.trade_shares),
            "telecom_vendor_shares": FrozenMap(h.telecom_vendor_shares),
            "satellite_coverage": h.satellite_coverage,
            "satellite_licence": h.satellite_licence,
            "cloud_shares": FrozenMap(h.cloud_shares),
            "logistics_platform_shares": FrozenMap(h.logistics_platform_shares),
            "energy_export_shares": FrozenMap(h.energy_export_shares),
            "energy_exports_usd_bn": h.energy_exports_usd_bn,
            "gas_exports_bcm": h.gas_exports_bcm,
            "gas_export_max_bcm": h.gas_export_max_bcm,
            "renewables_share": h.renewables_share,
            "green_tech_origin": FrozenMap(h.green_tech_origin),
            "minerals": FrozenMap({m: FrozenMap({**v, "offtake": FrozenMap(v["offtake"])})
                                   for m, v in h.minerals.items()}),
            "environment_damage": h.environment_damage,
            "labour_entrants_k": h.labour_entrants_k,
            "absorption_per_year": h.absorption_per_year(),
            # The room it will have when it answers this turn's offers (powers size offers to it).
            "absorption_room_next": h.room_next_turn(self.dt) if self.phase == OFFERS else h.absorption_room,
            "debt_room": h.debt_room(),
        })  # fmt: skip

    def legal(self, actor_id: str) -> Mapping[str, Any]:
        """What ``actor_id`` may do now (read-only), enough to build an action mask.

        A power in the offers phase: ``max_offers``, ``budget`` (USD bn of public cost), and
        ``moves``: each move of its toolkit it can afford -> ``size_min``, ``size_max`` (size
        bounds, the upper one also limited by the budget), ``public_cost_share`` and ``targets``:
        each host it may offer the move to -> ``size_max`` (the legal upper bound there; for debt
        relief, no more than the host owes it) and ``room_max`` (the largest size the host's
        absorption and debt room would let it accept when it answers: an offer above it is
        legal but will be refused). A host in the
        responses phase: ``offers`` made to it, ``absorption_room``, ``debt_room`` and
        ``acceptable`` (the offers that fit its limits each on its own). Otherwise (not its
        phase): ``{"phase": ..., "decides": False}``.
        """
        state = self.actor(actor_id)
        self._open()
        if state.kind == "power" and self.phase == OFFERS and actor_id not in self._pending:
            budget = state.budget_available
            moves = {}
            for m in state.toolkit:
                move = self.moves[m]
                lo, hi = move.size_min_usd_bn, move.size_max_usd_bn
                if move.public_cost_share > 0:
                    hi = min(hi, budget / move.public_cost_share)
                targets = {}
                for hid, host in self.hosts.items():
                    if not licensed(host, move):  # (a satellite offer before the host's licence)
                        continue
                    top = min(hi, host.creditors[actor_id]["debt"]) if move.effects.debt_relief else hi
                    if top >= lo:
                        room = Headroom(host.room_next_turn(self.dt), host.debt_room()).cap(move)
                        targets[hid] = {"size_max": top, "room_max": min(top, room)}
                if hi >= lo:
                    moves[m] = {"size_min": lo, "size_max": hi, "public_cost_share": move.public_cost_share,
                                "targets": targets}  # fmt: skip
            out = {"phase": OFFERS, "decides": True, "max_offers": self.rules.max_offers_per_turn,
                   "budget": budget, "moves": moves}  # fmt: skip
        elif state.kind == "host" and self.phase == RESPONSES and actor_id in self.waiting():
            made = self._by_host[actor_id]
            acceptable = [
                o for o in made if Headroom(state.absorption_room, state.debt_room()).fits(self.moves[o.move],
                                                                                         o.size_usd_bn, 1e-12)
            ]  # fmt: skip
            out = {"phase": RESPONSES, "decides": True, "offers": tuple(made),
                   "absorption_room": state.absorption_room, "debt_room": state.debt_room(),
                   "acceptable": tuple(acceptable)}  # fmt: skip
        else:
            out = {"phase": self.phase, "decides": False}
        return _frozen(out)

    def submit(self, actor_id: str, decision) -> None:
        """Submit ``actor_id``'s decision for this phase: a power's offers, a host's accepted
        offers (a subset of those made to it). Raises StrategyError naming the problem (not this
        actor's phase, already submitted, or an illegal decision: over budget, move not in its
        toolkit, size out of bounds, an offer not made, beyond absorption or the debt ceiling);
        the game is then unchanged."""
        state = self.actor(actor_id)
        if actor_id not in self.waiting():
            why = "already submitted" if actor_id in self._pending else "does not decide now"
            raise StrategyError(f"{actor_id}: {why} (phase {self.phase!r}, waiting: {', '.join(self.waiting())})")
        if not isinstance(decision, list | tuple):
            raise StrategyError(f"{actor_id}: a decision is a list of offers, got {type(decision).__name__}")
        decision = list(decision)
        if self.phase == OFFERS:
            check_offers(state, decision, self)
        else:
            check_responses(state, self._by_host[actor_id], decision, self)
        self._pending[actor_id] = decision

    def advance(self) -> TurnReport | None:
        """Resolve the phase: actors that did not submit are decided by their deciders. After
        the offers phase returns None; after the responses phase plays the resolution and
        returns the turn's :class:`TurnReport`. Raises StrategyError if a decider's decision is
        illegal, or if an actor neither submitted nor has a decider."""
        self._open()
        if self.phase == OFFERS:
            self._offers()
            return None
        if self.phase == RESPONSES:
            return self._resolve()
        raise StrategyError(f"the game is over (turn {self.turn} of {self.horizon})")

    def inject(self, event_name: str, target: str | None = None) -> None:
        """Queue event ``event_name`` of the scenario's ``events`` (scripted or random alike, by its
        ``name``; the first of that name) to fire when the next turn opens, after that turn's
        scheduled events: the White Cell of a classroom game. The current turn opens first if it
        has not (as ``observe`` opens it), so the event always fires one turn after the one it was
        injected in. ``target``: a host id, as :func:`events.target_rule` allows (required for a
        ``random_host`` event, optional for one acting on ``{host}``, else its own or None).

        Nothing is drawn from any random stream: the shocks and every actor's draws stay as
        they were (common random numbers), and a game with no injection plays as before.

        Raises:
            StrategyError: unknown event, a target not allowed (not a host id, none where one is
                needed, another where the event has its own), or no turn left to fire in; nothing
                is queued then.
        """
        events = {e.name: e for e in reversed(self.scenario.events)}  # (the first of a name wins)
        ev = events.get(event_name)
        if ev is None:
            known = ", ".join(sorted(events)) or "none"
            raise StrategyError(f"inject: unknown event {event_name!r} (the scenario's events: {known})")
        if target is not None and target not in self.hosts:
            raise StrategyError(f"inject {event_name}: target {target!r} is not a host id ({', '.join(self.host_ids)})")
        rule, default = target_rule(ev)
        if rule == "required" and target is None:
            raise StrategyError(f"inject {event_name}: it strikes a random host; name the host (target)")
        if rule == "fixed" and target is not None and target != default:
            own = f"its own target is {default}" if default else "it has no target"
            raise StrategyError(f"inject {event_name}: takes no other target ({own}), got {target!r}")
        self._open()
        if self.phase == OVER or self.turn >= self.horizon:
            left = f"turn {self.turn} of {self.horizon}"
            raise StrategyError(f"inject {event_name}: no turn left for it to fire in ({left})")
        self._injected.append((ev, target if target is not None else default))

    @property
    def injected(self) -> tuple[tuple[str, str | None], ...]:
        """The events queued by :meth:`inject` for the next turn's opening, as (name, target)."""
        return tuple((ev.name, target) for ev, target in self._injected)

    def play_turn(self) -> TurnReport:
        """Both phases with no submissions: every actor's decider decides. When each decider is a
        strategy kernel (``compiled``, built-in strategies, nothing submitted), the whole turn is
        played in compiled code, and the same report, event log and state follow (the offers,
        outcomes and log rows are built from compact records when read)."""
        if self.phase == OFFERS and not self._pending and self.compiled and _COMPILED_TURNS:
            opening = not self._opened and self.events.quiet(self.turn + 1)
            if not opening:
                self._open()
            played = _COMPILED_TURNS[0](self, opening)
            if played is not None:
                return self._resolve_compiled(played)
        self.advance()
        return self.advance()

    # ------------------------------------------------------------------ the phases

    def _open(self) -> None:
        """Begin the turn (once, at the first call of the contract in it): events, then budgets."""
        if self._opened or self.phase != OFFERS:
            return
        self._opened = True
        self.turn += 1
        self._log_start = len(self._log)
        self._pending, self._decided_by = {}, {}
        rl = self.tables.rules
        K.open_turn(self.state.hosts, self.state.powers, rl)
        self.events.step(self.turn)
        if self._injected:  # the White Cell's events of the last turn, after the scheduled ones
            for ev, target in self._injected:
                self.events.fire(ev, self.turn, target, status="injected_event")
            self._injected = []
        K.refill_budgets(self.state.powers, rl)
        while self._cursor_turn < self.turn:  # the streams move on to this turn's region
            pcg.jump_all(self._cursors, self._jumps)
            self._cursor_turn += 1
        self._public = None

    def _decider(self, actor_id: str) -> Decider:
        try:
            return self.deciders[actor_id]
        except KeyError:
            raise StrategyError(f"{actor_id}: no decision submitted and no decider to make one") from None

    def _offers(self) -> None:
        """Powers move simultaneously: each sees the state before anyone's offers this turn.
        Every decision is made and checked before any is applied, so an illegal one leaves the
        game as it was (a stateful strategy's own memory may still have moved)."""
        by_host: dict[str, list[Offer]] = {h: [] for h in self.host_ids}
        made: dict[str, list[Offer]] = {}
        decided_by: dict[str, str] = {}
        for pid in self.power_ids:
            power = self.powers[pid]
            if pid in self._pending:
                made[pid], decided_by[pid] = self._pending[pid], "submitted"
            else:
                decider = self._decider(pid)
                # A configured built-in strategy decides in compiled code (strategies/kernels.py),
                # the same offers as its Python class (tests/test_golden.py plays both).
                compiled = getattr(decider, "compiled_offers", None) if self.compiled else None
                offers = compiled(self) if compiled is not None else None
                if offers is None:
                    offers = list(decider(self.observe(pid)))
                    check_offers(power, offers, self)
                made[pid], decided_by[pid] = offers, "strategy"
        self._decided_by.update(decided_by)
        at_of: dict[str, list[int]] = {h: [] for h in self.host_ids}  # each offer's position in the turn, by host
        all_made: list[Offer] = []
        rows = []  # each power's offers as rows (power, move, host, size): a kernel's own, else built here
        for pid in self.power_ids:
            offers = made[pid]
            self.powers[pid].offers_made += len(offers)
            for o in offers:
                by_host[o.host].append(o)
                at_of[o.host].append(len(all_made))
                all_made.append(o)
            if offers:
                rows.append(getattr(offers, "rows", None))
                if rows[-1] is None:
                    rows[-1] = self._rows_of(offers)
        self._by_host = by_host
        self._made_at = at_of
        self._made = all_made
        # The turn's offers as rows, by host (each host's in the order made): what the hosts' kernels
        # read (host_rows) and where each offer counts in the acceptance memory (_tally).
        table = np.concatenate(rows) if rows else np.zeros((0, 4))
        order = [at for h in self.host_ids for at in at_of[h]]
        self._turn_rows = table = table[order]
        lay = self.layout
        at = ((table[:, 0] * len(lay.hosts) + table[:, 2]) * len(lay.moves) + table[:, 1]) * 2
        self._tally_at = at.astype(np.int64)
        self._host_row_at = {}  # host id -> its first row in _turn_rows
        first = 0
        for h in self.host_ids:
            self._host_row_at[h] = first
            first += len(at_of[h])
        self._pending = {}
        self.phase = RESPONSES
        K.refill_absorption(self.state.hosts, self.tables.rules)  # each host's pool refills before it answers

    def _rows_of(self, offers: list[Offer]) -> np.ndarray:
        """Offers as rows (power, move, host, size): float64[n, 4]."""
        p, m, h = self.power_index, self.move_index, self.host_index
        return np.array([(p[o.power], m[o.move], h[o.host], o.size_usd_bn) for o in offers], dtype=np.float64)

    def host_rows(self, host_id: str) -> np.ndarray:
        """The offers made to ``host_id`` this turn as rows (power, move, host, size), in the order
        of ``observe(host_id).offers`` (a view: read-only by convention)."""
        first = self._host_row_at[host_id]
        return self._turn_rows[first : first + len(self._by_host[host_id])]

    def _resolve(self) -> TurnReport:
        accepted = self._responses()
        self._commit(accepted)
        self._progress()
        self._economy()
        self._trade()
        self._influence()
        self._update_metrics()
        outcomes, self._outcomes = self._outcomes, []
        return self._close(outcomes)

    def _close(self, outcomes) -> TurnReport:
        """End the turn: the next turn's offers phase (or the end) and the turn's report."""
        self._opened = False
        self._pending = {}
        self._public = None
        self.phase = OVER if self.turn >= self.horizon else OFFERS
        return _LazyTurnReport.of(self.turn, self.date, FrozenMap(self._decided_by), FrozenMap(self.metrics),
                                  outcomes, self, self._log_start, len(self._log))  # fmt: skip

    def _resolve_compiled(self, played: CompiledTurn) -> TurnReport:
        """Record a turn the compiled code played (decisions, rules, payoffs: ``_COMPILED_TURNS``)
        as ``_offers`` .. ``_update_metrics`` record theirs: who decided, each power's ledger and
        the projects' offers, the event log's rows (answers, projects' ends, distress), the
        metrics, and the report, whose outcomes are built when read."""
        if played.opened:  # (what _open does besides the rules, which the compiled code applied)
            self._opened = True
            self.turn += 1
            self._log_start = len(self._log)
            self._pending, self._decided_by = {}, {}
            self._cursor_turn = self.turn
        rows, lay = played.rows, self.layout
        self._decided_by.update(dict.fromkeys(self.power_ids, "strategy"))
        answered = {int(r[2]) for r in rows}
        self._decided_by.update((hid, "strategy") for h, hid in enumerate(lay.hosts) if h in answered)
        self._offers_of_projects.extend([rows[i] for i in played.answers])  # (the ledgers sum them when read)
        if self.record:  # the answers' rows, hosts in order, then the projects' ends (as _responses, _progress)
            turn, date, accepted = self.turn, self.date, played.accepted
            self._log.extend([(turn, date, rows[i], accepted[i]) for i in played.by_host])
            self._log.extend([(turn, date, j, how == K.FAILED) for j, how in played.ended])
        self._log_distress(played.entering, played.ratios)
        self._metrics_after_rules()
        return self._close(_CompactOutcomes(self, played))

    def _responses(self) -> list[Offer]:
        accepted_all = []
        # Every host's answer is made and checked before any is applied (see _offers).
        answers: dict[str, list[Offer]] = {}
        decided_by: dict[str, str] = {}
        for hid in self.host_ids:
            host = self.hosts[hid]
            made = self._by_host[hid]
            if hid in self._pending:
                answers[hid], decided_by[hid] = self._pending[hid], "submitted"
            elif made:
                decider = self._decider(hid)
                compiled = getattr(decider, "compiled_answer", None) if self.compiled else None
                answer = compiled(self, made) if compiled is not None else None
                if answer is None:
                    answer = list(decider(self.observe(hid)))
                    check_responses(host, made, answer, self)
                answers[hid] = answer
                decided_by[hid] = "strategy"
            else:
                answers[hid] = []
        self._decided_by.update(decided_by)
        record = self.record
        moves, by_host, at_of = self.moves, self._by_host, self._made_at
        turn, date, rows = self.turn, self.date, self._log
        tally_ok = []  # whether each offer was accepted, in the order of by_host (see _tally)
        outcomes: list = [None] * len(self._made)  # (offer, accepted, reason): OfferOutcome's fields
        for hid in self.host_ids:
            made = by_host[hid]
            accepted = answers[hid]
            if not made:
                continue
            host = self.hosts[hid]
            room = Headroom(host.absorption_room, host.debt_room())
            if accepted:
                accepted_all.extend(accepted)
                for o in accepted:
                    room.take(moves[o.move], o.size_usd_bn)
            pool = list(accepted)
            # Outcomes by the offer's position in the turn (at_of[hid]): the report's order.
            for o, at in zip(made, at_of[hid], strict=True):
                ok = o in pool if pool else False
                if ok:
                    pool.remove(o)
                tally_ok.append(ok)
                outcomes[at] = (o, True, "") if ok else (o, False, self._refusal(host, o, room))
                if record:  # the event log's row, built when the log is read (event_log)
                    rows.append((turn, date, o, ok))
        if tally_ok:  # each power's acceptance memory (PowerState.remember)
            self._tally(tally_ok)
        # The report lists offers in the order they were made (powers in order, each's in its order).
        self._outcomes = outcomes
        return accepted_all

    def _tally(self, ok: list[bool]) -> None:
        """Count this turn's offers in each power's acceptance memory: offered, and accepted where
        ``ok`` (one flag per offer, in the order of ``_tally_at``: by host, each host's in order)."""
        at = self._tally_at  # flat index of (power, host, move, 0) in the acceptance array
        seen = self.state.acceptance.reshape(-1)  # (a view: the array is contiguous)
        n = len(seen)
        offered = np.bincount(at, minlength=n)
        taken = np.bincount(at, weights=np.array(ok, dtype=np.float64), minlength=n)
        seen[0::2] += taken[0::2]  # (exact: whole numbers)
        seen[1::2] += offered[0::2]

    def _offer_text(self, power: str, hid: str, move_id: str) -> tuple[str, str, str]:
        """(text before the size, text after it up to the status, domain) of an offer's event-log row."""
        key = (power, hid, move_id)
        cached = self._offer_texts.get(key)
        if cached is None:
            move = self.moves[move_id]
            purpose = f" {move.purpose}" if move.purpose else ""
            cached = self._offer_texts[key] = (
                f"{self.display(power, start=True)} offers {self.display(hid)} a USD ",
                f" bn {move.label}{purpose}; ",
                move.domain,
            )
        return cached

    def _refusal(self, host: HostState, o: Offer, room: Headroom) -> str:
        """Why ``host`` refused ``o``: its limits (the room left after what it accepted), else its decider."""
        move = self.moves[o.move]
        need_abs, need_debt = o.size_usd_bn * move.local_absorption, o.size_usd_bn * move.debt_fraction
        if need_abs > room.absorption + 1e-12:
            return _no_absorption_room(need_abs, room.absorption)
        if need_debt > room.debt + 1e-12:
            return _debt_ceiling(need_debt, room.debt)
        if self._decided_by.get(host.actor_id) == "submitted":
            return "refused by the submitted decision"
        strategy = host.strategy
        explain = getattr(strategy, "refusal_reason", None)
        if callable(explain):  # refusal_reason(obs, offer): the host's observation of the responses phase
            text = explain(self.observe(host.actor_id), o)
            if text:
                return str(text)
        name = getattr(strategy, "name", "") or host.cfg.strategy
        return f"refused by its strategy ({name})"

    def _commit(self, accepted: list[Offer]) -> None:
        """Accepted offers become projects: budgets are charged, loans add debt at once."""
        if not accepted:
            return
        rows = np.array([(self.power_index[o.power], self.move_index[o.move], self.host_index[o.host], o.size_usd_bn)
                         for o in accepted])  # fmt: skip
        self.reserve_projects(len(accepted))
        t = self.tables
        self._n_projects = K.commit(self.state.hosts, self.state.powers, self.layout.offsets, t.moves, rows,
                                    len(accepted), self._project_table, self._n_projects, self.turn,
                                    t.rules)  # fmt: skip
        self._offers_of_projects.extend(accepted)  # (the powers' ledgers sum them when read: commitments)

    def reserve_projects(self, more: int) -> np.ndarray:
        """The projects table, grown if needed to hold ``more`` projects than it has (its rows:
        kernels.PROJECT_COLUMNS; the first ``_n_projects`` are the game's projects)."""
        need = self._n_projects + more
        if need > len(self._project_table):
            grown = np.zeros((max(need, 2 * len(self._project_table)), K.PROJECT_COLUMNS))
            grown[: self._n_projects] = self._project_table[: self._n_projects]
            self._project_table = grown
        return self._project_table

    def commit_deal(self, power: str, move: str, host: str, size_usd_bn: float) -> None:
        """A deal an event signs (``[[events]] projects``): committed as an accepted offer, its
        public cost granted first (events.grant_deal)."""
        grant_deal(self.state.powers, self.power_index[power], size_usd_bn * self.moves[move].public_cost_share)
        self._commit([Offer(power, move, host, size_usd_bn)])
        deal_room(self.state.hosts, self.host_index[host])
        if self.record:  # a commitment in the log, as every accepted offer is (status "deal": no offer was made)
            m = self.moves[move]
            purpose = f" {m.purpose}" if m.purpose else ""
            self._log.append({  # (not through event_log, which would build every row so far)
                "turn": self.turn, "date": self.date, "actor": power, "target": host, "domain": m.domain, "move": move,
                "size_usd_bn": size_usd_bn, "status": "deal",
                "text": f"{self.display(power, start=True)} signs with {self.display(host)} a USD {size_usd_bn:.2f} bn "
                        f"{m.label}{purpose} (a scripted deal)",
            })  # fmt: skip

    def _progress(self) -> None:
        """Running projects advance a turn, may slip or fail, and apply effects on completion."""
        n = self._n_projects
        if not n:
            return
        t, lay = self.tables, self.layout
        buffer = np.empty(len(self.power_ids) * 2 * (n + 1))
        ended = np.zeros(n)
        K.progress(self.state.hosts, self.state.routes, self.state.powers, lay.offsets, t.moves, t.power_meta,
                   t.world_minerals, t.toolkit, self._project_table, n, self.turn, t.rules, self.special,
                   self._cursors[: len(self.power_ids)], buffer, ended)  # fmt: skip
        if self.record:
            self._log_ended(ended)

    def _log_ended(self, ended: np.ndarray) -> None:
        """The event log's rows of the projects that ended (``ended[j]``: kernels.progress's code)."""
        at = ended.nonzero()[0]
        if not len(at):
            return
        turn, date, rows = self.turn, self.date, self._log
        for j, how in zip(at.tolist(), ended[at].tolist(), strict=True):
            rows.append((turn, date, j, how == K.FAILED))  # (its row is built when the log is read: _row_of)

    def _economy(self) -> None:
        """GDP grows, debt amortises, and debt service above the threshold is distress: on
        entering it, opinion swings against the largest power creditor, which restructures. Mines
        ramp up toward their capacity and draw down their resources."""
        entering = np.zeros(len(self.host_ids), dtype=np.int64)
        ratios = np.zeros(len(self.host_ids))
        K.economy(self.state.hosts, self.layout.offsets, self.tables.rules, entering, ratios)
        K.mining(self.state.hosts, self.layout.offsets, self.tables.rules)  # mines ramp up and deplete
        self._log_distress(entering, ratios)

    def _log_distress(self, entering: np.ndarray, ratios: np.ndarray) -> None:
        """The event log's rows of the hosts entering distress (kernels.economy's outputs)."""
        for i in np.flatnonzero(entering >= 0).tolist():
            hid = self.host_ids[i]
            creditor = self.power_ids[entering[i] - 1] if entering[i] > 0 else None
            text = (f"{self.display(hid, start=True)} is in debt distress "
                    f"(debt service {ratios[i]:.0%} of revenue)")  # fmt: skip
            if creditor is not None:
                text += f"; opinion turns against {self.display(creditor)}, which restructures its loans"
            self.log(actor=hid, target=creditor or "", domain="financing", status="distress", text=text)

    def _trade(self) -> None:
        """Cargo goes to routes by generalised cost under capacity limits, with a lag."""
        K.trade_step(self.state.routes, self.state.trade, self.tables.rules)

    def _influence(self) -> None:
        """Influence stocks decay and grow from presence weighted by opinion; opinion relaxes."""
        t = self.tables
        K.influence(self.state.hosts, self.layout.offsets, t.power_meta, t.power_static, t.rules, self.state.routes,
                    t.through)  # fmt: skip

    def _update_metrics(self) -> None:
        """Payoffs, then every registered metric (and each actor's record when recording)."""
        t, st = self.tables, self.state
        K.metrics_and_payoffs(st.hosts, st.powers, st.routes, st.trade, self.layout.offsets, t.power_meta,
                              t.power_static, t.world_minerals, t.rules, self.special, t.through, self.initial_output,
                              self.turn, self.derived)  # fmt: skip
        self._metrics_after_rules()

    def _metrics_after_rules(self) -> None:
        """Every registered metric of the state the rules and payoffs left (``derived``)."""
        s = self._metric_state = self.metric_state()
        self._records = None  # each actor's row of actors.csv: built when first read (Game.actor_record)
        self.metrics = metric_row(s)

    def actor_record(self, actor_id: str) -> dict:
        """The actor's row of ``actors.csv`` after the last turn (its state's ``record``)."""
        if self._records is None:
            self._records = actor_records(self, self._metric_state)
        return self._records[actor_id]

    def metric_state(self) -> MetricState:
        """What the metrics of the state after the last turn read (computed by the rules)."""
        return MetricState.of_derived(self, self.derived)


def _no_absorption_room(need: float, left: float) -> str:
    return f"no absorption room: needs USD {need:.3f} bn, {max(left, 0.0):.3f} bn left"


def _debt_ceiling(need: float, left: float) -> str:
    return f"debt ceiling: adds USD {need:.3f} bn of debt, {max(left, 0.0):.3f} bn of room left"


class _CompactOutcomes:
    """A compiled turn's outcomes, built when its report's ``offers`` are read: (offer, accepted,
    reason) in the order made, the reasons worded as ``Game._refusal`` words them."""

    __slots__ = ("game", "played")

    def __init__(self, game: Game, played: CompiledTurn):
        self.game, self.played = game, played

    def __call__(self) -> list[tuple]:
        game, played = self.game, self.played
        out = []
        for row, ok, (why, need, left) in zip(played.rows, played.accepted, played.refusal, strict=True):
            offer = game._offer_of(row)
            if ok:
                out.append((offer, True, ""))
            elif why == 1:
                out.append((offer, False, _no_absorption_room(need, left)))
            elif why == 2:
                out.append((offer, False, _debt_ceiling(need, left)))
            else:
                out.append((offer, False, f"refused by its strategy ({played.strategy_names[offer.host]})"))
        return out


_STARTS: dict[int, tuple] = {}  # id(scenario) -> (scenario, tables, state at turn 0, region's mineral output)


def game_start(sc: Scenario) -> tuple:
    """(tables, state at turn 0, the region's output of each mineral at turn 0) of scenario ``sc``:
    the tables of the scenario and the state its games start from, built once per scenario
    (a loaded scenario is read-only): turn 0 has the influence stocks at the equilibrium of
    today's presence, so that the initial state is the calibration rather than a transient."""
    entry = _STARTS.get(id(sc))
    if entry is None or entry[0] is not sc:
        t = tables(sc)
        lay = t.layout
        start = initial_state(sc, lay)
        K.initial_influence(start.hosts, lay.offsets, t.power_meta, t.power_static, t.rules, start.routes, t.through)
        output = np.array([sum(float(v) for v in start.hosts[:, lay.mineral(m, 0)]) for m in range(len(lay.minerals))])
        if len(_STARTS) >= 16:
            _STARTS.clear()
        entry = _STARTS[id(sc)] = (sc, t, start, output)
    return entry[1], entry[2], entry[3]


def _check_decider(actor_id: str, decider: Decider) -> None:
    """A decider takes the observation alone; one written for the deciders of before observations,
    ``(state, game)`` or ``(state, offers, game)``, is refused when the game is built (TypeError,
    one line) rather than failing mid-game."""
    if not callable(decider):
        raise TypeError(f"deciders[{actor_id!r}]: not callable ({type(decider).__name__})")
    try:
        params = list(inspect.signature(decider).parameters.values())
    except (TypeError, ValueError):  # a builtin: nothing to check
        return
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p.name for p in params if p.kind in positional and p.default is inspect.Parameter.empty]
    takes_one = any(p.kind in (*positional, inspect.Parameter.VAR_POSITIONAL) for p in params)
    if len(required) > 1 or not takes_one:
        raise TypeError(
            f"deciders[{actor_id!r}]: a decider takes the actor's observation alone, decider(obs) -> decision; "
            f"this one takes ({', '.join(required)})"
        )
