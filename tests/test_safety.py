"""Safety at the edges of the output folders: a run folder is replaced only if it holds nothing
but its run's files; no symbolic link in a run or sweep folder is ever followed.

Each refusal is one line on stderr naming the entry, exit code 2, and leaves every file as it was
(the link's target included).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

import strategy_abm.report.output as output_mod
from strategy_abm.cli import main as cli_main
from strategy_abm.experiments.experiment import load_experiment
from strategy_abm.experiments.results import ResultStore, load_results
from strategy_abm.experiments.sweep import run_sweep
from strategy_abm.report.folders import LOCK_FILE, MARKERS, FolderLock, OutputError

PREFIX = "strategy-abm: error: "
FAST_RUN = ["--turns", "1", "--no-plots", "--quiet"]


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    assert lines[0].startswith(PREFIX) and "Traceback" not in stderr, lines[0]
    return lines[0]


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
        if len(calls) == 3:  # the cli's check, write_run's, then _move_into_place's
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
