"""A PettingZoo ``ParallelEnv`` over the game's turn contract (``strategy_abm_v0``).

Agents are the powers; their decisions come from the actions given to :meth:`StrategyEnv.step`,
the hosts' from their configured strategies. With ``hosts_as_agents=True`` the hosts are agents too
and a turn takes two steps: the powers' offers phase, then the hosts' responses phase (in each
step the agents of the other phase act too, but their action is ignored and their mask is empty).

Spaces (docs/lab.md, "The PettingZoo environment", lists every slice):

- observation: a flat ``float32`` Box per agent, the seat's view (``Game.observe``) as numbers;
- action of a power: ``MultiDiscrete([n_moves + 1, n_hosts, size_buckets] * max_offers)``, one
  offer per slot (move index in the power's toolkit + 1, or 0 for none; host index; size bucket);
- action of a host: ``MultiDiscrete([2] * host_slots)``, accept (1) the offer in that slot (the
  offers made to it this turn, in the order made; ``host_slots`` = K per power that is an agent plus
  ``rules.max_offers_per_turn`` per power that plays its configured strategy);
- action mask: ``infos[agent]["action_mask"]`` (not in the observation: see :data:`MASK_NOTE`).

A slot that is illegal now is dropped (a no-op), so sampling the action space without the mask is
always safe: see :meth:`StrategyEnv.decode`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from ..engine.projects import Headroom, Offer
from ..engine.turn import OFFERS, RESPONSES, Game
from ..scenario.config import load_scenario

MASK_NOTE = (
    "The mask is in the info dict: PettingZoo's test and sampling helpers pass an observation's "
    "'action_mask' straight to action_space.sample(mask=...), which for a MultiDiscrete takes one "
    "independent mask per dimension; that cannot say that a move is legal at some hosts and sizes "
    "only, so the exact (move, host, size) mask lives in infos[agent]['action_mask']."
)

# Host features, in this order, then the per-power blocks below (HOST_PER_POWER).
HOST_FIELDS = (
    "gdp_usd_bn",
    "growth_rate",
    "debt_to_gdp",
    "debt_service_ratio",
    "distress",
    "governance",
    "absorption_room_next",
    "debt_room",
    "satellite_licence",
)
HOST_PER_POWER = ("influence_shares", "opinion", "creditor_shares")
POWER_OWN = ("budget_available", "budget_usd_bn_per_year", "spent_total", "payoff_total")
HOST_OWN = ("absorption_room", "debt_room", "payoff_total")


def parallel_env(
    scenario: str = "baseline",
    *,
    hosts_as_agents: bool = False,
    max_offers: int = 4,
    size_buckets: int = 4,
    seed: int | None = None,
    powers: Sequence[str] | None = None,
    **overrides: Any,
) -> StrategyEnv:
    """The ``strategy_abm_v0`` environment.

    Args:
        scenario: a built-in scenario name or a path to a scenario TOML file.
        hosts_as_agents: make the hosts agents too (two steps a turn: offers, then responses).
        max_offers: K, the offer slots of a power's action (1 to the scenario's
            ``rules.max_offers_per_turn``).
        size_buckets: B, the sizes an offer may take: B points from the move's ``size_min_usd_bn``
            to its ``size_max_usd_bn``, evenly spaced on a log scale (B = 1: the minimum).
        seed: the game seed of the first ``reset()`` that gives none (later ones draw from the
            env's generator); ``reset(seed=...)`` overrides it.
        powers: the powers that are agents (default: all); the others play their configured
            strategies, as the hosts do (to train one role against the doctrines).
        overrides: scenario overrides as dotted keys, e.g. ``horizon_turns=8`` or
            ``**{"powers.china.strategy": "bri_2"}`` (values as TOML reads them).

    Raises:
        ValueError: a one-line message naming the bad argument.
    """
    return StrategyEnv(scenario, hosts_as_agents=hosts_as_agents, max_offers=max_offers,
                       size_buckets=size_buckets, seed=seed, powers=powers, overrides=overrides)  # fmt: skip


def _override(key: str, value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str | bool) else str(value)
    return f"{key}={text}"


class StrategyEnv(ParallelEnv):
    """See :func:`parallel_env`. ``game`` is the current :class:`Game` (after ``reset``)."""

    metadata = {"name": "strategy_abm_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, scenario="baseline", *, hosts_as_agents=False, max_offers=4, size_buckets=4, seed=None,
                 powers=None, overrides: Mapping[str, Any] | None = None):  # fmt: skip
        self.scenario = load_scenario(scenario, [_override(k, v) for k, v in (overrides or {}).items()])
        sc = self.scenario
        most = sc.rules.max_offers_per_turn
        if isinstance(max_offers, bool) or not isinstance(max_offers, int) or not 1 <= max_offers <= most:
            raise ValueError(
                f"max_offers: must be an integer from 1 to rules.max_offers_per_turn = {most}, got {max_offers!r}"
            )
        if isinstance(size_buckets, bool) or not isinstance(size_buckets, int) or size_buckets < 1:
            raise ValueError(f"size_buckets: must be an integer of 1 or more, got {size_buckets!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed: must be an integer of 0 or more, got {seed!r}")
        if not isinstance(hosts_as_agents, bool):  # ("no" would be true)
            raise ValueError(f"hosts_as_agents: must be True or False, got {hosts_as_agents!r}")
        self.hosts_as_agents = hosts_as_agents
        self.max_offers, self.size_buckets, self._next_seed = max_offers, size_buckets, seed
        self.power_ids, self.host_ids = tuple(sc.power_ids), tuple(sc.host_ids)
        if powers is None:
            powers = self.power_ids
        if isinstance(powers, str) or not all(p in self.power_ids for p in powers) or not powers:
            known = ", ".join(self.power_ids)
            raise ValueError(f"powers: must be a non-empty list of the scenario's powers ({known}), got {powers!r}")
        self.power_agents = tuple(p for p in self.power_ids if p in powers)  # (in the scenario's order)
        self.possible_agents = [*self.power_agents, *(self.host_ids if self.hosts_as_agents else ())]
        self.agents: list[str] = []
        self.toolkits = {p: tuple(sc.powers[p].toolkit) for p in self.power_ids}
        # sizes[p][m, b]: USD bn of bucket b of the power's move m (log-spaced between the bounds).
        self.sizes = {p: np.array([self._buckets(sc.moves[m]) for m in self.toolkits[p]]) for p in self.power_ids}
        # The offers a host may receive in a turn: K from each power that is an agent, the world's
        # bound from each that plays its configured strategy.
        self.host_slots = sum(max_offers if p in self.power_agents else most for p in self.power_ids)
        self.game: Game | None = None
        self._rng = np.random.default_rng(seed)
        self._paid: dict[str, float] = {}
        self._decoded: dict[str, list] = {}
        self._legal_now: dict[str, Mapping[str, Any]] = {}
        self._observation_spaces: dict[str, spaces.Box] = {}
        self._action_spaces: dict[str, spaces.MultiDiscrete] = {}

    def _buckets(self, move) -> list[float]:
        lo, hi, b = move.size_min_usd_bn, move.size_max_usd_bn, self.size_buckets
        if b == 1:
            return [lo]
        return [lo * (hi / lo) ** (i / (b - 1)) if lo > 0 else lo + (hi - lo) * i / (b - 1) for i in range(b)]

    # ------------------------------------------------------------------ spaces

    # Built once per agent: PettingZoo requires the same object on every call (a seeded space stays seeded).

    def observation_space(self, agent: str) -> spaces.Box:
        """A flat float32 Box of :meth:`observation_size` (the layout in docs/lab.md)."""
        space = self._observation_spaces.get(agent)
        if space is None:
            self._known(agent)
            space = spaces.Box(-np.inf, np.inf, shape=(self.observation_size(agent),), dtype=np.float32)
            self._observation_spaces[agent] = space
        return space

    def action_space(self, agent: str) -> spaces.MultiDiscrete:
        """A power: ``[n_moves + 1, n_hosts, size_buckets] * max_offers``; a host: ``[2] * host_slots``."""
        space = self._action_spaces.get(agent)
        if space is None:
            self._known(agent)
            if agent in self.power_ids:
                slot = [len(self.toolkits[agent]) + 1, len(self.host_ids), self.size_buckets]
                space = spaces.MultiDiscrete(slot * self.max_offers)
            else:
                space = spaces.MultiDiscrete([2] * self.host_slots)
            self._action_spaces[agent] = space
        return space

    def _legal(self, agent: str) -> Mapping[str, Any]:
        """``game.legal(agent)`` for the current phase, asked once (the mask and the decoding of the
        next step read the same answer; ``step`` and ``reset`` forget it)."""
        legal = self._legal_now.get(agent)
        if legal is None:
            legal = self._legal_now[agent] = self.game.legal(agent)
        return legal

    def _known(self, agent: str) -> None:
        if agent not in self.possible_agents:
            raise KeyError(f"unknown agent {agent!r} (agents: {', '.join(self.possible_agents)})")

    def observation_size(self, agent: str) -> int:
        """Length of ``agent``'s observation (the layout in docs/lab.md)."""
        n_h, n_p = len(self.host_ids), len(self.power_ids)
        common = n_h * (len(HOST_FIELDS) + len(HOST_PER_POWER) * n_p) + 2  # hosts, turn fraction, phase
        if agent in self.power_ids:
            return common + len(POWER_OWN) + n_h  # own state, what each host owes it
        return common + len(HOST_OWN) + n_h + self.host_slots * (n_p + 3)  # own, one-hot self, offer slots

    # ------------------------------------------------------------------ the episode

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            game_seed = seed
        elif self._next_seed is not None:
            game_seed = self._next_seed
        else:
            game_seed = int(self._rng.integers(2**31))
        self._next_seed = None
        self.game = Game(self.scenario, int(game_seed), record=False)
        self.agents = list(self.possible_agents)
        # (what each agent's payoff_total is at the start: 0 in a game from turn 0; read, not assumed)
        self._paid = {a: self.game.actor(a).payoff_total for a in self.agents}
        self._decoded, self._legal_now = {}, {}
        return self._observations(), self._infos()

    def step(self, actions: Mapping[str, Any]):
        game = self.game
        if game is None or game.over:
            raise RuntimeError("step: the game is over or not started; call reset()")
        self._decoded = {}
        if game.phase == OFFERS:
            for p in self.power_agents:  # (the other powers: their configured strategies, in advance())
                offers = self.decode(p, actions[p]) if p in actions else []
                self._decoded[p] = offers
                game.submit(p, offers)
            game.advance()
            if not self.hosts_as_agents:
                game.advance()
        else:  # the hosts' responses (hosts_as_agents)
            for h in game.waiting():
                if h in actions:
                    accepted = self.decode(h, actions[h])
                    self._decoded[h] = accepted
                    game.submit(h, accepted)
            game.advance()
        self._legal_now = {}
        rewards = {}
        for a in self.agents:
            total = game.actor(a).payoff_total
            rewards[a] = float(total - self._paid[a])
            self._paid[a] = total
        done = game.over
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, done)
        obs, infos = self._observations(), self._infos()
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    # ------------------------------------------------------------------ actions

    def decode(self, agent: str, action) -> list[Offer]:
        """The decision ``action`` stands for now, its illegal slots dropped.

        A power's slots in order: a slot is kept if its move is in ``legal()`` (affordable now),
        the host is among the move's targets, the bucket's size is within the target's
        ``size_max``, and the slots kept so far plus this one fit the budget (and, for debt
        relief, what the host owes). A host's slots in order: a slot is kept if it holds an offer
        and the host's absorption and debt room still fit it after the slots kept before."""
        a = np.asarray(action, dtype=np.int64).reshape(-1)
        game = self.game
        if agent in self.power_ids:
            if game.phase != OFFERS:
                return []
            legal = self._legal(agent)
            if not legal["decides"]:
                return []
            moves, budget = legal["moves"], legal["budget"]
            toolkit, sizes, hosts = self.toolkits[agent], self.sizes[agent], self.host_ids
            owed = {h: s.creditors[agent]["debt"] for h, s in game.hosts.items()}
            kept, cost = [], 0.0
            for k in range(self.max_offers):
                mi, hi, b = a[3 * k : 3 * k + 3]
                if mi == 0 or not 0 < mi <= len(toolkit) or not 0 <= hi < len(hosts) or not 0 <= b < self.size_buckets:
                    continue
                m, h, size = toolkit[mi - 1], hosts[hi], float(sizes[mi - 1, b])
                target = moves[m]["targets"].get(h) if m in moves else None
                if target is None or size > target["size_max"] + 1e-12:
                    continue
                share = moves[m]["public_cost_share"]
                if cost + size * share > budget + 1e-12:
                    continue
                if game.moves[m].effects.debt_relief:
                    if size > owed[h] + 1e-12:
                        continue
                    owed[h] -= size
                cost += size * share
                kept.append(Offer(agent, m, h, size))
            return kept
        if game.phase != RESPONSES or agent not in game.waiting():
            return []
        state = game.hosts[agent]
        made = self._legal(agent)["offers"]
        room = Headroom(state.absorption_room, state.debt_room())
        kept = []
        for k, o in enumerate(made[: self.host_slots]):
            if a[k] == 1 and room.fits(game.moves[o.move], o.size_usd_bn, 1e-12):
                room.take(game.moves[o.move], o.size_usd_bn)
                kept.append(o)
        return kept

    def action_mask(self, agent: str) -> np.ndarray:
        """``int8`` mask of what ``agent`` may do now, from ``Game.legal``. A power: shape
        ``(n_moves, n_hosts, size_buckets)``, 1 where that single offer is legal now (the move
        affordable, the host a target, the size within the target's ``size_max``). A host: shape
        ``(host_slots,)``, 1 where the slot holds an offer that fits its limits on its
        own (``legal()["acceptable"]``). All zeros when the agent does not decide in this phase."""
        game = self.game
        if agent in self.power_ids:
            mask = np.zeros((len(self.toolkits[agent]), len(self.host_ids), self.size_buckets), np.int8)
            legal = self._legal(agent) if game.phase == OFFERS else {"decides": False}
            if legal["decides"]:
                for mi, m in enumerate(self.toolkits[agent]):
                    move = legal["moves"].get(m)
                    if move is None:
                        continue
                    for hi, h in enumerate(self.host_ids):
                        target = move["targets"].get(h)
                        if target is not None:
                            mask[mi, hi] = self.sizes[agent][mi] <= target["size_max"] + 1e-12
            return mask
        mask = np.zeros(self.host_slots, np.int8)
        if game.phase == RESPONSES and agent in game.waiting():
            legal = self._legal(agent)
            ok = legal["acceptable"]
            for k, o in enumerate(legal["offers"][: self.host_slots]):
                mask[k] = o in ok
        return mask

    def masked_sample(self, agent: str, rng: np.random.Generator | None = None) -> np.ndarray:
        """A random action that is legal whole: each slot drawn among the legal cells of the mask
        still affordable after the slots drawn before (or none when nothing is), so ``decode``
        keeps every slot. ``rng``: default the agent's action space's generator."""
        rng = rng if rng is not None else self.action_space(agent).np_random
        mask = self.action_mask(agent)
        if agent not in self.power_ids:  # each offer that still fits the room, accepted with probability 1/2
            action = np.zeros(self.host_slots, np.int64)
            if mask.any():
                state, made = self.game.hosts[agent], self._legal(agent)["offers"]
                room = Headroom(state.absorption_room, state.debt_room())
                for k in np.flatnonzero(mask):
                    move, size = self.game.moves[made[k].move], made[k].size_usd_bn
                    if rng.integers(2) and room.fits(move, size, 1e-12):
                        room.take(move, size)
                        action[k] = 1
            return action
        game, action = self.game, np.zeros(3 * self.max_offers, np.int64)
        if not mask.any():
            return action
        budget = game.powers[agent].budget_available
        share = np.array([game.moves[m].public_cost_share for m in self.toolkits[agent]])
        owed = np.array([s.creditors[agent]["debt"] for s in game.hosts.values()])
        relief = np.array([bool(game.moves[m].effects.debt_relief) for m in self.toolkits[agent]])
        cost = self.sizes[agent] * share[:, None]  # (moves, buckets)
        for k in range(self.max_offers):
            fits = mask.astype(bool) & (cost[:, None, :] <= budget + 1e-12)
            fits &= ~relief[:, None, None] | (self.sizes[agent][:, None, :] <= owed[None, :, None] + 1e-12)
            cells = np.flatnonzero(fits)
            if cells.size == 0:
                break
            mi, hi, b = np.unravel_index(cells[rng.integers(cells.size)], fits.shape)
            action[3 * k : 3 * k + 3] = (mi + 1, hi, b)
            budget -= cost[mi, b]
            if relief[mi]:
                owed[hi] -= self.sizes[agent][mi, b]
        return action

    # ------------------------------------------------------------------ observations

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self.observe(a) for a in self.possible_agents if a in self.agents}

    def _infos(self) -> dict[str, dict]:
        return {
            a: {"action_mask": self.action_mask(a), "phase": self.game.phase, "turn": self.game.turn,
                "decision": tuple(self._decoded.get(a, ()))}
            for a in self.agents
        }  # fmt: skip

    def observe(self, agent: str) -> np.ndarray:
        """``agent``'s observation now (float32, the layout of docs/lab.md)."""
        game = self.game
        obs = game.observe(agent)
        powers = self.power_ids
        parts: list[float] = []
        for h in self.host_ids:
            view = obs.hosts[h]
            parts += [float(view[f]) for f in HOST_FIELDS]
            for block in HOST_PER_POWER:
                parts += [float(view[block].get(p, 0.0)) for p in powers]
        parts.append(game.turn / game.horizon)
        parts.append(1.0 if game.phase == RESPONSES else 0.0)
        own = obs.own
        if agent in powers:
            parts += [float(own[f]) for f in POWER_OWN]
            parts += [float(own["owed"][h]) for h in self.host_ids]
        else:
            parts += [float(own[f]) for f in HOST_OWN]
            parts += [1.0 if h == agent else 0.0 for h in self.host_ids]
            slots = np.zeros((self.host_slots, len(powers) + 3))
            for k, o in enumerate(obs.offers[: self.host_slots]):
                slots[k, powers.index(o.power)] = 1.0
                slots[k, -3] = game.move_index[o.move] / max(1, len(game.move_index) - 1)
                slots[k, -2] = o.size_usd_bn
                slots[k, -1] = game.moves[o.move].public_cost_share
            parts += slots.ravel().tolist()
        return np.asarray(parts, dtype=np.float32)

    def state(self) -> np.ndarray:
        """The whole public state (every power's observation, concatenated)."""
        return np.concatenate([self.observe(p) for p in self.power_ids])

    def render(self) -> None:
        return None

    def close(self) -> None:
        self.game = None


__all__ = ["MASK_NOTE", "StrategyEnv", "parallel_env"]
