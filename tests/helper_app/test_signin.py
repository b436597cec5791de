"""Sign-in: one-time links (single use, expiry, tampering, bound to the phone), the phone form,
and revocable sessions."""

from __future__ import annotations

import time

import httpx
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from dispatcher.store.helper_sessions import HelperSession, HelperSessions
from dispatcher.store.models import Helper, OutboxMessage
from dispatcher.web.helper_app.auth import COOKIE
from tests.helper_app.conftest import SECRET, HelperApp


async def press(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """Post a link's form with a valid pre-sign-in token (taken from the login page)."""
    page = await client.get("/helper/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return await client.post(path, data={"csrf": token})


async def test_a_link_signs_in_once_and_a_second_use_is_refused(helper_app: HelperApp) -> None:
    """The first press opens a session (HttpOnly, SameSite=Lax cookie); the same link again is
    refused as used, even in another browser."""
    path = await helper_app.link(helper_app.district.h1)
    first = helper_app.client()
    response = await helper_app.redeem(first, path)
    assert response.status_code == 303
    assert response.headers["location"] == "/helper/?m=signed_in"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie")
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/helper" in cookie
    home = await first.get("/helper/")
    assert home.status_code == 200 and "黄少卿" in home.text

    again = await helper_app.redeem(helper_app.client(), path)
    assert again.status_code == 400
    assert 'data-problem="used"' in again.text
    async with helper_app.db.read_session() as s:
        rows = (await s.execute(select(HelperSession))).scalars().all()
    assert [r.helper_id for r in rows] == [helper_app.district.h1]
    assert rows[0].token_hash != first.cookies[COOKIE]  # only the hash is stored


async def test_opening_the_link_does_not_spend_it(helper_app: HelperApp) -> None:
    """A link previewer's GET shows the button page and leaves the link usable."""
    path = await helper_app.link(helper_app.district.h1)
    for _ in range(3):
        page = await helper_app.client().get(path)
        assert page.status_code == 200 and 'id="enter"' in page.text
    assert (await helper_app.redeem(helper_app.client(), path)).status_code == 303


async def test_an_expired_link_is_refused(helper_app: HelperApp) -> None:
    """A genuine link signed eleven minutes ago is past its ten minutes."""

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 11 * 60

    signer = URLSafeTimedSerializer(SECRET, salt="huyuan-helper-signin", signer=Earlier)
    token = signer.dumps({"h": helper_app.district.h1, "p": "x", "j": "old"})
    client = helper_app.client()
    page = await client.get(f"/helper/signin/{token}")
    assert page.status_code == 400 and 'data-problem="expired"' in page.text
    response = await press(client, f"/helper/signin/{token}")
    assert response.status_code == 400 and COOKIE not in client.cookies


async def test_a_tampered_or_foreign_link_is_refused(helper_app: HelperApp) -> None:
    """Changing the helper id in a link, or signing one with another secret, gets nothing."""
    path = await helper_app.link(helper_app.district.h1)
    token = path.rsplit("/", 1)[1]
    forged = URLSafeTimedSerializer("not-the-secret", salt="huyuan-helper-signin").dumps(
        {"h": helper_app.district.h2, "p": "x", "j": "forged"}
    )
    payload, rest = token.split(".", 1)
    swapped = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest
    for bad in (forged, swapped, "nonsense"):
        client = helper_app.client()
        response = await press(client, f"/helper/signin/{bad}")
        assert response.status_code == 400, bad
        assert 'data-problem="bad"' in response.text
        assert COOKIE not in client.cookies


async def test_a_link_dies_when_the_helpers_number_changes(helper_app: HelperApp) -> None:
    """The link is bound to the number it was sent to: a new phone number makes it worthless."""
    path = await helper_app.link(helper_app.district.h1)
    async with helper_app.db.session() as s:
        helper = await s.get(Helper, helper_app.district.h1)
        assert helper is not None
        helper.phone = "+8613700009999"
    response = await helper_app.redeem(helper_app.client(), path)
    assert response.status_code == 400


async def test_the_phone_form_answers_the_same_and_texts_only_a_helper(
    helper_app: HelperApp,
) -> None:
    """A helper's number (typed with spaces) gets a sign-in SMS through the outbox; an unknown
    number gets the very same page and no SMS."""
    pages = []
    for phone in ("+86 137 0000 0001", "+8613900000000"):
        client = helper_app.client()
        form = await client.get("/helper/login")
        token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        response = await client.post("/helper/login", data={"csrf": token, "phone": phone})
        assert response.status_code == 200
        pages.append(response.text.replace(token, ""))
    assert pages[0] == pages[1]
    async with helper_app.db.read_session() as s:
        sent = (await s.execute(select(OutboxMessage))).scalars().all()
    assert [(m.purpose, m.recipient) for m in sent] == [("helper_signin", "+8613700000001")]
    assert "/helper/signin/" in sent[0].body and sent[0].body.startswith("【护援】黄少卿")


async def test_the_phone_form_needs_its_csrf_token(helper_app: HelperApp) -> None:
    """A cross-site post of the phone form (no token) is refused and sends nothing."""
    client = helper_app.client()
    response = await client.post("/helper/login", data={"phone": "+8613700000001"})
    assert response.status_code == 403
    async with helper_app.db.read_session() as s:
        assert (await s.execute(select(OutboxMessage))).first() is None


async def test_a_revoked_session_is_refused(helper_app: HelperApp) -> None:
    """Once an operator revokes the helper's sessions, pages send them to sign in and actions
    get 401."""
    browser = await helper_app.signed_in(helper_app.district.h1)
    token = await browser.csrf()
    async with helper_app.db.session() as s:
        assert await HelperSessions().revoke_all(s, helper_app.district.h1, helper_app.clock()) == 1
    page = await browser.client.get("/helper/")
    assert page.status_code == 303 and page.headers["location"] == "/helper/login"
    response = await browser.client.post("/helper/duty", data={"csrf": token, "on": "0"})
    assert response.status_code == 401
    async with helper_app.db.read_session() as s:
        helper = await s.get(Helper, helper_app.district.h1)
        assert helper is not None and helper.on_duty


async def test_signing_out_revokes_the_session(helper_app: HelperApp) -> None:
    """Sign out ends the session on the server, not just the cookie."""
    browser = await helper_app.signed_in(helper_app.district.h1)
    secret = browser.client.cookies[COOKIE]
    assert (await browser.post("/helper/logout")).status_code == 303
    client = helper_app.client()
    client.cookies.set(COOKIE, secret, path="/helper")
    assert (await client.get("/helper/")).status_code == 303
