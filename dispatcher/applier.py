"""The applier: one core ``Decision`` becomes rows in one transaction.

The incident row takes the decision's new state; each effect becomes its rows (offers, helper
reservations, timers, timeline lines) and every ``Notify`` becomes outbox messages, worded by
``notifier.messages`` from facts read here. Nothing is sent from inside the transaction: the
outbox loop sends after commit, so a rolled-back decision tells nobody anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import structlog

from dispatcher.core import (
    NEW_OFFER,
    ArmTimer,
    CreateOffer,
    Decision,
    IncidentState,
    MoveOffer,
    Notify,
    OfferStatus,
    Recipient,
    Record,
    ReleaseHelper,
    ReserveHelper,
)
from dispatcher.core.offers import OFFER_TRANSITIONS
from dispatcher.notifier.messages import Facts, render
from dispatcher.store import Session
from dispatcher.store.incidents import IncidentRepository
from dispatcher.store.models import Incident, Offer

__all__ = ["Applier", "NoticeConfig"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NoticeConfig:
    display_tz: tzinfo = UTC
    supervisor_phones: tuple[str, ...] = ()
    # How a helper answers an offer in this deployment, in words; None says nothing rather
    # than promise a reply path that is not built.
    offer_answer: str | None = None


class Applier:
    def __init__(self, repo: IncidentRepository, notices: NoticeConfig) -> None:
        self.repo = repo
        self.notices = notices

    async def apply(
        self, s: Session, row: Incident | None, decision: Decision, now: datetime
    ) -> Incident:
        """Write ``decision``; ``row`` is None for an incident the decision opens."""
        repo = self.repo
        if row is None:
            row = await repo.insert(s, decision.incident, now)
        else:
            repo.write(row, decision.incident, now)
        new_offer: Offer | None = None
        for effect in decision.effects:
            if isinstance(effect, CreateOffer):
                new_offer = await repo.create_offer(s, row.id, effect, now)
            elif isinstance(effect, MoveOffer):
                offer_id = _ref(effect.offer_id, new_offer)
                current = await repo.offer(s, offer_id)
                if current is not None:
                    status = OFFER_TRANSITIONS[(OfferStatus(current.status), effect.move)]
                    await repo.set_offer_status(s, offer_id, status, now)
            elif isinstance(effect, ReserveHelper):
                await repo.reserve_helper(s, effect.helper_id, row.id)
            elif isinstance(effect, ReleaseHelper):
                await repo.release_helper(s, effect.helper_id, row.id)
            elif isinstance(effect, ArmTimer):
                ref = _ref(effect.ref, new_offer) if effect.ref is not None else None
                repo.arm_timer(s, row.id, effect.kind, effect.due_at, ref)
            elif isinstance(effect, Record):
                params = dict(effect.params)
                helper_id = params.get("helper_id")
                if isinstance(helper_id, int) and "helper_name" not in params:
                    names = await repo.helper_names(s, [helper_id])
                    params["helper_name"] = names.get(helper_id)
                repo.record(s, row.id, now, effect.actor, effect.action, params)
            elif isinstance(effect, Notify):
                await self._notify(s, row, decision.incident, effect, new_offer, now)
        return row

    async def _notify(
        self,
        s: Session,
        row: Incident,
        state: IncidentState,
        notice: Notify,
        new_offer: Offer | None,
        now: datetime,
    ) -> None:
        facts = await self._facts(s, row, state, notice, new_offer, now)
        body = render(notice.purpose, facts)
        recipients: list[tuple[str, str]] = []  # (channel, address)
        if notice.recipient == Recipient.DEVICE:
            if state.device_id is not None:
                recipients.append(("device", state.device_id))
        elif notice.recipient == Recipient.HELPER:
            helper = await self.repo.helper(s, notice.helper_id) if notice.helper_id else None
            if helper is not None:
                recipients.append(("sms", helper.phone))
        elif notice.recipient == Recipient.FAMILY:
            elder = await self.repo.elder(s, state.elder_id)
            recipients += [("sms", c.phone) for c in (elder.contacts if elder else [])]
        elif notice.recipient == Recipient.SUPERVISORS:
            recipients += [("sms", phone) for phone in self.notices.supervisor_phones]
            if not recipients:
                # The operators must see that nobody was reached, not assume someone was.
                self.repo.record(
                    s, row.id, now, "system", "nobody_told", {"purpose": notice.purpose.value}
                )
        for channel, address in recipients:
            self.repo.queue_message(
                s,
                row.id,
                now,
                channel=channel,
                purpose=notice.purpose.value,
                recipient=address,
                body=body,
            )

    async def _facts(
        self,
        s: Session,
        row: Incident,
        state: IncidentState,
        notice: Notify,
        new_offer: Offer | None,
        now: datetime,
    ) -> Facts:
        tz = self.notices.display_tz
        elder = await self.repo.elder(s, state.elder_id)
        f: dict[str, Any] = dict(notice.facts)
        helper_id = (
            notice.helper_id
            or f.get("arrived_helper_id")
            or f.get("closed_helper_id")
            or f.get("helper_id")
            or state.assigned_helper_id
        )
        helper = await self.repo.helper(s, helper_id) if isinstance(helper_id, int) else None
        offer = new_offer if f.get("offer_id") == NEW_OFFER else None
        eta_at: datetime | None = f.get("eta_at") or state.eta_at
        eta_min = f.get("eta_min")
        if eta_min is None and eta_at is not None:
            eta_min = max(1, round((eta_at - now).total_seconds() / 60))
        answer = self.notices.offer_answer
        if answer is not None and offer is not None:
            answer = answer.replace("{code}", offer.accept_code)
        if elder is not None:
            name, age, address = elder.name, elder.age, elder.address
        else:
            name, age = "未登记设备", None
            address = f"{state.lat:.5f},{state.lon:.5f}" if state.origin else "位置不明"
        return Facts(
            incident_id=row.id,
            category=state.category.value,
            kind=state.kind,
            summary=state.summary,
            elder_name=name,
            elder_age=age,
            address=address,
            deadline=state.deadline.astimezone(tz),
            lat=state.lat,
            lon=state.lon,
            helper_name=helper.name if helper else None,
            helper_phone=helper.phone if helper else None,
            eta_at=eta_at.astimezone(tz) if eta_at else None,
            eta_min=eta_min,
            at=(
                state.arrived_at or state.created_at
                if notice.purpose.value.endswith("arrived")
                else state.created_at
            ).astimezone(tz),
            accept_code=offer.accept_code if offer else None,
            how_to_answer=answer,
            reason=f.get("reason") or f.get("code"),
            outcome=f.get("outcome"),
            level=f.get("level"),
        )


def _ref(ref: int | None, new_offer: Offer | None) -> int:
    if ref == NEW_OFFER:
        if new_offer is None:
            raise RuntimeError("an effect refers to the new offer before one was created")
        return new_offer.id
    if ref is None:
        raise RuntimeError("an offer effect without an offer id")
    return ref
