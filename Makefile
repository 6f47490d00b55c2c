# ShopCare assistant. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
RASA   := $(VENV)/bin/rasa
STAMP  := $(VENV)/.installed
# schemathesis and pip-audit need newer jsonschema/pytest/anyio/packaging than Rasa 3.6 allows: their own venv
TOOLS       := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 3
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONPATH := $(CURDIR)

# Rasa 3.6 supports Python 3.8-3.10 only: find a python3.10 on PATH (pyenv's shim answers thanks to
# .python-version), then in pyenv's versions.
PYTHON310 ?= $(shell for c in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then command -v $$c; break; fi; done)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.in requirements.lock pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then \
		echo "error: Python 3.10 is required (Rasa 3.6 supports 3.8-3.10) and none was found."; \
		echo "  install it with pyenv:  pyenv install 3.10.13   (this repo's .python-version names it)"; \
		echo "  or with apt:            apt-get install python3.10 python3.10-venv"; \
		echo "  or point to one:        make PYTHON310=/path/to/python3.10 ..."; exit 1; fi
	@echo "[venv] creating $(VENV) from $(PYTHON310)"
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	@$(PIP) install --progress-bar on -q --upgrade "pip<25"
	@echo "[venv] installing pinned dependencies (requirements.lock); the first time takes 2-3 minutes ..."
	$(PIP) install --progress-bar on -r requirements.in -c requirements.lock
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## create .venv with the pinned dependencies

WIDGET_JS  := widget/dist/shopcare-widget.js
WIDGET_SRC := $(wildcard widget/src/*.js) widget/package.json widget/package-lock.json

# npm ci + esbuild, only when a source is newer than the build (the CRM serves it at /widget/shopcare-widget.js)
$(WIDGET_JS): $(WIDGET_SRC)
	@command -v npm >/dev/null 2>&1 || { echo "error: npm (Node.js 18+) is needed to build the chat widget:"; \
		echo "  apt-get install nodejs npm"; exit 1; }
	cd widget && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	@touch $(WIDGET_JS)

.PHONY: widget
widget: $(WIDGET_JS) ## build the web chat widget (widget/ -> widget/dist/shopcare-widget.js)

$(TOOLS_STAMP): requirements-tools.lock
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 is required (see 'make venv')"; exit 1; }
	@test -x $(TOOLS)/bin/python || $(PYTHON310) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --upgrade "pip<25"
	$(TOOLS)/bin/pip install -q -r requirements-tools.lock
	@touch $(TOOLS_STAMP)

.PHONY: tools
tools: $(TOOLS_STAMP) ## create .venv-tools (schemathesis, pip-audit; pinned in requirements-tools.lock)

.PHONY: db
db: venv ## migrate the CRM database and seed it if empty (var/crm.db)
	CRM_ENV=$${CRM_ENV:-development} $(VENV)/bin/crm init
	CRM_ENV=$${CRM_ENV:-development} $(VENV)/bin/crm seed-if-empty --customers $${SEED_CUSTOMERS:-300}

.PHONY: models
models: venv ## train what models/ lacks for the current data/config (fingerprinted)
	$(PY) scripts/stack.py train

.PHONY: run
run: venv widget ## set up everything and run CRM + action server + Rasa server (Ctrl-C stops)
	$(PY) scripts/stack.py run

.PHONY: run-scaled
run-scaled: venv ## the scaled profile: 2 Rasa + 2 action servers + CRM behind nginx, on PostgreSQL/Redis/RabbitMQ
	$(PY) scripts/scaled.py run

.PHONY: test
test: venv models widget tools ## the whole test suite (unit, CRM, actions, conversations, end to end, browser)
	@scripts/system_deps.sh
	$(PY) -m pytest

.PHONY: test-fast
test-fast: venv models ## unit tests but the slow ones: no browser, scaled profile, live stack or model evaluation
	$(PY) -m pytest -m "unit and not slow" -n 2 --dist loadfile

.PHONY: lint
lint: venv tools ## ruff (lint + format check), mypy and the dependency audit (pip-audit)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) scripts/audit.py

.PHONY: audit
audit: tools ## pip-audit over requirements.lock (AUDIT_STRICT=1: fail when packages could not be looked up)
	$(PY) scripts/audit.py

.PHONY: bench
bench: venv models ## NLU quality and latency benchmarks (figures go to docs/benchmarks.md)
	$(PY) bench/nlu_eval.py --test ../shared/datasets/bitext_customer_support/validation.csv
	$(PY) bench/nlu_eval.py --test tests/data/nlu_natural_dev.yml
	$(PY) bench/latency.py

.PHONY: clean
clean: ## remove generated state (database, logs, trained models, built widget), keep the venvs
	rm -rf var results .rasa models/*.tar.gz models/*.fingerprint widget/dist
