# fpatch developer targets. `make demo` and `make test` work on a fresh machine.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
FPATCH  := $(BIN)/fpatch
STAMP   := $(VENV)/.installed

.PHONY: setup tools demo test lint typecheck fuzz bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# GNU binutils for aarch64: the encoding oracle of the ISA tests; the cross compiler
# builds the objects of the extract tests (tests/extract).
tools:
	@{ command -v aarch64-linux-gnu-as && command -v aarch64-linux-gnu-gcc; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq binutils-aarch64-linux-gnu gcc-aarch64-linux-gnu >/dev/null; }

demo: setup
	$(FPATCH) check specs/

test: setup tools
	$(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check fpatch tests
	$(BIN)/mypy fpatch

# The differential test with 3000 random specs; the architecture model's
# evaluators and time reading on random litmus tests and scenarios; the hostile
# suite with 2500 inputs per kind (specs, tag rewrites, litmus files, list/kinds
# files, command lines: 12,500 inputs).
fuzz: setup
	FPATCH_FUZZ_EXAMPLES=3000 $(BIN)/python -m pytest -q tests/test_differential.py
	FPATCH_LITMUS_FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest -q tests/litmus/test_evaluators.py -k random
	FPATCH_WINDOW_FUZZ_EXAMPLES=3000 FPATCH_SYNC_FUZZ_EXAMPLES=2000 \
	  $(BIN)/python -m pytest -q tests/arch/test_windows.py tests/arch/test_sync.py
	FPATCH_HOSTILE_EXAMPLES=2500 $(BIN)/python -m pytest -q tests/hostile/test_fuzz_cli.py

bench: setup
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
