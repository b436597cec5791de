"""Schemathesis against the real app on SQLite and PostgreSQL: no request gets a 5xx answer.

The app runs in-process over a seeded database (two elders, three helpers, two devices and two
open incidents, so generated ids hit real rows as well as missing ones), with an API token
configured and presented, so every call reaches the routes. Every operation of /openapi.json gets
a bounded, derandomized run of valid (positive) and invalid (negative) requests, plus CSV imports
built row by row, since a random string is never a CSV with the right header. Each answer is
checked: no server error, a documented status and content type, a body that fits its schema.

The database's connections belong to the test's event loop, so the app runs there; schemathesis
and hypothesis are synchronous and run in a worker thread that hands each request to the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode, SerializationContext
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dispatcher.clock import FakeClock
from dispatcher.store.database import Database
from dispatcher.web.app import create_app
from dispatcher.web.context import AppContext
from dispatcher.workflow import Workflow
from tests.dispatcher.district import T0, District, load

TOKEN = "fuzz-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE_URL = "http://huyuan"
# Per operation and generation mode: with 25 operations, two modes and the CSV imports, about
# 500 requests per database, ~15 s each on two cores (generating them costs more than answering).
MAX_EXAMPLES = 10
CSV_EXAMPLES = 40  # hand-built, so cheap to generate
Operation = APIOperation[Any, Any, Any, Any]
Cases = st.SearchStrategy[Case[Any]]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("text/csv")
def _csv(_ctx: SerializationContext, value: Any) -> bytes:
    """CSV bodies go on the wire as UTF-8 text (schemathesis knows no text/csv of its own)."""
    text = value if isinstance(value, str) else str(value)
    return text.encode("utf-8", "surrogatepass")


@dataclass
class Target:
    """The app on the test's loop, reachable from the worker thread one request at a time."""

    client: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def send(self, case: Case[Any]) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=AUTH)
        request: dict[str, Any] = {
            "method": kwargs["method"],
            "url": kwargs["url"],
            "headers": kwargs.get("headers"),
            "params": kwargs.get("params"),
        }
        assert not kwargs.get("cookies"), "the API takes no cookies"
        if "json" in kwargs:
            request["json"] = kwargs["json"]
        elif isinstance(kwargs.get("data"), str | bytes):
            request["content"] = kwargs["data"]
        elif "data" in kwargs:
            request["data"] = kwargs["data"]
        future = asyncio.run_coroutine_threadsafe(self.client.request(**request), self.loop)
        response = future.result(timeout=60)
        self.sent += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


@pytest.fixture
async def target(database: Database) -> AsyncIterator[Target]:
    district: District = await load(database)
    ctx = AppContext(
        db=database,
        workflow=Workflow(database),
        clock=FakeClock(T0),
        ready=lambda: True,
        api_tokens=frozenset({TOKEN}),
    )
    # raise_app_exceptions=False: a crash is seen as the 500 it would be, and reported as one.
    transport = httpx.ASGITransport(app=create_app(ctx), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as client:
        for elder, category in ((district.e1, "emergency"), (district.e2, "general")):
            body = {"elder_id": elder, "summary": "seed", "category": category}
            assert (await client.post("/api/v1/incidents", json=body)).status_code == 201
        yield Target(client, asyncio.get_running_loop())


# A CSV import is fuzzed row by row: good values for each column, but for one cell that holds what
# an operator's spreadsheet might (a word for a number, overlong or control-character text,
# numbers past every column), so every row reaches the check for its hostile cell.
_HOSTILE = st.one_of(
    st.sampled_from(["eighty", "-1", "1e309", "nan", "2147483648", "9" * 30, "\x00", "x" * 101]),
    st.text(max_size=12),
    st.text(min_size=95, max_size=320),
)
_GOOD: dict[str, dict[str, list[str]]] = {
    "elders": {
        "ref": ["E1", "E2", "E9"],
        "name": ["王芳", "陈秀英"],
        "age": ["82", ""],
        "gender": ["女", ""],
        "phone": ["+8613800000009", ""],
        "address": ["汕头市龙湖区金涛社区3栋201房"],
        "community": ["金霞街道·金涛社区", ""],
        "lat": ["23.37"],
        "lon": ["116.7"],
        "medical_notes": ["高血压\n糖尿病", ""],
        "key_safe_note": ["门口密码箱 2580", ""],
        "contacts": ["陈国强|儿子|+8613900000001;林惠芳|女儿|+8613900000002", ""],
    },
    "devices": {
        "device_id": ["860000000000001", "860000000000099"],
        "elder_ref": ["E1", "E2", ""],
        "model": ["handset", "wristband"],
        "report_interval_s": ["600", ""],
    },
    "helpers": {
        "ref": ["H1", "H9"],
        "name": ["黄少卿"],
        "phone": ["+8613700000009"],
        "role": ["volunteer", ""],
        "skills": ["陪护", ""],
        "travel_mode": ["walk", "ebike", "car"],
        "on_duty": ["true", "false"],
        "lat": ["23.3727", ""],
        "lon": ["116.7", ""],
    },
}


@st.composite
def _csv_text(draw: st.DrawFn, kind: str) -> str:
    """A header and up to three rows: good cells, but for at most one hostile cell per row."""
    columns = _GOOD[kind]
    lines = [",".join(columns)]
    for _ in range(draw(st.integers(0, 3))):
        row = {name: draw(st.sampled_from(good)) for name, good in columns.items()}
        bad = draw(st.none() | st.sampled_from(list(columns)))
        if bad is not None:
            row[bad] = draw(_HOSTILE)
        lines.append(",".join(_quoted(cell) for cell in row.values()))
    return "\n".join(lines) + "\n"


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def _csv_cases(operation: Operation) -> Cases:
    def case(kind_and_text: tuple[str, str]) -> Case[Any]:
        kind, text = kind_and_text
        return operation.Case(
            path_parameters={"kind": kind}, body=text, media_type="text/csv", headers=AUTH
        )

    kinds = st.sampled_from(sorted(_GOOD))
    return kinds.flatmap(lambda kind: _csv_text(kind).map(lambda text: (kind, text))).map(case)


def _strategies(operation: Operation) -> list[tuple[str, Cases, int]]:
    """(label, cases, how many) to run for one operation."""
    out = [
        (mode.value, operation.as_strategy(generation_mode=mode, headers=AUTH), MAX_EXAMPLES)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    if operation.path == "/api/v1/import/{kind}":
        out.append(("csv rows", _csv_cases(operation), CSV_EXAMPLES))
    return out


def _run(strategy: Cases, send: Callable[[Case[Any]], httpx.Response], examples: int) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Case[Any]) -> None:
        case.validate_response(send(case), checks=CHECKS)

    run()


def _fuzz(spec: dict[str, Any], send: Callable[[Case[Any]], httpx.Response]) -> list[str]:
    """Every operation, every generator; the failures of all of them (an empty list: none)."""
    schema = schemathesis.openapi.from_dict(spec)
    failures = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation schemathesis cannot read: {result.err()}")
            continue
        operation = result.ok()
        for mode, strategy, examples in _strategies(operation):
            try:
                _run(strategy, send, examples)
            except Unsatisfiable:
                pass  # nothing to get wrong: no parameters, no body (GET /healthz, negative)
            # FailureGroup (the checks' verdict) is a BaseExceptionGroup, not an Exception.
            except (Exception, FailureGroup) as exc:  # collect them all, then report them all
                failures.append(f"{operation.label} ({mode}):\n{exc}")
    return failures


async def test_no_generated_request_gets_a_server_error(target: Target) -> None:
    """Valid and invalid requests to every operation get 2xx or a documented 4xx, never a 5xx."""
    spec = (await target.client.get("/openapi.json")).json()
    started = time.monotonic()
    failures = await asyncio.to_thread(_fuzz, spec, target.send)
    elapsed = time.monotonic() - started
    summary = (
        f"{target.sent} requests in {elapsed:.1f} s, statuses {sorted(target.statuses.items())}"
    )
    assert not failures, summary + "\n\n" + "\n\n".join(failures)
    assert target.sent > 300, summary  # the run really exercised the API
    assert not any(status >= 500 for status in target.statuses), summary
