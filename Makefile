# The two entry points of the README. Both create ./.venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# where torch comes from: empty = pip's own configuration (the project's machines find the CPU wheel on local disk);
# on a machine whose pip reads plain PyPI, which serves the CUDA build: make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

.PHONY: setup demo test lint browser postgres bench

$(BIN)/logbert: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU build of torch (TORCH_INDEX above); an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
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

# The PostgreSQL alert-store tests start a throw-away server with Debian's initdb / pg_ctl
# (/usr/lib/postgresql/<version>/bin; as root they run it as `nobody`). Installed here when
# missing, as for chromium; without root or apt those tests skip with a reason.
postgres:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		&& command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
			|| echo "postgresql not installed: the PostgreSQL alert-store tests will skip"; \
	fi

test: lint browser postgres
	$(BIN)/pytest
