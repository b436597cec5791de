"""The package surface: exported names, the error tree, and purity."""

from __future__ import annotations

import ast
from pathlib import Path

import sla
from sla import InvalidConfiguration, InvalidTransition, NaiveDatetimeError, SlaError

PACKAGE_DIR = Path(sla.__file__).parent
STDLIB_ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "math",
    "types",
    "typing",
}


def test_every_exported_name_resolves() -> None:
    """Everything in sla.__all__ is importable from the package."""
    missing = [name for name in sla.__all__ if not hasattr(sla, name)]
    assert missing == []


def test_error_tree() -> None:
    """All package errors derive from SlaError; bad values are also ValueErrors."""
    assert issubclass(InvalidTransition, SlaError)
    assert issubclass(NaiveDatetimeError, SlaError)
    assert issubclass(NaiveDatetimeError, ValueError)
    assert issubclass(InvalidConfiguration, SlaError)
    assert issubclass(InvalidConfiguration, ValueError)


def test_modules_import_only_the_standard_library_and_sla() -> None:
    """The package stays pure: only small stdlib modules and its own modules are imported."""
    imported: set[str] = set()
    for path in PACKAGE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - STDLIB_ALLOWED == {"sla"}


def test_no_module_reads_the_clock() -> None:
    """No source file calls now(), utcnow(), today() or time.time()."""
    offenders = [
        path.name
        for path in PACKAGE_DIR.glob("*.py")
        for needle in (".now(", ".utcnow(", ".today(", "time.time(", "monotonic(")
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
