# Set-up, checks and benchmarks. `make run` and `make test` work on a fresh machine
# (see docs/api.md, "Commands"); `.ci/run` calls `make test`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; older than pyproject.toml means the install is stale.
STAMP := $(VENV)/.installed-stamp

HOST ?= 127.0.0.1
PORT ?= 8080

# What the integration tests connect to; scripts/services.sh makes both answer.
export LIVE_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
export LIVE_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

PIP_FLAGS := --disable-pip-version-check --no-input $(if $(CI),--progress-bar off -q,)

.PHONY: help venv install run services browser janus media-tools lint test \
	bench-fanout bench-media bench-recompute bench-mail vendor vendor-check clean

help:
	@echo "make run              install, migrate, seed the demo, serve on http://$(HOST):$(PORT)"
	@echo "make test             install, start Postgres/Redis, install Chromium, lint, run pytest"
	@echo "make install          (re)install into $(VENV) when pyproject.toml changed"
	@echo "make services         start the local PostgreSQL and Redis if they are not answering"
	@echo "make browser          install Debian's Chromium if it is missing"
	@echo "make janus            install Debian's Janus (LIVE_MEDIA=janus tests) if it is missing"
	@echo "make media-tools      install Debian's ffmpeg (ffprobe reads recordings in the tests) if missing"
	@echo "make lint             ruff check and mypy"
	@echo "make bench-fanout | bench-media | bench-recompute | bench-mail"
	@echo "make vendor-check     re-fetch the vendored Socket.IO client and compare sha256s"
	@echo "make clean            remove $(VENV), caches and test artifacts (keeps var/)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[test]'
	touch $@

venv install: $(STAMP)

# Join links printed by the demo point at the port actually served, unless LIVE_PUBLIC_URL says otherwise.
run: export LIVE_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/live db upgrade
	$(BIN)/live demo
	exec $(BIN)/live serve --host $(HOST) --port $(PORT)

services:
	bash scripts/services.sh

browser:
	bash scripts/browser.sh

janus:
	bash scripts/janus.sh
media-tools:
	bash scripts/media-tools.sh

lint: install
	$(BIN)/ruff check live tests bench
	$(BIN)/mypy live
	$(BIN)/python -m live.protocol_doc --check

# pytest exits 5 when it collected nothing; a suite that silently runs no tests is a failure.
test: install services browser janus media-tools lint
	@status=0; $(BIN)/pytest -q $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

bench-fanout bench-media bench-recompute bench-mail: install
	$(BIN)/python bench/$(patsubst bench-%,%,$@).py

vendor:
	bash scripts/vendor.sh

vendor-check:
	bash scripts/vendor.sh --check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
