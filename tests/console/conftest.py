"""Console fixtures: the app in-process (httpx ASGI transport) over a real database, with users."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from dispatcher.clock import FakeClock
from dispatcher.store.database import Database
from dispatcher.store.users import Role
from dispatcher.web.app import create_app
from dispatcher.web.console import ConsoleConfig
from dispatcher.web.console.passwords import create_user
from dispatcher.web.context import AppContext
from dispatcher.workflow import Workflow
from tests.dispatcher.district import T0, District, load

PASSWORD = "correct-horse-battery"
USERS = {
    "wang": ("王芳", Role.OPERATOR),
    "li": ("李强", Role.SUPERVISOR),
    "root": ("系统管理员", Role.ADMIN),
}


@dataclass
class Console:
    client: httpx.AsyncClient
    db: Database
    clock: FakeClock
    config: ConsoleConfig
    district: District

    async def csrf(self, path: str = "/console/login") -> str:
        """The CSRF token a page's forms carry (and the cookie the page set)."""
        page = await self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        token = await self.csrf()
        return await self.client.post(
            "/console/login",
            data={"csrf": token, "username": username, "password": password, "next": "/console/"},
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def console(database: Database, clock: FakeClock) -> AsyncIterator[Console]:
    district = await load(database)
    async with database.session() as s:
        for username, (name, role) in USERS.items():
            await create_user(
                s, username=username, display_name=name, role=role, password=PASSWORD, now=T0
            )
    config = ConsoleConfig(session_secret="test-secret-" + "x" * 32, sse_poll_s=0.05)
    ctx = AppContext(db=database, workflow=Workflow(database), clock=clock, ready=lambda: True)
    transport = httpx.ASGITransport(app=create_app(ctx, config))
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        yield Console(client, database, clock, config, district)


@pytest.fixture
async def operator(console: Console) -> Console:
    """Signed in as 王芳, an operator."""
    assert (await console.sign_in("wang")).status_code == 303
    return console
