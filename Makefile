# Fulfil — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fulfil
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test lint fmt bench migrate demo worker chromium clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --progress-bar on -e ".[dev]"
	@touch $(STAMP)

migrate: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput

demo: migrate
	DEBUG=1 $(BIN)/python manage.py loaddemo

run: demo
	@echo ""
	@echo "  Fulfil is running at http://127.0.0.1:8000"
	@echo "  Merchant logins:  owner@acme.example / fulfil-demo   owner@globex.example / fulfil-demo"
	@echo "  Warehouse:        associate@fulfil.example / fulfil-demo   manager@fulfil.example / fulfil-demo"
	@echo "  Admin:            admin@fulfil.example / fulfil-demo   (http://127.0.0.1:8000/admin/)"
	@echo ""
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# As in production, a worker per queue: `inbox` (webhook orders into the book), `orders` (their processing) and the
# default queue (outbox handlers, polls, beat), so outbox work never delays an import or an allocation. Processing
# and outbox handlers run at a lower CPU priority (nice 10): in a burst the intake and the drain come first, the
# rest catches up after.
worker: install
	$(BIN)/celery -A fulfil worker -Q inbox -c 2 -n inbox@%h -l info & inbox=$$!; \
	nice -n 10 $(BIN)/celery -A fulfil worker -Q orders -n orders@%h -l info & orders=$$!; \
	trap 'kill $$inbox $$orders 2>/dev/null' EXIT; \
	nice -n 10 $(BIN)/celery -A fulfil worker -B -Q celery -n main@%h -l info

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
	  echo "Installing Chromium for the browser tests (Debian package)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
	  echo "WARNING: could not install chromium; browser tests will be skipped"; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DATABASE_URL= REDIS_URL= $(BIN)/python manage.py makemigrations --check --dry-run

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest's exit code 5 ("no tests collected", e.g. PYTEST_ARGS selecting nothing) is not a failure.
test: install chromium lint
	@DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  $(BIN)/pytest -n 2 --dist loadgroup --durations=15 $(PYTEST_ARGS); \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

bench: install
	@for b in bench/*.py; do \
	  case $$b in */_*) continue;; esac; \
	  DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fulfil_bench} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	    $(BIN)/python $$b || exit 1; \
	done

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
