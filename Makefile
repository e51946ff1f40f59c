# The two entry points of the README. Both create ./.venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint browser bench

$(BIN)/logbert: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU build of torch; an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/logbert

setup: $(BIN)/logbert

demo: setup
	$(BIN)/logbert demo

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

# The dashboard test drives Debian's Chromium through Playwright (never `playwright install`,
# which downloads a browser). Without root or apt the browser test skips with a reason.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser test will skip"; \
	fi

test: lint browser
	$(BIN)/pytest
