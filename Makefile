# The two commands a newcomer needs: `make demo` and `make test`. Each creates/reuses .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
QC := $(VENV)/bin/qc
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 1

.PHONY: install demo serve test bench lint clean screenshots

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, with plain pip: it takes the CPU wheel on local disk (see ../shared/ENVIRONMENT.md)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(QC) demo

serve: install
	$(QC) serve

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m bench

screenshots: install
	$(PY) tools/screenshots.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy qc_service/rules qc_service/audio qc_service/nlp crm_bridge
	$(VENV)/bin/lint-imports

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
