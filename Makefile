# Pelapak: `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CATALOGS := $(patsubst %.po,%.mo,$(wildcard locales/*/LC_MESSAGES/messages.po))

.PHONY: run test fuzz setup lock catalogs extract update-catalogs migrate lint typecheck bench bench-telegram bench-hot-path bench-inbox bench-sync bench-broadcast bench-dashboard clean

setup: $(STAMP) catalogs

# The exact versions come from requirements.lock (what CI and every machine install); the
# project itself goes on top without touching them.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Regenerate requirements.lock from pyproject.toml (runtime and dev dependencies) with uv,
# kept in a scratch virtualenv of its own; pins already in the lock stay unless pyproject.toml
# rules them out (`make lock UPGRADE=--upgrade` takes the newest of everything). Then
# `make setup` installs the new pins.
LOCK_VENV := .venv-lock
UV_VERSION := 0.13.8
UPGRADE ?=
lock:
	test -x $(LOCK_VENV)/bin/uv || ($(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/pip install --quiet uv==$(UV_VERSION))
	$(LOCK_VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--custom-compile-command "make lock" $(UPGRADE) -o requirements.lock

catalogs: $(CATALOGS)

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -d locales -D messages -l $*

extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k t -k N_ --no-location --sort-output \
		--project=pelapak -o locales/messages.pot .

update-catalogs: extract
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete

migrate: setup
	$(BIN)/pelapak db upgrade

run: setup migrate
	$(BIN)/pelapak run

# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): each
# of the suite's ~60 `pelapak` subprocesses and 4 workers would compile the project and
# rewrite the tests again, about 20 core-seconds a run.
test: setup lint typecheck
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n 4

# Deeper fuzzing by hand: new adversarial messages every run, 25x as many as `make test` sends
# at every step of every flow (about 6 minutes on 2 cores).
FUZZ_EXAMPLES ?= 1000
fuzz: setup
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n 4 \
		tests/test_fuzz_flows.py

lint: $(STAMP)
	$(BIN)/ruff check flows bot tests bench
	$(BIN)/ruff format --check flows bot tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/photos.py

# About 8 minutes for 200 owners; BENCH_ARGS="--owners 50 --latency 0" for less,
# "--repeat 3" for ranges, "--py-spy PATH" to profile the servers while they are loaded.
BENCH_ARGS ?=
bench-telegram: setup
	$(BIN)/python bench/telegram_webhook.py $(BENCH_ARGS)

bench-hot-path: setup
	$(BIN)/python bench/hot_path.py $(BENCH_ARGS)

# The inbox's reads with a million processed updates stored (BENCH_ARGS="--database postgres").
bench-inbox: setup
	$(BIN)/python bench/inbox_reads.py $(BENCH_ARGS)

bench-sync: setup
	$(BIN)/python bench/sync.py

bench-broadcast: setup
	$(BIN)/python bench/broadcast.py

bench-dashboard: setup
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) locales/*/LC_MESSAGES/*.mo
