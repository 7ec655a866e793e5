"""Prefix reuse in the engine: prompts that share a few-shot block reuse its keys/values, and greedy output is
the same token for token as with reuse off (and as ``generate``); the cache stays within its memory bound."""

from __future__ import annotations

import pytest

from lm_assets import tiny_llama, tiny_tokenizer
from opencook.completions.sampling import Sampling
from opencook.lm.generate import generate
from opencook.lm.generate.engine import Engine, EngineConfig
from opencook.tokenizer import encode

SHOTS = ("def add(a, b):\n    return a + b\n\nassert add(1, 2) == 3\n\n"
         "def head(xs):\n    return xs[0]\n\nassert head([4, 5]) == 4\n\n")
TASKS = ["def square(x):", "import torch\nx = torch.zeros(3)", "class Llama(nn.Module):",
         "for i in range(10):", "def forward(self, x):\n    return", "y = x + 1"]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    return tiny_llama(tok, max_seq_len=256)


def _run(model, tok, prompts, config):
    engine = Engine(model, tok, config)
    reqs = [engine.submit(p, Sampling(max_new_tokens=12), []) for p in prompts]
    out = [r.result(60).token_ids for r in reqs]
    engine.close()
    return out, engine


def test_shared_few_shot_prefix_is_reused_and_greedy_output_is_unchanged(tok, model):
    prompts = [encode(tok, SHOTS + t, special=True) for t in TASKS]
    shared = min(next(i for i, (a, b) in enumerate(zip(prompts[0], p, strict=False)) if a != b) for p in prompts[1:])
    assert shared > 24  # the few-shot block spans several 8-token blocks
    off, plain = _run(model, tok, prompts, EngineConfig(slots=3, prefix_cache_mb=0))
    on, reused = _run(model, tok, prompts, EngineConfig(slots=3, prefix_block=8))
    assert plain.reused_tokens == 0
    assert reused.reused_tokens >= (len(prompts) - 1) * (shared // 8) * 8
    assert on == off
    assert on == [generate(model, tok, [p], max_new_tokens=12, eos_ids=[])[0].token_ids for p in prompts]


def test_a_prompt_wholly_cached_still_prefills_its_last_token(tok, model):
    prompt = encode(tok, SHOTS, special=True)[:40]  # five full 8-token blocks
    on, engine = _run(model, tok, [prompt, prompt, prompt[:33]], EngineConfig(slots=1, prefix_block=8))
    assert engine.reused_tokens == 32 + 32
    assert on[0] == on[1]
    assert on == [generate(model, tok, [p], max_new_tokens=12, eos_ids=[])[0].token_ids
                  for p in (prompt, prompt, prompt[:33])]


def test_cache_stays_within_its_memory_bound(tok, model):
    prompts = [encode(tok, t * 6 + SHOTS, special=True) for t in TASKS]
    block_bytes = 2 * model.cfg.n_layers * model.cfg.n_kv_heads * 8 * model.cfg.head_size * 4
    config = EngineConfig(slots=2, prefix_block=8, prefix_cache_mb=5 * block_bytes / 2**20)
    on, engine = _run(model, tok, prompts, config)
    assert 0 < engine.prefix.bytes <= 5 * block_bytes
    assert len(engine.prefix) <= 5
    off, _ = _run(model, tok, prompts, EngineConfig(slots=2, prefix_cache_mb=0))
    assert on == off
