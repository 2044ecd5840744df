# sensegate: the two Quickstart commands are `make demo` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.installed-stamp
PYTEST_ARGS ?=
STATE := $(or $(SENSEGATE_STATE),$(CURDIR)/.state)
# Operator tasks (tests, demo, benchmarks) run as the stack's admin principal and owner role:
# the addresses of stack.env plus secrets/env/operator.env, both written by `make stack-up`.
AS_OPERATOR := set -a && source $(STATE)/stack.env && source $(STATE)/secrets/env/operator.env && set +a &&
# Tests read the addresses from stack.env themselves (unit tests check the defaults, unset).
AS_OPERATOR_TESTS := set -a && source $(STATE)/secrets/env/operator.env && set +a &&

.PHONY: compose-secrets fuzz province-up province-down federate timescale-deps help venv stack-up stack-status stack-down up down status demo test test-unit test-integration lint bench bench-quick clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -e 's/:.*## /\t/' | column -t -s $$'\t'

# setup.py builds the generated C UPER decoders from the ASN.1 modules (optional without a compiler)
$(STAMP): pyproject.toml setup.py processors/codecs/v2x/uper_cgen.py $(wildcard processors/codecs/v2x/asn1/*/*.asn)
	@command -v python3 >/dev/null || { echo "python3 (3.11+) is required" >&2; exit 1; }
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	# Independent Sparkplug encoder for tests only; its metadata pins paho-mqtt<2, which we don't need.
	$(PY) -m pip install -q --no-deps 'pysparkplug==0.6.1'
	@touch $(STAMP)

venv: $(STAMP) ## create the virtualenv and install sensegate with dev extras

stack-up: venv ## install (if missing) and start Mosquitto, Kafka (KRaft) and PostgreSQL on loopback
	bash stack/stack.sh up

stack-status: ## list each stack service with its port and state, and the supervised services with their restarts
	@bash stack/stack.sh status

stack-down: ## stop the stack and the sensegate services
	-@bash stack/services.sh down
	-@bash stack/province.sh down
	bash stack/stack.sh down

up: stack-up ## the stack plus gateway, processors and monitor under supervisord (restarted when they exit)
	bash stack/services.sh up

down: ## stop the sensegate services (the stack keeps running)
	bash stack/services.sh down

status: stack-status

demo: $(if $(PROVINCE),province-up,) up ## run the device families for about a minute, summarize, walk one objection to the corrected record (PROVINCE=1: also to a local province)
	$(AS_OPERATOR) $(PY) -m scripts.demo
	@if [ -n "$(PROVINCE)" ]; then bash stack/province.sh show; fi

compose-secrets: venv ## generate docker-compose's secrets, certificates and per-service env files into .state/compose
	$(PY) -m stack.compose $(STATE)/compose

province-up: stack-up ## a local "province" Kafka (SCRAM) that this instance replicates to (docs/federation.md)
	bash stack/province.sh up

province-down: ## stop the local province
	bash stack/province.sh down

federate: ## after a catalog change: regenerate the upstream allow-list and restart MirrorMaker 2
	bash stack/services.sh federate

timescale-deps: ## npm packages of the TimescaleDB (PGlite) DDL check, into .state/timescale
	bash scripts/timescale_check.sh --install-only

test: lint stack-up timescale-deps ## ruff, mypy, then the whole test suite (unit + integration) against the real services
	$(AS_OPERATOR_TESTS) $(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv ## fast unit tests only (no services)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: stack-up ## integration tests against the real stack
	$(AS_OPERATOR_TESTS) $(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	.venv/bin/ruff check .
	.venv/bin/mypy contracts runtime gateway processors simulators scripts stack benchmarks tests

FUZZ_SECONDS ?= 180
fuzz: venv ## bounded fuzz of gateway and normalizer input (FUZZ_SECONDS, default 180; prints figures)
	$(PY) -m scripts.fuzz --seconds $(FUZZ_SECONDS)

bench: stack-up ## benchmarks: figures next to the machine's own limits
	$(AS_OPERATOR) $(PY) -m benchmarks

bench-quick: stack-up ## the benchmark in its short mode (< 3 minutes)
	$(AS_OPERATOR) $(PY) -m benchmarks --quick

clean: stack-down ## stop everything and remove local state
	rm -rf .state
