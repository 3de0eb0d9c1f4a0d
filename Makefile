# The README's set-up: `make demo` and `make test` on a fresh machine, nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
ASSETS := src/common_outcomes/web/govuk-frontend
VEGA   := src/common_outcomes/web/vega
SWAGGER := src/common_outcomes/web/swagger-ui
GOVUK  := node_modules/govuk-frontend/dist/govuk
EXAMPLE := examples/tower-hamlets
BUILD  := build
DEMO_KEY := $(BUILD)/demo-pseudonymisation.key
DEMO_WS := $(BUILD)/tower-hamlets/workspace

.PHONY: install prerequisites demo test lint typecheck layers unit goldens builtins schema clean chromium provenance

install: prerequisites $(STAMP) $(NODE_STAMP) chromium

# Python 3.11+, Node and npm, Java 17 (Spark tests), PostgreSQL (database tests): each
# missing one is said in one sentence.
prerequisites:
	@PYTHON=$(PYTHON) bash tools/check-prerequisites.sh

# Reinstall whenever the project's declared dependencies change.
$(STAMP): pyproject.toml
	@PYTHON=$(PYTHON) bash tools/check-prerequisites.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	@# The Spark extra too: `make test` runs every engine's tests (Spark needs Java 17+).
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

# The pinned front-end packages (package-lock.json): GOV.UK Frontend, whose built CSS, JS,
# fonts and images the web app serves itself (copied, never committed), Vega for its charts,
# Swagger UI for the API's documentation at /docs, and axe-core for the accessibility tests.
# No package's install script runs (none is needed; swagger-ui-dist's would report usage).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	rm -rf $(ASSETS) && mkdir -p $(ASSETS)
	cp -R $(GOVUK)/assets/. $(ASSETS)/
	cp $(GOVUK)/govuk-frontend.min.css $(GOVUK)/govuk-frontend.min.js $(ASSETS)/
	@# Vega, Vega-Lite and vega-embed's browser builds, for the charts and maps.
	rm -rf $(VEGA) && mkdir -p $(VEGA)
	cp node_modules/vega/build/vega.min.js node_modules/vega-lite/build/vega-lite.min.js \
	  node_modules/vega-embed/build/vega-embed.min.js $(VEGA)/
	@# Swagger UI's browser bundle and stylesheet, for /docs.
	rm -rf $(SWAGGER) && mkdir -p $(SWAGGER)
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	  node_modules/swagger-ui-dist/LICENSE $(SWAGGER)/
	touch $(NODE_STAMP)

# The browser the web tests drive: Debian's Chromium (Playwright downloads none).
chromium:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

demo: $(STAMP) $(NODE_STAMP)
	@mkdir -p $(BUILD)
	$(BIN)/outcomes map $(EXAMPLE) --out $(BUILD)/tower-hamlets/strategy-map.html
	$(BIN)/outcomes map $(EXAMPLE) --out $(BUILD)/tower-hamlets/strategy-map.json --format json
	@# Checks the example, makes five years of synthetic data, loads it with the carried
	@# published comparators (DfE, Fingertips: England, London, the statistical neighbours)
	@# under a demo key kept outside the workspace (never in git), computes it, prints a demo
	@# account's sign-in and serves the app until stopped (Ctrl+C). `outcomes demo
	@# --no-serve` builds without serving.
	@echo "The strategy map is in $(BUILD)/tower-hamlets/strategy-map.html: open it in a browser."
	@# The demo's quarterly reviews change the strategy (an activity stopped, a target
	@# revised): on a copy of the example, so that the example itself stays as written.
	rm -rf $(DEMO_WS) && mkdir -p $(BUILD)/tower-hamlets
	$(BIN)/python -c "import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2], ignore=shutil.ignore_patterns('incoming', 'synth-truth', '.outcomes', '.synth-staging-*', 'history'))" $(EXAMPLE) $(DEMO_WS)
	$(BIN)/outcomes demo $(DEMO_WS) --key-file $(DEMO_KEY)

test: lint typecheck layers unit

lint: $(STAMP)
	$(BIN)/ruff check src tests tests_provenance tools

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# One pytest process a core (pytest-xdist), each test file's tests in one of them, so that a
# file's module fixtures are made once; a single file or test runs as plain `pytest`.
unit: $(STAMP) $(NODE_STAMP) chromium
	$(BIN)/pytest -n auto --dist loadfile

# The provenance step: every carried reference table rebuilt from the published originals
# (ORIGINALS=DIR holding data/geography, data/published, reference/ssd) and found identical.
# Not part of `make test`: a council's clone has no originals.
provenance: $(STAMP)
	@test -n "$(ORIGINALS)" || { echo "make provenance needs ORIGINALS=DIR, the folder of published originals." >&2; exit 2; }
	$(BIN)/pytest tests_provenance --originals $(ORIGINALS) -q

# Regenerate golden files (compiled outputs the tests compare against); review the diff.
goldens: $(STAMP)
	$(BIN)/pytest --update-goldens

# Rewrite the built-in SSD sources from the carried field list and builtin/ssd-knowledge.yaml.
builtins: $(STAMP)
	$(BIN)/python -m common_outcomes.data.ssd_builtins

schema: $(STAMP)
	$(BIN)/outcomes schema --out schema

clean:
	rm -rf $(VENV) $(BUILD) .mypy_cache .pytest_cache .ruff_cache
