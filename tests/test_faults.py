"""Faults part-way and folders that are not what they seem: disk full, a read-only folder, a
damaged manifest or Parquet part, a crafted manifest, a crash while a sweep folder is being
made, two sweeps on one folder, a killed worker, a closed pipe.

Each ends in one line on stderr naming the problem and what to do, a documented exit code
(3 for a fault part-way, 2 for a folder refused before any work, 141 for a closed stdout), and
nothing stored is lost: a resumed sweep then equals an uninterrupted one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from clitools import PREFIX, one_error_line, run_cli, tell_seed

import strategy_abm.experiments.results as results_mod
from strategy_abm.experiments.experiment import load_experiment, run_seed
from strategy_abm.experiments.results import ResultStore, load_failures, load_results, load_series
from strategy_abm.experiments.sweep import run_sweep
from strategy_abm.report.folders import LOCK_FILE, MARKERS, FaultError, FolderLock, OutputError, file_in

FAST_RUN = ["--turns", "2", "--no-plots", "--quiet"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file (and ``<dir>`` for folders) below ``folder``."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>") for p in folder.rglob("*")}


def game_toml(name: str, *, values=("bri_classic", "bri_2"), replications: int = 3, series=("influence_china",)) -> str:
    return (
        f'name = "{name}"\nscenario = "baseline"\nhorizon_turns = 2\nreplications = {replications}\n'
        'master_seed = 7\nbatch_size = 1\n\n[design]\nkind = "full_factorial"\n\n'
        f'[factors."powers.china.strategy"]\nvalues = {json.dumps(list(values))}\n\n'
        f'[record]\nfinal = ["influence_china", "debt_to_gdp_kgz"]\nseries = {json.dumps(list(series))}\n'
    )


def sweep_file(tmp_path: Path, name: str = "f", **kw) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(game_toml(name, **kw), encoding="utf-8")
    return path


@pytest.fixture
def reference(tmp_path) -> tuple[Path, Path]:
    """(experiment file, results folder of its uninterrupted sweep)."""
    exp_file = sweep_file(tmp_path)
    out = tmp_path / "reference"
    code, _, err = run_cli("sweep", exp_file, "--out", out, "--quiet")
    assert code == 0, err
    return exp_file, out


def assert_same_results(folder: Path, ref: Path) -> None:
    pd.testing.assert_frame_equal(load_results(folder), load_results(ref))
    pd.testing.assert_frame_equal(load_series(folder), load_series(ref))


# ------------------------------------------------------------------ disk full, read-only folder


def _failing_writes(monkeypatch, err: int, after: int) -> list:
    """Parquet writes fail with ``err`` from the ``after``-th on (0: the first)."""
    real = results_mod.pq.write_table
    calls: list = []

    def write(table, where, *a, **k):
        calls.append(where)
        if len(calls) > after:
            raise OSError(err, os.strerror(err), str(where))
        return real(table, where, *a, **k)

    monkeypatch.setattr(results_mod.pq, "write_table", write)
    return calls


@pytest.mark.parametrize(
    ("err", "fix"),
    [(errno.ENOSPC, "free some disk space"), (errno.EROFS, "make the folder writable"),
     (errno.EACCES, "make the folder writable")],
    ids=["disk-full", "read-only", "permission-denied"],
)  # fmt: skip
def test_write_fault_mid_sweep_is_one_line_and_resume_completes(tmp_path, reference, monkeypatch, err, fix):
    exp_file, ref = reference
    out = tmp_path / "out"
    with monkeypatch.context() as mp:
        _failing_writes(mp, err, after=4)  # 2 runs stored (series + results parts each), then the fault
        code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--flush-rows", "1")
    assert code == 3, stderr
    line = one_error_line(stderr)
    assert os.strerror(err) in line and fix in line and "run again with --resume" in line, line
    assert f"2 runs are stored in {out}/" in line, line
    assert len(load_results(out)) == 2
    assert not list(out.rglob("*.tmp")), "a partial part was left"
    parts_before = snapshot(out / "results")

    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--flush-rows", "1", "--resume")
    assert code == 0, stderr
    assert "4 runs done, 2 already stored, 0 failed, of 6" in stdout
    assert all(snapshot(out / "results")[k] == v for k, v in parts_before.items()), "a stored part changed"
    assert_same_results(out, ref)


def test_disk_full_at_the_last_flush_says_how_many_runs_are_stored(tmp_path, reference, monkeypatch):
    exp_file, ref = reference
    out = tmp_path / "out"
    with monkeypatch.context() as mp:
        _failing_writes(mp, errno.ENOSPC, after=0)  # default flush size: nothing is written before the end
        code, _, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet")
    assert code == 3
    line = one_error_line(stderr)
    assert "No space left on device" in line and "0 runs are stored" in line and "--resume" in line
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--resume")
    assert code == 0 and "6 runs done, 0 already stored" in stdout, stderr
    assert_same_results(out, ref)


def test_disk_full_while_writing_a_run_keeps_the_earlier_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    assert run_cli("run", "--out", out, *FAST_RUN)[0] == 0
    before = snapshot(tmp_path)
    real = pd.DataFrame.to_csv
    calls = []

    def to_csv(self, *a, **k):
        calls.append(a)
        if len(calls) >= 2:  # model.csv written, actors.csv fails
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    code, stdout, stderr = run_cli("run", "--out", out, "--seed", "3", *FAST_RUN)
    assert code == 3 and len(calls) == 2
    line = one_error_line(stderr)
    assert f"cannot write the run to {str(out)!r}: No space left on device" in line
    assert "the earlier run there is unchanged" in line and "free some disk space" in line
    assert stdout == ""
    assert snapshot(tmp_path) == before, "the earlier run changed or a temporary folder was left"


def test_disk_full_for_a_new_run_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    code, _, stderr = run_cli("run", "--out", tmp_path / "new", *FAST_RUN)
    assert code == 3
    assert "no partial run was left" in one_error_line(stderr)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_is_refused_before_the_game_as_root_too(tmp_path, monkeypatch):
    """A read-only place (simulated: root writes through chmod) is refused before any work."""
    import strategy_abm.report.folders as folders_mod

    def read_only(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(folders_mod.tempfile, "mkdtemp", read_only)
    for argv in (["run", "--out", tmp_path / "r", *FAST_RUN], ["sweep", "smoke", "--out", tmp_path / "s", "--quiet"]):
        code, _, stderr = run_cli(*argv)
        assert code == 2
        assert f"--out: cannot make a folder in {str(tmp_path)!r} (Read-only file system)" in one_error_line(stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["plot", "sensitivity"])
def test_disk_full_while_writing_plots_is_one_line(tmp_path, sobol_folder, monkeypatch, command):
    import matplotlib.figure

    folder = tmp_path / "sobol"
    shutil.copytree(sobol_folder, folder)
    before = snapshot(folder)

    def full(self, fname, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fname))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    code, stdout, stderr = run_cli(command, folder)
    assert code == 3
    line = one_error_line(stderr)
    assert "No space left on device" in line and "free some disk space" in line and str(folder) in line, line
    stored = {k: v for k, v in snapshot(folder).items() if k.split("/")[0] not in ("plots", "analysis")}
    assert stored == before, "the sweep's stored results changed"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_read_only_folders_by_chmod(tmp_path, reference):
    exp_file, ref = reference
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, stderr = run_cli("run", "--out", locked / "r", *FAST_RUN)
        assert code == 2 and "cannot make a folder in" in one_error_line(stderr)
        ref.chmod(0o555)
        code, _, stderr = run_cli("sweep", exp_file, "--out", ref, "--quiet", "--resume")
        assert code == 2 and "cannot write in" in one_error_line(stderr)
        code, _, stderr = run_cli("plot", ref)
        assert code == 3 and "Permission denied" in one_error_line(stderr)
    finally:
        locked.chmod(0o755)
        ref.chmod(0o755)


# ------------------------------------------------------------------ damaged and crafted folders


@pytest.mark.parametrize("damage", ["not-json", "truncated", "wrong-shape"])
def test_damaged_manifest_is_one_line_for_every_reader_and_resume_rewrites_it(tmp_path, reference, damage):
    exp_file, ref = reference
    folder = tmp_path / "damaged"
    shutil.copytree(ref, folder)
    manifest = folder / "manifest.json"
    text = manifest.read_text()
    manifest.write_text({"not-json": "\x00\x01garbage", "truncated": text[: len(text) // 2],
                         "wrong-shape": json.dumps({"experiment": []})}[damage])  # fmt: skip
    before = snapshot(folder)
    for argv in (["plot", folder], ["sensitivity", folder]):
        code, stdout, stderr = run_cli(*argv)
        assert code == 3, stderr
        line = one_error_line(stderr)
        assert f"results: {str(manifest)!r} is damaged" in line and "--resume" in line, line
    with pytest.raises(FaultError, match="is damaged"):
        load_results(folder)
    assert snapshot(folder) == before, "a reader wrote into the damaged folder"

    # Every stored run is one of the experiment's (keys are hashes of it): resume rewrites the manifest.
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", folder, "--quiet", "--resume")
    assert code == 0, stderr
    assert "0 runs done, 6 already stored, 0 failed, of 6" in stdout
    assert json.loads(manifest.read_text()) == json.loads((ref / "manifest.json").read_text()) | {
        "experiment_file": str(exp_file)
    }
    assert_same_results(folder, ref)


def test_damaged_manifest_of_another_experiment_is_refused(tmp_path, reference):
    exp_file, ref = reference
    other = sweep_file(tmp_path, "other", values=("bri_2",))
    (ref / "manifest.json").write_text("{")
    before = snapshot(ref)
    code, _, stderr = run_cli("sweep", other, "--out", ref, "--quiet", "--resume")
    assert code == 3
    line = one_error_line(stderr)
    assert "is damaged" in line and "6 stored runs are not runs of 'other'" in line, line
    assert snapshot(ref) == before
    code, _, stderr = run_cli("sweep", other, "--out", ref, "--quiet")  # without --resume: refused first
    assert code == 2 and "already holds results" in one_error_line(stderr)


@pytest.mark.parametrize("table", ["results", "series", "failures"])
def test_damaged_part_is_one_line_and_resume_redoes_its_runs(tmp_path, reference, table):
    exp_file, ref = reference
    folder = tmp_path / "damaged"
    if table == "failures":  # a failure part to damage: one run fails, then succeeds on resume
        shutil.copytree(ref, folder)
        failures = folder / "failures"
        pd.DataFrame([{"key": "x", "point": 0, "replication": 0, "seed": 1, "error": "E", "traceback": ""}]).to_parquet(
            failures / "part-000000.parquet"
        )
    else:
        code, _, err = run_cli("sweep", exp_file, "--out", folder, "--quiet", "--flush-rows", "2")
        assert code == 0, err
    part = sorted((folder / table).glob("part-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:40])  # truncated: not a Parquet file any more
    loader = {"results": load_results, "series": load_series, "failures": load_failures}[table]
    with pytest.raises(FaultError, match="cannot be read"):
        loader(folder)
    readers = (
        [] if table == "failures" else [["plot", folder], ["sweep", exp_file, "--out", folder, "--quiet", "--resume"]]
    )
    for args in readers:  # (failures/ is read by load_failures only)
        code, _, stderr = run_cli(*args)
        assert code == 3, stderr
        line = one_error_line(stderr)
        assert f"results: {str(part)!r} cannot be read" in line, line
        assert "move it out of" in line and "--resume to redo its runs" in line, line
    # What the message says to do works: move the part away, resume, get the uninterrupted results.
    part.rename(tmp_path / part.name)
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", folder, "--quiet", "--resume")
    assert code == 0, stderr
    redone = {"results": 2, "series": 2, "failures": 0}[table]
    assert f"{redone} runs done, {6 - redone} already stored" in stdout
    assert_same_results(folder, ref)


def test_crafted_manifest_cannot_make_plot_write_outside(tmp_path, reference):
    _, ref = reference
    folder = tmp_path / "deep" / "crafted"
    shutil.copytree(ref, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    for where in ("final", "series"):
        crafted = json.loads(json.dumps(manifest))
        crafted["experiment"]["record"][where] = ["../../x", *crafted["experiment"]["record"][where]]
        (folder / "manifest.json").write_text(json.dumps(crafted))
        before = snapshot(tmp_path)
        for argv in (["plot", folder], ["sensitivity", folder]):
            code, _, stderr = run_cli(*argv)
            assert code == 3
            line = one_error_line(stderr)
            assert f"experiment.record.{where} names '../../x', not a metric" in line, line
        assert snapshot(tmp_path) == before, "written outside (or inside) the folder"


def test_plot_file_names_are_plain(tmp_path):
    assert file_in(tmp_path, "fan_influence_china.png") == tmp_path / "fan_influence_china.png"
    for bad in ("../x.png", "fan_../../x.png", "/etc/x.png", "a/b.png", ".hidden.png", "fan_x\x00.png", ""):
        with pytest.raises(FaultError, match="not a plain file name"):
            file_in(tmp_path, bad)
    (tmp_path / "link.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(OutputError, match="symbolic link"):
        file_in(tmp_path, "link.png")


def test_plots_folder_that_is_a_link_is_refused(tmp_path, sobol_folder):
    ref = tmp_path / "sobol"
    shutil.copytree(sobol_folder, ref)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (ref / "plots").symlink_to(elsewhere)
    (ref / "analysis").symlink_to(elsewhere)
    for argv in (["plot", ref], ["sensitivity", ref]):
        code, _, stderr = run_cli(*argv)
        assert code == 2 and "is a symbolic link or a file" in one_error_line(stderr), stderr
    assert list(elsewhere.iterdir()) == []


# ------------------------------------------------------------------ a crash while the folder is made


class _Killed(BaseException):
    """Stands for SIGKILL (nothing runs after it)."""


CRASH_POINTS = ["write_marker", "FolderLock", "_atomic_write_text", "first_part"]


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_crash_while_a_sweep_folder_is_made_leaves_it_usable(tmp_path, reference, monkeypatch, crash_at):
    """A crash at each step of making a sweep folder (before the marker, before the lock, before
    the manifest, before the first part): a fresh start accepts the folder if it holds no
    manifest yet (and asks for --resume otherwise); --resume always accepts it and completes it."""
    exp_file, ref = reference
    exp = load_experiment(exp_file)
    out = tmp_path / "out"
    with monkeypatch.context() as mp:
        if crash_at == "first_part":
            mp.setattr(results_mod.pq, "write_table", lambda *a, **k: (_ for _ in ()).throw(_Killed()))
        else:
            mp.setattr(results_mod, crash_at, lambda *a, **k: (_ for _ in ()).throw(_Killed()))
        with pytest.raises(_Killed):
            run_sweep(exp, ResultStore(out, exp, flush_rows=1), progress=False)
    assert out.is_dir()
    has_manifest = (out / "manifest.json").exists()
    assert has_manifest == (crash_at == "first_part")
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet")
    if has_manifest:
        assert code == 2 and "add --resume" in one_error_line(stderr)
        code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--resume")
    assert code == 0, stderr
    assert "6 runs done, 0 already stored" in stdout
    assert_same_results(out, ref)


def test_crash_before_the_manifest_then_resume_also_works(tmp_path, reference, monkeypatch):
    exp_file, ref = reference
    exp = load_experiment(exp_file)
    out = tmp_path / "out"
    with monkeypatch.context() as mp:
        mp.setattr(results_mod, "_atomic_write_text", lambda *a, **k: (_ for _ in ()).throw(_Killed()))
        with pytest.raises(_Killed):
            ResultStore(out, exp)
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKERS["sweep"], LOCK_FILE])
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--resume")
    assert code == 0 and "6 runs done" in stdout, stderr
    assert_same_results(out, ref)


# ------------------------------------------------------------------ one writer per sweep folder


def test_two_stores_on_one_folder_the_second_is_refused(tmp_path, reference):
    exp_file, ref = reference
    exp = load_experiment(exp_file)
    before = snapshot(ref)
    first = ResultStore(ref, exp, resume=True)
    try:
        with pytest.raises(OutputError, match=rf"is being written by another sweep \(pid {os.getpid()}\)"):
            ResultStore(ref, exp, resume=True)
        code, _, stderr = run_cli("sweep", exp_file, "--out", ref, "--quiet", "--resume")
        assert code == 2
        assert f"--out: {str(ref)!r} is being written by another sweep (pid {os.getpid()})" in one_error_line(stderr)
    finally:
        first.close()
    with ResultStore(ref, exp, resume=True):  # free again
        pass
    assert {k: v for k, v in snapshot(ref).items() if k != LOCK_FILE} == {
        k: v for k, v in before.items() if k != LOCK_FILE
    }


def test_a_sweep_locked_by_another_process_is_refused(tmp_path, reference):
    exp_file, ref = reference
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path;"
         "from strategy_abm.report.folders import FolderLock;"
         f"FolderLock(Path({str(ref)!r})); print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, stderr = run_cli("sweep", exp_file, "--out", ref, "--quiet", "--resume")
        assert code == 2
        line = one_error_line(stderr)
        assert f"is being written by another sweep (pid {holder.pid}); wait for it to end" in line, line
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", ref, "--quiet", "--resume")  # the lock died with it
    assert code == 0 and "0 runs done, 6 already stored" in stdout, stderr


def test_folder_lock_is_released_on_close(tmp_path):
    lock = FolderLock(tmp_path)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()
    FolderLock(tmp_path).release()  # no error: it was free


# ------------------------------------------------------------------ a worker process killed


def _killer_strategy(monkeypatch, kill_seeds: set[int], parent: int) -> None:
    """``killer_test``: China's bri_classic, but a worker process playing a seed in
    ``kill_seeds`` kills itself with SIGKILL (as the kernel's out-of-memory killer would)."""
    from strategy_abm.strategies import REGISTRY
    from strategy_abm.strategies.powers import BriClassic

    class Killer(BriClassic):
        name = "killer_test"
        seed = None  # the game's seed, told by the test (a strategy does not see it)

        def propose(self, obs):
            if self.seed in kill_seeds and os.getpid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)
            return super().propose(obs)

    REGISTRY.pop("killer_test")  # registered by the class statement; re-added through monkeypatch
    monkeypatch.setitem(REGISTRY, "killer_test", Killer)
    tell_seed(monkeypatch, Killer)


def test_killed_worker_is_one_line_exit_3_and_resume_completes(tmp_path, monkeypatch):
    kill_seeds: set[int] = set()
    _killer_strategy(monkeypatch, kill_seeds, os.getpid())
    exp_file = sweep_file(tmp_path, "k", values=("bri_classic", "killer_test"), replications=4)
    ref = tmp_path / "reference"
    code, _, err = run_cli("sweep", exp_file, "--out", ref, "--quiet")  # in process: nobody is killed
    assert code == 0, err

    kill_seeds.add(run_seed(7, 1, 2))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--workers", "2", "--flush-rows", "1")
    assert code == 3, stderr
    line = one_error_line(stderr)
    stored = len(load_results(out))
    assert line.startswith(f"{PREFIX}a worker process died (killed by signal 9, SIGKILL"), line
    stored_runs = "1 run is" if stored == 1 else f"{stored} runs are"  # (the count decides the words)
    assert line.endswith(f"; {stored_runs} stored in {out}/; run again with --resume"), line
    assert 0 < stored < 8 and load_failures(out).empty

    kill_seeds.clear()
    code, stdout, stderr = run_cli("sweep", exp_file, "--out", out, "--quiet", "--workers", "2", "--resume")
    assert code == 0, stderr
    done = "1 run" if 8 - stored == 1 else f"{8 - stored} runs"
    assert f"{done} done, {stored} already stored, 0 failed, of 8" in stdout
    assert_same_results(out, ref)


# ------------------------------------------------------------------ a closed pipe


@pytest.fixture(scope="module")
def sobol_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pipe")
    exp = folder / "ish.toml"
    exp.write_text('name = "ish"\nmodel = "ishigami"\nreplications = 1\nmaster_seed = 3\nbatch_size = 64\n'
                   '[design]\nkind = "sobol"\nsamples = 64\n'
                   + "".join(f"[factors.x{i}]\nrange = [-3.14159, 3.14159]\n" for i in (1, 2, 3))
                   + '[record]\nfinal = ["y"]\n')  # fmt: skip
    code, _, err = run_cli("sweep", exp, "--out", folder / "out", "--quiet")
    assert code == 0, err
    return folder / "out"


def _cli_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "strategy_abm.cli", *map(str, args)]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


@pytest.mark.parametrize("command", ["sensitivity", "plot"])
def test_closed_stdout_ends_quietly_with_141(sobol_folder, command):
    proc = subprocess.Popen(_cli_cmd(command, sobol_folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    proc.stdout.close()  # the reader is gone before anything is written: every write fails
    _, stderr = proc.communicate(timeout=120)
    assert stderr == b"", stderr.decode()
    assert proc.returncode == 141


def test_sensitivity_piped_into_head_has_no_traceback(sobol_folder):
    cmd = " ".join(_cli_cmd("sensitivity", sobol_folder))
    proc = subprocess.run(["bash", "-c", f"{cmd} | head -1; echo status=${{PIPESTATUS[0]}}"], capture_output=True,
                          text=True, env=_env(), timeout=120)  # fmt: skip
    assert proc.stderr == ""
    first, status = proc.stdout.splitlines()
    assert first.split() == ["metric", "factor", "S1", "S1_conf", "ST", "ST_conf"]
    assert status in ("status=0", "status=141")
