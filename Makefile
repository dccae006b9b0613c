# genq: `make demo` sets everything up and runs the embedded default study;
# `make test` sets up and runs the default test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch and torchvision pinned together: the pair that installs offline on the project machines.
	$(PY) -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The embedded default study: W8A8 PTQ of the digits DCGAN and DDPM, FP measured alongside.
demo: install
	$(VENV)/bin/genq -m model=dcgan_digits,ddpm_digits quant=w8a8 hydra.sweep.dir=outputs/demo
	$(PY) -m genq.report.summary outputs/demo

# Two pytest-xdist workers: the suite is ~13 min on one core of the 2-core project machines
# and ~7 min on two (each test pins torch to one thread, conftest.py). TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS)

test-slow: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m slow

clean:
	rm -rf outputs multirun wandb .pytest_cache
