"""The exceptions callsign raises, one tree for every entrypoint.

    CallsignError
    ├── InvalidInput          a field's value is malformed or out of range
    │   ├── InvalidNumber     a phone number that does not parse or is not valid
    │   ├── MalformedJSON     a body that is not UTF-8 JSON, or nests too deeply
    │   └── ConfigError       an organization file with one or more errors
    │       └── InvalidScan   reputation scan results (CSV or JSON) with errors
    ├── NotFound              an org, user, project, number or call that does not exist
    ├── Refused               a valid request that the rules refuse
    │   ├── NotPresentable    a per-call caller ID that may not be presented
    │   ├── OutsideCallingHours
    │   └── NotCompliant      a compliance rule (SPEC 10) refuses the call now
    ├── Conflict              the request clashes with the stored state
    ├── Unauthorized          a missing, unknown or revoked API key
    ├── Forbidden             a webhook not signed by the organization's account, or
    │                         a key whose scopes do not open the endpoint
    ├── ProviderError         the telephony or number provider refused or failed
    └── StoreUnavailable      the store cannot serve now (down, read-only, full, file gone)

Every error names the field it concerns (``field``), so the CLI, the API and the
webhooks can all say which input was wrong and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

MAX_PROBLEMS = 20  # problems one error lists; the rest are counted
MAX_MESSAGE = 300  # characters of one problem's message


def _shortened(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 3] + "..."


class CallsignError(Exception):
    """The base of every error callsign raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        if self.field and not self.message.startswith(self.field):
            return f"{self.field}: {self.message}"
        return self.message


class InvalidInput(CallsignError):
    """A field's value is malformed or out of range."""

    code = "invalid_input"


class InvalidNumber(InvalidInput):
    """A phone number that does not parse, or is not a valid number."""

    code = "invalid_number"


class MalformedJSON(InvalidInput):
    """A request body that is not UTF-8 JSON, or that nests arrays and objects too deeply."""

    code = "malformed_json"


class NotFound(CallsignError):
    """Something named by the request does not exist (in this organization)."""

    code = "not_found"


class Refused(CallsignError):
    """A well-formed request that the rules refuse."""

    code = "refused"


class NotPresentable(Refused):
    """A caller ID asked for one call may not be presented."""

    code = "not_presentable"


class OutsideCallingHours(Refused):
    """The callee's local time is outside the organization's calling hours."""

    code = "outside_calling_hours"


class NotCompliant(Refused):
    """A compliance rule refuses the call (SPEC 10): ``details`` says which, its pack and
    source, the callee's local time and ``next_allowed_at`` (None: at no time ahead)."""

    code = "not_compliant"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 next_allowed_at: datetime | None = None, field: str | None = "to") -> None:
        super().__init__(message, field=field)
        self.details = details or {}
        self.next_allowed_at = next_allowed_at


class Conflict(CallsignError):
    """The request clashes with what is stored (a duplicate, a reused key)."""

    code = "conflict"


class Unauthorized(CallsignError):
    """A missing, malformed, unknown or revoked API key, or a forged webhook."""

    code = "unauthorized"


class Forbidden(CallsignError):
    """A webhook request that the organization's telephony account did not sign, or an
    API key whose scopes do not open the endpoint."""

    code = "forbidden"


class ProviderError(CallsignError):
    """The telephony or number provider (Twilio) refused or failed a request."""

    code = "provider_error"


class StoreUnavailable(CallsignError):
    """The store cannot serve the request now: unreachable, read-only, full, busy past its
    timeouts, damaged, or its file deleted or replaced. Nothing was stored; retry later."""

    code = "store_unavailable"


class ConfigError(InvalidInput):
    """An organization file with errors; ``problems`` lists each as (path, message)."""

    code = "invalid_config"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        shown = [(path, _shortened(message)) for path, message in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            shown.append(("", f"and {len(problems) - MAX_PROBLEMS} more"))
        self.problems = problems = shown
        first_path = problems[0][0]
        lines = "; ".join(f"{path}: {message}" if path else message for path, message in problems)
        super().__init__(lines, field=first_path or None)

    def __str__(self) -> str:
        return self.message


class InvalidScan(ConfigError):
    """Reputation scan results with errors; each problem names its row and column
    (``row 7, column checked_at``) or, for JSON, its path (``[6].checked_at``)."""

    code = "invalid_scan"
