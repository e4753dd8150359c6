# Two commands for users: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.restock-installed
DEMO_FEED ?= var/demo_feed
DEMO_WAREHOUSE ?= var/demo/restock.duckdb
export DO_NOT_TRACK := 1
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home
export UV_COMPILE_BYTECODE := 1

.PHONY: env run test lint lock dev clean

env: $(STAMP)

# The lock file pins every package so every machine installs the same versions.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@mkdir -p $(DAGSTER_HOME)
	@cp pipelines/instance/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	@touch $(STAMP)

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

# `restock run` (the nightly) then `restock replay` (the weekly replay job, here at once so the
# first report has its headline), both recorded on the instance in DAGSTER_HOME that `make dev`
# shows.
run: env
	@mkdir -p $(dir $(DEMO_WAREHOUSE)) $(DAGSTER_HOME)
	@cp pipelines/instance/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	@test -f $(DEMO_FEED)/products.csv || $(BIN)/restock demo --out $(DEMO_FEED)
	$(BIN)/restock run --feed $(DEMO_FEED) --warehouse $(DEMO_WAREHOUSE)
	$(BIN)/restock replay --warehouse $(DEMO_WAREHOUSE)

test: env
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: env
	$(BIN)/ruff check .

# The Dagster UI on the demo feed; override RESTOCK_FEED / RESTOCK_WAREHOUSE / RESTOCK_CONFIG.
dev: env
	@test -f $(DEMO_FEED)/products.csv || $(BIN)/restock demo --out $(DEMO_FEED)
	@cp pipelines/instance/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	RESTOCK_FEED=$${RESTOCK_FEED:-$(CURDIR)/$(DEMO_FEED)} \
	RESTOCK_WAREHOUSE=$${RESTOCK_WAREHOUSE:-$(CURDIR)/$(DEMO_WAREHOUSE)} \
	RESTOCK_AS_OF=$${RESTOCK_AS_OF:-} RESTOCK_CONFIG=$${RESTOCK_CONFIG:-} \
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf var dbt_project/target dbt_project/logs
