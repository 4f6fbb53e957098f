"""Reputation scan results as they come in (SPEC 9): CSV text or a JSON list of rows.

Columns: number, engine or carrier (either or both), label, checked_at. Headers are read
whatever their case and spacing (``Checked At``, `` LABEL ``) and a few common names are
understood (``phone``, ``scanned_at``). Numbers in E.164 or national form (the
organization's default country); a time without a zone is in the organization's time
zone, a date alone is its midnight. Every problem is collected, each naming its row and
column (``row 7, column checked_at``; row 1 is the header, as a spreadsheet numbers it)
or its path in JSON (``[6].checked_at``): a scan with any error is refused whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callsign.domain import phone
from callsign.domain.errors import CallsignError, InvalidScan
from callsign.domain.reputation import Label, engine_key, engine_of, verdict_of

MAX_ROWS = 10_000  # rows of one scan
MAX_BYTES = 1024 * 1024  # a CSV file (the REST body's bound)
MAX_FIELD = 64  # characters of an engine, a carrier or a label
SKEW = timedelta(minutes=5)  # a scanner's clock ahead of ours by this much is fine

COLUMNS = ("number", "engine", "carrier", "label", "checked_at")
_HEADER_NAMES = {
    "number": "number", "phone": "number", "phone_number": "number", "e164": "number",
    "tn": "number", "caller_id": "number", "engine": "engine", "analytics_engine": "engine",
    "carrier": "carrier", "network": "carrier", "label": "label", "reputation": "label",
    "status": "label", "checked_at": "checked_at", "checked": "checked_at",
    "scanned_at": "checked_at", "scan_date": "checked_at", "date": "checked_at",
    "timestamp": "checked_at",
}


@dataclass(frozen=True)
class ScanRow:
    """One row of a scan, checked: where it came from, the number, and its label."""

    where: str  # "row 7" or "[6]"
    number: str  # E.164
    label: Label


@dataclass(frozen=True)
class ScanContext:
    """What reading a scan needs of the organization, and the time it is read."""

    default_country: str
    timezone: str
    now: datetime
    source: str


Problems = list[tuple[str, str]]


def header_name(text: str) -> str | None:
    """The column a header names: ``' Checked At '`` → ``checked_at``."""
    key = "_".join(text.strip().lstrip("\ufeff").lower().replace("-", " ").split())
    return _HEADER_NAMES.get(key)


def parse_csv(text: str, context: ScanContext) -> list[ScanRow]:
    """The rows of a CSV scan; InvalidScan listing every problem."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidScan([("row 1", f"is not CSV: {exc}")]) from exc
    if not header or not any(cell.strip() for cell in header):
        raise InvalidScan([("row 1", "the header is missing: number, engine or carrier, "
                                     "label, checked_at")])
    columns, problems = _columns(header)
    if problems:
        raise InvalidScan(problems)
    cells: list[tuple[str, dict[str, str]]] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(cells) >= MAX_ROWS:
                raise InvalidScan([(f"row {reader.line_num}",
                                    f"a scan has at most {MAX_ROWS} rows")])
            values = {name: record[i] if i < len(record) else ""
                      for name, i in columns.items()}
            cells.append((f"row {reader.line_num}", values))
    except csv.Error as exc:
        raise InvalidScan([(f"row {reader.line_num}", f"is not CSV: {exc}")]) from exc
    return _checked(cells, context, lambda where, column: f"{where}, column {column}")


def _columns(header: Sequence[str]) -> tuple[dict[str, int], Problems]:
    columns: dict[str, int] = {}
    problems: Problems = []
    for i, text in enumerate(header):
        name = header_name(text)
        if name is None:
            if text.strip():
                problems.append((f"row 1, column {i + 1}",
                                 f"{text.strip()[:40]!r} is not a known column "
                                 f"(number, engine, carrier, label, checked_at)"))
            continue
        if name in columns:
            problems.append((f"row 1, column {i + 1}", f"names {name} a second time"))
        columns[name] = i
    missing = [c for c in ("number", "label", "checked_at") if c not in columns]
    if "engine" not in columns and "carrier" not in columns:
        missing.append("engine or carrier")
    if missing:
        problems.append(("row 1", f"the header lacks {', '.join(missing)}"))
    return columns, problems


def parse_rows(rows: Any, context: ScanContext) -> list[ScanRow]:
    """The rows of a JSON scan (a list of objects with the CSV's columns as keys)."""
    if not isinstance(rows, list):
        raise InvalidScan([("", "a scan must be a list of rows (objects)")])
    if len(rows) > MAX_ROWS:
        raise InvalidScan([("", f"a scan has at most {MAX_ROWS} rows")])
    cells: list[tuple[str, dict[str, str]]] = []
    problems: Problems = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append((f"[{i}]", "must be an object"))
            continue
        values = {}
        for key, value in row.items():
            if key not in COLUMNS:
                problems.append((f"[{i}].{str(key)[:40]}", "is not a known field "
                                 "(number, engine, carrier, label, checked_at)"))
            elif value is not None and not isinstance(value, str):
                problems.append((f"[{i}].{key}", "must be text"))
            else:
                values[key] = value or ""
        cells.append((f"[{i}]", values))
    if problems:
        raise InvalidScan(problems)
    return _checked(cells, context, lambda where, column: f"{where}.{column}")


def _checked(cells: list[tuple[str, dict[str, str]]], context: ScanContext,
             path: Callable[[str, str], str]) -> list[ScanRow]:
    rows: list[ScanRow] = []
    problems: Problems = []
    first: dict[tuple[str, str, datetime], str] = {}
    for where, values in cells:
        try:
            row = _row(where, values, context, path)
        except _RowProblems as exc:
            problems += exc.problems
            continue
        key = (row.number, engine_key(row.label.engine), row.label.checked_at)
        if key in first:
            problems.append((where, f"repeats {first[key]}: the same number, engine and "
                                    "checked_at"))
            continue
        first[key] = where
        rows.append(row)
    if problems:
        raise InvalidScan(problems)
    if not rows:
        raise InvalidScan([("", "the scan has no rows")])
    return rows


class _RowProblems(Exception):
    def __init__(self, problems: Problems) -> None:
        super().__init__(problems)
        self.problems = problems


def _row(where: str, values: Mapping[str, str], context: ScanContext,
         path: Callable[[str, str], str]) -> ScanRow:
    problems: Problems = []

    def check(column: str, read: Callable[[str], Any]) -> Any:
        try:
            return read(values.get(column, "").strip())
        except (CallsignError, ValueError) as exc:
            message = exc.message if isinstance(exc, CallsignError) else str(exc)
            problems.append((path(where, column), message))
            return None

    number = check("number", lambda v: phone.parse_number(v, context.default_country,
                                                         field="number"))
    engine = check("engine", _short)
    carrier = check("carrier", _short)
    raw = check("label", _label)
    checked_at = check("checked_at", lambda v: checked_time(v, context))
    name, carrier = engine_of(engine, carrier)
    if not name and engine is not None:
        problems.append((path(where, "engine"), "name the engine or the carrier"))
    if problems:
        raise _RowProblems(problems)
    label = Label(name, carrier, verdict_of(raw), raw, checked_at, context.source)
    return ScanRow(where, number, label)


def _short(value: str) -> str:
    if len(value) > MAX_FIELD:
        raise ValueError(f"must be at most {MAX_FIELD} characters")
    return value


def _label(value: str) -> str:
    if not value:
        raise ValueError("is required (e.g. clean, Spam Likely, Scam Likely, Nuisance)")
    return _short(value)


def checked_time(text: str, context: ScanContext) -> datetime:
    """When a label was checked: ISO 8601, a zone-less time in the organization's zone."""
    if not text:
        raise ValueError("is required (e.g. 2026-11-28 or 2026-11-28T14:05:00Z)")
    try:
        at = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"must be a date or time in ISO 8601 (2026-11-28 or "
                         f"2026-11-28T14:05:00Z), not {text[:40]!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(context.timezone))
    if at > context.now + SKEW:
        raise ValueError(f"{text[:40]!r} is in the future")
    if at.year < 2000:
        raise ValueError(f"{text[:40]!r} is too long ago")
    return at
