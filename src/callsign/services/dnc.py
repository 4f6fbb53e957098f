"""The organization's do-not-call list (SPEC 10): every decision refuses a listed number,
whatever the consent. Numbers are kept in E.164, read in the organization's country."""

from __future__ import annotations

import csv
import io
from datetime import datetime
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
