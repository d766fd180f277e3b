"""Golden outputs: games recorded before the engine was restructured must be reproduced bit for
bit (``model.csv``, ``actors.csv``, ``events.csv``). A deliberate change of results re-records
them with ``tests/golden/make_goldens.py`` in a commit of its own that says why."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("make_goldens", GOLDEN / "make_goldens.py")
make_goldens = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_goldens)


@pytest.mark.parametrize("compiled", [True, False], ids=["kernels", "python-strategies"])
@pytest.mark.parametrize("name", list(make_goldens.GAMES))
def test_game_reproduces_its_golden_outputs(name, compiled):
    """Each game, its strategies deciding in compiled code (as ``run`` plays them) and by their
    Python classes: the same bytes."""
    played = make_goldens.game_csvs(make_goldens.GAMES[name], compiled=compiled)
    for file, data in played.items():
        golden = gzip.decompress((GOLDEN / name / f"{file}.gz").read_bytes())
        if data != golden:
            lines = [(i, a, b) for i, (a, b) in enumerate(zip(data.splitlines(), golden.splitlines(), strict=False))
                     if a != b]  # fmt: skip
            first = lines[0] if lines else (None, b"(length differs)", b"")
            pytest.fail(f"{name}/{file} differs from its golden output, first at line {first[0]}:\n"
                        f"  now:    {first[1][:300]!r}\n  golden: {first[2][:300]!r}")  # fmt: skip
