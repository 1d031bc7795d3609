# convoflow developer tasks. Needs GNU make, python3.11, Java 17 and Maven
# (Maven only once, to fetch the Kafka jars into .kafka/lib).

SHELL := /bin/bash

PY ?= python3
VENV = .venv
KAFKA_PORT ?= 9092
export KAFKA_PORT
BROKER ?= kafka://127.0.0.1:$(KAFKA_PORT)
PYTEST_ARGS ?=

KAFKA = scripts/kafka.sh
STAMP = $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help install kafka-up kafka-down kafka-status test unit run stop clean distclean

help:
	@echo "convoflow make targets:"
	@echo "  make install      create $(VENV) and pip install -e '.[test]' (again only when pyproject.toml changes)"
	@echo "  make kafka-up     start the local Kafka broker on 127.0.0.1:$(KAFKA_PORT) (scripts/kafka.sh up)"
	@echo "  make kafka-down   stop the local Kafka broker"
	@echo "  make kafka-status tell whether the local Kafka broker runs"
	@echo "  make test         start Kafka, run all tests against $(BROKER), always stop Kafka"
	@echo "                    (extra pytest arguments: make test PYTEST_ARGS='-k foo')"
	@echo "  make unit         run the tests not marked 'integration' (no broker)"
	@echo "  make run          start broker + worker + simulated data (scripts/run.sh)"
	@echo "  make stop         stop what 'make run' started, and the broker"
	@echo "  make clean        stop the broker; delete .kafka/data, data/, exports/"
	@echo "  make distclean    clean, and also delete $(VENV) and .kafka (jars)"
	@echo "Variables: PY=$(PY) KAFKA_PORT=$(KAFKA_PORT) BROKER=$(BROKER)"

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -e '.[test]'
	@touch $@

install: $(STAMP)

kafka-up:
	$(KAFKA) up

kafka-down:
	$(KAFKA) down

kafka-status:
	@$(KAFKA) status || true

# One shell: the trap stops the broker whatever happens (failure, Ctrl-C),
# and the recipe exits with pytest's status.
test: install
	@trap '$(KAFKA) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(KAFKA) up || exit $$?; \
	rc=0; CONVOFLOW_BROKER='$(BROKER)' $(VENV)/bin/pytest -q tests $(PYTEST_ARGS) || rc=$$?; \
	exit $$rc

unit: install
	$(VENV)/bin/pytest -q -m 'not integration' tests $(PYTEST_ARGS)

run: install
	CONVOFLOW_BROKER='$(BROKER)' bash scripts/run.sh

stop:
	@if [ -f scripts/run.sh ]; then bash scripts/run.sh stop || true; fi
	$(KAFKA) down

clean:
	$(KAFKA) down
	rm -rf .kafka/data data exports

distclean: clean
	rm -rf $(VENV) .kafka
