"""The sweep runner: every (design point, replication) of an experiment once, in one process, in
local worker processes, or on a Dask cluster, with results streamed to a :class:`ResultStore`.

Runs are grouped into batches (``batch_size`` runs of consecutive keys per task) so scheduling
costs little; at most a few batches per worker are in flight, so memory does not grow with the
number of runs. A run's result depends only on its seed and point, so the stored results are the
same whatever the number of workers, the scheduler, or the order in which runs finish.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..report.folders import FaultError, close_inherited_locks
from ..scenario.config import ConfigError, load_scenario
from ..strategies.plugins import PluginError, ensure_plugins
from .experiment import code_fingerprint, package_version
from .results import ResultStore

IN_FLIGHT_PER_WORKER = 3


@dataclass
class SweepReport:
    """What a sweep did: counts of runs skipped (already stored), done and failed."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    failed_keys: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------ worker side

_SCENARIOS: OrderedDict = OrderedDict()  # per worker process: (experiment hash, point) -> Scenario
_BASES: OrderedDict = OrderedDict()  # per worker process: experiment hash -> its base Scenario


def _point_scenario(task: dict, point: int, overrides: list[str], values: dict | None = None):
    """The scenario of a design point: the experiment's base scenario (parsed once per worker)
    with the point's factor ``values`` set (only the tables on their paths validated again, the
    same scenario as ``load_scenario(base, overrides)`` gives, several times faster), or with its
    ``overrides`` applied where that fast path does not apply."""
    from .experiment import _with_values

    key = (task["hash"], point)
    if key not in _SCENARIOS:
        base = _BASES.get(task["hash"])
        if base is None:  # kept apart from the points' scenarios, which would soon push it out
            base = _BASES[task["hash"]] = _from_text(task)
            while len(_BASES) > 4:
                _BASES.popitem(last=False)
        scenario = None
        if values:
            with contextlib.suppress(ValueError, KeyError, IndexError, TypeError, AttributeError):
                scenario = _with_values(base, values)
        _SCENARIOS[key] = scenario if scenario is not None else load_scenario(base, overrides)
        while len(_SCENARIOS) > 64:
            _SCENARIOS.popitem(last=False)
    return _SCENARIOS[key]


_PLANS: OrderedDict = OrderedDict()  # per worker process: (experiment hash, point) -> BulkPlan, or None


def _point_plan(task: dict, point: int, scenario):
    """The bulk path's plan of a design point, or None when a strategy of it has no kernel (its
    runs then take the per-turn path; both give the same results, tests/test_bulk.py)."""
    from ..sim.bulk import BulkPlan, NotCompiled

    key = (task["hash"], point)
    if key not in _PLANS:
        try:
            _PLANS[key] = BulkPlan(scenario)
        except NotCompiled:
            _PLANS[key] = None
        while len(_PLANS) > 64:
            _PLANS.popitem(last=False)
    return _PLANS[key]


def _know_base(experiment) -> None:
    """The experiment's base scenario, as the batches run in this process (or in workers forked
    from it) would parse it from the task's text: the driver has it already, and the text is
    that scenario written out (``scenario_to_toml``, which reads back identical: test_config.py),
    so parsing and validating it again (tens of milliseconds of a sweep's start) is skipped."""
    if experiment.scenario is not None and experiment.resolved_scenario and experiment.hash not in _BASES:
        _BASES[experiment.hash] = experiment.scenario
        while len(_BASES) > 4:
            _BASES.popitem(last=False)


def _from_text(task: dict):
    import tomllib

    from ..scenario.config import validate_scenario

    return validate_scenario(tomllib.loads(task["scenario_text"]))


def ishigami(x1: float, x2: float, x3: float, a: float = 7.0, b: float = 0.1) -> float:
    """The Ishigami function (Ishigami and Homma 1990), the standard test of sensitivity analysis."""
    return math.sin(x1) + a * math.sin(x2) ** 2 + b * x3**4 * math.sin(x1)


def run_batch(task: dict) -> list[tuple[str, list[dict]]]:
    """Play a batch of runs (worker side). Returns ``(table, rows)`` pairs for the store; a run
    that raises becomes a failure row with its error and traceback, and the batch goes on."""
    out: list[tuple[str, list[dict]]] = []
    error = None
    if task["code"] != code_fingerprint():  # a cluster worker with other rules would mix results
        error = f"worker runs other strategy_abm code ({package_version()}, {code_fingerprint()[:12]})"
    else:
        # The driver's plugins, before a scenario naming their strategies is validated: a forked
        # worker has them already; a spawned or Dask worker runs the source the task carries.
        try:
            ensure_plugins(task.get("plugins", ()))
        except PluginError as exc:
            error = f"worker cannot load the plugins: {exc}"
    if error is not None:
        return [("failures", [{**{k: r[k] for k in ("key", "point", "replication", "seed")}, "error": error,
                               "traceback": ""} for r in task["runs"]])]  # fmt: skip
    final, series = task["final"], task["series"]
    for run in task["runs"]:
        ident = {k: run[k] for k in ("key", "point", "replication", "seed")}
        try:
            factors = run["factors"]
            if task["model"] == "ishigami":
                values = {"y": ishigami(factors["x1"], factors["x2"], factors["x3"])}
                out.append(("results", [{**ident, **factors, **{m: values[m] for m in final}}]))
                continue
            scenario = _point_scenario(task, run["point"], run["overrides"], run.get("values", factors))
            plan = _point_plan(task, run["point"], scenario)
            if plan is not None:
                out.extend(_bulk_run(plan, run, ident, factors, final, series))
                continue
            from ..sim.model import CompetitionModel  # here: Mesa is imported only for the per-turn path

            rows = []
            # The model is freed when it goes out of scope (its agents count ids in
            # agents.AGENT_IDS, which holds models weakly), so a worker's memory stays flat.
            model = CompetitionModel(scenario=scenario, seed=run["seed"], record=False)
            if series:
                rows.append({**ident, "turn": 0, "date": model.date, **{m: model.metrics[m] for m in series}})
            while model.running:
                model.step()
                if series:
                    rows.append({**ident, "turn": model.turn, "date": model.date,
                                 **{m: model.metrics[m] for m in series}})  # fmt: skip
            result = {**ident, **factors, **{m: model.metrics[m] for m in final}}
            if rows:  # series before results: a stored result implies its series is stored
                out.append(("series", rows))
            out.append(("results", [result]))
        except Exception as exc:  # noqa: BLE001 - a failing run is data, the sweep goes on
            out.append(("failures", [{**ident, "error": f"{type(exc).__name__}: {exc}",
                                      "traceback": traceback.format_exc()}]))  # fmt: skip
    return out


def _bulk_run(plan, run: dict, ident: dict, factors: dict, final: list[str], series: list[str]) -> list[tuple]:
    """One run on the bulk path: the same rows as the per-turn path gives."""
    turns = range(0, plan.horizon + 1) if series else [plan.horizon]
    metrics = plan.play(run["seed"], record=turns)
    out = []
    if series:
        out.append(("series", [{**ident, "turn": t, "date": plan.date_of(t), **{m: metrics[t][m] for m in series}}
                               for t in turns]))  # fmt: skip
    last = metrics[plan.horizon]
    out.append(("results", [{**ident, **factors, **{m: last[m] for m in final}}]))
    return out


# ------------------------------------------------------------------------------------ driver side


def _tasks(experiment, pending: Iterable, scenario_text: str | None) -> Iterator[dict]:
    cfg = experiment.config
    batch: list[dict] = []
    for run in pending:
        batch.append({
            "key": run.key, "point": run.point, "replication": run.replication, "seed": run.seed,
            "factors": experiment.points[run.point], "overrides": experiment.point_overrides(run.point),
            **({"values": experiment.point_values(run.point)} if experiment.listed else {}),
        })  # fmt: skip
        if len(batch) >= cfg.batch_size:
            yield _task(experiment, batch, scenario_text)
            batch = []
    if batch:
        yield _task(experiment, batch, scenario_text)


def _task(experiment, runs, scenario_text):
    cfg = experiment.config
    return {
        "hash": experiment.hash, "model": cfg.model, "scenario_text": scenario_text, "code": code_fingerprint(),
        "plugins": [p.task_record() for p in experiment.plugins],
        "final": cfg.record.final, "series": cfg.record.series, "runs": runs,
    }  # fmt: skip


def run_sweep(
    experiment,
    store: ResultStore,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    executor: Executor | None = None,
) -> SweepReport:
    """Run every run of ``experiment`` not yet in ``store``; returns what was done.

    ``executor`` is an open :func:`open_executor` (the CLI opens it before creating the store, so
    that an unreachable scheduler writes nothing); without one, it is opened here. The store is
    flushed and closed (its folder unlocked) at the end, whatever happens.

    Raises:
        FaultError: writing failed (disk full, read-only folder), a stored part is damaged, or a
            worker process died; the message says how many runs are stored and what to do. Every
            run finished before the fault is stored, and a resumed sweep runs the others.
    """
    if executor is None:
        with open_executor(workers, scheduler) as opened:
            return run_sweep(experiment, store, progress=progress, executor=opened)
    # Only this experiment's runs count (a folder resumed with fewer replications keeps the others).
    try:
        done_keys = store.done_keys()
        if done_keys:  # (a new folder has none: no need to list the runs' keys)
            done_keys &= {r.key for r in experiment.runs()}
    except BaseException:
        store.close()
        raise
    _know_base(experiment)
    report = SweepReport(total=experiment.n_runs, skipped=len(done_keys))
    pending = (r for r in experiment.runs() if r.key not in done_keys)
    tasks = _tasks(experiment, pending, experiment.resolved_scenario or None)
    bar = _progress_bar(report, experiment.config.name) if progress else _NoBar()

    def collect(batch_rows):
        for table, rows in batch_rows:
            store.add(table, rows)
            n = len(rows) if table != "series" else 0
            if table == "results":
                report.done += n
            elif table == "failures":
                report.failed += n
                report.failed_keys.extend(r["key"] for r in rows)
            bar.update(n)
        bar.set_postfix(done=report.done, failed=report.failed, refresh=False)

    try:
        try:
            executor(tasks, collect)
        except FaultError:
            raise
        except BaseException:  # e.g. Ctrl-C: the buffered rows are written before exit
            store.flush()
            raise
        store.flush()
    except FaultError as exc:  # disk full, read-only folder, a worker died: keep what finished
        with contextlib.suppress(FaultError):
            store.flush()
        stored = report.skipped + store.rows_written["results"]
        then = f"{exc.fix}, then run" if exc.fix else "run"
        runs = "1 run is" if stored == 1 else f"{stored} runs are"
        raise FaultError(f"{exc}; {runs} stored in {store.folder}/; {then} again with --resume") from None
    finally:
        bar.close()
        store.close()
    return report


def _progress_bar(report: SweepReport, name: str):
    from tqdm import tqdm

    return tqdm(total=report.total, initial=report.skipped, unit="run", smoothing=0.05, desc=name, dynamic_ncols=True)


class _NoBar:
    """What a disabled tqdm bar does (nothing), without importing tqdm."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **_) -> None:
        pass

    def close(self) -> None:
        pass


Executor = Callable[[Iterator[dict], Callable], None]


@contextlib.contextmanager
def open_executor(
    workers: int = 1, scheduler: str | None = None, *, tls: TLSFiles | None = None, quiet: bool = True
) -> Iterator[Executor]:
    """Where batches run: this process, local worker processes, or a Dask cluster (an address,
    or ``"local"`` for a LocalCluster of ``workers`` processes). Yields ``execute(tasks, collect)``.

    ``tls`` holds the certificate files for a ``tls://`` scheduler. ``quiet``: a LocalCluster's
    workers log nothing below CRITICAL (the CLI says what happened in one line; see
    :func:`quiet_dask_logs` for this process). Raises :class:`ConfigError` (one line) for a
    malformed address, missing certificate files or an unreachable scheduler."""
    if scheduler is not None:
        with _interrupts_kept() as check, _dask_client(scheduler, workers, tls, quiet=quiet) as client:
            check()  # a Ctrl-C held back while the cluster started
            yield lambda tasks, collect: _run_dask(client, tasks, collect, check)
    elif workers <= 1:
        yield _run_here
    else:
        with _interrupts_kept() as check:

            def collect_checked(collect):
                def inner(rows):
                    collect(rows)
                    check()

                return inner

            yield lambda tasks, collect: _run_processes(tasks, collect_checked(collect), workers)


def _run_here(tasks: Iterator[dict], collect) -> None:
    for task in tasks:
        collect(run_batch(task))


def _run_processes(tasks: Iterator[dict], collect, workers: int) -> None:
    # Mesa sets the spawn start method for the whole process; fork (where there is one) starts
    # workers in milliseconds and they inherit the imported package.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    tasks = iter(tasks)
    first = next(tasks, None)
    if first is None:
        return
    if method == "fork":
        _prepare_fork(first)
    tasks = itertools.chain([first], tasks)
    if method == "fork" and first["hash"] in _BASES:
        # Forked workers inherit the base scenario (and run this sweep's tasks only, so it stays in
        # their cache): its text (70 kB for the baseline) need not be pickled and sent with each batch.
        tasks = ({**task, "scenario_text": None} for task in tasks)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start,
                               initargs=(os.getpid(),))  # fmt: skip
    in_flight: set = set()
    seen: dict = {}  # pid -> worker process, to say how a dead one ended

    def collect_done(futures) -> None:
        broken = None
        for f in futures:  # every batch that finished is stored, even after a worker died
            try:
                rows = f.result()
            except BrokenProcessPool as exc:
                broken = exc
                continue
            collect(rows)
        if broken is not None:
            raise FaultError(f"a worker process died{_how_workers_ended(seen)}") from broken

    try:
        try:
            for task in tasks:
                # The workers start at the first submit: Ctrl-C is held back meanwhile, so that none
                # starts without its initializer (which makes it ignore Ctrl-C: the driver handles it).
                with _sigint_deferred(tracker=method != "fork") if not seen else contextlib.nullcontext():
                    in_flight.add(pool.submit(run_batch, task))
                    seen.update(getattr(pool, "_processes", None) or {})
                if len(in_flight) >= workers * IN_FLIGHT_PER_WORKER:
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    collect_done(finished)
            collect_done(wait(in_flight).done)
        except BrokenProcessPool as exc:  # raised by submit once the pool is broken
            collect_done(wait(in_flight).done)
            raise FaultError(f"a worker process died{_how_workers_ended(seen)}") from exc
    except FaultError:
        pool.shutdown(wait=True)
        raise
    except BaseException:  # Ctrl-C, SIGTERM: keep the batches that did finish, then stop at once
        with contextlib.suppress(Exception):
            collect_done([f for f in in_flight if f.done() and not f.cancelled() and f.exception() is None])
        _stop_workers(pool, seen)
        raise
    pool.shutdown(wait=True)


def _prepare_fork(task: dict) -> None:
    """Before the workers are forked, do here what each would do first for ``task``: the design
    points' scenarios and bulk plans (kept in this process's caches), and the compiled kernels
    loaded from the cache (or compiled), so that every forked worker inherits them and starts
    playing at once instead of spending a few tenths of a second each on the same work. Anything
    that fails is left to the workers, which report it as they would have."""
    if task["model"] == "ishigami" or task["code"] != code_fingerprint():
        return
    try:
        ensure_plugins(task.get("plugins", ()))
        plans = []
        for run in task["runs"]:
            # A listed design's values (a tournament's parameter tables), as run_batch sets them:
            # the scenario is cached under the point, so the workers forked from here play it.
            scenario = _point_scenario(task, run["point"], run["overrides"], run.get("values", run["factors"]))
            plans.append(_point_plan(task, run["point"], scenario))
        if any(plan is not None for plan in plans):
            from .._compiled import warm_up
            from ..sim.bulk import _compile_all

            warm_up(_compile_all)
    except Exception:  # noqa: BLE001, S110 - the workers meet the same fault and report it
        pass


def _stop_workers(pool: ProcessPoolExecutor, processes: dict) -> None:
    """End a pool's workers now (queued batches cancelled, running ones killed): an interrupted
    sweep should not wait for batches whose results it will not store."""
    pool.shutdown(wait=False, cancel_futures=True)
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.terminate()
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.join(5)
    with contextlib.suppress(Exception):
        pool.shutdown(wait=True)


@contextlib.contextmanager
def _sigint_deferred(*, tracker: bool = True):
    """Hold Ctrl-C (SIGINT) back from this thread, and from the processes and threads it starts
    meanwhile, which inherit the blocked signal; it is delivered when the block ends.

    ``tracker``: start multiprocessing's resource tracker first (it is needed by processes that
    are spawned, whose semaphores have names; a fork pool's have none, and the tracker would be
    one more interpreter started, 20 ms of CPU taken from the workers)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    if tracker:
        # multiprocessing starts its resource tracker on first need and then unblocks SIGINT in
        # the thread that started it (which goes on to start worker processes): start it beforehand.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _worker_start(driver: int) -> None:
    """Initializer of a local worker process. It closes the driver's lock descriptors (so the
    lock ends with the driver), leaves Ctrl-C and SIGTERM to the driver (it ignores SIGINT, which a
    terminal sends to the whole process group, and dies at once of SIGTERM, which the pool sends
    to stop it), and dies with the driver: a worker forked from it holds a copy of the pipe it
    reads batches from, so it would otherwise wait forever once the driver is killed."""
    close_inherited_locks()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the driver at the fork
    die_with_parent(driver)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Make this process end when its parent ``parent`` (a pid) does: on Linux the kernel sends it
    SIGKILL (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread polls the parent's pid once a second.
    Ends at once if the parent is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the prctl
                    os._exit(1)
                return
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-driver", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _how_workers_ended(processes: dict) -> str:
    """`` (killed by signal 9, SIGKILL...)`` for the worker that died first, if it can be told."""
    # The pool notices a death when the worker's pipe closes, a moment before the kernel reports
    # its exit status: wait briefly for a status other than the SIGTERM the pool sends the others.
    deadline = time.monotonic() + 2.0
    while True:
        codes = [p.exitcode for p in processes.values() if getattr(p, "exitcode", None) not in (None, 0)]
        if any(c != -signal.SIGTERM for c in codes) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    # The pool terminates the other workers (SIGTERM) once one died: name another cause first.
    codes.sort(key=lambda c: c == -signal.SIGTERM)
    if not codes:
        return ""
    if codes[0] < 0:
        sig = signal.Signals(-codes[0]).name if -codes[0] in signal.valid_signals() else str(-codes[0])
        hint = ": out of memory, or killed by hand?" if codes[0] == -signal.SIGKILL else ""
        return f" (killed by signal {-codes[0]}, {sig}{hint})"
    return f" (exit code {codes[0]})"


@dataclass(frozen=True)
class TLSFiles:
    """PEM files that let this driver join a Dask cluster secured with TLS (Dask's
    ``Security(tls_ca_file, tls_client_cert, tls_client_key, require_encryption=True)``)."""

    ca_file: str
    cert: str
    key: str | None = None  # None: the key is in the certificate file


def check_scheduler(address: str, tls: TLSFiles | None = None) -> None:
    """A scheduler is ``local`` or ``tcp://HOST:PORT`` / ``tls://HOST:PORT``; certificate files go
    with ``tls://`` only, and must be readable files. Raises :class:`ConfigError` (one line)."""
    if not address.strip():
        raise ConfigError("--scheduler: the address is empty (give tcp://HOST:PORT, tls://HOST:PORT or 'local')")
    if address != "local":
        _check_address(address)
    if address.startswith("tls://") and tls is None:
        raise ConfigError("--scheduler: a tls:// scheduler needs --tls-ca-file and --tls-cert (and --tls-key)")
    if tls is not None:
        if not address.startswith("tls://"):
            raise ConfigError("--tls-ca-file: certificates go with a tls:// scheduler (a local cluster makes its own)")
        for option, path in (("--tls-ca-file", tls.ca_file), ("--tls-cert", tls.cert), ("--tls-key", tls.key)):
            if path is not None and not os.path.isfile(path):
                raise ConfigError(f"{option}: {path!r} is not a file")


def _check_address(address: str) -> None:
    expected = "expected tcp://HOST:PORT, tls://HOST:PORT or 'local'"
    if "://" not in address:
        raise ConfigError(f"--scheduler: {expected}, got {address!r}")
    try:
        parts = urlsplit(address)
        port = parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:
        raise ConfigError(f"--scheduler: {address!r}: {exc}") from None
    if parts.scheme not in ("tcp", "tls"):
        raise ConfigError(f"--scheduler: unknown protocol {parts.scheme + '://'!r} in {address!r} ({expected})")
    if not parts.hostname:
        raise ConfigError(f"--scheduler: {address!r} names no host ({expected})")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"--scheduler: {address!r}: {expected}, nothing after it")
    if not port:
        raise ConfigError(f"--scheduler: {address!r} names no port ({expected})")


def local_cluster(workers: int, *, security=True, quiet: bool = False):
    """A Dask ``LocalCluster`` of ``workers`` single-threaded processes, safe on a shared machine:
    loopback only, no dashboard, and TLS with throwaway certificates (``security=True``), so that
    another local user or process cannot connect and run code on the workers. Dask always starts
    an HTTP server on the scheduler (on port 8787 unless told otherwise): it binds a random
    loopback port and serves no routes. ``security``: ``True`` (throwaway certificates), a
    ``distributed.security.Security``, or ``None`` for plain TCP (tests only). ``quiet``: the
    worker processes log only CRITICAL messages (Dask's default: warnings)."""
    import logging

    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}):
        return LocalCluster(
            n_workers=max(workers, 1), threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, security=security,
            silence_logs=logging.CRITICAL if quiet else logging.WARNING,
        )  # fmt: skip


@contextlib.contextmanager
def quiet_dask_logs(quiet: bool = True) -> Iterator[None]:
    """While it lasts, Dask's loggers in this process (``distributed.*``, and ``tornado`` and
    ``asyncio`` beneath them) print only CRITICAL messages: a lost scheduler or a Ctrl-C is then
    one line from the CLI, not pages of ``distributed.client - ERROR``. ``quiet=False`` (the
    CLI's ``--verbose``) leaves them as they are."""
    if not quiet:
        yield
        return
    import logging

    import distributed  # noqa: F401 - configures its loggers on import: before they are quietened

    names = ["distributed", "tornado", "asyncio"]
    names += [n for n in list(logging.root.manager.loggerDict) if n.startswith(("distributed.", "tornado."))]
    saved = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _dask_client(scheduler: str, workers: int, tls: TLSFiles | None = None, *, quiet: bool = True):
    try:
        from distributed import Client
        from distributed.security import Security
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ConfigError("--scheduler: dask.distributed is not installed") from None
    check_scheduler(scheduler, tls)
    if scheduler == "local":
        cluster = client = None
        try:
            # Ctrl-C is held back while the cluster starts: its threads and worker processes
            # inherit the block, so only this thread takes Ctrl-C (a terminal sends it to every
            # process of the group), and a Ctrl-C during start-up ends a whole cluster cleanly.
            with _sigint_deferred():
                cluster = local_cluster(workers, quiet=quiet)
                client = Client(cluster)
            yield client
        finally:
            _close_dask(client, cluster)
        return
    security = None
    if tls is not None:
        security = Security(tls_ca_file=tls.ca_file, tls_client_cert=tls.cert, tls_client_key=tls.key,
                            require_encryption=True)  # fmt: skip
    try:
        with _sigint_deferred():  # the client's thread leaves Ctrl-C to this one
            client = Client(scheduler, timeout=10, security=security)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        # TypeError/ValueError: Dask's words for a TLS scheduler reached without certificates
        # or with unusable ones.
        raise ConfigError(f"--scheduler: cannot reach {scheduler!r}: {' '.join(str(exc).split())}") from None
    with client:
        yield client


def _close_dask(client, cluster) -> None:
    """Close a client and then its LocalCluster (each even if the other fails)."""
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()


@contextlib.contextmanager
def _interrupts_kept():
    """Yields ``check()``, which raises again a Ctrl-C or SIGTERM that Dask swallowed.

    Python raises KeyboardInterrupt wherever the main thread is when the signal comes; inside
    the asyncio self-pipe write that submitting to Dask performs, the exception is reported as
    "Exception ignored in ..." and lost, and the sweep would run on. The handlers here remember
    the signal (and still raise at once); ``check()``, called after every batch, raises it again,
    and such unraisable reports are kept off stderr (the CLI's one line says what happened)."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    caught: list[tuple[int, object]] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def remember(signum, frame):
        caught.append((signum, frame))
        _raise(signum, frame)

    def _raise(signum, frame):
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)  # the default raises KeyboardInterrupt; the CLI's SIGTERM, Terminated
        raise KeyboardInterrupt

    def check() -> None:
        # Not while the interrupt is already being handled (storing what finished, stopping the
        # workers): it was not lost then.
        if caught and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            signum, frame = caught[0]
            caught.clear()
            _raise(signum, frame)

    hook = sys.unraisablehook

    def quiet_hook(unraisable):
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    for sig in previous:
        if callable(previous[sig]) or previous[sig] == signal.SIG_DFL:
            signal.signal(sig, remember)
    sys.unraisablehook = quiet_hook
    try:
        yield check
    finally:
        sys.unraisablehook = hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_dask(client, tasks: Iterator[dict], collect, check=lambda: None) -> None:
    from distributed import as_completed

    n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
    window = as_completed()
    pending: set = set()  # submitted and not yet collected

    def take(future, checked: bool = True) -> None:
        pending.discard(future)
        collect(future.result())
        if checked:
            check()

    try:
        for task in tasks:
            future = client.submit(run_batch, task, pure=False)
            pending.add(future)
            window.add(future)
            if len(pending) >= n_workers * IN_FLIGHT_PER_WORKER:
                take(next(window))
        for future in window:
            take(future)
    except FaultError:
        raise
    except Exception as exc:  # noqa: BLE001 - Dask's many ways to lose a worker or the scheduler
        # Store every batch that did finish, then say what happened in one line.
        for future in [f for f in pending if f.status == "finished"]:
            with contextlib.suppress(Exception):
                take(future, checked=False)
        raise FaultError(_dask_fault(exc)) from exc
    except BaseException:  # Ctrl-C, SIGTERM: keep the batches that did finish, drop the others
        for future in [f for f in pending if f.status == "finished"]:
            with contextlib.suppress(Exception):
                take(future, checked=False)
        with contextlib.suppress(Exception):
            client.cancel(list(pending), force=True)
        raise


def _dask_fault(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":  # Dask gave up on a batch whose workers kept dying
        return ("a Dask worker died while running a batch, as many times as the scheduler allows "
                "(distributed.scheduler.allowed-failures): out of memory, or killed?")  # fmt: skip
    if name in ("CancelledError", "FutureCancelledError", "CommClosedError") or isinstance(exc, OSError):
        return f"lost the Dask scheduler or its workers ({name})"
    return f"the Dask cluster failed: {name}: {' '.join(str(exc).split())}"
