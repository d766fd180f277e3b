"""docs/examples/us_best_response.py, the worked example of docs/lab.md: what it prints is what
the games give, and the findings the docs report hold on the example's first held-out seeds."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest
from clitools import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def example():
    path = ROOT / "docs" / "examples" / "us_best_response.py"
    spec = importlib.util.spec_from_file_location("us_best_response", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.SEEDS = range(100, 103)  # (three of its 32 held-out seeds: seconds, not a minute)
    return module


def table(text: str) -> dict[float, tuple[float, ...]]:
    rows = re.findall(r"^\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", text, re.M)
    return {float(r[0]): tuple(float(x) for x in r[1:]) for r in rows}


def test_under_the_baselines_cost_weight_spending_is_a_loss_and_below_break_even_it_pays(example, capsys):
    example.spending_table("baseline")
    base = capsys.readouterr().out
    rows = table(base)
    assert sorted(rows) == [0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    # money, payoff_total, gross, cost term: the cost term is gross - payoff_total (as printed)
    assert all(abs(g - p - c) < 2e-3 for _, p, g, c in rows.values())
    assert rows[0.0][1] > rows[0.8][1] + 3.0  # spending nothing beats PGII's spending by payoff-years
    assert rows[0.8][2] > rows[0.0][2]  # though the money buys something
    weight = float(re.search(r"\): ([\d.]+) \(the scenario's: 0.5\)", base).group(1))
    assert 0.0 < weight < 0.5
    example.spending_table(str(ROOT / "configs" / "examples" / "us_spending_pays.toml"))
    pays = table(capsys.readouterr().out)
    assert pays[0.4][1] > pays[0.0][1] and pays[0.8][1] > pays[0.0][1]  # below break-even, spending pays
    assert [r[2] for r in pays.values()] == [r[2] for r in rows.values()]  # same games, same gross


def test_a_best_toml_not_yet_written_is_one_line_before_any_game(example, tmp_path, capsys):
    # docs/lab.md shows the script before the second tuning: run early, it says what to run first.
    with pytest.raises(SystemExit) as stopped:
        example.main([str(tmp_path / "best.toml")])
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 2  # argparse: its usage line, then the error
    assert f"{tmp_path / 'best.toml'}: no such file (run strategy-abm tune on its tuning file first" in captured.err


def test_a_mix_is_the_accepted_offers_of_the_recorded_game(example, tmp_path):
    """The mix of one game equals what ``strategy-abm run`` logs as the US's accepted offers."""
    example.SEEDS = range(101, 102)
    try:
        got = example.mix("baseline", "pgii_asymmetric", None)
    finally:
        example.SEEDS = range(100, 103)
    out = tmp_path / "run"
    code, _, err = run_cli("run", "--seed", "101", "--turns", "40", "--set", "powers.china.strategy=bri_2",
                           "--out", out, "--no-plots", "--quiet")  # fmt: skip
    assert code == 0, err
    events = pd.read_csv(out / "events.csv")
    us = events[(events["actor"] == "us") & (events["status"] == "accepted")]
    value = us["size_usd_bn"].sum()
    assert got["value"] == pytest.approx(value, rel=1e-6)
    for move, share in (us.groupby("move")["size_usd_bn"].sum() / value).items():
        assert got["moves"][move] == pytest.approx(share, rel=1e-6), move
    assert example.distance(got["moves"], got["moves"]) == 0.0
    assert example.distance({"a": 1.0}, {"b": 1.0}) == 1.0
    assert example.distance({"a": 0.5, "b": 0.5}, {"a": 1.0}) == 0.5
