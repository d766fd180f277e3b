# Two commands on a fresh machine with Python 3.11:
#   make run    creates .venv, installs strategy_abm, plays the baseline game, writes runs/baseline_seed0/
#   make test   same environment plus test tools, runs the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean calibration sobol validation

$(VENV)/.installed-run: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "strategy_abm needs Python 3.11 (set PYTHON=...)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/strategy-abm run baseline --seed 0

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(VENV)/.installed-run
	$(BIN)/python benchmarks/bench_game.py
	$(BIN)/python benchmarks/bench_sweep.py

# The calibration and the Sobol experiment depend on the rules: re-run after changing them.
calibration: $(VENV)/.installed-run
	rm -rf runs/calibration
	$(BIN)/strategy-abm calibrate history_match --out runs/calibration --workers 2 --quiet
	mkdir -p configs/calibration
	cp runs/calibration/plausible.csv runs/calibration/plausible.toml runs/calibration/waves.csv \
	   runs/calibration/robustness.csv runs/calibration/robustness.md configs/calibration/

# docs/validation.md: patterns and out-of-sample checks over 30 seeds, and the calibration's
# sections read from configs/calibration/robustness.md (the stored calibration, not a copy).
validation: calibration
	$(BIN)/strategy-abm validation-report --seeds 30 --out docs

sobol: $(VENV)/.installed-run
	$(BIN)/strategy-abm sweep assumptions_sobol --workers 2 --quiet --out runs/sweeps/assumptions_sobol
	$(BIN)/strategy-abm sensitivity runs/sweeps/assumptions_sobol

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
