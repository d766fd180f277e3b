"""Command line: ``strategy-abm run | scenarios | validate | sweep | tournament | tune | psro | sensitivity | plot |
validation-report | calibrate | replay | debrief | serve | play``.

Bad input (a wrong scenario, config, override or option) prints one line on stderr naming the
field and the problem and exits with code 2, before anything is written. Exit codes: 0 done,
1 some runs of a sweep failed, 2 bad input, 3 a fault part-way (writing or reading failed, a
stored file is damaged, a worker process died), 130 interrupted (Ctrl-C), 141 stdout closed,
143 terminated (SIGTERM, handled as Ctrl-C is: a sweep's finished runs are stored).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import signal
import sys
import threading
from pathlib import Path

from ._compiled import skip_blas_probe, skip_cffi_support
from .scenario.config import ConfigError, builtin_scenarios, load_scenario, read_toml

EXIT_RUNS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_FAULT = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command whose reader went away
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a command ended by `kill`
MAX_WORKERS = 256  # local worker processes; more is a typo, not a machine (a cluster uses --scheduler)
# Help text is plain text (argparse prints it as is): no reStructuredText markup from docstrings.
DESCRIPTION = (
    "An agent-based game of great-power competition in Central Asia: play one game (run), list and "
    "check scenarios (scenarios, validate), run an experiment's design (sweep) and analyse its "
    "results (sensitivity, plot)."
)
EPILOG = (
    "Run 'strategy-abm COMMAND --help' for a command's options. Exit codes: 0 done, 1 some runs of a "
    "sweep failed, 2 bad input (one line on stderr), 3 a fault part-way (disk full, a damaged file, a worker "
    "died), 130 interrupted (Ctrl-C), 141 output closed, 143 terminated (SIGTERM)."
)


class UsageError(Exception):
    """A bad command-line option (one-line message)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``), raised in the main thread so that everything done for Ctrl-C is
    done for it too (a sweep's buffered runs are written), then exit code 143."""


def _interrupted(exc: KeyboardInterrupt) -> tuple[str, int]:
    """How an interruption is named, and its exit code."""
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)", EXIT_TERMINATED
    return "interrupted", EXIT_INTERRUPTED


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (no usage dump) and exit 2."""

    def error(self, message):
        raise UsageError(message)


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {'0 or more' if least == 0 else f'at least {least}'}, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("the folder name is empty")
    return Path(text)


def _data_folder(text: str) -> Path:
    """A folder for the classroom's rooms file: it may not exist yet, but no file may stand in its
    place or on its way (the store would fail with a confusing 'File exists')."""
    path = _folder(text)
    for part in (path, *path.parents):
        if part.exists() or part.is_symlink():
            if not part.is_dir():
                raise argparse.ArgumentTypeError(f"{str(part)!r} is a file, not a folder")
            break
    return path


def _worker_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_WORKERS}, got {value}")
    return value


def _results_folder(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"folder {text!r} does not exist")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a sweep's results folder")
    return path


def _existing_folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"folder {text!r} does not exist")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="strategy-abm", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    run = command("run", "play one game and write its outputs")
    run.add_argument("scenario", nargs="?", default="baseline", help="built-in scenario name or path to a TOML file")
    run.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    run.add_argument("--turns", type=_positive_int, default=None, help="horizon in turns (default: the scenario's)")
    run.add_argument("--out", type=_folder, default=None, help="output folder (default runs/<scenario>_seed<seed>)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value by dotted key, e.g. powers.china.strategy=bri_2")  # fmt: skip
    _plugin_option(run)
    run.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary table")

    command("scenarios", "list the built-in scenarios")

    val = command("validate", "check a scenario config")
    val.add_argument("path", help="scenario name or path to a TOML file")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    _plugin_option(val)

    sw = command("sweep", "run every (design point, replication) of an experiment")
    sw.add_argument("experiment", help="built-in experiment name or path to an experiment TOML file")
    _runner_options(sw, "runs/sweeps/<experiment>",
                    " and in every worker (its source is part of the experiment's hash)",
                    "no progress bar or summary table")  # fmt: skip
    sw.add_argument("--flush-rows", type=_positive_int, default=256, metavar="N",
                    help="rows per Parquet part (runs, for the results table): at most this many "
                    "finished runs are redone after a crash")  # fmt: skip

    # The strategy lab: tournaments by role (strategy_abm/lab/tournament.py), on the sweep runner.
    tour = command("tournament", "play every profile of a tournament file over common seeds and rank the strategies")
    tour.add_argument("file", help="tournament TOML file (roles, strategies, design, seeds)")
    _runner_options(tour, "runs/tournaments/<name>", " and in every worker", "no progress bar or rankings")

    sens = command("sensitivity", "Sobol or Morris indices (SALib) of a sweep's results")
    sens.add_argument("results", type=_results_folder, help="results folder of a sobol or morris sweep")

    plot = command("plot", "fan charts and comparison plots of a sweep's results")
    plot.add_argument("results", type=_results_folder, help="results folder")

    rep = command("validation-report", "write docs/validation.md: the patterns and the out-of-sample checks")
    rep.add_argument("--seeds", type=_positive_int, default=30, help="games per scenario, seeds 0..N-1 (default 30)")
    rep.add_argument("--out", type=_folder, default=Path("docs"),
                     help="folder of validation.md, figures in OUT/img (default docs)")  # fmt: skip
    rep.add_argument("--calibration", type=_existing_folder, default=None,
                     help="stored calibration whose robustness.md gives the calibration sections "
                          "(default configs/calibration)")  # fmt: skip
    cal = command("calibrate", "history matching of assumed parameters against dated observations, then the "
                  "doctrine comparisons across the plausible set")  # fmt: skip
    cal.add_argument("calibration", help="a calibration TOML file, or a name of experiments/calibration/")
    cal.add_argument("--out", type=_folder, required=True, help="output folder (new or empty, or --resume)")
    cal.add_argument("--workers", type=_worker_count, default=1, help="local worker processes (default 1)")
    cal.add_argument("--resume", action="store_true", help="reuse the sweeps already stored in --out")
    cal.add_argument("--quiet", action="store_true", help="no progress bars")

    rp = command("replay", "play a classroom game's record again and write its run folder")
    rp.add_argument("file", help="a room's record (JSON, exported from a room)")
    rp.add_argument("--out", type=_folder, default=None,
                    help="output folder (default runs/replay_<scenario>_seed<seed>)")  # fmt: skip
    rp.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    rp.add_argument("--quiet", action="store_true", help="no summary table")

    db = command("debrief", "write the debrief of a classroom game's record: HTML pages, figures, counterfactuals "
                 "and the run folder's tables")  # fmt: skip
    db.add_argument("file", help="a room's record (JSON, exported from a room)")
    db.add_argument("--out", type=_folder, default=None, help="output folder (default runs/debrief_<file name>)")
    db.add_argument("--no-counterfactuals", action="store_true",
                    help="skip the replays with the students' seats played by their AI")  # fmt: skip

    srv = command("serve", "the classroom: a web server for rooms of students playing the seats (one process, "
                  "many rooms)")  # fmt: skip
    srv.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the "
                     "class network, with a warning)")  # fmt: skip
    srv.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000; 0: any free port)")
    srv.add_argument("--data", type=_data_folder, default=None,
                     help="folder of the rooms' file classroom.sqlite3 (default $STRATEGY_ABM_DATA, else "
                     "$XDG_DATA_HOME/strategy_abm or ~/.local/share/strategy_abm)")  # fmt: skip
    srv.add_argument("--rate-limit", type=_rate, default=None, metavar="N",
                     help="requests a second each client address may make on average, bursts of 6 times as "
                     "many (default 20; raise it for a class whose computers reach the server through one "
                     "address, e.g. behind NAT)")  # fmt: skip

    pl = command("play", "play one seat against the AI in your browser (a local server on 127.0.0.1)")
    pl.add_argument("--as", dest="actor", required=True, metavar="ACTOR",
                    help="the seat you play: a power (china, us, g7, russia) or a host (kaz, uzb, kgz, tjk, "
                    "tkm)")  # fmt: skip
    pl.add_argument("--scenario", default="baseline", help="built-in scenario (default baseline)")
    pl.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    pl.add_argument("--port", type=_port, default=0, help="TCP port (default 0: any free port)")
    pl.add_argument("--no-browser", action="store_true", help="print the link only, do not open a browser")
    pl.add_argument("--data", type=_data_folder, default=None, help="folder of classroom.sqlite3 (as for serve)")

    # The strategy lab's tuner (issue 10, item 3).
    tu = command("tune", "tune one role's parametric strategy against an opponent pool with Optuna (a tuning file)")
    tu.add_argument("file", help="tuning file (TOML; see experiments/tune_us.toml)")
    tu.add_argument("--out", type=_folder, default=None,
                    help="output folder (default runs/tune/<name>); running again adds trials")  # fmt: skip
    tu.add_argument("--trials", type=_positive_int, default=None, help="trials to add (default: the file's trials)")
    tu.add_argument("--resume", action="store_true", help="continue the study in --out (refused if there is none)")
    tu.add_argument("--worker", type=_non_negative_int, default=0,
                    help="this process's number when several share one --out study (default 0; give each its "
                    "own, so that their samplers propose different candidates)")  # fmt: skip
    tu.add_argument("--quiet", action="store_true", help="no progress line")
    _plugin_option(tu)

    # The strategy lab's best-response loop (issue 10, item 4).
    ps = command("psro", "policy-space response oracles: tournament, meta-game solution, a tuned best response per "
                 "role, until no role gains more than epsilon (a PSRO file)")  # fmt: skip
    ps.add_argument("file", help="PSRO file (TOML; see experiments/psro_us_china.toml)")
    ps.add_argument("--out", type=_folder, default=None, help="output folder (default runs/psro/<name>)")
    ps.add_argument("--iterations", type=_positive_int, default=None,
                    help="at most this many iterations (default: the file's max_iterations)")  # fmt: skip
    _plugin_option(ps)
    ps.add_argument("--quiet", action="store_true", help="no progress or per-iteration lines")
    return parser


def _rate(text: str) -> float:
    """--rate-limit: a whole number of requests a second, 1 to 100000."""
    value = _whole_number(text, 1)
    if value > 100_000:
        raise argparse.ArgumentTypeError(f"{text!r}: at most 100000 requests a second")
    return float(value)


def _port(text: str) -> int:
    value = _whole_number(text, 0)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, got {value}")
    return value


def _runner_options(p: argparse.ArgumentParser, default_out: str, plugin_note: str, quiet: str) -> None:
    """The options of a command that plays on the sweep runner (``sweep``, ``tournament``): its
    results folder, workers or Dask, plugins, ``--resume`` and ``--quiet``."""
    p.add_argument("--out", type=_folder, default=None, help=f"results folder (default {default_out})")
    _executor_options(p)
    _plugin_option(p, plugin_note)
    p.add_argument("--resume", action="store_true", help="skip runs already stored in --out and run the rest")
    p.add_argument("--quiet", action="store_true", help=quiet)


def _executor_options(parser: argparse.ArgumentParser) -> None:
    """Where a sweep's runs are played: --workers, and a Dask --scheduler with its certificates."""
    parser.add_argument("--workers", type=_worker_count, default=1,
                        help=f"local worker processes (default 1, at most {MAX_WORKERS})")  # fmt: skip
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="a Dask scheduler (tcp://HOST:PORT or tls://HOST:PORT), or 'local' for a LocalCluster "
                        "of --workers on this machine (loopback, TLS, no dashboard)")  # fmt: skip
    parser.add_argument("--tls-ca-file", default=None, metavar="FILE",
                        help="CA certificate of a tls:// scheduler (PEM)")  # fmt: skip
    parser.add_argument("--tls-cert", default=None, metavar="FILE",
                        help="this client's certificate for a tls:// scheduler")  # fmt: skip
    parser.add_argument("--tls-key", default=None, metavar="FILE", help="its private key (if not in --tls-cert)")
    parser.add_argument("--verbose", action="store_true",
                        help="show Dask's own log messages (also STRATEGY_ABM_VERBOSE=1); hidden by "
                        "default")  # fmt: skip


def _check_executor_options(args):
    """The certificate files of --tls-* (or None) once the options agree with --scheduler; a bad
    address or missing file is a one-line error before anything is written."""
    from .experiments.sweep import TLSFiles, check_scheduler

    tls = None
    if args.tls_ca_file or args.tls_cert or args.tls_key:
        if not (args.tls_ca_file and args.tls_cert):
            raise UsageError("argument --tls-ca-file/--tls-cert: a tls:// scheduler needs both")
        tls = TLSFiles(args.tls_ca_file, args.tls_cert, args.tls_key)
        if args.scheduler is None:
            raise UsageError("argument --tls-ca-file: certificates go with --scheduler tls://HOST:PORT")
    if args.scheduler is not None:
        check_scheduler(args.scheduler, tls)
    return tls


def _open_executor(stack: contextlib.ExitStack, args, tls):
    """The executor of --workers / --scheduler, entered on ``stack``. Opened before the results
    store, so that an unreachable scheduler writes nothing."""
    from .experiments.sweep import open_executor, quiet_dask_logs

    quiet = not (args.verbose or os.environ.get("STRATEGY_ABM_VERBOSE", "") not in ("", "0"))
    if args.scheduler is not None:  # Dask's log lines would bury the one-line messages
        stack.enter_context(quiet_dask_logs(quiet))
    return stack.enter_context(open_executor(args.workers, args.scheduler, tls=tls, quiet=quiet))


def _plugin_option(parser: argparse.ArgumentParser, where: str = "") -> None:
    parser.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="FILE_OR_MODULE",
                        help="import your strategies from a .py file or an importable module before anything "
                        f"else{where}; repeatable")  # fmt: skip


def load_plugins(args) -> None:
    """The installed packages' entry-point strategies, then each ``--plugin`` in order: before any
    scenario is read, since it may name their strategies (PluginError, one line, exit 2)."""
    from .strategies.plugins import load_plugins as load

    load(args.plugins)


def cmd_scenarios(args) -> int:
    for name, path in builtin_scenarios().items():
        data = read_toml(path)
        print(f"{name:<16} {data.get('description', '')}")
    return 0


def cmd_validate(args) -> int:
    load_plugins(args)
    sc = load_scenario(args.path, args.overrides)
    print(f"ok: {sc.name} ({sc.start}, {_count(sc.horizon_turns, 'turn')} of 1/{sc.turns_per_year} year, "
          f"{_count(len(sc.moves), 'move type')}, {_count(len(sc.events), 'event')})")  # fmt: skip
    return 0


def cmd_run(args) -> int:
    from tqdm import tqdm

    from .report.output import check_out_dir, write_run
    from .sim.model import CompetitionModel

    load_plugins(args)
    scenario = load_scenario(args.scenario, args.overrides)  # fails fast, before any work
    out = args.out or Path("runs") / f"{scenario.name}_seed{args.seed}"
    check_out_dir(out)
    model = CompetitionModel(scenario=scenario, seed=args.seed, turns=args.turns)
    with tqdm(total=model.horizon, desc=f"{scenario.name} seed {args.seed}", unit="turn",
              disable=args.quiet, file=sys.stderr, leave=False) as bar:  # fmt: skip
        while model.running:
            model.step()
            bar.update(1)
    write_run(model, out, plots=not args.no_plots)
    if not args.quiet:
        print(summary_table(model))
    print(f"outputs: {out}/ (model.csv, actors.csv, events.csv, summary.json, config.toml"
          f"{', plots/' if not args.no_plots else ''})")  # fmt: skip
    return 0


def summary_table(model) -> str:
    """End-of-game table: influence by power; debt, China's share and diversification by host."""
    names = model.scenario.display_names()
    first = model.datacollector.get_model_vars_dataframe().iloc[0]
    m = model.metrics
    played = _count(model.turn, "turn")
    lines = [f"{model.scenario.name}, seed {model.seed}: {model.date_of(1)} to {model.date} ({played})", ""]
    # payoff_total: payoff summed over turns times their length in years (payoffs.png: the same unit)
    lines.append(f"{'power':<10}{'influence':>10}{'change':>9}{'payoff-years':>14}{'spent bn':>10}{'accepted':>10}")
    for p in model.scenario.power_ids:
        a = model.powers[p]
        lines.append(
            f"{names[p]:<10}{m[f'influence_{p}']:>10.3f}{m[f'influence_{p}'] - first[f'influence_{p}']:>+9.3f}"
            f"{a.payoff_total:>14.2f}{a.ledger.total:>10.1f}{a.offers_accepted:>5}/{a.offers_made:<4}"
        )
    lines += ["", f"{'host':<14}{'debt/GDP':>9}{'China share':>12}{'DS/revenue':>11}{'distress':>9}{'divers.':>8}"]
    for h in model.scenario.host_ids:
        lines.append(
            f"{names[h]:<14}{m[f'debt_to_gdp_{h}']:>9.3f}{m[f'china_debt_share_{h}']:>12.3f}"
            f"{m[f'debt_service_ratio_{h}']:>11.3f}{model.hosts[h].distress_turns:>9}{m[f'diversification_{h}']:>8.3f}"
        )
    lines += ["", "corridors (Mt/yr): " + ", ".join(f"{r} {m[f'route_volume_mt_{r}']:.1f}" for r in model.routes)]
    return "\n".join(lines)


def cmd_sweep(args) -> int:
    from .experiments.experiment import load_experiment
    from .experiments.results import ResultStore, load_results
    from .experiments.sweep import run_sweep
    from .report.folders import check_target

    load_plugins(args)  # before the experiment: its scenario may name their strategies, its hash covers them
    experiment = load_experiment(args.experiment)
    if experiment.points_checked < len(experiment.points):  # a design too large to check point by point
        print(f"strategy-abm: note: {experiment.points_checked:,} of the {len(experiment.points):,} design points "
              "(every corner and a sample) were checked against the scenario; a point it refuses will fail its runs",
              file=sys.stderr)  # fmt: skip
    tls = _check_executor_options(args)
    out = args.out or Path("runs") / "sweeps" / experiment.config.name
    check_target(out, "sweep")
    with contextlib.ExitStack() as stack:
        executor = _open_executor(stack, args, tls)
        store = ResultStore(out, experiment, resume=args.resume, flush_rows=args.flush_rows)
        try:
            report = run_sweep(experiment, store, progress=not args.quiet, executor=executor)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: run_sweep has written the buffered runs
            what, code = _interrupted(exc)
            print(f"strategy-abm: {what}; finished runs are stored in {out}/ and --resume continues",
                  file=sys.stderr)  # fmt: skip
            return code
    cfg = experiment.config
    if not args.quiet:
        from .experiments.analysis import format_summary, summarise  # pandas: only for the summary

        results = load_results(out)
        if not results.empty:
            metrics = cfg.record.final
            print(format_summary(summarise(results, metrics, list(cfg.factors)), metrics, list(cfg.factors)))
    print(f"{experiment.config.name}: {_count(report.done, 'run')} done, {report.skipped} already stored, "
          f"{report.failed} failed, of {report.total}; results in {out}/")  # fmt: skip
    if report.failed:
        print(f"strategy-abm: {_count(report.failed, 'run')} failed (errors in {out}/failures/; "
              "strategy_abm.load_failures reads them)", file=sys.stderr)  # fmt: skip
        return EXIT_RUNS_FAILED
    return 0


def cmd_tournament(args) -> int:
    from .experiments.results import ResultStore
    from .experiments.sweep import run_sweep
    from .lab.tournament import format_rankings, load_tournament, tournament_results, write_outputs
    from .report.folders import check_target

    load_plugins(args)  # before the file: it may name their strategies, and the hash covers them
    tournament = load_tournament(args.file)
    experiment = tournament.experiment
    tls = _check_executor_options(args)
    out = args.out or Path("runs") / "tournaments" / tournament.config.name
    check_target(out, "sweep")
    with contextlib.ExitStack() as stack:
        executor = _open_executor(stack, args, tls)
        store = ResultStore(out, experiment, resume=args.resume)
        try:
            report = run_sweep(experiment, store, progress=not args.quiet, executor=executor)
        except KeyboardInterrupt as exc:  # run_sweep has written the buffered runs
            what, code = _interrupted(exc)
            print(f"strategy-abm: {what}; finished runs are stored in {out}/ and --resume continues",
                  file=sys.stderr)  # fmt: skip
            return code
    results = tournament_results(tournament, out)
    written = write_outputs(results, out)
    if not args.quiet:
        print(format_rankings(results))
    size = f"{_count(len(experiment.points), 'profile')} x {_count(experiment.config.replications, 'seed')}"
    print(f"{tournament.config.name}: {size}: {_count(report.done, 'run')} done, {report.skipped} already stored, "
          f"{report.failed} failed, of {report.total}; tables and plots in {written}/")  # fmt: skip
    if report.failed:
        print(f"strategy-abm: {_count(report.failed, 'run')} failed (errors in {out}/failures/)", file=sys.stderr)
        return EXIT_RUNS_FAILED
    return 0


def cmd_sensitivity(args) -> int:
    from .experiments.analysis import plot_sensitivity, sensitivity
    from .report.folders import file_in, subfolder

    indices = sensitivity(args.results)
    out = subfolder(args.results, "analysis")
    file_in(out, "sensitivity.csv")
    indices.to_csv(out / "sensitivity.csv", index=False)
    paths = plot_sensitivity(indices, out)
    with __import__("pandas").option_context("display.width", 160, "display.max_rows", 500):
        print(indices.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for note in indices.attrs.get("notes", []):  # e.g. a metric whose indices are undefined
        print(note)
    print(f"table: {out / 'sensitivity.csv'}; plots: {', '.join(p.name for p in paths)}")
    return 0


def cmd_plot(args) -> int:
    from .experiments.analysis import plot_results

    paths = plot_results(args.results)
    print(f"{_count(len(paths), 'plot')} in {args.results / 'plots'}/")
    return 0


def cmd_validation_report(args) -> int:
    from .experiments.validation import write_report

    paths = write_report(args.out, range(args.seeds), args.calibration)
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def cmd_calibrate(args) -> int:
    from .experiments.calibration import calibrate

    summary = calibrate(args.calibration, args.out, workers=args.workers, progress=not args.quiet, resume=args.resume)
    print(f"{summary['plausible']} plausible of {summary['evaluated']} points in {summary['waves']} wave(s); "
          f"plausible.csv, plausible.toml, robustness.md in {args.out}/")  # fmt: skip
    return 0


def _record_of(path: str) -> dict:
    """A room's record file, loaded and checked; a bad one is a usage error (one line, exit 2)."""
    from .classroom.record import RecordError, load_record

    try:
        return load_record(path)
    except RecordError as exc:
        raise UsageError(str(exc)) from None


def cmd_replay(args) -> int:
    from .classroom.record import RecordError, replay
    from .report.output import check_out_dir

    record = _record_of(args.file)
    out = args.out or Path("runs") / f"replay_{record['scenario']}_seed{record['seed']}"
    check_out_dir(out)  # before any work, as run --out
    try:
        played = replay(record)
    except RecordError as exc:
        raise UsageError(f"{Path(args.file).name}: {exc}") from None
    played.write(out, plots=not args.no_plots)
    if not args.quiet:
        print(summary_table(played.model))
    state = "the whole game" if played.game.over else f"of {played.game.horizon}: the game was not over"
    print(f"replayed {_count(len(played.reports), 'turn')} ({state}); outputs: {out}/ (model.csv, actors.csv, "
          f"events.csv, summary.json, config.toml{', plots/' if not args.no_plots else ''})")  # fmt: skip
    return 0


def cmd_debrief(args) -> int:
    from .classroom.debrief import write_debrief
    from .classroom.record import RecordError
    from .report.folders import check_target

    record = _record_of(args.file)
    out = args.out or Path("runs") / f"debrief_{Path(args.file).stem}"
    check_target(out, "debrief")  # before any work, as run --out
    try:
        index = write_debrief(record, out, counterfactuals=not args.no_counterfactuals)
    except RecordError as exc:
        raise UsageError(f"{Path(args.file).name}: {exc}") from None
    pages = sorted(p.name for p in out.glob("*.html"))
    print(f"debrief: {index} ({_count(len(pages), 'page')}: {', '.join(pages)}); figures in {out}/figures/, "
          f"the run folder's tables in {out}/run/")  # fmt: skip
    return 0


def cmd_serve(args) -> int:
    from .classroom.server import ServeError, serve
    from .classroom.store import StoreError

    try:
        return serve(args.host, args.port, args.data, rate=args.rate_limit)
    except ServeError as exc:
        raise UsageError(str(exc)) from None
    except StoreError as exc:  # a damaged or foreign rooms file: left as it is
        return _error(exc, EXIT_FAULT)


def cmd_play(args) -> int:
    from .classroom.room import RoomError
    from .classroom.server import ServeError, play
    from .scenario.config import builtin_scenarios

    if args.scenario not in builtin_scenarios():
        raise UsageError(f"argument --scenario: unknown scenario {args.scenario!r} "
                         f"(built-in: {', '.join(builtin_scenarios())})")  # fmt: skip
    scenario = load_scenario(args.scenario)
    seats = (*scenario.power_ids, *scenario.host_ids)
    if args.actor not in seats:
        raise UsageError(f"argument --as: unknown seat {args.actor!r} (one of {', '.join(seats)})")
    from .classroom.store import StoreError

    try:
        return play(args.actor, args.scenario, args.seed, args.port, not args.no_browser, args.data)
    except RoomError as exc:
        raise UsageError(f"argument --as: {exc}") from None
    except ServeError as exc:
        raise UsageError(str(exc)) from None
    except StoreError as exc:
        return _error(exc, EXIT_FAULT)


def cmd_tune(args) -> int:
    from .lab.tune import load_tuning, run_study, write_outputs
    from .report.folders import check_target

    load_plugins(args)  # before the file: its pools may name their strategies
    tuning = load_tuning(args.file)
    out = args.out or Path("runs") / "tune" / tuning.config.name
    check_target(out, "tune")

    def progress(number: int, state: str) -> None:
        print(f"\rtrial {number} {state}   ", end="", file=sys.stderr, flush=True)

    try:
        study = run_study(
            tuning, out, args.trials, progress=None if args.quiet else progress, resume=args.resume, worker=args.worker
        )
    except KeyboardInterrupt as exc:
        what, code = _interrupted(exc)
        print(f"strategy-abm: {what}; finished trials are stored in {out}/{'study.journal'} and running again "
              "continues", file=sys.stderr)  # fmt: skip
        return code
    if not args.quiet:
        print(file=sys.stderr)
    report = write_outputs(tuning, study, out)
    states = [t.state.name.lower() for t in study.trials]
    print(f"{tuning.config.name}: {_count(len(states), 'trial')} in the study ({states.count('complete')} complete, "
          f"{states.count('pruned')} pruned); best trial {report['best_trial']}")  # fmt: skip
    for metric, s in report["objectives"].items():
        lo, hi = s["difference_ci95"]
        print(
            f"held out ({s['instances']} games): {metric} tuned {s['tuned_mean']:.4f} vs {report['doctrine']} "
            f"{s['doctrine_mean']:.4f}, difference {s['difference_mean']:+.4f} (95% CI {lo:+.4f} to {hi:+.4f})"
        )
    print(f"outputs: {out}/ (best.toml, evaluation.csv, evaluation.json, trials.csv, {', '.join(report['plots'])}, "
          "study.journal)")  # fmt: skip
    return 0


def cmd_psro(args) -> int:
    from .lab.psro import format_iteration, load_psro, run_folder
    from .report.folders import check_target

    load_plugins(args)  # before the file: its pools may name their strategies
    psro = load_psro(args.file)
    out = args.out or Path("runs") / "psro" / psro.config.name
    check_target(out, "psro")

    def progress(iteration: int, role: str, trial: int) -> None:
        line = f"iteration {iteration}: best response of {role}, trial {trial}"
        print(f"\r{line:<60}", end="", file=sys.stderr, flush=True)

    quiet = args.quiet
    finished: list[int] = []

    def report(it) -> None:
        finished.append(it.number)
        if not quiet:
            print(f"\r{'':<60}\r", end="", file=sys.stderr, flush=True)  # (the progress line cleared)
            print(format_iteration(it), flush=True)

    try:
        result = run_folder(psro, out, args.iterations, progress=None if quiet else progress, report=report)
    except KeyboardInterrupt as exc:
        what, code = _interrupted(exc)
        if not quiet:
            print(f"\r{'':<60}\r", end="", file=sys.stderr, flush=True)
        if not finished:
            print(f"strategy-abm: {what} in iteration 1; no iteration finished", file=sys.stderr)
        else:
            done = "iteration 1 is" if len(finished) == 1 else f"iterations 1 to {len(finished)} are"
            print(f"strategy-abm: {what}; {done} in {out}/trace.csv", file=sys.stderr)
        return code
    last = result.iterations[-1]
    state = "converged" if result.converged else "stopped at the iteration limit"
    print(f"{psro.config.name}: {state} after {_count(len(result.iterations), 'iteration')}; exploitability "
          f"{last.exploitability:.4f} (epsilon {psro.config.epsilon:g}); pools "
          f"{', '.join(f'{r} {len(p)}' for r, p in result.pools.items())}")  # fmt: skip
    print(f"outputs: {out}/ (trace.csv, mixes.csv, trials.csv, pools.toml, responses.toml, metagame.json, "
          "metagame.csv, plots/exploitability.png)")  # fmt: skip
    return 0


COMMANDS = {
    "run": cmd_run,
    "scenarios": cmd_scenarios,
    "validate": cmd_validate,
    "sweep": cmd_sweep,
    "tournament": cmd_tournament,
    "sensitivity": cmd_sensitivity,
    "plot": cmd_plot,
    "validation-report": cmd_validation_report,
    "calibrate": cmd_calibrate,
    "replay": cmd_replay,
    "debrief": cmd_debrief,
    "serve": cmd_serve,
    "play": cmd_play,
    "tune": cmd_tune,
    "psro": cmd_psro,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``strategy-abm`` console script; returns the exit code (see the module).

    ``argv`` None (the console script, ``python -m strategy_abm.cli``): the command line is
    ``sys.argv``, and the process is the program's: what the imports made (modules, classes,
    numba's and pydantic's tables, all kept to the end) is frozen first (``gc.freeze``), so that
    the collections the command triggers, one of them a full one while the compiled rules load
    (30-40 ms), do not go through it again, nor do the workers forked from it (whose pages then
    stay shared); and when this returns the process is taken to end, so the objects it holds are
    frozen too: the interpreter's exit then skips collecting them, which with the compiled rules
    loaded takes a tenth of a second or more. Everything the command writes is closed before it
    returns."""
    if argv is None:
        gc.freeze()
    _fill_standard_fds()
    saved = sys.stdout, sys.stderr
    if not _usable(sys.stderr):  # closed (2>&-): messages are lost, the exit code still says it
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process's remaining life
    if not _usable(sys.stdout):  # closed (>&-): as a reader gone away, exit code 141
        sys.stdout = _ClosedOutput()
    try:
        with _sigterm_as_interrupt():
            return _main(sys.argv[1:] if argv is None else argv)
    finally:
        sys.stdout, sys.stderr = saved
        if argv is None:
            gc.freeze()


def _main(argv: list[str]) -> int:
    from .report.folders import FaultError, OutputError

    try:
        parser = build_parser()
        if not argv:  # as git and argparse do: the usage on stderr, exit 2
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        args = parser.parse_args(argv)
        skip_blas_probe()  # the program owns its process: numba without importing scipy.linalg
        skip_cffi_support()  # nor building a CFFI parser
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, so that a closed pipe is caught below, not at exit
        return code
    except (UsageError, ConfigError, OutputError) as exc:
        return _error(exc, EXIT_BAD_INPUT)
    except FaultError as exc:
        fix = f"; {exc.fix}" if exc.fix and exc.fix not in str(exc) else ""
        return _error(f"{exc}{fix}", EXIT_FAULT)
    except BrokenPipeError:
        # The reader went away (`strategy-abm ... | head`): end quietly, as the Python docs advise,
        # with stdout pointed at devnull so that the flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # any other read or write that failed: a fault, not a traceback
        from .report.folders import os_fault

        fault = os_fault(exc, "read or write")
        return _error(f"{fault}{'; ' + fault.fix if fault.fix else ''}", EXIT_FAULT)
    except KeyboardInterrupt as exc:
        what, code = _interrupted(exc)
        with contextlib.suppress(OSError, ValueError):
            print(f"strategy-abm: {what}", file=sys.stderr)
        return code


class _ClosedOutput(io.TextIOBase):
    """Stands for a stdout closed before the program started: writing to it is a closed pipe."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "stdout is closed")

    def flush(self) -> None:
        pass


def _usable(stream) -> bool:
    """Whether ``stream`` (sys.stdout or sys.stderr) can be written to: not ``None`` (Python's
    value for a descriptor closed at start-up), not closed, its descriptor open."""
    if stream is None or getattr(stream, "closed", False):
        return False
    try:
        os.fstat(stream.fileno())
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return True  # not backed by a descriptor (a test's StringIO)
    except OSError:
        return False
    return True


def _fill_standard_fds() -> None:
    """Put /dev/null on descriptors 0, 1 and 2 if closed, so that no file the program opens gets
    one of their numbers (a worker's messages on stderr would otherwise land in it)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            new = os.open(os.devnull, os.O_RDWR)
            if new != fd:
                os.dup2(new, fd)
                os.close(new)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While the command runs, SIGTERM raises :class:`Terminated` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _count(n: int, noun: str) -> str:
    """``1 run``, ``2 runs``, ``0 runs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _error(exc, code: int) -> int:
    with contextlib.suppress(OSError, ValueError):  # stderr closed too: the exit code says it
        print(f"strategy-abm: error: {' '.join(str(exc).split())}", file=sys.stderr)  # always one line
    return code


if __name__ == "__main__":
    sys.exit(main())
