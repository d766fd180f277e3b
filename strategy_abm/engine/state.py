"""Each actor's state, by name: views of the game's state arrays (engine/arrays.py).

The game (:class:`strategy_abm.engine.turn.Game`) holds the state as arrays that the compiled
rules (engine/kernels.py) change; these objects read and write the same numbers by name, for
events, observations, outputs and the Mesa shell's agents (which are views of them in turn). Who
decides for an actor (its strategy, a person, a program) is the turn's business. State variables
carry the names of the scenario config, so events (``hosts.kgz.governance``) and outputs use one
vocabulary. Derived quantities call the rules themselves (``debt_room`` is ``kernels.debt_room``,
engine/views.py): one implementation.
"""

from __future__ import annotations

import numpy as np

from ..scenario.config import HostConfig, PowerConfig
from .arrays import P_BUDGET_GRANTED, P_BUDGET_PER_YEAR
from .views import HostView, PowerView


class _ActorState:
    """An actor draws from its own stream: ``rng`` is its generator, positioned at the current
    turn's region of stream ``(2, actor_index)`` on its first use in the turn (engine/streams.py).
    A strategy reaches it as ``obs.rng``; one that draws only from it draws the same numbers in a
    turn whatever the other actors do and whatever it drew in earlier turns."""

    kind = ""

    def _init_actor(self, game, actor_id: str, cfg, index: int) -> None:
        """What every actor's state holds besides its view of the arrays."""
        self._init_draws(game, actor_id)
        self._index = index
        self.cfg = cfg
        self.strategy = None  # the configured strategy, set by whoever builds the deciders

    def _init_draws(self, game, actor_id: str) -> None:
        self.game = game
        self.model = game  # the name Mesa's agents give their world
        self.actor_id = actor_id
        self.actor_index = game.actor_order.index(actor_id)
        self._rng_turn = -1
        self._rng = None

    @property
    def rng(self):
        turn = self.game.turn
        if turn != self._rng_turn:
            self._rng, self._rng_turn = self.game.streams.strategy(self.actor_index, turn), turn
        return self._rng

    @property
    def record(self) -> dict:
        """The actor's row of ``actors.csv`` after the last turn."""
        return self.game.actor_record(self.actor_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.actor_id!r})"


class PowerState(_ActorState, PowerView):
    """A great power: budget, toolkit, objectives; its strategy chooses offers each turn.

    Attributes:
        actor_id: the power's id in the scenario (``china``, ``us``, ``g7`` or ``russia`` in the baseline).
        bloc, partner: its technology bloc and trade partner (scenario ``powers.<id>.bloc``, ``.partner``).
        budget_available: public money (USD bn) it may commit this turn.
        ledger: cumulative public spending (total, by domain, by move); ``spent_turn`` this turn's.
        payoff: this turn's payoff; ``payoff_total`` the running sum; ``components`` its parts.
        acceptance_seen: ``"host/move"`` -> (accepted, offered), as observations show it.
    """

    kind = "power"

    def __init__(self, game, actor_id: str, cfg: PowerConfig, index: int):
        PowerView.__init__(self, game.state.powers, index, game.layout, actor_id)
        self._init_actor(game, actor_id, cfg, index)
        self.ledger.follow(game.commitments)
        self.bloc = cfg.bloc
        self.partner = cfg.partner
        self.toolkit = dict(cfg.toolkit)

    @property
    def budget_usd_bn_per_year(self) -> float:
        return float(self._row[P_BUDGET_PER_YEAR])

    @property
    def budget_granted(self) -> float:
        """Cumulative allowance: spending never exceeds it."""
        return float(self._row[P_BUDGET_GRANTED])

    def remember(self, host: str, move: str, accepted: bool) -> None:
        """Count an offer of ``move`` to ``host`` and whether it was accepted."""
        seen = self.game.state.acceptance[self._index, self.game.host_index[host], self.game.move_index[move]]
        seen[0] += float(accepted)
        seen[1] += 1.0

    @property
    def acceptance_seen(self) -> dict[str, tuple[int, int]]:
        """``"host/move"`` -> (accepted, offered) of every pair offered so far, as observations show it."""
        counts = self.game.state.acceptance[self._index]
        hosts, moves = self.game.host_ids, self.game.layout.moves
        return {f"{hosts[h]}/{moves[k]}": (int(counts[h, k, 0]), int(counts[h, k, 1]))
                for h, k in zip(*np.nonzero(counts[:, :, 1]), strict=True)}  # fmt: skip

    def acceptance_rate(self, host: str, move: str, prior: float = 1.0) -> float:
        """Share of past offers of ``move`` to ``host`` that were accepted (prior of one success)."""
        seen = self.game.state.acceptance[self._index, self.game.host_index[host], self.game.move_index[move]]
        return (float(seen[0]) + prior) / (float(seen[1]) + prior)


class HostState(_ActorState, HostView):
    """A Central Asian state: economy, debt by creditor, opinion, digital, energy and minerals.

    Its strategy accepts a subset of the offers made to it, within its absorption capacity
    and debt ceiling.
    """

    kind = "host"

    def __init__(self, game, actor_id: str, cfg: HostConfig, index: int):
        HostView.__init__(self, game.state.hosts, index, game.layout, actor_id)
        self._init_actor(game, actor_id, cfg, index)
