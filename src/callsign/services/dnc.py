"""The organization's do-not-call list (SPEC 10): every decision refuses a listed number,
whatever the consent. Numbers are kept in E.164, read in the organization's country."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Any

from callsign.domain import phone
from callsign.domain.errors import ConfigError, InvalidInput, NotFound
from callsign.store import dnc as dnc_store
from callsign.store import orgs as org_store
from callsign.store.uow import UnitOfWork

MAX_SOURCE = 200
MAX_NOTE = 500
MAX_IMPORT_ROWS = 100_000
COLUMNS = ("number", "source", "note")
MAX_PROBLEMS = 20  # bad lines named in one refusal of a scrub file
_REGISTRY_LINE = re.compile(r"^[2-9]\d{2}[2-9]\d{6}$")  # area code and number, 10 digits
_SEPARATORS = re.compile(r"[\s,.()-]")


def _text(value: Any, limit: int, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("must be text", field=field)
    if len(value.strip()) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return value.strip()


def add(uow: UnitOfWork, org: str, number: Any, *, source: Any = "", note: Any = "",
        now: datetime) -> dict[str, Any]:
    """List one number (again: its source and note change, its date stays)."""
    if not isinstance(number, str):
        raise InvalidInput("must be a phone number as text", field="number")
    with uow:
        row = org_store.org_row(uow.connection, org)
        e164 = phone.parse_number(number, row.default_country, field="number")
        dnc_store.put(uow.connection, row.id, [
            (e164, _text(source, MAX_SOURCE, "source"), _text(note, MAX_NOTE, "note"))], now)
        entry = dnc_store.entry(uow.connection, row.id, e164)
        uow.commit()
        assert entry is not None
        return entry


def remove(uow: UnitOfWork, org: str, number: str) -> None:
    with uow:
        row = org_store.org_row(uow.connection, org)
        e164 = phone.parse_number(number, row.default_country, field="number")
        if not dnc_store.remove(uow.connection, row.id, e164):
            raise NotFound(f"{e164} is not on the do-not-call list", field="number")
        uow.commit()


def listed(uow: UnitOfWork, org: str, *, limit: int = 100,
           after: str | None = None) -> dict[str, Any]:
    """A page of the list, and its size."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("must be between 1 and 1000", field="limit")
    with uow:
        row = org_store.org_row(uow.connection, org)
        return {"entries": dnc_store.entries(uow.connection, row.id, limit=limit, after=after),
                "size": dnc_store.size(uow.connection, row.id)}


def import_csv(uow: UnitOfWork, org: str, text: str, *, now: datetime,
               source: str = "import") -> int:
    """List every number of a CSV file (a header naming ``number``, optionally ``source``
    and ``note``), all or nothing: any bad row refuses the whole file, naming each row
    (its line in the file) and column at fault."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    if "number" not in header:
        raise ConfigError([("header", "the first line must name the columns, with a "
                            "'number' column (optionally source and note)")])
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ConfigError([(f"header.{unknown[0]}", "is not a column; the columns are "
                            + ", ".join(COLUMNS))])
    with uow:
        row = org_store.org_row(uow.connection, org)
        rows, problems = [], []
        for record in reader:
            line = reader.line_num
            if line > MAX_IMPORT_ROWS + 1:
                raise ConfigError([(f"row {line}", f"a file holds at most {MAX_IMPORT_ROWS} "
                                    "rows; split it")])
            values = {k.strip(): v for k, v in record.items() if isinstance(k, str)}
            try:
                e164 = phone.parse_number(values.get("number") or "", row.default_country,
                                          field="number")
                entry = (e164, _text(values.get("source") or source, MAX_SOURCE, "source"),
                         _text(values.get("note"), MAX_NOTE, "note"))
            except InvalidInput as exc:
                problems.append((f"row {line}.{exc.field}", exc.message))
                continue
            rows.append(entry)
        if problems:
            raise ConfigError(problems)
        count = dnc_store.put(uow.connection, row.id, rows, now)
        uow.commit()
        return count


def import_registry(uow: UnitOfWork, org: str, text: str, *, source: str,
                    listed_on: date | None, now: datetime) -> dict[str, Any]:
    """Mark the numbers of a national do-not-call registry scrub file as on the registry,
    with ``source`` and the download's date ``listed_on`` (default: today).

    The file lists an area code's numbers, one a line as 10 digits (``2125550100``;
    ``212,5550100`` and ``212-555-0100`` read the same); blank lines are skipped. It
    replaces what the registry listed for the area codes it holds (a download is an area
    code's list in full), all or nothing: a bad line refuses the file, naming the line.
    """
    source = _text(source, MAX_SOURCE, "source") or "registry"
    numbers: set[str] = set()
    problems: list[tuple[str, str]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        digits = _SEPARATORS.sub("", line)
        if not digits:
            continue
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if not _REGISTRY_LINE.match(digits):
            if len(problems) < MAX_PROBLEMS:
                problems.append((f"line {line_no}", f"{line.strip()[:40]!r} is not a 10-digit "
                                 "US number (area code and number)"))
            continue
        numbers.add(f"+1{digits}")
    if problems:
        raise ConfigError(problems)
    if not numbers:
        raise ConfigError([("file", "lists no number: a scrub file lists one 10-digit "
                            "number a line")])
    day = listed_on or now.date()
    codes = sorted({n[2:5] for n in numbers})
    with uow:
        row = org_store.org_row(uow.connection, org)
        dnc_store.replace_registry(uow.connection, row.id, codes, sorted(numbers),
                                   source=source, listed_on=day, at=now)
        summary = dnc_store.registry_summary(uow.connection, row.id)
        uow.commit()
    return {"imported": len(numbers), "area_codes": codes, "listed_on": day.isoformat(),
            "source": source, "registry": summary}


def registry(uow: UnitOfWork, org: str) -> dict[str, Any]:
    """The registry's size, area codes and oldest download date."""
    with uow:
        row = org_store.org_row(uow.connection, org)
        return dnc_store.registry_summary(uow.connection, row.id)
