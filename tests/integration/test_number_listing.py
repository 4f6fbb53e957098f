"""The admin's reads of a long number list: one page at a time with a filter, and the
summary by area code; on this test's own store (SQLite, or PostgreSQL with --store)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from callsign.domain.model import NumberStatus
from callsign.services import numbers as numbers_service
from callsign.services.numbers import NumberFilter
from callsign.store.uow import UnitOfWork

NOW = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
AREA_CODES = {"303": "Colorado", "602": "Arizona", "480": "Arizona"}


def document() -> dict[str, Any]:
    numbers: list[dict[str, Any]] = [{"number": f"+1{code}55501{i:02d}", "label": f"{region} {i}",
                "group": "even" if i % 2 == 0 else "odd"}
               for code, region in AREA_CODES.items() for i in range(40)]
    numbers[0]["area_codes"] = ["720"]  # +13035550100 also serves 720
    return {"org": "listing", "default_country": "US", "timezone": "America/Denver",
            "principal_number": "+13035550100", "numbers": numbers}


def test_pages_and_filters(engine: Engine, apply_org: Callable[[Any], None]) -> None:
    apply_org(document())
    def uow() -> UnitOfWork:
        return UnitOfWork(engine)

    numbers_service.set_status(uow(), "listing", "+16025550107", NumberStatus.PAUSED)
    held = sorted(n["number"] for n in document()["numbers"])

    pages = [numbers_service.find_numbers(uow(), "listing", NumberFilter(), offset=offset, limit=50,
                                          now=NOW) for offset in (0, 50, 100)]
    assert [p.total for p in pages] == [120, 120, 120]
    assert [v.number for p in pages for v in p.numbers] == held
    assert [len(p.numbers) for p in pages] == [50, 50, 20]

    def numbers(**given: str) -> list[str]:
        found = numbers_service.find_numbers(uow(), "listing", NumberFilter(**given), limit=500,
                                             now=NOW)
        assert found.total == len(found.numbers)
        return [v.number for v in found.numbers]

    arizona = [n for n in held if n[2:5] in ("602", "480")]
    assert numbers(region="Arizona") == arizona
    assert numbers(area_code="720") == ["+13035550100"], "a mapped area code counts"
    assert numbers(status="paused") == ["+16025550107"]
    assert numbers(region="Arizona", group="odd") == [n for n in arizona if int(n[-1]) % 2]
    assert numbers(region="Arizona", status="active", search="480") == \
        [n for n in arizona if n[2:5] == "480"]
    assert numbers(region="Nowhere") == []


def test_summary_by_area_code(engine: Engine, apply_org: Callable[[Any], None]) -> None:
    apply_org(document())
    def uow() -> UnitOfWork:
        return UnitOfWork(engine)

    numbers_service.set_status(uow(), "listing", "+16025550107", NumberStatus.PAUSED)
    numbers_service.set_status(uow(), "listing", "+16025550108", NumberStatus.RESTING)
    summary = {s.area_code: s for s in numbers_service.area_code_summary(uow(), "listing")}
    assert list(summary) == ["303", "480", "602"]
    assert summary["602"] == numbers_service.AreaCodeSummary("602", "Arizona", 40, 38, 1, 1, 40)
    assert summary["303"].served_by == 40
    assert "720" not in summary, "only the numbers' own area codes"
