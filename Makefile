# Two entry points (see README): `make run` and `make test`. Both are idempotent.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
WAREHOUSE ?= var/cohesion.duckdb
SAMPLES ?= ../shared/data

.PHONY: run test install lint bench

install: .venv/.installed node_modules/.installed

$(UV):
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

run: install
	.venv/bin/cohesion --warehouse $(WAREHOUSE) build
	if [ -d "$(SAMPLES)" ]; then .venv/bin/cohesion --warehouse $(WAREHOUSE) data import-samples "$(SAMPLES)"; fi
	.venv/bin/cohesion --warehouse $(WAREHOUSE) summary

test: install
	.venv/bin/ruff check .
	.venv/bin/pytest

bench: install
	.venv/bin/python -m benchmarks
