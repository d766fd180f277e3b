"""`strategy-abm run` and `strategy-abm scenarios`: the files a run writes and what it prints."""

from __future__ import annotations

import json
import math
import shlex
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from clitools import run_cli

import strategy_abm
from strategy_abm.scenario.config import builtin_scenarios
from strategy_abm.scenario.ids import HOSTS, NAMES, POWERS, ROUTES

TURNS = 4
SEED = 0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVENT_REQUIRED = ["turn", "actor", "target", "domain", "move", "size_usd_bn", "status", "text"]
MODEL_REQUIRED = [
    "turn",
    "date",
    *(f"influence_{p}" for p in POWERS),
    *(f"payoff_{p}" for p in POWERS),
    *(f"debt_to_gdp_{h}" for h in HOSTS),
    *(f"china_debt_share_{h}" for h in HOSTS),
    *(f"diversification_{h}" for h in HOSTS),
    *(f"route_volume_mt_{r}" for r in ("northern", "middle", "southern")),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str]:
    """`strategy-abm run --turns 4 --out <tmp>` (with plots and the summary table)."""
    out = tmp_path_factory.mktemp("run") / "baseline"
    code, stdout, stderr = run_cli("run", "--turns", str(TURNS), "--seed", str(SEED), "--out", str(out))
    assert code == 0, stderr
    return out, stdout


def test_run_writes_every_output(run):
    out, _ = run
    for name in ("model.csv", "actors.csv", "events.csv", "summary.json", "config.toml"):
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")], "temporary folder left behind"


def test_model_csv(run):
    out, _ = run
    df = pd.read_csv(out / "model.csv")
    missing = [c for c in MODEL_REQUIRED if c not in df.columns]
    assert not missing
    assert list(df.columns[:2]) == ["turn", "date"]
    assert ROUTES == ("northern", "middle", "southern")
    assert list(df["turn"]) == list(range(TURNS + 1))
    assert list(df["date"]) == ["2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    values = df.drop(columns=["date"])
    assert values.map(lambda v: isinstance(v, int | float) and math.isfinite(v)).all().all()
    influence = df[[f"influence_{p}" for p in POWERS]].sum(axis=1)
    assert (influence - 1).abs().max() < 1e-9


def test_actors_csv(run):
    out, _ = run
    df = pd.read_csv(out / "actors.csv")
    assert list(df.columns[:3]) == ["turn", "actor", "kind"]
    assert len(df.columns) > 3
    assert len(df) == (TURNS + 1) * (len(POWERS) + len(HOSTS))
    assert (df.groupby("turn").size() == 9).all()
    assert sorted(df["turn"].unique()) == list(range(TURNS + 1))
    for _, rows in df.groupby("turn"):
        assert list(rows["actor"]) == [*POWERS, *HOSTS]
        assert list(rows["kind"]) == ["power"] * len(POWERS) + ["host"] * len(HOSTS)


def test_events_csv(run):
    out, _ = run
    df = pd.read_csv(out / "events.csv", keep_default_na=False)
    assert [c for c in df.columns if c in EVENT_REQUIRED] == EVENT_REQUIRED
    assert len(df) > 0
    assert df["turn"].between(1, TURNS).all()
    assert df["text"].str.len().gt(0).all()
    offers = df[df["status"].isin(["accepted", "rejected"])]
    assert len(offers) > 0
    assert offers["text"].str.contains(r" offers .+ a USD \d+\.\d\d bn .+; (?:accepted|rejected)$").all()


def test_summary_json(run):
    out, _ = run
    s = json.loads((out / "summary.json").read_text())
    assert s["seed"] == SEED
    assert s["scenario"] == "baseline"
    assert s["package_version"] == strategy_abm.__version__
    final = s["final"]
    last = pd.read_csv(out / "model.csv").iloc[-1]
    for col in MODEL_REQUIRED[2:]:
        assert final[col] == pytest.approx(last[col], rel=1e-12, abs=1e-15), col
    assert s["turns"] == TURNS


def test_config_toml_is_the_resolved_scenario(run):
    out, _ = run
    text = (out / "config.toml").read_text()
    data = tomllib.loads(text)
    assert data["name"] == "baseline"
    assert data["horizon_turns"] == TURNS
    assert set(data["powers"]) == set(POWERS)
    assert set(data["hosts"]) == set(HOSTS)
    assert f"--seed {SEED}" in text


def test_the_rerun_line_is_shell_quoted_and_reproduces_the_run(tmp_path, monkeypatch):
    """A folder name with a space and a quote: the printed command, split as a shell would,
    re-runs the game into the default folder byte for byte."""
    out = tmp_path / "my runs" / "it's here"
    code, _, stderr = run_cli("run", "--turns", "3", "--seed", "7", "--no-plots", "--quiet", "--out", str(out))
    assert code == 0, stderr
    line = next(t for t in (out / "config.toml").read_text().splitlines() if t.startswith("# Re-run: "))
    argv = shlex.split(line.removeprefix("# Re-run: "))
    assert argv == ["strategy-abm", "run", str(out / "config.toml"), "--seed", "7"]
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli(*argv[1:], "--no-plots", "--quiet")
    assert code == 0, stderr
    again = tmp_path / "runs" / "baseline_seed7"
    for name in ("model.csv", "actors.csv", "events.csv", "summary.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name

    def body(path):  # the scenario, without the header naming the folder it came from
        return [t for t in path.read_text().splitlines() if not t.startswith("#")]

    assert body(again / "config.toml") == body(out / "config.toml")


def test_plots_are_png_files(run):
    out, _ = run
    pngs = sorted((out / "plots").glob("*.png"))
    assert pngs
    for png in pngs:
        data = png.read_bytes()
        assert len(data) > 1000, png.name
        assert data.startswith(PNG_MAGIC), png.name


def test_summary_table_names_every_power_and_host(run):
    _, stdout = run
    for actor in (*POWERS, *HOSTS):
        assert NAMES[actor] in stdout, actor
    for r in ROUTES:
        assert r in stdout
    assert "outputs:" in stdout


def test_no_plots_writes_no_plots(tmp_path):
    code, stdout, stderr = run_cli("run", "--turns", "1", "--no-plots", "--quiet", "--out", str(tmp_path / "r"))
    assert code == 0, stderr
    assert not (tmp_path / "r" / "plots").exists()
    assert "Kazakhstan" not in stdout  # --quiet: no summary table


def test_scenarios_lists_builtins():
    code, stdout, _ = run_cli("scenarios")
    assert code == 0
    names = [line.split()[0] for line in stdout.splitlines() if line.strip()]
    assert "baseline" in names
    if "hindcast_2022" in builtin_scenarios():
        assert "hindcast_2022" in names
    assert set(names) == set(builtin_scenarios())
