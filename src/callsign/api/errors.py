"""One JSON error shape for every failure: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from typing import Any, get_args

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from callsign.api.deps import runtime
from callsign.api.schemas import ChannelName, ProviderName
from callsign.domain.document import PATTERN_WORDS
from callsign.domain.errors import (
    MAX_MESSAGE,
    MAX_PROBLEMS,
    CallsignError,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotCompliant,
    NotFound,
    ProviderError,
    Refused,
    StoreUnavailable,
    Unauthorized,
)

log = logging.getLogger("callsign.api")

STATUS: dict[type[CallsignError], int] = {
    InvalidInput: 400, Unauthorized: 401, NotFound: 404, Conflict: 409, Refused: 422,
    ProviderError: 424, Forbidden: 403, StoreUnavailable: 503,
    CallsignError: 400,
}
_FIELD_IN_MESSAGE = re.compile(r"field `([^`]+)`")
_MISSING = re.compile(r"Missing required (\w+) parameter '([^']+)'")


def status_for(error: CallsignError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400  # pragma: no cover


def error_body(code: str, message: str, field: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def callsign_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, CallsignError)
    extra: dict[str, Any] = {}
    if isinstance(exc, ConfigError):
        extra["problems"] = [{"field": f, "message": m} for f, m in exc.problems]
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    if isinstance(exc, NotCompliant):
        # The rule, its pack and source, the callee's local time, next_allowed_at, trace;
        # and in whole seconds for SIP's Retry-After (Kamailio reads it from the body).
        extra.update(exc.details)
        if exc.next_allowed_at is not None:
            wait = (exc.next_allowed_at - runtime(request).clock()).total_seconds()
            extra["retry_after"] = max(0, math.ceil(wait))
            headers = {"Retry-After": str(extra["retry_after"])}
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": "1"}
    return Response(error_body(exc.code, exc.message, exc.field, **extra),
                    status_code=status_for(exc), headers=headers)


def validation_error(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ValidationException)
    details = exc.extra if isinstance(exc.extra, list) else []
    problems = []
    for item in details[:MAX_PROBLEMS]:
        message = str(item.get("message", "is not valid"))
        key = item.get("key")
        if "truncated" in message:
            return Response(error_body("malformed_json", "the request body is not complete "
                                       "JSON", None), status_code=400)
        if key == "data" and not _FIELD_IN_MESSAGE.search(message):
            message, key = "the request body must be a JSON object", None
        named = _FIELD_IN_MESSAGE.search(message)
        field = named.group(1) if named and key in (None, "data") else key
        field = _shortened(_path_of(str(field))) if field is not None else None
        problems.append({"field": field, "message": _shortened(in_words(message, field))})
    if len(details) > MAX_PROBLEMS:
        problems.append({"field": None, "message": f"and {len(details) - MAX_PROBLEMS} more"})
    missing = _MISSING.search(str(exc.detail))
    if not problems and missing:
        kind, name = missing.groups()
        problems.append({"field": name, "message": f"is required (a {kind} parameter)"})
    first = problems[0] if problems else {"field": None, "message": in_words(exc.detail, None)}
    return Response(error_body("invalid_input", f"{first['field']}: {first['message']}"
                               if first["field"] else str(first["message"]), first["field"],
                               problems=problems), status_code=400)


def _path_of(key: str) -> str:
    """A field's path as callsign names it: ``area_codes[0]``, ``users[0].name``."""
    path = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", key.removeprefix("$.").removeprefix("data."))
    return _HEADERS.get(path, path)


_KINDS = {"str": "text", "int": "a whole number", "float": "a decimal number",
          "bool": "true or false", "array": "a list", "object": "an object", "null": "null"}
_CHOICES = {"channel": get_args(ChannelName), "provider": get_args(ProviderName)}
_WORDINGS: list[tuple[re.Pattern[str], Callable[[re.Match[str], str | None], str]]] = [
    (re.compile(r"Expected `([^`]+)`, got `(\w+)`"),
     lambda m, _: f"must be {_kind(m.group(1))}, not {_kind(m.group(2))}"),
    (re.compile(r"Object contains unknown field|Extra inputs are not permitted"),
     lambda *_: "is not a known field"),
    (re.compile(r"Object missing required field|Field required"), lambda *_: "is required"),
    (re.compile(r"Expected `str` of length >= 1|String should have at least 1 char"),
     lambda *_: "must not be empty"),
    (re.compile(r"Expected `str` of length <= (\d+)|String should have at most (\d+) char"),
     lambda m, _: f"must be at most {m.group(1) or m.group(2)} characters"),
    (re.compile(r"Expected `str` of length >= (\d+)|String should have at least (\d+) char"),
     lambda m, _: f"must be at least {m.group(1) or m.group(2)} characters"),
    (re.compile(r"Expected `\w+` <= (\d+)|Input should be less than or equal to (\d+)"),
     lambda m, _: f"must be at most {m.group(1) or m.group(2)}"),
    (re.compile(r"Expected `\w+` >= (\d+)|Input should be greater than or equal to (\d+)"),
     lambda m, _: f"must be at least {m.group(1) or m.group(2)}"),
    (re.compile(r"Expected `str` matching regex '(.*)'|String should match pattern '(.*)'"),
     lambda m, _: _pattern_words(m.group(1) or m.group(2))),
    (re.compile(r"Invalid enum value (.*)"), lambda m, field: _choices(m.group(1), field)),
    (re.compile(r"Input should be a valid (string|boolean|integer|list|dictionary)"),
     lambda m, _: "must be " + {"string": "text", "boolean": "true or false",
                                "integer": "a whole number", "list": "a list",
                                "dictionary": "an object"}[m.group(1)]),
    (re.compile(r"Input should be (.+)"), lambda m, _: f"must be {m.group(1)}"),
    (re.compile(r"Value error, (.+)"), lambda m, _: m.group(1)),
    (re.compile(r"(Integer value|Number) out of range"), lambda *_: "is out of range"),
    (re.compile(r"Invalid RFC3339 encoded datetime"),
     lambda *_: "must be a date and time as ISO 8601, e.g. 2026-03-02T17:00:00Z"),
]
_HEADERS = {"idempotency_key": "Idempotency-Key"}  # parameters named as the client sends them


def in_words(message: str, field: str | None) -> str:
    """A validation library's message (msgspec's or pydantic's) in plain words."""
    message = message.split(" - at `$")[0].split("\n")[0]
    for pattern, words in _WORDINGS:
        found = pattern.search(message)
        if found:
            return words(found, field)
    return message


def _kind(name: str) -> str:
    return " or ".join(_KINDS.get(part.strip(), part.strip()) for part in name.split("|"))


def _pattern_words(pattern: str) -> str:
    for known, words in PATTERN_WORDS.items():
        if pattern in (known, known.replace("\\", "\\\\")):
            return words
    return "is not in the expected form"


def _shortened(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _choices(given: str, field: str | None) -> str:
    given = _shortened(given, 40)
    last = re.sub(r"\[\d+\]$", "", (field or "").rsplit(".", 1)[-1])
    if last in _CHOICES:
        return f"must be one of {', '.join(_CHOICES[last])}, not {given}"
    return f"{given} is not one of the allowed values"


def http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
            413: "too_large", 415: "unsupported_media_type"}.get(status, "bad_request")
    message = str(exc.detail)
    if any(sign in message for sign in ("JSON is malformed", "Invalid JSON", "truncated")):
        code = "malformed_json"
        message = f"the request body is not valid JSON ({message})"
    if status == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    if status == 405:
        message = f"{request.url.path} does not answer {request.method}"
    return Response(error_body(code, message, None), status_code=status,
                    headers=getattr(exc, "headers", None))


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """What no other handler claims: a driver's error raised outside a unit of work, as the
    store translates it (a value it refuses: 400; a store fault: 503); else a bug (500)."""
    translated = runtime(request).store.translated(exc)
    if translated is not None:
        return callsign_error(request, translated)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response(error_body("internal", "an internal error occurred; it was logged", None),
                    status_code=500)


HANDLERS: dict[int | type[Exception], Callable[[Request[Any, Any, Any], Any], Response[Any]]] = {
    CallsignError: callsign_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
