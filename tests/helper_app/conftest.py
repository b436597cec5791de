"""Helper-app fixtures: the app in-process (httpx ASGI transport) over a real database, with
the test district's helpers and a way to sign each of them in from a one-time link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from dispatcher.clock import FakeClock
from dispatcher.store.database import Database
from dispatcher.store.helper_sessions import HelperSessions
from dispatcher.store.helper_view import HelperView, OfferCard
from dispatcher.web.app import create_app
from dispatcher.web.console import ConsoleConfig
from dispatcher.web.context import AppContext
from dispatcher.web.helper_app import issue_link
from dispatcher.web.helper_app.config import HelperAppConfig
from dispatcher.workflow import Workflow
from tests.dispatcher.district import T0, District, load

SECRET = "helper-test-secret-" + "y" * 32


@dataclass
class HelperApp:
    db: Database
    clock: FakeClock
    config: HelperAppConfig
    district: District
    transport: httpx.ASGITransport
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        """A browser of its own (its own cookie jar), closed with the fixture."""
        client = httpx.AsyncClient(transport=self.transport, base_url="http://huyuan")
        self.clients.append(client)
        return client

    async def link(self, helper_id: int) -> str:
        """A fresh one-time sign-in link path for the helper."""
        workflow = Workflow(self.db)
        async with self.db.session() as s:
            helper = await HelperSessions().helper(s, helper_id)
            assert helper is not None
            url = issue_link(
                s, self.config, workflow.incidents.queue_message, helper, T0, send_sms=False
            )
        return url.removeprefix("http://huyuan")

    async def redeem(self, client: httpx.AsyncClient, path: str) -> httpx.Response:
        """Open the link page and press its button, as a helper's browser does."""
        page = await client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return await client.post(path, data={"csrf": found.group(1)})

    async def signed_in(self, helper_id: int) -> Browser:
        client = self.client()
        response = await self.redeem(client, await self.link(helper_id))
        assert response.status_code == 303, response.text
        return Browser(client, helper_id)

    async def open_request(self, elder_id: int, summary: str = "家中跌倒，需要人扶") -> int:
        async with self.client() as api:
            response = await api.post(
                "/api/v1/incidents", json={"elder_id": elder_id, "summary": summary}
            )
            assert response.status_code == 201, response.text
            incident_id: int = response.json()["id"]
            return incident_id

    async def pending_offer(self, helper_id: int) -> OfferCard | None:
        async with self.db.read_session() as s:
            return await HelperView().pending_offer(s, helper_id)

    async def incident(self, incident_id: int) -> dict[str, Any]:
        async with self.client() as api:
            response = await api.get(f"/api/v1/incidents/{incident_id}")
            assert response.status_code == 200
            result: dict[str, Any] = response.json()
            return result


@dataclass
class Browser:
    client: httpx.AsyncClient
    helper_id: int

    async def csrf(self) -> str:
        page = await self.client.get("/helper/")
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf": await self.csrf(), **(data or {})})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def helper_app(database: Database, clock: FakeClock) -> AsyncIterator[HelperApp]:
    district = await load(database)
    console = ConsoleConfig(session_secret=SECRET)
    ctx = AppContext(db=database, workflow=Workflow(database), clock=clock, ready=lambda: True)
    app = create_app(ctx, console)
    config: HelperAppConfig = app.state.helper_app
    transport = httpx.ASGITransport(app=app)
    world = HelperApp(database, clock, config, district, transport)
    yield world
    for client in world.clients:
        await client.aclose()
