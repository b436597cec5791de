"""Helper actions through the app: each goes through the workflow as ``helper:<id>``, and only
on the helper's own offers and incidents."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from dispatcher.store.models import Helper, Offer, TimelineEntry
from tests.helper_app.conftest import Browser, HelperApp

# 23.3700, 116.7000 is E1's home; 0.0045° of latitude is about 500 m.
NEAR = {"lat": "23.3701", "lon": "116.7001"}
FAR = {"lat": "23.3745", "lon": "116.7000"}


async def offered(helper_app: HelperApp) -> tuple[int, int, Browser, Browser]:
    """A request for E1 offered to H1 (the nearest); H1 and H2 signed in."""
    incident_id = await helper_app.open_request(helper_app.district.e1)
    offer = await helper_app.pending_offer(helper_app.district.h1)
    assert offer is not None and offer.incident_id == incident_id
    h1 = await helper_app.signed_in(helper_app.district.h1)
    h2 = await helper_app.signed_in(helper_app.district.h2)
    return incident_id, offer.offer_id, h1, h2


async def timeline(helper_app: HelperApp, incident_id: int) -> list[tuple[str, str, str]]:
    async with helper_app.db.read_session() as s:
        rows = await s.execute(
            select(TimelineEntry.actor, TimelineEntry.action, TimelineEntry.detail)
            .where(TimelineEntry.incident_id == incident_id)
            .order_by(TimelineEntry.id)
        )
        return [(actor, action, str(detail.get("text", ""))) for actor, action, detail in rows]


async def test_a_helper_cannot_answer_another_helpers_offer(helper_app: HelperApp) -> None:
    """H2 accepting or declining H1's offer gets a 403 problem and nothing changes."""
    incident_id, offer_id, _h1, h2 = await offered(helper_app)
    before = await helper_app.incident(incident_id)
    for action, data in (("accept", {}), ("decline", {"reason": "busy"})):
        response = await h2.post(f"/helper/offers/{offer_id}/{action}", data)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    assert await helper_app.incident(incident_id) == before
    async with helper_app.db.read_session() as s:
        offer = await s.get(Offer, offer_id)
        assert offer is not None and offer.status == "pending"


async def test_a_helper_cannot_act_on_an_incident_held_by_another(helper_app: HelperApp) -> None:
    """Once H1 holds the incident, H2's arrive, resolve and withdraw are 403 and change
    nothing; H2's screen never shows the elder's card."""
    incident_id, offer_id, h1, h2 = await offered(helper_app)
    assert (await h1.post(f"/helper/offers/{offer_id}/accept")).status_code == 303
    before = await helper_app.incident(incident_id)
    for action, data in (
        ("arrive", {**NEAR, "reason": "gps"}),
        ("resolve", {"outcome": "fine"}),
        ("withdraw", {"reason": "late"}),
    ):
        response = await h2.post(f"/helper/incidents/{incident_id}/{action}", data)
        assert response.status_code == 403, action
    assert await helper_app.incident(incident_id) == before
    assert "陈秀英" in (await h1.client.get("/helper/")).text
    assert "陈秀英" not in (await h2.client.get("/helper/")).text


async def test_a_post_without_the_csrf_token_is_refused(helper_app: HelperApp) -> None:
    """A forged cross-site accept (the cookie but no token) is 403 and the offer stays open."""
    _incident_id, offer_id, h1, _h2 = await offered(helper_app)
    response = await h1.client.post(f"/helper/offers/{offer_id}/accept", data={"csrf": "x"})
    assert response.status_code == 403
    assert await helper_app.pending_offer(helper_app.district.h1) is not None


async def test_the_offer_shows_before_its_accept_and_the_elder_only_after(
    helper_app: HelperApp,
) -> None:
    """The offer screen has the countdown and distance but not the elder's name; accepting
    shows the card, navigation links in GCJ-02/BD-09 and the call buttons."""
    incident_id, offer_id, h1, _h2 = await offered(helper_app)
    page = (await h1.client.get("/helper/")).text
    assert 'id="offer"' in page and "data-until=" in page and "陈秀英" not in page
    assert page.count('id="accept"') == 1
    response = await h1.post(f"/helper/offers/{offer_id}/accept")
    assert response.headers["location"] == "/helper/?m=accepted"
    page = (await h1.client.get("/helper/")).text
    assert "陈秀英" in page and "门口密码箱 2580" in page and "高血压" in page
    assert "tel:+8613800000001" in page and "tel:+8613900000001" in page
    assert "uri.amap.com/marker?position=116.70" in page and "coord_type=bd09ll" in page
    assert "geo:23.370000,116.700000" in page
    assert (await helper_app.incident(incident_id))["state"] == "assigned"


async def test_a_helper_accepts_checks_in_near_and_closes(helper_app: HelperApp) -> None:
    """Accept, arrive 15 m from the elder (no reason asked), close with an outcome: each step
    on the timeline as helper:<id>, arrival stamped with the server's time."""
    incident_id, offer_id, h1, _h2 = await offered(helper_app)
    await h1.post(f"/helper/offers/{offer_id}/accept")
    helper_app.clock.advance(timedelta(minutes=4))
    arrived = await h1.post(f"/helper/incidents/{incident_id}/arrive", NEAR)
    assert arrived.status_code == 303
    detail = await helper_app.incident(incident_id)
    assert detail["state"] == "on_scene"
    assert detail["arrived_at"].startswith("2026-11-23T00:04:00")
    closed = await h1.post(
        f"/helper/incidents/{incident_id}/resolve", {"outcome": "fine", "detail": "血压正常"}
    )
    assert closed.status_code == 303
    detail = await helper_app.incident(incident_id)
    assert (detail["state"], detail["outcome"]) == ("resolved", "已处理，老人平安：血压正常")
    actor = f"helper:{helper_app.district.h1}"
    steps = [(a, act) for a, act, _ in await timeline(helper_app, incident_id) if a == actor]
    assert [act for _, act in steps] == ["accepted", "arrived", "note", "resolved"]
    history = (await h1.client.get("/helper/history")).text
    assert "血压正常" in history


async def test_a_far_check_in_needs_a_reason(helper_app: HelperApp) -> None:
    """500 m from the elder, "到达" asks for a reason and records nothing; with the reason the
    arrival counts and the timeline says how far and why."""
    incident_id, offer_id, h1, _h2 = await offered(helper_app)
    await h1.post(f"/helper/offers/{offer_id}/accept")
    asked = await h1.post(f"/helper/incidents/{incident_id}/arrive", FAR)
    assert asked.status_code == 409
    assert 'id="far"' in asked.text and "超过 200 米" in asked.text
    assert (await helper_app.incident(incident_id))["state"] == "assigned"
    no_position = await h1.post(f"/helper/incidents/{incident_id}/arrive")
    assert no_position.status_code == 409 and "未能取得您的位置" in no_position.text

    done = await h1.post(
        f"/helper/incidents/{incident_id}/arrive", {**FAR, "reason": "entrance", "detail": "门禁"}
    )
    assert done.status_code == 303
    assert (await helper_app.incident(incident_id))["state"] == "on_scene"
    notes = [
        text for _, action, text in await timeline(helper_app, incident_id) if action == "note"
    ]
    assert notes == ["到达签到：距老人 498 米；原因：在楼下或门外（门禁）"]


async def test_location_posts_move_the_helper(helper_app: HelperApp) -> None:
    """A position from the browser moves the helper (and stamps the server's time); off duty
    it is refused and not stored."""
    h1 = await helper_app.signed_in(helper_app.district.h1)
    helper_app.clock.advance(timedelta(minutes=2))
    response = await h1.post("/helper/location", {"lat": "23.3650", "lon": "116.7050"})
    assert response.status_code == 204
    async with helper_app.db.read_session() as s:
        helper = await s.get(Helper, helper_app.district.h1)
        assert helper is not None
        assert (helper.lat, helper.lon) == (23.365, 116.705)
        assert helper.located_at == helper_app.clock()
    assert (await h1.post("/helper/location", {"lat": "91", "lon": "0"})).status_code == 422
    assert (await h1.post("/helper/duty", {"on": "0"})).status_code == 303
    refused = await h1.post("/helper/location", {"lat": "23.30", "lon": "116.70"})
    assert refused.status_code == 409
    async with helper_app.db.read_session() as s:
        helper = await s.get(Helper, helper_app.district.h1)
        assert helper is not None and (helper.lat, helper.on_duty) == (23.365, False)


async def test_going_on_duty_with_a_position_makes_the_helper_a_candidate(
    helper_app: HelperApp,
) -> None:
    """H3, off duty next to E1, goes on duty from the app and gets the next request's offer."""
    h3 = await helper_app.signed_in(helper_app.district.h3)
    assert 'id="go-on"' in (await h3.client.get("/helper/")).text
    response = await h3.post("/helper/duty", {"on": "1", "lat": "23.3701", "lon": "116.7001"})
    assert response.status_code == 303
    await helper_app.open_request(helper_app.district.e1)
    assert await helper_app.pending_offer(helper_app.district.h3) is not None
    assert 'id="offer"' in (await h3.client.get("/helper/")).text


async def test_declining_with_a_reason_moves_the_offer_on(helper_app: HelperApp) -> None:
    """H1 declines ("too far"): the reason is on the timeline and H2 gets the offer."""
    incident_id, offer_id, h1, _h2 = await offered(helper_app)
    assert (
        await h1.post(f"/helper/offers/{offer_id}/decline", {"reason": "far"})
    ).status_code == 303
    assert await helper_app.pending_offer(helper_app.district.h2) is not None
    entries = await timeline(helper_app, incident_id)
    assert (f"helper:{helper_app.district.h1}", "note", "拒绝原因：距离太远") in entries


async def test_handing_back_an_accepted_incident_redispatches(helper_app: HelperApp) -> None:
    """H1 drops the incident with a reason: H1 is free again and H2 is offered it at once."""
    incident_id, offer_id, h1, _h2 = await offered(helper_app)
    await h1.post(f"/helper/offers/{offer_id}/accept")
    response = await h1.post(f"/helper/incidents/{incident_id}/withdraw", {"reason": "own"})
    assert response.status_code == 303
    assert await helper_app.pending_offer(helper_app.district.h2) is not None
    detail = await helper_app.incident(incident_id)
    assert detail["assigned_helper"] is None
    async with helper_app.db.read_session() as s:
        helper = await s.get(Helper, helper_app.district.h1)
        assert helper is not None and helper.active_incident_id is None
    assert "已交回" in (await h1.client.get("/helper/history")).text


async def test_an_expired_offer_cannot_be_accepted(helper_app: HelperApp) -> None:
    """Accepting after the offer moved on says so politely (409) and changes nothing."""
    incident_id, offer_id, h1, _h2 = await offered(helper_app)
    await h1.post(f"/helper/offers/{offer_id}/decline", {"reason": "busy"})
    response = await h1.post(f"/helper/offers/{offer_id}/accept")
    assert response.status_code == 409 and 'id="problem"' in response.text
    assert (await helper_app.incident(incident_id))["assigned_helper"] is None
