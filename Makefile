# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# The CPU wheel of torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[data,dev,ray,xc,lm]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/opencook run recipes/demo.yaml --out $(DEMO_OUT) --workers 2
	$(VENV)/bin/opencook xc train recipes/xc_demo.yaml --nproc 2 --out runs/xc_demo

test: setup
	$(VENV)/bin/pytest tests

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	$(PY) benchmarks/filter_speed.py
	$(PY) benchmarks/pipeline_speed.py

clean:
	rm -rf $(VENV) runs build *.egg-info
