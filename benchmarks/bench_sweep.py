"""Benchmark: a sweep of baseline games three ways (mesa.batch_run, this runner with 1 and 2 workers).

One invocation plays ``--runs`` (default 400) baseline games of 40 turns, recording final metrics, in
three ways, each in its own subprocess so that its time and memory are measured alone:

(1) ``mesa.batch_run(CompetitionModel, {"seed": [0 .. N-1], "scenario": ["baseline"]}, max_steps=40,
    number_processes=1, data_collection_period=-1, display_progress=False)``;
(2) this project's runner, ``strategy-abm sweep <exp> --workers 1 --quiet --out <tmp>``, on a generated
    experiment file: the baseline scenario, ``horizon_turns = 40``, N replications of one design point,
    recording the final metrics of ``experiments/doctrines.toml``;
(3) the same with ``--workers 2``.

Time is wall clock: of the whole subprocess (interpreter start, imports, the sweep, exit; the ratios use
it) and of the sweep call alone inside it; CPU time (user + system of the subprocess and its workers,
from ``wait4``) is less disturbed by other jobs. Memory is the driver's peak RSS (``VmHWM`` on Linux, else
``ru_maxrss``, of the process that calls ``batch_run`` or the CLI) and the peak of the process tree (the
driver and its worker processes, RSS summed, polled every 0.2 s with psutil). Then the memory-flatness check:
the runner with 2 workers on N runs against the same experiment with ``--big-factor`` (default 10) times the
replications.

Each way is checked to play the same game: the number of turns each plays and the turn whose metrics it
reports are read back (batch_run: from each model, recorded as it steps; the runner:
by replaying a stored run's seed directly). Inside the sweeps, batch_run's CPU time per run and the
time each driver spends in the garbage collector are recorded. Finally, unless ``--profile-runs 0``, the
cost per run of the model with and without its bookkeeping, of ``batch_run`` and of the runner's worker
function is timed in-process, to tell where each way's time goes.

Targets (issue 7): runner with 1 worker >= 10x faster than batch_run; 2 workers >= 1.8x faster than 1
(both on wall time); the runner's peak memory (driver and tree) on K*N runs <= 1.2x that on N runs. The
report gives each way's games per second per core (runs / CPU s of the way's processes). With
``--big-factor``, the runner with 1 worker also plays the K*N runs, so that the 2-worker speed-up is also
given on the extra (K-1)*N runs alone: what a worker adds once the sweep's fixed costs (interpreter,
imports, loading the compiled kernels, which take the same time whatever the number of workers) are paid.

Usage: ``python benchmarks/bench_sweep.py [--runs 400] [--big-factor 10] [--profile-runs 50] [--repeat 1]
[--json PATH]`` (``make bench`` runs it with the defaults after bench_game.py). ``--check`` exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path

STARTED = time.time()  # epoch s: when this interpreter reached the script (the --phases table)
ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "baseline"
HORIZON = 40
MASTER_SEED = 2025
BATCH_SIZE = 8  # the runner's default
FINALS_FROM = ROOT / "experiments" / "doctrines.toml"
TARGET_SPEEDUP_1 = 10.0  # batch_run / runner with 1 worker
TARGET_SPEEDUP_2 = 1.8  # runner 1 worker / runner 2 workers
TARGET_MEMORY = 1.2  # runner peak memory, K*N runs / N runs
POLL_S = 0.2
MIB = 1024 * 1024


# ------------------------------------------------------------------------ child processes (one per way)


def _maxrss_bytes(who: int) -> int:
    """Peak RSS from getrusage (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(who).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def _peak_rss_self() -> int:
    """This process's peak RSS. On Linux ``VmHWM`` of /proc/self/status: ``ru_maxrss`` of a process
    started by exec also counts the image it replaced, i.e. the parent's RSS when it forked (this
    benchmark's own, 320 MiB once it has replayed games for its checks), which would be taken for
    the way's memory. Elsewhere ``ru_maxrss``."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return _maxrss_bytes(resource.RUSAGE_SELF)


class GcClock:
    """CPU seconds this process spends in the cyclic garbage collector (``gc.callbacks``)."""

    def __init__(self):
        import gc

        self.seconds = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start


def child_batch_run(runs: int, result: Path, compiled: bool = True) -> None:
    """Way (1): mesa.batch_run in this process; writes timings and what was played to ``result``.
    ``compiled=False``: the model's strategies decide by their Python code (way (1p))."""
    import mesa
    import mesa.batchrunner

    from strategy_abm.sim.model import CompetitionModel

    # CPU and wall time of each run: batch_run looks its per-run function up when called, so a
    # wrapper (two clock reads per run) sees every run without touching the model or batch_run.
    per_run: list[float] = []
    per_run_wall: list[float] = []
    run_func = mesa.batchrunner._model_run_func

    def timed_run_func(*args, **kwargs):
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            return run_func(*args, **kwargs)
        finally:
            per_run.append(time.process_time() - c0)
            per_run_wall.append(time.perf_counter() - t0)

    mesa.batchrunner._model_run_func = timed_run_func
    # What each run played, for the check below (models are freed when batch_run drops them).
    played: dict = {}

    class Tracked(CompetitionModel):
        def step(self):
            super().step()
            played[self.seed] = (self.turn, self.steps, self.datacollector.model_vars)

    gc_clock = GcClock()
    t0 = time.perf_counter()
    rows = mesa.batch_run(
        Tracked,
        {"seed": list(range(runs)), "scenario": [SCENARIO], **({} if compiled else {"compiled": [False]})},
        max_steps=HORIZON,
        number_processes=1,
        data_collection_period=-1,
        display_progress=False,
    )
    work = time.perf_counter() - t0
    gc_s = gc_clock.seconds
    driver = _peak_rss_self()
    check_start, check_cpu = time.perf_counter(), time.process_time()
    gc.collect()
    alive = sum(isinstance(o, CompetitionModel) for o in gc.get_objects())
    reported = []
    for row in rows:
        table = played[row["seed"]][2]  # metric -> value at turn 0, 1, ...
        turns = range(len(table["influence_china"]) - 1, -1, -1)
        reported.append(next((t for t in turns if all(v[t] == row[k] for k, v in table.items())), None))
    out = {
        "work_s": work,
        "driver_maxrss": driver,
        "workers_maxrss": 0,
        "results": len(rows),
        "turns_played": dict(Counter(turn for turn, _, _ in played.values())),
        "model_steps": dict(Counter(steps for _, steps, _ in played.values())),
        "reported_step": dict(Counter(row["Step"] for row in rows)),
        "reported_turn": dict(Counter(reported)),
        "models_alive_at_end": alive,
        "gc_s": gc_s,
        "run_cpu_s": per_run,
        "run_wall_s": per_run_wall,
    }
    # The parent takes the benchmark's own checks off the way's wall and CPU time.
    out["check_s"], out["check_cpu_s"] = time.perf_counter() - check_start, time.process_time() - check_cpu
    out["written_at"] = time.time()  # epoch seconds: the parent measures the exit from here
    result.write_text(json.dumps(out))


def child_runner(experiment: Path, workers: int, out_dir: Path, result: Path, phases: Path | None = None) -> None:
    """Ways (2) and (3): the ``strategy-abm sweep`` command, called in this process (the console
    script is ``strategy_abm.cli:main``), so that this process is the sweep's driver. ``phases``:
    a file that the driver and its workers append timestamps of the sweep's phases to
    (:func:`clock_phases`)."""
    if phases is not None:
        with open(phases, "a") as f:  # when the interpreter reached this script
            f.write(f"{STARTED:.6f} {os.getpid()} started\n")
        # First, to time its import apart from the package's; as the package imports it (without
        # PyYAML when there is no numba config file to read: strategy_abm/_compiled.py).
        no_yaml = "yaml" not in sys.modules and not os.path.exists(".numba_config.yaml")
        if no_yaml:
            sys.modules["yaml"] = None
        import numba  # noqa: F401

        if no_yaml:
            del sys.modules["yaml"]
        _stamp(phases, "numba imported")
    # The modules ``cmd_sweep`` imports lazily, imported before the clock starts as way (1) imports
    # mesa and the model before it: the sweep time excludes imports in every way. (Not the analysis
    # module, pandas and scipy: ``--quiet`` prints no summary, so the command never imports them.)
    import strategy_abm.experiments.experiment  # noqa: F401
    import strategy_abm.experiments.results  # noqa: F401
    import strategy_abm.experiments.sweep  # noqa: F401
    from strategy_abm.cli import main

    if phases is not None:
        _stamp(phases, "imports done")
        clock_phases(phases)
    gc_clock = GcClock()
    t0 = time.perf_counter()
    # As the console script calls it (arguments from sys.argv): the program's own way out (cli.main).
    sys.argv = ["strategy-abm", "sweep", str(experiment), "--workers", str(workers), "--quiet", "--out", str(out_dir)]
    code = main()
    work = time.perf_counter() - t0
    out = {
        "work_s": work,
        "exit_code": code,
        "gc_s": gc_clock.seconds,  # the driver's (with 1 worker the runs are played in the driver)
        "driver_maxrss": _peak_rss_self(),
        # The largest of the worker processes (reaped when the pool shut down).
        "workers_maxrss": _maxrss_bytes(resource.RUSAGE_CHILDREN),
    }
    out["written_at"] = time.time()  # epoch seconds: the parent measures the exit from here
    result.write_text(json.dumps(out))


def child_warm(experiment: Path, warm_experiment: Path, rounds: int, out_dir: Path, result: Path) -> None:
    """Way (4): one Python session, as a notebook or the strategy lab calls the runner again and
    again: after a first small sweep with 1 and with 2 workers (kernels loaded, plans cached, the
    fork pool's modules imported) and a few batch_run games, ``rounds`` alternating rounds of the
    N-run sweep with 1 worker, with 2 workers, and mesa.batch_run of the same N runs, each timed
    from its call to its return."""
    import mesa

    from strategy_abm.experiments.experiment import load_experiment
    from strategy_abm.experiments.results import ResultStore
    from strategy_abm.experiments.sweep import run_sweep
    from strategy_abm.sim.model import CompetitionModel

    exp, warm = load_experiment(experiment), load_experiment(warm_experiment)
    runs = exp.n_runs

    def sweep(e, workers: int, name: str) -> float:
        t0 = time.perf_counter()
        run_sweep(e, ResultStore(out_dir / name, e), workers=workers, progress=False)
        return time.perf_counter() - t0

    def batch(n: int) -> float:
        t0 = time.perf_counter()
        mesa.batch_run(CompetitionModel, {"seed": list(range(n)), "scenario": [SCENARIO]}, max_steps=HORIZON,
                       number_processes=1, data_collection_period=-1, display_progress=False)  # fmt: skip
        return time.perf_counter() - t0

    sweep(warm, 1, "warm1"), sweep(warm, 2, "warm2"), batch(4)
    times: dict[str, list[float]] = {"runner1": [], "runner2": [], "batch_run": []}
    for rep in range(rounds):
        order = ("runner1", "runner2", "batch_run") if rep % 2 == 0 else ("batch_run", "runner2", "runner1")
        for key in order:
            seconds = batch(runs) if key == "batch_run" else sweep(exp, int(key[-1]), f"{key}_{rep}")
            times[key].append(seconds)
    result.write_text(
        json.dumps(
            {
                "times": times,
                "runs": runs,
                "driver_maxrss": _peak_rss_self(),
                "workers_maxrss": 0,
                "work_s": sum(map(sum, times.values())),
                "written_at": time.time(),
            }
        )
    )


def _stamp(path: Path, name: str) -> None:
    """Append ``epoch-seconds pid name`` to ``path`` (one line, written at once: processes share it)."""
    with open(path, "a") as f:
        f.write(f"{time.time():.6f} {os.getpid()} {name}\n")


def clock_phases(path: Path) -> None:
    """Time-stamp the sweep's phases, in this process and in the workers it forks (they inherit
    the wrappers; ``run_batch`` is pickled by name and found as the wrapper): each wrapped call
    appends ``NAME>`` when it starts and ``NAME<`` when it ends to ``path``. Wrapped: the command,
    the experiment's loading (file, scenario, design), the result store's opening and its Parquet
    parts, the sweep, the kernels' first load and the bulk plans, the preparation before the fork,
    the workers' start, every batch and the pool's shutdown."""
    import functools
    from concurrent.futures import ProcessPoolExecutor

    from strategy_abm import cli
    from strategy_abm.experiments import experiment, results, sweep
    from strategy_abm.sim import bulk

    def wrap(owner, attr: str, name: str) -> None:
        func = getattr(owner, attr)

        @functools.wraps(func)
        def timed(*args, **kwargs):
            _stamp(path, name + ">")
            try:
                return func(*args, **kwargs)
            finally:
                _stamp(path, name + "<")

        setattr(owner, attr, timed)

    for owner, attr, name in (
        (cli, "_main", "command"), (experiment, "load_experiment", "experiment"), (results.ResultStore, "__init__",
        "store"), (results.ResultStore, "flush", "parquet"), (sweep, "run_sweep", "sweep"), (bulk, "_compile_all",
        "kernels"), (bulk.BulkPlan, "__init__", "plan"), (sweep, "_prepare_fork", "prepare_fork"),
        (sweep, "_worker_start", "worker_start"), (sweep, "run_batch", "batch"),
        (ProcessPoolExecutor, "shutdown", "pool_shutdown"),
    ):  # fmt: skip
        wrap(owner, attr, name)


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_sweep.py --child")
    parser.add_argument("mode", choices=("batch_run", "runner", "warm"))
    parser.add_argument("--warm-experiment", type=Path)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--experiment", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--python-strategies", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--phases", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.mode == "batch_run":
        child_batch_run(args.runs, args.result, compiled=not args.python_strategies)
    elif args.mode == "warm":
        child_warm(args.experiment, args.warm_experiment, args.rounds, args.out, args.result)
    else:
        child_runner(args.experiment, args.workers, args.out, args.result, args.phases)
    return 0


# ------------------------------------------------------------------------ parent: measuring a subprocess


class TreeSampler(threading.Thread):
    """Polls a process and its descendants every ``POLL_S`` seconds: peak RSS of the process alone
    and peak of the RSS summed over the tree (shared pages of forked workers count once per process)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.proc = psutil.Process(pid)
        self.stop = threading.Event()
        self.peak_driver = 0
        self.peak_tree = 0
        self.max_processes = 1

    def run(self) -> None:
        ps = self.psutil
        while not self.stop.is_set():
            try:
                driver = self.proc.memory_info().rss
                children = self.proc.children(recursive=True)
            except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                break
            total = driver
            for child in children:
                with contextlib.suppress(ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                    total += child.memory_info().rss
            self.peak_driver = max(self.peak_driver, driver)
            self.peak_tree = max(self.peak_tree, total)
            self.max_processes = max(self.max_processes, 1 + len(children))
            self.stop.wait(POLL_S)


def measure(label: str, child_args: list[str], tmp: Path) -> dict:
    """Run ``bench_sweep.py --child ...`` in a subprocess; its wall time, memory and report."""
    result = tmp / f"{label}.json"
    log = tmp / f"{label}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *child_args, "--result", str(result)]
    with open(log, "w") as out:
        started_at = time.time()  # epoch seconds, for the --phases table
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        # wait4: the exit status and the CPU time of the child and of its reaped workers.
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        ended_at = time.time()
        code = proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop.set()
    sampler.join()
    if code != 0 or not result.is_file():
        sys.stderr.write(log.read_text())
        raise SystemExit(f"bench_sweep: {label} failed with exit code {code} (output above)")
    data = json.loads(result.read_text())
    data.update(
        wall_s=wall - data.get("check_s", 0.0),  # without the benchmark's own checks in the child
        wall_raw_s=wall,
        exit_s=ended_at - data["written_at"],  # interpreter shutdown: freeing what the way kept
        started_at=started_at,
        ended_at=ended_at,
        cpu_s=usage.ru_utime + usage.ru_stime - data.get("check_cpu_s", 0.0),
        loadavg_end=os.getloadavg()[0],
        # The sampler can miss a short spike; ru_maxrss cannot, so the tree is at least the driver.
        tree_peak=max(sampler.peak_tree, data["driver_maxrss"]),
        sampled_driver_peak=sampler.peak_driver,
        max_processes=sampler.max_processes,
    )
    if data.get("exit_code", 0) != 0:
        sys.stderr.write(log.read_text())
        raise SystemExit(f"bench_sweep: {label}: the sweep exited with code {data['exit_code']}")
    return data


def final_metrics() -> list[str]:
    return list(tomllib.loads(FINALS_FROM.read_text())["record"]["final"])


def write_experiment(folder: Path, runs: int, final: list[str]) -> Path:
    """An experiment of ``runs`` replications of the baseline game (one design point, no factors)."""
    path = folder / f"bench_{runs}.toml"
    finals = ", ".join(json.dumps(m) for m in final)
    path.write_text(
        f"# Written by benchmarks/bench_sweep.py\n"
        f'name = "bench_{runs}"\n'
        f'description = "{runs} baseline games of {HORIZON} turns (benchmark)"\n'
        f'scenario = "{SCENARIO}"\n'
        f"horizon_turns = {HORIZON}\n"
        f"replications = {runs}\n"
        f"master_seed = {MASTER_SEED}\n"
        f"batch_size = {BATCH_SIZE}\n\n"
        f'[design]\nkind = "full_factorial"\n\n'
        f"[record]\nfinal = [{finals}]\n"
    )
    return path


# ------------------------------------------------------------------------ parent: checks and profile


def _release(model) -> None:
    import mesa

    mesa.Agent._ids.pop(model, None)


def check_runner(folder: Path, runs: int, final: list[str]) -> dict:
    """Count the stored runs and read back which turn the stored metrics are: a stored run's seed is
    replayed with ``CompetitionModel(scenario="baseline", seed=...)`` (batch_run's call) and its
    stored final metrics compared with every turn of that game."""
    from strategy_abm import load_failures, load_results
    from strategy_abm.sim.model import CompetitionModel

    results = load_results(folder)
    failures = load_failures(folder)
    row = results.iloc[0]
    model = CompetitionModel(scenario=SCENARIO, seed=int(row["seed"]))
    model.run()
    table = model.datacollector.get_model_vars_dataframe()
    matches = [t for t in range(len(table)) if all(table[m].iloc[t] == row[m] for m in final)]
    out = {
        "results": len(results),
        "failures": len(failures),
        "turns_played": model.turn,
        "reported_turn": matches[-1] if matches else None,
        "same_game_as_batch_run": bool(matches) and matches[-1] == model.turn,
    }
    _release(model)
    assert out["results"] == runs, f"{folder}: {out['results']} runs stored, expected {runs}"
    return out


def profile_per_run(n: int, experiment_path: Path, final: list[str]) -> dict[str, dict]:
    """Seconds per run, interleaved over seeds 0..n-1 (each seed plays the same game in each way):
    the model without bookkeeping (``record=False``, what the runner builds), with it (``record=True``,
    the default, what batch_run builds: DataCollector and event log), ``mesa.batch_run`` on one seed,
    and the runner's worker function ``run_batch`` on a task of one run."""
    import gc

    import mesa

    from strategy_abm.experiments.experiment import Run, load_experiment, run_key
    from strategy_abm.experiments.sweep import _tasks, run_batch
    from strategy_abm.sim.model import CompetitionModel

    experiment = load_experiment(experiment_path)

    def timed(func) -> tuple[float, float]:
        """(wall, CPU) seconds of ``func()``."""
        t0, c0 = time.perf_counter(), time.process_time()
        func()
        return time.perf_counter() - t0, time.process_time() - c0

    def model_run(record: bool, seed: int) -> tuple[float, float]:
        def play():
            model = CompetitionModel(scenario=SCENARIO, seed=seed, record=record)
            while model.running:
                model.step()
            kept.append(model)

        kept: list = []
        out = timed(play)
        _release(kept[0])
        return out

    def batch_run_one(seed: int) -> tuple[float, float]:
        before = set(mesa.Agent._ids)
        out = timed(lambda: mesa.batch_run(CompetitionModel, {"seed": [seed], "scenario": [SCENARIO]},
                                           max_steps=HORIZON, number_processes=1, data_collection_period=-1,
                                           display_progress=False))  # fmt: skip
        for model in set(mesa.Agent._ids) - before:
            _release(model)
        return out

    def runner_one(seed: int) -> tuple[float, float]:
        run = Run(run_key(experiment.hash, 0, seed), 0, seed, seed)
        task = next(_tasks(experiment, [run], experiment.resolved_scenario or None))
        return timed(lambda: run_batch(task))

    ways = {
        "model, record=False (the runner's model)": lambda s: model_run(False, s),
        "model, record=True (batch_run's model)": lambda s: model_run(True, s),
        "mesa.batch_run, one run per call": batch_run_one,
        "runner run_batch, one run per task": runner_one,
    }
    for way in ways.values():  # warm-up: scenario cache, imports
        way(0)
    # Same game check: the runner's worker on seed 0 gives the turn-40 metrics of a direct game.
    direct = CompetitionModel(scenario=SCENARIO, seed=0, record=False)
    direct.run()
    stored = run_batch(next(_tasks(experiment, [Run("k", 0, 0, 0)], experiment.resolved_scenario or None)))
    same = all(stored[0][1][0][m] == direct.metrics[m] for m in final)
    _release(direct)

    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in ways}
    names = list(ways)
    for seed in range(n):
        gc.collect()
        for i in range(len(names)):
            name = names[(seed + i) % len(names)]  # rotate the order so drift hits every way alike
            samples[name].append(ways[name](seed))
    out = {}
    for k, v in samples.items():
        wall, cpu = [w for w, _ in v], [c for _, c in v]
        out[k] = {"median_s": statistics.median(wall), "min_s": min(wall), "cpu_median_s": statistics.median(cpu),
                  "n": len(v), "wall_samples": wall, "cpu_samples": cpu}  # fmt: skip
    out["_same_game"] = {"runner_seed0_equals_direct_game_turn40": same}
    return out


# ------------------------------------------------------------------------ parent: where a sweep's time goes

PHASES = (
    ("start", "interpreter start, to the script"),
    ("numba", "import numba"),
    ("imports", "import the package, pyarrow (the rest)"),
    ("setup", "command: arguments, BLAS probe skipped"),
    ("experiment", "experiment: file, scenario, design"),
    ("store", "result store: folder, manifest"),
    ("to_kernels", "sweep start to first kernel use"),
    ("kernels", "kernels loaded, bulk plans built"),
    ("fork", "fork to the workers' first game"),
    ("games", "games (first to last batch of a worker)"),
    ("tail", "  of which the other worker idle at the end"),
    ("after", "last batch to sweep end (last part, shutdown)"),
    ("end", "command end"),
    ("exit", "interpreter exit"),
)


def phase_times(events: Path, started_at: float, ended_at: float) -> dict:
    """Seconds of each of :data:`PHASES` from the timestamps :func:`clock_phases` wrote (their sum
    is the way's wall time), with the Parquet writing, the workers' busy time and their number."""
    lines = [line.split(maxsplit=2) for line in events.read_text().splitlines()]
    driver = lines[0][1]
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    spans: dict[tuple[str, str], list[float]] = {}  # (pid, name) -> starts and ends, in order
    for ts, pid, name in lines:
        t = float(ts)
        if pid == driver:
            first.setdefault(name, t)
            last[name] = t
        spans.setdefault((pid, name), []).append(t)
    batch = {pid: (spans[(pid, "batch>")], spans[(pid, "batch<")]) for pid, name in spans if name == "batch>"}
    kernels_from = min(v[0] for (_, name), v in spans.items() if name == "plan>")
    kernels_to = max(v[0] for (_, name), v in spans.items() if name == "kernels<")
    games_from = max(kernels_to, min(s[0] for s, _ in batch.values()))
    games_to = max(e[-1] for _, e in batch.values())
    sweep_from, pool = first["sweep>"], "prepare_fork<" in first
    out = {
        "start": first["started"] - started_at,
        "numba": first["numba imported"] - first["started"],
        "imports": first["imports done"] - first["numba imported"],
        "experiment": last["experiment<"] - first["experiment>"],
        "store": last["store<"] - first["store>"],
        "to_kernels": kernels_from - sweep_from,
        "kernels": kernels_to - kernels_from,
        "fork": games_from - kernels_to if pool else 0.0,
        "games": games_to - (games_from if pool else kernels_to),
        "tail": games_to - min(e[-1] for _, e in batch.values()) if len(batch) > 1 else 0.0,
        "after": last["sweep<"] - games_to,
        "end": last["command<"] - last["sweep<"],
        "exit": ended_at - last["command<"],
    }
    # The command's own time outside the experiment and the store: arguments, checks, the executor.
    out["setup"] = sweep_from - first["imports done"] - out["experiment"] - out["store"]
    flushes = zip(spans.get((driver, "parquet>"), []), spans.get((driver, "parquet<"), []), strict=True)
    out["parquet_s"] = sum(b - a for a, b in flushes)
    out["busy_s"] = sum(sum(b - a for a, b in zip(s, e, strict=True)) for s, e in batch.values())
    if not pool:  # the batches in the driver: the first loaded the kernels
        out["busy_s"] -= out["kernels"]
    out["workers"] = len(batch)
    out["wall_s"] = ended_at - started_at
    return out


def print_phases(rounds: dict[str, list[dict]], n: int) -> dict:
    """The median of each phase over the rounds, per way; returns the medians."""
    med = {key: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for key, rs in rounds.items()}
    r = len(next(iter(rounds.values())))
    print()
    print(f"where the time goes, {n} runs (median s of {r} more rounds of each runner way, timestamps in the driver")
    print("and the workers; the phases follow one another and add up to the wall time):")
    keys = list(med)
    width = max(len(k) for k in keys) + 2
    rows = [*((label, name) for name, label in PHASES), ("wall s", "wall_s"),
            ("(writing Parquet parts, within the above)", "parquet_s"),
            ("(workers busy in games, s summed)", "busy_s")]  # fmt: skip
    print(f"  {'':<48}" + "".join(f"{k:>{width}}" for k in keys))
    for label, name in rows:
        print(f"  {label:<48}" + "".join(f"{med[k][name]:>{width}.3f}" for k in keys))
    return med


# ------------------------------------------------------------------------ main


def compile_bytecode() -> bool:
    """Compile the package's bytecode in place (``__pycache__``, ignored by git), as installing it
    does: a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` has none and would compile every module
    at every start (0.09 s of CPU of each way's start-up on the machine of the README)."""
    import compileall

    return bool(compileall.compile_dir(ROOT / "strategy_abm", quiet=1))


def _verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs of each way (default 400)")
    parser.add_argument("--big-factor", type=int, default=10, metavar="K",
                        help="memory check on K x --runs runs with 2 workers; 0 skips (default 10)")  # fmt: skip
    parser.add_argument("--profile-runs", type=int, default=50, metavar="N",
                        help="runs per way timed in-process for the per-run table; 0 skips (default 50)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, metavar="R",
                        help="rounds of the three ways in alternating order; each way's median round is shown "
                        "(default 1)")  # fmt: skip
    parser.add_argument("--phases", type=int, default=0, metavar="R",
                        help="R more rounds of each runner way with timestamps in the driver and the workers: "
                        "where the wall time goes, phase by phase (default 0: none)")  # fmt: skip
    parser.add_argument("--warm", type=int, default=0, metavar="R",
                        help="R rounds, in one Python session after a first sweep (as a notebook or the lab "
                        "calls the runner), of the runner with 1 and 2 workers and of batch_run (default 0: "
                        "none)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--python-strategies",
        action="store_true",
        help="also run batch_run with compiled=False (the strategies' Python code deciding, "
        "as before their kernels; the rules stay compiled) and compare the runner with it",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.big_factor < 0 or args.big_factor == 1:
        parser.error("--big-factor must be 0 (skip) or at least 2")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.profile_runs < 0:
        parser.error("--profile-runs must be 0 or more")
    if args.phases < 0:
        parser.error("--phases must be 0 or more")
    if args.warm < 0:
        parser.error("--warm must be 0 or more")

    import mesa

    import strategy_abm

    n = args.runs
    final = final_metrics()
    print(f"strategy_abm {strategy_abm.__version__}, mesa {mesa.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()} ({platform.system()}), {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{n} runs of the {SCENARIO!r} scenario per way, {HORIZON}-turn horizon, {len(final)} final metrics "
          f"(those of {FINALS_FROM.relative_to(ROOT)}); each way in its own subprocess")  # fmt: skip
    compiled = compile_bytecode()
    print(f"bytecode of the package compiled in place, as an installed package has it: {compiled}")
    load = os.getloadavg()[0]
    busy = " (the machine is busy: wall times will be inflated)" if load > 1.0 else ""
    print(f"1-minute load average at the start: {load:.2f}{busy}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp_name:
        tmp = Path(tmp_name)
        exp = write_experiment(tmp, n, final)
        labels = {"batch_run": "(1) mesa.batch_run, 1 process", "runner1": "(2) runner, --workers 1",
                  "runner2": "(3) runner, --workers 2"}  # fmt: skip
        if args.python_strategies:
            labels["batch_run_py"] = "(1p) batch_run compiled=False"
        samples: dict[str, list[dict]] = {k: [] for k in labels}
        for rep in range(args.repeat):
            runner = ["runner", "--experiment", str(exp), "--workers"]
            plan = [
                ("batch_run", ["batch_run", "--runs", str(n)]),
                ("runner1", [*runner, "1", "--out", str(tmp / f"out_w1_{rep}")]),
                ("runner2", [*runner, "2", "--out", str(tmp / f"out_w2_{rep}")]),
            ]
            if args.python_strategies:
                plan.insert(1, ("batch_run_py", ["batch_run", "--runs", str(n), "--python-strategies"]))
            for key, child_args in plan if rep % 2 == 0 else plan[::-1]:  # alternate the order against drift
                print(f"  running {labels[key]}{f' (round {rep + 1} of {args.repeat})' if args.repeat > 1 else ''} ...",
                      flush=True)  # fmt: skip
                samples[key].append(measure(f"{key}_{rep}", child_args, tmp))
        # Each way's figures: its round of median wall time (all of its rounds in the JSON).
        ways: dict[str, dict] = {}
        for key, runs_of_way in samples.items():
            ranked = sorted(runs_of_way, key=lambda w: w["wall_s"])
            ways[key] = ranked[(len(ranked) - 1) // 2] | {"label": labels[key], "rounds": runs_of_way}
        checks = {
            "runner1": check_runner(tmp / "out_w1_0", n, final),
            "runner2": check_runner(tmp / "out_w2_0", n, final),
        }
        from strategy_abm import load_results

        identical = load_results(tmp / "out_w1_0").equals(load_results(tmp / "out_w2_0"))

        big = None
        if args.big_factor:
            big_n = n * args.big_factor
            big_exp = write_experiment(tmp, big_n, final)
            print(f"  running the runner, --workers 2 on {big_n} runs ...", flush=True)
            big = measure("runner2_big", ["runner", "--experiment", str(big_exp), "--workers", "2",
                                          "--out", str(tmp / "out_big")], tmp)  # fmt: skip
            big |= {"runs": big_n, "check": check_runner(tmp / "out_big", big_n, final)}
            print(f"  running the runner, --workers 1 on {big_n} runs ...", flush=True)
            big1 = measure("runner1_big", ["runner", "--experiment", str(big_exp), "--workers", "1",
                                           "--out", str(tmp / "out_big1")], tmp)  # fmt: skip
            big["runner1"] = big1

        phase_rounds: dict[str, list[dict]] = {"runner1": [], "runner2": []}
        for rep in range(args.phases):
            for key in ("runner1", "runner2") if rep % 2 == 0 else ("runner2", "runner1"):
                print(f"  running {labels[key]} with timestamps (round {rep + 1} of {args.phases}) ...", flush=True)
                events = tmp / f"phases_{key}_{rep}.txt"
                out = tmp / f"out_{key}_phases_{rep}"
                done = measure(f"{key}_phases_{rep}", ["runner", "--experiment", str(exp), "--workers", key[-1],
                                                       "--out", str(out), "--phases", str(events)], tmp)  # fmt: skip
                phase_rounds[key].append(phase_times(events, done["started_at"], done["ended_at"]))

        warm = None
        if args.warm:
            print(f"  running the runner (1 and 2 workers) and batch_run in one session, {args.warm} rounds ...",
                  flush=True)  # fmt: skip
            small = write_experiment(tmp, 16, final)
            (tmp / "out_warm").mkdir()
            warm = measure("warm", ["warm", "--experiment", str(exp), "--warm-experiment", str(small), "--rounds",
                                    str(args.warm), "--out", str(tmp / "out_warm")], tmp)["times"]  # fmt: skip

        profile = None
        if args.profile_runs:
            print(f"  timing {args.profile_runs} runs per way in-process ...", flush=True)
            profile = profile_per_run(args.profile_runs, exp, final)

    # ---------------------------------------------------------------- report
    br = ways["batch_run"]
    turns = {
        "batch_run": (
            f"plays {_counts(br['turns_played'])} turns (model.steps {_counts(br['model_steps'])}), "
            f"reports Step {_counts(br['reported_step'])} = metrics of turn {_counts(br['reported_turn'])}"
        ),
        "runner1": _runner_turns(checks["runner1"]),
        "runner2": _runner_turns(checks["runner2"]),
    }
    if "batch_run_py" in ways:
        bp = ways["batch_run_py"]
        played, step, turn = _counts(bp["turns_played"]), _counts(bp["reported_step"]), _counts(bp["reported_turn"])
        turns["batch_run_py"] = f"plays {played} turns, reports Step {step} = metrics of turn {turn}"
    print()
    if args.repeat > 1:
        print(f"each way: its round of median wall time, of {args.repeat} rounds run in alternating order")
    print(f"{'way':<32}{'wall s':>8}{'sweep s':>9}{'exit s':>8}{'runs/s':>8}{'CPU s':>8}{'CPU ms/run':>11}"
          f"{'driver MiB':>12}{'tree MiB':>10}{'procs':>6}{'load':>6}")  # fmt: skip
    for w in ways.values():
        print(f"{w['label']:<32}{w['wall_s']:>8.2f}{w['work_s']:>9.2f}{w['exit_s']:>8.2f}{n / w['wall_s']:>8.1f}"
              f"{w['cpu_s']:>8.1f}{w['cpu_s'] / n * 1e3:>11.1f}{w['driver_maxrss'] / MIB:>12.1f}"
              f"{w['tree_peak'] / MIB:>10.1f}{w['max_processes']:>6}{w['loadavg_end']:>6.1f}")  # fmt: skip
    print()
    print("wall s: the subprocess from start to exit (interpreter, imports, sweep, exit); sweep s: the batch_run or")
    print("CLI call alone; exit s: the interpreter's shutdown, which frees what the way kept; runs/s: runs / wall s;")
    print("CPU s: user + system time of the subprocess and its workers; driver MiB: peak RSS (VmHWM) of the process")
    print("that calls batch_run or the CLI; tree MiB: peak of the RSS summed over it and its descendants, polled every")
    print(
        f"{POLL_S} s (forked workers' shared pages count in each); procs: most processes seen in the tree (batch_run's"
    )
    print(
        "second is multiprocessing's resource tracker, which tqdm's lock starts under Mesa's spawn start method); load:"
    )
    print("1-minute load average at the end (above the way's own process count, other jobs shared the")
    print(f"{os.cpu_count()} CPUs and the wall times are inflated).")
    print()
    print(f"turns played (every way plays the {SCENARIO} game to its {HORIZON}-turn horizon):")
    for key, text in turns.items():
        print(f"  {ways[key]['label']:<30}{text}")
    print(f"  runner results with 1 and 2 workers identical: {identical}")
    if br["models_alive_at_end"]:
        print(
            f"  batch_run left {br['models_alive_at_end']} models alive at the end "
            "(Mesa's Agent._ids leak; 0 since the package's agents hold models weakly)"
        )

    w1, w2 = ways["runner1"], ways["runner2"]
    r1, r2 = br["wall_s"] / w1["wall_s"], w1["wall_s"] / w2["wall_s"]
    r1_work, r2_work = br["work_s"] / w1["work_s"], w1["work_s"] / w2["work_s"]
    r1_cpu = br["cpu_s"] / w1["cpu_s"]
    print()
    ok1, ok2 = r1 >= TARGET_SPEEDUP_1, r2 >= TARGET_SPEEDUP_2
    print(f"batch_run / runner-1, wall = {r1:.2f}x   target >= {TARGET_SPEEDUP_1:g}x: {_verdict(ok1)}"
          f"   (sweep s {r1_work:.2f}x, CPU s {r1_cpu:.2f}x)")  # fmt: skip
    print(f"runner-1 / runner-2, wall  = {r2:.2f}x   target >= {TARGET_SPEEDUP_2:g}x: {_verdict(ok2)}"
          f"   (sweep s {r2_work:.2f}x; runner-2 kept {w2['cpu_s'] / w2['wall_s']:.2f} CPUs busy, "
          f"used {w2['cpu_s'] / w1['cpu_s']:.2f}x runner-1's CPU s)")  # fmt: skip
    if "batch_run_py" in ways:
        bp = ways["batch_run_py"]
        print(f"batch_run with compiled=False (the strategies' Python code) / runner-1, wall = "
              f"{bp['wall_s'] / w1['wall_s']:.2f}x   (sweep s {bp['work_s'] / w1['work_s']:.2f}x, "
              f"CPU s {bp['cpu_s'] / w1['cpu_s']:.2f}x)")  # fmt: skip
    print("games per second per core (runs / CPU s): " + ", ".join(
        f"{w['label'].split(') ')[1]} {n / w['cpu_s']:.0f}" for w in ways.values()))  # fmt: skip
    ok = ok1 and ok2
    per_run = br["run_cpu_s"]
    tenth = max(1, len(per_run) // 10)
    first, last = statistics.fmean(per_run[:tenth]), statistics.fmean(per_run[-tenth:])
    print(f"inside the sweeps: batch_run's CPU per run, first {tenth} runs {first * 1e3:.1f} ms, last {tenth} "
          f"{last * 1e3:.1f} ms; time in the garbage collector: batch_run {br['gc_s']:.2f} s, "
          f"runner-1 {w1['gc_s']:.2f} s")  # fmt: skip

    mem = None
    if big is not None:
        small = w2
        mem = {
            "driver": big["driver_maxrss"] / small["driver_maxrss"],
            "tree": big["tree_peak"] / small["tree_peak"],
            "largest_worker": (big["workers_maxrss"] / small["workers_maxrss"]) if small["workers_maxrss"] else None,
        }
        print()
        print("memory flatness, runner --workers 2:")
        print(f"{'runs':>8}{'wall s':>9}{'runs/s':>8}{'CPU ms/run':>11}{'driver MiB':>12}{'tree MiB':>10}"
              f"{'largest worker MiB':>20}{'load':>6}")  # fmt: skip
        for runs, w in ((n, small), (big["runs"], big)):
            print(f"{runs:>8}{w['wall_s']:>9.2f}{runs / w['wall_s']:>8.1f}{w['cpu_s'] / runs * 1e3:>11.1f}"
                  f"{w['driver_maxrss'] / MIB:>12.1f}{w['tree_peak'] / MIB:>10.1f}{w['workers_maxrss'] / MIB:>20.1f}"
                  f"{w['loadavg_end']:>6.1f}")  # fmt: skip
        mem_ok = mem["driver"] <= TARGET_MEMORY and mem["tree"] <= TARGET_MEMORY
        worker = f", largest worker {mem['largest_worker']:.2f}" if mem["largest_worker"] else ""
        print(f"ratio {big['runs']}/{n}: driver {mem['driver']:.2f}, tree {mem['tree']:.2f}{worker}   "
              f"target <= {TARGET_MEMORY:g}: {_verdict(mem_ok)}")  # fmt: skip
        print(f"  {big['runs']} runs: {_runner_turns(big['check'])}")
        ok = ok and mem_ok
        b1 = big["runner1"]
        extra = big["runs"] - n
        marginal = (b1["wall_s"] - w1["wall_s"]) / (big["wall_s"] - w2["wall_s"])
        print()
        print(f"runner-1 / runner-2 on {big['runs']} runs, wall = {b1['wall_s'] / big['wall_s']:.2f}x; on the extra "
              f"{extra} runs alone (wall s of {big['runs']} runs minus that of {n}) = {marginal:.2f}x   "
              f"(1 worker {b1['wall_s']:.2f} s, {big['runs'] / b1['cpu_s']:.0f} games/s per core; 2 workers "
              f"{big['wall_s']:.2f} s, {big['runs'] / big['cpu_s']:.0f} games/s per core)")  # fmt: skip
        print(f"fixed cost of a runner-1 sweep (its wall s minus {n} runs at the marginal rate of 1 worker): "
              f"{w1['wall_s'] - n * (b1['wall_s'] - w1['wall_s']) / extra:.2f} s")  # fmt: skip
        steady = steady_state(br, w1, b1, n, big["runs"])
        need = steady["fixed_for_target_1"]
        need_text = (f"F <= {need:.3f} s at this game rate" if need > 0 else
                     f"games under {br['wall_s'] / TARGET_SPEEDUP_1:.2f} s: out of reach even with F = 0")  # fmt: skip
        print(f"per run, start-up excluded: batch_run {steady['batch_run_s'] * 1e3:.2f} ms (median wall of its runs "
              f"after the first {steady['skipped']}), runner-1 {steady['runner1_s'] * 1e3:.2f} ms (marginal rate); "
              f"batch_run / runner-1 = {steady['ratio']:.2f}x   target >= {TARGET_SPEEDUP_1:g}x: "
              f"{_verdict(steady['ratio'] >= TARGET_SPEEDUP_1)}")  # fmt: skip
        print(f"bounds on {n} runs from the runner's fixed cost F = {steady['fixed_s']:.2f} s (paid once, whatever the "
              f"workers) and its {steady['games_s']:.2f} s of games: batch_run / runner-1 at most "
              f"{steady['bound_1']:.1f}x were the games free ({TARGET_SPEEDUP_1:g}x needs {need_text}); "
              f"runner-1 / runner-2 at most "
              f"{steady['bound_2']:.2f}x were 2 workers to halve the games and add nothing "
              f"({steady['bound_2_big']:.2f}x on {big['runs']} runs; {TARGET_SPEEDUP_2:g}x needs games >= 8 F, "
              f"i.e. at least {steady['runs_for_target_2']:,.0f} runs)")  # fmt: skip
        print(f"  the same on CPU time (less disturbed by other jobs): F = {steady['fixed_cpu_s']:.2f} s, runner-1 "
              f"{steady['runner1_cpu_s'] * 1e3:.2f} ms a run, batch_run {steady['batch_run_cpu_s'] * 1e3:.2f} ms a "
              f"run: {steady['ratio_cpu']:.2f}x")  # fmt: skip
        big["steady_state"] = steady

    if profile is not None:
        print()
        k = args.profile_runs
        print(f"per run, in-process ({k} runs of each, interleaved, seeds 0..{k - 1}; CPU ms is the least disturbed by")
        print("other jobs):")
        print(f"  {'':<46}{'median ms':>10}{'min ms':>8}{'CPU ms':>8}")
        for name, st in profile.items():
            if not name.startswith("_"):
                print(f"  {name:<46}{st['median_s'] * 1e3:>10.1f}{st['min_s'] * 1e3:>8.1f}"
                      f"{st['cpu_median_s'] * 1e3:>8.1f}")  # fmt: skip
        for label, w in (("batch_run", br), ("runner-1", w1)):
            print(f"  {label + ' sweep above, per run (sweep s, CPU s)':<46}{w['work_s'] / n * 1e3:>10.1f}{'':>8}"
                  f"{w['cpu_s'] / n * 1e3:>8.1f}")  # fmt: skip
        same = profile["_same_game"]["runner_seed0_equals_direct_game_turn40"]
        print(f"  runner's worker on seed 0 = CompetitionModel(scenario='baseline', seed=0) at turn 40: {same}")

    phases = None
    if args.phases:
        phases = print_phases({labels[k].split(") ")[1]: v for k, v in phase_rounds.items()}, n)
        p1, p2 = phases["runner, --workers 1"], phases["runner, --workers 2"]
        serial = p1["wall_s"] - p1["games"]
        bound = p1["wall_s"] / (serial + p1["games"] / 2)
        print(
            f"  with 1 worker, {serial:.2f} s of the {p1['wall_s']:.2f} s are not games: were 2 workers to add "
            f"nothing else, they would be {bound:.2f}x as fast (here {p1['wall_s'] / p2['wall_s']:.2f}x)"
        )

    if warm is not None:
        med = {k: statistics.median(v) for k, v in warm.items()}
        print(f"\nin one Python session, after a first sweep ({args.warm} rounds, medians; each call to its return):")
        names = {"runner1": "runner, 1 worker", "runner2": "runner, 2 workers", "batch_run": "batch_run"}
        for key, label in names.items():
            print(f"  {label:<20}{med[key]:>8.3f} s   rounds: {', '.join(f'{t:.3f}' for t in warm[key])}")
        print(f"  batch_run / runner with 1 worker: {med['batch_run'] / med['runner1']:.1f}x; "
              f"2 workers / 1 worker: {med['runner1'] / med['runner2']:.2f}x")  # fmt: skip

    if args.json:
        result = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "versions": {"strategy_abm": strategy_abm.__version__, "mesa": mesa.__version__},
            "runs": n,
            "horizon_turns": HORIZON,
            "final_metrics": final,
            "ways": ways,
            "runner_checks": checks,
            "runner_results_identical_1_vs_2_workers": identical,
            "warm_session_s": warm,
            "ratio_batch_run_over_runner1": r1,
            "ratio_batch_run_python_strategies_over_runner1": (
                ways["batch_run_py"]["wall_s"] / w1["wall_s"] if "batch_run_py" in ways else None
            ),
            "ratio_runner1_over_runner2": r2,
            "ratio_batch_run_over_runner1_sweep_s": r1_work,
            "ratio_runner1_over_runner2_sweep_s": r2_work,
            "big": big,
            "games_per_s_per_core": {k: n / w["cpu_s"] for k, w in ways.items()},
            "memory_ratio": mem,
            "targets": {"speedup_1": TARGET_SPEEDUP_1, "speedup_2": TARGET_SPEEDUP_2, "memory": TARGET_MEMORY},
            "meets_targets": ok,
            "profile_per_run": profile,
            "phases": {"median": phases, "rounds": phase_rounds} if phases else None,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nresults: {args.json}")
    return 1 if args.check and not ok else 0


def steady_state(br: dict, w1: dict, b1: dict, n: int, big_n: int) -> dict:
    """The two speed targets with the start-up set apart. The runner's fixed cost F (interpreter,
    imports, compiled kernels loaded, experiment, store: the same for 1 and 2 workers) and its
    cost per run g come from its 1-worker sweeps of ``n`` and ``big_n`` runs (wall s); batch_run's
    cost per run is the median wall time of its runs, its first tenth (imports and caches
    warming) left out. Bounds: batch_run / runner-1 <= batch_run's wall / F, reached only if
    games cost nothing; runner-1 / runner-2 <= (F + n g) / (F + n g / 2), reached only if 2
    workers halve the games and add nothing, so 1.8 needs n g >= 8 F. The ``*_cpu_s`` figures are
    the same from CPU time (of the process tree; batch_run's per run from its wrapper)."""
    g = (b1["wall_s"] - w1["wall_s"]) / (big_n - n)
    fixed = w1["wall_s"] - n * g
    runs = br["run_wall_s"]
    skipped = max(1, len(runs) // 10)
    per_run = statistics.median(runs[skipped:])
    g_cpu = (b1["cpu_s"] - w1["cpu_s"]) / (big_n - n)
    per_run_cpu = statistics.median(br["run_cpu_s"][skipped:])
    return {
        "fixed_cpu_s": w1["cpu_s"] - n * g_cpu,
        "runner1_cpu_s": g_cpu,
        "batch_run_cpu_s": per_run_cpu,
        "ratio_cpu": per_run_cpu / g_cpu,
        "batch_run_s": per_run,
        "runner1_s": g,
        "skipped": skipped,
        "ratio": per_run / g,
        "fixed_s": fixed,
        "games_s": n * g,
        "bound_1": br["wall_s"] / fixed,
        "fixed_for_target_1": br["wall_s"] / TARGET_SPEEDUP_1 - n * g,
        "bound_2": (fixed + n * g) / (fixed + n * g / 2),
        "bound_2_big": (fixed + big_n * g) / (fixed + big_n * g / 2),
        "runs_for_target_2": 8 * fixed / g,
    }


def _counts(counter: dict) -> str:
    """``{"40": 400}`` -> ``40``; several values -> ``39 (3), 40 (397)``."""
    if len(counter) == 1:
        return str(next(iter(counter)))
    return ", ".join(f"{k} ({v})" for k, v in sorted(counter.items(), key=lambda kv: int(kv[0])))


def _runner_turns(check: dict) -> str:
    return (
        f"stores the metrics of turn {check['reported_turn']} of the game of its seed, which plays "
        f"{check['turns_played']} turns ({check['results']} runs stored, {check['failures']} failed)"
    )


if __name__ == "__main__":
    sys.exit(main())
