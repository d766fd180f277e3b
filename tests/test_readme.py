"""The README's Python API examples run as written (the turn contract, the bulk path, the Mesa shell).

Every ```python block of the "Python API" section is executed in order, in one namespace (later
blocks use names of earlier ones), in a temporary working folder (an example writes a run folder).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def api_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Python API\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_the_readme_python_api_examples_run(tmp_path, monkeypatch):
    blocks = api_blocks()
    assert len(blocks) >= 4 and any("BulkPlan" in b for b in blocks) and any("game.waiting()" in b for b in blocks)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README's own examples
    game, report, rows = namespace["game"], namespace["report"], namespace["rows"]
    # The contract example submitted the US's offers every turn; the others' strategies decided.
    assert report.decided_by["us"] == "submitted" and report.decided_by["china"] == "strategy"
    assert "refused by its strategy (multi_vector)" in printed.getvalue()  # the reason the example's comment quotes
    # The last block built a new game and submitted the US's offers of its first turn.
    assert game.turn == 1 and game.phase == "offers" and "us" not in game.waiting()
    assert sorted(rows) == [0, 20, 40] and 0.0 < rows[40]["influence_china"] < 1.0
    assert (tmp_path / "runs" / "example" / "model.csv").is_file()
