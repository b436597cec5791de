"""Every error the web layer answers is an RFC 9457 problem (``application/problem+json``).

status  type                               raised as
400     about:blank                        a body FastAPI cannot parse (not JSON at all)
401     about:blank                        no valid API token (``require_token``)
404     urn:huyuan:problem:not-found       ``NotFound``; about:blank for an unknown route
405     about:blank                        a method the route does not have
409     urn:huyuan:problem:conflict        ``Conflict``: the incident's or helper's state forbids it
422     urn:huyuan:problem:invalid-input   ``InvalidInput`` (a bad CSV row: ``errors`` names it)
422     urn:huyuan:problem:validation      a request that does not fit the schema: ``errors`` has
                                           one entry per field, with a JSON pointer into the body
                                           or the name of the parameter
500     urn:huyuan:problem:internal        anything else: logged with its traceback, never shown

Bad input must never reach the 500 row: the schemas bound every input to what the store holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatcher.errors import Conflict, DispatchError, InvalidInput, NotFound

log = structlog.get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
PREFIX = "urn:huyuan:problem:"

# The domain errors of dispatcher/errors.py: status, type, title.
DOMAIN: dict[type[DispatchError], tuple[int, str, str]] = {
    NotFound: (404, "not-found", "Not found"),
    Conflict: (409, "conflict", "Not allowed in the current state"),
    InvalidInput: (422, "invalid-input", "Input cannot be accepted"),
}


class FieldError(BaseModel):
    """One thing wrong with a request: where (a JSON pointer, a parameter, or a CSV line)."""

    detail: str
    pointer: str | None = None
    parameter: str | None = None
    line: int | None = None
    field: str | None = None
    code: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists the fields at fault (422 only)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def problem_response(
    status: int,
    *,
    kind: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = Problem(
        type=PREFIX + kind if kind else "about:blank",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
    )
    return ProblemResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry: a problem, as ``application/problem+json``."""
    return {
        "description": description,
        "model": Problem,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _pointer(path: Sequence[str | int]) -> str:
    """A JSON pointer (RFC 6901) in URI-fragment form, as RFC 9457's examples write them."""
    parts = (str(p).replace("~", "~0").replace("/", "~1") for p in path)
    return "#" + "".join("/" + p for p in parts)


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    """pydantic's errors, without the input they quote (it may be huge, or unprintable)."""
    out = []
    for error in exc.errors():
        where, *path = error.get("loc", ()) or ("body",)
        code = error.get("type")
        entry = FieldError(detail=str(error.get("msg", "invalid")), code=code)
        if code == "json_invalid":  # the body is not JSON; its loc holds the offset
            entry.pointer = "#"
            if path:
                entry.detail += f" at character {path[0]}"
        elif where == "body":
            entry.pointer = _pointer(path)
        elif path:
            entry.parameter = str(path[0])
        out.append(entry)
    return out


async def _validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc)
    first = errors[0] if errors else FieldError(detail="invalid request")
    where = first.parameter or (first.pointer or "#").removeprefix("#/").replace("/", ".")
    detail = f"{'body' if where == '#' else where}: {first.detail}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem_response(
        422,
        kind="validation",
        title="The request does not fit the API schema",
        detail=detail,
        errors=errors,
    )


async def _domain(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DispatchError)
    status, kind, title = next(
        (v for cls, v in DOMAIN.items() if isinstance(exc, cls)),
        (400, "bad-request", "Bad request"),
    )
    errors = None
    if isinstance(exc, InvalidInput) and (exc.line is not None or exc.field is not None):
        errors = [FieldError(detail=exc.message, line=exc.line, field=exc.field)]
    return problem_response(status, kind=kind, title=title, detail=exc.message, errors=errors)


async def _http(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code < 200 or exc.status_code in (204, 205, 304):
        return Response(status_code=exc.status_code, headers=headers)  # no body allowed
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(exc.status_code, detail=detail, headers=headers)


class CatchAll:
    """The last line: an exception no handler took becomes one logged line and a bare 500.

    The client learns nothing of the code (no traceback, no message); the log gets everything.
    Once a response has started (a stream that fails midway) only the server can end it, so the
    exception is passed on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.exception(
                "unhandled_error",
                method=scope.get("method"),
                path=scope.get("path"),
                error=type(exc).__name__,
            )
            if started:
                raise
            response = problem_response(
                500,
                kind="internal",
                detail="the server failed on this request; it is logged and will be looked at",
            )
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DispatchError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_middleware(CatchAll)


__all__ = ["MEDIA_TYPE", "FieldError", "Problem", "install", "problem_doc", "problem_response"]
