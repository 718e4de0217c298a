# Two commands on a fresh machine: `make demo` and `make test`. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_BOTS ?= 3
WEB_CONCURRENCY ?= 2
WEB_THREADS ?= 4

.PHONY: demo test lint docs docs-serve docs-shots serve migrate clean mutation bench bench-smoke replica replica-stop

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $@

# The demo's escalation emails go to files in demo-mail/, not into its output.
DEMO_MAIL = EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend EMAIL_FILE_PATH=demo-mail

## make demo: install, migrate the SQLite default, seed demo data with an admin user, and
## serve on http://127.0.0.1:8000 with the scheduler and a few simulated bots running.
demo: $(VENV)/.installed
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 BASE_URL=http://$(HOST):$(PORT) $(DEMO_MAIL) $(PY) manage.py seed_demo --with-admin
	DEBUG=1 $(DEMO_MAIL) $(PY) manage.py run_demo --host $(HOST) --port $(PORT) --bots $(DEMO_BOTS)

## make serve: the production web server. Migrates, collects static files, and runs gunicorn on
## HOST:PORT with WEB_CONCURRENCY worker processes of WEB_THREADS threads each (gthread: a slow
## client holds a thread, not a whole worker, and database connections live CONN_MAX_AGE).
## Needs SECRET_KEY and ALLOWED_HOSTS, and DATABASE_URL for PostgreSQL; see docs/operators.md.
## With PROMETHEUS_MULTIPROC_DIR set, the metric files of processes that are gone are removed
## first (those of a running scheduler stay). GUNICORN_CMD_ARGS adds gunicorn options.
## Migrations run without DB_STATEMENT_TIMEOUT: an index on a big table takes longer.
serve: $(VENV)/.installed
	DB_STATEMENT_TIMEOUT=0 $(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@if [ -n "$$PROMETHEUS_MULTIPROC_DIR" ]; then \
	    mkdir -p "$$PROMETHEUS_MULTIPROC_DIR"; \
	    for file in "$$PROMETHEUS_MULTIPROC_DIR"/*.db; do \
	        [ -e "$$file" ] || continue; \
	        pid=$${file##*_}; pid=$${pid%.db}; \
	        kill -0 "$$pid" 2>/dev/null || rm -f "$$file"; \
	    done; \
	fi
	exec $(VENV)/bin/gunicorn config.wsgi:application --bind $(HOST):$(PORT) \
	    --workers $(WEB_CONCURRENCY) --worker-class gthread --threads $(WEB_THREADS)

## make test: install the dev extra and run the whole suite (SQLite, or DATABASE_URL).
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

## make lint: ruff, and the import contracts (the floors in docs/architecture.md) with lint-imports.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

## make docs: the documentation site (mkdocs.yml, docs/) built into site/ with --strict: a broken
## link or anchor, or anything a page would fetch from another host, fails it. The settings,
## command and status machine pages are generated from the code at each build.
## make docs-serve: the same on http://HOST:8001 with live reload.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict --dev-addr $(HOST):8001

## make docs-shots: the guides' pictures (docs/*.png) taken again by the browser tests.
docs-shots: $(VENV)/.installed
	DOCS_SHOTS=1 REQUIRE_BROWSER=1 $(PY) -m pytest -q tests/reviews/admin/test_in_browser.py tests/reviews/admin/test_incidents_in_browser.py tests/reviews/admin/test_live_in_browser.py

## make mutation: not part of CI. Mutants of the core modules (scripts/mutation.py), each run
## against the tests that cover its module; prints the mutants the tests let pass and the score.
## Incremental: outcomes are kept in .mutation/ and a rerun tries only the mutants of changed
## functions (and the survivors after a test changed). MUTATION_ARGS="--all --jobs 2" tries every
## one; "--module warmup/domain/policy.py --limit 20" narrows it; DATABASE_URL for PostgreSQL.
mutation: $(VENV)/.installed
	$(PY) scripts/mutation.py $(MUTATION_ARGS)

## make bench: the benchmarks against the fleet in DATABASE_URL's PostgreSQL database (built first
## with `python -m bench.fleet --accounts 200000` if it has none): a table of each figure beside
## its raw-SQL limit on stdout, JSON in bench/results/. BENCH_ARGS="--only tick_idle --repeat 3".
## make bench-smoke: a tiny fleet in a database of its own and one pass of each benchmark, then
## a few cycles of the bot hot path (beside pgbench), of the same over HTTP (gunicorn), of
## churn and an incident resolved from Chromium, each on a tiny fleet of its own, so the benchmarks cannot rot (CI runs it); its
## figures mean nothing, and any failure (or a double claim) fails it.
bench: $(VENV)/.installed
	@test -n "$$DATABASE_URL" || { echo "make bench needs DATABASE_URL (PostgreSQL)"; exit 2; }
	$(PY) -m bench.runner --has-fleet || $(PY) -m bench.fleet
	$(PY) -m bench.runner $(BENCH_ARGS)

bench-smoke: $(VENV)/.installed
	@test -n "$$DATABASE_URL" || { echo "make bench-smoke needs DATABASE_URL (PostgreSQL)"; exit 2; }
	$(PY) -m bench.runner --smoke
	$(PY) -m bench.hot_path --smoke $(if $(PGBOUNCER_PORT),--pgbouncer $(PGBOUNCER_PORT))
	$(PY) -m bench.http_path --smoke
	$(PY) -m bench.churn --smoke
	$(PY) -m bench.incident_browser --smoke

## make replica: a hot standby of the local PostgreSQL cluster on port 5433 (scripts/standby.sh),
## for DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:5433/<db>; make replica-stop ends it.
replica:
	scripts/standby.sh start 5433

replica-stop:
	scripts/standby.sh stop 5433

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm .pytest_cache .hypothesis site demo-mail
