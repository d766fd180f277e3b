"""The package's layers, checked from the source (docs/architecture.md).

Every ``.py`` file under ``strategy_abm/`` is parsed with :mod:`ast` (nothing is imported or
run), mapped to its layer, and its imports (top-level or inside functions, absolute or relative)
are checked: no import from a higher layer, no import cycle between modules, and no Mesa, plotting,
data-frame or file I/O library in the engine or the scenario layer.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "strategy_abm"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Lowest first: a module may import its own layer and the layers before it, never one after it.
LAYERS = (
    "version",  # _version.py (the installed version) and _compiled.py (how rules compile): any layer reads them
    "scenario",  # ids, schema, loading: knows nothing of the game
    "engine",  # rules, events, metrics, records: no Mesa, no I/O
    "strategies",  # choices: read the engine's records, return offers and answers
    "sim",  # the Mesa shell: model, agents, reporters
    "report",  # run folders, output files, plots of one run
    "experiments",  # experiment files, designs, sweep runner, results store, analysis
    "classroom",  # rooms, seats, the record and its replay, the store, web app, debrief: the top layer
    "lab",  # tournaments, meta-games, tuning, the PettingZoo env: beside classroom (see test_lab_and_classroom_apart)
    "cli",  # the command line
    "api",  # strategy_abm/__init__.py: the public names, gathered from every layer
)
TOP_LEVEL = {"_version": "version", "_compiled": "version", "cli": "cli", "": "api"}
# Modules that live in a folder but belong to a higher layer (none now: the strategies' test kit
# plays bare engine games, so it sits in the strategies' own layer).
PLACED: dict[str, str] = {}

# Libraries the engine and the scenario layer must not import (top-level module names).
NOT_IN_ENGINE = {
    "mesa", "matplotlib", "pandas", "pyarrow", "tqdm", "dask", "distributed", "SALib",
    "os", "io", "pathlib", "shutil", "tempfile", "json", "csv", "pickle", "tomllib", "tomli_w",
    "subprocess", "socket", "urllib", "fcntl", "sqlite3",
}  # fmt: skip
# The scenario layer reads and writes TOML files (its job): os, pathlib, tomllib and tomli_w stay.
NOT_IN_SCENARIO = {
    "mesa", "matplotlib", "pandas", "pyarrow", "tqdm", "dask", "distributed", "SALib",
    "shutil", "tempfile", "pickle", "subprocess", "socket", "urllib", "fcntl", "sqlite3",
}  # fmt: skip
FORBIDDEN = {"engine": NOT_IN_ENGINE, "scenario": NOT_IN_SCENARIO}


def module_name(path: Path, root: Path = ROOT) -> str:
    """``strategy_abm/sim/model.py`` -> ``strategy_abm.sim.model``; a package's ``__init__.py``
    is the package itself."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """Layer of a module of the package: its first sub-package, or a top-level module's entry in
    ``TOP_LEVEL``. A module that fits neither must be given a layer here first."""
    if module in PLACED:
        return PLACED[module]
    rest = module.removeprefix(PACKAGE).removeprefix(".")
    first = rest.split(".")[0]
    if "." in rest or first in LAYERS:
        if first not in LAYERS:
            raise AssertionError(f"{module}: sub-package {first!r} has no layer (add it to LAYERS)")
        return first
    if first not in TOP_LEVEL:
        raise AssertionError(f"{module}: a top-level module with no layer (move it into a layer folder)")
    return TOP_LEVEL[first]


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports_of(module: str, source: str, is_package: bool, modules: set[str]) -> list[tuple[str, int]]:
    """Every import in ``source`` as ``(target, line)``: a module of the package (the most
    specific one in ``modules``: ``from . import rules`` names the module ``rules``) or, for
    anything outside the package, its top-level name (``mesa``)."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                if node.level > len(parts):
                    raise AssertionError(f"{module}:{node.lineno}: relative import beyond the package")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub if sub in modules else target, node.lineno))
    resolved = []
    for target, line in out:
        if target == PACKAGE or target.startswith(PACKAGE + "."):
            while target not in modules and "." in target:  # ``strategy_abm.sim.model.X`` -> the module
                target = target.rpartition(".")[0]
            resolved.append((target, line))
        else:
            resolved.append((target.split(".")[0], line))
    return resolved


def package_graph(root: Path = ROOT) -> dict[str, list[tuple[str, int]]]:
    """Each module of the package and its imports (see :func:`imports_of`)."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    return {m: imports_of(m, p.read_text(encoding="utf-8"), _is_package(p), modules) for m, p in files.items()}


def upward_imports(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    """Imports of a module of a higher layer, as ``module:line imports target (a -> b)``."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    out = []
    for module, targets in graph.items():
        here = layer_of(module)
        for target, line in targets:
            if target in graph and rank[layer_of(target)] > rank[here]:
                out.append(f"{module}:{line} imports {target} ({here} -> {layer_of(target)})")
    return out


def forbidden_imports(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    out = []
    for module, targets in graph.items():
        banned = FORBIDDEN.get(layer_of(module), set())
        out += [f"{module}:{line} imports {target}" for target, line in targets if target in banned]
    return out


def import_cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself),
    by Tarjan's algorithm; each is listed in a stable order."""
    edges = {m: sorted({t for t, _ in targets if t in graph}) for m, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(cycles)


@pytest.fixture(scope="module")
def graph():
    return package_graph()


def test_every_module_has_a_layer(graph):
    assert len(graph) > 20  # the walk found the package
    for module in graph:
        assert layer_of(module) in LAYERS


def test_no_module_imports_a_higher_layer(graph):
    assert upward_imports(graph) == []


def test_no_import_cycle(graph):
    assert import_cycles(graph) == []


def test_engine_and_scenario_import_no_mesa_plots_frames_or_io(graph):
    assert forbidden_imports(graph) == []
    # The check looks at the right modules: the engine's rules and the scenario's schema are seen.
    assert "strategy_abm.engine.rules" in graph and "strategy_abm.scenario.config" in graph


def test_the_layers_are_the_documented_folders():
    folders = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())
    assert folders == sorted(name for name in LAYERS if name not in TOP_LEVEL.values())


def test_a_scenario_loaded_through_the_scenario_layer_alone_has_its_strategies_checked():
    """The scenario layer does not import the strategies; they register their check when the package is
    imported, which happens before any of its modules runs. A fresh interpreter that imports only
    ``scenario.config`` still refuses a doctrine given to the wrong power, with the field named."""
    code = (
        "from strategy_abm.scenario.config import ConfigError, load_scenario\n"
        "try:\n"
        "    load_scenario('baseline', ['powers.us.strategy=bri_2'])\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("powers.us.strategy: 'bri_2' is the doctrine of china, not of us")


# The checks themselves fail on the faults they look for (a check that cannot fail checks nothing).


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_an_upward_import_is_found_absolute_relative_or_inside_a_function(tmp_path):
    root = _fake_package(tmp_path, {
        "engine/__init__.py": "",
        "engine/rules.py": "def f():\n    from ..sim import model\n",
        "engine/metrics.py": "from strategy_abm.report.output import write_run\n",
        "engine/events.py": "from . import rules\nimport strategy_abm.scenario.ids\n",
        "scenario/__init__.py": "",
        "scenario/ids.py": "",
        "scenario/config.py": "from strategy_abm import CompetitionModel\n",
        "sim/__init__.py": "",
        "sim/model.py": "from ..engine import rules\n",
        "report/__init__.py": "",
        "report/output.py": "",
    })  # fmt: skip
    found = upward_imports(package_graph(root))
    assert found == [
        "strategy_abm.engine.metrics:1 imports strategy_abm.report.output (engine -> report)",
        "strategy_abm.engine.rules:2 imports strategy_abm.sim.model (engine -> sim)",
        "strategy_abm.scenario.config:1 imports strategy_abm (scenario -> api)",
    ]


def test_a_cycle_is_found(tmp_path):
    root = _fake_package(tmp_path, {
        "sim/__init__.py": "",
        "sim/agents.py": "from .model import X\n",
        "sim/model.py": "def f():\n    from . import agents\n",
        "sim/reporters.py": "from .agents import A\n",
    })  # fmt: skip
    assert import_cycles(package_graph(root)) == [["strategy_abm.sim.agents", "strategy_abm.sim.model"]]


def test_mesa_or_io_in_the_engine_is_found(tmp_path):
    root = _fake_package(tmp_path, {
        "engine/__init__.py": "",
        "engine/rules.py": "import math\nimport mesa.agent\n",
        "engine/events.py": "def f():\n    from pathlib import Path\n",
        "scenario/__init__.py": "",
        "scenario/config.py": "import tomllib\nfrom pathlib import Path\nimport pandas as pd\n",
    })  # fmt: skip
    assert sorted(forbidden_imports(package_graph(root))) == [
        "strategy_abm.engine.events:2 imports pathlib",
        "strategy_abm.engine.rules:2 imports mesa",
        "strategy_abm.scenario.config:3 imports pandas",
    ]


def test_a_module_outside_the_layers_is_refused():
    with pytest.raises(AssertionError, match="has no layer"):
        layer_of("strategy_abm.workshop.tournament")
    with pytest.raises(AssertionError, match="top-level module with no layer"):
        layer_of("strategy_abm.helpers")


def test_lab_and_classroom_apart():
    """The lab and the classroom are siblings at the top: neither imports the other."""
    graph = package_graph()
    crossing = [
        f"{mod} imports {target}"
        for mod, targets in graph.items()
        for target, _ in targets
        for a, b in (("lab", "classroom"), ("classroom", "lab"))
        if mod.startswith(f"{PACKAGE}.{a}") and target.startswith(f"{PACKAGE}.{b}")
    ]
    assert not crossing, crossing
