# fpatch developer targets. `make demo` and `make test` work on a fresh machine.
#
#   make demo      run-time install into .venv (no dev tools), check every spec in specs/
#   make install   fpatch on your PATH: its own venv under $(PREFIX)/lib/fpatch and a link
#                  $(PREFIX)/bin/fpatch (default PREFIX ~/.local; no root, no system pip)
#   make test      dev install into .venv (pytest, ruff, mypy, ...), binutils, Chromium; tests
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
FPATCH  := $(BIN)/fpatch
RUNTIME := $(VENV)/.runtime
STAMP   := $(VENV)/.installed
PREFIX  ?= $(HOME)/.local

.PHONY: setup runtime install uninstall tools demo test lint fuzz bench startup docs clean

# The tool and its run-time dependencies only (what `make demo` needs).
$(RUNTIME): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(RUNTIME)

# The development toolchain on top (tests, linters, type checker).
$(STAMP): $(RUNTIME) pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

runtime: $(RUNTIME)
setup: $(STAMP)

# `fpatch` on PATH without touching the system Python (PEP 668): a private venv and a link.
install:
	$(PY) -m venv --clear $(PREFIX)/lib/fpatch
	$(PREFIX)/lib/fpatch/bin/pip install -q --upgrade pip
	$(PREFIX)/lib/fpatch/bin/pip install -q .
	mkdir -p $(PREFIX)/bin
	ln -sf $(PREFIX)/lib/fpatch/bin/fpatch $(PREFIX)/bin/fpatch
	@echo "installed: $(PREFIX)/bin/fpatch"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; \
	  *) echo "$(PREFIX)/bin is not on your PATH; add it: export PATH=\"$(PREFIX)/bin:\$$PATH\"";; esac

# Removes only what `make install` made.
uninstall:
	rm -f $(PREFIX)/bin/fpatch
	rm -rf $(PREFIX)/lib/fpatch

# Test tools from Debian: GNU binutils for aarch64 (the encoding oracle of the ISA tests),
# the cross compiler (builds the objects of the extract tests, tests/extract) and
# Chromium (renders report.html in the HTML report test).
tools:
	@{ command -v aarch64-linux-gnu-as && command -v aarch64-linux-gnu-gcc \
	   && command -v chromium; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq binutils-aarch64-linux-gnu gcc-aarch64-linux-gnu \
	    chromium >/dev/null; }

demo: $(RUNTIME)
	$(FPATCH) check specs/
	@echo
	@echo "fpatch is $(FPATCH). To run it as \`fpatch\`: . $(BIN)/activate   (this shell)"
	@echo "or: make install   (a link in $(PREFIX)/bin, for good)"

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

# CPU time of `fpatch --version` and `fpatch validate` of one spec (target <= 0.15 s).
startup: $(RUNTIME)
	$(BIN)/python bench/startup.py

# Regenerate the real command output in docs/tutorial.md and README.md (a test compares it).
docs: $(RUNTIME)
	$(BIN)/python tests/e2e/test_tutorial.py --update

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
