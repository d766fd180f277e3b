"""Helpers the command-line tests share: run ``strategy-abm`` in-process and read its one-line
errors."""

from __future__ import annotations

import contextlib
import io
import os

from strategy_abm.cli import main as cli_main

PREFIX = "strategy-abm: error: "


def run_cli(*argv: str | os.PathLike) -> tuple[int, str, str]:
    """``strategy-abm ARGV`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def one_error_line(stderr: str) -> str:
    """The single line on stderr, which must be ``strategy-abm: error: ...`` with no traceback."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    assert lines[0].startswith(PREFIX) and "Traceback" not in stderr, lines[0]
    return lines[0]


def sweep_ok(experiment: str | os.PathLike, out: str | os.PathLike, *extra: str) -> str:
    """``strategy-abm sweep EXPERIMENT --out OUT --quiet EXTRA``, which must succeed; its stdout."""
    code, stdout, stderr = run_cli("sweep", experiment, "--out", out, "--quiet", *extra)
    assert code == 0, stderr
    return stdout


def tell_seed(monkeypatch, strategy_class: type) -> None:
    """Strategies do not see their game's seed (an observation holds what the actor may know):
    for tests whose strategy must misbehave on chosen seeds, every ``Game`` built from now on (in
    this process and in workers forked from it) sets ``seed`` on its actors' strategies of
    ``strategy_class``."""
    from strategy_abm.engine.turn import Game

    original = Game.__init__

    def init(self, scenario, seed, **kwargs):
        original(self, scenario, seed, **kwargs)
        for state in (*self.powers.values(), *self.hosts.values()):
            if isinstance(state.strategy, strategy_class):
                state.strategy.seed = seed

    monkeypatch.setattr(Game, "__init__", init)
