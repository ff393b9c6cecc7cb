# The README's commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Data: a local mirror (CI: ../shared/data) when present, else the upstream sources.
DATA_MIRROR ?= $(firstword $(wildcard ../shared/data))
export DIFFAD_DATA_ROOT ?= $(CURDIR)/data_root
ifneq ($(strip $(DATA_MIRROR)),)
export DIFFAD_DATA_MIRROR ?= $(abspath $(DATA_MIRROR))
endif
export MPLBACKEND ?= Agg
PROFILE ?= default

.PHONY: install data test lint book chapter bench leaderboard clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

data: install
	$(BIN)/diffad data prepare

lint: install
	$(BIN)/ruff check diffad_lib tests benchmarks

# Test suite (including each chapter at the smoke profile), a strict smoke build of the book, then the
# checks of the pages that build produced (tests/test_built_book.py, skipped by the first pytest run).
test: install data lint
	$(BIN)/python -m pytest
	$(BIN)/diffad book --profile smoke --strict
	DIFFAD_CHECK_BUILT_BOOK=1 $(BIN)/python -m pytest tests/test_built_book.py

# Execute every chapter at $(PROFILE) and build the HTML book; JOBS chapters at a time (default: cores).
book: install data
	$(BIN)/diffad book --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS))

# make chapter CH=01 PROFILE=default ARGS="-p epochs 3000"
chapter: install data
	$(BIN)/diffad run $(CH) --profile $(PROFILE) $(ARGS)

# Training and reconstruction speed against the naive reference path; writes results/bench_cpu.json.
# On a GPU: $(BIN)/python benchmarks/bench_diffusion.py --config paper --device cuda
bench: install
	$(BIN)/python benchmarks/bench_diffusion.py --config cpu

# Every series method on SMAP, MSL, SMD, NAB and UCR at $(PROFILE); writes results/leaderboard_$(PROFILE).json.
leaderboard: install data
	$(BIN)/diffad leaderboard --profile $(PROFILE) --jobs $(or $(JOBS),$(shell nproc 2>/dev/null || echo 1))

clean:
	rm -rf _build book/chapters .pytest_cache
