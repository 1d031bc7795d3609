# convoflow developer tasks. Needs GNU make, python3.11, Java 17 and Maven
# (Maven only once, to fetch the Kafka jars into .kafka/lib).

SHELL := /bin/bash

PY ?= python3
VENV = .venv
KAFKA_PORT ?= 9092
export KAFKA_PORT
BROKER ?= kafka://127.0.0.1:$(KAFKA_PORT)
PYTEST_ARGS ?=
BENCH_ARGS ?=

KAFKA = scripts/kafka.sh
STAMP = $(VENV)/.installed
BENCH_STAMP = $(VENV)/.installed-bench

.DEFAULT_GOAL := help

.PHONY: help install ui-deps ops-deps kafka-up kafka-down kafka-status test chaos unit bench bench-smoke bench-scale run stop clean distclean

help:
	@echo "convoflow make targets:"
	@echo "  make install      create $(VENV) and pip install -e '.[test]' (again only when pyproject.toml changes)"
	@echo "  make ui-deps      browser test deps: Debian's chromium (apt-get) and playwright + prometheus-client (pip)"
	@echo "  make ops-deps     promtool (Debian's prometheus package, apt-get) for the alert-rule tests in tests/ops"
	@echo "  make kafka-up     start the local Kafka broker on 127.0.0.1:$(KAFKA_PORT) (scripts/kafka.sh up)"
	@echo "  make kafka-down   stop the local Kafka broker"
	@echo "  make kafka-status tell whether the local Kafka broker runs"
	@echo "  make test         start Kafka, run all tests against $(BROKER), always stop Kafka"
	@echo "                    (extra pytest arguments: make test PYTEST_ARGS='-k foo')"
	@echo "  make chaos        start Kafka, run the full chaos tests (pytest -m slow tests/chaos: crashes, lost disks,"
	@echo "                    broker restarts, a broker of a 3-node cluster lost, rebalances, hostile input; ~25 min), always stop Kafka"
	@echo "  make unit         run the tests not marked 'integration' (no broker)"
	@echo "  make bench        start Kafka, run the benchmark (bench/run.py, ~4 min), always stop Kafka;"
	@echo "                    figures on stdout and in bench/results.json (sizes: make bench BENCH_ARGS='--conversations 20000')"
	@echo "  make bench-smoke  the same on a tiny stream (under a minute)"
	@echo "  make bench-scale  start Kafka, run bench/scale.py (10,000 and 100,000 conversations, 4 workers + 1 joining;"
	@echo "                    under 40 min), always stop Kafka; bench/scale.json (quick look: BENCH_ARGS='--smoke' or"
	@echo "                    BENCH_ARGS='--small 2000 --large 20000')"
	@echo "  make run          start broker + worker + a live simulated contact centre (the last 7 days, then real time)"
	@echo "  make stop         stop what 'make run' started, and the broker"
	@echo "  make clean        stop the broker (and a scripts/kafka-cluster.sh cluster); delete their data, data/, exports/"
	@echo "  make distclean    clean, and also delete $(VENV) and .kafka (jars)"
	@echo "Variables: PY=$(PY) KAFKA_PORT=$(KAFKA_PORT) BROKER=$(BROKER)"

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -e '.[test]'
	@touch $@

install: $(STAMP)

# Browser tests (tests/ui) drive Debian's chromium with Playwright for Python (never `playwright install`).
# Best effort: without them tests/ui installs what it can itself, or skips with the reason.
ui-deps: install
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "ui-deps: apt-get install chromium"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "ui-deps: could not install chromium; the browser tests will say why they skip"; \
	  else echo "ui-deps: no /usr/bin/chromium and no root apt-get; the browser tests will say why they skip"; fi; \
	fi
	@$(VENV)/bin/python -c "import playwright, prometheus_client" 2>/dev/null \
	  || $(VENV)/bin/python -m pip install -q -e '.[test,ui]' \
	  || echo "ui-deps: pip install of the ui extras failed"

# promtool tests the Prometheus alert rules and dashboard queries in ops/ (tests/ops). Best effort, like ui-deps:
# without it tests/ops installs it itself, or skips with the reason.
ops-deps:
	@if ! command -v promtool >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "ops-deps: apt-get install prometheus (for promtool)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	      || echo "ops-deps: could not install prometheus; the promtool tests will say why they skip"; \
	  else echo "ops-deps: no promtool and no root apt-get; the promtool tests will say why they skip"; fi; \
	fi

kafka-up:
	$(KAFKA) up

kafka-down:
	$(KAFKA) down

kafka-status:
	@$(KAFKA) status || true

# One shell: the trap stops the broker whatever happens (failure, Ctrl-C),
# and the recipe exits with pytest's status.
test: install ui-deps ops-deps
	@trap '$(KAFKA) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(KAFKA) up || exit $$?; \
	rc=0; CONVOFLOW_BROKER='$(BROKER)' $(VENV)/bin/pytest -q -m 'not slow' tests $(PYTEST_ARGS) || rc=$$?; \
	exit $$rc

# The full versions of the chaos tests (make test runs their reduced versions). The broker-restart test
# restarts this broker with scripts/kafka.sh (same KAFKA_HOME and KAFKA_PORT).
chaos: install
	@trap '$(KAFKA) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(KAFKA) up || exit $$?; \
	rc=0; CONVOFLOW_BROKER='$(BROKER)' $(VENV)/bin/pytest -q -m slow tests/chaos $(PYTEST_ARGS) || rc=$$?; \
	exit $$rc

unit: install
	$(VENV)/bin/pytest -q -m 'not integration' tests $(PYTEST_ARGS)

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(VENV)/bin/python -m pip install -e '.[test,bench]'
	@touch $@

# Like test: one shell, the trap stops the broker whatever happens.
bench: $(BENCH_STAMP)
	@trap '$(KAFKA) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(KAFKA) up || exit $$?; \
	rc=0; CONVOFLOW_BROKER='$(BROKER)' $(VENV)/bin/python -m bench.run $(BENCH_ARGS) || rc=$$?; \
	exit $$rc

bench-smoke: $(BENCH_STAMP)
	@trap '$(KAFKA) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(KAFKA) up || exit $$?; \
	rc=0; CONVOFLOW_BROKER='$(BROKER)' $(VENV)/bin/python -m bench.run --smoke $(BENCH_ARGS) || rc=$$?; \
	exit $$rc

# Its broker waits 3 s before a new group's first assignment, as a production broker does, so
# that the workers of the shared deployment, started together, share the partitions from the start.
bench-scale: $(BENCH_STAMP)
	@trap '$(KAFKA) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	KAFKA_GROUP_INITIAL_DELAY_MS=3000 $(KAFKA) up || exit $$?; \
	rc=0; CONVOFLOW_BROKER='$(BROKER)' $(VENV)/bin/python -m bench.scale $(BENCH_ARGS) || rc=$$?; \
	exit $$rc

run: install
	CONVOFLOW_BROKER='$(BROKER)' bash scripts/run.sh

stop:
	@if [ -f scripts/run.sh ]; then bash scripts/run.sh stop || true; fi
	$(KAFKA) down

clean:
	$(KAFKA) down
	@if [ -d .kafka-cluster ]; then scripts/kafka-cluster.sh reset; fi
	rm -rf .kafka/data data exports

distclean: clean
	rm -rf $(VENV) .kafka .kafka-cluster
