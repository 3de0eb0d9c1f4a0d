# The README's set-up: `make demo` and `make test` on a fresh machine, nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
ASSETS := src/common_outcomes/web/govuk-frontend
GOVUK  := node_modules/govuk-frontend/dist/govuk
EXAMPLE := examples/tower-hamlets
BUILD  := build
DEMO_KEY := $(BUILD)/demo-pseudonymisation.key
PUBLISHED ?= ../shared/data/published

.PHONY: install demo test lint typecheck layers unit goldens schema clean chromium

install: $(STAMP) $(NODE_STAMP) chromium

# Reinstall whenever the project's declared dependencies change.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "common-outcomes needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	@# The Spark extra too: `make test` runs every engine's tests (Spark needs Java 17+).
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

# The pinned front-end packages (package-lock.json): GOV.UK Frontend, whose built CSS, JS,
# fonts and images the web app serves itself (copied, never committed), and axe-core for the
# accessibility tests.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	rm -rf $(ASSETS) && mkdir -p $(ASSETS)
	cp -R $(GOVUK)/assets/. $(ASSETS)/
	cp $(GOVUK)/govuk-frontend.min.css $(GOVUK)/govuk-frontend.min.js $(ASSETS)/
	touch $(NODE_STAMP)

# The browser the web tests drive: Debian's Chromium (Playwright downloads none).
chromium:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

demo: $(STAMP) $(NODE_STAMP)
	@mkdir -p $(BUILD)
	$(BIN)/outcomes check $(EXAMPLE)
	$(BIN)/outcomes map $(EXAMPLE) --out $(BUILD)/tower-hamlets/strategy-map.html
	$(BIN)/outcomes map $(EXAMPLE) --out $(BUILD)/tower-hamlets/strategy-map.json --format json
	$(BIN)/outcomes synth $(EXAMPLE) --scale borough --years 5 --seed 1 --force
	@# Published comparators (DfE, Fingertips) beside the synthetic returns; sources/ maps them.
	mkdir -p $(EXAMPLE)/incoming/comparators
	cp $(PUBLISHED)/*.csv $(EXAMPLE)/incoming/comparators/
	@# A demo key outside the workspace (never in git); a real one comes from your secrets store.
	@test -f $(DEMO_KEY) || $(BIN)/python -c 'import secrets,sys; open(sys.argv[1],"w").write(secrets.token_hex(32))' $(DEMO_KEY)
	$(BIN)/outcomes load $(EXAMPLE) --all --key-file $(DEMO_KEY)
	$(BIN)/outcomes run $(EXAMPLE)
	@echo "Open $(BUILD)/tower-hamlets/strategy-map.html in a browser to see the strategy map."

test: lint typecheck layers unit

lint: $(STAMP)
	$(BIN)/ruff check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) $(NODE_STAMP) chromium
	$(BIN)/pytest

# Regenerate golden files (compiled outputs the tests compare against); review the diff.
goldens: $(STAMP)
	$(BIN)/pytest --update-goldens

schema: $(STAMP)
	$(BIN)/outcomes schema --out schema

clean:
	rm -rf $(VENV) $(BUILD) .mypy_cache .pytest_cache .ruff_cache
