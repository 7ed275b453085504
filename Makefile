# The two set-up commands of README.md: `make demo` and `make test` (the fast suite: every test
# not marked `slow`); `make test-slow` runs the slow ones, and `make test-all` both, every test
# once (.ci/run runs `make test`, then `make test-slow`).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-test demo test test-slow test-all

install:
	$(PIP) install -q -e .

install-test:
	$(PIP) install -q -e ".[test]"

# `$(PYTHON) -m tempvl_bench.cli` is the `tempvl-bench` command of the environment just installed into.
demo: install
	$(PYTHON) -m tempvl_bench.cli run --task didemo --demo --mode zero-shot
	$(PYTHON) -m tempvl_bench.cli run --task didemo --demo --mode finetune
	$(PYTHON) -m tempvl_bench.cli leaderboard --task didemo

test: install-test
	$(PYTHON) -m pytest -q -m "not slow"

test-slow: install-test
	$(PYTHON) -m pytest -q -m slow

test-all: test test-slow
