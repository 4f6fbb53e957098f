"""One JSON error shape for every failure: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from callsign.domain.errors import (
    CallsignError,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ProviderError,
    Refused,
    StoreUnavailable,
    Unauthorized,
)
from callsign.store.sql import store_fault

log = logging.getLogger("callsign.api")

STATUS: dict[type[CallsignError], int] = {
    InvalidInput: 400, Unauthorized: 401, NotFound: 404, Conflict: 409, Refused: 422,
    ProviderError: 424, Forbidden: 403, StoreUnavailable: 503,
    CallsignError: 400,
}
_FIELD_IN_MESSAGE = re.compile(r"field `([^`]+)`")


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
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": "1"}
    return Response(error_body(exc.code, exc.message, exc.field, **extra),
                    status_code=status_for(exc), headers=headers)


def validation_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ValidationException)
    details = exc.extra if isinstance(exc.extra, list) else []
    problems = []
    for item in details:
        message = str(item.get("message", "is not valid"))
        key = item.get("key")
        if "truncated" in message:
            return Response(error_body("malformed_json", "the request body is not complete "
                                       f"JSON ({message})", None), status_code=400)
        if key == "data" and not _FIELD_IN_MESSAGE.search(message):
            message, key = "the request body must be a JSON object", None
        named = _FIELD_IN_MESSAGE.search(message)
        field = named.group(1) if named and key in (None, "data") else key
        problems.append({"field": field, "message": message})
    first = problems[0] if problems else {"field": None, "message": exc.detail}
    return Response(error_body("invalid_input", f"{first['field']}: {first['message']}"
                               if first["field"] else str(first["message"]), first["field"],
                               problems=problems), status_code=400)


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
    return Response(error_body(code, message, None), status_code=status,
                    headers=getattr(exc, "headers", None))


def store_data_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The store refused a value (a NUL character, a number out of range): bad input."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return Response(error_body("invalid_input", f"a value cannot be stored: {reason}", None),
                    status_code=400)


def store_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A driver error outside a unit of work: 503 if it is a store fault, else a bug."""
    fault = store_fault(exc, request.app.state.runtime.engine.url)
    if fault is None:
        return unexpected_error(request, exc)
    return callsign_error(request, fault)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response(error_body("internal", "an internal error occurred; it was logged", None),
                    status_code=500)


HANDLERS: dict[int | type[Exception], Callable[[Request[Any, Any, Any], Any], Response[Any]]] = {
    CallsignError: callsign_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    DataError: store_data_error,
    psycopg.DataError: store_data_error,
    DBAPIError: store_error,
    SQLAlchemyTimeoutError: store_error,
    sqlite3.Error: store_error,
    psycopg.Error: store_error,
    Exception: unexpected_error,
}
