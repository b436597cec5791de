"""The bounds every input of the web layer is held to, so bad input is a 422 and never a 500.

- Ids are positive 32-bit integers: the ``INTEGER`` primary keys hold no more (PostgreSQL refuses
  a query past 2^31-1, SQLite past 2^63-1).
- Text holds no control character: PostgreSQL refuses NUL in text, and the others break log
  lines, CSV exports and SMS texts. Free text (notes) keeps tab and line breaks; every other
  string is one line. Lone surrogates are refused too: no UTF-8 text can hold one.
- Strings fit their columns: each field's ``max_length`` is its column's, from store/models.py.

The API's schemas and the console's forms use the same rules; CSV imports apply them per cell
(``dispatcher/registry.py``, which sits below the web layer and keeps its own copy of the rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

INT32_MAX = 2**31 - 1
"""The largest id an ``INTEGER`` column (32-bit on PostgreSQL) holds."""

# C0 controls, DEL, C1 controls (Unicode category Cc) and lone surrogates.
_LINE_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# The same rules as JSON Schema patterns, so clients and generators know them (surrogates left
# out: a JSON Schema regex cannot name them, and no valid UTF-8 document carries one).
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first refused character in ``text`` as ``U+XXXX``, or None when there is none."""
    found = (_TEXT_REFUSED if multiline else _LINE_REFUSED).search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def _refuse(multiline: bool, what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        code = control_character(value, multiline=multiline)
        if code is not None:
            raise PydanticCustomError(
                "control_character",
                "{what} must not contain control characters (found {code})",
                {"what": what, "code": code},
            )
        return value

    return check


Line = Annotated[
    str,
    AfterValidator(_refuse(False, "a one-line text")),
    Field(json_schema_extra={"pattern": LINE_PATTERN}),
]
"""One line of text: no control characters at all."""

FreeText = Annotated[
    str,
    AfterValidator(_refuse(True, "text")),
    Field(json_schema_extra={"pattern": TEXT_PATTERN}),
]
"""Text that may span lines (tab, newline, carriage return); no other control characters."""

Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""A row id in a body: a positive 32-bit integer."""

IncidentId = Annotated[int, Path(ge=1, le=INT32_MAX, description="An incident's id")]
HelperId = Annotated[int, Path(ge=1, le=INT32_MAX, description="A helper's id")]
ElderId = Annotated[int, Path(ge=1, le=INT32_MAX, description="An elder's id")]

__all__ = [
    "INT32_MAX",
    "LINE_PATTERN",
    "TEXT_PATTERN",
    "ElderId",
    "FreeText",
    "HelperId",
    "Id",
    "IncidentId",
    "Line",
    "control_character",
]
