# Two commands do all the set-up on a fresh machine:
#   make run    installs the sandbox in .venv and serves it on http://127.0.0.1:8080
#   make test   installs it with its test tools (Python 3.11, 3.12 and 3.13) and runs lint and tests
PYTHON ?= $(shell scripts/python-for.sh 3.12 || scripts/python-for.sh 3.11 || command -v python3)
TEST_VERSIONS ?= 3.11 3.12 3.13
PYTEST_ARGS ?= -n 2 -q
PIP_QUIET ?= -q

.PHONY: run install test lint bench soak clean

.venv/.installed: pyproject.toml
	$(PYTHON) -m venv .venv
	.venv/bin/python -m pip install $(PIP_QUIET) --upgrade pip
	.venv/bin/python -m pip install $(PIP_QUIET) -e .
	touch $@

install: .venv/.installed

run: install
	.venv/bin/pac-mock serve

.venv-%/.installed: pyproject.toml
	@py=$$(scripts/python-for.sh $*) || { echo "Python $* not found: install it (e.g. pyenv install $*)"; exit 1; }; \
	$$py -m venv .venv-$*
	.venv-$*/bin/python -m pip install $(PIP_QUIET) --upgrade pip
	.venv-$*/bin/python -m pip install $(PIP_QUIET) -e '.[test]'
	touch $@

lint: .venv-$(firstword $(TEST_VERSIONS))/.installed
	.venv-$(firstword $(TEST_VERSIONS))/bin/ruff check .
	.venv-$(firstword $(TEST_VERSIONS))/bin/hadolint docker/Dockerfile

test: $(foreach v,$(TEST_VERSIONS),.venv-$(v)/.installed)
	scripts/test-deps.sh
	$(MAKE) lint
	@set -e; for v in $(TEST_VERSIONS); do \
	  echo "== Python $$v"; \
	  .venv-$$v/bin/python -m pytest $(PYTEST_ARGS); \
	done

# Speed and memory against a bare Flask + lxml route and WireMock in alternating rounds (needs wrk,
# Java 17+ and npm; under 10 minutes), then SF throughput on SQLite beside one and two replicas on
# PostgreSQL (about 2 minutes): bench/results/
bench: install
	.venv/bin/python -m pip install $(PIP_QUIET) -e '.[bench,postgresql]'
	.venv/bin/python -m bench
	scripts/postgres-deps.sh
	.venv/bin/python -m bench.replicas

# A minute of mixed load on loopback, without and then with 200 slow or waiting clients: lost or
# duplicated requests, errors, p50/p99 (SOAK_ARGS="--duration 120" for longer)
SOAK_ARGS ?=
soak: install
	.venv/bin/python -m pip install $(PIP_QUIET) requests
	.venv/bin/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf .venv .venv-* data .pytest_cache
