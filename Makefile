# fraudlake — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
NATIVE := native/fraudlake_online_reads
# rustup's cargo, for the Rust extension uv builds at install (even where no shell profile ran)
export PATH := $(CURDIR)/$(BIN):$(HOME)/.cargo/bin:$(PATH)
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: help install lint test demo demo-drift demo-embedded down stack-down bench handbook clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV) ## Python environments from the locks (building the Rust extension), stack packages, Kafka and Flink jars (quick when present)
	@command -v cargo >/dev/null || { echo "install: cargo not found. fraudlake builds its Rust extension ($(NATIVE)) at install: install Rust 1.85 or later with rustup (https://rustup.rs), then run make again" >&2; exit 1; }
	$(UV) sync --frozen --quiet
	cd flink_jobs && ../$(UV) sync --frozen --quiet
	bash infra/install-system.sh
	bash infra/kafka/install.sh
	bash infra/flink/install.sh

lint: install ## ruff check, ruff format --check, mypy on src/; cargo fmt --check and clippy on the Rust extension
	$(BIN)/ruff check src tests benchmarks dags flink_jobs ray_serve
	$(BIN)/ruff format --check src tests benchmarks dags flink_jobs ray_serve
	$(BIN)/mypy src
	cargo fmt --check --manifest-path $(NATIVE)/Cargo.toml
	PYO3_PYTHON=$(CURDIR)/$(BIN)/python cargo clippy --quiet --locked --manifest-path $(NATIVE)/Cargo.toml -- -D warnings

test: lint ## Install, lint, and run every test
	$(BIN)/pytest -q --durations=25

demo: install ## The platform end to end: batch DAG to a champion, a day through Flink and the API, decisions and labels into the lake, monitoring, lineage
	$(BIN)/fraudlake stack up
	$(BIN)/fraudlake stack trigger fraud_batch_pipeline
	eval "$$($(BIN)/fraudlake stack env)" && $(BIN)/fraudlake summary
	$(BIN)/fraudlake stack flink submit
	eval "$$($(BIN)/fraudlake stack env)" && $(BIN)/fraudlake online load-profiles \
	  && $(BIN)/fraudlake replay --start labelled --rate 500 \
	  && sleep 5 && $(BIN)/fraudlake online stats
	$(BIN)/fraudlake stack flink status
	$(BIN)/fraudlake serve reload
	$(BIN)/fraudlake serve traffic --start labelled --rate 100
	eval "$$($(BIN)/fraudlake stack env)" && $(BIN)/fraudlake replay --labels-of labelled
	$(BIN)/fraudlake stack trigger fraud_stream_to_lake
	$(BIN)/fraudlake stack trigger fraud_monitoring
	eval "$$($(BIN)/fraudlake stack env)" \
	  && $(BIN)/fraudlake audit read audit.decisions --where decision=decline --limit 5 \
	       --columns transaction_id,amount,score,decision,model_version,reasons \
	  && $(BIN)/fraudlake audit lineage champion && $(BIN)/fraudlake summary
	$(BIN)/fraudlake stack status

demo-drift: install ## After `make demo`: the drift knob on — a drifted world, a challenger retrained on it meets the gate, monitoring says retrain
	$(BIN)/fraudlake stack trigger fraud_batch_pipeline \
	  --conf '{"overrides": {"simulate.drift.enabled": true}}'
	$(BIN)/fraudlake stack trigger fraud_monitoring
	$(BIN)/fraudlake stack follow fraud_batch_pipeline
	eval "$$($(BIN)/fraudlake stack env)" && $(BIN)/fraudlake summary \
	  && $(BIN)/fraudlake model list && $(BIN)/fraudlake model history

demo-embedded: install ## No server at all: the batch pipeline with `dvc repro` on the embedded lake
	$(BIN)/dvc repro
	$(BIN)/fraudlake summary

down: ## Stop every service of the local stack `make demo` left running (the data stays)
	$(BIN)/fraudlake stack down

stack-down: down

$(TOOLS)/bin/vegeta: ## HTTP load generator of the serving benchmark (Go module proxy)
	GOBIN=$(abspath $(TOOLS))/bin GOFLAGS=-mod=mod go install github.com/tsenart/vegeta/v12@v12.13.0

bench: install $(TOOLS)/bin/vegeta ## Benchmarks: our engines against naive baselines, with ratios
	$(BIN)/python -m benchmarks

handbook: install ## Reproduce the Fraud Detection Handbook comparison (1.8M transactions)
	$(BIN)/fraudlake handbook

clean: ## Remove generated data, reports and embedded state (keeps the environments)
	rm -rf data/raw data/staging data/quarantine reports .fraudlake
