"""What a device's message means for the elder's incident: open one, join it, flag it, or nothing.

Ingest decodes, dedupes and stores a device's message, then turns it into a ``DeviceReport`` and
asks ``route`` what it is for the incident that is open for the elder (if any). The answer is a
``NewIncident`` to open, an ``Event`` for the open incident, or None (nothing to do). Ingest
itself never decides join-or-open.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dispatcher.core.events import DeviceAlarm, DeviceCancel, Event, NewIncident, RepeatPress
from dispatcher.core.state import IncidentState
from sla import Category

__all__ = ["DeviceReport", "ReportKind", "route"]


class ReportKind(StrEnum):
    PRESS = "press"
    """SOS or fall raised (also an SOS the server could not read: someone pressed)."""
    CANCEL = "cancel"
    """The device cancelled its SOS or fall."""
    ALARM = "alarm"
    """Low battery, removed, power cut…: noted on an open incident, never opens one."""
    ABNORMAL_VITALS = "abnormal_vitals"
    """Valid readings beyond the thresholds: an emergency of its own."""


@dataclass(frozen=True, kw_only=True)
class DeviceReport:
    kind: ReportKind
    device_id: str
    elder_id: int | None
    incident_kind: str = "sos"  # sos | fall | vitals, for a report that may open one
    summary: str = ""
    items: tuple[str, ...] = ()  # alarm codes or vital findings
    lat: float | None = None
    lon: float | None = None
    registered: bool = True
    late: bool = False
    clock_rejected: str | None = None

    @property
    def actor(self) -> str:
        return f"device:{self.device_id}"


def route(open_incident: IncidentState | None, report: DeviceReport) -> NewIncident | Event | None:
    """What ``report`` does, given the elder's open incident (None if there is none)."""
    if report.kind == ReportKind.PRESS:
        if open_incident is not None:
            return RepeatPress(summary=report.summary, actor=report.actor)
        return _new(report)
    if report.kind == ReportKind.CANCEL:
        return DeviceCancel(actor=report.actor) if open_incident is not None else None
    if report.kind == ReportKind.ALARM:
        if open_incident is None:
            return None
        return DeviceAlarm(action="device_alarm", items=report.items, actor=report.actor)
    # Abnormal vitals: noted on an open incident, else an emergency of their own.
    if open_incident is not None:
        return DeviceAlarm(action="abnormal_vitals", items=report.items, actor=report.actor)
    return _new(report)


def _new(report: DeviceReport) -> NewIncident:
    return NewIncident(
        category=Category.EMERGENCY,
        kind=report.incident_kind,
        summary=report.summary,
        elder_id=report.elder_id,
        device_id=report.device_id,
        lat=report.lat,
        lon=report.lon,
        actor=report.actor,
        unregistered=not report.registered,
        late=report.late,
        clock_rejected=report.clock_rejected,
    )
