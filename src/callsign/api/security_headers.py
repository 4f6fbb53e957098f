"""Security headers on every answer: no framing, no sniffing, no referrer, and a content
security policy that lets a page load only what this server serves.

The web admin runs no inline script or style, so its policy is strict. The API docs page
(/schema) is Swagger UI, which starts from an inline script: it may run inline code, but
still loads nothing from elsewhere. JSON answers get the strictest policy of all.
"""

from __future__ import annotations

from litestar.types import Message, Scope

ADMIN_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
                "frame-ancestors 'none'")
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
               "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'")
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def policy_for(path: str) -> str:
    if path == "/schema" or path.startswith("/schema/"):
        return DOCS_POLICY
    if path == "/admin" or path.startswith("/admin/"):
        return ADMIN_POLICY
    return API_POLICY


async def security_headers(message: Message, scope: Scope) -> None:
    """A before-send hook (it sees every answer, router 404s and errors included)."""
    if message["type"] != "http.response.start":
        return
    policy = policy_for(str(scope.get("path", ""))).encode()
    headers = list(message.get("headers") or [])
    present = {bytes(name).lower() for name, _ in headers}
    headers += [(name, value) for name, value in [*COMMON, (b"content-security-policy", policy)]
                if name not in present]
    message["headers"] = headers
