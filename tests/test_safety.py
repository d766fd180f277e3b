"""Safety at the edges of the output folders: a run folder is replaced only if it holds nothing
but its run's files; no symbolic link in a run or sweep folder is ever followed.

Each refusal is one line on stderr naming the entry, exit code 2, and leaves every file as it was
(the link's target included).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from clitools import one_error_line, run_cli

import strategy_abm.report.output as output_mod
from strategy_abm.experiments.experiment import load_experiment
from strategy_abm.experiments.results import ResultStore, load_results
from strategy_abm.experiments.sweep import run_sweep
from strategy_abm.report.folders import LOCK_FILE, MARKERS, FolderLock, OutputError

FAST_RUN = ["--turns", "1", "--no-plots", "--quiet"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file (``<dir>``, ``<link>`` for folders and links)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        key = str(p.relative_to(folder))
        if p.is_symlink():
            out[key] = b"<link>" + os.readlink(p).encode()
        else:
            out[key] = p.read_bytes() if p.is_file() else b"<dir>"
    return out


# ------------------------------------------------------------------ a run folder holding the user's files


def _add_file(run: Path) -> str:
    (run / "notes.txt").write_text("my notes\n")
    return "notes.txt"


def _add_folder(run: Path) -> str:
    (run / "myanalysis").mkdir()
    (run / "myanalysis" / "fit.py").write_text("print(1)\n")
    return "myanalysis"


def _add_to_plots(run: Path) -> str:
    (run / "plots" / "annotated.png").write_bytes(b"\x89PNG mine")
    return "plots/annotated.png"


def _add_link(run: Path) -> str:
    (run / "data.csv").symlink_to(run.parent / "elsewhere.csv")
    return "data.csv"


def _replace_file_by_folder(run: Path) -> str:
    (run / "events.csv").unlink()
    (run / "events.csv").mkdir()
    (run / "events.csv" / "mine.txt").write_text("mine\n")
    return "events.csv"


@pytest.mark.parametrize("add", [_add_file, _add_folder, _add_to_plots, _add_link, _replace_file_by_folder])
def test_a_run_folder_holding_anything_its_run_did_not_write_is_refused_and_kept(tmp_path, monkeypatch, add):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere.csv").write_text("elsewhere\n")
    code, _, err = run_cli("run", "--turns", "1", "--quiet", "--out", "r1")  # with plots
    assert code == 0, err
    entry = add(tmp_path / "r1")
    before = snapshot(tmp_path)
    code, stdout, err = run_cli("run", *FAST_RUN, "--seed", "3", "--out", "r1")
    line = one_error_line(err)
    assert code == 2 and stdout == ""
    assert f"--out: 'r1' holds {entry!r}, which its run did not write" in line, line
    assert snapshot(tmp_path) == before, "a file changed or a temporary folder was left"


def test_a_run_folder_holding_only_its_files_is_replaced_with_or_without_plots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for seed, plots in (("0", True), ("1", False), ("2", True)):
        code, _, err = run_cli("run", "--turns", "1", "--quiet", "--seed", seed, "--out", "r1",
                               *([] if plots else ["--no-plots"]))  # fmt: skip
        assert code == 0, err
        assert json.loads((tmp_path / "r1" / "summary.json").read_text())["seed"] == int(seed)
        assert (tmp_path / "r1" / "plots").is_dir() == plots
    marker = json.loads((tmp_path / "r1" / MARKERS["run"]).read_text())
    files = [p.relative_to(tmp_path / "r1").as_posix() for p in (tmp_path / "r1").rglob("*") if p.is_file()]
    assert marker["files"] == sorted(f for f in files if f != MARKERS["run"])
    assert "plots/payoffs.png" in marker["files"] and "model.csv" in marker["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1"], "a temporary or backup folder was left"


def test_a_marker_without_its_file_list_allows_the_run_files_and_plots_only(tmp_path, monkeypatch):
    """A run folder marked by a version that did not list its files: the files a run writes and
    PNG files in plots/ are the run's; anything else is refused."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("run", "--turns", "1", "--quiet", "--out", "r1")
    assert code == 0, err
    marker = tmp_path / "r1" / MARKERS["run"]
    marker.write_text(json.dumps({"kind": "run", "format": 1}) + "\n")
    code, _, err = run_cli("run", *FAST_RUN, "--out", "r1")
    assert code == 0, err
    marker.write_text(json.dumps({"kind": "run", "format": 1}) + "\n")
    (tmp_path / "r1" / "plots").mkdir()
    (tmp_path / "r1" / "plots" / "notes.txt").write_text("mine\n")
    code, _, err = run_cli("run", *FAST_RUN, "--out", "r1")
    assert code == 2 and "holds 'plots/notes.txt'" in one_error_line(err)
    assert (tmp_path / "r1" / "plots" / "notes.txt").read_text() == "mine\n"


def test_a_file_added_while_the_game_runs_is_not_deleted(tmp_path, monkeypatch):
    """The folder is checked before the game and again once moved aside, just before the new run
    takes its place: a file added in between puts the old run back, and the run is refused."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("run", *FAST_RUN, "--out", "r1")
    assert code == 0, err
    real_check = output_mod.check_out_dir
    calls = []

    def check_then_add(out):
        real_check(out)
        calls.append(out)
        if len(calls) == 3:  # the cli's check, write_run's, then replace_folder's
            (Path(out) / "late.txt").write_text("added during the game\n")

    monkeypatch.setattr(output_mod, "check_out_dir", check_then_add)
    before = snapshot(tmp_path / "r1")
    code, _, err = run_cli("run", *FAST_RUN, "--seed", "5", "--out", "r1")
    assert code == 2 and "holds 'late.txt'" in one_error_line(err)
    assert snapshot(tmp_path / "r1") == {**before, "late.txt": b"added during the game\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1"], "a temporary or backup folder was left"


def test_a_run_marker_that_is_a_link_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("run", *FAST_RUN, "--out", "real")
    assert code == 0, err
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "thesis.tex").write_text("mine\n")
    (tmp_path / "fake" / MARKERS["run"]).symlink_to(tmp_path / "real" / MARKERS["run"])
    before = snapshot(tmp_path)
    code, _, err = run_cli("run", *FAST_RUN, "--out", "fake")
    assert code == 2 and f"'fake/{MARKERS['run']}' is a symbolic link" in one_error_line(err)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ links in a sweep folder


SMOKE = (
    'name = "links"\nscenario = "baseline"\nhorizon_turns = 1\nreplications = 2\nmaster_seed = 3\nbatch_size = 1\n'
    '[factors."powers.china.strategy"]\nvalues = ["bri_classic", "bri_2"]\n'
    '[record]\nfinal = ["influence_china"]\nseries = ["influence_china"]\n'
)


@pytest.fixture
def swept(tmp_path) -> tuple[Path, Path, Path]:
    """(experiment file, its sweep folder, a precious file outside it)."""
    exp = tmp_path / "links.toml"
    exp.write_text(SMOKE)
    out = tmp_path / "D"
    code, _, err = run_cli("sweep", exp, "--out", out, "--quiet")
    assert code == 0, err
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    return exp, out, precious


@pytest.mark.parametrize("name", [LOCK_FILE, "manifest.json", MARKERS["sweep"]])
def test_a_sweep_file_that_is_a_link_is_refused_and_its_target_kept(swept, name):
    exp, out, precious = swept
    (out / name).unlink()
    (out / name).symlink_to(precious)
    before = snapshot(out.parent)
    code, _, err = run_cli("sweep", exp, "--out", out, "--quiet", "--resume")
    assert code == 2 and f"{str(out / name)!r} is a symbolic link" in one_error_line(err)
    assert snapshot(out.parent) == before
    assert precious.read_text() == "precious\n"


@pytest.mark.parametrize("table", ["results", "series", "failures", "plots", "analysis"])
def test_a_sweep_table_folder_that_is_a_link_is_refused(swept, table):
    exp, out, precious = swept
    elsewhere = out.parent / "elsewhere"
    elsewhere.mkdir()
    if (out / table).exists():
        (out / table).rename(elsewhere / table)
    else:
        (elsewhere / table).mkdir()
    (out / table).symlink_to(elsewhere / table)
    before = snapshot(out.parent)
    code, _, err = run_cli("sweep", exp, "--out", out, "--quiet", "--resume")
    assert code == 2 and f"{str(out / table)!r} is a symbolic link" in one_error_line(err)
    assert snapshot(out.parent) == before


def test_temporary_names_that_are_links_are_unlinked_not_followed(swept):
    """A link at the manifest's or a part's temporary name (left by anyone) is removed, not
    written through: the target is unchanged and the manifest and parts are plain files."""
    exp, out, precious = swept
    (out / "results" / "part-000000.parquet").rename(out.parent / "moved.parquet")  # two runs to redo
    (out / "manifest.json.tmp").symlink_to(precious)
    for table in ("results", "series"):
        (out / table / "part-000001.parquet.tmp").symlink_to(precious)
    code, stdout, err = run_cli("sweep", exp, "--out", out, "--quiet", "--resume")
    assert code == 0, err
    assert "4 runs done, 0 already stored" in stdout
    assert precious.read_text() == "precious\n"
    assert not (out / "manifest.json").is_symlink() and json.loads((out / "manifest.json").read_text())
    assert not [p for p in out.rglob("*") if p.is_symlink()] and not list(out.rglob("*.tmp"))
    assert len(load_results(out)) == 4


def test_links_planted_while_a_sweep_writes_are_not_followed(tmp_path, swept):
    """A link put at the next part's temporary name, and a table folder replaced by a link to a
    folder elsewhere, after the store has opened its folders: the parts go into the store's own
    table folder, never through either link."""
    exp_file, out, precious = swept
    exp = load_experiment(exp_file)
    fresh = tmp_path / "fresh"
    store = ResultStore(fresh, exp, flush_rows=1)
    (fresh / "results" / "part-000000.parquet.tmp").symlink_to(precious)
    outside = tmp_path / "outside"
    outside.mkdir()
    (fresh / "series").rename(tmp_path / "series_moved")
    (fresh / "series").symlink_to(outside)
    report = run_sweep(exp, store, progress=False)
    assert report.done == 4
    assert precious.read_text() == "precious\n"
    assert list(outside.iterdir()) == [], "a part was written through the link"
    assert sorted(p.name for p in (tmp_path / "series_moved").iterdir()) == [f"part-{i:06d}.parquet" for i in range(4)]
    assert not (fresh / "results" / "part-000000.parquet").is_symlink()


def test_folder_lock_never_opens_a_link(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / LOCK_FILE).symlink_to(precious)
    with pytest.raises(OutputError, match="is a symbolic link"):
        FolderLock(tmp_path / "d")
    assert precious.read_text() == "precious\n"


# ------------------------------------------------------------------ a killed or terminated driver

# The driver, with every turn slowed down (inherited by its forked workers), so that a signal
# reliably arrives mid-sweep; the resume, in this process, runs at full speed.
# Every turn slowed by ``delay`` seconds, on the per-turn path (run) and on the bulk path (sweeps).
SLOW_DRIVER = (
    "import sys, time; import strategy_abm.sim.model as m; step = m.CompetitionModel.step; "
    "m.CompetitionModel.step = lambda self: (time.sleep({delay}), step(self))[1]; "
    "import strategy_abm.sim.bulk as b; play = b.BulkPlan.play; "
    "b.BulkPlan.play = lambda self, *a, **k: (time.sleep({delay} * self.horizon), play(self, *a, **k))[1]; "
    "from strategy_abm.cli import main; sys.exit(main())"
)
SIGNALLED = (
    'name = "signalled"\nscenario = "baseline"\nhorizon_turns = 4\nreplications = 12\nmaster_seed = 5\n'
    'batch_size = 1\n[factors."powers.china.strategy"]\nvalues = ["bri_classic", "bri_2"]\n'
    '[record]\nfinal = ["influence_china", "debt_to_gdp_kgz"]\nseries = ["influence_china"]\n'
)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


def _start_slow_sweep(tmp_path: Path, *args, delay: float = 0.05, pipes: bool = True, new_group: bool = False):
    exp = tmp_path / "signalled.toml"
    exp.write_text(SIGNALLED)
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", SLOW_DRIVER.format(delay=delay), "sweep", str(exp), "--out", str(out), "--quiet",
           "--flush-rows", "1", *args]  # fmt: skip
    std = subprocess.PIPE if pipes else subprocess.DEVNULL
    # new_group: the driver leads a process group of its own, as a terminal's job does.
    proc = subprocess.Popen(cmd, stdout=std, stderr=std, env=_env(), text=True, start_new_session=new_group)
    return proc, exp, out


@contextlib.contextmanager
def _reaping(proc: subprocess.Popen):
    """Kill, at the end, the driver and every process it started that is still there (so that a
    failing test leaves no worker behind)."""
    seen: dict[int, psutil.Process] = {}

    def children() -> list[int]:
        with contextlib.suppress(psutil.NoSuchProcess):
            seen.update((c.pid, c) for c in psutil.Process(proc.pid).children(recursive=True))
        return list(seen)

    try:
        yield children
    finally:
        children()
        proc.kill()
        for child in seen.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def _wait_for_parts(proc: subprocess.Popen, folder: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("part-*.parquet"))) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep stored nothing"
        time.sleep(0.05)


def _gone(pids, timeout: float = 5.0) -> list[int]:
    """The pids still alive (not ended, not zombies) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_workers_end_when_the_driver_is_killed(tmp_path):
    """kill -9 of the driver: its worker processes (and multiprocessing's helper) end within
    seconds instead of waiting forever on the job pipe that each holds a copy of."""
    proc, _, out = _start_slow_sweep(tmp_path, "--workers", "2", pipes=False)
    with _reaping(proc) as children:
        _wait_for_parts(proc, out / "results", 2)
        pids = children()
        assert len(_gone(pids, timeout=0)) >= 2, "no worker processes"
        proc.kill()
        proc.wait(10)
        assert _gone(pids) == []


def test_sigterm_stores_the_finished_runs_says_one_line_and_resume_completes(tmp_path):
    proc, exp, out = _start_slow_sweep(tmp_path, "--workers", "2")
    with _reaping(proc) as children:
        _wait_for_parts(proc, out / "results", 2)
        pids = children()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
        assert _gone(pids) == []
    assert proc.returncode == 143
    assert stderr.splitlines() == [f"strategy-abm: terminated (SIGTERM); finished runs are stored in {out}/ and "
                                   "--resume continues"]  # fmt: skip
    assert stdout == ""
    stored = len(load_results(out))
    assert 2 <= stored < 24
    code, stdout, err = run_cli("sweep", exp, "--out", out, "--quiet", "--resume")
    assert code == 0, err
    assert f"{24 - stored} runs done, {stored} already stored, 0 failed, of 24" in stdout
    code, _, err = run_cli("sweep", exp, "--out", tmp_path / "ref", "--quiet")
    assert code == 0, err
    assert load_results(out).equals(load_results(tmp_path / "ref"))


def test_sigterm_in_process_sweep_and_in_a_run(tmp_path):
    """One process (no workers), and `run`: SIGTERM is one line and exit code 143; a run being
    played leaves nothing behind."""
    proc, _, out = _start_slow_sweep(tmp_path)
    with _reaping(proc):
        _wait_for_parts(proc, out / "results", 1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143 and len(stderr.splitlines()) == 1 and "terminated (SIGTERM)" in stderr, stderr
    assert len(load_results(out)) >= 1
    run = [sys.executable, "-c", SLOW_DRIVER.format(delay=0.5), "run", "--out", str(tmp_path / "r"), "--quiet"]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    with _reaping(proc):
        time.sleep(2.5)  # imports, then the first turns of the game
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stderr) == (143, "strategy-abm: terminated (SIGTERM)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "signalled.toml"]


# ------------------------------------------------------------------ Ctrl-C and lost schedulers on Dask


@pytest.mark.parametrize("where", [["--workers", "2"], ["--scheduler", "local", "--workers", "2"]],
                         ids=["local-processes", "dask-local-cluster"])  # fmt: skip
def test_ctrl_c_with_worker_processes_is_one_line(tmp_path, where):
    """Ctrl-C in a terminal reaches every process of the group (the driver, and its worker
    processes): only the driver takes it, so stderr holds the one line, exit code 130, and the
    workers end with it."""
    proc, exp, out = _start_slow_sweep(tmp_path, *where, new_group=True)
    with _reaping(proc) as children:
        _wait_for_parts(proc, out / "results", 2)
        pids = children()
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        assert _gone(pids) == []
    assert stderr.splitlines() == [f"strategy-abm: interrupted; finished runs are stored in {out}/ and "
                                   "--resume continues"], (proc.returncode, stdout, stderr)  # fmt: skip
    assert (proc.returncode, stdout) == (130, "")
    stored = len(load_results(out))
    code, stdout, err = run_cli("sweep", exp, "--out", out, "--quiet", "--resume")
    assert code == 0 and f"{24 - stored} runs done, {stored} already stored" in stdout, err


SLOW_SCHEDULER = (
    "import time; import strategy_abm.sim.model as m; step = m.CompetitionModel.step; "
    "m.CompetitionModel.step = lambda self: (time.sleep(0.05), step(self))[1]; "
    "import strategy_abm.sim.bulk as b; play = b.BulkPlan.play; "
    "b.BulkPlan.play = lambda self, *a, **k: (time.sleep(0.05 * self.horizon), play(self, *a, **k))[1]; "
    "from distributed import LocalCluster; "
    "c = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol='tcp://', host='127.0.0.1', "
    "dashboard_address=None); "
    "print(c.scheduler_address, flush=True); time.sleep(300)"
)


def test_a_scheduler_lost_mid_sweep_is_one_line_without_dask_logs(tmp_path):
    """A Dask scheduler killed mid-sweep: the one line (exit 3) is all, not preceded by Dask's
    own ``distributed.client - ERROR`` log."""
    scheduler = subprocess.Popen([sys.executable, "-c", SLOW_SCHEDULER], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, env=_env(), text=True)  # fmt: skip
    with _reaping(scheduler):
        address = scheduler.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        exp = tmp_path / "signalled.toml"
        exp.write_text(SIGNALLED)
        out = tmp_path / "out"
        cmd = [sys.executable, "-m", "strategy_abm.cli", "sweep", str(exp), "--out", str(out), "--quiet",
               "--flush-rows", "1", "--scheduler", address]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
        with _reaping(proc):
            _wait_for_parts(proc, out / "results", 2)
            scheduler.kill()
            _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3
    line = one_error_line(stderr)
    assert "lost the Dask scheduler or its workers" in line and "run again with --resume" in line, line


def _a_worker_started(pids) -> bool:
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(psutil.Process(pid).cmdline()):
                return True
    return False


def test_ctrl_c_while_a_local_dask_cluster_starts_is_one_line(tmp_path):
    """Ctrl-C as the cluster's first worker process starts: held back until the cluster is up,
    then the cluster is closed cleanly (no `Exception ignored in atexit`), nothing is written."""
    exp = tmp_path / "signalled.toml"
    exp.write_text(SIGNALLED)
    cmd = [sys.executable, "-m", "strategy_abm.cli", "sweep", str(exp), "--out", str(tmp_path / "out"), "--quiet",
           "--scheduler", "local", "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True,
                            start_new_session=True)  # fmt: skip
    with _reaping(proc) as children:
        deadline = time.monotonic() + 60
        while not _a_worker_started(children()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        assert _gone(children()) == []
    assert (proc.returncode, stdout, stderr) == (130, "", "strategy-abm: interrupted\n")
    assert not (tmp_path / "out").exists()
