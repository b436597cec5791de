"""The composition root: every resource opened as an async context manager, one task group.

Order matters: broker, database (migrated), ingest subscriptions — and only once both lanes are
subscribed does the web server start and /readyz say ready. A database that is down at start-up
is waited for (retried with backoff, logged, SIGTERM still stops it): nothing listens on HTTP
until it answers.

Every loop runs its work through a ``LaneGuard`` (``dispatcher.lane_guard``): a message that
fails twice becomes a dead letter, and a database outage pauses the loop, retried with backoff,
while /readyz says not ready; it resumes by itself. Any other exception in a loop is a fault in
the process's own machinery and ends the whole process with a non-zero exit (a dead ingest loop
behind a healthy-looking API is the worst failure an emergency service can have); SIGTERM/SIGINT
stop it gracefully with exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Generator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import structlog
import uvicorn

from device_protocol import Lane, subscription_filters
from dispatcher.clock import Clock, utcnow
from dispatcher.ingest import Ingest
from dispatcher.lane_guard import DatabaseHealth, GuardedIngest, LaneGuard
from dispatcher.matching import DEFAULT_POLICY, MatchingPolicy
from dispatcher.mqtt import EmbeddedBroker, MqttIngestClient
from dispatcher.notifier.channels import Channel, channel_from_settings
from dispatcher.notifier.device_channel import DeviceChannel
from dispatcher.notifier.outbox import OutboxLoop
from dispatcher.retention import Retention
from dispatcher.settings import Settings
from dispatcher.store.database import Database
from dispatcher.store.migrate import upgrade
from dispatcher.timers import TimerLoop
from dispatcher.vitals import VitalThresholds
from dispatcher.web.app import create_app
from dispatcher.web.console import ConsoleConfig, load_or_create_secret
from dispatcher.web.context import AppContext
from dispatcher.web.helper_app import HelperAppConfig
from dispatcher.web.twilio_hooks import OFFER_ANSWER, inbound_configured
from dispatcher.workflow import Workflow, WorkflowConfig
from sla import SlaPolicy

log = structlog.get_logger(__name__)

T = TypeVar("T")


class _Shutdown(Exception):
    """Raised inside the task group to stop every loop after a signal."""


class _Uvicorn(uvicorn.Server):
    # uvicorn re-raises SIGTERM after its own shutdown, which would end the process with -15
    # before our cleanup runs; signals are ours to handle (see Server.run).
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class Endpoints:
    api: str
    mqtt: str


def workflow_config(settings: Settings) -> WorkflowConfig:
    return WorkflowConfig(
        sla=SlaPolicy.from_minutes(
            emergency_arrival=settings.emergency_arrival_min,
            general_arrival=settings.general_arrival_min,
            emergency_offer_timeout_seconds=settings.emergency_offer_timeout_s,
            general_offer_timeout_seconds=settings.general_offer_timeout_s,
            emergency_accept_by=settings.emergency_accept_by_min,
            general_accept_by=settings.general_accept_by_min,
        ),
        matching=MatchingPolicy(
            speeds_kmh=DEFAULT_POLICY.speeds_kmh,
            detour_factor=settings.detour_factor,
            location_max_age=timedelta(minutes=settings.location_max_age_min),
        ),
        supervisor_phones=tuple(settings.supervisor_phone_list),
        public_url=settings.public_url,
        display_tz=ZoneInfo(settings.timezone),
        # The offer says how to answer by SMS only when the reply webhook can verify Twilio.
        offer_answer=(
            OFFER_ANSWER
            if inbound_configured(settings.twilio_auth_token, settings.public_url)
            else None
        ),
    )


def vital_thresholds(settings: Settings) -> VitalThresholds:
    return VitalThresholds(
        heart_rate_low=settings.heart_rate_low,
        heart_rate_high=settings.heart_rate_high,
        spo2_low=settings.spo2_low,
        systolic_low=settings.systolic_low,
        systolic_high=settings.systolic_high,
        temperature_high=settings.temperature_high,
    )


def retention(settings: Settings) -> Retention:
    return Retention(
        telemetry=timedelta(days=settings.telemetry_retention_days),
        dedupe_ids=timedelta(days=settings.dedupe_retention_days),
        dead_letters=timedelta(days=settings.dead_letter_retention_days),
    )


class Server:
    """One server process. ``run()`` returns normally after a graceful stop."""

    def __init__(
        self, settings: Settings, *, clock: Clock = utcnow, channel: Channel | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.channel = channel
        self.stopping = asyncio.Event()
        self.started = asyncio.Event()
        self.endpoints: Endpoints | None = None

    def request_stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        # SQLite's worker thread, MQTT reconnect workers and the event loop share the GIL;
        # Python's default 5 ms switch interval lets a busy thread hold an SOS back that long,
        # several times over. Measured (with paho's former network threads): SOS->ack p99
        # 75-131 ms at 5 ms, 41-59 ms at 1 ms, same telemetry throughput (bench/pipeline.py).
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(settings.thread_switch_interval_s)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        try:
            async with AsyncExitStack() as stack:
                if settings.mqtt_url:
                    mqtt_url, v5, shared = settings.mqtt_url, True, True
                else:
                    broker = await stack.enter_async_context(
                        EmbeddedBroker(data_dir=settings.data_dir / "broker")
                    )
                    mqtt_url, v5, shared = broker.url, broker.supports_v5, broker.supports_shared
                db = await stack.enter_async_context(
                    Database(settings.database_url, schema=settings.database_schema)
                )
                health = DatabaseHealth()
                guard = LaneGuard(health)
                await self._unless_stopped(guard.ride_out("startup", db.ping))
                if settings.auto_migrate:
                    await self._unless_stopped(guard.ride_out("startup", lambda: upgrade(db)))
                channel = self.channel or channel_from_settings(
                    settings.twilio_account_sid,
                    settings.twilio_auth_token,
                    settings.twilio_from_number,
                    settings.twilio_messaging_service_sid,
                    settings.twilio_api_base_url,
                )
                stack.push_async_callback(channel.aclose)
                workflow = Workflow(db, workflow_config(settings))
                ingest = Ingest(
                    db,
                    workflow,
                    vital_thresholds(settings),
                    offline_after_intervals=settings.offline_after_intervals,
                    clock=self.clock,
                )
                await self._unless_stopped(guard.ride_out("startup", lambda: _load(db, ingest)))
                lanes = GuardedIngest(ingest, guard)
                group = settings.mqtt_shared_group if shared else None
                emergency = await stack.enter_async_context(
                    self._ingest_client(mqtt_url, Lane.EMERGENCY, group, v5)
                )
                telemetry = await stack.enter_async_context(
                    self._ingest_client(mqtt_url, Lane.TELEMETRY, group, v5)
                )
                ctx = AppContext(
                    db=db,
                    workflow=workflow,
                    clock=self.clock,
                    ready=lambda: emergency.ready and telemetry.ready and health.ok,
                    counters=lambda: {
                        **ingest.counters,
                        **guard.counters(),
                        "messages_finished": lanes.finished,
                    },
                    api_tokens=settings.api_token_set,
                    twilio_auth_token=settings.twilio_auth_token,
                )
                console = self._console_config()
                helper_app = HelperAppConfig.from_settings(settings, console)
                web = _Uvicorn(
                    uvicorn.Config(
                        create_app(ctx, console, helper_app),
                        host=settings.http_host,
                        port=settings.http_port,
                        log_level="warning",
                        lifespan="off",
                    )
                )
                if not settings.api_token_set:
                    log.warning("api_open", hint="set HUYUAN_API_TOKENS to require bearer tokens")
                timers = TimerLoop(
                    db, workflow, self.clock, retention=retention(settings), guard=guard
                )
                # Prompts for the elder's device go out on the emergency lane's connection.
                device = DeviceChannel(lambda: emergency, self.clock)
                outbox = OutboxLoop(db, {"sms": channel, "device": device}, self.clock, guard=guard)
                async with asyncio.TaskGroup() as tg:
                    web_task = tg.create_task(self._serve_web(web), name="web")
                    tg.create_task(self._emergency_loop(emergency, lanes), name="emergency")
                    tg.create_task(self._telemetry_loop(telemetry, lanes), name="telemetry")
                    tg.create_task(self._dispatch_loop(lanes), name="dispatch")
                    tg.create_task(timers.run(), name="timers")
                    tg.create_task(outbox.run(), name="outbox")
                    tg.create_task(self._announce(web, mqtt_url), name="announce")
                    tg.create_task(self._stop_on_signal(web, web_task), name="shutdown")
        except* _Shutdown:
            log.info("server_stopped")
        finally:
            sys.setswitchinterval(previous_interval)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    def _console_config(self) -> ConsoleConfig:
        s = self.settings
        return ConsoleConfig(
            session_secret=load_or_create_secret(s.console_session_secret, s.data_dir),
            session_max_age=timedelta(hours=s.console_session_hours),
            cookie_secure=s.console_cookie_secure,
            lockout_failures=s.console_lockout_failures,
            lockout_window=timedelta(minutes=s.console_lockout_min),
            tile_url=s.console_tile_url,
            tile_attribution=s.console_tile_attribution,
            sse_poll_s=s.console_sse_poll_s,
            # Live-queue streams end on SIGTERM; uvicorn waits for every open response.
            stopping=self.stopping,
        )

    def _ingest_client(self, url: str, lane: Lane, group: str | None, v5: bool) -> MqttIngestClient:
        """One MQTT connection per lane: a telemetry backlog never queues in front of an SOS."""
        return MqttIngestClient(
            url,
            client_id=f"{self.settings.node_id}-{lane.value}",
            filters=subscription_filters(lane),
            shared_group=group,
            protocol_v5=v5,
            session_expiry_s=self.settings.mqtt_session_expiry_s,
        )

    async def _serve_web(self, web: uvicorn.Server) -> None:
        try:
            await web.serve()
        finally:
            # Cancelled because another loop failed: uvicorn's own shutdown never ran, so close
            # its connections and listening sockets here rather than leak them.
            for connection in list(web.server_state.connections):
                connection.shutdown()
            for listener in getattr(web, "servers", []):
                listener.close()

    async def _announce(self, web: uvicorn.Server, mqtt_url: str) -> None:
        while not web.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.02)
        port = self.settings.http_port
        if web.servers and web.servers[0].sockets:
            port = web.servers[0].sockets[0].getsockname()[1]
        self.endpoints = Endpoints(api=f"http://{self.settings.http_host}:{port}", mqtt=mqtt_url)
        self.started.set()
        log.info(
            "server_ready", api=self.endpoints.api, docs=f"{self.endpoints.api}/docs", mqtt=mqtt_url
        )

    async def _stop_on_signal(self, web: uvicorn.Server, web_task: asyncio.Task[None]) -> None:
        await self.stopping.wait()
        log.info("server_stopping")
        web.should_exit = True
        await web_task
        raise _Shutdown

    async def _unless_stopped(self, work: Awaitable[T]) -> T:
        """Start-up work that may wait a long time (a database that is down): SIGTERM ends it."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if task.cancelled():
            raise _Shutdown
        return task.result()

    async def _emergency_loop(self, client: MqttIngestClient, lanes: GuardedIngest) -> None:
        while True:
            for msg in await client.next_batch(100, 0.0):
                await lanes.emergency(msg, client)

    async def _dispatch_loop(self, lanes: GuardedIngest) -> None:
        while True:
            await lanes.dispatch(await lanes.ingest.to_dispatch.get())

    async def _telemetry_loop(self, client: MqttIngestClient, lanes: GuardedIngest) -> None:
        size, wait = self.settings.telemetry_batch_size, self.settings.telemetry_batch_wait_s
        while True:
            batch = await client.next_batch(size, wait)
            await lanes.telemetry(batch, client)


async def _load(db: Database, ingest: Ingest) -> None:
    async with db.session() as s:
        await ingest.devices.load(s, ingest.clock())
