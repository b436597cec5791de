"""Elders: search, view and edit a profile, import a district's CSV.

Edits are checked field by field; a wrong form comes back with every typed value and each
problem next to its field, in the operator's language. Import uses the same registry code as
the REST API and ``huyuan import`` (one path to the data) and is for supervisors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from dispatcher.errors import InvalidInput
from dispatcher.registry import import_elders
from dispatcher.store.elders import Contact, Profile, find_elders, require_elder, save_profile
from dispatcher.store.models import Elder, EmergencyContact, column_width
from dispatcher.store.users import Role
from dispatcher.web.console.auth import (
    CurrentOperator,
    Operator,
    PostedForm,
    app_context,
    require,
)
from dispatcher.web.console.i18n import Translate, language, register, translator
from dispatcher.web.console.views import render
from dispatcher.web.inputs import ElderId, Line

router = APIRouter()
Supervisor = Annotated[Operator, require(Role.SUPERVISOR)]

register(
    {
        "err.number": ("请输入数字。", "Enter a number."),
        "err.range": ("应在 {lo} 到 {hi} 之间。", "Must be between {lo} and {hi}."),
        "err.contacts": (
            "第 {n} 行格式应为：姓名|关系|电话",
            "Line {n} must be name|relation|phone",
        ),
        "err.import": ("导入失败：{detail}", "Import failed: {detail}"),
        "err.empty_csv": ("请选择 CSV 文件或粘贴内容。", "Choose a CSV file or paste its text."),
        "err.max_chars": ("最多 {n} 个字符。", "At most {n} characters."),
        "err.contact_long": (
            "第 {n} 行过长：姓名最多 {name} 字，关系 {relation} 字，电话 {phone} 字",
            "Line {n} is too long: name {name}, relation {relation}, phone {phone} characters",
        ),
    }
)
FIELDS = (
    "name",
    "age",
    "phone",
    "address",
    "community",
    "home_lat",
    "home_lon",
    "medical_notes",
    "key_safe_note",
    "contacts",
)
# Each field fits its column (a longer one would fail in PostgreSQL, not here).
WIDTHS = {n: column_width(Elder, n) or 0 for n in ("name", "phone", "address", "community")}
CONTACT_WIDTHS = {n: column_width(EmergencyContact, n) or 0 for n in ("name", "relation", "phone")}


@dataclass
class ElderForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)

    def profile(self) -> Profile:
        """The checked values, typed (only for a form without errors)."""
        v = self.values
        return Profile(
            name=v["name"],
            age=int(float(v["age"])) if v["age"] else None,
            phone=v["phone"] or None,
            address=v["address"],
            community=v["community"] or None,
            home_lat=float(v["home_lat"]),
            home_lon=float(v["home_lon"]),
            medical_notes=v["medical_notes"] or None,
            key_safe_note=v["key_safe_note"] or None,
            contacts=tuple(self.contacts),
        )


def from_elder(elder: Elder) -> dict[str, str]:
    contacts = "\n".join(f"{c.name}|{c.relation or ''}|{c.phone}" for c in elder.contacts)
    return {
        "name": elder.name,
        "age": "" if elder.age is None else str(elder.age),
        "phone": elder.phone or "",
        "address": elder.address,
        "community": elder.community or "",
        "home_lat": str(elder.home_lat),
        "home_lon": str(elder.home_lon),
        "medical_notes": elder.medical_notes or "",
        "key_safe_note": elder.key_safe_note or "",
        "contacts": contacts,
    }


def _number(f: ElderForm, t: Translate, name: str, lo: float, hi: float) -> float | None:
    raw = f.values[name]
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        f.errors[name] = t("err.number")
        return None
    if not lo <= value <= hi:
        f.errors[name] = t("err.range", lo=lo, hi=hi)
    return value


def check(form: FormData, t: Translate) -> ElderForm:
    f = ElderForm({k: str(form.get(k, "")).strip() for k in FIELDS})
    for required in ("name", "address", "home_lat", "home_lon"):
        if not f.values[required]:
            f.errors[required] = t("err.required")
    for name, width in WIDTHS.items():
        if len(f.values[name]) > width:
            f.errors[name] = t("err.max_chars", n=width)
    _number(f, t, "age", 0, 130)
    _number(f, t, "home_lat", -90, 90)
    _number(f, t, "home_lon", -180, 180)
    for n, line in enumerate(filter(None, f.values["contacts"].splitlines()), start=1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not parts[0] or not parts[2]:
            f.errors["contacts"] = t("err.contacts", n=n)
            break
        if any(len(p) > w for p, w in zip(parts, CONTACT_WIDTHS.values(), strict=True)):
            f.errors["contacts"] = t("err.contact_long", n=n, **CONTACT_WIDTHS)
            break
        f.contacts.append((parts[0], parts[1] or None, parts[2]))
    return f


@router.get("/elders")
async def elders_page(
    request: Request, operator: CurrentOperator, q: Annotated[Line, Query(max_length=300)] = ""
) -> Response:
    async with app_context(request).db.session() as s:
        elders = await find_elders(s, q.strip(), 300)
    return render(request, "elders.html", operator, elders=elders, q=q, csv_text="", error=None)


async def _elder(request: Request, elder_id: int) -> Elder:
    async with app_context(request).db.session() as s:
        return await require_elder(s, elder_id)


@router.get("/elders/{elder_id}")
async def elder_page(elder_id: ElderId, request: Request, operator: CurrentOperator) -> Response:
    elder = await _elder(request, elder_id)
    return render(
        request,
        "elder.html",
        operator,
        elder=elder,
        values=from_elder(elder),
        errors={},
        saved=request.query_params.get("saved") == "1",
    )


@router.post("/elders/{elder_id}")
async def save_elder(
    elder_id: ElderId, request: Request, operator: CurrentOperator, form: PostedForm
) -> Response:
    f = check(form, translator(language(request)))
    if f.errors:
        return render(
            request,
            "elder.html",
            operator,
            422,
            elder=await _elder(request, elder_id),
            values=f.values,
            errors=f.errors,
            saved=False,
        )
    async with app_context(request).db.session() as s:
        await save_profile(s, elder_id, f.profile())
    return RedirectResponse(f"/console/elders/{elder_id}?saved=1", status_code=303)


@router.post("/elders-import")
async def import_page(request: Request, form: PostedForm, operator: Supervisor) -> Response:
    upload = form.get("file")
    text = str(form.get("csv_text", ""))
    if isinstance(upload, UploadFile) and upload.filename:
        text = (await upload.read()).decode("utf-8-sig", "replace")
    t = translator(language(request))
    error: str | None = None
    if not text.strip():
        error = t("err.empty_csv")
    else:
        ctx = app_context(request)
        try:
            async with ctx.db.session() as s:
                report = await import_elders(s, text, ctx.clock())
        except InvalidInput as exc:
            error = t("err.import", detail=exc.message)
    if error is not None:
        return render(
            request, "elders.html", operator, 422, elders=[], q="", csv_text=text, error=error
        )
    return RedirectResponse(
        f"/console/elders?imported={report.created}/{report.updated}", status_code=303
    )


__all__ = ["check", "router"]
