"""The bounds on what callsign accepts, in one place (the README's "Limits" lists them).

Every input is bounded before it is stored or worked on, so that no request can take a
worker's time or memory out of proportion, and a value out of bounds is a 4xx that says
which bound, never a 5xx from the store.
"""

from __future__ import annotations

# Problems listed in one error (the rest are counted: "and 3 more"), and the characters
# of one problem's message.
from callsign.domain.errors import MAX_MESSAGE, MAX_PROBLEMS

__all__ = ["MAX_MESSAGE", "MAX_PROBLEMS"]  # with the bounds below

MAX_BODY_BYTES = 1024 * 1024
"""A request body (JSON, a form); larger is 413 before it is read."""

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
"""An organization document (``PUT /v1/config``, ``callsign apply``)."""

MAX_DEPTH = 32
"""How deeply JSON arrays and objects, or YAML collections, may nest."""

MAX_ID = 64
"""Ids of users, projects and organizations, and number groups."""

MAX_NAME = 200
"""Names of users and projects, labels of numbers, outcomes."""

MAX_TEXT = 64
"""Other short texts: a call's project, a time zone, a provider name."""

MAX_DAILY_CAP = 1_000_000
"""A number's daily cap (presentations per day)."""

MAX_CALL_SECONDS = 7 * 24 * 3600
"""A call's reported duration; Twilio ends calls after 24 hours, this leaves room."""


RESERVED_IDS = frozenset({"new", "edit", "delete", "action", "search", "import",
                          "purchase", "release", "static", "login", "logout"})
"""Ids that name pages of the admin (``/admin/users/new``), so no user or project may
have one."""
