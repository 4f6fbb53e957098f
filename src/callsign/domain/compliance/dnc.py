"""A do-not-call list's answer for a number, as the compliance rules read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class DoNotCall:
    """The answer of a do-not-call check that found the number listed."""

    list_name: str  # "organization", or an external list's name
    source: str = ""  # where the entry came from (an import, an agent, a request)
    added: date | None = None
