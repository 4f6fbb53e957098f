"""A compliance calling window that is closed when the tests run, whenever they run."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def closed_window(now: datetime, zone: str) -> tuple[str, datetime]:
    """A daily window of one hour starting 1 to 2 hours after ``now`` in ``zone`` (so now
    is outside it), as ``HH:MM-HH:MM``, and the instant it next opens (in ``zone``)."""
    local = now.astimezone(ZoneInfo(zone))
    opens = (local + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    return f"{opens.hour:02d}:00-{opens.hour + 1:02d}:00", opens
