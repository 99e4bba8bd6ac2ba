# Kehu: `make run` sets everything up and serves the CRM; `make test` runs the whole suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run install test lint check messages clean

$(BIN)/kehu: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/kehu node_modules/.package-lock.json

run: install
	$(BIN)/kehu demo --if-empty
	$(BIN)/kehu serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src $(wildcard bench)
	$(BIN)/ruff format --check src $(wildcard bench)
	$(BIN)/mypy src
	cd src && ../$(BIN)/lint-imports --no-cache ../pyproject.toml
	$(BIN)/kehu manage makemigrations --check --dry-run

check: lint test

# Refresh the translation catalogues after changing strings (needs GNU gettext).
messages: install
	cd src/kehu && ../../$(BIN)/django-admin makemessages -l zh_Hans -l en --settings=kehu.settings \
		--ignore='*/tests/*' && ../../$(BIN)/django-admin compilemessages --settings=kehu.settings

clean:
	rm -rf $(VENV) node_modules
