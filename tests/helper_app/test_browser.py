"""The helper app in a real browser: Debian's chromium driven by Playwright against the real
server process (real MQTT broker, SQLite file), geolocation emulated by the browser context.

A helper signs in from the one-time link printed by ``huyuan helper-link``, goes on duty,
receives an offer live (no reload), accepts, checks in (near the elder in one test, far with a
reason in the other) and closes. Screenshots go to test-artifacts/helper-*.png (and, with
HUYUAN_UPDATE_DOC_SCREENSHOTS=1, two of them to docs/img/ for the README).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Geolocation,
    Page,
    async_playwright,
    expect,
)

from tests.conftest import free_port
from tests.console.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.services import service_missing
from tests.test_end_to_end import Run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOCS_IMG = ROOT / "docs" / "img"

ELDERS = (
    "ref,name,age,gender,phone,address,community,lat,lon,medical_notes,key_safe_note,contacts\n"
    "E1,陈秀英,82,女,+8613800000001,汕头市龙湖区金涛社区3栋201房,金霞街道·金涛社区,"
    "23.3700,116.7000,高血压、2 型糖尿病,门口密码箱 2580,陈国强|儿子|+8613900000001\n"
)
# The only helper, off duty and never located: the app puts them on the map.
HELPERS = (
    "ref,name,phone,role,skills,travel_mode,on_duty,lat,lon\n"
    "H1,黄少卿,+8613700000001,social_worker,急救证,walk,false,,\n"
)
START: Geolocation = {"latitude": 23.3727, "longitude": 116.7000}  # 300 m north of the elder
NEAR: Geolocation = {"latitude": 23.37008, "longitude": 116.70005}  # 10 m
FAR: Geolocation = {"latitude": 23.3745, "longitude": 116.7000}  # about 500 m


@pytest.fixture
def server(broker_url: str, tmp_path: Path) -> Iterator[Run]:
    """The real server as a subprocess, its public URL set so links point at it."""
    tag = uuid.uuid4().hex[:10]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUYUAN_", "TWILIO_"))}
    env.update(
        {
            "HUYUAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'helper.db'}",
            "HUYUAN_MQTT_URL": broker_url,
            "HUYUAN_NODE_ID": f"helper-{tag}",
            "HUYUAN_MQTT_SHARED_GROUP": f"helper{tag}",
            "HUYUAN_MQTT_SESSION_EXPIRY_S": "300",
            "HUYUAN_HTTP_PORT": str(port),
            "HUYUAN_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "HUYUAN_DATA_DIR": str(tmp_path / "data"),
        }
    )
    run = Run(broker_url, env, f"http://127.0.0.1:{port}", [], tmp_path / "server.log")
    run.start()
    yield run
    if run.proc is not None and run.proc.poll() is None:
        run.proc.kill()
        run.proc.wait()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium; under CI=true its absence fails the test instead of skipping it."""
    if not CHROMIUM.exists():
        service_missing(f"chromium at {CHROMIUM} (run scripts/install-browser.sh)")
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str, *, docs: bool = False, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"helper-{name}.png"
    if full_page:  # a viewport as tall as the page: the sticky bars stay at its ends
        viewport = page.viewport_size
        assert viewport is not None
        height = await page.evaluate("document.documentElement.scrollHeight")
        await page.set_viewport_size({"width": viewport["width"], "height": height})
        await page.screenshot(path=str(path))
        await page.set_viewport_size(viewport)
    else:
        await page.screenshot(path=str(path))
    if docs and os.environ.get("HUYUAN_UPDATE_DOC_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / f"helper-{name}.png")


async def api(run: Run, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=run.api) as http:
        response = await http.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()


def sign_in_link(run: Run) -> str:
    """What an operator runs: ``huyuan helper-link H1`` prints the link (and queues the SMS)."""
    made = subprocess.run(
        [sys.executable, "-m", "dispatcher", "helper-link", "H1"],
        env=run.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr.decode()
    link = made.stdout.decode().strip().splitlines()[-1]
    assert link.startswith(f"{run.api}/helper/signin/"), link
    return link


async def mobile(browser: Browser) -> BrowserContext:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation=START,
        permissions=["geolocation"],
    )
    return context


@pytest.mark.parametrize("where", ["near", "far"])
async def test_a_helper_answers_an_offer_in_the_app(
    server: Run, browser: Browser, where: str
) -> None:
    """Sign in from the one-time link, go on duty (position from the emulated GPS), get an
    offer live, accept, check in near the elder (or far, with a reason), close."""
    await server.wait_ready()
    for kind, body in (("elders", ELDERS), ("helpers", HELPERS)):
        await api(
            server, "POST", f"/api/v1/import/{kind}", content=body,
            headers={"content-type": "text/csv"},
        )  # fmt: skip
    link = sign_in_link(server)
    context = await mobile(browser)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    await page.goto(link)
    await expect(page.locator("#enter")).to_be_visible()
    if where == "near":
        await shot(page, "signin")
    await page.click("#enter")
    await expect(page.locator("#message")).to_contain_text("登录成功")
    await page.click("#go-on")
    await expect(page.locator("#duty .badge.on")).to_be_visible()
    await expect(page.locator("#waiting")).to_be_visible()
    await page.wait_for_function("window.HUYUAN_HELPER && window.HUYUAN_HELPER.live")
    [helper] = await api(server, "GET", "/api/v1/helpers")
    assert helper["on_duty"] is True
    assert (helper["lat"], helper["lon"]) == (START["latitude"], START["longitude"])

    # The offer arrives while the page is open: pushed by the stream, no reload.
    await page.evaluate("window.__noReload = true")
    incident = await api(
        server, "POST", "/api/v1/incidents",
        json={"elder_id": 1, "summary": "老人在家中跌倒，起不来", "category": "emergency"},
    )  # fmt: skip
    offer = page.locator("#offer")
    await expect(offer).to_be_visible(timeout=10_000)
    assert await page.evaluate("window.__noReload") is True
    await expect(offer.locator(".countdown")).to_have_text(re.compile(r"^0[01]:\d\d$"))
    assert "陈秀英" not in await offer.inner_text()  # who, only after accepting
    if where == "near":
        await shot(page, "offer", docs=True)

    await page.click("#accept")
    await expect(page.locator("#elder h2")).to_contain_text("陈秀英")
    await expect(page.locator("#case-state")).to_contain_text("已接单")
    await expect(page.locator("#nav a")).to_have_count(3)
    await expect(page.locator("#call-elder")).to_have_attribute("href", "tel:+8613800000001")
    if where == "near":
        await shot(page, "case", docs=True, full_page=True)

    await context.set_geolocation(NEAR if where == "near" else FAR)
    await page.click("#arrive")
    if where == "far":
        await expect(page.locator("#far")).to_contain_text("超过 200 米")
        await page.select_option("#far-reason", "entrance")
        await page.fill("input[name=detail]", "单元门禁，在楼下等保安")
        await shot(page, "far-checkin", full_page=True)
        await page.click("#arrive")
    await expect(page.locator("#case-state")).to_contain_text("已到场")
    await expect(page.locator("#arrived-at")).to_be_visible()

    await page.select_option("#outcome", "fine")
    await page.fill("#outcome-detail", "测量血压正常，已扶起休息")
    await page.click("#resolve")
    await expect(page.locator("#message")).to_contain_text("任务已办结")
    await expect(page.locator("#waiting")).to_be_visible()

    detail = await api(server, "GET", f"/api/v1/incidents/{incident['id']}")
    assert detail["state"] == "resolved"
    assert detail["outcome"] == "已处理，老人平安：测量血压正常，已扶起休息"
    actors = {entry["actor"] for entry in detail["timeline"]}
    assert f"helper:{helper['id']}" in actors
    notes = [e for e in detail["timeline"] if e["action"] == "note"]
    assert len(notes) == 1
    text = str(notes[0])
    assert ("原因：在楼下或门外" in text) is (where == "far")

    await page.goto(f"{server.api}/helper/history")
    await expect(page.locator("#history li")).to_have_count(1)
    if where == "near":
        await shot(page, "history")
        await page.goto(f"{server.api}/helper/practice")
        await page.click("#p-accept")
        await expect(page.locator("#p-case")).to_be_visible()
        await shot(page, "practice")
    assert errors == []
    await context.close()
    # An open live stream must not hold up a graceful stop.
    assert server.stop(signal.SIGTERM) == 0
