"""What the admin's coverage map shows (SPEC 3.3, 9): per area code, the organization's
numbers serving it by health state, and the area codes its contacts and recent callees
are in that no local number serves. Read only; one organization's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callsign.domain import phone
from callsign.domain.geography import shapes
from callsign.services import purchasing
from callsign.services.purchasing import UowFactory


@dataclass(frozen=True)
class CoverageMap:
    served: dict[str, dict[str, int]]  # area code -> {health state: numbers}
    wanted: dict[str, tuple[int, int]]  # area code -> (contacts, recent callees), no number
    regions: dict[str, str | None]  # the drawn area codes' states and provinces


def coverage_map(uow: UowFactory, org: str, *, now: datetime) -> CoverageMap:
    """The organization's coverage and its numbers' health, per area code."""
    found = purchasing.coverage(uow(), org, now=now)  # NotFound naming org first
    with uow() as work:
        row = work.health_reads.org(org)
        served = work.health_reads.area_code_states(row.id)
    wanted = {gap["area_code"]: (int(gap["contacts"]), int(gap["recent_callees"]))
              for gap in found.uncovered}
    return CoverageMap(served, wanted, {code: phone.nanp_region(code) for code in shapes()})
