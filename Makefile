# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run    creates .venv, installs, starts the dashboard on http://localhost:8501
#   make test   creates .venv, installs the test tools, runs the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test lint bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@# numba compiles gmmcore's small-data kernels once per machine (gmmcore/engine/compiled.py):
	@# a tiny grid now, so that the dashboard's first fit does not wait for it (~10 s).
	$(PY) -c "import numpy as np; from gmmcore.selection import model_grid; \
	X = np.random.default_rng(0).normal(size=(60, 2)); model_grid(X, n_components=[1, 2, 3]); \
	model_grid(X[:, :1], n_components=[1, 2])"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true

test: $(VENV)/.installed-dev
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.installed-dev
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
