"""The web app's protections, as plain ASGI middleware and helpers (no room logic here).

- :class:`Guard`: security headers on every response (a Content-Security-Policy that allows only
  the app's own scripts, no inline script), a request body limit (413), a per-client rate limit
  (429, bounded memory) and the cross-origin check of state-changing requests (403).
- :func:`csrf_token` / :func:`check_csrf`: the per-seat token every state-changing form carries
  (a hidden field ``csrf`` or the header ``X-CSRF-Token``), derived from the seat's (or the
  instructor's) secret token, so it survives a server restart and another seat's page cannot
  produce it.
- :func:`new_browser_token`: the double-submit cookie of the forms that have no seat yet (create
  a room, join with a code).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
BROWSER_COOKIE = "sabm_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Scripts and styles from the app itself only; no inline script, no eval (htmx's allowEval is off
# in base.html), no framing, forms post only back to the app.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Join links carry the seat's token in the path: never send it to another site. (Not
    # "no-referrer": under it browsers send "Origin: null" on the app's own form posts, which
    # same_origin() cannot tell from a sandboxed frame's.)
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class Limits:
    """``max_body``: bytes of a request body (413 above); ``rate``: requests a second a client
    may make on average, ``burst``: how many at once (429 beyond); ``max_clients``: clients
    remembered by the rate limiter (the least recently seen are forgotten first)."""

    max_body: int = 64 * 1024
    rate: float = 20.0
    burst: float = 120.0
    max_clients: int = 4096


class RateLimiter:
    """A token bucket per client key, in an LRU of at most ``max_clients`` entries."""

    def __init__(self, rate: float, burst: float, max_clients: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.max_clients, self.clock = rate, burst, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)


class Guard:
    """ASGI middleware around the whole app (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic):
        self.app, self.limits = app, limits
        self.limiter = RateLimiter(limits.rate, limits.burst, limits.max_clients, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = (scope.get("client") or ("unknown", 0))[0]
        if not self.limiter.allow(client):
            await _plain(send, 429, "Too many requests: wait a moment and try again.", {"retry-after": "1"})
            return
        if scope["method"] in UNSAFE_METHODS and not same_origin(scope, headers):
            await _plain(send, 403, "Forbidden: a request from another site.")
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.limits.max_body:
            await _plain(send, 413, f"Request too large: at most {self.limits.max_body} bytes.")
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limits.max_body:  # a chunked body with no (or a false) length
                    raise HTTPException(413, f"Request too large: at most {self.limits.max_body} bytes.")
            return message

        async def secured_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, limited_receive, secured_send)
        except HTTPException as exc:  # raised by limited_receive outside a route's handlers
            if started or exc.status_code != 413:
                raise
            await _plain(secured_send, 413, str(exc.detail))


def same_origin(scope: Scope, headers: dict[str, str]) -> bool:
    """False if the browser says the request comes from another site: an ``Origin`` header that is
    not this server's scheme://host[:port], or ``Sec-Fetch-Site: cross-site``. A request with
    neither (curl, an old browser) passes here and is judged by its CSRF token. ``Origin: null``
    (an opaque origin) passes only with ``Sec-Fetch-Site: same-origin``, which the browser alone
    sets: a page still open under an older no-referrer policy posts that way."""
    site = headers.get("sec-fetch-site", "")
    if site == "cross-site":
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return site == "same-origin"
    host = headers.get("host", "")
    return origin == f"{scope.get('scheme', 'http')}://{host}"


async def _plain(send: Send, status: int, text: str, extra: dict[str, str] | None = None) -> None:
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def csrf_token(secret: str) -> str:
    """The CSRF token of the pages of a seat (or the instructor) whose secret token is ``secret``:
    an HMAC of it, so it needs no server-side storage and holds across a restart."""
    return hmac.new(secret.encode(), b"strategy_abm classroom csrf v1", hashlib.sha256).hexdigest()[:32]


def check_csrf(secret: str, sent: str | None) -> None:
    """HTTPException 403 unless ``sent`` is the CSRF token of ``secret`` (constant-time)."""
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token(secret).encode()):
        raise HTTPException(403, "Forbidden: the form's security token is missing or wrong; reload the page.")


def new_browser_token() -> str:
    return secrets.token_urlsafe(24)


def check_browser_token(cookie: str | None, sent: str | None) -> None:
    """Double-submit check of the forms that have no seat yet: the hidden field must equal the
    browser's cookie (which another site can neither read nor set)."""
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise HTTPException(403, "Forbidden: the form's security token is missing or wrong; reload the page.")
