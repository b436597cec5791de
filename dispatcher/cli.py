"""The ``huyuan`` command: serve, migrate, load data, run the demo, print the device schema."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from dispatcher.clock import utcnow
from dispatcher.demo_district import generate
from dispatcher.errors import DispatchError
from dispatcher.logs import configure
from dispatcher.registry import ImportReport, import_devices, import_elders, import_helpers
from dispatcher.server import Server
from dispatcher.settings import Settings
from dispatcher.store.database import Database
from dispatcher.store.migrate import upgrade
from dispatcher.store.users import Role, user_by_name
from dispatcher.web.console.passwords import create_user, normalise, set_password

app = typer.Typer(
    help="Huyuan 呼援: dispatch server for elderly emergency calls.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
protocol_app = typer.Typer(help="The device protocol.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(protocol_app, name="protocol")
user_app = typer.Typer(help="Console accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")

IMPORT_KINDS = ("elders", "devices", "helpers")


def _settings() -> Settings:
    settings = Settings()
    configure(settings.log_level)
    return settings


@app.command()
def serve() -> None:
    """Run the server (settings from HUYUAN_* and TWILIO_* environment variables)."""
    asyncio.run(Server(_settings()).run())


async def _upgrade(settings: Settings) -> None:
    async with Database(settings.database_url, schema=settings.database_schema) as db:
        await upgrade(db)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the configured database to the newest schema (idempotent)."""
    settings = _settings()
    asyncio.run(_upgrade(settings))
    typer.echo(f"database at newest schema: {settings.database_url}")


async def _import(settings: Settings, kind: str, text: str) -> ImportReport:
    async with (
        Database(settings.database_url, schema=settings.database_schema) as db,
        db.session() as s,
    ):
        if kind == "elders":
            return await import_elders(s, text, utcnow())
        if kind == "devices":
            return await import_devices(s, text)
        return await import_helpers(s, text, utcnow())


async def _load_demo(settings: Settings) -> str:
    district = generate()
    await _upgrade(settings)
    reports = [
        await _import(settings, "elders", district.elders_csv),
        await _import(settings, "devices", district.devices_csv),
        await _import(settings, "helpers", district.helpers_csv),
    ]
    counts = ", ".join(
        f"{kind} {r.created} new/{r.updated} updated"
        for kind, r in zip(IMPORT_KINDS, reports, strict=True)
    )
    return f"demo district loaded: {counts}"


@app.command("load-demo")
def load_demo() -> None:
    """Load the demo district (Longhu, Shantou) into the configured database; idempotent."""
    typer.echo(asyncio.run(_load_demo(_settings())))


@app.command("import")
def import_csv(
    kind: Annotated[str, typer.Argument(help="elders, devices or helpers")],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
) -> None:
    """Load elders, devices or helpers from a CSV file (format in README); idempotent."""
    if kind not in IMPORT_KINDS:
        raise typer.BadParameter("kind must be elders, devices or helpers")
    report = asyncio.run(_import(_settings(), kind, path.read_text(encoding="utf-8")))
    typer.echo(f"{kind}: {report.created} created, {report.updated} updated")


# ---- console accounts (issue 4) -----------------------------------------------------------


async def _create_user(
    settings: Settings, username: str, name: str, role: str, password: str, *, reset: bool
) -> str:
    await _upgrade(settings)
    async with (
        Database(settings.database_url, schema=settings.database_schema) as db,
        db.session() as s,
    ):
        try:
            existing = await user_by_name(s, normalise(username))
            if existing is not None and reset:
                await set_password(s, existing, password)
                existing.role, existing.active = Role(role).value, True
                return f"user {existing.username} updated ({existing.role})"
            user = await create_user(
                s,
                username=username,
                display_name=name or username,
                role=Role(role),
                password=password,
                now=utcnow(),
            )
        except DispatchError as exc:
            raise typer.BadParameter(exc.message) from exc
        return f"user {user.username} created ({user.role})"


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Sign-in name")],
    name: Annotated[str, typer.Option(help="Name shown in timelines, e.g. 王芳")] = "",
    role: Annotated[str, typer.Option(help="operator, supervisor or admin")] = "operator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts)")
    ] = False,
) -> None:
    """Create a console account (there is no built-in default account outside demo mode)."""
    if role not in ("operator", "supervisor", "admin"):
        raise typer.BadParameter("role must be operator, supervisor or admin")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    typer.echo(asyncio.run(_create_user(_settings(), username, name, role, password, reset=False)))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def simulate(ctx: typer.Context) -> None:
    """Synthetic districts: `huyuan simulate fast|live --scenario longhu …` (docs/simulator.md)."""
    # The simulator is a separate program: the server's code may not import it (DESIGN.md §2).
    raise typer.Exit(subprocess.call([sys.executable, "-m", "simulator", *ctx.args]))


@protocol_app.command("schema")
def protocol_schema() -> None:
    """Print the JSON Schema of every device message."""
    from device_protocol import json_schemas

    typer.echo(json.dumps(json_schemas(), indent=2, ensure_ascii=False))


@app.command()
def demo(
    sos_every_s: Annotated[float, typer.Option(help="Mean seconds between simulated SOS")] = 20.0,
) -> None:
    """Everything on embedded defaults: broker, SQLite, demo district, server, simulated devices."""
    os.environ.setdefault("HUYUAN_DATA_DIR", "var/demo")
    os.environ.setdefault("HUYUAN_DATABASE_URL", "sqlite+aiosqlite:///var/demo/huyuan.db")
    asyncio.run(_demo(_settings(), sos_every_s))


DEMO_USER = "demo"


async def _demo(settings: Settings, sos_every_s: float) -> None:
    typer.echo(await _load_demo(settings))
    # Demo mode only: a console account (supervisor, so every screen can be tried) with a fresh
    # random password, printed below; outside demo mode accounts come from `huyuan user create`.
    demo_password = secrets.token_urlsafe(9)
    await _create_user(settings, DEMO_USER, "演示接警员", "supervisor", demo_password, reset=True)
    server = Server(settings)
    run = asyncio.create_task(server.run())
    started = asyncio.create_task(server.started.wait())
    await asyncio.wait({run, started}, return_when=asyncio.FIRST_COMPLETED)
    if server.endpoints is None:
        started.cancel()
        await run  # start-up failed: let its error end the command
        return
    api, mqtt = server.endpoints.api, server.endpoints.mqtt
    typer.echo(
        f"\n  Huyuan is running.\n  Console:  {api}/console/  (user {DEMO_USER}, "
        f"password {demo_password})\n  API:      {api}/api/v1/incidents\n"
        f"  API docs: {api}/docs\n  MQTT:     {mqtt}\n  Ctrl-C stops.\n"
    )
    # The simulator is another program: it speaks only MQTT and HTTP to the server.
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "demo",
        "--api",
        api,
        "--mqtt",
        mqtt,
        "--sos-every",
        str(sos_every_s),
    )
    try:
        await run
    finally:
        if sim.returncode is None:
            sim.terminate()
            try:
                await asyncio.wait_for(sim.wait(), timeout=10)
            except TimeoutError:
                sim.kill()


# ---- helper app sign-in (issue 9) ---------------------------------------------------------


async def _helper_link(settings: Settings, ref: str, *, send_sms: bool) -> str:
    # Imported here: only these commands need the web layer's helper app.
    from dispatcher.matching import DEFAULT_POLICY
    from dispatcher.store.helper_sessions import HelperSessions
    from dispatcher.store.incidents import IncidentRepository
    from dispatcher.web.console.config import load_or_create_secret
    from dispatcher.web.helper_app import HelperAppConfig, issue_link

    await _upgrade(settings)
    secret = load_or_create_secret(settings.console_session_secret, settings.data_dir)
    config = HelperAppConfig(
        secret=secret,
        public_url=settings.public_url,
        link_max_age=timedelta(minutes=settings.helper_link_minutes),
    )
    async with (
        Database(settings.database_url, schema=settings.database_schema) as db,
        db.session() as s,
    ):
        helper = await HelperSessions().helper_by_ref(s, ref)
        if helper is None:
            raise typer.BadParameter(f"no helper with ref {ref!r}")
        queue = IncidentRepository(db, DEFAULT_POLICY).queue_message
        return issue_link(s, config, queue, helper, utcnow(), send_sms=send_sms)


@app.command("helper-link")
def helper_link(
    ref: Annotated[str, typer.Argument(help="The helper's ref (external id), e.g. H1")],
    sms: Annotated[
        bool, typer.Option("--sms/--no-sms", help="Also send the link to the helper by SMS")
    ] = True,
) -> None:
    """Print a one-time sign-in link for the helper app (valid 10 minutes, works once)."""
    settings = _settings()
    if not settings.public_url:
        typer.echo("warning: HUYUAN_PUBLIC_URL is not set; the link is relative", err=True)
    typer.echo(asyncio.run(_helper_link(settings, ref, send_sms=sms)))


async def _helper_revoke(settings: Settings, ref: str) -> str:
    from dispatcher.store.helper_sessions import HelperSessions

    async with (
        Database(settings.database_url, schema=settings.database_schema) as db,
        db.session() as s,
    ):
        sessions = HelperSessions()
        helper = await sessions.helper_by_ref(s, ref)
        if helper is None:
            raise typer.BadParameter(f"no helper with ref {ref!r}")
        count = await sessions.revoke_all(s, helper.id, utcnow())
        return f"{count} helper-app session(s) of {helper.external_ref} revoked"


@app.command("helper-revoke")
def helper_revoke(
    ref: Annotated[str, typer.Argument(help="The helper's ref (external id), e.g. H1")],
) -> None:
    """Sign a helper out of the helper app on every phone (a lost or handed-on phone)."""
    typer.echo(asyncio.run(_helper_revoke(_settings(), ref)))


def main() -> None:
    app()
