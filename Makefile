# skillrelay — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RALPH_VENV := .venv-ralph
RALPH_VERSION := 5.1.0

.PHONY: demo test lint typecheck pytest peers bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

# Ralph (a real xAPI LRS) lives in its own venv: it pins its own FastAPI/pydantic stack.
$(RALPH_VENV)/.installed:
	test -x $(RALPH_VENV)/bin/python || $(PYTHON) -m venv $(RALPH_VENV)
	$(RALPH_VENV)/bin/python -m pip install --quiet 'ralph-malph[cli,lrs]==$(RALPH_VERSION)' requests
	touch $@

# Debian packages the tests start or call, installed when missing: PostgreSQL 15 (store
# tests), Chromium (browser tests through Playwright), poppler-utils (pdftoppm checks PDF
# pages), Pango and DejaVu fonts (WeasyPrint lays out PDFs, Cyrillic included).
peers: $(RALPH_VENV)/.installed
	@missing=""; \
	{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	ldconfig -p | grep -q libpangoft2-1.0.so.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

demo: $(VENV)/.installed $(RALPH_VENV)/.installed
	$(VENV)/bin/skillrelay demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# Test files run on $(TEST_WORKERS) worker processes, each file whole on one worker (its module
# fixtures start once); every worker starts its own PostgreSQL, Ralph and Chromium.
TEST_WORKERS ?= 2

pytest: $(VENV)/.installed peers
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile

test: lint typecheck pytest

bench: $(VENV)/.installed peers
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(RALPH_VENV) .peers .mypy_cache .ruff_cache .pytest_cache
