# Everything starts from a fresh clone with only Python 3.11, make and git.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help setup run test lint bench clean screenshots

help:
	@echo "make run    set up and run the product on its embedded default (SQLite, no broker server)"
	@echo "make test   set up and run the whole test suite"
	@echo "make bench  benchmarks (set DATABASE_URL for PostgreSQL)"
	@echo "make lint   ruff"
	@echo "make screenshots  the README's screenshots, from the demo data (needs Chromium)"
	@echo "make clean  remove the virtualenv, the local database and var/"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

# axe-core for the accessibility browser tests, from npm when npm is there. Without npm
# those tests are skipped with the reason (REQUIRE_REAL_SERVICES=1, as CI sets, fails them).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	  else echo "npm not found: the accessibility checks (axe-core) will be skipped"; fi

setup: $(VENV)/.installed

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_periodic_tasks
	bin/run-dev

test: setup node_modules/.installed
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
	cd benchmarks && ../$(PY) payouts_run.py --admin-lists --json results/payouts_3000000.json
	cd benchmarks && ../$(PY) chart.py

# The README's screenshots, from seed_demo data in a throwaway database (needs Chromium).
screenshots: setup
	$(PY) bin/readme-screenshots

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var db.sqlite3
