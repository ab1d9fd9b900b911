# Two commands: `make run` (set up, demo data, serve on :8000) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint format messages worker beat bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/  (log in with the credentials above; API docs at /api/v1/docs/)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The suite needs a secret key only when DATABASE_URL selects production mode.
test: export SECRET_KEY ?= test-suite-secret-key-not-for-production-0123456789
test: install lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest --create-db $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Collect the UI's strings of every app into annotations/locale, then compile them.
messages: install
	$(BIN)/python manage.py makemessages -l ko --no-obsolete -i '.venv/*' -i 'tests/*' -i 'bench/*' -i 'staticfiles/*' -i 'media/*'
	$(BIN)/python manage.py compilemessages -l ko -i .venv

worker: install
	$(BIN)/celery -A feedback_site worker --loglevel=INFO

beat: install
	$(BIN)/celery -A feedback_site beat --loglevel=INFO

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) staticfiles test-db.sqlite3*
