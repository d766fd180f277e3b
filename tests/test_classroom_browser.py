"""The classroom in a real browser: Playwright driving Debian's Chromium against the app served by
uvicorn on 127.0.0.1 (a free port), with a settable clock so that a deadline passes on demand.

An instructor and three students (the US and China, powers; Kazakhstan, a host), each in a
browser context of their own, play a three-turn game through the pages: the room is created on the
home page, the students join by code or by link, compose their offers in the form (the budget left
updates as they type; a size out of bounds disables the submit button with a message), see the
others' "submitted" flags flip live (server-sent events, no reload), the host accepts offers it
received, China misses a deadline and its AI decides (the log says so), and the debrief opens.

Screenshots of every key page are kept in tests/artifacts/classroom_browser/ (git-ignored);
``pytest tests/test_classroom_browser.py --docs-screenshots`` also writes the ones that
docs/classroom.md shows into docs/img/classroom/.

Without Playwright or Chromium the tests are skipped with the reason, except when the environment
variable CI is set: there they fail, so that CI never passes without having run them.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("STRATEGY_ABM_CHROMIUM", "/usr/bin/chromium")
HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts" / "classroom_browser"
DOCS_IMG = HERE.parent / "docs" / "img" / "classroom"
WAIT_MS = 20_000  # what a live update may take on a busy 2-core machine (it takes well under 1 s idle)
DEBRIEF_MS = 120_000  # the debrief replays the game and its counterfactuals


def browser_missing(chromium: str = CHROMIUM) -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        return f"no Chromium at {chromium} (apt-get install chromium, or set STRATEGY_ABM_CHROMIUM)"
    return None


def require_browser(chromium: str = CHROMIUM) -> None:
    """Skip when the browser tests cannot run, or fail when CI is set (CI must run them)."""
    reason = browser_missing(chromium)
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


class Clock:
    """The rooms' clock, set by the test (the ticker reads it from the server's thread)."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class LiveServer:
    """The classroom app in a real uvicorn server on 127.0.0.1 (port chosen by the system), in a
    background thread with its own event loop; rooms saved under ``data_dir``."""

    def __init__(self, data_dir: Path, clock: Clock):
        import uvicorn

        from strategy_abm.classroom.app import create_app
        from strategy_abm.classroom.server import bind, url_of

        self.app = create_app(data_dir=data_dir, clock=clock, tick_seconds=0.1)
        sock = bind("127.0.0.1", 0)
        self.url = url_of(sock, "127.0.0.1")
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=1)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[sock])), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the classroom server did not start")
            time.sleep(0.02)

    @property
    def classroom(self):
        return self.app.state.classroom

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def server(browser, tmp_path, clock):
    live = LiveServer(tmp_path / "data", clock)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def shots(request):
    """``shots(page, name, docs=False)``: a full-page screenshot in the artefacts folder; with
    ``docs`` and the --docs-screenshots option, also the visible part into docs/img/classroom/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    write_docs = request.config.getoption("--docs-screenshots")

    def shot(page, name: str, docs: bool = False) -> None:
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        if docs and write_docs:
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            _docs_png(page.screenshot(full_page=False), DOCS_IMG / f"{name}.png")

    print(f"\nclassroom screenshots: {ARTIFACTS}")
    return shot


def _docs_png(data: bytes, path: Path) -> None:
    """A screenshot as a palette PNG (a page's flat colours survive 128 colours), so each stays
    small in the repository."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


@pytest.fixture
def new_page(browser, server):
    """``new_page()``: a page in a browser context of its own (a person at their own computer);
    the contexts are closed before the server stops (their event streams with them)."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        context.on("dialog", lambda dialog: dialog.accept())  # force, end, branch ask for confirmation
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# ------------------------------------------------------------------------------ the page's parts


def number(page, testid: str) -> float:
    return float(page.get_by_test_id(testid).inner_text().replace(",", "").strip())


def legal_of(page) -> dict:
    """What the seat's form checks against (the JSON block the server put in the page)."""
    return json.loads(page.get_by_test_id("decision-form").get_attribute("data-legal"))


def offer_for(legal: dict, host: str) -> tuple[str, dict, float]:
    """A move that may go to ``host`` now, its bounds and a size the host can take: (move, spec,
    size)."""
    for move, spec in legal["moves"].items():
        target = spec["targets"].get(host)
        if target and spec["size_min"] <= min(target["size_max"], target["room_max"]):
            return move, spec, spec["size_min"]
    raise AssertionError(f"no move may go to {host}: {sorted(legal['moves'])}")


def wait_phase(page, key: str) -> None:
    """Until the page shows phase ``key`` ("turn:phase:status") in its status and its decision
    panel (both refreshed by the live updates)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("phase-marker")).to_have_attribute("data-phase-key", key)
    expect(page.get_by_test_id("decision-panel")).to_have_attribute("data-phase-key", key)


def compose_offer(page, host: str) -> tuple[str, float]:
    """Fill offer row 0 with a move to ``host`` at a size it can take; returns (move, size)."""
    move, _, size = offer_for(legal_of(page), host)
    page.get_by_test_id("move-0").select_option(move)
    page.get_by_test_id("host-0").select_option(host)
    page.get_by_test_id("size-0").fill(repr(size))
    return move, size


def submit(page, *, last: bool = False) -> None:
    """Click submit; the page comes back saying the decision is in (``last``: the last person of
    the phase submits, which resolves it at once: the page comes back in the next phase)."""
    from playwright.sync_api import expect

    page.get_by_test_id("submit-decision").click()
    expect(page.get_by_test_id("error-message")).to_have_count(0)
    if not last:
        expect(page.get_by_test_id("my-submission")).to_be_visible()


def accept_from(page, power: str) -> None:
    """The host ticks the offer of ``power`` (the absorption room left drops by its share)."""
    row = page.locator(f"#received-table tbody tr[data-power={power}]").first
    box = row.locator("input[name=accept]")
    before = number(page, "absorption-left")
    box.check()
    used = float(box.get_attribute("data-absorption"))  # (the form's script runs on the click, before check returns)
    assert number(page, "absorption-left") == pytest.approx(before - used, abs=1e-3)


# ------------------------------------------------------------------------------ tests


def test_without_chromium_the_browser_tests_skip_with_the_reason_but_fail_under_ci(monkeypatch, tmp_path):
    missing = str(tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium at .*no-chromium"):
        require_browser(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set and the browser tests cannot run: no Chromium"):
        require_browser(missing)


def test_a_powers_form_shows_the_budget_left_and_refuses_a_size_out_of_bounds(server, new_page, shots):
    from playwright.sync_api import expect

    from strategy_abm.classroom.room import Room

    room = Room.create("baseline", overrides={"horizon_turns": "2"}, human_seats=("us",), title="Form check",
                       clock=server.classroom.clock)  # fmt: skip
    room.start(room.instructor_token)
    server.classroom.add(room)
    page = new_page()
    page.goto(f"{server.url}/rooms/{room.id}/seat/{room.seats['us'].token}")
    expect(page.get_by_test_id("decision-form")).to_be_visible()

    legal = legal_of(page)
    budget = number(page, "budget-total")
    assert budget == pytest.approx(legal["budget"], abs=0.005)
    assert number(page, "budget-left") == pytest.approx(budget, abs=0.005)
    move, spec, size = offer_for(legal, "kaz")
    page.get_by_test_id("move-0").select_option(move)
    page.get_by_test_id("host-0").select_option("kaz")
    size = (size + min(spec["targets"]["kaz"]["size_max"], spec["targets"]["kaz"]["room_max"])) / 2
    page.get_by_test_id("size-0").fill(f"{size:.3f}")
    # the budget left is the budget less the public cost (size x the move's public share), at once
    cost = round(size, 3) * spec["public_cost_share"]
    expect(page.get_by_test_id("budget-used")).not_to_have_text("0")
    assert number(page, "budget-used") == pytest.approx(cost, abs=1e-3)
    assert number(page, "budget-left") == pytest.approx(legal["budget"] - cost, abs=1e-3)
    expect(page.get_by_test_id("submit-decision")).to_be_enabled()
    expect(page.get_by_test_id("form-summary")).to_have_text("1 offer ready.")
    shots(page, "seat_power", docs=True)

    too_big = spec["targets"]["kaz"]["size_max"] * 2 + 1
    page.get_by_test_id("size-0").fill(f"{too_big:.3f}")
    expect(page.get_by_test_id("submit-decision")).to_be_disabled()
    expect(page.get_by_test_id("error-0")).to_contain_text("size must be between")
    expect(page.get_by_test_id("form-summary")).to_have_text("Fix the marked rows before submitting.")
    expect(page.get_by_test_id("size-0")).to_have_class("invalid")
    shots(page, "seat_power_out_of_bounds")

    page.get_by_test_id("size-0").fill(f"{size:.3f}")  # back in bounds: it may be sent again
    expect(page.get_by_test_id("submit-decision")).to_be_enabled()
    expect(page.get_by_test_id("error-0")).to_have_text("")


def test_an_instructor_and_three_students_play_three_turns_in_their_browsers(server, new_page, clock, shots):
    from playwright.sync_api import expect

    # --- the instructor creates the room on the home page
    teacher = new_page()
    teacher.goto(server.url + "/")
    expect(teacher.locator("body")).to_have_attribute("data-testid", "page-home")
    teacher.get_by_test_id("create-title").fill("Tuesday seminar")
    teacher.get_by_test_id("create-horizon").fill("3")
    for actor in ("us", "china", "kaz"):
        teacher.get_by_test_id(f"create-human-{actor}").check()
    teacher.get_by_test_id("create-submit").click()
    expect(teacher.locator("body")).to_have_attribute("data-testid", "page-instructor")
    expect(teacher.get_by_test_id("room-title")).to_have_text("Tuesday seminar")
    for actor in ("us", "china", "kaz"):
        expect(teacher.get_by_test_id(f"seat-row-{actor}")).to_have_attribute("data-human", "yes")
    expect(teacher.get_by_test_id("seat-row-g7")).to_have_attribute("data-human", "no")
    codes = {a: teacher.get_by_test_id(f"seat-code-{a}").inner_text().strip() for a in ("us", "china")}
    kaz_link = teacher.get_by_test_id("seat-link-kaz").get_attribute("href")
    shots(teacher, "instructor_lobby")

    # --- the students join: two by code on the home page, one by the link
    pages = {}
    for actor in ("us", "china"):
        page = new_page()
        page.goto(server.url + "/")
        page.get_by_test_id("join-code").fill(codes[actor].lower())  # typed in lower case: accepted
        page.get_by_test_id("join-submit").click()
        expect(page.locator("body")).to_have_attribute("data-testid", "page-seat")
        expect(page.get_by_test_id("seat-name")).to_have_attribute("data-actor", actor)
        pages[actor] = page
    pages["kaz"] = new_page()
    pages["kaz"].goto(server.url + kaz_link)
    expect(pages["kaz"].get_by_test_id("seat-name")).to_have_attribute("data-kind", "host")
    us, china, kaz = pages["us"], pages["china"], pages["kaz"]
    for page in pages.values():
        expect(page.get_by_test_id("room-status-text")).to_have_text("Waiting for the instructor to start")
        expect(page.get_by_test_id("decision-form")).to_have_count(0)
        page.evaluate("window.__notReloaded = true")  # gone if the page reloads

    # --- start: every seat page turns live (no reload) and the powers get their form
    teacher.get_by_test_id("start").click()
    expect(teacher.get_by_test_id("room-status")).to_have_attribute("data-status", "running")
    for page in pages.values():
        wait_phase(page, "1:offers:running")
        assert page.evaluate("window.__notReloaded") is True
    expect(kaz.get_by_test_id("not-deciding")).to_be_visible()  # a host waits while the powers offer

    # --- turn 1, offers: the US submits; the others' pages show it live
    us_move, us_size = compose_offer(us, "kaz")
    submit(us)
    for page in (china, kaz, teacher):
        expect(page.get_by_test_id("submitted-us")).to_have_attribute("data-submitted", "yes")
    expect(china.get_by_test_id("submitted-china")).to_have_attribute("data-submitted", "no")
    assert china.evaluate("window.__notReloaded") is True and kaz.evaluate("window.__notReloaded") is True
    compose_offer(china, "kaz")
    shots(china, "seat_power_turn1")
    submit(china, last=True)  # the last human of the phase: it resolves at once

    # --- turn 1, responses: the host sees the offers it received and what each would bring
    for page in pages.values():
        wait_phase(page, "1:responses:running")
    received = kaz.locator("#received-table tbody tr")
    powers = {row.get_attribute("data-power") for row in received.all()}
    assert {"us", "china"} <= powers
    us_row = kaz.locator("#received-table tbody tr[data-power=us]").first
    assert us_row.get_attribute("data-move") == us_move
    index = us_row.get_attribute("data-testid").split("-")[1]
    expect(kaz.get_by_test_id(f"brings-{index}")).to_contain_text("GDP")
    expect(kaz.get_by_test_id(f"brings-{index}")).to_contain_text("k jobs")
    expect(us.get_by_test_id("my-offers")).to_contain_text(f"{us_size:,.2f}")
    accept_from(kaz, "us")
    shots(kaz, "seat_host", docs=True)
    submit(kaz, last=True)
    for page in pages.values():
        wait_phase(page, "2:offers:running")
    expect(us.get_by_test_id("last-offers").locator("[data-accepted=yes]")).to_have_count(1)

    # the projector shows the public state (opened from the instructor's page)
    projector = teacher.context.new_page()
    projector.goto(server.url + teacher.get_by_test_id("projector-link").get_attribute("href"))
    expect(projector.get_by_test_id("projector-status")).to_have_attribute("data-status", "running")
    expect(projector.get_by_test_id("turn-text")).to_contain_text("turn 2 of 3")
    shots(projector, "projector", docs=True)

    # --- turn 2: the US submits, China misses the deadline: its AI decides, the log says so
    compose_offer(us, "kaz")
    submit(us)
    expect(china.get_by_test_id("submitted-us")).to_have_attribute("data-submitted", "yes")
    clock.now += 301  # the phase's 300 s are over; the server's ticker resolves it
    for page in pages.values():
        wait_phase(page, "2:responses:running")
    missed = "China missed the deadline: its AI decided"
    expect(china.get_by_test_id("seat-log")).to_contain_text(missed)
    expect(teacher.get_by_test_id("log")).to_contain_text(missed)
    expect(projector.get_by_test_id("public-log")).to_contain_text(missed)
    teacher.reload()  # (its countdown reads the server's time at page load, and the test's clock jumped)
    shots(teacher, "instructor", docs=True)
    accept_from(kaz, "us")
    submit(kaz, last=True)

    # --- turn 3: both powers offer, the host answers, the game ends by itself
    for page in pages.values():
        wait_phase(page, "3:offers:running")
    for page, last in ((us, False), (china, True)):
        compose_offer(page, "kaz")
        submit(page, last=last)
    wait_phase(kaz, "3:responses:running")
    accept_from(kaz, "china")
    submit(kaz, last=True)
    for page in pages.values():
        expect(page.get_by_test_id("game-over")).to_be_visible()
    expect(teacher.get_by_test_id("room-status")).to_have_attribute("data-status", "over")
    room = next(iter(server.classroom.rooms.values()))
    by = {t["turn"]: t["offers"]["china"]["by"] for t in room.export()["turns"]}
    assert by == {1: "human", 2: "timeout", 3: "human"}

    # --- the debrief: China's page says which deadline it missed; the class summary counts it
    china.get_by_test_id("debrief-link").click()
    expect(china.locator("h1")).to_have_text("China: debrief", timeout=DEBRIEF_MS)
    expect(china.locator("p.meta")).to_contain_text("they missed the deadline in turns 2 (its AI decided)")
    teacher.goto(server.url + teacher.get_by_test_id("debrief-link").get_attribute("href"))
    expect(teacher.locator("h1")).to_have_text("Debrief: Tuesday seminar", timeout=DEBRIEF_MS)
    seats = teacher.locator("h2:text-is('The seats') + table")
    expect(seats.locator("tr.human")).to_have_count(3)
    expect(seats.locator("tr.human", has_text="China").locator("td").nth(4)).to_have_text("1")  # deadlines missed
    expect(seats.locator("tr.human", has_text="The US").locator("td").nth(4)).to_have_text("0")
    shots(teacher, "debrief", docs=True)
    shots(china, "debrief_china")
