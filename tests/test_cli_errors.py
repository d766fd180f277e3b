"""Bad input on the command line: one line on stderr naming the field, exit code 2, no traceback,
nothing written and nothing already written lost.

Most cases call :func:`strategy_abm.cli.main` in-process (fast); two go through a subprocess to
prove the same end to end. Cases marked ``xfail(strict=True)`` are known bugs: they assert the
behaviour the issue asks for and will start passing (and so fail as XPASS) once fixed.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from strategy_abm.cli import main
from strategy_abm.scenario.config import builtin_scenarios

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
    extra_host["hosts"]["Abc"] = copy.deepcopy(raw["hosts"]["kgz"])  # a host may be added, not by this id
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
    # Actors are data: a new power needs its entry in every host's tables (the first one missing).
    pytest.param(["@IN/extra_power.toml"], ["hosts.kaz.creditors.xx", "missing creditor"], id="new-power-id-file"),
    pytest.param(["@IN/extra_host.toml"], ["hosts.Abc", "lower-case"], id="malformed-host-id-file"),
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
    pytest.param(_set("events.11.at=2026Q1"), ["events.11", "no such list item"], id="event-index-out-of-range"),
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


# ------------------------------------------------------------------ output folders (issue 6, section 5)

UNSAFE_NAMES = {
    "parent-path": "../../escaped",
    "absolute-path": "/tmp/escaped",
    "slash": "a/b",
    "backslash": "a\\\\b",
    "nul": "a\\u0000b",
    "newline": "a\\nb",
    "tab": "a\\tb",
    "dot": ".",
    "dot-dot": "..",
    "empty": "",
    "hidden": ".hidden",
    "leading-space": " x",
    "trailing-dot": "x.",
    "too-long": "x" * 65,
}


@pytest.mark.parametrize("name", UNSAFE_NAMES.values(), ids=UNSAFE_NAMES.keys())
def test_scenario_name_is_never_a_path(name, tmp_path, capsys, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # the default folder would be runs/<name>_seed0 here
    code, stdout, err = _run_cli(["run", "--set", f'name="{name}"', *FAST], capsys)
    _assert_one_line_error(code, err, ["name:", "letters, digits"], tmp_path)
    assert stdout == ""
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [], "something was written"


@pytest.mark.parametrize("name", UNSAFE_NAMES.values(), ids=UNSAFE_NAMES.keys())
def test_experiment_name_is_never_a_path(name, tmp_path, capsys, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    exp = work / "e.toml"
    exp.write_text(
        f'name = "{name}"\nreplications = 1\nmaster_seed = 1\nhorizon_turns = 1\n'
        '[factors."powers.china.strategy"]\nvalues = ["bri_2"]\n[record]\nfinal = ["influence_china"]\n'
    )
    before = _snapshot(tmp_path)
    code, stdout, err = _run_cli(["sweep", str(exp), "--quiet"], capsys)
    _assert_one_line_error(code, err, ["name:", "letters, digits"], tmp_path)
    assert _snapshot(tmp_path) == before


def test_names_with_spaces_dots_and_dashes_make_folders_inside_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = _run_cli(["run", "--set", 'name="My scenario-2.b_c"', *FAST], capsys)
    assert code == 0, err
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["My scenario-2.b_c_seed0"]


@pytest.fixture
def places(tmp_path: Path) -> Path:
    """A working folder with an earlier run, a foreign folder looking like a run, links, a file."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine\n")
    lookalike = work / "lookalike"
    lookalike.mkdir()
    for name in ("summary.json", "model.csv", "thesis.tex"):
        (lookalike / name).write_text("not a run\n")
    (work / "gone").symlink_to(work / "nowhere")
    return work


# (argv, texts the message names). "@W" is the working folder (also the current folder).
# fmt: off
UNSAFE_OUTS = [
    pytest.param(["run", "--out", "."], ["--out", "'.'", "current folder"], id="run-out-dot"),
    pytest.param(["run", "--out", ".."], ["--out", "current folder"], id="run-out-parent"),
    pytest.param(["run", "--out", ""], ["--out", "empty"], id="run-out-empty"),
    pytest.param(["run", "--out", " "], ["--out", "empty"], id="run-out-blank"),
    pytest.param(["run", "--out", "x" * 300], ["--out", "300 bytes", "255"], id="run-out-300-chars"),
    pytest.param(["run", "--out", "new/" + "x" * 300], ["--out", "300 bytes"], id="run-out-300-chars-below-new"),
    pytest.param(["run", "--out", "@W/lookalike"], ["--out", "not a strategy-abm run"], id="run-out-lookalike"),
    pytest.param(["run", "--out", "@W/gone"], ["--out", "symbolic link"], id="run-out-dangling-link"),
    pytest.param(["run", "--out", "@W/notes.txt/x"], ["--out", "is a file"], id="run-out-below-a-file"),
    pytest.param(["sweep", "smoke", "--out", "/proc/x"], ["--out", "/proc"], id="sweep-out-proc"),
    pytest.param(["sweep", "smoke", "--out", ""], ["--out", "empty"], id="sweep-out-empty"),
    pytest.param(["sweep", "smoke", "--out", "x" * 300], ["--out", "300 bytes"], id="sweep-out-300-chars"),
    pytest.param(["sweep", "smoke", "--out", "@W/lookalike"], ["--out", "not a strategy-abm sweep"],
                 id="sweep-out-lookalike"),
    pytest.param(["sweep", "smoke", "--out", "@W/gone"], ["--out", "symbolic link"], id="sweep-out-dangling-link"),
    pytest.param(["sweep", "smoke", "--out", "."], ["--out", "not a strategy-abm sweep"], id="sweep-out-dot"),
    pytest.param(["sweep", "smoke", "--scheduler", "foo://x:1"], ["--scheduler", "foo://"], id="scheduler-foo"),
    pytest.param(["sweep", "smoke", "--scheduler", "tcp://"], ["--scheduler", "no host"], id="scheduler-no-host"),
    pytest.param(["sweep", "smoke", "--scheduler", "tcp://:8786"], ["--scheduler", "no host"],
                 id="scheduler-port-only"),
    pytest.param(["sweep", "smoke", "--scheduler", "tcp://h:port"], ["--scheduler", "tcp://h:port"],
                 id="scheduler-bad-port"),
    pytest.param(["sweep", "smoke", "--scheduler", "tcp://h:70000"], ["--scheduler", "out of range"],
                 id="scheduler-port-out-of-range"),
    pytest.param(["sweep", "smoke", "--scheduler", "tcp://h:1/path"], ["--scheduler", "nothing after it"],
                 id="scheduler-path"),
]
# fmt: on


@pytest.mark.parametrize(("argv", "expected"), UNSAFE_OUTS)
def test_unsafe_out_is_one_line_and_writes_nothing(argv, expected, places, capsys, monkeypatch):
    monkeypatch.chdir(places)
    argv = [a.replace("@W", str(places)) for a in argv]
    extra = FAST if argv[0] == "run" else ["--quiet"]
    before = _snapshot(places.parent)
    code, stdout, err = _run_cli([*argv, *extra], capsys)
    _assert_one_line_error(code, err, expected, places.parent)
    assert stdout == ""
    assert _snapshot(places.parent) == before


def test_out_that_is_a_link_to_a_run_is_refused_and_the_run_kept(places, capsys, monkeypatch):
    """A symbolic link as --out is refused (a run replaces its folder: the link or what it points
    to?); the run it points to stays as it is. Give the folder itself to replace that run."""
    monkeypatch.chdir(places)
    code, _, err = _run_cli(["run", "--out", "real", *FAST], capsys)
    assert code == 0, err
    (places / "link").symlink_to(places / "real")
    before = _snapshot(places)
    code, stdout, err = _run_cli(["run", "--out", "link", "--seed", "4", *FAST], capsys)
    _assert_one_line_error(code, err, ["--out", "'link' is a symbolic link", str(places / "real")])
    assert _snapshot(places) == before
    assert (places / "link").is_symlink()


def test_only_marked_runs_and_empty_folders_are_replaced(places, capsys, monkeypatch):
    monkeypatch.chdir(places)
    (places / "empty").mkdir()
    code, _, err = _run_cli(["run", "--out", "empty", *FAST], capsys)
    assert code == 0, err
    marker = places / "empty" / ".strategy-abm-run"
    assert json.loads(marker.read_text())["kind"] == "run"
    first = (places / "empty" / "summary.json").read_text()
    code, _, err = _run_cli(["run", "--out", "empty", "--seed", "9", *FAST], capsys)
    assert code == 0, err
    assert json.loads((places / "empty" / "summary.json").read_text())["seed"] == 9 != json.loads(first)["seed"]

    marker.unlink()  # an old run, or a folder someone made to look like one: not replaced
    before = _snapshot(places)
    code, _, err = _run_cli(["run", "--out", "empty", *FAST], capsys)
    _assert_one_line_error(code, err, ["--out", "not a strategy-abm run", ".strategy-abm-run"], places.parent)
    assert _snapshot(places) == before


def test_replacing_a_run_never_touches_a_folder_named_like_its_backup(places, capsys, monkeypatch):
    monkeypatch.chdir(places)
    for name in (".run.old", ".run.tmp-x", ".run.old.tmp"):  # a user's folders named like ours
        (places / name).mkdir()
        (places / name / "keep.txt").write_text(f"{name}\n")
    for seed in ("0", "1"):  # a new run, then replacing it
        code, _, err = _run_cli(["run", "--out", "run", "--seed", seed, *FAST], capsys)
        assert code == 0, err
    for name in (".run.old", ".run.tmp-x", ".run.old.tmp"):
        assert (places / name / "keep.txt").read_text() == f"{name}\n"
    assert sorted(p.name for p in places.iterdir()) == sorted(
        [".run.old", ".run.tmp-x", ".run.old.tmp", "run", "notes.txt", "lookalike", "gone"]
    ), "a temporary or backup folder was left"


def test_sweep_out_is_marked_and_another_kind_is_refused(places, capsys, monkeypatch):
    monkeypatch.chdir(places)
    code, _, err = _run_cli(["run", "--out", "a_run", *FAST], capsys)
    assert code == 0, err
    code, _, err = _run_cli(["sweep", "smoke", "--out", "a_run", "--quiet"], capsys)
    _assert_one_line_error(code, err, ["--out", "a strategy-abm run folder, not a sweep's"], places.parent)
    (places / "sweep_dir").mkdir()  # empty: accepted, and marked
    code, _, err = _run_cli(["sweep", "smoke", "--out", "sweep_dir", "--quiet", "--flush-rows", "64"], capsys)
    assert code == 0, err
    assert json.loads((places / "sweep_dir" / ".strategy-abm-sweep").read_text())["kind"] == "sweep"
    code, _, err = _run_cli(["run", "--out", "sweep_dir", *FAST], capsys)
    _assert_one_line_error(code, err, ["--out", "a strategy-abm sweep folder, not a run's"], places.parent)


# ------------------------------------------------------------------ issue 6, section 2: input refused or named


def _experiment_text(body: str, *, head: str = "") -> str:
    """A small experiment of the game: 2 turns, 1 replication (``body``: design and factors)."""
    return (
        'name = "t"\nscenario = "baseline"\nhorizon_turns = 2\nreplications = 1\nmaster_seed = 1\n'
        + head
        + body
        + '\n[record]\nfinal = ["influence_china"]\n'
    )


def _sweep(tmp_path: Path, text: str, capsys, *extra: str) -> tuple[int, str, str]:
    exp = tmp_path / "exp.toml"
    exp.write_text(text, encoding="utf-8")
    return _run_cli(["sweep", str(exp), "--out", str(tmp_path / "out"), "--quiet", *extra], capsys)


FF = '[design]\nkind = "full_factorial"\n'
DSR = '[factors."rules.distress_service_ratio"]\n'


# Every way a factor's values can mismatch its scenario field: a load error naming the factor,
# exit 2, before any run (they used to run and fail every run, exit 1, for the test model).
# fmt: off
FACTOR_TYPE_CASES = [
    pytest.param(FF + DSR + 'values = ["0.2", "0.3"]', "factors.rules.distress_service_ratio", "valid number",
                 id="string-values-on-a-float-field"),
    pytest.param(FF + DSR + 'values = [0.2, "0.3"]', "factors.rules.distress_service_ratio", "valid number",
                 id="one-string-among-numbers"),
    pytest.param(FF + DSR + "values = [true]", "factors.rules.distress_service_ratio", "valid number",
                 id="bool-on-a-float-field"),
    pytest.param(FF + '[factors.horizon_turns]\nvalues = ["3"]', "factors.horizon_turns", "valid integer",
                 id="string-on-an-integer-field"),
    pytest.param(FF + "[factors.horizon_turns]\nvalues = [2.5]", "factors.horizon_turns", "valid integer",
                 id="fraction-on-an-integer-field"),
    pytest.param(FF + '[factors."powers.china.strategy"]\nvalues = [3]', "factors.powers.china.strategy",
                 "valid string", id="number-on-a-string-field"),
    pytest.param(FF + '[factors."hosts.kaz.minerals.uranium.developable"]\nvalues = [1]',
                 "factors.hosts.kaz.minerals.uranium.developable", "valid boolean", id="number-on-a-bool-field"),
    pytest.param(FF + '[factors."powers.china.strategy_params.spend_share"]\nvalues = ["half"]',
                 "factors.powers.china.strategy_params.spend_share", "must be a number", id="string-strategy-param"),
    pytest.param(FF + DSR + "values = [[0.2]]", "factors.rules.distress_service_ratio.values",
                 "not a number, a string or a boolean", id="array-value"),
    pytest.param(FF + DSR + "values = [2025-01-01]", "factors.rules.distress_service_ratio.values",
                 "not a number, a string or a boolean", id="date-value"),
    pytest.param('[design]\nkind = "latin_hypercube"\nsamples = 4\n[factors.horizon_turns]\nrange = [2.5, 6]',
                 "factors.horizon_turns", "whole-number range ends", id="fractional-range-on-an-integer-field"),
    pytest.param('[design]\nkind = "latin_hypercube"\nsamples = 4\n[factors."hosts.kaz.minerals.uranium.developable"]'
                 "\nrange = [0, 1]", "factors.hosts.kaz.minerals.uranium.developable", "valid boolean",
                 id="range-on-a-bool-field"),
]
# fmt: on


@pytest.mark.parametrize(("body", "field", "problem"), FACTOR_TYPE_CASES)
def test_factor_value_of_the_wrong_type_is_a_load_error(body, field, problem, tmp_path, capsys):
    code, stdout, err = _sweep(tmp_path, _experiment_text(body), capsys)
    _assert_one_line_error(code, err, [f"error: {field}: ", problem], tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("values", "bad"),
    [pytest.param('["a"]', "'a'", id="string"), pytest.param("[true]", "True", id="bool")],
)
def test_test_model_factor_values_must_be_numbers(values, bad, tmp_path, capsys):
    text = (
        'name = "i"\nmodel = "ishigami"\nreplications = 1\nmaster_seed = 1\n'
        f"[factors.x1]\nvalues = {values}\n[factors.x2]\nvalues = [1.0]\n[factors.x3]\nvalues = [0.5]\n"
        '[record]\nfinal = ["y"]\n'
    )
    code, _, err = _sweep(tmp_path, text, capsys)
    _assert_one_line_error(code, err, [f"factors.x1: the ishigami test model takes numbers, got {bad}"], tmp_path)
    assert not (tmp_path / "out").exists()


# A --set value is TOML, or a bare word (a string); anything else is an error naming the --set.
@pytest.mark.parametrize(
    "value",
    [
        pytest.param('"USA', id="unterminated-double-quote"),
        pytest.param("'USA", id="unterminated-single-quote"),
        pytest.param("[1, 2", id="unclosed-bracket"),
        pytest.param("{ a = 1", id="unclosed-brace"),
        pytest.param("1.2.3", id="dotted-number"),
        pytest.param("", id="empty"),
        pytest.param("United States", id="words-with-a-space"),
        pytest.param("5\nhorizon_turns = 3", id="a-second-toml-line"),
    ],
)
def test_set_value_that_is_not_toml_nor_a_bare_word_is_an_error(value, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = _run_cli(
        ["run", "--set", f"powers.us.name={value}", "--out", str(tmp_path / "o"), *FAST], capsys
    )
    _assert_one_line_error(code, err, ["error: --set ", "powers.us.name=", "VALUE"], tmp_path)
    assert stdout == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("override", "path", "expected"),
    [
        ("powers.us.name=USA", ("powers", "us", "name"), "USA"),
        ('powers.us.name="United States"', ("powers", "us", "name"), "United States"),
        ('powers.us.name=""', ("powers", "us", "name"), ""),
        ("powers.us.strategy=fossil_first", ("powers", "us", "strategy"), "fossil_first"),
        ("start=2025Q3", ("start",), "2025Q3"),
        ("horizon_turns= 7 ", ("horizon_turns",), 7),
    ],
)
def test_set_bare_words_and_toml_values_are_read(override, path, expected):
    from strategy_abm.scenario.config import load_scenario

    node = load_scenario("baseline", [override]).model_dump()
    for part in path:
        node = node[part]
    assert node == expected and type(node) is type(expected)


def _deep_files(d: Path) -> dict[str, Path]:
    """Scenario and experiment files nested or chained far too deep."""
    d.mkdir()
    files = {
        "array-1000-deep": "name = " + "[" * 1000 + "]" * 1000 + "\n",
        "inline-table-1000-deep": "name = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n",
        "header-5000-parts": "[" + ".".join(["a"] * 5000) + "]\nx = 1\n",
        "dotted-key-5000-parts": ".".join(["a"] * 5000) + " = 1\n",
        "array-100-deep": "name = " + "[" * 100 + "]" * 100 + "\n",  # parsed by tomllib, refused after
    }
    out = {}
    for name, body in files.items():
        out[name] = d / f"{name}.toml"
        out[name].write_text('extends = "baseline"\n' + body)
    for i in range(1500):
        (d / f"chain{i}.toml").write_text(f'extends = "chain{i + 1}.toml"\n' if i < 1499 else 'extends = "baseline"\n')
    out["extends-chain-1500"] = d / "chain0.toml"
    return out


@pytest.fixture(scope="module")
def deep_files(tmp_path_factory) -> dict[str, Path]:
    return _deep_files(tmp_path_factory.mktemp("deep") / "in")


@pytest.mark.parametrize(
    "case",
    ["array-1000-deep", "inline-table-1000-deep", "header-5000-parts", "dotted-key-5000-parts", "array-100-deep",
     "extends-chain-1500"],
)  # fmt: skip
def test_deep_toml_and_long_extends_chains_are_one_line_errors(case, deep_files, tmp_path, capsys):
    path = deep_files[case]
    expected = ["extends: a chain of more than 32 extends (from chain0.toml)"] if case.startswith("extends") else [
        f"scenario: {path.name}: tables or arrays nested more than 32 deep"]  # fmt: skip
    code, stdout, err = _run_cli(["run", str(path), "--out", str(tmp_path / "o"), *FAST], capsys)
    _assert_one_line_error(code, err, expected, tmp_path)
    assert not (tmp_path / "o").exists()
    # The same files behind an experiment: its scenario, or the experiment file itself.
    code, _, err = _sweep(tmp_path, _experiment_text("").replace('"baseline"', json.dumps(str(path))), capsys)
    _assert_one_line_error(code, err, ["scenario: ", *expected], tmp_path)
    if not case.startswith("extends"):
        text = _experiment_text("") + path.read_text().removeprefix('extends = "baseline"\n').replace("name =", "x =")
        code, _, err = _sweep(tmp_path, text, capsys)
        _assert_one_line_error(code, err, ["experiment: exp.toml: tables or arrays nested more than 32 deep"], tmp_path)
    assert not (tmp_path / "out").exists()


def test_an_extends_chain_of_32_loads_and_of_33_is_refused(tmp_path):
    from strategy_abm.scenario.config import ConfigError, load_scenario

    for i in range(40):
        (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i + 1}.toml"\nhorizon_turns = {i + 1}\n')
    (tmp_path / "c40.toml").write_text('extends = "baseline"\n')
    # c8 -> ... -> c40 -> baseline: 33 extends; c9: 32. The nearest file wins (horizon 9 + 1).
    assert load_scenario(tmp_path / "c9.toml").horizon_turns == 10
    with pytest.raises(ConfigError, match=r"^extends: a chain of more than 32 extends \(from c8.toml\)$"):
        load_scenario(tmp_path / "c8.toml")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param("name=" + "[" * 1000 + "]" * 1000, "--set name: VALUE nests", id="value-1000-deep"),
        pytest.param("name=" + "[" * 40 + "]" * 40, "--set name: VALUE nests", id="value-40-deep"),
        pytest.param(".".join(["a"] * 5000) + "=1", "KEY has more than 32 parts", id="key-5000-parts"),
    ],
)
def test_deep_set_is_a_one_line_error(override, expected, tmp_path, capsys):
    code, _, err = _run_cli(["validate", "baseline", "--set", override], capsys)
    _assert_one_line_error(code, err, [expected], tmp_path)


def test_a_byte_order_mark_is_skipped_for_scenarios_and_experiments(tmp_path, capsys):
    from strategy_abm.experiments.experiment import load_experiment
    from strategy_abm.scenario.config import load_scenario

    text = 'extends = "baseline"\nname = "bom"\nhorizon_turns = 3\n'
    (tmp_path / "plain.toml").write_text(text, encoding="utf-8")
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    plain, bom = load_scenario(tmp_path / "plain.toml"), load_scenario(tmp_path / "bom.toml")
    assert bom == plain and bom.name == "bom" and bom.horizon_turns == 3
    code, stdout, err = _run_cli(["validate", str(tmp_path / "bom.toml")], capsys)
    assert code == 0 and stdout.startswith("ok: bom (2025Q1, 3 turns"), err

    exp = _experiment_text(FF + DSR + "values = [0.2, 0.3]")
    (tmp_path / "exp_plain.toml").write_text(exp, encoding="utf-8")
    (tmp_path / "exp_bom.toml").write_bytes(b"\xef\xbb\xbf" + exp.encode())
    a, b = load_experiment(tmp_path / "exp_plain.toml"), load_experiment(tmp_path / "exp_bom.toml")
    assert b.hash == a.hash and b.points == a.points == [{"rules.distress_service_ratio": v} for v in (0.2, 0.3)]
    assert b.source_text == exp  # the manifest keeps the text, not the mark


def test_a_utf16_file_is_named(tmp_path, capsys):
    (tmp_path / "wide.toml").write_bytes('extends = "baseline"\n'.encode("utf-16"))
    code, _, err = _run_cli(["validate", str(tmp_path / "wide.toml")], capsys)
    _assert_one_line_error(code, err, ["scenario: wide.toml is UTF-16 text", "save it as UTF-8"], tmp_path)


@pytest.mark.parametrize(
    ("body", "reps", "runs"),
    [
        pytest.param('[design]\nkind = "sobol"\nsamples = 1000000\n' + DSR + "range = [0.1, 0.2]", 100_000,
                     "sobol N = 1,000,000 x 3 = 3,000,000 design points x 100,000 replications = 300,000,000,000 runs",
                     id="sobol-1e6-with-1e5-replications"),
        pytest.param("".join(f'[factors."rules.{k}"]\nvalues = {list(range(60))}\n' for k in "abcde"), 1,
                     "60 x 60 x 60 x 60 x 60 = 777,600,000 design points x 1 replication = 777,600,000 runs",
                     id="factorial-60-to-the-5"),
        pytest.param(FF + DSR + "values = [0.1, 0.2]", 100_000,
                     "2 = 2 design points x 100,000 replications = 200,000 runs", id="runs-over-a-lowered-limit"),
    ],
)  # fmt: skip
def test_an_astronomic_design_is_refused_before_it_is_computed(body, reps, runs, tmp_path, capsys, monkeypatch):
    import strategy_abm.experiments.experiment as experiment

    def never(*args, **kwargs):
        raise AssertionError("the design was computed (or the scenario loaded) before the size was checked")

    monkeypatch.setattr(experiment, "design_points", never)
    monkeypatch.setattr(experiment, "_load_base_scenario", never)
    if runs.startswith("2 ="):
        monkeypatch.setattr(experiment, "MAX_RUNS", 199_999)
    text = _experiment_text(body).replace("replications = 1\n", f"replications = {reps}\n")
    code, _, err = _sweep(tmp_path, text, capsys)
    _assert_one_line_error(code, err, [f"error: design: {runs}, above the limit of"], tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_design_at_the_limits_is_accepted(tmp_path, monkeypatch):
    import strategy_abm.experiments.experiment as experiment

    monkeypatch.setattr(experiment, "MAX_RUNS", 200_000)
    monkeypatch.setattr(experiment, "MAX_DESIGN_POINTS", 2)
    path = tmp_path / "e.toml"
    path.write_text(
        _experiment_text(FF + DSR + "values = [0.1, 0.2]").replace("replications = 1\n", "replications = 100000\n")
    )
    assert experiment.load_experiment(path).n_runs == 200_000


def test_a_factor_lists_at_most_1000_values(tmp_path, capsys):
    body = FF + DSR + f"values = {[0.1 + i * 1e-4 for i in range(1001)]}"
    code, _, err = _sweep(tmp_path, _experiment_text(body), capsys)
    _assert_one_line_error(code, err, ["factors.rules.distress_service_ratio.values: 1,001 values, more than 1,000"],
                           tmp_path)  # fmt: skip


@pytest.mark.parametrize(("workers", "ok"), [("256", True), ("257", False), ("100000", False)])
def test_workers_have_an_upper_bound(workers, ok, tmp_path, capsys):
    from strategy_abm.cli import build_parser

    if ok:
        assert build_parser().parse_args(["sweep", "smoke", "--workers", workers]).workers == 256
        return
    # A missing experiment: were the bound lost, this fails on the file instead of starting workers.
    code, _, err = _run_cli(["sweep", str(tmp_path / "none.toml"), "--workers", workers, "--out", str(tmp_path / "o")],
                            capsys)  # fmt: skip
    _assert_one_line_error(code, err, [f"argument --workers: must be at most 256, got {workers}"], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_misspelt_required_key_names_the_missing_one(tmp_path, capsys):
    text = _experiment_text("").replace("replications = 1", "replication = 5")
    code, _, err = _sweep(tmp_path, text, capsys)
    assert err == (f"{PREFIX}replication: unknown key (did you mean replications?); replications: missing (required)\n")
    assert code == 2


def test_an_unknown_key_names_every_missing_sibling(tmp_path, capsys):
    text = _experiment_text("").replace("replications = 1", "reps = 5").replace("master_seed = 1", "seed = 1")
    code, _, err = _sweep(tmp_path, text, capsys)
    assert err == (f"{PREFIX}reps: unknown key; replications: missing (required); master_seed: missing (required) "
                   "(and 1 more problem)\n")  # fmt: skip


def test_sweep_of_an_unknown_name_lists_the_builtin_experiments(tmp_path, capsys, monkeypatch):
    from strategy_abm.experiments.experiment import builtin_experiments

    monkeypatch.chdir(tmp_path)
    names = builtin_experiments()
    assert {"smoke", "doctrines", "ishigami"} <= set(names)
    code, _, err = _run_cli(["sweep", "doctrine"], capsys)
    _assert_one_line_error(code, err, [f"experiment: 'doctrine' is neither a built-in experiment ({', '.join(names)})",
                                       "did you mean doctrines?"], tmp_path)  # fmt: skip
    code, _, err = _run_cli(["sweep", "nothing_like_it"], capsys)
    _assert_one_line_error(code, err, [", ".join(names)], tmp_path)
    assert "did you mean" not in err
    code, _, err = _run_cli(["sweep", str(tmp_path / "gone.toml")], capsys)
    _assert_one_line_error(code, err, ["experiment: file", "gone.toml", "does not exist"], tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["plot", "sensitivity"])
def test_a_missing_results_folder_is_named(command, tmp_path, capsys):
    missing = tmp_path / "nonexistent" / "dir"
    code, stdout, err = _run_cli([command, str(missing)], capsys)
    _assert_one_line_error(code, err, [f"argument results: folder '{missing}' does not exist"])
    (tmp_path / "a_file").write_text("x")
    code, stdout, err = _run_cli([command, str(tmp_path / "a_file")], capsys)
    _assert_one_line_error(code, err, ["is a file, not a sweep's results folder"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing created


def test_no_arguments_prints_the_usage_on_stderr(capsys):
    code, stdout, err = _run_cli([], capsys)
    assert code == 2 and stdout == ""
    assert err.startswith("usage: strategy-abm [-h] COMMAND ...\n")
    for name in ("run", "scenarios", "validate", "sweep", "sensitivity", "plot"):
        assert f"\n    {name} " in err or f"\n    {name}\n" in err, name


def test_subprocess_without_arguments_prints_the_usage(tmp_path):
    proc = _subprocess([], tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("usage: strategy-abm") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [[], ["run"], ["scenarios"], ["validate"], ["sweep"], ["sensitivity"], ["plot"]])
def test_help_is_plain_text(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith("usage: strategy-abm")
    assert "`" not in out and ":func:" not in out and ":class:" not in out, out
    # Each command says what it does (a description after the usage), not only its options.
    description = out.split("\n\n")[1]
    assert not description.startswith(("positional arguments", "options")), out


def test_a_malformed_experiment_override_names_the_overrides(tmp_path, capsys):
    text = _experiment_text("", head='overrides = ["powers.us.name=\\"USA"]\n')
    code, _, err = _sweep(tmp_path, text, capsys)
    _assert_one_line_error(code, err, ["error: overrides: 'powers.us.name=\"USA': not a valid VALUE"], tmp_path)
    assert not (tmp_path / "out").exists()
