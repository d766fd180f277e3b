"""The bulk path: whole games in compiled code, for sweeps, tournaments and tuning.

When every actor's strategy has a compiled kernel (strategies/kernels.py: the built-in doctrines
and ``parametric``, the scoring hosts, ``random``, ``greedy``), a game is played by the rules of
engine/kernels.py from start to horizon without returning to Python, except at the turns where a
scenario event fires or ends (events are applied by the same ``EventEngine`` as in the per-turn
path, over views of the arrays) and after the turns whose metrics are recorded. No event log is
kept. A game gives the metrics the per-turn path gives, bit for bit (tests/test_bulk.py).

>>> plan = BulkPlan("baseline")
>>> rows = plan.play(seed=0)                 # {turn: {metric column: value}} at the last turn
>>> rows = plan.play(seed=0, record=[10, 20, 40])
>>> block = plan.play_block(range(100))      # a block of seeds per call
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._compiled import njit, njit_borrowing, warm_up
from ..engine import kernels as K
from ..engine import pcg
from ..engine.arrays import O_N_CREDITORS, RL_MAX_OFFERS
from ..engine.events import EventEngine, deal_room, grant_deal
from ..engine.metrics import MetricState, metric_row
from ..engine.streams import EVENTS, HAZARDS, STRATEGIES, Streams
from ..engine.turn import game_start
from ..engine.views import HostView, PowerView, RouteView, TradeView
from ..scenario.config import Scenario, format_date, load_scenario, parse_date
from ..strategies import kernels as S
from ..strategies import make_strategy


class NotCompiled(ValueError):
    """A game of this scenario cannot be played on the bulk path (a strategy has no kernel)."""


class BulkPlan:
    """Everything about a scenario's games that does not depend on the seed, built once.

    Args:
        scenario: a ``Scenario``, or a built-in name or path.
        turns: horizon (default: the scenario's).

    Raises:
        NotCompiled: an actor's strategy has no kernel (the message names it).
    """

    def __init__(self, scenario: Scenario | str, turns: int | None = None):
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.scenario = sc
        self.horizon = sc.horizon_turns if turns is None else turns
        t, start, self.initial_output = game_start(sc)  # (the per-turn Game's start, built once per scenario)
        self.tables = t
        lay = self.layout = t.layout
        state = start.copy()
        self.special = t.special
        self.derived = np.zeros(K.derived_offsets(len(lay.hosts), len(lay.powers), len(lay.routes))[-1])
        K.metrics_and_payoffs(state.hosts, state.powers, state.routes, state.trade, lay.offsets, t.power_meta,
                              t.power_static, t.world_minerals, t.rules, self.special, t.through,
                              self.initial_output, 0, self.derived)  # fmt: skip
        self.state0 = state
        actors = (*lay.powers, *lay.hosts)
        self.actor_order = actors
        n_actors = len(actors)
        specs = []
        for aid in actors:
            kind = "power" if aid in sc.powers else "host"
            cfg = sc.powers[aid] if kind == "power" else sc.hosts[aid]
            spec = make_strategy(cfg.strategy, cfg.strategy_params).kernel(kind, aid, sc, lay)
            if spec is None:
                raise NotCompiled(f"{kind}s.{aid}.strategy: {cfg.strategy!r} has no compiled kernel")
            specs.append(spec)
        self.kinds = np.array([k for k, _ in specs], dtype=np.int64)
        width = max(len(v) for _, v in specs)
        self.params = np.zeros((n_actors, width))
        for a, (_, v) in enumerate(specs):
            self.params[a, : len(v)] = v
        self.memory_width = len(lay.moves) + len(lay.hosts) + 1
        self.toolkit_sorted = np.zeros((len(lay.powers), len(lay.moves)), dtype=np.int64)
        self.n_toolkit = np.zeros(len(lay.powers), dtype=np.int64)
        for p, pid in enumerate(lay.powers):
            ids = [lay.moves.index(m) for m in sorted(sc.powers[pid].toolkit)]
            self.toolkit_sorted[p, : len(ids)] = ids
            self.n_toolkit[p] = len(ids)
        self.host_rank = np.array([sorted(lay.hosts).index(h) for h in lay.hosts], dtype=np.int64)
        self.max_offers = int(sc.rules.max_offers_per_turn)
        self.start_year = parse_date(sc.start)
        self.stochastic = np.array([k == S.RANDOM for k in self.kinds], dtype=np.bool_)
        # One set of buffers a plan plays its games in, one game at a time (sweeps run games in processes).
        self._state = state.copy()
        self._world = _World(self, self._state)
        deals = sum(len(ev.projects) for ev in sc.events)
        capacity = self.max_offers * len(lay.powers) * (self.horizon + 1) + deals
        self._projects = np.zeros((capacity, K.PROJECT_COLUMNS))
        self._memory = np.zeros((n_actors, self.memory_width))
        self._cursors = np.zeros((len(lay.powers) + n_actors, 4), dtype=np.uint64)
        random_actors = [int(a) for a in np.flatnonzero(self.stochastic)]
        self._stream_keys = [(EVENTS,), *((HAZARDS, a) for a in range(len(lay.powers))),
                             *((STRATEGIES, a) for a in random_actors)]  # fmt: skip
        self._cursor_rows = np.array([*range(len(lay.powers)), *(len(lay.powers) + a for a in random_actors)],
                                     dtype=np.int64)  # fmt: skip
        # One events engine for the plan's games, restarted for each (the scenario's events read once).
        self._events = EventEngine(sc.events, self._world)

    def date_of(self, turn: int) -> str:
        """Label of turn ``turn``'s period (as ``Game.date_of``)."""
        return format_date(self.start_year + (turn - 1) * self.scenario.dt, self.scenario.turns_per_year)

    def play_block(self, seeds: Iterable, record: Iterable[int] | None = None) -> list[dict[int, dict]]:
        """A block of games, one per seed, in one call: ``[play(seed, record) for seed in seeds]``,
        the plan and its buffers reused from game to game (each game is the one ``play`` gives,
        whatever the block it is in)."""
        turns = None if record is None else sorted({int(t) for t in record})
        return [self.play(seed, record=turns) for seed in seeds]

    def play(self, seed, record: Iterable[int] | None = None, *, compile_first: bool = True) -> dict[int, dict]:
        """One game on seed ``seed``; the model-level metrics (``model.csv``'s columns) after each
        turn in ``record`` (default: the last; 0 is the state before the first turn), as
        ``{turn: {column: value}}`` in turn order."""
        if compile_first:
            warm_up(_compile_all)
        turns = {self.horizon} if record is None else {int(t) for t in record}
        lay, t = self.layout, self.tables
        state, world = self._state, self._world
        for mine, start in zip(
            (state.hosts, state.powers, state.routes, state.trade, state.acceptance),
            (self.state0.hosts, self.state0.powers, self.state0.routes, self.state0.trade, self.state0.acceptance),
            strict=True,
        ):
            np.copyto(mine, start)
        streams = world.streams = Streams(seed)
        world.turn = 0
        # The streams' words at their starts, in one compiled call: the events stream's, then each
        # power's hazards and each random actor's strategy (the others draw nothing).
        words = streams.words_rows(self._stream_keys)
        events = self._events
        events.restart(words[0])
        schedule = events.schedule()  # {turn: its events} where some fire
        # Each stream's words at the start of turn 0's region, moved on a region a turn (engine/streams.py).
        cursors = self._cursors
        cursors[:] = 0
        cursors[self._cursor_rows] = words[1:]
        jumps = pcg.region_jumps(cursors)
        cursor_turn = np.zeros(1, dtype=np.int64)
        projects = self._projects
        n_projects = np.zeros(2, dtype=np.int64)  # (the number of projects, the first that may still run)
        world.projects, world.n_projects = projects, n_projects  # (for the deals events sign)
        memory = self._memory
        memory[:] = 0.0
        out: dict[int, dict[str, float]] = {}
        derived = self.derived.copy()
        if 0 in turns:
            out[0] = world.metrics(derived, 0)
        turn = 1
        ends = math.inf  # the first turn at which a temporary effect ends (none active)
        while turn <= self.horizon:
            opened = False
            if turn in schedule or turn >= ends:
                K.open_turn(state.hosts, state.powers, t.rules)
                world.turn = turn
                if turn >= ends:  # (expire changes nothing before the first end)
                    events.expire(turn)
                for ev, target in schedule.get(turn, ()):
                    events.fire(ev, turn, target)
                ends = min((expiry for expiry, _, _ in events.active), default=math.inf)
                opened = True
            # Play up to the next turn with events (firing or ending: the ones just fired count),
            # or the end of a recorded turn.
            stop = turn + 1
            while stop <= self.horizon and stop not in schedule and stop < ends and stop - 1 not in turns:
                stop += 1
            _play(state.hosts, state.powers, state.routes, state.trade, state.acceptance, projects, n_projects,
                  lay.offsets, t.moves, t.toolkit, t.power_meta, t.power_static, t.rules, t.world_minerals,
                  self.special, t.through, self.initial_output, derived, self.kinds, self.params, memory, cursors,
                  jumps, cursor_turn, self.toolkit_sorted, self.n_toolkit, self.host_rank, turn, stop,
                  opened)  # fmt: skip
            turn = stop
            if turn - 1 in turns:
                out[turn - 1] = world.metrics(derived, turn - 1)
        return dict(sorted(out.items()))


class _World:
    """What the EventEngine and the metric registry read of a bulk game: views of its arrays."""

    def __init__(self, plan: BulkPlan, state):
        lay = plan.layout
        self.plan, self.state, self.streams, self.layout = plan, state, None, lay
        self.dt = plan.scenario.dt
        self.turns_per_year = plan.scenario.turns_per_year
        self.start_year = plan.start_year
        self.turn = 0
        self.scenario = plan.scenario
        self.power_ids, self.host_ids, self.route_ids, self.mineral_ids = (
            lay.powers,
            lay.hosts,
            lay.routes,
            lay.minerals,
        )
        self.horizon = plan.horizon
        self.names = plan.scenario.display_names()
        self.hosts = {h: HostView(state.hosts, i, lay, h) for i, h in enumerate(lay.hosts)}
        self.powers = {p: PowerView(state.powers, i, lay, p) for i, p in enumerate(lay.powers)}
        for pid, view in self.powers.items():
            cfg = plan.scenario.powers[pid]
            view.cfg, view.bloc, view.partner = cfg, cfg.bloc, cfg.partner
        self.routes = {r: RouteView(state.routes, i) for i, r in enumerate(lay.routes)}
        self.trade = TradeView(state.trade)
        self.world_minerals = {m: v.model_dump() for m, v in plan.scenario.world.minerals.items()}
        self.initial_region_output = dict(zip(lay.minerals, plan.initial_output.tolist(), strict=True))

    keeps_log = False  # (the events engine writes no log rows for it)

    def log(self, **_) -> None:
        """The bulk path keeps no event log."""

    def commit_deal(self, power: str, move: str, host: str, size_usd_bn: float) -> None:
        """A deal an event signs, committed as the per-turn Game commits it (Game.commit_deal)."""
        lay, t = self.layout, self.plan.tables
        p, k = lay.powers.index(power), lay.moves.index(move)
        grant_deal(self.state.powers, p, size_usd_bn * self.plan.scenario.moves[move].public_cost_share)
        h = lay.hosts.index(host)
        row = np.array([[p, k, h, size_usd_bn]], dtype=float)
        self.n_projects[0] = K.commit(self.state.hosts, self.state.powers, lay.offsets, t.moves, row, 1,
                                      self.projects, self.n_projects[0], self.turn, t.rules)  # fmt: skip
        deal_room(self.state.hosts, h)

    def display(self, actor_id: str, *, start: bool = False) -> str:
        return actor_id  # (sentences are for the event log, which the bulk path does not keep)

    def metrics(self, derived: np.ndarray, turn: int) -> dict[str, float]:
        """The model-level metrics of the state after ``turn``, from the compiled rules' ``derived``."""
        self.turn = turn
        return metric_row(MetricState.of_derived(self, derived))


def _compile_all() -> None:
    """Compile every kernel (or load it from the cache): a two-turn baseline game. numba compiles
    a function whole, every branch, so one game compiles the kernels of every strategy kind."""
    BulkPlan(load_scenario("baseline"), turns=2).play(0, compile_first=False)


@njit
def _play(hosts, powers, routes, trade, acceptance, projects, n_projects, o, mv, toolkit, pm, ps, rl, wm, special,
          through, initial_output, derived, kinds, params, memory, cursors, jumps, cursor_turn, toolkit_sorted,
          n_toolkit, host_rank, turn_from, turn_to, opened):  # fmt: skip
    """Play turns ``turn_from`` to ``turn_to - 1`` (the first already opened and its events applied
    if ``opened``): :func:`_play_turns` with its scratch. ``n_projects``: int64[2], the number of
    projects and the first of them that may still run."""
    n_powers, n_hosts, n_routes = powers.shape[0], hosts.shape[0], routes.shape[0]
    size = n_powers * int(rl[RL_MAX_OFFERS])
    floats, ints = S.scratch_sizes(n_powers, n_hosts, mv.shape[0], int(rl[RL_MAX_OFFERS]))
    _play_turns(hosts, powers, routes, trade, acceptance, projects, n_projects, o, mv, toolkit, pm, ps, rl, wm, special,
                through, initial_output, derived, kinds, params, memory, cursors, jumps, cursor_turn, toolkit_sorted,
                n_toolkit, host_rank, turn_from, turn_to, opened, np.zeros((3 * size, 4)),
                np.empty(3 * size, dtype=np.int64), np.zeros(size, dtype=np.bool_),
                np.empty(n_powers * 2 * (projects.shape[0] + 1)), np.zeros(projects.shape[0]),
                np.zeros(n_hosts, dtype=np.int64), np.zeros(n_hosts), np.zeros((4, 4), dtype=np.uint64),
                np.empty((n_hosts, 5)),
                np.empty(floats), np.empty(ints, dtype=np.int64), np.empty(n_powers, dtype=np.int64),
                np.empty(K.trade_scratch(n_routes) + K.metrics_scratch(n_hosts, o[O_N_CREDITORS])),
                K.derived_offsets(n_hosts, n_powers, n_routes), np.zeros(2, dtype=np.int64))  # fmt: skip


@njit_borrowing
def _play_turns(hosts, powers, routes, trade, acceptance, projects, n_projects, o, mv, toolkit, pm, ps, rl, wm,
                special, through, initial_output, derived, kinds, params, memory, cursors, jumps, cursor_turn,
                toolkit_sorted, n_toolkit, host_rank, turn_from, turn_to, opened, rows, indices, is_accepted, buffer,
                ended, entering, ratios, words, room, work, keys, lows, rule_work, d, counts):  # fmt: skip
    """The turns of :func:`_play`: the per-turn path's order of design.md, each step a rule of
    engine/kernels.py. ``cursors``: the hazard streams of the powers, then the strategy streams of
    the actors, at the start of turn ``cursor_turn[0]``'s region; ``jumps``: each one's jump by a
    region. The arguments after ``opened`` are scratch (this allocates nothing). Each turn is
    strategies/kernels.py's ``turn_with``, as a per-turn ``Game`` plays it in compiled code."""
    size = powers.shape[0] * int(rl[RL_MAX_OFFERS])
    offers, commits, scratch = rows[:size], rows[size : 2 * size], rows[2 * size :]
    made, accepted, answers = indices[:size], indices[size : 2 * size], indices[2 * size :]
    stream, hazard_words, draw_buffer = words[0], words[1:3], words[3][:2]
    n_trade = K.trade_scratch(routes.shape[0])
    trade_work, metrics_work = rule_work[:n_trade], rule_work[n_trade:]
    for turn in range(turn_from, turn_to):
        while cursor_turn[0] < turn:
            for i in range(cursors.shape[0]):
                pcg.apply_jump(cursors[i], jumps[i])
            cursor_turn[0] += 1
        if not (opened and turn == turn_from):
            K.open_turn(hosts, powers, rl)
        K.refill_budgets(powers, rl)
        S.turn_with(hosts, powers, routes, trade, acceptance, projects, n_projects, o, mv, toolkit, pm, ps, rl, wm,
                    special, through, initial_output, derived, kinds, params, memory, cursors, toolkit_sorted,
                    n_toolkit, host_rank, turn, offers, commits, scratch, made, accepted, answers, is_accepted, buffer,
                    ended, entering, ratios, stream, hazard_words, draw_buffer, room, work, keys, lows, trade_work,
                    metrics_work, d, False, made, scratch, counts)  # fmt: skip
