"""Offers, projects, ledgers and a host's headroom: the plain records that strategies return and the rules apply."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True, slots=True)
class Offer:
    """A move: ``power`` offers ``host`` a project of ``move`` type and ``size_usd_bn``."""

    power: str
    move: str
    host: str
    size_usd_bn: float


class ProjectStatus(Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(slots=True)
class Project:
    """An accepted offer on its way to completion."""

    id: int
    offer: Offer
    committed_turn: int
    remaining_turns: int
    status: ProjectStatus = ProjectStatus.RUNNING
    delays: int = 0


@dataclass(slots=True)
class Ledger:
    """Money a power has spent, by domain and in total (public money only)."""

    total: float = 0.0
    by_domain: dict[str, float] = field(default_factory=dict)
    by_move: dict[str, float] = field(default_factory=dict)  # project size accepted, USD bn
    private_mobilised: float = 0.0


@dataclass(slots=True)
class Headroom:
    """What a host can still take on in a turn: ``absorption`` (USD bn of project money, each
    project drawing ``size x local_absorption``) and ``debt`` (USD bn of new debt before its
    ceiling, each project adding ``size x debt_fraction``).

    The one implementation of the absorption and debt limits: hosts accept within it
    (``HostStrategy.within_limits``), powers size offers to it (``powers.HostRoom``) and the
    legality check holds answers to it (``check_responses``). ``move`` is any object with
    ``local_absorption`` and ``debt_fraction`` (a scenario's ``MoveType``)."""

    absorption: float
    debt: float

    def fits(self, move, size_usd_bn: float, slack: float = 0.0) -> bool:
        """Whether a project of this size fits both limits (each within ``slack``, USD bn)."""
        return (
            size_usd_bn * move.local_absorption <= self.absorption + slack
            and size_usd_bn * move.debt_fraction <= self.debt + slack
        )

    def take(self, move, size_usd_bn: float) -> None:
        """Use the room a project of this size takes."""
        self.absorption -= size_usd_bn * move.local_absorption
        self.debt -= size_usd_bn * move.debt_fraction

    def cap(self, move) -> float:
        """Largest size of ``move`` within both limits (USD bn; ``inf`` for a move that draws on
        neither, such as debt relief)."""
        cap = math.inf
        if move.local_absorption > 0:
            cap = self.absorption / move.local_absorption
        if move.debt_fraction > 0:
            cap = min(cap, self.debt / move.debt_fraction)
        return cap
