"""The door every request passes: its body's size, then (for JSON) its encoding and shape.

It runs before routing and authentication, so a body too large is refused from its
``Content-Length`` alone, or as soon as a streamed body passes the bound, never read whole.
A JSON body is then read strictly (UTF-8, bounded nesting, no key twice, no NUL), so
every JSON endpoint refuses the same things with the same words; that answer waits until
the request is authenticated, so a caller without a key learns nothing of validation.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, Receive, Send

from callsign.domain import limits
from callsign.domain.errors import CallsignError
from callsign.orgfile import load_json

JSON_CHECKED = "callsign.json_checked"
"""Scope key: set when the door read the body as JSON; its value is the problem, or None."""
_FORMS = (b"application/x-www-form-urlencoded", b"multipart/form-data")
_NOT_JSON = (*_FORMS, b"text/csv")  # bodies read as their own kind, by their handlers


def body_bound(scope: Any) -> int:
    """The largest body this request may carry: an organization document, or any other."""
    if scope["method"] == "PUT" and scope["path"].rstrip("/") == "/v1/config":
        return limits.MAX_DOCUMENT_BYTES
    if scope["method"] == "POST" and scope["path"].rstrip("/") in ("/v1/dnc/import",
                                                                   "/v1/dnc/registry"):
        return limits.MAX_DOCUMENT_BYTES  # a CSV or scrub file, read by its handler
    return limits.MAX_BODY_BYTES


def limit_bodies(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: 413 for a body over its bound; a JSON body read strictly."""

    async def middleware(scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        bound = body_bound(scope)
        if await _refused_by_length(send, headers.get(b"content-length"), bound):
            return
        body = await _read_within(receive, bound)
        if body is None:
            await too_large(send, bound)
            return
        _check_json(scope, headers.get(b"content-type", b""), body, bound)
        await app(scope, replaying(body, receive), send)

    return middleware


async def _refused_by_length(send: Send, announced: bytes | None, bound: int) -> bool:
    """Answer a Content-Length that is no number, or over ``bound``; True if answered."""
    if announced is None:
        return False
    if not announced.strip().isdigit():
        await answer(send, 400, "invalid_input", "Content-Length is not a number of bytes",
                     "Content-Length")
        return True
    if int(announced) > bound:
        await too_large(send, bound)
        return True
    return False


async def _read_within(receive: Receive, bound: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``bound`` (never read whole)."""
    body = bytearray()
    more = True
    while more:
        message: Any = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > bound:
            return None
        more = message.get("more_body", False)
    return bytes(body)


def _check_json(scope: Any, content_type: bytes, body: bytes, bound: int) -> None:
    """Read a JSON body strictly, and leave its problem (or None) in the scope."""
    kind = content_type.split(b";")[0].strip().lower()
    # A document (YAML or JSON) is read by its handler, off the event loop. JSON is read
    # here, and its problem answered after authentication (who is asking comes first).
    if body.strip() and kind not in _NOT_JSON and bound != limits.MAX_DOCUMENT_BYTES:
        scope[JSON_CHECKED] = None
        try:
            load_json(body)
        except CallsignError as exc:
            scope[JSON_CHECKED] = exc


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then what the client sends next."""
    replayed = False

    async def replay() -> Any:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def refuse_strict_json_errors(request: Request[Any, Any, Any]) -> None:
    """Before each handler, after its guards: the body's JSON problem, if it has one."""
    problem = request.scope.get(JSON_CHECKED)
    if isinstance(problem, CallsignError):
        raise problem


async def too_large(send: Send, bound: int) -> None:
    await answer(send, 413, "too_large", f"the request body is larger than {bound:,} bytes",
                 None)


async def answer(send: Send, status: int, code: str, message: str, field: str | None) -> None:
    """The one error shape, answered from the door (no handler has run)."""
    body = json.dumps({"error": {"code": code, "message": message, "field": field}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})
