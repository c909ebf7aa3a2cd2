# Quickstart targets. `make demo` and `make test` create .venv on first use and
# reinstall only when setup.py or constraints.txt change.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean-venv

$(STAMP): setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q --no-deps denoiser==0.1.5
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m speechbrain_slim.demo

test: $(STAMP)
	$(PY) -m ruff check .
	OMP_NUM_THREADS=2 $(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

clean-venv:
	rm -rf $(VENV)
