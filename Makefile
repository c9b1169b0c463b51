# rnnkit — quick start: `make demo` then `make test`. Each sets up .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip

.PHONY: setup demo test test-slow test-gpu lint bench clean

$(STAMP): pyproject.toml constraints.txt scripts/setup_data.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e ".[all,dev]"
	bash scripts/setup_data.sh $(BIN)/python
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/rnnkit train forecast --data airline --out runs/demo-airline --overwrite

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# One BLAS/OpenMP thread per xdist worker (2 workers on 2 cores).
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

test: $(STAMP) lint
	$(TEST_ENV) $(BIN)/python -m pytest -m "not slow and not gpu" -n 2 tests

test-slow: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -m "slow" tests

# On a machine with a CUDA GPU: the gpu-marked tests, then the engine benchmark against cuDNN.
test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m "gpu" tests
	$(BIN)/python -m rnnkit bench --device cuda --shapes 0,1 --no-naive

bench: $(STAMP)
	$(BIN)/python -m rnnkit bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
