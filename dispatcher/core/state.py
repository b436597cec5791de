"""The incident as the core sees it: plain, frozen data, read from the store by the shell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from dispatcher.core.effects import Effect
from dispatcher.core.offers import NOT_ASKED_AGAIN, OfferStatus
from sla import DEFAULT_LADDER, Category, EscalationStep, Level, SlaPolicy, SlaStatus, State

__all__ = ["CoreConfig", "Decision", "IncidentState", "OfferView"]


@dataclass(frozen=True)
class CoreConfig:
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    ladder: Sequence[EscalationStep] = DEFAULT_LADDER
    # With nobody free, look again this often: a helper may come on duty or finish a case.
    retry_dispatch_after: timedelta = timedelta(seconds=30)
    # The zone the SLA's English reason sentences show clock times in.
    display_tz: tzinfo = UTC


@dataclass(frozen=True)
class OfferView:
    id: int
    helper_id: int
    status: OfferStatus
    eta_s: int = 0
    expires_at: datetime | None = None


@dataclass(frozen=True)
class IncidentState:
    id: int
    category: Category
    kind: str
    summary: str
    state: State
    created_at: datetime
    deadline: datetime
    elder_id: int | None = None
    device_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    unregistered: bool = False
    late: bool = False
    cancel_requested: bool = False
    assigned_helper_id: int | None = None
    accepted_at: datetime | None = None
    eta_at: datetime | None = None
    arrived_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    has_candidates: bool = True
    sla_status: SlaStatus = SlaStatus.ON_TRACK
    sla_code: str | None = None
    sla_reason: str | None = None
    escalation_level: Level = Level.NONE
    offers: tuple[OfferView, ...] = ()

    @property
    def origin(self) -> tuple[float, float] | None:
        """Where helpers are sent; None when nobody knows where the caller is."""
        if self.lat is None or self.lon is None:
            return None
        return self.lat, self.lon

    @property
    def pending_offers(self) -> tuple[OfferView, ...]:
        return tuple(o for o in self.offers if o.status == OfferStatus.PENDING)

    @property
    def not_to_ask(self) -> frozenset[int]:
        """Helpers who declined, let it expire or were taken off: not asked again."""
        return frozenset(o.helper_id for o in self.offers if o.status in NOT_ASKED_AGAIN)


@dataclass(frozen=True)
class Decision:
    """The incident after the event, and the effects to apply with it in one transaction."""

    incident: IncidentState
    effects: tuple[Effect, ...]
