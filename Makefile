# Pelapak: `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CATALOGS := $(patsubst %.po,%.mo,$(wildcard locales/*/LC_MESSAGES/messages.po))

.PHONY: run test setup catalogs extract update-catalogs migrate lint typecheck bench bench-telegram bench-sync bench-broadcast clean

setup: $(STAMP) catalogs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

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

test: setup lint typecheck
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check flows bot tests bench
	$(BIN)/ruff format --check flows bot tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/photos.py

bench-telegram: setup
	$(BIN)/python bench/telegram_webhook.py

bench-sync: setup
	$(BIN)/python bench/sync.py

bench-broadcast: setup
	$(BIN)/python bench/broadcast.py

clean:
	rm -rf $(VENV) locales/*/LC_MESSAGES/*.mo
