# The two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# npm ci writes this file; it is newer than the lock file once the install is done.
NODE_STAMP := node_modules/.package-lock.json
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: run test lint venv chromium nginx alertmanager wrk bench bench-quick clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# Front-end packages (htmx) from the npm registry, served by Django's staticfiles: never a CDN.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# No REDIS_URL and nothing answering on 127.0.0.1:6379 (DEBUG on): run without Redis
# (WITHOUT_REDIS in config/settings.py: database cache, broker in files under var/celery/).
WITHOUT_REDIS ?= $(if $(REDIS_URL)$(filter false 0,$(DEBUG)),false,$(shell $(PYTHON) -c \
  "import socket; socket.create_connection(('127.0.0.1', 6379), 0.5)" 2>/dev/null && echo false || echo true))
RUN_ENV = DEBUG=$${DEBUG:-true} WITHOUT_REDIS=$(WITHOUT_REDIS)

# Web + celery worker + celery beat at http://127.0.0.1:8000 (SQLite by default).
run: $(STAMP) $(NODE_STAMP)
	@test "$(WITHOUT_REDIS)" = false || echo "No Redis: database cache, broker in var/celery/, flapping detection off"
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py createcachetable
	$(RUN_ENV) $(BIN)/python manage.py bootstrap_demo
	if [ "$${DEBUG:-true}" = false ]; then $(BIN)/python manage.py collectstatic --noinput >/dev/null; fi
	$(RUN_ENV) $(BIN)/honcho start -f Procfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Debian's Chromium for the browser tests (Playwright drives it; nothing is downloaded).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# Debian's nginx for the production-serving test (it runs its own nginx process; the
# system service is never started).
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null)

# Debian's wrk, the load generator of `make bench`.
wrk:
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

# Debian's Alertmanager, a real Opsgenie sender for the Opsgenie door's test (its own
# process; the system service is never started).
alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null)

# ruff, the import contracts (pyproject.toml) and the whole suite against PostgreSQL
# (DATABASE_URL) and Redis (REDIS_URL).
test: $(STAMP) $(NODE_STAMP) chromium nginx alertmanager
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vigil_test} \
	  $(BIN)/python -m pytest $(PYTEST_ARGS)

# Vigil (nginx + gunicorn as deployed) against the floor in ../shared/perf: bench/README.md.
bench: $(STAMP) nginx wrk
	$(BIN)/python bench/run.py

# New and dup triggers at 8 clients, two rounds: the check after each change.
bench-quick: $(STAMP) nginx wrk
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) var
