"""End to end in a real browser: Debian's chromium, driven by Playwright, against the real server
process, a real MQTT broker and a SQLite file. Screenshots of the main screens go to
test-artifacts/ (and, with HUYUAN_UPDATE_DOC_SCREENSHOTS=1, the queue and detail ones to
docs/img/ for the README).
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
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import free_port
from tests.support.services import service_missing
from tests.test_end_to_end import Run, device_link, load_district, next_ack, sos_payload

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOCS_IMG = ROOT / "docs" / "img"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # The queue beeps for a new emergency; headless has nobody to click "enable sound".
    "--autoplay-policy=no-user-gesture-required",
]
USER, PASSWORD = "wangfang", "console-e2e-password"


@pytest.fixture
def server(broker_url: str, tmp_path: Path) -> Iterator[Run]:
    """The real server as a subprocess with an operator account made by ``huyuan user create``."""
    tag = uuid.uuid4().hex[:10]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUYUAN_", "TWILIO_"))}
    env.update(
        {
            "HUYUAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
            "HUYUAN_MQTT_URL": broker_url,
            "HUYUAN_NODE_ID": f"console-{tag}",
            "HUYUAN_MQTT_SHARED_GROUP": f"console{tag}",
            "HUYUAN_MQTT_SESSION_EXPIRY_S": "300",
            "HUYUAN_HTTP_PORT": str(port),
            "HUYUAN_DATA_DIR": str(tmp_path / "data"),
            # No tile server answers here: the map must still show its points.
            "HUYUAN_CONSOLE_TILE_URL": "http://127.0.0.1:9/{z}/{x}/{y}.png",
        }
    )
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "dispatcher",
            "user",
            "create",
            USER,
            "--name",
            "王芳",
            "--role",
            "supervisor",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n".encode(),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr.decode()
    base = int(tag[:6], 16) % 10**6
    devices = [f"87{base:06d}{i:07d}" for i in (1, 2)]
    run = Run(broker_url, env, f"http://127.0.0.1:{port}", devices, tmp_path / "server.log")
    run.start()
    yield run
    if run.proc is not None and run.proc.poll() is None:
        run.proc.kill()
        run.proc.wait()


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; under CI=true its absence fails the test instead of skipping it."""
    if not CHROMIUM.exists():
        service_missing(f"chromium at {CHROMIUM} (run scripts/install-browser.sh)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str, *, docs: bool = False, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    # Refreshing the README's screenshots is a deliberate act, not a side effect of `make test`.
    if docs and os.environ.get("HUYUAN_UPDATE_DOC_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / f"console-{name}.png")


async def api_post(run: Run, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=run.api) as http:
        response = await http.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result


async def test_an_sos_is_followed_from_the_queue_to_closure_in_a_real_browser(
    server: Run, browser: Browser
) -> None:
    """Sign in; an SOS over MQTT appears live with a beep; take, assign; the API arrival turns
    the countdown into "arrived in N min"; close with an outcome; the queue empties."""
    await server.wait_ready()
    await load_district(server)
    page = await browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    page.on("dialog", lambda dialog: dialog.accept())
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    await page.goto(f"{server.api}/console/")
    await page.fill("input[name=username]", USER)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("实时事件队列")
    await expect(page.locator("#live")).to_have_class("live on")
    await page.evaluate("window.__noReload = true")

    # A general request first, so the queue shows both categories.
    await api_post(server, "/api/v1/incidents", {"elder_id": 2, "summary": "帮忙买药"})
    async with device_link(server) as (mqtt, acks):
        device = server.devices[0]
        await mqtt.publish(f"hyt/v1/d/{device}/evt/sos", sos_payload(device, "b1"), qos=1)
        incident_id = (await next_ack(acks, "b1"))["incident_id"]
    row = page.locator(f"tr[data-id='{incident_id}']")
    await expect(row).to_be_visible(timeout=5_000)  # pushed: no reload within a few seconds
    assert await page.evaluate("window.__noReload") is True
    await expect(row).to_have_class("row sla-on_track cat-emergency untaken")
    await expect(row.locator(".countdown")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    assert await page.evaluate("window.HUYUAN.beeps") >= 1
    await page.evaluate("window.__noReload = undefined")

    # The elder's profile, edited in the browser while the alarm is live.
    await page.goto(f"{server.api}/console/elders/1")
    await page.fill("input[name=home_lat]", "north")
    await page.fill("textarea[name=medical_notes]", "高血压、2 型糖尿病；服用二甲双胍")
    await page.click("form.form-grid button.primary")
    await expect(page.locator(".has-error .field-error")).to_have_text("请输入数字。")
    await expect(page.locator("textarea[name=medical_notes]")).to_have_value(
        "高血压、2 型糖尿病；服用二甲双胍"
    )  # nothing typed is lost
    await page.fill("input[name=home_lat]", "23.3700")
    await page.fill("input[name=phone]", "+8613800000001")
    await page.fill("input[name=community]", "金霞街道·金涛社区")
    await page.fill("textarea[name=key_safe_note]", "门口密码箱 2580；楼下保安可开单元门")
    await page.fill(
        "textarea[name=contacts]", "陈国强|儿子|+8613900000001\n林惠芳|女儿|+8613900000002"
    )
    await page.click("form.form-grid button.primary")
    await expect(page.locator(".alert.ok")).to_have_text("已保存。")
    await page.goto(f"{server.api}/console/")
    await page.locator(f"tr[data-id='{incident_id}'] button.take").click()
    await expect(page.locator(".take-block strong")).to_have_text("王芳")
    await expect(page.locator(".timeline")).to_contain_text("王芳")
    # The map draws its points although no tile server answers.
    await page.wait_for_function("((window.HUYUAN || {}).mapPoints || 0) >= 2")
    first = page.locator("table.candidates tbody tr").first
    helper_name = (await first.locator("td").nth(1).inner_text()).strip()
    await first.locator("button.assign-btn").click()
    await expect(page.locator(".assigned-line strong")).to_have_text(helper_name)
    await expect(page.locator(".state")).to_have_text("已接单·途中")
    await expect(page.locator(".contacts li")).to_have_count(2)
    await shot(page, "detail", docs=True, full_page=True)

    await page.click("a[href='/console/']")
    await page.evaluate("window.__noReload = true")
    detail = await api_get(server, f"/api/v1/incidents/{incident_id}")
    helper_id = detail["assigned_helper"]["id"]
    await api_post(server, f"/api/v1/incidents/{incident_id}/arrived", {"helper_id": helper_id})
    countdown = page.locator(f"tr[data-id='{incident_id}'] .countdown")
    await expect(countdown).to_have_text(re.compile(r"^已到场 · 用时 \d+ 分钟$"), timeout=5_000)
    assert await page.evaluate("window.__noReload") is True

    # A busier queue for the README: another SOS, and a request nobody is free for (at risk).
    async with device_link(server) as (mqtt, acks):
        device = server.devices[1]
        await mqtt.publish(f"hyt/v1/d/{device}/evt/sos", sos_payload(device, "b2"), qos=1)
        await next_ack(acks, "b2")
    await api_post(
        server, "/api/v1/incidents", {"elder_id": 1, "summary": "家中断电，需要有人看看"}
    )
    await expect(page.locator("tr.sla-at_risk")).to_have_count(1, timeout=5_000)
    await expect(page.locator("tr.sla-at_risk .reason")).to_have_text("附近没有可派的助老员")
    await shot(page, "queue", docs=True)

    await page.goto(f"{server.api}/console/incidents/{incident_id}")
    await page.fill("input[name=outcome]", "老人无大碍，已陪同休息")
    await page.click("form[action$='/close'] button")
    await expect(page.locator(".state")).to_have_text("已办结")
    await expect(page.locator(".timeline")).to_contain_text("老人无大碍")
    closed = await api_get(server, f"/api/v1/incidents/{incident_id}")
    assert (closed["state"], closed["outcome"]) == ("resolved", "老人无大碍，已陪同休息")

    for name, path in (("helpers", "/console/helpers"), ("stats", "/console/stats?days=7")):
        await page.goto(f"{server.api}{path}")
        await shot(page, name)
    await page.goto(f"{server.api}/console/lang?to=en&next=/console/")
    await expect(page.locator("h1")).to_have_text("Live incident queue")
    await shot(page, "queue-en")
    assert script_errors == []
    # An operator's open live stream must not hold up a graceful stop.
    assert server.stop(signal.SIGTERM) == 0


async def api_get(run: Run, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=run.api) as http:
        response = await http.get(path)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result
