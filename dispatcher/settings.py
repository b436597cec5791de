"""Typed settings, read once from the environment (prefix ``HUYUAN_``) and passed down.

Nothing else in the server reads the environment. Twilio's settings keep Twilio's own names
(``TWILIO_ACCOUNT_SID`` …) because that is what operators already have in their secret stores.
"""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/huyuan.db"


def _default_node_id() -> str:
    # Stable across restarts of the same host, so the broker resumes this node's MQTT session.
    return f"huyuan-{socket.gethostname()}"


class Settings(BaseSettings):
    """Every setting of the server; see README "Settings" for the table."""

    model_config = SettingsConfigDict(env_prefix="HUYUAN_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema to use (search_path); default public"
    )
    mqtt_url: str | None = Field(
        default=None,
        description="External broker, e.g. mqtt://user:pass@host:1883; unset → embedded",
    )
    mqtt_shared_group: str = "huyuan"
    # How long the broker keeps our session (and queues device messages) while we are down.
    mqtt_session_expiry_s: int = 7 * 24 * 3600
    node_id: str = Field(default_factory=_default_node_id)
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    api_tokens: str = Field(
        default="", description="Comma-separated bearer tokens for /api/v1; empty: API open"
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "Public base URL (links in SMS; with TWILIO_AUTH_TOKEN, the URL Twilio's webhook "
            "signatures are checked against, which opens /hooks/twilio/*)"
        ),
    )
    data_dir: Path = Path("var")
    auto_migrate: bool = Field(default=True, description="Run migrations at start-up")
    supervisor_phones: str = Field(default="", description="Comma-separated, for escalation SMS")
    log_level: str = "INFO"
    timezone: str = Field(default="Asia/Shanghai", description="Local time for SMS and reasons")

    # SLA and dispatch (defaults from DESIGN.md §5)
    emergency_arrival_min: int = 15
    general_arrival_min: int = 30
    emergency_offer_timeout_s: int = 60
    general_offer_timeout_s: int = 180
    emergency_accept_by_min: int = 5
    general_accept_by_min: int = 10
    detour_factor: float = 1.3
    location_max_age_min: int = 15

    # Vital-sign thresholds that open an emergency incident
    heart_rate_low: int = 40
    heart_rate_high: int = 150
    spo2_low: int = 88
    systolic_high: int = 200
    systolic_low: int = 80
    temperature_high: float = 39.5

    # Ingest
    # Small enough that one batch's CPU work never holds the event loop for long (SOS lane).
    telemetry_batch_size: int = 500
    telemetry_batch_wait_s: float = 0.05
    offline_after_intervals: int = 3
    # Retention of high-volume history (incidents, timelines and the outbox are kept)
    telemetry_retention_days: int = 90
    dedupe_retention_days: int = 7
    dead_letter_retention_days: int = 90
    thread_switch_interval_s: float = Field(
        default=0.001, description="sys.setswitchinterval: how long a thread may hold the GIL"
    )

    # ---- Console (issue 4: the operators' web console) -------------------------------------
    # Signs session cookies; several processes behind one balancer must share it. Unset: a
    # secret is generated once and kept in data_dir/console-session-secret.
    console_session_secret: str | None = None
    console_session_hours: int = 12
    console_cookie_secure: bool = Field(default=False, description="Set when served over HTTPS")
    console_lockout_failures: int = 5
    console_lockout_min: int = 15
    # Map tiles; empty for none (closed networks: points still show on a plain background).
    console_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    console_tile_attribution: str = "© OpenStreetMap contributors"
    console_sse_poll_s: float = Field(default=1.0, description="How often the live queue checks")

    # ---- Helper web app (issue 9: /helper/, signed like the console with its secret) -------
    helper_link_minutes: int = Field(default=10, description="How long a sign-in link works")
    helper_session_days: int = Field(default=90, description="How long a helper stays signed in")
    helper_checkin_radius_m: float = Field(
        default=200.0, description="Farther than this from the elder, arrival needs a reason"
    )
    helper_centre_phone: str | None = Field(
        default=None, description="The dispatch centre's number on the helper app's call button"
    )
    helper_sse_poll_s: float = Field(default=2.0, description="How often a helper's stream checks")

    @property
    def api_token_set(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.api_tokens.split(",") if t.strip())

    @property
    def supervisor_phone_list(self) -> list[str]:
        return [p.strip() for p in self.supervisor_phones.split(",") if p.strip()]

    # Twilio (names as Twilio documents them)
    twilio_account_sid: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "HUYUAN_TWILIO_ACCOUNT_SID"),
    )
    twilio_auth_token: str | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "HUYUAN_TWILIO_AUTH_TOKEN")
    )
    twilio_from_number: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_FROM_NUMBER", "HUYUAN_TWILIO_FROM_NUMBER"),
    )
    twilio_messaging_service_sid: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "TWILIO_MESSAGING_SERVICE_SID", "HUYUAN_TWILIO_MESSAGING_SERVICE_SID"
        ),
    )
    twilio_api_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_API_BASE_URL", "HUYUAN_TWILIO_API_BASE_URL"),
    )
