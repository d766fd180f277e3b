"""The fixed cost of a command: what it imports. A sweep on the bulk path needs neither Mesa (the
per-turn shell) nor pandas (read back only for the summary), which take about half a second to
import, nor scipy.linalg (numba's BLAS probe, skipped by the program), nor PyYAML (numba reads no
config file) nor CFFI (numba's typing of CFFI functions, skipped by the program); the public names
that need them are imported on first use (PEP 562)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategy_abm
from strategy_abm.experiments.experiment import experiments_dir

SMOKE = experiments_dir() / "smoke.toml"
HEAVY = ("mesa", "pandas", "scipy.linalg", "scipy.spatial", "matplotlib", "dask", "distributed", "SALib", "tqdm",
         "yaml", "cffi")  # fmt: skip


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
    assert found == {"heavy": [], "out": 0}
    # and what it wrote reads back whole (pandas is imported then, by the reader)
    results = strategy_abm.load_results(tmp_path / "sw")
    assert len(results) == 6 and sorted(results["point"].tolist()) == [0, 0, 0, 1, 1, 1]


def test_the_program_skips_collecting_at_exit_and_a_call_does_not(tmp_path, capsys):
    """Run as the program (``main()``, arguments from sys.argv), the command freezes what it
    holds (the interpreter's exit would spend a tenth of a second collecting it), and everything
    it wrote is whole; called with arguments (a test, a notebook), it leaves the collector alone."""
    import gc

    from strategy_abm.cli import main

    code = (
        "import gc\nfrom strategy_abm.cli import main\n"
        "sys.argv = ['strategy-abm', 'validate', 'baseline']\n"
        "out = [main(), gc.get_freeze_count() > 0]"
    )
    assert _modules_after(code, tmp_path) == {"heavy": [], "out": [0, True]}
    before = gc.get_freeze_count()
    assert main(["validate", "baseline"]) == 0
    assert gc.get_freeze_count() == before
    assert capsys.readouterr().out.startswith("ok: baseline")
    # the console script's sweep: every run stored, the manifest whole
    done = subprocess.run([sys.executable, "-m", "strategy_abm.cli", "sweep", str(SMOKE), "--quiet", "--out", "sw"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(strategy_abm.load_results(tmp_path / "sw")) == 6
    assert json.loads((tmp_path / "sw" / "manifest.json").read_text())["experiment_name"] == "smoke"


def test_numba_without_the_blas_probe_still_does_linear_algebra(tmp_path):
    """The program loads numba's array library without importing scipy.linalg; a function that
    uses BLAS or LAPACK, compiled afterwards, imports SciPy then and computes as usual."""
    code = (
        "import numpy as np, numba\nfrom strategy_abm._compiled import skip_blas_probe\nskip_blas_probe()\n"
        "before = 'scipy.linalg' in sys.modules\n"
        "f = numba.njit(lambda a, b: (np.dot(a, b), np.linalg.solve(a, b)))\n"
        "d, x = f(np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([1.0, 2.0]))\n"
        "out = [before, 'scipy.linalg' in sys.modules, d.tolist(), np.round(x, 12).tolist()]"
    )
    assert _modules_after(code, tmp_path)["out"] == [False, True, [4.0, 7.0], [0.2, 0.6]]


def test_a_two_worker_sweep_starts_no_process_but_its_workers(tmp_path):
    """Forked workers need no resource tracker (their semaphores have no names): none is started
    (a whole interpreter, and a process left running until the driver exits), and the workers
    are gone when the sweep returns."""
    code = (
        "import psutil\nfrom strategy_abm.cli import main\n"
        f"code = main(['sweep', {str(SMOKE)!r}, '--workers', '2', '--quiet', '--out', 'sw'])\n"
        "out = [code, [p.cmdline() for p in psutil.Process().children(recursive=True)]]"
    )
    assert _modules_after(code, tmp_path)["out"] == [0, []]
    assert len(strategy_abm.load_results(tmp_path / "sw")) == 6


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


# ---------------------------------------------------------------- Parquet parts without pandas


def _parquet_bytes(table) -> bytes:
    import io

    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _both(rows, schema):
    """(what arrow_table gives, what from_pylist gives): a table's Parquet bytes, or the error's type."""
    import pyarrow as pa

    from strategy_abm.experiments.results import arrow_table

    out = []
    for build in (arrow_table, lambda r, s: pa.Table.from_pylist(r, schema=s)):
        try:
            table = build(rows, schema)
        except Exception as exc:  # noqa: BLE001 - the same error either way is the point
            out.append(type(exc))
        else:
            assert table.schema == schema
            out.append(_parquet_bytes(table))
    return out


def test_parts_are_those_of_from_pylist_and_need_no_pandas(tmp_path):
    """The sweep's own rows: the same Parquet bytes as pyarrow's conversion gives, and pandas
    stays unimported (checked in a fresh interpreter)."""
    import numpy as np
    import pyarrow as pa

    schema = pa.schema([("key", pa.string()), ("point", pa.int64()), ("flag", pa.bool_()), ("x", pa.float64()),
                        ("name", pa.string())])  # fmt: skip
    rows = [
        {"key": "a1", "point": 0, "flag": True, "x": 0.1, "name": "bri_2"},
        {"key": "b2", "point": 3, "flag": False, "x": np.float64(-0.0), "name": "Kyrgyzstan – Бишкек"},
        {"key": "c3", "point": -(2**63), "flag": None, "x": float("nan"), "name": ""},
        {"key": "d4", "point": 2**63 - 1, "x": 7, "name": None},  # "flag" missing: null
        {"key": "e5", "point": 1, "flag": np.True_, "x": float("inf"), "name": "x" * 1000},
    ]
    built, reference = _both(rows, schema)
    assert isinstance(built, bytes) and built == reference
    assert _both([], schema)[0] == _both([], schema)[1]
    code = (
        "import pyarrow as pa\nfrom strategy_abm.experiments.results import arrow_table\n"
        "t = arrow_table([{'k': 'a', 'v': 1.5, 'n': 2, 'b': True}], pa.schema([('k', pa.string()), "
        "('v', pa.float64()), ('n', pa.int64()), ('b', pa.bool_())]))\nout = t.to_pylist()"
    )
    assert _modules_after(code, tmp_path) == {"heavy": [], "out": [{"k": "a", "v": 1.5, "n": 2, "b": True}]}


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["\ud800", "é", 2**53, 2**53 + 1, -(2**53) - 1]),
    st.builds(lambda x: __import__("numpy").float64(x), st.floats()),
    st.builds(lambda x: __import__("numpy").float32(x), st.floats(width=32)),
    st.builds(lambda x: __import__("numpy").int64(x), st.integers(-(2**63), 2**63 - 1)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["s", "i", "f", "b"]), _VALUES), max_size=6))
def test_any_rows_give_what_from_pylist_gives(rows):
    """Any values, of the column's type or not: the same table, or the same kind of error."""
    import pyarrow as pa

    schema = pa.schema([("s", pa.string()), ("i", pa.int64()), ("f", pa.float64()), ("b", pa.bool_())])
    built, reference = _both(rows, schema)
    assert built == reference


def test_numba_reads_its_config_file_when_there_is_one(tmp_path):
    """The package imports numba without PyYAML only when there is no ``.numba_config.yaml`` to
    read: with one in the working folder, numba reads it as usual."""
    (tmp_path / ".numba_config.yaml").write_text("COLOR_SCHEME: light_bg\n")
    code = "import strategy_abm, numba\nout = [numba.config.COLOR_SCHEME == 'light_bg', 'yaml' in sys.modules]"
    assert _modules_after(code, tmp_path)["out"] == [True, True]
    assert _modules_after("import strategy_abm\nout = 'yaml' in sys.modules", tmp_path.parent)["out"] is False


def test_the_program_freezes_what_its_imports_made_before_the_command_runs(tmp_path):
    """Run as the program, the command starts with the imports' objects frozen (the collections
    it triggers, and its forked workers', skip them); called with arguments, it does not."""
    code = (
        "import gc\nfrom strategy_abm import cli\nseen = []\n"
        "cli.COMMANDS['validate'] = lambda args: seen.append(gc.get_freeze_count()) or 0\n"
        "sys.argv = ['strategy-abm', 'validate', 'baseline']\n"
        "out = [cli.main(['validate', 'baseline']), cli.main()]\n"
        "out += [seen[0] == 0, seen[1] > 10000]"
    )
    assert _modules_after(code, tmp_path)["out"] == [0, 0, True, True]
