"""The classroom web app's guard, without rooms: security headers, body limit (413), rate limit
(429), cross-origin and CSRF refusals (403), the 500 page without a traceback, the vendored
scripts, and which --host values make ``serve`` warn."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from strategy_abm.classroom.app import create_app
from strategy_abm.classroom.security import CSP, Limits, RateLimiter, csrf_token
from strategy_abm.classroom.server import bind, host_warning, is_loopback


@pytest.fixture
def client():
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def _cookie(client) -> str:
    client.get("/")
    return client.cookies["sabm_csrf"]


def test_home_page_has_the_forms_and_the_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200
    for testid in ("join-form", "join-code", "create-form", "create-scenario", "create-human-us", "create-human-kaz"):
        assert f'data-testid="{testid}"' in r.text
    assert r.headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP and "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"  # no token in a Referer to another site
    assert r.headers["x-content-type-options"] == "nosniff"
    # No inline script anywhere: every <script> either has a src or is a JSON data block.
    for tag in re.findall(r"<script[^>]*>", r.text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_vendored_htmx_and_sse_extension_are_served_with_their_licences(client):
    for name in ("htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"):
        r = client.get(f"/static/vendor/{name}")
        assert r.status_code == 200 and len(r.content) > 2000
        assert "javascript" in r.headers["content-type"]
    assert 'htmx.defineExtension("sse"' in client.get("/static/vendor/htmx-ext-sse-2.2.4.min.js").text
    for name in ("htmx-2.0.11.LICENSE", "htmx-ext-sse-2.2.4.LICENSE"):
        assert "Permission to use, copy, modify" in client.get(f"/static/vendor/{name}").text
    page = client.get("/").text
    for name in ("htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"):
        assert f'src="/static/vendor/{name}"' in page


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(client):
    token = _cookie(client)
    assert client.post("/join", data={"code": "ABCDEF"}).status_code == 403
    r = client.post("/join", data={"code": "ABCDEF", "csrf": token + "x"})
    assert r.status_code == 403 and "security token" in r.text
    assert client.post("/rooms", data={"scenario": "baseline"}).status_code == 403
    # The right token passes the check (and the code is then judged: no such seat, 400 naming the field).
    r = client.post("/join", data={"code": "ABCDEF", "csrf": token})
    assert r.status_code == 400 and "code: no open seat has this code" in r.text


def test_cross_origin_posts_are_refused_even_with_the_token(client):
    token = _cookie(client)
    r = client.post("/join", data={"code": "ABCDEF", "csrf": token}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    r = client.post("/join", data={"code": "ABCDEF", "csrf": token}, headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    same = client.post("/join", data={"code": "ABCDEF", "csrf": token}, headers={"origin": "http://testserver"})
    assert same.status_code == 400  # same origin: judged on its content
    # an opaque origin (a sandboxed frame) is refused, unless the browser itself says same-origin
    null = {"origin": "null"}
    assert client.post("/join", data={"code": "ABCDEF", "csrf": token}, headers=null).status_code == 403
    r = client.post("/join", data={"code": "ABCDEF", "csrf": token}, headers={**null, "sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    r = client.post("/join", data={"code": "ABCDEF", "csrf": token}, headers={**null, "sec-fetch-site": "same-origin"})
    assert r.status_code == 400


def test_an_oversize_body_is_413_whether_its_length_is_declared_or_not():
    app = create_app(limits=Limits(max_body=1000))
    with TestClient(app) as c:
        token = _cookie(c)
        r = c.post("/join", data={"code": "A" * 5000, "csrf": token})
        assert r.status_code == 413 and "at most 1000 bytes" in r.text

        def chunks():  # no Content-Length: counted as it arrives
            yield f"csrf={token}&code=".encode()
            for _ in range(20):
                yield b"B" * 100

        r = c.post("/join", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413


def test_too_many_requests_from_one_client_get_429_and_the_limiter_forgets_old_clients():
    app = create_app(limits=Limits(rate=0.001, burst=3))
    with TestClient(app) as c:
        assert [c.get("/").status_code for _ in range(4)] == [200, 200, 200, 429]
        r = c.get("/")
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, max_clients=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    now[0] = 1.0  # one token back a second
    assert limiter.allow("a") and not limiter.allow("a")
    for key in ("b", "c", "d", "e"):
        limiter.allow(key)
    assert len(limiter) == 3  # bounded memory: "a" (least recently seen) was forgotten


def test_an_exception_in_a_handler_is_a_500_page_without_the_traceback(caplog):
    app = create_app()

    async def boom(request):
        raise RuntimeError("secret internals /etc/passwd")

    app.router.routes.append(Route("/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.ERROR):
        r = c.get("/boom")
    assert r.status_code == 500
    assert "Something went wrong on the server" in r.text
    for leak in ("Traceback", "RuntimeError", "secret internals", "boom", 'File "'):
        assert leak not in r.text
    assert r.headers["content-security-policy"] == CSP
    assert any("secret internals" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)


def test_unknown_pages_and_rooms_are_404_pages(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and 'data-testid="error-page"' in r.text
    assert client.get("/rooms/nosuchroom/projector").status_code == 404
    assert client.get("/rooms/nosuchroom/seat/abc").status_code == 404


def test_a_form_body_that_is_not_a_form_is_400(client):
    token = _cookie(client)
    headers = {"content-type": "application/json", "x-csrf-token": token}
    r = client.post("/join", content=b'{"code": "x"}', headers=headers)
    assert r.status_code == 400 and "body: expected a form" in r.text


def test_csrf_tokens_differ_by_seat_and_hold_across_restarts():
    assert csrf_token("seat-a") == csrf_token("seat-a")
    assert csrf_token("seat-a") != csrf_token("seat-b")
    assert len(csrf_token("seat-a")) == 32


@pytest.mark.parametrize(
    ("host", "warns"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("127.0.0.2", False),
     ("0.0.0.0", True), ("::", True), ("192.168.1.20", True), ("class-server.local", True)],
)  # fmt: skip
def test_serve_warns_for_any_host_but_loopback(host, warns):
    warning = host_warning(host)
    assert (warning is not None) is warns
    assert is_loopback(host) is not warns
    if warns:
        assert warning.startswith("strategy-abm: warning: --host ") and "\n" not in warning
        assert "class network" in warning


def test_bind_reports_a_taken_port_in_one_line():
    from strategy_abm.classroom.server import ServeError

    first = bind("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(ServeError, match=rf"^argument --port: cannot listen on 127.0.0.1:{port} "):
            bind("127.0.0.1", port)
    finally:
        first.close()
