# The two set-up commands of README.md: `make demo` and `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-test demo test

install:
	$(PIP) install -q -e .

install-test:
	$(PIP) install -q -e ".[test]"

demo: install
	tempvl-bench run --task didemo --demo --mode zero-shot
	tempvl-bench run --task didemo --demo --mode finetune
	tempvl-bench leaderboard --task didemo

test: install-test
	$(PYTHON) -m pytest -q
