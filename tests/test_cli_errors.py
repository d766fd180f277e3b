"""Bad input on the command line: one line on stderr naming the field, exit code 2, no traceback,
nothing written and nothing already written lost.

Most cases call :func:`strategy_abm.cli.main` in-process (fast); two go through a subprocess to
prove the same end to end. Cases marked ``xfail(strict=True)`` are known bugs: they assert the
behaviour the issue asks for and will start passing (and so fail as XPASS) once fixed.
"""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from strategy_abm.cli import main
from strategy_abm.config import builtin_scenarios

PREFIX = "strategy-abm: error: "
BASELINE = builtin_scenarios()["baseline"]
FAST = ["--turns", "2", "--no-plots", "--quiet"]


def _baseline_raw() -> dict:
    with open(BASELINE, "rb") as fh:
        return tomllib.load(fh)


@functools.cache
def _broken_baselines() -> dict[str, str]:
    """Copies of the baseline with one thing wrong (made once: tomli_w is slowish)."""
    raw = _baseline_raw()
    no_powers = copy.deepcopy(raw)
    del no_powers["powers"]
    no_source = copy.deepcopy(raw)
    del no_source["hosts"]["kgz"]["sources"]["governance"]
    extra_power = copy.deepcopy(raw)
    extra_power["powers"]["xx"] = copy.deepcopy(raw["powers"]["china"])
    extra_host = copy.deepcopy(raw)
    extra_host["hosts"]["abc"] = copy.deepcopy(raw["hosts"]["kgz"])
    return {
        "no_powers.toml": tomli_w.dumps(no_powers),
        "no_source.toml": tomli_w.dumps(no_source),
        "extra_power.toml": tomli_w.dumps(extra_power),
        "extra_host.toml": tomli_w.dumps(extra_host),
    }


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """Bad input files under ``tmp_path/in`` (referred to as ``@IN`` in the cases)."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "bad.toml").write_text("name = [\n")
    (d / "dup.toml").write_text('name = "a"\nname = "b"\n')
    (d / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    (d / "only_name.toml").write_text('name = "x"\n')
    (d / "folder.toml").mkdir()
    (d / "unknown_top.toml").write_text('extends = "baseline"\ncolour = "red"\n')
    (d / "extends_missing.toml").write_text('extends = "nope.toml"\n')
    (d / "a_file").write_text("not a folder\n")
    (d / "not_a_run").mkdir()
    (d / "not_a_run" / "notes.txt").write_text("my notes\n")

    for name, text in _broken_baselines().items():
        (d / name).write_text(text)
    return d


def _set(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--set", pair)]


def _bug(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# (argv after the command, substrings the message must contain). "@IN" is the inputs folder.
# Run cases get "--out <tmp>/out --no-plots --quiet" (and "--turns 2" unless they set --turns).
# fmt: off
RUN_CASES = [
    # scenario name or file
    pytest.param(["nosuch"], ["scenario", "nosuch"], id="unknown-scenario-name"),
    pytest.param(["@IN/nope.toml"], ["scenario", "nope.toml"], id="nonexistent-toml"),
    pytest.param(["@IN/folder.toml"], ["scenario", "folder.toml"], id="folder-as-scenario"),
    pytest.param(["@IN"], ["scenario"], id="folder-without-suffix-as-scenario"),
    pytest.param(["@IN/bad.toml"], ["scenario", "bad.toml", "not valid TOML"], id="malformed-toml"),
    pytest.param(["@IN/dup.toml"], ["scenario", "dup.toml", "not valid TOML"], id="duplicate-key-toml"),
    pytest.param(["@IN/latin1.toml"], ["scenario", "latin1.toml", "UTF-8"], id="non-utf8-file"),
    pytest.param(["@IN/only_name.toml"], ["description", "missing"], id="missing-required-tables"),
    pytest.param(["@IN/no_powers.toml"], ["powers", "missing"], id="missing-powers-table"),
    pytest.param(["@IN/extends_missing.toml"], ["extends:", "nope.toml"], id="extends-missing-file"),
    # unknown keys
    pytest.param(_set("foo=1"), ["foo", "unknown key"], id="unknown-top-level-key-override"),
    pytest.param(["@IN/unknown_top.toml"], ["colour", "unknown key"], id="unknown-top-level-key-file"),
    pytest.param(_set("hosts.kgz.foo=1"), ["hosts.kgz.foo", "unknown key"], id="unknown-nested-key"),
    pytest.param(_set("hosts.kaz.minerals.gold.output_t=1"), ["hosts.kaz.minerals.gold"], id="unknown-mineral"),
    # wrong types
    pytest.param(_set('powers.china.budget_usd_bn_per_year="abc"'), ["powers.china.budget_usd_bn_per_year"],
                 id="wrong-type-quoted-string"),
    pytest.param(_set("powers.china.budget_usd_bn_per_year=abc"), ["powers.china.budget_usd_bn_per_year"],
                 id="wrong-type-bare-string"),
    pytest.param(_set("powers.china.budget_usd_bn_per_year=[1, 2]"), ["powers.china.budget_usd_bn_per_year"],
                 id="wrong-type-array"),
    pytest.param(_set("horizon_turns=1.5"), ["horizon_turns"], id="wrong-type-fractional-turns"),
    pytest.param(_set("powers.china.strategy=true"), ["powers.china.strategy"], id="wrong-type-bool-strategy"),
    pytest.param(_set("events=5"), ["events"], id="wrong-type-events-not-a-list"),
    pytest.param(_set("horizon_turns.x=1"), ["horizon_turns", "not a table"], id="value-used-as-table"),
    pytest.param(_set("powers.china.budget_usd_bn_per_year=true"), ["powers.china.budget_usd_bn_per_year"],
                 id="wrong-type-bool-for-number"),
    pytest.param(_set('horizon_turns="12"'), ["horizon_turns"], id="wrong-type-string-for-int"),
    # out-of-range values
    pytest.param(_set("powers.china.budget_usd_bn_per_year=-1"), ["powers.china.budget_usd_bn_per_year"],
                 id="negative-budget"),
    pytest.param(_set("powers.china.budget_usd_bn_per_year=nan"), ["powers.china.budget_usd_bn_per_year"],
                 id="nan-budget"),
    pytest.param(_set("hosts.kgz.creditors.china.share=1.5"), ["hosts.kgz.creditors.china.share"],
                 id="share-above-1"),
    pytest.param(_set("hosts.kaz.trade_shares.china=0.9"), ["hosts.kaz.trade_shares", "sum"], id="shares-not-sum-1"),
    pytest.param(_set("hosts.kgz.opinion.china=2"), ["hosts.kgz.opinion.china"], id="opinion-above-1"),
    pytest.param(_set("powers.china.toolkit.grant_aid=0"), ["powers.china.toolkit.grant_aid"], id="zero-efficiency"),
    pytest.param(_set("turns_per_year=3"), ["turns_per_year"], id="turns-per-year-not-allowed"),
    pytest.param(_set("powers.china.corridor_interest=foo"), ["powers.china.corridor_interest"],
                 id="unknown-corridor-interest"),
    # schema bounds (issue 6): extremes the schema accepted and the games could not play
    pytest.param(_set("moves.grant_aid.lag_years=1e308"), ["moves.grant_aid.lag_years", "30"], id="lag-years-1e308"),
    pytest.param(_set("hosts.kgz.gdp_usd_bn=1e-200"), ["hosts.kgz.gdp_usd_bn", "0.1"], id="gdp-1e-200"),
    pytest.param(_set("hosts.kgz.revenue_share_gdp=1e-200"), ["hosts.kgz.revenue_share_gdp", "0.01"],
                 id="revenue-share-1e-200"),
    pytest.param(_set("rules.presence_weights.trade=1e308"), ["rules.presence_weights.trade", "10"],
                 id="presence-weight-1e308"),
    pytest.param(_set("hosts.kgz.creditors.china.maturity_years=1e-320"),
                 ["hosts.kgz.creditors.china.maturity_years", "0.25"], id="maturity-1e-320"),
    pytest.param(_set("powers.china.budget_usd_bn_per_year=1e308"), ["powers.china.budget_usd_bn_per_year", "1000"],
                 id="budget-1e308"),
    pytest.param(_set("events.4.effects.0.value=1e308"), ["events.4.effects.0.value"], id="event-value-1e308"),
    pytest.param(_set("events.4.effects.0.value=200"), ["events.4.effects.0.value", "factor", "100"],
                 id="event-gdp-factor-200"),
    pytest.param(_set("events.4.effects.0.op=set", "events.4.effects.0.path=hosts.{host}.growth_rate",
                      "events.4.effects.0.value=-2"), ["events.4.effects.0.value", "growth_rate", "-0.3"],
                 id="event-sets-growth-minus-2"),
    pytest.param(_set("events.0.effects.0.path=trade.demand_growth", "events.0.effects.0.op=set",
                      "events.0.effects.0.value=-2"), ["events.0.effects.0.value", "demand_growth"],
                 id="event-sets-demand-growth-minus-2"),
    pytest.param(_set("events.0.duration_turns=100000"), ["events.0.duration_turns", "400"], id="event-duration-huge"),
    pytest.param(_set("world.minerals.uranium.world_output_t=1000.0"),
                 ["world.minerals.uranium.world_output_t", "region"], id="world-output-below-region-output"),
    pytest.param(_set("moves.power_grid.size_min_usd_bn=1e-9"), ["moves.power_grid.size_min_usd_bn"],
                 id="project-below-a-million"),
    pytest.param(_set("trade.logit_scale_usd_per_t=0"), ["trade.logit_scale_usd_per_t"], id="logit-scale-zero"),
    pytest.param(_set("turns_per_year=true"), ["turns_per_year", "true"], id="turns-per-year-bool"),
    pytest.param(_set("powers.china.strategy_params.move_weights.grant_aid=inf"),
                 ["powers.china.strategy_params.move_weights"], id="inf-move-weight"),
    pytest.param(_set("powers.us.strategy_params.host_weights.kaz=inf"), ["powers.us.strategy_params.host_weights"],
                 id="inf-host-weight"),
    pytest.param(_set("powers.us.strategy_params.host_weights.kaz=1e308"),
                 ["powers.us.strategy_params.host_weights", "1000"], id="absurd-host-weight"),
    pytest.param(_set("hosts.kgz.strategy=china_leaning", "hosts.kgz.strategy_params.bias.china=inf"),
                 ["hosts.kgz.strategy_params.bias"], id="inf-bias"),
    pytest.param(_set("powers.us.strategy=bri_2"), ["powers.us.strategy", "bri_2", "china"],
                 id="another-powers-doctrine"),
    pytest.param(_set("powers.russia.strategy=pgii_asymmetric"), ["powers.russia.strategy", "pgii_asymmetric"],
                 id="western-doctrine-for-russia"),
    # actor ids
    pytest.param(_set("powers.xx.strategy=bri_2"), ["powers.xx"], id="unknown-power-id-override"),
    pytest.param(_set("hosts.abc.strategy=multi_vector"), ["hosts.abc"], id="unknown-host-id-override"),
    pytest.param(["@IN/extra_power.toml"], ["powers", "xx"], id="unknown-power-id-file"),
    pytest.param(["@IN/extra_host.toml"], ["hosts", "abc"], id="unknown-host-id-file"),
    pytest.param(_set("powers.china.strategy_params.host_weights.zzz=1"), ["host_weights", "zzz"],
                 id="unknown-host-id-in-host-weights"),
    pytest.param(_set("hosts.kgz.strategy=china_leaning", "hosts.kgz.strategy_params.bias.zz=1"), ["bias", "zz"],
                 id="unknown-power-id-in-bias"),
    # strategies
    pytest.param(_set("powers.china.strategy=nope"), ["powers.china.strategy", "nope"], id="unknown-strategy"),
    pytest.param(_set("powers.china.strategy=debt_averse"), ["powers.china.strategy", "debt_averse"],
                 id="host-strategy-for-power"),
    pytest.param(_set("hosts.kgz.strategy=bri_2"), ["hosts.kgz.strategy", "bri_2"], id="power-strategy-for-host"),
    pytest.param(_set("powers.us.strategy_params.move_weights.policy_bank_loan=1"),
                 ["powers.us.strategy_params.move_weights.policy_bank_loan", "toolkit"],
                 id="move-weight-outside-toolkit"),
    pytest.param(_set("powers.china.toolkit.teleport=1.0"), ["powers.china.toolkit.teleport", "catalogue"],
                 id="toolkit-move-not-in-catalogue"),
    pytest.param(_set("powers.china.strategy_params.foo=1"), ["powers.china.strategy_params", "foo"],
                 id="unknown-strategy-parameter"),
    pytest.param(_set("powers.china.strategy_params.spend_share=2"), ["powers.china.strategy_params", "spend_share"],
                 id="strategy-parameter-out-of-bounds"),
    pytest.param(_set("hosts.kgz.strategy_params.debt_penalty=-1"), ["hosts.kgz.strategy_params", "debt_penalty"],
                 id="host-strategy-parameter-out-of-bounds"),
    pytest.param(_set("powers.china.strategy_params.move_weights.grant_aid=-1"),
                 ["powers.china.strategy_params", "move_weights"], id="negative-move-weight"),
    # turns, seed, --set syntax
    pytest.param(["--turns", "0"], ["--turns"], id="turns-zero"),
    pytest.param(["--turns", "-3"], ["--turns"], id="turns-negative"),
    pytest.param(["--turns", "401"], ["turns", "400"], id="turns-above-limit"),
    pytest.param(_set("horizon_turns=0"), ["horizon_turns"], id="horizon-turns-zero"),
    pytest.param(["--seed", "-1"], ["--seed"], id="seed-negative"),
    pytest.param(["--seed", "1.5"], ["--seed"], id="seed-not-integer"),
    pytest.param(["--seed", "abc"], ["--seed"], id="seed-not-a-number"),
    pytest.param(_set("horizon_turns"), ["--set", "horizon_turns", "KEY=VALUE"], id="set-without-equals"),
    pytest.param(_set("=1"), ["--set"], id="set-empty-key"),
    pytest.param(_set("powers..china=1"), ["--set", "powers..china"], id="set-empty-key-part"),
    pytest.param(["--bogus"], ["--bogus"], id="unknown-option"),
    pytest.param(_set("foo\nbar=1"), ["foo"], id="newline-in-key"),
    # dates and events
    pytest.param(_set("start=2025Q5"), ["start", "2025Q5"], id="malformed-start-date"),
    pytest.param(_set("events.0.at=2020Q1"), ["events.0.at", "before"], id="event-before-start"),
    pytest.param(_set('events.0.at="2025Q9"'), ["events.0.at", "2025Q9"], id="event-malformed-date"),
    pytest.param(_set("events.0.effects.0.path=hosts.{host}.nothing"), ["events.0.effects.0.path", "nothing"],
                 id="event-path-names-no-state-variable"),
    pytest.param(_set("events.0.effects.0.path=routes.northern.foo"), ["events.0.effects.0.path"],
                 id="event-path-unknown-route-field"),
    pytest.param(_set("events.0.effects.0.path=nonsense"), ["events.0.effects.0.path"], id="event-path-malformed"),
    pytest.param(_set("events.0.effects.0.op=pow"), ["events.0.effects.0.op"], id="event-unknown-op"),
    pytest.param(_set("events.0.target=xyz"), ["events.0", "target", "xyz"], id="event-unknown-target"),
    pytest.param(_set("events.0.probability_per_year=0.5"), ["events.0", "probability_per_year"],
                 id="event-both-at-and-probability"),
    pytest.param(_set("events.9.at=2026Q1"), ["events.9", "no such list item"], id="event-index-out-of-range"),
    # sources
    pytest.param(_set("hosts.kgz.sources.gdp_usd_bn=NOPE"), ["hosts.kgz.sources.gdp_usd_bn", "NOPE"],
                 id="unknown-source-id"),
    pytest.param(["@IN/no_source.toml"], ["hosts.kgz.sources.governance", "missing"], id="missing-source-entry"),
    pytest.param(_set("hosts.kgz.sources.foo=WB_GDP"), ["hosts.kgz.sources.foo"], id="source-for-no-figure"),
    pytest.param(_set("moves.training.source=NOPE"), ["moves.training.source:"], id="move-source-unknown"),
]
# fmt: on


def _run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code: int, err: str, expected: list[str], tmp: Path | None = None) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(PREFIX), err
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    named = err.replace(str(tmp), "<tmp>") if tmp else err  # the test's own folder name must not match
    for text in expected:
        assert text in named, f"{text!r} not named in {err!r}"


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file below ``folder`` (and the folder's own entries)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>") for p in folder.rglob("*")}


@pytest.mark.parametrize(("args", "expected"), RUN_CASES)
def test_run_bad_input(args, expected, tmp_path, inputs, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stray default runs/ folder would land here
    out = tmp_path / "out"
    args = [a.replace("@IN", str(inputs)) for a in args]
    extra = ["--no-plots", "--quiet"] if "--turns" in args else FAST
    before = _snapshot(tmp_path)
    code, stdout, err = _run_cli(["run", *args, "--out", str(out), *extra], capsys)
    _assert_one_line_error(code, err, expected, tmp_path)
    assert stdout == ""
    assert not out.exists()
    assert _snapshot(tmp_path) == before  # no partial or temporary folder, inputs untouched


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("a_file", ["--out", "is a file"], id="out-is-a-file"),
        pytest.param("not_a_run", ["--out", "not a strategy-abm run"], id="out-is-a-foreign-folder"),
        pytest.param(
            "a_file/sub",
            ["--out"],
            id="out-below-a-file",
        ),
    ],
)
def test_run_bad_out(target, expected, tmp_path, inputs, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    code, stdout, err = _run_cli(["run", "--out", str(inputs / target), *FAST], capsys)
    _assert_one_line_error(code, err, expected, tmp_path)
    assert stdout == ""
    assert _snapshot(tmp_path) == before


def test_folder_as_scenario_is_not_called_missing(inputs, capsys):
    code, _, err = _run_cli(["validate", str(inputs / "folder.toml")], capsys)
    assert code == 2
    assert "does not exist" not in err, f"the folder exists; the message should say it is not a file: {err!r}"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path, capsys):
    path = tmp_path / "secret.toml"
    path.write_text('name = "x"\n')
    path.chmod(0)
    try:
        code, stdout, err = _run_cli(["run", str(path), "--out", str(tmp_path / "out"), *FAST], capsys)
    finally:
        path.chmod(0o644)
    _assert_one_line_error(code, err, ["scenario", "secret.toml"], tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["validate", "@IN/bad.toml"], ["scenario", "bad.toml"], id="validate-malformed"),
        pytest.param(["validate", "@IN/latin1.toml"], ["scenario", "UTF-8"], id="validate-non-utf8"),
        pytest.param(["validate", "nosuch"], ["scenario", "nosuch"], id="validate-unknown-name"),
        pytest.param(["validate", "baseline", "--set", "horizon_turns=0"], ["horizon_turns"], id="validate-override"),
        pytest.param(["validate"], ["path"], id="validate-without-path"),
        pytest.param(["bogus"], ["bogus"], id="unknown-command"),
        pytest.param([], ["command"], id="no-command"),
    ],
)
def test_other_commands_bad_input(argv, expected, tmp_path, inputs, capsys):
    argv = [a.replace("@IN", str(inputs)) for a in argv]
    code, stdout, err = _run_cli(argv, capsys)
    _assert_one_line_error(code, err, expected, tmp_path)
    assert stdout == ""


def test_validate_baseline_ok(capsys):
    code, stdout, err = _run_cli(["validate", str(BASELINE)], capsys)
    assert code == 0, err
    assert stdout.startswith("ok: baseline")
    assert err == ""


def test_scenarios_lists_builtins(capsys):
    code, stdout, _ = _run_cli(["scenarios"], capsys)
    assert code == 0
    names = [line.split()[0] for line in stdout.splitlines() if line.strip()]
    assert "baseline" in names
    assert "hindcast_2022" in names
    assert "sources" not in names


def test_failed_run_leaves_earlier_run_intact(tmp_path, inputs, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    code, stdout, err = _run_cli(["run", "--out", str(out), *FAST], capsys)
    assert code == 0, err
    assert (out / "summary.json").is_file() and (out / "model.csv").is_file()
    assert f"outputs: {out}/" in stdout
    before = _snapshot(tmp_path)
    assert len([k for k in before if k.startswith("run/")]) >= 5

    failing = [
        ["run", "--out", str(out), *FAST, "--set", "hosts.kgz.creditors.china.share=1.5"],
        ["run", "--out", str(out), *FAST, "--set", "powers.china.strategy=nope"],
        ["run", str(inputs / "bad.toml"), "--out", str(out), *FAST],
        ["run", "nosuch", "--out", str(out), *FAST],
        ["run", "--out", str(out), "--turns", "0", "--no-plots", "--quiet"],
        ["run", "--out", str(out), "--seed", "-2", *FAST],
    ]
    for argv in failing:
        code, stdout, err = _run_cli(argv, capsys)
        assert code == 2, (argv, err)
        assert stdout == ""
        assert _snapshot(tmp_path) == before, f"{argv} changed files on disk"


def _subprocess(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "strategy_abm.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_subprocess_bad_override_end_to_end(tmp_path):
    out = tmp_path / "out"
    proc = _subprocess(["run", "--out", str(out), *FAST, "--set", "powers.china.budget_usd_bn_per_year=-5"], tmp_path)
    _assert_one_line_error(proc.returncode, proc.stderr, ["powers.china.budget_usd_bn_per_year"], tmp_path)
    assert proc.stdout == ""
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_subprocess_malformed_toml_end_to_end(tmp_path, inputs):
    out = tmp_path / "out"
    before = _snapshot(tmp_path)
    proc = _subprocess(["run", str(inputs / "bad.toml"), "--out", str(out)], tmp_path)
    _assert_one_line_error(proc.returncode, proc.stderr, ["scenario", "bad.toml"], tmp_path)
    assert not out.exists()
    assert _snapshot(tmp_path) == before
