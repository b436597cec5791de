"""Categories of incident, each with its own promise.

* **emergency**: SOS press, fall, vitals beyond thresholds. A helper on scene within 15 minutes.
* **general**: shopping, repairs, company; created by operators or the helper app. A helper on
  scene within 30 minutes.

The minutes are configuration (`SlaPolicy`); the set of categories is code, because the
escalation ladder and the console treat them differently.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Category"]


class Category(StrEnum):
    """What kind of help an incident asks for; decides its deadline and escalation."""

    EMERGENCY = "emergency"
    GENERAL = "general"
