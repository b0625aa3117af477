# The audit log's commands. `make dev` runs the service on 127.0.0.1:3050; `make test` runs every test.
# Both work on a fresh clone: they create the Python virtual environment and start the emulator.

SHELL := /bin/bash
VENV := .venv
INFRA_VENV := .venv-infra
PYTHON ?= python3

# The emulator needs credentials and a region to sign requests, but never checks them.
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test
export AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= $(AWS_REGION)
export AWS_ENDPOINT_URL ?= http://127.0.0.1:4566
# Local logs are for people; Lambda's are JSON for CloudWatch.
export AUDIT_LOG_FORMAT ?= text
export RUST_LOG ?= info

.PHONY: help dev test test-faults test-browser watch emulator emulator-stop venv lint fmt validate package deploy \
        build bench fuzz load

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/bin/moto_server: requirements/emulator.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/emulator.txt
	@touch $@

venv: $(VENV)/bin/moto_server ## Create the virtual environment with the pinned emulator.

emulator: venv ## Start moto on 127.0.0.1:4566 (unless an emulator already answers there).
	@scripts/emulator.sh start

emulator-stop: ## Stop the moto server that `make emulator` started.
	@scripts/emulator.sh stop

dev: venv ## Run the service on 127.0.0.1:3050 against the emulator, print a dev API key (Ctrl-C stops).
	cargo build -p audit-local
	@AUDIT_AUTH="$${AUDIT_AUTH:-optional}" AUDIT_ANONYMOUS_TENANT="$${AUDIT_ANONYMOUS_TENANT:-dev}" AUDIT_DEV_KEY_FILE=.run/dev-api-key scripts/with-emulator.sh target/debug/audit-local

test: venv ## Run every test: unit, property and integration tests against the emulator.
	@scripts/with-emulator.sh cargo test --workspace

test-faults: venv ## Fault suite: kills, outages, throttling, redelivery, poison; each 201 is stored once.
	cargo build -p audit-local
	@scripts/with-emulator.sh cargo test -p audit-local --test it -- --ignored --test-threads=1 --nocapture faults::

test-browser: venv ## The viewer in Chromium (playwright-core, npm ci) against a runner of its own; screenshots in target/browser/.
	cargo build -p audit-local
	@scripts/with-emulator.sh scripts/test-browser.sh

bench: venv ## Benchmarks: drain vs raw BatchWriteItem, read cost per page (1k, 30k) and of total_records (100k), counter write units, sealing, the viewer's first page, init time, sizes.
	cargo build --release -p audit-bench -p audit-local -p audit-write -p audit-drain -p audit-read
	@scripts/with-emulator.sh scripts/bench.sh

lint: ## Formatting and clippy, as CI runs them.
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code.
	cargo fmt --all

$(VENV)/bin/cargo-lambda: requirements/lambda.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/lambda.txt
	@touch $@

watch: venv $(VENV)/bin/cargo-lambda ## The service on 127.0.0.1:3050 with every function under `cargo lambda watch` (rebuilt on change).
	cargo build -p audit-local
	@AUDIT_AUTH="$${AUDIT_AUTH:-optional}" AUDIT_ANONYMOUS_TENANT="$${AUDIT_ANONYMOUS_TENANT:-dev}" AUDIT_DEV_KEY_FILE=.run/dev-api-key scripts/with-emulator.sh scripts/watch.sh

build: $(INFRA_VENV)/bin/cfn-lint $(VENV)/bin/cargo-lambda ## Build the functions as `sam deploy` ships them (sam build into .aws-sam/, no deploy).
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(INFRA_VENV)/bin/sam build --beta-features --template-file infra/template.yaml

package: build ## sam build, then print the arm64 bootstrap sizes as they would be deployed.
	@for f in WriteFunction DrainFunction ReadFunction CountFunction SealFunction; do \
	  printf '%-14s %s bytes\n' "$$f" "$$(stat -c %s .aws-sam/build/$$f/bootstrap)"; \
	done

deploy: build ## Build with SAM and deploy (guided the first time).
	$(INFRA_VENV)/bin/sam deploy --guided

$(INFRA_VENV)/bin/cfn-lint: infra/requirements.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	@touch $@

validate: $(INFRA_VENV)/bin/cfn-lint ## Lint the SAM template offline (cfn-lint and sam validate --lint).
	$(INFRA_VENV)/bin/cfn-lint infra/template.yaml
	$(INFRA_VENV)/bin/sam validate --lint --template-file infra/template.yaml

FUZZ_VENV := .venv-fuzz

$(FUZZ_VENV)/bin/schemathesis: requirements/fuzz.txt
	@test -x $(FUZZ_VENV)/bin/python || $(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/fuzz.txt
	@touch $@

fuzz: venv $(FUZZ_VENV)/bin/schemathesis ## Fuzz the API against openapi.yaml with schemathesis (runner on 127.0.0.1:3051).
	cargo build -p audit-local
	@scripts/with-emulator.sh scripts/fuzz.sh

load: venv ## Load-test writes and reads (8 clients, 20 s, 5,000 events) and prove none is lost or doubled.
	cargo build -p audit-loadgen
	@scripts/with-emulator.sh env RUST_LOG=warn target/debug/audit-load $(LOAD_ARGS)
