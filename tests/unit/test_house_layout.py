"""The layout's rules: only store/ speaks SQL, entrypoints reach it through bootstrap.py,
and driver errors are translated in one place."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DataError, IntegrityError

from callsign.domain.errors import InvalidInput, StoreUnavailable
from callsign.store.sql import driver_error

SOURCE = Path(__file__).resolve().parents[2] / "src" / "callsign"
URL = "sqlite:////tmp/callsign-layout-test.db"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(*under: str) -> list[Path]:
    paths: list[Path] = []
    for name in under:
        target = SOURCE / name
        paths.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return paths


def test_only_the_store_imports_sqlalchemy_or_a_driver() -> None:
    offenders = {
        str(path.relative_to(SOURCE)): sorted(
            m for m in _imports(path) if m.split(".")[0] in ("sqlalchemy", "psycopg"))
        for path in _modules(".") if "store" not in path.relative_to(SOURCE).parts
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_entrypoints_reach_the_store_only_through_bootstrap() -> None:
    offenders = {
        str(path.relative_to(SOURCE)): sorted(
            m for m in _imports(path) if m == "callsign.store" or m.startswith("callsign.store."))
        for path in _modules("api", "cli")
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_a_value_the_store_refuses_is_invalid_input() -> None:
    error = DataError("INSERT ...", {}, ValueError("A string literal cannot contain NUL"))
    translated = driver_error(error, URL)
    assert isinstance(translated, InvalidInput)
    assert translated.message == "a value cannot be stored: A string literal cannot contain NUL"
    assert translated.field is None


def test_a_store_fault_is_store_unavailable() -> None:
    translated = driver_error(sqlite3.OperationalError("database or disk is full"), URL)
    assert isinstance(translated, StoreUnavailable)
    assert "disk is full" in translated.message


@pytest.mark.parametrize("error", [
    ValueError("a bug"),
    IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
])
def test_anything_else_is_left_as_the_bug_it_is(error: Exception) -> None:
    assert driver_error(error, URL) is None


def _environment_reads(path: Path) -> list[int]:
    """The lines where ``path`` reads the process environment (setting it for a child
    process is no read)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    written = {id(node.value) for node in ast.walk(tree)
               if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)}
    return sorted(
        node.lineno for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
        and isinstance(node.value, ast.Name) and node.value.id == "os"
        and id(node) not in written)


def test_only_config_reads_the_environment() -> None:
    offenders = {str(path.relative_to(SOURCE)): _environment_reads(path)
                 for path in _modules(".") if path != SOURCE / "config.py"}
    assert {path: lines for path, lines in offenders.items() if lines} == {}
