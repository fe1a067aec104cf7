# Two commands on a fresh clone: `make demo` (the main job) and `make test` (the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where pip gets PyTorch. Empty: PyPI's default build (on Linux the CUDA one, several GB).
# Without a GPU: make test TORCH_INDEX=https://download.pytorch.org/whl/cpu (the CPU-only
# build, a few hundred MB).
TORCH_INDEX ?=
TORCH := torch==2.13.0$(if $(TORCH_INDEX), --index-url $(TORCH_INDEX))

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reglab demo

test: $(STAMP)
	bash tests/report/ensure_chromium.sh
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/engine_w1.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
