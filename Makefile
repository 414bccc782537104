# Everything starts from a fresh clone with only Python 3.11, make and git.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help setup run test lint bench clean

help:
	@echo "make run    set up and run the product on its embedded default (SQLite, no broker server)"
	@echo "make test   set up and run the whole test suite"
	@echo "make bench  benchmarks (set DATABASE_URL for PostgreSQL)"
	@echo "make lint   ruff"
	@echo "make clean  remove the virtualenv, the local database and var/"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_periodic_tasks
	bin/run-dev

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Benchmarks print figures (every target in the README's Benchmarks section); they need
# PostgreSQL (DATABASE_URL) and, for the Celery workers and payouts, Redis (CELERY_BROKER_URL).
# BENCH_KEEP=1 keeps the million-row data between runs; results go to benchmarks/results/.
bench: setup
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "make bench needs PostgreSQL: set DATABASE_URL=postgres://…"; exit 2 ;; esac
	cd benchmarks && ../$(PY) orders_page.py --json results/orders.json
	cd benchmarks && ../$(PY) load_pages.py
	cd benchmarks && ../$(PY) billing_charges.py
	cd benchmarks && ../$(PY) payouts_run.py --earnings 1000000 --sellers 10000 --json results/payouts_1000000.json
	cd benchmarks && ../$(PY) payouts_run.py --json results/payouts_3000000.json
	cd benchmarks && ../$(PY) chart.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var db.sqlite3
