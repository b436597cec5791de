"""The incident page and what an operator can do on it; each action goes through the workflow
with ``actor=operator:<name>``, so it lands in the timeline under the operator's name.

Closing: the lifecycle forbids RESOLVE before ON_SCENE (a case closed with no arrival would
hide a missed promise), so "close with outcome" is offered only once the helper is on scene.
An incident that never needed a visit is closed as a false alarm, which requires a reason.
A wrong form re-renders the page with the message in the operator's language and every typed
value kept.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from dispatcher.errors import Conflict, NotFound
from dispatcher.web.console.auth import CurrentOperator, Operator, PostedForm, app_context
from dispatcher.web.console.i18n import language, register, translator
from dispatcher.web.console.incident import load_view
from dispatcher.web.console.views import render
from dispatcher.web.inputs import INT32_MAX, IncidentId
from sla import Level, State

router = APIRouter()

register(
    {
        "err.required": ("此项必填。", "This field is required."),
        "err.pick_helper": ("请选择一名助老员。", "Pick a helper."),
        "err.false_alarm_reason": (
            "设备未取消报警：请写明判定为误报的理由（例如已致电老人确认）。",
            "The device did not cancel: say why this is a false alarm (e.g. phoned the elder).",
        ),
        "err.conflict": ("操作未执行：{detail}", "Not done: {detail}"),
        "err.too_long": ("内容过长，请精简后再提交。", "Too long: shorten it and send again."),
    }
)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _page(
    request: Request,
    operator: Operator,
    incident_id: int,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: FormData | None = None,
) -> Response:
    ctx = app_context(request)
    async with ctx.db.session() as s:
        view = await load_view(s, ctx, incident_id, ctx.clock())
    return render(
        request,
        "incident.html",
        operator,
        status_code,
        v=view,
        errors=errors or {},
        form={k: str(v) for k, v in (form or {}).items() if k != "csrf"},
        State=State,
    )


@router.get("/incidents/{incident_id}")
async def incident_page(
    incident_id: IncidentId, request: Request, operator: CurrentOperator
) -> Response:
    return await _page(request, operator, incident_id)


def _validate(action: str, form: FormData, cancel_requested: bool) -> str:
    """The key of the first problem with the form, or "" when it can be sent.

    Any operator may escalate, to 120 as well: in an emergency, waiting for a supervisor's
    role would cost the minutes the promise is about.
    """
    helper_id = _text(form, "helper_id")
    if action in ("assign", "reassign") and not (
        helper_id.isascii() and helper_id.isdigit() and 1 <= int(helper_id) <= INT32_MAX
    ):
        return "err.pick_helper"
    if action in ("note", "close", "withdraw") and not _text(form, _FIELD[action]):
        return "err.required"
    for name, limit in _MAX_LENGTH.items():
        if len(_text(form, name)) > limit:
            return "err.too_long"
    if action == "false-alarm" and not cancel_requested and not _text(form, "note"):
        return "err.false_alarm_reason"
    return ""


_FIELD = {"note": "text", "close": "outcome", "withdraw": "reason"}
# As the API's bodies: the outcome fits its VARCHAR(300) column, notes go on the timeline.
_MAX_LENGTH = {"outcome": 300, "reason": 300, "note": 300, "text": 1000}
ACTIONS = ("assign", "withdraw", "escalate", "false-alarm", "note", "close")


@router.post("/incidents/{incident_id}/{action}")
async def act(
    incident_id: IncidentId,
    action: str,
    request: Request,
    operator: CurrentOperator,
    form: PostedForm,
) -> Response:
    if action not in ACTIONS:
        raise NotFound(f"action {action}")
    ctx = app_context(request)
    t = translator(language(request))
    now, actor = ctx.clock(), operator.actor
    async with ctx.db.session() as s:
        incident = await ctx.workflow.get_incident(s, incident_id)
        problem = _validate(action, form, incident.cancel_requested)
    if problem:  # rendered outside the session: SQLite allows one open transaction at a time
        field = _FIELD.get(action, "helper_id" if action == "assign" else "note")
        return await _page(
            request,
            operator,
            incident_id,
            status_code=422,
            errors={"action": action, field: t(problem)},
            form=form,
        )
    try:
        async with ctx.db.session() as s:
            wf = ctx.workflow
            if action == "assign":
                helper_id = int(_text(form, "helper_id"))
                if incident.state == State.ASSIGNED.value:
                    # Reassign: the lifecycle wants the helper withdrawn first, on the record.
                    reason = _text(form, "reason") or f"reassigned by {operator.name}"
                    await wf.withdraw_helper(s, incident_id, now, actor, reason, redispatch=False)
                await wf.assign(s, incident_id, helper_id, now, actor)
            elif action == "withdraw":
                await wf.withdraw_helper(s, incident_id, now, actor, _text(form, "reason"))
            elif action == "escalate":
                level = (
                    Level.EMERGENCY_SERVICES
                    if _text(form, "level") == "emergency_services"
                    else Level.SUPERVISOR
                )
                note = _text(form, "note") or None
                await wf.escalate_by_hand(s, incident_id, level, now, actor, note)
            elif action == "false-alarm":
                await wf.confirm_false_alarm(
                    s, incident_id, now, actor, _text(form, "note") or None
                )
            elif action == "note":
                await wf.add_note(s, incident_id, now, actor, _text(form, "text"))
            else:
                await wf.resolve(s, incident_id, None, now, actor, _text(form, "outcome"))
    except Conflict as exc:
        return await _page(
            request,
            operator,
            incident_id,
            status_code=409,
            errors={"action": action, "general": t("err.conflict", detail=exc.message)},
            form=form,
        )
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)


__all__ = ["ACTIONS", "router"]
