# aioflowserv: `make demo` runs the main job, `make test` runs every check.
# Both set up everything they need on a fresh machine (Python 3.10+ and the package index).

PYTHON ?= python3
VENV := .venv
SERVER_VENV := .venv-server
PY := $(VENV)/bin/python
SERVER_PY := $(SERVER_VENV)/bin/python
# flowServ's server (the only versions that work together), then what the production
# shape needs (gunicorn over a PostgreSQL of its own): keep in step with testing.SERVER_PINS.
SERVER_PINS := flowserv-core==0.8.1 rob-flask==0.6.0 Flask==2.0.3 Werkzeug==2.0.3 \
	gunicorn==27.0.1 psycopg2-binary==2.9.13 pgserver==0.1.4
PIP_FLAGS := --quiet --disable-pip-version-check

# The tests, the demo and the benchmarks find the real server's interpreter here.
export AIOFLOWSERV_SERVER_PYTHON := $(abspath $(SERVER_PY))

.PHONY: test demo lint typecheck docs pytest bench install clean

test: lint typecheck docs pytest

demo: $(VENV)/.installed $(SERVER_VENV)/.installed
	$(PY) -m aioflowserv.cli demo

install: $(VENV)/.installed $(SERVER_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -e '.[cli]' --group dev
	touch $@

# Depends on this Makefile, so that an existing server venv gets new pins.
$(SERVER_VENV)/.installed: Makefile
	test -x $(SERVER_PY) || $(PYTHON) -m venv $(SERVER_VENV)
	$(SERVER_PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(SERVER_PY) -m pip install $(PIP_FLAGS) $(SERVER_PINS)
	touch $@

lint: $(VENV)/.installed
	$(PY) -m ruff check src tests benchmarks

typecheck: $(VENV)/.installed
	$(PY) -m mypy

# The API reference (mkdocs + material + mkdocstrings, from the docstrings), into site/.
# --strict: a broken reference (a missing object, a bad link) fails the build.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet --site-dir site

pytest: $(VENV)/.installed $(SERVER_VENV)/.installed
	$(PY) -m pytest -n 4 --durations=10

bench: $(VENV)/.installed $(SERVER_VENV)/.installed
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(SERVER_VENV) .mypy_cache .ruff_cache .pytest_cache site
