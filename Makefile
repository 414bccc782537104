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

# Benchmarks print figures; set DATABASE_URL to run them on PostgreSQL.
bench: setup
	cd benchmarks && ../$(PY) orders_page.py
	@case "$$DATABASE_URL" in postgres*) cd benchmarks && ../$(PY) billing_charges.py && ../$(PY) payouts_run.py ;; \
	  *) echo "billing_charges.py and payouts_run.py skipped: they need PostgreSQL (set DATABASE_URL)" ;; esac

# The README's screenshots, from seed_demo data in a throwaway database (needs Chromium).
screenshots: setup
	$(PY) bin/readme-screenshots

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var db.sqlite3
