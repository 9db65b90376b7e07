# fraudlake — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: help install lint test demo bench handbook clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV) ## Create or update both Python environments from the locks (quick when present)
	$(UV) sync --frozen --quiet
	cd flink_jobs && ../$(UV) sync --frozen --quiet

lint: install ## ruff check, ruff format --check, mypy on src/
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

test: lint ## Install, lint, and run every test
	$(BIN)/pytest -q

demo: install ## Run the whole batch pipeline embedded (dvc repro) and show the results
	$(BIN)/dvc repro
	$(BIN)/fraudlake summary

bench: install ## Benchmarks: our engines against naive baselines, with ratios
	$(BIN)/python -m benchmarks

handbook: install ## Reproduce the Fraud Detection Handbook comparison (1.8M transactions)
	$(BIN)/fraudlake handbook

clean: ## Remove generated data, reports and embedded state (keeps the environments)
	rm -rf data/raw data/staging data/quarantine reports .fraudlake
