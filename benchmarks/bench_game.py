"""Benchmark: a full 40-turn baseline game against a bare Mesa 3.3.1 model of the same shape.

(a) ``CompetitionModel(scenario="baseline", seed=0).run()``: construction plus 40 turns, with
    the model's data collection (model and agent-type reporters), as a user runs it.
(b) A bare ``mesa.Model`` with nine do-nothing agents, the same number of turns and as many model
    reporters as ``CompetitionModel`` (``len(strategy_abm.engine.metrics.METRIC_COLUMNS)``), each a
    function returning a float attribute; it collects at init and after each step (the Mesa
    convention), so (b) is the cost of the Mesa machinery alone.

(c) The same game on the bulk path (``strategy_abm.sim.bulk.BulkPlan``: compiled rules and
    strategy kernels, the metrics of the last turn recorded, no event log), as sweeps play it.

The three are interleaved (round r runs a, b, c; round r+1 c, b, a) so that drift of the machine
affects all alike. The report gives medians and ``ratio = median(a) / median(b)``: how many times
a bare Mesa loop of the same size the game costs (target <= 5), the bulk path's ratio (target
<= 1) and its games per second on one core. ``--compile`` adds the first-run compile time (empty
cache, in a fresh process) and the cached start-up time.

The first game of the process is timed on its own ("cold": it loads and validates the scenario
file, which is then cached) and is not part of the medians. A breakdown of (a) by timing
wrappers (construction, rules, metrics, ``DataCollector.collect``) and, unless
``--profile-games 0``, a cProfile table of the top functions by cumulative time follow.

Usage: ``python benchmarks/bench_game.py [--rounds 30] [--json PATH] [--profile-games 20] [--sort tottime]``
(``make bench`` runs it with the defaults). ``--check`` exits 1 when the ratio is above target.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import mesa

import strategy_abm
from strategy_abm.engine.metrics import METRIC_COLUMNS
from strategy_abm.sim.model import CompetitionModel

TARGET_RATIO = 5.0
BULK_TARGET_RATIO = 1.0
SCENARIO = "baseline"
SEED = 0
N_AGENTS = 9  # four powers and five hosts


# ---------------------------------------------------------------------------- (a) the game


_CPU: dict[str, list[float]] = {"a": [], "b": [], "c": []}  # each timed game's CPU seconds (process_time)


def full_game(seed: int = SEED) -> float:
    """Seconds to construct and play a baseline game to its horizon (with data collection)."""
    c0, t0 = time.process_time(), time.perf_counter()
    model = CompetitionModel(scenario=SCENARIO, seed=seed)
    model.run()
    elapsed = time.perf_counter() - t0
    _CPU["a"].append(time.process_time() - c0)
    _release(model)
    return elapsed


def game_turns() -> int:
    model = CompetitionModel(scenario=SCENARIO, seed=SEED)
    turns = model.horizon
    _release(model)
    return turns


# ---------------------------------------------------------------------------- (b) bare Mesa


class IdleAgent(mesa.Agent):
    """Does nothing."""

    def step(self) -> None:
        pass


def _attr_reader(name: str):
    def read(model):
        return getattr(model, name)

    read.__name__ = f"read_{name}"
    return read


class BareModel(mesa.Model):
    """Nine idle agents, ``n_reporters`` float model reporters, collect at init and each step."""

    def __init__(self, *, seed: int = SEED, turns: int = 40, n_reporters: int = len(METRIC_COLUMNS)):
        super().__init__(seed=seed)
        self.turns = turns
        self.turn = 0
        for _ in range(N_AGENTS):
            IdleAgent(self)
        names = [f"x{i}" for i in range(n_reporters)]
        for i, name in enumerate(names):
            setattr(self, name, float(i))
        self.datacollector = mesa.DataCollector(model_reporters={n: _attr_reader(n) for n in names})
        self.datacollector.collect(self)

    def step(self) -> None:
        self.turn += 1
        self.agents.shuffle_do("step")
        self.datacollector.collect(self)
        if self.turn >= self.turns:
            self.running = False


# ---------------------------------------------------------------------------- (c) the bulk path


def bulk_game(plan, seed: int = SEED) -> float:
    """Seconds to play a baseline game on the bulk path (compiled rules and strategy kernels),
    recording the metrics of its last turn (as a sweep does); the plan is built once per scenario."""
    c0, t0 = time.process_time(), time.perf_counter()
    plan.play(seed)
    elapsed = time.perf_counter() - t0
    _CPU["c"].append(time.process_time() - c0)
    return elapsed


def compile_times() -> dict[str, float]:
    """Seconds from a fresh process to the first bulk game's metrics: with an empty compile cache
    (the first run on a machine: compiles every kernel) and with the cache that run left."""
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    code = ("import time; t = time.perf_counter(); from strategy_abm.sim.bulk import BulkPlan; "
            "BulkPlan('baseline').play(0); print(time.perf_counter() - t)")  # fmt: skip
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "STRATEGY_ABM_CACHE": cache}
        env.pop("NUMBA_CACHE_DIR", None)
        for label in ("first_run_s", "cached_start_s"):
            run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            out[label] = float(run.stdout.strip().splitlines()[-1])
    return out


def bare_game(turns: int) -> float:
    c0, t0 = time.process_time(), time.perf_counter()
    model = BareModel(turns=turns)
    while model.running:
        model.step()
    elapsed = time.perf_counter() - t0
    _CPU["b"].append(time.process_time() - c0)
    _release(model)
    return elapsed


def _release(model) -> None:
    """Mesa 3.3.1 keeps every model alive in ``Agent._ids`` (mesa-notes): drop it, as a batch should."""
    mesa.Agent._ids.pop(model, None)


# ---------------------------------------------------------------------------- breakdown of (a)


class _Timer:
    """Wraps a callable and adds up the seconds spent in it, less those of the timers it calls
    (each second is counted once, in the innermost timer)."""

    _running: list[_Timer] = []

    def __init__(self, func):
        self.func = func
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        outer = _Timer._running[-1] if _Timer._running else None
        _Timer._running.append(self)
        try:
            return self.func(*args, **kwargs)
        finally:
            _Timer._running.pop()
            elapsed = time.perf_counter() - t0
            self.seconds += elapsed
            if outer is not None:
                outer.seconds -= elapsed
            self.calls += 1


def breakdown(games: int) -> dict[str, float]:
    """Seconds per game in construction, each phase of the game's turn and DataCollector.collect,
    timed by wrappers on the ``Game`` methods (``_open``: events and budgets; a turn played whole
    in compiled code: the compiled turn (decisions and rules), ``_resolve_compiled`` (its records:
    ledgers, event log, report); a turn played phase by phase: ``_offers``, ``_responses``
    (decisions, the turn report and the event log), ``_commit`` .. ``_influence`` (the compiled
    rules), ``_update_metrics`` (payoffs); ``_metrics_after_rules``: the metric registry;
    ``actor_record``: the actors' records the DataCollector reads). Each second counts once, in
    the innermost wrapper."""
    from strategy_abm.engine import turn as turn_module  # noqa: PLC0415
    from strategy_abm.engine.turn import Game  # noqa: PLC0415

    phases = ("_open", "_offers", "_responses", "_commit", "_progress", "_economy", "_trade", "_influence",
              "_update_metrics", "_resolve_compiled", "_metrics_after_rules", "actor_record")  # fmt: skip
    timers = {name: _Timer(getattr(Game, name)) for name in phases}
    whole = _Timer(turn_module._COMPILED_TURNS[0]) if turn_module._COMPILED_TURNS else None
    from strategy_abm.sim.reporters import GameCollector  # noqa: PLC0415

    collect = _Timer(mesa.DataCollector.collect)
    own_collect = _Timer(GameCollector.collect)
    construct_s = total_s = 0.0
    for name, timer in timers.items():
        setattr(Game, name, lambda self, *a, _t=timer: _t(self, *a))
    if whole is not None:
        turn_module._COMPILED_TURNS[:] = [whole]
    mesa.DataCollector.collect = lambda self, model: collect(self, model)
    GameCollector.collect = lambda self, model: own_collect(self, model)
    try:
        every = [*timers.values(), collect, own_collect, *([whole] if whole is not None else [])]
        for _ in range(games):
            counted = sum(t.seconds for t in every)
            t0 = time.perf_counter()
            model = CompetitionModel(scenario=SCENARIO, seed=SEED)
            t1 = time.perf_counter()
            # (construction's own time: its metrics and first collect count in their wrappers)
            construct_s += t1 - t0 - (sum(t.seconds for t in every) - counted)
            model.run()
            total_s += time.perf_counter() - t0
            _release(model)
    finally:
        mesa.DataCollector.collect = collect.func
        GameCollector.collect = own_collect.func
        for name, timer in timers.items():
            setattr(Game, name, timer.func)
        if whole is not None:
            turn_module._COMPILED_TURNS[:] = [whole.func]
    parts = {"construct (its own: metrics and first collect below)": construct_s}
    if whole is not None:
        parts["compiled turn (decisions and rules)"] = whole.seconds
    parts.update({f"Game.{name}": t.seconds for name, t in timers.items()})
    parts["GameCollector.collect (the model's DataCollector)"] = own_collect.seconds
    parts["mesa.DataCollector.collect (when reporters changed)"] = collect.seconds
    parts["the rest of step"] = total_s - sum(parts.values())
    return {k: v / games for k, v in parts.items()}


def profile(games: int, top: int, sort: str = "cumulative") -> tuple[str, list[dict]]:
    """cProfile of ``games`` warm games: the text table and the top rows by ``sort`` time."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(games):
        model = CompetitionModel(scenario=SCENARIO, seed=SEED)
        model.run()
        _release(model)
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for func, (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        filename, line, name = func
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({name})" if line else name,
                "ncalls": ncalls,
                "tottime_s": tottime,
                "cumtime_s": cumtime,
            }
        )
    key = "cumtime_s" if sort == "cumulative" else "tottime_s"
    rows.sort(key=lambda r: -r[key])
    total = stats.total_tt
    lines = [f"{'cum s':>8} {'cum %':>6} {'own s':>8} {'own %':>6} {'calls':>9}  function"]
    for r in rows[:top]:
        lines.append(
            f"{r['cumtime_s']:>8.3f} {100 * r['cumtime_s'] / total:>5.1f}% {r['tottime_s']:>8.3f} "
            f"{100 * r['tottime_s'] / total:>5.1f}% {r['ncalls']:>9}  {r['function']}"
        )
    return "\n".join(lines), rows[:top]


def _short(filename: str) -> str:
    for marker in ("strategy_abm", "site-packages", "lib/python"):
        if marker in filename:
            return filename[filename.index(marker) :].removeprefix("site-packages/")
    return os.path.basename(filename)


# ---------------------------------------------------------------------------- main


def _stats(xs: list[float]) -> dict[str, float]:
    q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
    return {"median": statistics.median(xs), "min": min(xs), "q1": q[0], "q3": q[2], "n": len(xs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds of (a) and (b) (default 30)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--breakdown-games", type=int, default=10, help="games timed with wrappers (default 10)")
    parser.add_argument("--profile-games", type=int, default=20, help="games under cProfile; 0 skips (default 20)")
    parser.add_argument("--top", type=int, default=25, help="rows of the cProfile table (default 25)")
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative",
                        help="order of the cProfile table: cumulative (default) or own time")  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio is above the target")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time a first run (empty compile cache) and a cached start (two processes)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    # Cold: the process's first game loads and validates the scenario file (then cached).
    cold = full_game()
    turns = game_turns()
    bare_game(turns)  # warm-up of (b), untimed

    from strategy_abm.sim.bulk import BulkPlan  # noqa: PLC0415

    plan = BulkPlan(SCENARIO)
    bulk_game(plan)  # compiles, or loads the kernels from the cache: untimed

    a_times: list[float] = []
    b_times: list[float] = []
    c_times: list[float] = []
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for cpu in _CPU.values():
        cpu.clear()
    for r in range(args.rounds):
        order = ("a", "b", "c") if r % 2 == 0 else ("c", "b", "a")
        for which in order:
            gc.collect()
            if which == "a":
                a_times.append(full_game())
            elif which == "b":
                b_times.append(bare_game(turns))
            else:
                c_times.append(bulk_game(plan, seed=r))

    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    a, b, c = _stats(a_times), _stats(b_times), _stats(c_times)
    ratio = a["median"] / b["median"]
    bulk_ratio = c["median"] / b["median"]
    cpu = {k: statistics.median(v) for k, v in _CPU.items()}
    cpu_ratio, cpu_bulk_ratio = cpu["a"] / cpu["b"], cpu["c"] / cpu["b"]
    games_per_s = 1.0 / c["median"]
    compiled = compile_times() if args.compile else {}
    parts = breakdown(args.breakdown_games) if args.breakdown_games > 0 else {}
    prof_text, prof_rows = profile(args.profile_games, args.top, args.sort) if args.profile_games > 0 else ("", [])

    ms = 1000.0
    print(f"strategy_abm {strategy_abm.__version__}, mesa {mesa.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()} ({platform.processor() or platform.system()})")  # fmt: skip
    print(f"{args.rounds} interleaved rounds; {turns} turns; {len(METRIC_COLUMNS)} model reporters; {N_AGENTS} agents; "
          f"1-minute load average {load_start:.2f} at the start, {load_end:.2f} at the end")  # fmt: skip
    print()
    print(f"{'':<44}{'median ms':>10}{'q1 ms':>9}{'q3 ms':>9}{'min ms':>9}")
    rows = [
        (f"(a) {SCENARIO} game, cold first game", {"median": cold, "q1": cold, "q3": cold, "min": cold}),
        (f"(a) {SCENARIO} game, warm (construct + run)", a),
        ("(b) bare Mesa model, same shape", b),
        (f"(c) {SCENARIO} game, bulk path", c),
    ]
    for label, s in rows:
        print(f"{label:<44}{s['median'] * ms:>10.2f}{s['q1'] * ms:>9.2f}{s['q3'] * ms:>9.2f}{s['min'] * ms:>9.2f}")
    verdict = "meets" if ratio <= TARGET_RATIO else "ABOVE"
    print()
    print(f"ratio median(a) / median(b) = {ratio:.1f}   (target <= {TARGET_RATIO:g}: {verdict} target)")
    bulk_verdict = "meets" if bulk_ratio <= BULK_TARGET_RATIO else "ABOVE"
    print(f"ratio median(c) / median(b) = {bulk_ratio:.2f}  (bulk path; target <= {BULK_TARGET_RATIO:g}: "
          f"{bulk_verdict} target)")  # fmt: skip
    print(
        f"the same on CPU time (process_time: less disturbed by other jobs): (a) {cpu['a'] * ms:.2f} ms, "
        f"(b) {cpu['b'] * ms:.2f} ms, (c) {cpu['c'] * ms:.2f} ms; ratios {cpu_ratio:.1f} and {cpu_bulk_ratio:.2f}"
    )
    print(f"bulk path: {games_per_s:.0f} games/s per core ({turns}-turn {SCENARIO} games, one process)")
    if compiled:
        print(f"compile: first run {compiled['first_run_s']:.1f} s (empty cache), "
              f"cached start {compiled['cached_start_s']:.2f} s (import, load kernels, one game)")  # fmt: skip
    if parts:
        total = sum(parts.values())
        print()
        print(f"where (a)'s time goes (timing wrappers, mean of {args.breakdown_games} games):")
        for label, sec in parts.items():
            print(f"  {label:<54}{sec * ms:>9.2f} ms {100 * sec / total:>6.1f}%")
        print(f"  {'total':<54}{total * ms:>9.2f} ms")
    if prof_text:
        print()
        order = "own" if args.sort == "tottime" else "cumulative"
        print(f"cProfile of {args.profile_games} warm games, top {args.top} by {order} time "
              "(profiling slows the game; read shares, not absolute times):")  # fmt: skip
        print(prof_text)

    if args.json:
        result = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "processor": platform.processor(),
                "cpus": os.cpu_count(),
            },
            "versions": {"strategy_abm": strategy_abm.__version__, "mesa": mesa.__version__},
            "rounds": args.rounds,
            "turns": turns,
            "model_reporters": len(METRIC_COLUMNS),
            "cold_game_s": cold,
            "game_s": a | {"samples": a_times},
            "bare_mesa_s": b | {"samples": b_times},
            "ratio": ratio,
            "cpu_median_s": cpu,
            "cpu_ratio": cpu_ratio,
            "cpu_bulk_ratio": cpu_bulk_ratio,
            "load_average": [load_start, load_end],
            "bulk_s": c | {"samples": c_times},
            "bulk_ratio": bulk_ratio,
            "bulk_target_ratio": BULK_TARGET_RATIO,
            "bulk_games_per_s_per_core": games_per_s,
            "compile_s": compiled,
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio <= TARGET_RATIO,
            "breakdown_s_per_game": parts,
            "profile_top": prof_rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nresults: {args.json}")
    return 1 if args.check and (ratio > TARGET_RATIO or bulk_ratio > BULK_TARGET_RATIO) else 0


if __name__ == "__main__":
    sys.exit(main())
