"""Strategy plugins: ``--plugin FILE_OR_MODULE`` on ``run``, ``validate`` and ``sweep`` (driver,
local worker processes, spawned workers, Dask workers), entry points of installed packages, the
registry's refusal of a taken name, one-line errors, configs that only name strategies, and the
experiment hash covering a plugin's source."""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
from clitools import PREFIX, run_cli

from strategy_abm import ConfigError, load_scenario
from strategy_abm.experiments.experiment import load_experiment
from strategy_abm.experiments.results import ResultStore, load_failures, load_manifest, load_results
from strategy_abm.experiments.sweep import _run_dask, _tasks, local_cluster, run_batch, run_sweep
from strategy_abm.strategies import REGISTRY, HostStrategy, PowerStrategy, RegistryError, plugins
from strategy_abm.strategies.powers import Bri2

ROOT = Path(__file__).resolve().parent.parent

ALWAYS_KGZ = '''\
"""A US strategy for tests: each turn, its cheapest move offered to Kyrgyzstan."""

from strategy_abm.engine.projects import Offer
from strategy_abm.strategies import PowerStrategy


class AlwaysKgz(PowerStrategy):
    """The smallest deal of its cheapest move (least public cost per USD) to Kyrgyzstan."""

    name = "always_kgz"
    classifier = {"kinds": ("power",), "stochastic": False, "inspects": ("budget",), "actors": ("us",)}

    def propose(self, obs):
        move_id = min(sorted(obs.own["toolkit"]), key=lambda m: obs.moves[m].public_cost_share)
        move = obs.moves[move_id]
        if move.size_min_usd_bn * move.public_cost_share > obs.own["budget_available"]:
            return []
        return [Offer(obs.actor, move_id, "kgz", move.size_min_usd_bn)]
'''

EXPERIMENT = """\
name = "plug"
scenario = "baseline"
horizon_turns = {turns}
replications = 2
master_seed = 7
batch_size = 1

[factors."powers.us.strategy"]
values = ["pgii_asymmetric", "always_kgz"]

[record]
final = ["spent_usd_bn_us", "influence_us"]
"""


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), stderr
    return lines[0].removeprefix(PREFIX)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def fresh_registry():
    """Each test starts and ends with the built-in registry: what a test's plugins register is
    removed with their modules, as if each command ran in a new process."""
    snapshot = _snapshot()
    yield snapshot
    _restore(snapshot)


def _snapshot():
    return dict(REGISTRY), dict(plugins.PLUGINS), set(sys.modules)


def _restore(snapshot) -> None:
    registry, loaded, modules = snapshot
    REGISTRY.clear()
    REGISTRY.update(registry)
    plugins.PLUGINS.clear()
    plugins.PLUGINS.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith(plugins.FILE_MODULE_PREFIX) or name.startswith("tmp_plugin_"):
            del sys.modules[name]


@pytest.fixture
def always_kgz(tmp_path) -> Path:
    return write(tmp_path / "always_kgz.py", ALWAYS_KGZ)


def cheapest_us_move() -> tuple[str, float, float]:
    """(move, smallest size, public cost share) the plugin offers, from the scenario's data."""
    sc = load_scenario("baseline")
    move = min(sorted(sc.powers["us"].toolkit), key=lambda m: sc.moves[m].public_cost_share)
    return move, sc.moves[move].size_min_usd_bn, sc.moves[move].public_cost_share


# ------------------------------------------------------------------------------------ run


def test_run_plays_a_strategy_from_a_plugin_file(tmp_path, always_kgz):
    out = tmp_path / "out"
    code, _, stderr = run_cli("run", "baseline", "--turns", 4, "--plugin", always_kgz, "--set",
                              "powers.us.strategy=always_kgz", "--out", out, "--no-plots", "--quiet")  # fmt: skip
    assert code == 0, stderr
    move, size, _ = cheapest_us_move()
    with open(out / "events.csv", newline="", encoding="utf-8") as f:
        offers = [r for r in csv.DictReader(f) if r["actor"] == "us" and r["status"] in ("accepted", "rejected")]
    # Exactly the plugin's offer, once a turn: its cheapest move, smallest size, to Kyrgyzstan.
    assert [(int(r["turn"]), r["target"], r["move"], float(r["size_usd_bn"])) for r in offers] == [
        (turn, "kgz", move, size) for turn in range(1, 5)
    ]


def test_validate_takes_plugins_and_their_actor_restriction_holds(always_kgz):
    code, stdout, stderr = run_cli(
        "validate", "baseline", "--plugin", always_kgz, "--set", "powers.us.strategy=always_kgz"
    )
    assert code == 0 and stdout.startswith("ok: baseline"), stderr
    # The class's classifier says actors ("us",): China may not use it (checked when the scenario loads).
    code, _, stderr = run_cli(
        "validate", "baseline", "--plugin", always_kgz, "--set", "powers.china.strategy=always_kgz"
    )
    assert code == 2
    assert one_error_line(stderr).startswith("powers.china.strategy: 'always_kgz' is the doctrine of us, not of china")


def test_a_plugin_given_twice_or_loaded_again_is_loaded_once(always_kgz):
    first = plugins.load_plugin(str(always_kgz))
    assert plugins.load_plugin(str(always_kgz)) is first
    assert first.kind == "file" and first.module == "strategy_abm_plugin_always_kgz"
    assert first.strategies == ("always_kgz",) and first.source == always_kgz.read_bytes()
    assert REGISTRY["always_kgz"].__module__ == first.module


def test_a_plugin_given_as_a_module_name(tmp_path, monkeypatch):
    write(tmp_path / "tmp_plugin_kgz.py", ALWAYS_KGZ)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, stdout, stderr = run_cli("validate", "baseline", "--plugin", "tmp_plugin_kgz", "--set",
                                   "powers.us.strategy=always_kgz")  # fmt: skip
    assert code == 0, stderr
    plugin = plugins.PLUGINS["tmp_plugin_kgz"]
    assert plugin.kind == "module" and plugin.source == (tmp_path / "tmp_plugin_kgz.py").read_bytes()
    assert REGISTRY["always_kgz"].__module__ == "tmp_plugin_kgz"


# ------------------------------------------------------------------------------------ errors

PLUGIN_ERRORS = {
    "missing": (None, "file not found"),
    "syntax": ("x = (\n", "syntax error (bad.py, line 1): '(' was never closed"),
    "raises": (
        "import strategy_abm\n\n1 / 0\n",
        "raises on import: ZeroDivisionError: division by zero (bad.py, line 3)",
    ),
    "exits": ("import sys\n\nsys.exit(3)\n", "raises on import: SystemExit: 3 (bad.py, line 3)"),
    "nothing": ("X = 1\n", "registers no new strategy (define a subclass of PowerStrategy or HostStrategy"),
    "taken": (
        "from strategy_abm.strategies import PowerStrategy\n\n"
        "class Mine(PowerStrategy):\n"
        "    name = 'bri_2'\n"
        "    classifier = {'kinds': ('power',), 'stochastic': False, 'actors': 'any'}\n\n"
        "    def propose(self, obs):\n"
        "        return []\n",
        "strategy name 'bri_2' is already registered by strategy_abm.strategies.powers.Bri2; "
        "strategy_abm_plugin_bad.Mine cannot register it too (give it another name)",
    ),
    "bad_actors": (
        "from strategy_abm.strategies import PowerStrategy\n\n"
        "class Mine(PowerStrategy):\n"
        "    name = 'mine'\n"
        "    classifier = {'kinds': ('power',), 'stochastic': False, 'actors': 'us'}\n\n"
        "    def propose(self, obs):\n"
        "        return []\n",
        "classifier['actors'] must be 'any' or a tuple of actor ids, got 'us'",
    ),
    "old_signature": (
        "from strategy_abm.strategies import PowerStrategy\n\n"
        "class Mine(PowerStrategy):\n"
        "    name = 'mine'\n"
        "    classifier = {'kinds': ('power',), 'stochastic': False, 'actors': 'any'}\n\n"
        "    def propose(self, actor, world):\n"
        "        return []\n",
        "propose(self, actor, world) is not a decision method: strategies decide from an observation alone, "
        "propose(self, obs)",
    ),
}


@pytest.mark.parametrize("command", ["run", "validate", "sweep"])
@pytest.mark.parametrize("case", sorted(PLUGIN_ERRORS))
def test_a_bad_plugin_is_a_one_line_error_and_changes_nothing(tmp_path, case, command, fresh_registry):
    source, problem = PLUGIN_ERRORS[case]
    path = tmp_path / "bad.py"
    if source is not None:
        write(path, source)
    out = tmp_path / "out"
    target = {"run": "baseline", "validate": "baseline", "sweep": "smoke"}[command]
    argv = [command, target, "--plugin", path] + (["--out", out] if command != "validate" else [])
    code, stdout, stderr = run_cli(*argv)
    assert code == 2 and not stdout
    line = one_error_line(stderr)
    assert line.startswith(f"--plugin {str(path)!r}: ") and problem in line, line
    assert not out.exists()  # nothing written
    # The registry and the modules are as they were: a half-loaded plugin leaves nothing behind.
    assert fresh_registry[0] == REGISTRY and REGISTRY["bri_2"] is Bri2
    assert not any(m.startswith(plugins.FILE_MODULE_PREFIX) for m in sys.modules)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("no_such_plugin_module", "no module named 'no_such_plugin_module' (give a path to a .py file or an "
                                  "importable module name)"),
        ("not a module", "neither a .py file nor a module name"),
        ("json", "registers no new strategy (module 'json' is already imported)"),
    ],
)  # fmt: skip
def test_a_bad_plugin_module_is_a_one_line_error(spec, problem):
    code, _, stderr = run_cli("validate", "baseline", "--plugin", spec)
    assert code == 2
    assert one_error_line(stderr) == f"--plugin {spec!r}: {problem}"


def test_a_plugin_folder_is_a_one_line_error(tmp_path):
    code, _, stderr = run_cli("validate", "baseline", "--plugin", tmp_path)
    assert code == 2 and one_error_line(stderr) == f"--plugin {str(tmp_path)!r}: is a folder, not a .py file"


# ------------------------------------------------------------------------------------ registry


def test_registering_a_taken_name_is_an_error_naming_both_classes():
    with pytest.raises(RegistryError) as caught:

        class Impostor(PowerStrategy):
            name = "bri_2"
            classifier = {"kinds": ("power",), "stochastic": False, "actors": "any"}

            def propose(self, obs):
                return []

    assert str(caught.value) == (
        "strategy name 'bri_2' is already registered by strategy_abm.strategies.powers.Bri2; "
        f"{__name__}.test_registering_a_taken_name_is_an_error_naming_both_classes.<locals>.Impostor "
        "cannot register it too (give it another name)"
    )
    assert REGISTRY["bri_2"] is Bri2


def test_a_subclass_that_inherits_a_name_does_not_take_its_parents_place():
    class Variant(Bri2):
        """No name of its own: not registered, and bri_2 stays Bri2."""

    assert REGISTRY["bri_2"] is Bri2 and Variant not in REGISTRY.values()


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({"classifier": {"stochastic": False}}, "classifier['kinds'] must list 'power' and/or 'host', got None"),
        ({"classifier": {"kinds": ("host",), "stochastic": False}}, "a host strategy subclasses HostStrategy"),
        ({"classifier": {"kinds": ("power",)}}, "classifier['stochastic'] must be True or False, got None"),
        ({"classifier": {"kinds": ("power",), "stochastic": False, "actors": "us"}}, "classifier['actors'] must be"),
        ({"name": "has space"}, "strategy name 'has space' must be letters, digits"),
        ({"tunable": {"x": (0.0, 1.0)}}, "tunable parameter 'x' has no default"),
    ],
)
def test_a_malformed_strategy_class_is_refused_when_defined(attrs, problem):
    body = {"name": "test_malformed", "classifier": {"kinds": ("power",), "stochastic": False},
            "propose": lambda self, obs: [], **attrs}  # fmt: skip
    with pytest.raises(RegistryError, match=re.escape(problem)):
        type("Malformed", (PowerStrategy,), body)
    assert "test_malformed" not in REGISTRY and "has space" not in REGISTRY


@pytest.mark.parametrize(
    ("kind", "method", "old"),
    [
        ("power", "propose", lambda self, actor, world: []),
        ("host", "respond", lambda self, actor, offers, world: []),
        ("host", "respond", lambda self: []),
    ],
)
def test_a_strategy_with_the_signature_of_before_observations_is_refused_when_defined(kind, method, old):
    """Strategies decide from an observation alone: a class written for ``propose(self, actor,
    world)`` / ``respond(self, actor, offers, world)`` is a one-line RegistryError that says what
    to write, not a TypeError mid-game."""
    base = PowerStrategy if kind == "power" else HostStrategy
    body = {"name": "test_old", "classifier": {"kinds": (kind,), "stochastic": False}, method: old}
    with pytest.raises(RegistryError) as caught:
        type("Old", (base,), body)
    text = str(caught.value)
    assert "\n" not in text and "is not a decision method" in text and f"{method}(self, obs)" in text
    assert "test_old" not in REGISTRY
    # The new signatures (with extra optional parameters too) register.
    for new in (lambda self, obs: [], lambda self, obs, extra=None: [], lambda self, *args: []):
        cls = type("New", (base,), {**body, "name": "test_new", method: new})
        assert REGISTRY.pop("test_new") is cls


# ------------------------------------------------------------------------------------ configs name, never import


def test_a_config_naming_an_unregistered_strategy_is_refused_and_imports_nothing(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    evil = f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
    write(tmp_path / "tmp_plugin_evil.py", evil)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    names = ["tmp_plugin_evil", "tmp_plugin_evil:Evil", "tmp_plugin_evil.Evil", str(tmp_path / "tmp_plugin_evil.py")]
    for name in names:
        scenario = write(tmp_path / "sc.toml", f'extends = "baseline"\nname = "sc"\n[powers.us]\nstrategy = "{name}"\n')
        with pytest.raises(ConfigError, match=re.escape(f"powers.us.strategy: unknown strategy '{name}'")):
            load_scenario(scenario)
        code, _, stderr = run_cli("validate", scenario)
        assert code == 2 and "unknown strategy" in one_error_line(stderr)
    experiment = write(tmp_path / "e.toml", EXPERIMENT.format(turns=2).replace("always_kgz", "tmp_plugin_evil"))
    with pytest.raises(ConfigError, match="factors.powers.us.strategy: unknown strategy 'tmp_plugin_evil'"):
        load_experiment(experiment)
    assert not marker.exists() and "tmp_plugin_evil" not in sys.modules


# ------------------------------------------------------------------------------------ sweeps


def _plugin_moves_are_in(results, turns: int) -> None:
    """The plugin's point spent a whole number of its deals (public cost of one deal each);
    the built-in doctrine's point spent otherwise."""
    _, size, share = cheapest_us_move()
    spent = results.set_index("powers.us.strategy")["spent_usd_bn_us"]
    deals = spent.loc["always_kgz"] / (size * share)
    assert all(1 <= round(d) <= turns and math.isclose(d, round(d), rel_tol=1e-9) for d in deals), deals
    assert all(not math.isclose(s / (size * share), round(s / (size * share))) for s in spent.loc["pgii_asymmetric"])


def test_a_sweep_with_a_plugin_on_two_workers_equals_one_worker(tmp_path, always_kgz):
    experiment = write(tmp_path / "plug.toml", EXPERIMENT.format(turns=3))
    code, _, stderr = run_cli("sweep", experiment, "--plugin", always_kgz, "--out", tmp_path / "one", "--quiet")
    assert code == 0, stderr
    code, _, stderr = run_cli("sweep", experiment, "--plugin", always_kgz, "--out", tmp_path / "two", "--quiet",
                              "--workers", 2)  # fmt: skip
    assert code == 0, stderr
    one, two = load_results(tmp_path / "one"), load_results(tmp_path / "two")
    assert len(one) == 4 and one.equals(two)
    _plugin_moves_are_in(one, turns=3)
    (plugin,) = load_manifest(tmp_path / "one")["plugins"]  # what the runs were played with
    sha = hashlib.sha256(always_kgz.read_bytes()).hexdigest()
    assert plugin == {"kind": "file", "spec": str(always_kgz), "module": "strategy_abm_plugin_always_kgz",
                      "origin": str(always_kgz.resolve()), "sha256": sha, "strategies": ["always_kgz"]}  # fmt: skip


def _plugin_experiment(tmp_path, plugin_file: Path, turns: int = 2):
    plugins.load_plugins([str(plugin_file)])
    return load_experiment(write(tmp_path / "plug.toml", EXPERIMENT.format(turns=turns)))


def test_a_spawned_worker_loads_the_plugin_from_the_task(tmp_path, always_kgz):
    experiment = _plugin_experiment(tmp_path, always_kgz)
    tasks = list(_tasks(experiment, experiment.runs(), experiment.resolved_scenario))
    assert tasks[0]["plugins"][0]["source"] == always_kgz.read_bytes()
    here = [run_batch(t) for t in tasks]
    always_kgz.unlink()  # the worker cannot read the file: it runs the source the task carries
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        there = list(pool.map(run_batch, tasks))
    assert there == here
    assert all(table != "failures" for batch in there for table, _ in batch)


def test_a_worker_with_other_plugin_source_fails_its_runs(tmp_path, always_kgz):
    experiment = _plugin_experiment(tmp_path, always_kgz)
    (task,) = list(_tasks(experiment, [experiment.run(1, 0)], experiment.resolved_scenario))
    task["plugins"][0]["sha256"] = "0" * 64  # what a worker with another copy of the module sees
    ((table, rows),) = run_batch(task)
    assert table == "failures" and rows[0]["key"] == experiment.run(1, 0).key
    assert rows[0]["error"] == (
        f"worker cannot load the plugins: plugin {str(always_kgz)!r}: this worker has loaded other source of "
        "module 'strategy_abm_plugin_always_kgz' than the driver (an edited plugin: restart the workers; an "
        "installed module: install the same version on every worker)"
    )


def test_a_dask_sweep_with_a_plugin_equals_a_local_sweep(tmp_path, always_kgz):
    from distributed import Client

    # Three turns: Kyrgyzstan may fill its absorption with China's first offer and take the plugin's
    # from the second turn on (it does since Russia's corridor presence lowered China's share there).
    experiment = _plugin_experiment(tmp_path, always_kgz, turns=3)
    local = tmp_path / "local"
    run_sweep(experiment, ResultStore(local, experiment), progress=False)
    always_kgz.unlink()  # Dask workers are spawned processes: they get the plugin from the tasks
    dask = tmp_path / "dask"
    with local_cluster(2, security=None) as cluster, Client(cluster) as client:
        report = run_sweep(experiment, ResultStore(dask, experiment), progress=False,
                           executor=lambda tasks, collect: _run_dask(client, tasks, collect))  # fmt: skip
    assert report.done == 4 and report.failed == 0, load_failures(dask)
    assert load_results(dask).equals(load_results(local))
    _plugin_moves_are_in(load_results(dask), turns=3)


def test_the_experiment_hash_covers_the_plugin_source_and_resume_refuses_an_edited_plugin(
    tmp_path, always_kgz, fresh_registry
):
    experiment = write(tmp_path / "plug.toml", EXPERIMENT.format(turns=2))
    out = tmp_path / "out"
    code, _, stderr = run_cli("sweep", experiment, "--plugin", always_kgz, "--out", out, "--quiet")
    assert code == 0, stderr
    first_hash = load_experiment(experiment).hash
    _restore(fresh_registry)  # each command below runs as in a new process

    # The same plugin: the same experiment, nothing to redo.
    code, stdout, stderr = run_cli("sweep", experiment, "--plugin", always_kgz, "--out", out, "--quiet", "--resume")
    assert code == 0 and "0 runs done, 4 already stored" in stdout, stderr
    _restore(fresh_registry)

    # Without the plugin the experiment names an unknown strategy.
    code, _, stderr = run_cli("sweep", experiment, "--out", out, "--quiet", "--resume")
    assert code == 2
    assert one_error_line(stderr).startswith("factors.powers.us.strategy: unknown strategy 'always_kgz'")
    assert "a plugin's needs --plugin" in stderr

    # An edited plugin (even a comment) is other code: another experiment, refused.
    always_kgz.write_text(ALWAYS_KGZ + "# edited\n", encoding="utf-8")
    code, _, stderr = run_cli("sweep", experiment, "--plugin", always_kgz, "--out", out, "--quiet", "--resume")
    assert code == 2
    assert one_error_line(stderr).startswith(
        f"--resume: {str(out)!r} holds results of another experiment ('plug', hash"
    )
    assert load_experiment(experiment).hash != first_hash
    assert len(load_results(out)) == 4  # nothing lost


def test_a_module_plugins_file_is_in_the_hash(tmp_path, monkeypatch, fresh_registry):
    path = write(tmp_path / "tmp_plugin_mod.py", ALWAYS_KGZ)
    monkeypatch.syspath_prepend(str(tmp_path))
    experiment = write(tmp_path / "plug.toml", EXPERIMENT.format(turns=2))
    plugins.load_plugin("tmp_plugin_mod")
    before = load_experiment(experiment).hash
    _restore(fresh_registry)
    path.write_text(ALWAYS_KGZ + "\n# edited\n", encoding="utf-8")
    plugins.load_plugin("tmp_plugin_mod")
    assert load_experiment(experiment).hash != before


# ------------------------------------------------------------------------------------ entry points


def _installed(tmp_path: Path, module_source: str) -> dict:
    """A 'site' folder holding module ``tmp_ep_strategies`` and the metadata of an installed
    package ``ep-demo`` whose entry point (group strategy_abm.strategies) names it, as pip
    would leave them; returns the environment of a process that has it on its path."""
    site = tmp_path / "site"
    site.mkdir()
    write(site / "tmp_ep_strategies.py", module_source)
    info = site / "ep_demo-1.0.dist-info"
    info.mkdir()
    write(info / "METADATA", "Metadata-Version: 2.1\nName: ep-demo\nVersion: 1.0\n")
    write(info / "entry_points.txt", "[strategy_abm.strategies]\ndemo = tmp_ep_strategies\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def _python(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_an_installed_package_registers_strategies_through_its_entry_point(tmp_path):
    env = _installed(tmp_path, ALWAYS_KGZ)
    # Importing the package imports no third-party code; the registry's first read loads it.
    script = textwrap.dedent("""
        import sys
        import strategy_abm
        from strategy_abm.strategies import plugins, strategies_for
        assert "tmp_ep_strategies" not in sys.modules
        print(strategies_for("power", actors="us"))
        (plugin,) = plugins.loaded_plugins()
        print(plugin.kind, plugin.spec, plugin.strategies)
    """)
    done = _python(env, "-c", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "['always_kgz', 'fossil_first', 'greedy', 'parametric', 'pgii_asymmetric', 'random']",
        "entry_point demo = tmp_ep_strategies ('always_kgz',)",
    ]
    out = tmp_path / "out"
    done = _python(env, "-m", "strategy_abm.cli", "run", "baseline", "--turns", "2", "--set",
                   "powers.us.strategy=always_kgz", "--out", str(out), "--no-plots", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    move, size, _ = cheapest_us_move()
    assert f"1,2025Q1,us,kgz,financing,{move},{size}," in (out / "events.csv").read_text(encoding="utf-8")


def test_a_broken_entry_point_is_a_one_line_error_naming_it(tmp_path):
    env = _installed(tmp_path, "raise RuntimeError('half installed')\n")
    done = _python(env, "-m", "strategy_abm.cli", "validate", "baseline")
    assert done.returncode == 2
    assert one_error_line(done.stderr) == (
        "entry point demo = tmp_ep_strategies (group strategy_abm.strategies, package ep-demo): "
        "raises on import: RuntimeError: half installed (tmp_ep_strategies.py, line 1)"
    )
    # From Python, the first scenario load reports it, one line, at the strategy it was checking.
    done = _python(env, "-c", "import strategy_abm; strategy_abm.load_scenario('baseline')")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "strategy_abm.scenario.config.ConfigError: powers.china.strategy: entry point demo = tmp_ep_strategies "
        "(group strategy_abm.strategies, package ep-demo): raises on import: RuntimeError: half installed "
        "(tmp_ep_strategies.py, line 1)"
    )
