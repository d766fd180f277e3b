"""Out-of-sample checks (issue 8, item 8): the game against every dated observation of
configs/observations.toml, one test per observation, the median over SEEDS of the bulk path.

A known miss is an expected failure with its reason (strict: when the model comes to meet it,
the test fails so that the ``known_miss`` line is removed); a miss is never hidden by a wider
tolerance. An observation no run can be compared with is skipped with its ``not_modelled``
reason. `strategy-abm validation-report` writes the same comparisons to docs/validation.md.
"""

from __future__ import annotations

import pytest

from strategy_abm.experiments.observations import evaluate, load_observations

SEEDS = range(30)
OBSERVATIONS = load_observations()


def _param(obs):
    marks = []
    if obs.known_miss:
        marks.append(pytest.mark.xfail(strict=True, reason=obs.known_miss))
    return pytest.param(obs, id=obs.id, marks=marks)


@pytest.fixture(scope="module")
def comparisons():
    """Every modelled observation against the game, one play of each scenario per seed."""
    return {c.observation.id: c for c in evaluate(OBSERVATIONS, SEEDS)}


@pytest.mark.parametrize("obs", [_param(o) for o in OBSERVATIONS])
def test_observation(obs, comparisons, pattern_ranges):
    """The seed median of the game's value is within the observation's tolerance."""
    if not obs.modelled:
        pytest.skip(f"not modelled: {obs.not_modelled}")
    c = comparisons[obs.id]
    pattern_ranges.record(f"observation {obs.id}", c.values, f"{obs.value:g} +- {obs.tolerance:g}", c.hit)
    assert len(c.values) == len(SEEDS)
    assert c.hit, (
        f"{obs.what}, {obs.date}: model median {c.median:.4g} (range {c.values.min():.4g}-{c.values.max():.4g}) "
        f"vs observed {obs.value:g} +- {obs.tolerance:g}"
    )


def test_validation_report_writes_the_page_and_figures(tmp_path, capsys):
    """`strategy-abm validation-report` writes validation.md with every observation and pattern,
    and the figures it links (two seeds: the content, not the numbers, is checked here)."""
    from strategy_abm.cli import main

    # The calibration's sections come from its stored robustness.md (here one section only: the
    # other keeps its pointer).
    stored = tmp_path / "cal"
    stored.mkdir()
    (stored / "robustness.md").write_text("## Calibration method and ranges\n\nCALIBRATION SECTION\n")
    args = ["validation-report", "--seeds", "2", "--out", str(tmp_path), "--calibration", str(stored)]
    assert main(args) == 0
    text = (tmp_path / "validation.md").read_text()
    for obs in OBSERVATIONS:
        assert obs.what.replace("|", "/") in text, obs.id
    after = text.split("## Calibration method and ranges")[1]
    method, robustness = after.split("## Robustness of each doctrine comparison")
    assert method.strip() == "CALIBRATION SECTION"
    assert "the doctrine comparisons re-run across the plausible set" in robustness
    for figure in ("img/validation_baseline.png", "img/validation_hindcast_2022.png"):
        assert f"]({figure})" in text and (tmp_path / figure).stat().st_size > 0
    assert main(["validation-report", "--seeds", "0"]) == 2  # bad input: one line, exit 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["validation-report", "--calibration", str(tmp_path / "nowhere")]) == 2
    assert "--calibration" in capsys.readouterr().err


def test_the_report_reads_the_stored_calibration_sections():
    """docs/validation.md's calibration sections are configs/calibration/robustness.md's own."""
    from strategy_abm.experiments.validation import CALIBRATION_SECTIONS, calibration_dir, calibration_sections

    text = (calibration_dir() / "robustness.md").read_text()
    sections = calibration_sections()
    assert list(sections) == list(CALIBRATION_SECTIONS)
    for heading, body in sections.items():
        assert f"## {heading}" in text and body in text and body != CALIBRATION_SECTIONS[heading]
