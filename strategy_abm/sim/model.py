"""CompetitionModel: great-power competition in Central Asia as a turn-based Mesa model.

Four powers (China, the US, the G7, Russia) make offers of financing, infrastructure, digital
and energy projects to five Central Asian states, which accept or refuse them; the game tracks
influence, debt and supply-chain diversification. The world comes from the policy brief in
``shared/brief.md`` and the calibration in ``shared/calibration``; the rules are documented in
ODD form in ``docs/model.md``.

Each turn (``step``) follows design.md: events, offers (simultaneous), responses, commitment,
project progress, economy and debt, trade on routes, influence, then metrics and payoffs.
"""

from __future__ import annotations

import mesa
import numpy as np

from ..engine import rules
from ..engine.events import EventEngine
from ..engine.metrics import METRIC_COLUMNS, compute_metrics
from ..engine.projects import Offer, Project, ProjectStatus
from ..engine.streams import Streams
from ..scenario.config import Scenario, format_date, load_scenario, parse_date
from ..scenario.ids import HOSTS, MINERALS, POWERS, ROUTES, display
from ..strategies import check_offers, check_responses, make_strategy
from .agents import HostAgent, PowerAgent
from .reporters import actor_reporters


class CompetitionModel(mesa.Model):
    """The game. Build it with keyword arguments only (``mesa.batch_run`` and SolaraViz do).

    Args:
        scenario: a built-in scenario name, a path to a scenario TOML file, or a ``Scenario``.
        seed: seed of the game's random streams (``self.streams``: events and shocks, project
            hazards, each actor's strategy; ``engine/streams.py``) and of Mesa's ``self.random``
            and ``self.rng``, which the game does not draw from. The whole game is determined
            by the scenario and this seed. A numeric string is cast to ``int`` (SolaraViz passes
            strings). ``None`` draws a seed and records it.
        overrides: dotted ``KEY=VALUE`` overrides of the scenario (as the CLI's ``--set``).
        turns: horizon in turns (overrides the scenario's ``horizon_turns``).
        record: keep Mesa's DataCollector and the event log (``False`` for batch runs that
            only read ``metrics``: the rules and results are the same, the bookkeeping lighter).

    Attributes:
        turn: turns played (0 before the first step).
        hosts, powers: agents by id.
        routes: state of each corridor (capacity, volume, delays, risk, cargo split).
        projects: every accepted offer, running or finished.
        event_log: one dict per offer, response, completion, failure, distress and event.
        metrics: this turn's model-level metrics (the columns of ``model.csv``).
    """

    def __init__(
        self,
        *,
        scenario: str | Scenario = "baseline",
        seed: int | str | None = None,
        overrides: list[str] | None = None,
        turns: int | None = None,
        record: bool = True,
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
        sc = self.scenario
        self.dt = sc.dt
        self.turns_per_year = sc.turns_per_year
        self.start_year = parse_date(sc.start)
        self.horizon = sc.horizon_turns
        self.moves = sc.moves
        self.rules = sc.rules
        self.turn = 0
        # Common random numbers: one stream per purpose, so that changing one actor's strategy
        # leaves the shocks, the hazards of matching projects and the other actors' draws alone.
        self.streams = Streams(seed)
        self.actor_order: tuple[str, ...] = (*sc.powers, *sc.hosts)  # an actor's index in its streams' keys

        self.powers: dict[str, PowerAgent] = {
            pid: PowerAgent(self, pid, cfg, make_strategy(cfg.strategy, cfg.strategy_params))
            for pid, cfg in sc.powers.items()
        }
        self.hosts: dict[str, HostAgent] = {
            hid: HostAgent(self, hid, cfg, make_strategy(cfg.strategy, cfg.strategy_params))
            for hid, cfg in sc.hosts.items()
        }
        self.routes = {
            rid: {k: getattr(r, k) for k in ("capacity_mt", "volume_mt", "transit_days", "delay_days", "min_delay_days",
                                             "tariff_usd_per_t", "political_risk", "ca_export_share")}
            for rid, r in sc.routes.items()
        }  # fmt: skip
        self.trade = sc.trade.model_dump(exclude={"sources"})
        self.world_minerals = {m: v.model_dump() for m, v in sc.world.minerals.items()}
        self.projects: list[Project] = []
        self._running: list[Project] = []
        self._serials: list[int] = []  # by project id: the project's number among its power's (from 0)
        self.event_log: list[dict] = []
        self.events = EventEngine(sc.events, self)

        # Turn 0: influence stocks at the equilibrium of today's presence, so that the initial
        # state is the calibration rather than a transient.
        for host in self.hosts.values():
            for p in POWERS:
                host.influence[p] = self._presence_inflow(host, p) / self.rules.influence_decay
        self.initial_region_output = {m: sum(h.minerals[m]["output_t"] for h in self.hosts.values()) for m in MINERALS}
        self.metrics: dict[str, float] = {}
        self._update_metrics()
        self.record = record
        self.datacollector = None
        if record:
            self.datacollector = mesa.DataCollector(
                model_reporters={c: _metric_reader(c) for c in METRIC_COLUMNS},
                agenttype_reporters=actor_reporters(),
            )
            self.datacollector.collect(self)

    # ------------------------------------------------------------------ public helpers

    @property
    def date(self) -> str:
        """Label of the period just played (turn 0: the period before the start)."""
        return self.date_of(self.turn)

    def date_of(self, turn: int) -> str:
        return format_date(self.start_year + (turn - 1) * self.dt, self.turns_per_year)

    def total_gdp(self) -> float:
        return sum(h.gdp_usd_bn for h in self.hosts.values())

    def total_energy_exports(self) -> float:
        return sum(h.energy_exports_usd_bn for h in self.hosts.values())

    def route_shares(self) -> dict[str, float]:
        return rules.normalise({r: v["volume_mt"] for r, v in self.routes.items()})

    def log(self, *, actor: str, target: str = "", domain: str = "", move: str = "",
            size: float = float("nan"), status: str, text: str) -> None:  # fmt: skip
        """Append a row to the event log (``events.csv``)."""
        if not self.record:
            return
        self.event_log.append({
            "turn": self.turn, "date": self.date, "actor": actor, "target": target, "domain": domain,
            "move": move, "size_usd_bn": size, "status": status, "text": text,
        })  # fmt: skip

    # ------------------------------------------------------------------ the turn

    def step(self) -> None:
        """Play one turn in the order of design.md."""
        self.turn += 1
        for host in self.hosts.values():
            host.gdp_turn_start = host.gdp_usd_bn
        self.events.step(self.turn)
        offers = self._offers()
        accepted = self._responses(offers)
        self._commit(accepted)
        self._progress()
        self._economy()
        self._trade()
        self._influence()
        self._update_metrics()
        if self.datacollector is not None:
            self.datacollector.collect(self)
        if self.turn >= self.horizon:
            self.running = False

    def _offers(self) -> dict[str, list[Offer]]:
        """Powers move simultaneously: each sees the state before anyone's offers this turn."""
        by_host: dict[str, list[Offer]] = {h: [] for h in HOSTS}
        for pid in POWERS:
            power = self.powers[pid]
            power.refill_budget(self.dt, self.rules.budget_carryover_years)
            offers = power.propose()
            check_offers(power, offers, self)
            power.offers_made += len(offers)
            for o in offers:
                by_host[o.host].append(o)
        return by_host

    def _responses(self, offers: dict[str, list[Offer]]) -> list[Offer]:
        accepted_all = []
        for hid in HOSTS:
            host = self.hosts[hid]
            host.refill_absorption(self.dt)
            made = offers[hid]
            accepted = host.respond(made)
            check_responses(host, made, accepted, self)
            pool = list(accepted)
            for o in made:
                ok = o in pool
                if ok:
                    pool.remove(o)
                self.powers[o.power].remember(hid, o.move, ok)
                if not self.record:  # batch runs keep no event log: skip building its sentences
                    continue
                move = self.moves[o.move]
                purpose = f" {move.purpose}" if move.purpose else ""
                self.log(
                    actor=o.power,
                    target=hid,
                    domain=move.domain,
                    move=o.move,
                    size=o.size_usd_bn,
                    status="accepted" if ok else "rejected",
                    text=f"{display(o.power, start=True)} offers {display(hid)} a USD {o.size_usd_bn:.2f} bn "
                    f"{move.label}{purpose}; {'accepted' if ok else 'rejected'}",
                )
            accepted_all.extend(accepted)
        return accepted_all

    def _commit(self, accepted: list[Offer]) -> None:
        """Accepted offers become projects: budgets are charged, loans add debt at once."""
        for o in accepted:
            move = self.moves[o.move]
            power, host = self.powers[o.power], self.hosts[o.host]
            power.charge(move, o.size_usd_bn)
            power.offers_accepted += 1
            power.ledger.by_move[o.move] = power.ledger.by_move.get(o.move, 0.0) + o.size_usd_bn
            host.absorption_room -= o.size_usd_bn * move.local_absorption
            if move.debt_fraction > 0:
                host.borrow(
                    o.power,
                    o.size_usd_bn * move.debt_fraction,
                    move.loan_rate,
                    move.loan_maturity_years,
                )
            project = Project(len(self.projects), o, self.turn, rules.lag_turns(move.lag_years, self.turns_per_year))
            self._serials.append(power.offers_accepted - 1)  # numbers the project's hazard draws
            self.projects.append(project)
            self._running.append(project)

    def _progress(self) -> None:
        """Running projects advance a turn, may slip or fail, and apply effects on completion."""
        running = self.running_projects
        if not running:
            return
        hazard_cache: dict[tuple[float, float], tuple[float, float]] = {}
        r = self.rules
        draws = self._hazard_draws(running)
        for project in running:
            o = project.offer
            move = self.moves[o.move]
            host = self.hosts[o.host]
            key = (host.governance, move.standards)
            if key not in hazard_cache:
                hazard_cache[key] = rules.hazards(*key, r.failure_hazard, r.delay_hazard, self.dt)
            p_fail, p_delay = hazard_cache[key]
            if project.committed_turn < self.turn:
                u_fail, u_delay = draws[o.power][self._serials[project.id]]
                if u_fail < p_fail:
                    project.status = ProjectStatus.FAILED
                    host.fail(o, r.failure_opinion)
                    self.log(actor=o.power, target=o.host, domain=move.domain, move=o.move,
                             size=o.size_usd_bn, status="failed", text=f"{_project_name(o, move)} fails")  # fmt: skip
                    continue
                if u_delay < p_delay:
                    project.delays += 1
                    continue
            project.remaining_turns -= 1
            if project.remaining_turns <= 0:
                project.status = ProjectStatus.COMPLETED
                host.complete(o, move, self.powers[o.power].toolkit[o.move], self)
                hazard_cache.clear()  # completion can change a host's governance
                text = f"{_project_name(o, move)} is completed"
                self.log(actor=o.power, target=o.host, domain=move.domain, move=o.move,
                         size=o.size_usd_bn, status="completed", text=text)  # fmt: skip

    def _hazard_draws(self, running: list[Project]) -> dict[str, dict[int, list[float]]]:
        """This turn's (failure, delay) uniforms of the projects committed before it, by power and
        project number: from the power's hazard stream, so a project's pair does not depend on
        what other powers commit (engine/streams.py)."""
        serials: dict[str, list[int]] = {}
        for project in running:
            if project.committed_turn < self.turn:
                serials.setdefault(project.offer.power, []).append(self._serials[project.id])
        return {
            pid: self.streams.hazard_pairs(self.powers[pid].actor_index, self.turn, ks) for pid, ks in serials.items()
        }

    @property
    def running_projects(self) -> list[Project]:
        """Projects still under way, in commitment order."""
        self._running = [p for p in self._running if p.status is ProjectStatus.RUNNING]
        return self._running

    def apply_route_effects(self, effects, size: float) -> None:
        """Corridor effects of a completed project (capacity, delays, cargo split)."""
        for r, per_bn in effects.route_capacity_mt_per_bn.items():
            self.routes[r]["capacity_mt"] = max(0.0, self.routes[r]["capacity_mt"] + per_bn * size)
        for r, per_bn in effects.route_delay_days_per_bn.items():
            route = self.routes[r]
            route["delay_days"] = max(route["min_delay_days"], route["delay_days"] - per_bn * size)
        if effects.export_split_shift_per_bn:
            mid = self.routes["middle"]
            mid["ca_export_share"] = min(1.0, mid["ca_export_share"] + effects.export_split_shift_per_bn * size)

    def _economy(self) -> None:
        """GDP grows, debt amortises, and debt service above the threshold is distress."""
        threshold = self.rules.distress_service_ratio
        for hid in HOSTS:
            host = self.hosts[hid]
            host.economy_step(self.dt, self.rules.distress_growth_penalty)
            in_distress = host.debt_service_ratio > threshold
            if in_distress and not host.distress:
                self._enter_distress(host)
            host.distress = in_distress
            host.distress_turns += int(in_distress)

    def _enter_distress(self, host: HostAgent) -> None:
        """Distress: opinion swings against the largest creditor, which restructures."""
        creditor = rules.largest_power_creditor(host.creditors, POWERS)
        dsr = host.debt_service_ratio
        text = f"{display(host.actor_id, start=True)} is in debt distress (debt service {dsr:.0%} of revenue)"
        if creditor is not None:
            host.opinion[creditor] = rules.clip_opinion(host.opinion[creditor] - self.rules.distress_opinion_swing)
            host.creditors[creditor]["maturity_years"] += self.rules.restructure_maturity_years
            text += f"; opinion turns against {display(creditor)}, which restructures its loans"
        self.log(
            actor=host.actor_id,
            target=creditor or "",
            domain="financing",
            status="distress",
            text=text,
        )

    def _trade(self) -> None:
        """Cargo goes to routes by generalised cost under capacity limits, with a lag."""
        t = self.trade
        t["demand_mt"] *= (1.0 + t["demand_growth"]) ** self.dt
        costs = {
            r: rules.route_cost(v, t["value_of_time_usd_per_t_day"], t["risk_cost_usd_per_t"])
            for r, v in self.routes.items()
        }
        caps = {r: v["capacity_mt"] for r, v in self.routes.items()}
        targets = rules.route_targets(costs, caps, t["demand_mt"], t["logit_scale_usd_per_t"])
        for r in ROUTES:
            v = self.routes[r]
            v["volume_mt"] = rules.adjust_volume(
                v["volume_mt"], targets[r], v["capacity_mt"], t["adjustment_rate"], self.dt
            )

    def _presence_inflow(self, host: HostAgent, power: str) -> float:
        r = self.rules
        return rules.presence(host, power, r.presence_weights, r.western_split) * rules.legitimacy(
            host.opinion[power], r.opinion_influence
        )

    def _influence(self) -> None:
        """Influence stocks decay and grow from presence weighted by opinion; opinion relaxes."""
        r = self.rules
        for host in self.hosts.values():
            for p in POWERS:
                inflow = self._presence_inflow(host, p)
                host.influence[p] = rules.influence_step(host.influence[p], inflow, r.influence_decay, self.dt)
                host.opinion[p] = rules.opinion_step(
                    host.opinion[p], host.opinion_anchor[p], r.opinion_reversion, self.dt
                )

    def _update_metrics(self) -> None:
        self.metrics = compute_metrics(self)
        for host in self.hosts.values():
            host.jobs_turn_k = 0.0

    # ------------------------------------------------------------------ running

    def run(self) -> CompetitionModel:
        """Play to the horizon."""
        while self.running:
            self.step()
        return self


def _project_name(o: Offer, move) -> str:
    return f"{display(o.power, start=True)}'s USD {o.size_usd_bn:.2f} bn {move.label} in {display(o.host)}"


def _metric_reader(name: str):
    def read(model):
        return model.metrics[name]

    read.__name__ = f"metric_{name}"
    return read
