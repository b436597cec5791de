"""Sign-in, sessions, CSRF, lock-out and roles of the operators' console."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from dispatcher.store.users import LoginAttempt, User
from dispatcher.web.console.auth import COOKIE
from dispatcher.web.console.passwords import set_password
from tests.console.conftest import PASSWORD, Console


async def test_passwords_are_stored_as_argon2_hashes(console: Console) -> None:
    """No password is stored as typed: every account holds an argon2id hash."""
    async with console.db.session() as s:
        hashes = (await s.execute(select(User.password_hash))).scalars().all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)


async def test_signed_out_visitors_are_sent_to_the_sign_in_page(console: Console) -> None:
    """Every console page needs a session; the sign-in form remembers where they were going."""
    response = await console.client.get("/console/helpers")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/helpers"
    assert (await console.client.get("/console/stream")).status_code == 401


async def test_right_password_signs_in_and_opens_the_queue(console: Console) -> None:
    """A correct sign-in sets a signed, HttpOnly, SameSite cookie and shows the queue."""
    response = await console.sign_in("WANG ")  # names are case- and space-insensitive
    assert (response.status_code, response.headers["location"]) == (303, "/console/")
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    queue = await console.client.get("/console/")
    assert queue.status_code == 200 and "王芳" in queue.text and "实时事件队列" in queue.text


async def test_wrong_password_is_refused_in_chinese_and_keeps_the_user_name(
    console: Console,
) -> None:
    """A failed sign-in says so in the operator's language; the name typed stays in the form."""
    response = await console.sign_in("wang", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text and 'value="wang"' in response.text
    assert "wrong-password" not in response.text


async def test_repeated_failures_lock_the_account_then_the_lock_expires(console: Console) -> None:
    """Five failures lock the name for 15 minutes, even against the right password."""
    for _ in range(5):
        assert (await console.sign_in("wang", "guess")).status_code == 401
    locked = await console.sign_in("wang")
    assert locked.status_code == 401 and "锁定" in locked.text
    console.clock.advance(timedelta(minutes=16))
    assert (await console.sign_in("wang")).status_code == 303
    async with console.db.session() as s:
        attempts = (await s.execute(select(LoginAttempt.success))).scalars().all()
    assert attempts.count(False) == 6 and attempts[-1] is True


async def test_unknown_names_are_limited_like_real_ones(console: Console) -> None:
    """Guessing names gets the same answer as a wrong password, and locks the same way."""
    first = await console.sign_in("nobody", "x")
    assert first.status_code == 401 and "用户名或密码错误" in first.text
    for _ in range(5):
        await console.sign_in("nobody", "x")
    assert "锁定" in (await console.sign_in("nobody", "x")).text


async def test_posts_without_the_csrf_token_are_refused(operator: Console) -> None:
    """A form posted without (or with another) CSRF token changes nothing and gets 403."""
    incidents = "/api/v1/incidents"
    body = {"elder_id": operator.district.e1, "summary": "买菜"}
    created = await operator.client.post(incidents, json=body)
    incident_id = created.json()["id"]
    for data in ({"text": "x"}, {"text": "x", "csrf": "forged"}):
        response = await operator.client.post(f"/console/incidents/{incident_id}/note", data=data)
        assert response.status_code == 403 and "表单已过期" in response.text
    timeline = (await operator.client.get(f"{incidents}/{incident_id}")).json()["timeline"]
    assert "note" not in [e["action"] for e in timeline]


async def test_sign_in_itself_needs_the_csrf_token(console: Console) -> None:
    """Login CSRF: a sign-in form posted from elsewhere (no token) is refused."""
    response = await console.client.post(
        "/console/login", data={"username": "wang", "password": PASSWORD}
    )
    assert response.status_code == 403


async def test_a_tampered_session_cookie_counts_as_signed_out(operator: Console) -> None:
    """The cookie is signed: changing one character of it ends the session."""
    value = operator.client.cookies[COOKIE]
    operator.client.cookies.set(
        COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1:], path="/console"
    )
    assert (await operator.client.get("/console/")).status_code == 303


async def test_operators_cannot_import_but_supervisors_can(console: Console) -> None:
    """Roles: an operator is refused the elder import (403); a supervisor imports."""
    csv_text = "ref,name,address,lat,lon\nE9,蔡玉珍,汕头市龙湖区新兴社区1栋,23.38,116.69\n"
    await console.sign_in("wang")
    token = await console.csrf("/console/")
    refused = await console.client.post(
        "/console/elders-import", data={"csrf": token, "csv_text": csv_text}
    )
    assert refused.status_code == 403 and "值班主管" in refused.text
    await console.sign_in("li")
    token = await console.csrf("/console/")
    done = await console.client.post(
        "/console/elders-import", data={"csrf": token, "csv_text": csv_text}
    )
    assert done.status_code == 303 and "imported=1/0" in done.headers["location"]


async def test_sign_in_never_redirects_to_another_site(console: Console) -> None:
    """An open redirect through ``next`` is closed: only console paths are followed."""
    token = await console.csrf()
    response = await console.client.post(
        "/console/login",
        data={"csrf": token, "username": "wang", "password": PASSWORD, "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/console/"


async def test_sign_out_ends_the_session(operator: Console) -> None:
    """After signing out the queue asks for sign-in again."""
    token = await operator.csrf("/console/")
    assert (await operator.client.post("/console/logout", data={"csrf": token})).status_code == 303
    assert (await operator.client.get("/console/")).status_code == 303


async def test_a_password_change_ends_existing_sessions(operator: Console) -> None:
    """Sessions carry the account's version: a new password signs out every old session."""
    async with operator.db.session() as s:
        user = (await s.execute(select(User).where(User.username == "wang"))).scalar_one()
        await set_password(s, user, "a-new-long-password")
    assert (await operator.client.get("/console/")).status_code == 303
