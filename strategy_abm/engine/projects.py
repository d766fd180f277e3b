"""Offers, projects and ledgers: the plain records that strategies return and the rules apply."""

from __future__ import annotations

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
