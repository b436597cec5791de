"""Request and response bodies of the REST API (the OpenAPI schema is generated from these).

Inputs are bounded as ``inputs.py`` says (ids, one-line and free text, column lengths), so bad
input is a 422, never a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatcher.web.inputs import FreeText, Id, Line


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PersonRef(Out):
    id: int
    name: str


class IncidentSummary(Out):
    id: int
    state: str
    category: str
    kind: str
    summary: str
    elder: PersonRef | None
    device_id: str | None
    created_at: datetime
    deadline: datetime
    assigned_helper: PersonRef | None
    eta_at: datetime | None
    arrived_at: datetime | None
    closed_at: datetime | None
    sla_status: str
    sla_code: str | None
    sla_reason: str | None
    escalation_level: int
    cancel_requested: bool
    unregistered: bool
    late: bool
    lat: float | None
    lon: float | None


class TimelineOut(Out):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


class OfferOut(Out):
    id: int
    helper_id: int
    offered_at: datetime
    expires_at: datetime
    status: str
    responded_at: datetime | None
    distance_m: float
    eta_s: int
    code: str = Field(
        validation_alias="accept_code",
        description="The offer's code, as in the helper's SMS ('manual' for a hand assignment)",
    )


class IncidentDetail(IncidentSummary):
    outcome: str | None
    offers: list[OfferOut]
    timeline: list[TimelineOut]


class HelpRequest(BaseModel):
    """A general-help request (shopping, repairs, company) taken by an operator or the app."""

    elder_id: Id
    summary: Line = Field(min_length=1, max_length=300)
    category: Literal["general", "emergency"] = "general"


class HelperAction(BaseModel):
    helper_id: Id


class ResolveAction(BaseModel):
    helper_id: Id | None = None
    outcome: Line = Field(min_length=1, max_length=300)


class WithdrawAction(BaseModel):
    reason: Line = Field(min_length=1, max_length=300)


class EscalateAction(BaseModel):
    level: Literal["supervisor", "emergency_services"]
    note: FreeText | None = Field(default=None, max_length=300)


class NoteAction(BaseModel):
    text: FreeText = Field(min_length=1, max_length=1000)


class FalseAlarm(BaseModel):
    note: FreeText | None = Field(default=None, max_length=300)


class ContactOut(Out):
    priority: int
    name: str
    relation: str | None
    phone: str


class ElderOut(Out):
    id: int
    external_ref: str
    name: str
    age: int | None
    gender: str | None
    phone: str | None
    address: str
    community: str | None
    home_lat: float
    home_lon: float
    medical_notes: str | None
    key_safe_note: str | None
    contacts: list[ContactOut]


class DeviceOut(Out):
    device_id: str
    elder_id: int | None
    model: str
    report_interval_s: int
    online: bool
    last_seen_at: datetime | None
    battery_pct: int | None
    charging: bool | None
    worn: bool | None
    signal_pct: int | None
    last_lat: float | None
    last_lon: float | None
    last_located_at: datetime | None
    last_vitals: dict[str, Any] | None
    last_vitals_at: datetime | None
    last_alarms: str | None


class HelperOut(Out):
    id: int
    external_ref: str
    name: str
    phone: str
    role: str
    skills: str
    travel_mode: str
    on_duty: bool
    lat: float | None
    lon: float | None
    located_at: datetime | None
    active_incident_id: int | None


class DutyChange(BaseModel):
    on_duty: bool


class LocationUpdate(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class DeadLetterOut(Out):
    id: int
    received_at: datetime
    topic: str
    device_id: str | None
    reason: str
    payload_text: str


class OutboxOut(Out):
    id: int
    incident_id: int | None
    channel: str
    purpose: str
    recipient: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    provider_id: str | None
    created_at: datetime
    sent_at: datetime | None


class ImportResult(BaseModel):
    created: int
    updated: int
