"""CompetitionModel: great-power competition in Central Asia as a turn-based Mesa model.

Four powers (China, the US, the G7, Russia) make offers of financing, infrastructure, digital
and energy projects to five Central Asian states, which accept or refuse them; the game tracks
influence, debt and supply-chain diversification. The world comes from the policy brief in
``shared/brief.md`` and the calibration in ``shared/calibration``; the rules are documented in
ODD form in ``docs/model.md``.

The model is the Mesa shell of the engine's game (:class:`strategy_abm.engine.turn.Game`): it
builds a ``Game``, its agents are views of the actors' state, and ``step`` drives the game through
one turn (offers, responses, resolution), letting every actor's configured strategy decide.
"""

from __future__ import annotations

import functools

import mesa
import numpy as np

from ..engine.metrics import metric_columns
from ..engine.turn import Game
from ..scenario.config import Scenario, load_scenario
from .agents import HostAgent, PowerAgent
from .reporters import GameCollector, actor_reporters


class CompetitionModel(mesa.Model):
    """The game. Build it with keyword arguments only (``mesa.batch_run`` and SolaraViz do).

    Args:
        scenario: a built-in scenario name, a path to a scenario TOML file, or a ``Scenario``.
        seed: seed of the game's random streams (``engine/streams.py``: events and shocks, project
            hazards, each actor's strategy) and of Mesa's ``self.random`` and ``self.rng``, which
            the game does not draw from. The whole game is determined by the scenario and this
            seed. A numeric string is cast to ``int`` (SolaraViz passes strings). ``None`` draws
            a seed and records it.
        overrides: dotted ``KEY=VALUE`` overrides of the scenario (as the CLI's ``--set``).
        turns: horizon in turns (overrides the scenario's ``horizon_turns``).
        record: keep Mesa's DataCollector and the event log (``False`` for batch runs that
            only read ``metrics``: the rules and results are the same, the bookkeeping lighter).
        compiled: let the configured built-in strategies decide in compiled code (the same
            decisions, tests/test_golden.py); ``False`` runs their Python code (to debug or trace them).

    Attributes:
        game: the engine's ``Game`` this shell drives; any attribute the model does not have is
            read from it (``turn``, ``routes``, ``projects``, ``event_log``, ``metrics``,
            ``moves``, ``rules``, ``dt``, ``date``, ``route_shares()``, ...).
        hosts, powers: agents by id (views of ``game.hosts``, ``game.powers``).
        last_report: the ``TurnReport`` of the last turn played (None before the first).
    """

    def __init__(
        self,
        *,
        scenario: str | Scenario = "baseline",
        seed: int | str | None = None,
        overrides: list[str] | None = None,
        turns: int | None = None,
        record: bool = True,
        compiled: bool = True,
    ):
        if isinstance(seed, str):
            seed = int(seed) if seed.strip().lstrip("-").isdigit() else seed
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(seed, int) and seed < 0:
            raise ValueError(f"seed: must be 0 or more, got {seed}")
        super().__init__(seed=seed)
        self.seed = seed
        extra = [f"horizon_turns={int(turns)}"] if turns is not None else []
        self.scenario = load_scenario(scenario, [*(overrides or []), *extra])
        self.record = record
        self.game = game = Game(self.scenario, seed, record=record, compiled=compiled)
        # Agents in the scenario's order, powers then hosts: unique ids 1..9 in the baseline.
        self.powers: dict[str, PowerAgent] = {pid: PowerAgent(self, s) for pid, s in game.powers.items()}
        self.hosts: dict[str, HostAgent] = {hid: HostAgent(self, s) for hid, s in game.hosts.items()}
        # The shell's deciders ask the agents (which ask the configured strategies), so that a
        # caller may wrap an agent's propose/respond. Plain objects, not closures: a model pickles.
        for state in (*game.powers.values(), *game.hosts.values()):
            state.model = self  # the actor's Mesa model (what the agents' views find)
        for aid, agent in (*self.powers.items(), *self.hosts.items()):
            game.deciders[aid] = _AskAgent(agent, game.deciders.get(aid))
        self.last_report = None
        self.datacollector = None
        if record:
            columns = metric_columns(self.scenario)
            self.datacollector = GameCollector(columns, model_reporters={c: _metric_reader(c) for c in columns},
                                               agenttype_reporters=actor_reporters())  # fmt: skip
            self.datacollector.collect(self)

    def __getattr__(self, name: str):
        # The game's state and helpers, read through the shell (model.turn, model.routes, ...).
        try:
            game = self.__dict__["game"]
        except KeyError:
            raise AttributeError(name) from None
        return getattr(game, name)

    @property
    def turn(self) -> int:
        return self.game.turn

    @property
    def metrics(self) -> dict[str, float]:
        return self.game.metrics

    @property
    def event_log(self) -> list[dict]:
        return self.game.event_log

    # ------------------------------------------------------------------ the turn

    def step(self) -> None:
        """Play one turn: the game's offers phase, then its responses and resolution, every actor
        decided by its configured strategy; then the DataCollector records the turn."""
        game = self.game
        self.last_report = game.play_turn()
        if self.datacollector is not None:
            self.datacollector.collect(self)
        if game.over:
            self.running = False

    # ------------------------------------------------------------------ running

    def run(self) -> CompetitionModel:
        """Play to the horizon."""
        while self.running:
            self.step()
        return self


class _AskAgent:
    """A game's decider that asks the Mesa agent: ``agent.propose(obs)`` or ``agent.respond(obs)``.
    While the agent's method is its class's own (not wrapped by a caller), the game may let the
    configured strategy decide in compiled code instead (``configured``'s hooks: the same decisions)."""

    __slots__ = ("agent", "configured")

    def __init__(self, agent, configured=None):
        self.agent = agent
        self.configured = configured

    def __call__(self, obs):
        return self.agent.propose(obs) if obs.kind == "power" else self.agent.respond(obs)

    def _hook(self, name: str, method: str):
        agent = self.agent
        if method in agent.__dict__ or getattr(type(agent), method) is not _DEFAULTS[method]:
            return None  # a caller wraps the agent: it decides
        return getattr(self.configured, name, None)

    def kernel_spec(self, game):
        agent = self.agent
        method = _METHODS[agent.kind]  # (asked every turn: _hook's check, inlined)
        if method in agent.__dict__ or getattr(type(agent), method) is not _DEFAULTS[method]:
            return None  # a caller wraps the agent: it decides
        return self.configured.kernel_spec(game) if self.configured is not None else None

    def compiled_offers(self, game):
        hook = self._hook("compiled_offers", "propose")
        return None if hook is None else hook(game)

    def compiled_answer(self, game, made):
        hook = self._hook("compiled_answer", "respond")
        return None if hook is None else hook(game, made)


_DEFAULTS = {"propose": PowerAgent.propose, "respond": HostAgent.respond}
_METHODS = {"power": "propose", "host": "respond"}


def read_metric(model, name: str) -> float:
    """The DataCollector's reporter of metric ``name`` (bound with ``functools.partial``, which
    Mesa calls with the model and which pickles, unlike a closure)."""
    return model.metrics[name]


def _read_metric(name: str, model) -> float:
    # (read_metric with the name first: a partial binds it positionally, cheaper to call; the game's
    # row of the turn directly. GameCollector reads the row itself; Mesa's collect, if a caller
    # changed the reporters, calls this once per column and turn)
    return model.__dict__["game"].metrics[name]


def _metric_reader(name: str) -> functools.partial:
    return functools.partial(_read_metric, name)
