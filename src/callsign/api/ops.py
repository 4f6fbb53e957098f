"""Operations: health, readiness, Prometheus metrics, JSON access logs with request ids."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from callsign.api.deps import runtime
from callsign.api.intake import replaying
from callsign.services.ids import random_hex

access_log = logging.getLogger("callsign.access")


class Metrics:
    """This app's metrics, in a registry of its own (no process-wide singletons)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter("callsign_decisions", "Caller-ID decisions by rule",
                                 ["rule"], registry=self.registry)
        self.routes = Counter("callsign_inbound_routes", "Inbound routes by rule", ["rule"],
                              registry=self.registry)
        self.latency = Histogram(
            "callsign_request_seconds", "Request latency by route", ["method", "route"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry)
        self.errors = Counter("callsign_errors", "Error responses by status", ["status"],
                              registry=self.registry)


def observe(app: ASGIApp, metrics: Metrics, *, log_requests: bool) -> ASGIApp:
    """ASGI middleware: a request id, one JSON access-log line, latency and error counts."""

    async def middleware(scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode()[:64] or random_hex(16)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or _template(scope)
            metrics.latency.labels(scope["method"], route).observe(elapsed)
            if status >= 400:
                metrics.errors.labels(str(status)).inc()
            if log_requests:
                access_log.info(json.dumps({
                    "request_id": request_id, "method": scope["method"],
                    "path": scope["path"], "status": status,
                    "ms": round(elapsed * 1000, 3),
                    "org": scope.get("state", {}).get("org"),
                }))

    return middleware


_NUL_SIGNS = (b"\x00", b"%00", b"\\u0000")


def refuse_nul(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a NUL character anywhere in a request is refused with 400.

    No callsign field can hold one, and PostgreSQL cannot store one in text; refusing
    it at the door gives the same answer on every store.
    """

    async def middleware(scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        head = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if any(sign in head for sign in _NUL_SIGNS[:2]):
            await _refuse(send, _holding_nul(scope.get("query_string", b"")) or "path")
            return
        body = b""
        more = True
        while more:
            message: Any = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if message["type"] != "http.request":
                break
        if "callsign.json_checked" not in scope and \
                any(sign in body for sign in (_NUL_SIGNS[0], _NUL_SIGNS[2])):
            await _refuse(send, _holding_nul(body))
            return
        await app(scope, replaying(body, receive), send)

    return middleware


def _holding_nul(encoded: bytes) -> str | None:
    """The first field of a query string or form that holds a NUL, if it is one."""
    try:
        pairs = parse_qsl(encoded.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return None
    return next((key[:64] for key, value in pairs if "\x00" in key + value), None)


async def _refuse(send: Any, field: str | None) -> None:
    message = f"{field}: contains a NUL character" if field else \
        "the request contains a NUL character"
    body = json.dumps({"error": {"code": "invalid_input", "field": field,
                                 "message": message}}).encode()
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _template(scope: Any) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    return sorted(paths)[0] if paths else "unmatched"


@get("/healthz", sync_to_thread=False, include_in_schema=True, tags=["operations"],
     summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", sync_to_thread=True, tags=["operations"],
     summary="The store answers and takes writes")
def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """503 while the store is unreachable, read-only, full, or its file deleted/replaced."""
    problem = runtime(request).store.problem()
    if problem is not None:
        return Response({"status": "unavailable", "code": problem.code,
                         "detail": problem.message}, status_code=503,
                        headers={"Retry-After": "1"})
    return Response({"status": "ready"})


@get("/metrics", sync_to_thread=False, tags=["operations"], media_type="text/plain",
     summary="Prometheus metrics")
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


@get("/openapi.json", sync_to_thread=False, include_in_schema=False)
def openapi_json(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    cached: dict[str, Any] | None = getattr(request.app.state, "openapi", None)
    if cached is None:
        cached = with_error_responses(request.app.openapi_schema.to_schema())
        request.app.state.openapi = cached
    return Response(cached, media_type="application/json")


ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "field"],
        "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "field": {"type": ["string", "null"]},
            "problems": {"type": "array", "items": {
                "type": "object", "properties": {"field": {"type": ["string", "null"]},
                                                 "message": {"type": "string"}}}},
        }}},
}
ERROR_STATUSES = {
    "400": "Invalid input: malformed JSON, an invalid number, an unknown field",
    "401": "No API key, or one that is unknown or revoked",
    "403": "A webhook not signed by the organization's Twilio account",
    "404": "Not found in this organization",
    "405": "Method not allowed",
    "409": "Conflicts with what is stored",
    "413": "The request body is larger than its bound",
    "424": "The telephony or number provider refused or failed",
    "422": "Refused by the rules (not presentable, outside calling hours)",
    "503": "The store cannot serve now (unreachable, read-only, full, busy); nothing was "
           "stored, retry",
}


def with_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Document callsign's one error shape on every operation, for every 4xx it answers."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description in ERROR_STATUSES.items():
                if status == "403" and not path.startswith("/twilio"):
                    continue
                if path.startswith(("/v1", "/twilio")) or status in ("400", "404", "405"):
                    responses[status] = {"description": description, "content": reference}
    return schema


OPS_ROUTES = [healthz, readyz, metrics_endpoint, openapi_json]
