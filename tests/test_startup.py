"""The fixed cost of a command: what it imports. A sweep on the bulk path needs neither Mesa (the
per-turn shell) nor pandas (read back only for the summary), which take about half a second to
import; the public names that need them are imported on first use (PEP 562)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import strategy_abm
from strategy_abm.experiments.experiment import experiments_dir

SMOKE = experiments_dir() / "smoke.toml"
HEAVY = ("mesa", "pandas", "scipy.spatial", "matplotlib", "dask", "distributed", "SALib")


def _modules_after(code: str, cwd: Path) -> dict:
    """Run ``code`` in a fresh interpreter; returns ``{"heavy": [...], "out": ...}``: which of
    :data:`HEAVY` it imported, and what ``code`` left in the variable ``out``."""
    report = f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], 'out': out}}))"
    script = f"import json, sys\nout = None\n{code}\n{report}"
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_quiet_sweep_on_the_bulk_path_imports_no_mesa_nor_pandas(tmp_path):
    code = f"from strategy_abm.cli import main\nout = main(['sweep', {str(SMOKE)!r}, '--quiet', '--out', 'sw'])\n"
    found = _modules_after(code, tmp_path)
    assert found == {"heavy": ["pandas"], "out": 0}
    # and what it wrote reads back whole (pandas is imported then, by the reader)
    results = strategy_abm.load_results(tmp_path / "sw")
    assert len(results) == 6 and sorted(results["point"].tolist()) == [0, 0, 0, 1, 1, 1]


def test_importing_the_package_imports_no_mesa_nor_pandas(tmp_path):
    found = _modules_after("import strategy_abm, strategy_abm.cli\nout = strategy_abm.__version__", tmp_path)
    assert found == {"heavy": [], "out": strategy_abm.__version__}


def test_lazy_public_names_are_the_modules_own(tmp_path):
    from strategy_abm.experiments import results
    from strategy_abm.sim.model import CompetitionModel

    assert strategy_abm.CompetitionModel is CompetitionModel
    for name in ("load_results", "load_series", "load_failures", "load_manifest"):
        assert getattr(strategy_abm, name) is getattr(results, name)
    assert set(strategy_abm.__all__) <= set(dir(strategy_abm))
    # `from strategy_abm import *` gives every public name, the lazy ones too
    code = "ns = {}\nexec('from strategy_abm import *', ns)\nout = sorted(k for k in ns if k != '__builtins__')"
    found = _modules_after(code, tmp_path)
    assert found["out"] == sorted(strategy_abm.__all__)
    assert "mesa" in found["heavy"]  # CompetitionModel asked for: Mesa is imported then


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'strategy_abm' has no attribute 'NoSuchThing'"):
        strategy_abm.NoSuchThing  # noqa: B018
