"""Load benchmark of the classroom web app: many rooms played at once on loopback.

A real uvicorn server (``strategy-abm serve``'s app, rooms saved to SQLite in a temporary folder)
runs in a subprocess on 127.0.0.1 with its per-client rate limit raised (every simulated browser
shares the address 127.0.0.1, which the default limit of 20 requests/s would throttle: the
benchmark measures the server, not its limiter). Then, concurrently (asyncio, one httpx2 client per
simulated browser, its own cookies and connections):

- an instructor per room creates it through the home page's form (``--rooms``, default 10; seats
  ``--humans``, default the US and China, powers, and Kazakhstan and Uzbekistan, hosts;
  ``--turns`` turns, default 5), reads the join links from the instructor page and starts it, then
  follows the room as its page does: an event stream (SSE) and the instructor panel fragment on
  every update; a projector page per room does the same with its panel;
- each human seat opens its page (and the page's static files, once), holds the room's event
  stream, fetches its status fragment on every update and its decision fragment when the phase
  changes, and submits a decision when it has one to make (a power: one offer to "its" host at
  the move's smallest size, from the bounds in the form; a host: the first offer that fits its
  limits), then reloads its page as the browser does after the form's redirect.

Rooms resolve when their people have submitted, so the load is as fast as the server answers:
the worst case of a class clicking at once. It stops by itself when every room is over, and in
any case after ``--max-requests`` requests or ``--timeout`` seconds (then it says so and exits 1).

It reports the number of requests and the median and 95th-percentile response time (request sent
to body read, on the client) per request kind and overall, against the target: p95 under 300 ms.
Event streams are long-lived and not timed; their count is shown. ``--profile FILE`` runs the
server under cProfile and prints where its time went.

Usage: ``python benchmarks/bench_classroom.py [--rooms 10] [--turns 5] [--json PATH] [--profile FILE]``
(needs the ``test`` extra: httpx2).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

TARGET_P95_MS = 300.0
HUMANS = ("us", "china", "kaz", "uzb")
# Each human power offers to one host; the human hosts are among them, so they have offers to answer.
HOST_OF = {"us": "kaz", "china": "uzb", "g7": "kaz", "russia": "uzb"}
STATIC = (
    "/static/classroom.css",
    "/static/classroom.js",
    "/static/seat.js",
    "/static/vendor/htmx-2.0.11.min.js",
    "/static/vendor/htmx-ext-sse-2.2.4.min.js",
)
BENCH_RATE = 1e6  # the server's rate limit during the benchmark (requests/s and burst per client)


# ---------------------------------------------------------------------------- the server


def serve(port_file: Path, data: Path, profile: Path | None) -> None:
    """The server process: the app on 127.0.0.1 (a free port, written to ``port_file``), until
    SIGINT; with ``profile``, the process's cProfile stats are written there."""
    import cProfile

    import uvicorn

    from strategy_abm.classroom.app import create_app
    from strategy_abm.classroom.security import Limits
    from strategy_abm.classroom.server import bind

    app = create_app(data_dir=data, limits=Limits(rate=BENCH_RATE, burst=BENCH_RATE))
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    profiler = cProfile.Profile() if profile else None
    port_file.write_text(str(sock.getsockname()[1]))
    if profiler:
        profiler.enable()
    try:  # uvicorn re-raises the SIGINT it stopped on after its shutdown
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)


def start_server(workdir: Path, profile: Path | None) -> tuple[subprocess.Popen, str]:
    port_file = workdir / "port"
    cmd = [sys.executable, __file__, "--serve", str(port_file), "--data", str(workdir / "data")]
    if profile:
        cmd += ["--profile", str(profile)]
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 120  # a first run compiles the game's kernels
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("bench_classroom: the server did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


# ---------------------------------------------------------------------------- the clients


class Budget(Exception):
    """The benchmark's bound on requests was reached."""


class Load:
    """Timings of every request, by kind, and the bound on their number."""

    def __init__(self, base: str, max_requests: int):
        self.base, self.max_requests = base, max_requests
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.count = 0
        self.streams = 0

    def client(self):
        import httpx2

        return httpx2.AsyncClient(base_url=self.base, timeout=60.0, follow_redirects=False)

    async def request(self, client, kind: str, method: str, path: str, **kw):
        if self.count >= self.max_requests:
            raise Budget
        self.count += 1
        t0 = time.perf_counter()
        r = await client.request(method, path, **kw)
        self.times[kind].append(time.perf_counter() - t0)
        if r.status_code >= 400:
            self.errors[f"{kind} {r.status_code}"] += 1
        return r

    async def updates(self, client, path: str, on_update) -> None:
        """Hold the room's event stream; ``await on_update()`` after each update (one at a
        time: updates that arrive meanwhile are folded into the next call, as htmx does)."""
        self.streams += 1
        pending = asyncio.Event()
        pending.set()  # the page's first state
        done = False

        async def reader():
            nonlocal done
            async with client.stream("GET", path, timeout=None) as r:
                async for line in r.aiter_lines():
                    if line.startswith("event: update"):
                        pending.set()
            done = True
            pending.set()

        task = asyncio.create_task(reader())
        try:
            while True:
                await pending.wait()
                pending.clear()
                if done or await on_update():
                    return
        finally:
            task.cancel()


def _attr(text: str, name: str) -> str | None:
    m = re.search(rf'{name}="([^"]*)"', text)
    return html.unescape(m.group(1)) if m else None


def _hidden(text: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', text).group(1))


def decision_of(actor: str, fragment: str) -> dict:
    """The form fields a student would send: a power, one offer to its host (or none if no move
    may go there); a host, the first offer that fits its limits."""
    legal = json.loads(_attr(fragment, "data-legal"))
    fields = {"csrf": _hidden(fragment, "csrf"), "actor": actor, "phase_key": _hidden(fragment, "phase_key")}
    if legal["kind"] == "power":
        host = HOST_OF[actor]
        for move, spec in legal["moves"].items():
            target = spec["targets"].get(host)
            if (
                target
                and spec["size_min"] <= min(target["size_max"], target["room_max"])
                and (spec["size_min"] * spec["public_cost_share"] <= legal["budget"])
            ):
                fields |= {"move_0": move, "host_0": host, "size_0": repr(spec["size_min"])}
                break
        return fields
    for m in re.finditer(r'name="accept" value="([^"]*)"[^>]*data-absorption="([^"]*)" data-debt="([^"]*)"', fragment):
        if float(m.group(2)) <= legal["absorption_room"] and float(m.group(3)) <= legal["debt_room"]:
            fields["accept"] = html.unescape(m.group(1))
            break
    return fields


async def seat(load: Load, room_id: str, actor: str, path: str) -> int:
    """One student's browser: returns the decisions it submitted."""
    submitted = 0
    async with load.client() as c:
        await load.request(c, "seat page", "GET", path)
        for name in STATIC:  # once: the browser caches them
            await load.request(c, "static file", "GET", name)
        drawn = None  # the phase its decision panel was drawn for

        async def on_update() -> bool:
            nonlocal drawn, submitted
            status = (await load.request(c, "seat status", "GET", f"{path}/status")).text
            key = _attr(status, "data-phase-key")
            if key == drawn:
                return False
            drawn = key
            fragment = (await load.request(c, "seat decision", "GET", f"{path}/decision")).text
            if 'data-testid="game-over"' in fragment:
                return True
            if 'data-testid="decision-form"' in fragment and 'data-testid="my-submission"' not in status:
                r = await load.request(c, "submit", "POST", f"{path}/submit", data=decision_of(actor, fragment))
                if r.status_code == 303:
                    submitted += 1
                    await load.request(c, "seat page", "GET", path)  # the redirect back to the page
            return False

        await load.updates(c, f"/rooms/{room_id}/events", on_update)
    return submitted


async def watcher(load: Load, room_id: str, page: str, panel: str, kind: str) -> None:
    """An instructor's or a projector's page: the panel fragment on every update, until the room
    is over."""
    async with load.client() as c:
        await load.request(c, f"{kind} page", "GET", page)

        async def on_update() -> bool:
            text = (await load.request(c, f"{kind} panel", "GET", panel)).text
            return 'data-status="over"' in text

        await load.updates(c, f"/rooms/{room_id}/events", on_update)


async def room(load: Load, index: int, humans: tuple[str, ...], turns: int) -> dict:
    """An instructor creates a room, starts it and follows it; its students play it."""
    async with load.client() as c:
        await load.request(c, "home page", "GET", "/")
        form = {
            "csrf": c.cookies["sabm_csrf"],
            "scenario": "baseline",
            "title": f"bench room {index}",
            "seed": str(index),
            "horizon_turns": str(turns),
            "phase_minutes": "5",
            "human": list(humans),
        }
        r = await load.request(c, "create room", "POST", "/rooms", data=form)
        if r.status_code != 303:
            raise SystemExit(f"bench_classroom: creating a room failed: {r.status_code} {r.text[:200]}")
        instructor = r.headers["location"]
        room_id = instructor.split("/")[2]
        page = (await load.request(c, "instructor page", "GET", instructor)).text
        links = {a: re.search(rf'href="([^"]*)" id="seat-link-{a}"', page).group(1) for a in humans}
        csrf = _hidden(page, "csrf")
        students = [asyncio.create_task(seat(load, room_id, a, links[a])) for a in humans]
        await asyncio.sleep(0.2)  # the students open their pages before the game starts
        r = await load.request(c, "instructor action", "POST", f"{instructor}/start", data={"csrf": csrf})
        assert r.status_code == 303, r.text[:200]
    views = [
        watcher(load, room_id, instructor, f"{instructor}/panel", "instructor"),
        watcher(load, room_id, f"/rooms/{room_id}/projector", f"/rooms/{room_id}/projector/panel", "projector"),
    ]
    await asyncio.gather(*views)
    decisions = await asyncio.gather(*students)
    return {"room": room_id, "decisions": dict(zip(humans, decisions, strict=True))}


async def run_load(load: Load, rooms: int, humans: tuple[str, ...], turns: int, timeout: float) -> list[dict]:
    tasks = [asyncio.create_task(room(load, i, humans, turns)) for i in range(rooms)]
    try:
        return await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    except (TimeoutError, Budget) as exc:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        what = f"{timeout:g} s" if isinstance(exc, TimeoutError) else f"{load.max_requests} requests"
        raise SystemExit(f"bench_classroom: stopped at the bound of {what} before every room was over") from None


# ---------------------------------------------------------------------------- the report


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``, in ms."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def summary(load: Load) -> dict:
    rows = {k: v for k, v in sorted(load.times.items())}
    every = [x for v in rows.values() for x in v]
    out = {
        kind: {"n": len(v), "median_ms": 1000 * statistics.median(v), "p95_ms": pct(v, 95), "max_ms": 1000 * max(v)}
        for kind, v in rows.items()
    }
    out["overall"] = {
        "n": len(every),
        "median_ms": 1000 * statistics.median(every),
        "p95_ms": pct(every, 95),
        "max_ms": 1000 * max(every),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10, help="rooms played at once (default 10)")
    parser.add_argument("--turns", type=int, default=5, help="turns each room plays (default 5)")
    parser.add_argument("--humans", default=",".join(HUMANS), help="human seats of each room (default %(default)s)")
    parser.add_argument("--max-requests", type=int, default=50_000, help="hard cap on requests (default 50000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="hard cap on seconds (default 600)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the server under cProfile, write its stats to FILE and print the top functions",
    )
    parser.add_argument("--top", type=int, default=30, help="rows of the profile table (default 30)")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.data, args.profile)
        return 0
    humans = tuple(a.strip() for a in args.humans.split(",") if a.strip())
    for name, value in (("--rooms", args.rooms), ("--turns", args.turns), ("--max-requests", args.max_requests)):
        if value < 1:
            parser.error(f"argument {name}: must be at least 1")
    unknown = set(humans) - {*HOST_OF, "kaz", "uzb", "kgz", "tjk", "tkm"}
    if unknown:
        parser.error(f"argument --humans: not a seat: {', '.join(sorted(unknown))}")

    import strategy_abm

    print(
        f"strategy_abm {strategy_abm.__version__}, Python {platform.python_version()}, {platform.machine()} "
        f"({platform.system()}), {os.cpu_count()} CPUs; load average at the start {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{args.rooms} rooms x {len(humans)} human seats ({', '.join(humans)}), {args.turns} turns each, at once; "
        f"server on 127.0.0.1 in its own process, rate limit raised to {BENCH_RATE:g}/s for the benchmark"
    )
    with tempfile.TemporaryDirectory(prefix="bench_classroom_") as tmp:
        proc, base = start_server(Path(tmp), args.profile)
        try:
            # Warm-up, not timed: the server's first room loads the game's compiled kernels (about
            # a second, once per server process), which would queue the whole first burst behind it.
            asyncio.run(run_load(Load(base, args.max_requests), 1, humans[:1], 1, args.timeout))
            load = Load(base, args.max_requests)
            t0 = time.perf_counter()
            rooms = asyncio.run(run_load(load, args.rooms, humans, args.turns, args.timeout))
            wall = time.perf_counter() - t0
        finally:
            proc.send_signal(signal.SIGINT)  # (Ctrl-C: a graceful stop, the profile written)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    load_end = os.getloadavg()[0]
    stats = summary(load)
    decisions = sum(sum(r["decisions"].values()) for r in rooms)
    print(
        f"{len(rooms)} rooms played to the end in {wall:.1f} s: {load.count} requests ({load.count / wall:.0f}/s), "
        f"{decisions} decisions submitted, {load.streams} event streams held; load average at the end {load_end:.2f}"
    )
    if load.errors:
        print("errors: " + ", ".join(f"{k} x{n}" for k, n in sorted(load.errors.items())))
    print(f"\n{'request kind':<20}{'n':>7}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for kind, s in stats.items():
        if kind == "overall":
            print("-" * 56)
        print(f"{kind:<20}{s['n']:>7}{s['median_ms']:>11.1f}{s['p95_ms']:>9.1f}{s['max_ms']:>9.1f}")
    p95 = stats["overall"]["p95_ms"]
    verdict = "meets target" if p95 < TARGET_P95_MS else "MISSES target"
    print(f"\np95 over every request = {p95:.0f} ms   (target < {TARGET_P95_MS:g} ms: {verdict})")
    if args.profile:
        import pstats

        print(f"\nserver profile ({args.profile}), top {args.top} by cumulative time:")
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(args.top)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "rooms": args.rooms,
            "turns": args.turns,
            "humans": list(humans),
            "wall_s": wall,
            "requests": load.count,
            "decisions": decisions,
            "streams": load.streams,
            "errors": dict(load.errors),
            "load_end": load_end,
            "stats": stats,
            "target_p95_ms": TARGET_P95_MS,
        }
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if not load.errors else 1


if __name__ == "__main__":
    sys.exit(main())
