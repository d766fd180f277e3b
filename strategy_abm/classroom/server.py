"""Running the web app: ``strategy-abm serve`` (a class) and ``strategy-abm play`` (one person).

The socket is bound here, before the server starts, so that a port taken or a host that is not
an address of this machine is a one-line error (exit 2) and ``--port 0`` can print the port the
system chose."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import webbrowser
from pathlib import Path

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
PLAY_PHASE_SECONDS = 24 * 3600.0  # one player at home: no one waits for them, so no real deadline


class ServeError(Exception):
    """A bad --host/--port (one line; the CLI exits 2)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """The one-line warning ``serve`` prints for a host other than loopback, else None."""
    if is_loopback(host):
        return None
    return (
        f"strategy-abm: warning: --host {host} opens the classroom to the network: anyone on the class "
        "network who can reach this machine can open it (join links and codes are the only keys)"
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); ServeError naming the problem."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"argument --host: {host!r} is not an address of this machine ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ServeError(f"argument --port: cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def run(app, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C (uvicorn; its access log off, errors logged)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def serve(host: str, port: int, data: Path | None, *, rate: float | None = None) -> int:
    """Serve every room of the store in ``data`` on ``host:port`` until stopped. ``rate``: requests a
    second each client address may make (bursts of six times as many; default Limits.rate)."""
    from .app import create_app
    from .security import Limits
    from .store import Store, default_path

    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    path = (data / "classroom.sqlite3") if data is not None else default_path()
    limits = Limits() if rate is None else Limits(rate=rate, burst=6 * rate)
    app = create_app(store=Store(path), limits=limits)  # loads every saved room (a damaged file: one-line error)
    sock = bind(host, port)
    print(f"classroom: {url_of(sock, host)}/ (rooms saved in {path}); Ctrl-C stops", flush=True)
    run(app, sock)
    return 0


def play(actor: str, scenario: str, seed: int, port: int, browser: bool, data: Path | None = None) -> int:
    """One human seat (``actor``), every other seat played by its AI, on a local server."""
    from .app import create_app
    from .room import Room
    from .store import Store, default_path

    path = (data / "classroom.sqlite3") if data is not None else default_path()
    app = create_app(store=Store(path))
    classroom = app.state.classroom
    room = Room.create(scenario, seed=seed, human_seats=(actor,), phase_seconds=PLAY_PHASE_SECONDS,
                       title=f"{actor}, playing alone", clock=classroom.clock)  # fmt: skip
    room.start(room.instructor_token)
    classroom.add(room)
    sock = bind("127.0.0.1", port)
    base = url_of(sock, "127.0.0.1")
    seat = room.seats[actor]
    url = f"{base}/rooms/{room.id}/seat/{seat.token}"
    print(f"play {actor}: {url}", flush=True)
    print(f"controls (pause, branch, end, debrief): {base}/rooms/{room.id}/instructor/{room.instructor_token}")
    if browser:
        webbrowser.open(url)
    run(app, sock)
    return 0
