"""Each actor's state: four powers that make offers, five hosts that answer them.

Plain objects, no Mesa: the game (:class:`strategy_abm.engine.turn.Game`) owns them, and the Mesa
shell's agents are views of them. They hold an actor's state and the rules applied to it (from
:mod:`strategy_abm.engine.rules`); who decides for the actor (its strategy, a person, a program)
is the turn's business. State variables carry the names of the scenario config so that events
(``hosts.kgz.governance``) and outputs use one vocabulary.
"""

from __future__ import annotations

from ..engine import rules
from ..engine.projects import Ledger, Offer
from ..scenario.config import HostConfig, MoveType, PowerConfig


class _ActorState:
    """An actor draws from its own stream: ``rng`` is its generator, positioned at the current
    turn's region of stream ``(2, actor_index)`` on its first use in the turn (engine/streams.py).
    A strategy reaches it as ``obs.rng``; one that draws only from it draws the same numbers in a
    turn whatever the other actors do and whatever it drew in earlier turns."""

    kind = ""

    def _init_draws(self, game, actor_id: str) -> None:
        self.game = game
        self.model = game  # the name Mesa's agents give their world, for strategies that read it
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.actor_id!r})"


class PowerState(_ActorState):
    """A great power: budget, toolkit, objectives; its strategy chooses offers each turn.

    Attributes:
        actor_id: the power's id in the scenario (``china``, ``us``, ``g7`` or ``russia`` in the baseline).
        bloc, partner: its technology bloc and trade partner (scenario ``powers.<id>.bloc``, ``.partner``).
        budget_available: public money (USD bn) it may commit this turn.
        ledger: cumulative public spending (total, by domain, by move); ``spent_turn`` this turn's.
        payoff: this turn's payoff; ``payoff_total`` the running sum.
    """

    kind = "power"

    def __init__(self, game, actor_id: str, cfg: PowerConfig):
        self._init_draws(game, actor_id)
        self.cfg = cfg
        self.bloc = cfg.bloc
        self.partner = cfg.partner
        self.strategy = None  # the configured strategy, set by whoever builds the deciders
        self.toolkit = dict(cfg.toolkit)
        self.budget_usd_bn_per_year = cfg.budget_usd_bn_per_year
        self.budget_available = 0.0
        self.budget_granted = 0.0  # cumulative allowance: spending never exceeds it
        self.ledger = Ledger()
        self.spent_turn = 0.0
        self.payoff = 0.0
        self.payoff_total = 0.0
        self.components: dict[str, float] = {}
        self.offers_made = 0
        self.offers_accepted = 0
        # Acceptance memory per host and move: strategies may learn where offers are welcome.
        self.acceptance: dict[tuple[str, str], list[int]] = {}
        # The same as an observation shows it, "host/move" -> (accepted, offered), kept as it
        # changes (an observation copies it: cheaper than formatting every key each turn).
        self.acceptance_seen: dict[str, tuple[int, int]] = {}

    def refill_budget(self, dt: float, carryover_years: float) -> None:
        """Add this turn's allowance; unspent money carries over up to ``carryover_years``."""
        allowance = self.budget_usd_bn_per_year * dt
        cap = self.budget_usd_bn_per_year * max(carryover_years, dt)
        new = min(self.budget_available + allowance, cap)
        self.budget_granted += new - self.budget_available
        self.budget_available = new
        self.spent_turn = 0.0

    def charge(self, move: MoveType, size: float) -> float:
        """Pay for an accepted offer; returns the public cost."""
        cost = size * move.public_cost_share
        self.budget_available -= cost
        self.spent_turn += cost
        self.ledger.total += cost
        self.ledger.by_domain[move.domain] = self.ledger.by_domain.get(move.domain, 0.0) + cost
        self.ledger.private_mobilised += size - cost
        return cost

    def remember(self, host: str, move: str, accepted: bool) -> None:
        seen = self.acceptance.setdefault((host, move), [0, 0])
        seen[0] += int(accepted)
        seen[1] += 1
        self.acceptance_seen[f"{host}/{move}"] = (seen[0], seen[1])

    def acceptance_rate(self, host: str, move: str, prior: float = 1.0) -> float:
        """Share of past offers of ``move`` to ``host`` that were accepted (prior of one success)."""
        ok, n = self.acceptance.get((host, move), (0, 0))
        return (ok + prior) / (n + prior)


class HostState(_ActorState):
    """A Central Asian state: economy, debt by creditor, opinion, digital, energy and minerals.

    Its strategy accepts a subset of the offers made to it, within its absorption capacity
    and debt ceiling.
    """

    kind = "host"

    def __init__(self, game, actor_id: str, cfg: HostConfig):
        self._init_draws(game, actor_id)
        self.cfg = cfg
        self.strategy = None  # the configured strategy, set by whoever builds the deciders
        self.gdp_usd_bn = cfg.gdp_usd_bn
        self.growth_rate = cfg.growth_rate
        self.revenue_share_gdp = cfg.revenue_share_gdp
        self.population_m = cfg.population_m
        self.labour_entrants_k = cfg.labour_entrants_k
        debt = cfg.public_external_debt_usd_bn
        self.creditors = {
            k: {"debt": debt * c.share, "rate": c.rate, "maturity_years": c.maturity_years,
                "refinanced": c.refinanced}
            for k, c in cfg.creditors.items()
        }  # fmt: skip
        self.governance = cfg.governance
        self.opinion = dict(cfg.opinion)
        self.opinion_anchor = dict(cfg.opinion)
        self.trade_shares = dict(cfg.trade_shares)
        self.telecom_vendor_shares = dict(cfg.telecom_vendor_shares)
        self.satellite_coverage = cfg.satellite_coverage
        self.cloud_shares = dict(cfg.cloud_shares)
        self.logistics_platform_shares = dict(cfg.logistics_platform_shares)
        self.energy_export_shares = dict(cfg.energy_export_shares)
        self.energy_exports_usd_bn = cfg.energy_exports_usd_bn
        self.renewables_share = cfg.renewables_share
        self.green_tech_origin = dict(cfg.green_tech_origin)
        self.minerals = {
            m: {"output_t": v.output_t, "offtake": dict(v.offtake),
                "local_processing": v.local_processing, "developable": v.developable}
            for m, v in cfg.minerals.items()
        }  # fmt: skip
        self.environment_damage = cfg.environment_damage
        self.absorption_pct_gdp = cfg.absorption_pct_gdp
        self.debt_ceiling_pct_gdp = cfg.debt_ceiling_pct_gdp
        self.influence = dict.fromkeys(game.power_ids, 0.0)
        self.jobs_created_k = 0.0  # cumulative
        self.jobs_turn_k = 0.0
        self.distress = False
        self.distress_turns = 0
        self.growth_realised = cfg.growth_rate  # annualised GDP growth of the last turn, projects included
        self.gdp_turn_start = cfg.gdp_usd_bn
        self.payoff = 0.0
        self.payoff_total = 0.0
        self.absorption_room = 0.0

    # ------------------------------------------------------------------ derived state

    @property
    def debt_total(self) -> float:
        """Public external debt, USD bn."""
        return sum(c["debt"] for c in self.creditors.values())

    @property
    def debt_to_gdp(self) -> float:
        return self.debt_total / self.gdp_usd_bn

    @property
    def china_debt_share(self) -> float:
        total = self.debt_total
        china = self.creditors.get("china")  # (the model's question; 0 in a scenario without China)
        return china["debt"] / total if china is not None and total > 0 else 0.0

    @property
    def debt_service_ratio(self) -> float:
        """Annual debt service / government revenue."""
        return rules.debt_service(self.creditors) / (self.revenue_share_gdp * self.gdp_usd_bn)

    def influence_shares(self) -> dict[str, float]:
        return rules.normalise(self.influence)

    def diversification(self, route_shares: dict[str, float]) -> float:
        """Mean of normalised 1-HHI over trade partners, creditors, telecom vendors and routes."""
        return (
            rules.diversification(self.trade_shares.values())
            + rules.diversification(c["debt"] for c in self.creditors.values())
            + rules.diversification(self.telecom_vendor_shares.values())
            + rules.diversification(route_shares.values())
        ) / 4.0

    def absorption_per_year(self) -> float:
        """Project money (USD bn) the state can take on in a year."""
        return self.absorption_pct_gdp / 100.0 * self.gdp_usd_bn

    def room_next_turn(self, dt: float) -> float:
        """Absorption room the state will have when it answers this turn's offers (``rules.absorption_refill``)."""
        return rules.absorption_refill(self.absorption_room, self.absorption_per_year(), dt)

    def refill_absorption(self, dt: float) -> None:
        """Refill the absorption pool at the start of the state's response step."""
        self.absorption_room = self.room_next_turn(dt)

    def debt_room(self) -> float:
        """New debt (USD bn) the state can take before its hard ceiling."""
        return max(0.0, self.debt_ceiling_pct_gdp / 100.0 * self.gdp_usd_bn - self.debt_total)

    # ------------------------------------------------------------------ rules applied to state

    def borrow(self, creditor: str, amount: float, rate: float, maturity: float) -> None:
        """Add a loan to the creditor's stock, blending its rate and maturity."""
        c = self.creditors[creditor]
        c["rate"] = rules.blend_rate(c["debt"], c["rate"], amount, rate)
        c["maturity_years"] = rules.blend_rate(c["debt"], c["maturity_years"], amount, maturity)
        c["debt"] += amount

    def complete(self, offer: Offer, move: MoveType, efficiency: float, region) -> None:
        """Apply a completed project's effects to this host (and its corridor effects to the region)."""
        e = move.effects
        power = offer.power
        bloc, partner = region.powers[power].bloc, region.powers[power].partner
        x = rules.intensity(offer.size_usd_bn, self.gdp_usd_bn) * efficiency
        size = offer.size_usd_bn * efficiency
        self.influence[power] += e.influence * x
        self.gdp_usd_bn = rules.bounded_gdp(self.gdp_usd_bn * (1.0 + e.gdp_level_pct * x / 100.0))
        jobs = e.jobs_k_per_bn * size
        self.jobs_created_k += jobs
        self.jobs_turn_k += jobs
        self.governance = min(100.0, max(0.0, self.governance + e.governance * x))
        env = e.environment * x * (1.0 - move.standards)
        self.environment_damage = min(100.0, max(0.0, self.environment_damage + env))
        rp = region.rules
        opinion_gain = (
            e.opinion * x
            - rp.environment_opinion * max(env, 0.0)
            + rp.jobs_opinion * jobs / max(self.labour_entrants_k, 1.0)
        )
        self.opinion[power] = rules.clip_opinion(self.opinion[power] + opinion_gain)
        if e.telecom_shift:
            self.telecom_vendor_shares = rules.shift_toward(self.telecom_vendor_shares, bloc, e.telecom_shift * x)
        if e.satellite_coverage:
            self.satellite_coverage = min(1.0, self.satellite_coverage + e.satellite_coverage * x)
        if e.cloud_shift:
            self.cloud_shares = rules.shift_toward(self.cloud_shares, bloc, e.cloud_shift * x)
        if e.logistics_shift:
            self.logistics_platform_shares = rules.shift_toward(
                self.logistics_platform_shares, bloc, e.logistics_shift * x
            )
        if e.energy_export_shift:
            self.energy_export_shares = rules.shift_toward(
                self.energy_export_shares, partner, e.energy_export_shift * x
            )
        if e.renewables:
            self.renewables_share = min(1.0, self.renewables_share + e.renewables * x)
        if e.green_tech_shift:
            self.green_tech_origin = rules.shift_toward(self.green_tech_origin, bloc, e.green_tech_shift * x)
        if e.mineral_output_t_per_bn or e.mineral_offtake_shift or e.local_processing:
            world_output = {m: v["world_output_t"] for m, v in region.world_minerals.items()}
            self._develop_minerals(power, e, size, x, world_output)
        if e.debt_relief:
            relief = min(self.creditors[power]["debt"], e.debt_relief * offer.size_usd_bn)
            self.creditors[power]["debt"] -= relief
        region.apply_route_effects(e, size)

    def _develop_minerals(self, power: str, e, size: float, x: float, world_output: dict[str, float]) -> None:
        """A venture develops one deposit (``rules.best_deposit``), e.g. Kazakhstan's tungsten, so
        that the Cove calibration (12,000 t for USD 1.1 bn) holds whole."""
        m = rules.best_deposit(self.minerals, e.mineral_output_t_per_bn, world_output)
        if m is not None:
            mineral = self.minerals[m]
            added = e.mineral_output_t_per_bn[m] * size
            old = mineral["output_t"]
            new = old + added
            # New output is the offerer's offtake; the old output's offtake shifts a little.
            shifted = rules.shift_toward(mineral["offtake"], power, e.mineral_offtake_shift * x)
            if new > 0.0:  # (an output too small to register adds nothing, and nothing to divide by)
                mineral["offtake"] = {k: (v * old + (added if k == power else 0.0)) / new
                                      for k, v in shifted.items()}  # fmt: skip
            mineral["output_t"] = new
            mineral["local_processing"] = min(1.0, mineral["local_processing"] + e.local_processing * x)
        else:
            for mineral in self.minerals.values():
                if mineral["output_t"] > 0:
                    mineral["offtake"] = rules.shift_toward(mineral["offtake"], power, e.mineral_offtake_shift * x)

    def fail(self, offer: Offer, failure_opinion: float) -> None:
        """A failed project: its debt stays, opinion of the offerer drops."""
        self.opinion[offer.power] = rules.clip_opinion(self.opinion[offer.power] - failure_opinion)

    def economy_step(self, dt: float, penalty: float) -> None:
        """GDP grows; non-rolled-over debt amortises."""
        growth = self.growth_rate - (penalty if self.distress else 0.0)
        # Annual rate compounded per turn; growth >= -0.8 (schema bounds), so 1 + growth > 0.
        self.gdp_usd_bn = rules.bounded_gdp(self.gdp_usd_bn * (1.0 + growth) ** dt)
        for k, d in rules.amortise(self.creditors, dt, growth).items():
            self.creditors[k]["debt"] = d
