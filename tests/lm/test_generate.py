"""KV-cache generation: token-for-token agreement with transformers' generate, stop strings, EOS,
seeded sampling, and the cache against the uncached forward."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from opencook.lm.generate import Completion, generate, next_tokens
from opencook.lm.model import Llama, ModelConfig, hf_config_dict, to_hf_state_dict
from opencook.lm.model.llama import KVCache
from opencook.tokenizer import TokenizerConfig, decode, encode, train_tokenizer

transformers = pytest.importorskip("transformers")

PROMPTS = ["def forward(self, x):", "import torch", "class Llama(nn.Module):\n    def __init__(self"]
PAD = 7  # <|pad|>


@pytest.fixture(scope="module")
def tok():
    src = Path(__file__).resolve().parents[2] / "src" / "opencook" / "lm" / "model"
    return train_tokenizer(sorted(src.glob("*.py")), TokenizerConfig(vocab_size=400), progress=False)


def _model(tok, seed: int = 0, **kw) -> Llama:
    """A random model with larger weights than the training init, so logits are peaked enough that
    argmax is decided by real margins, not by float rounding."""
    base = dict(vocab_size=tok.get_vocab_size(), dim=64, n_layers=2, n_heads=8, n_kv_heads=2, ffn_dim=96,
                max_seq_len=64)
    torch.manual_seed(seed)
    model = Llama(ModelConfig(**{**base, **kw})).eval()
    model.reset_parameters(std=0.1)
    return model


def _hf(model: Llama):
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**hf_config_dict(model.cfg))).eval()
    missing, unexpected = hf.load_state_dict(to_hf_state_dict(model), strict=False)
    assert not unexpected and all("rotary" in k for k in missing)
    return hf


def _hf_generate(hf, ids: list[list[int]], n: int, eos: int | None = None) -> list[list[int]]:
    t = max(map(len, ids))
    inp = torch.tensor([[PAD] * (t - len(p)) + p for p in ids])
    mask = torch.tensor([[0] * (t - len(p)) + [1] * len(p) for p in ids])
    out = hf.generate(inp, attention_mask=mask, do_sample=False, max_new_tokens=n, pad_token_id=PAD,
                      eos_token_id=eos)
    rows = out[:, t:].tolist()
    if eos is not None:  # HF pads a finished row with pad_token_id after its EOS
        rows = [r[: r.index(eos) + 1] if eos in r else r for r in rows]
    return rows


CONFIGS = {
    "gqa_untied": dict(n_heads=8, n_kv_heads=2),
    "gqa_tied": dict(n_heads=8, n_kv_heads=2, tie_embeddings=True),
    "mha_untied": dict(n_heads=4, n_kv_heads=4),
    "mha_tied_headdim": dict(n_heads=2, n_kv_heads=2, head_dim=48, tie_embeddings=True, rope_theta=500_000.0),
}


@pytest.mark.parametrize("kw", CONFIGS.values(), ids=CONFIGS.keys())
def test_greedy_matches_transformers_batch1_and_left_padded(tok, kw):
    model = _model(tok, **kw)
    hf = _hf(model)
    ids = [encode(tok, p, special=True) for p in PROMPTS]
    assert len({len(p) for p in ids}) == 3, "prompts must differ in length so the batch is left-padded"
    ours1 = generate(model, tok, PROMPTS[:1], max_new_tokens=16, eos_ids=[])
    assert ours1[0].token_ids == _hf_generate(hf, ids[:1], 16)[0]
    ours = generate(model, tok, PROMPTS, max_new_tokens=16, eos_ids=[])
    assert [c.token_ids for c in ours] == _hf_generate(hf, ids, 16)
    assert [c.prompt_tokens for c in ours] == [len(p) for p in ids]
    assert all(c.finish_reason == "length" and len(c.token_ids) == 16 for c in ours)
    assert [c.text for c in ours] == [decode(tok, c.token_ids) for c in ours]
    # token-id prompts give the same result as the strings they encode
    assert generate(model, tok, ids, max_new_tokens=16, eos_ids=[]) == ours


def test_eos_ends_each_row_like_transformers_and_finished_rows_do_not_disturb_others(tok):
    model = _model(tok)
    free = generate(model, tok, PROMPTS, max_new_tokens=16, eos_ids=[])
    eos = free[0].token_ids[3]  # a token the first row really produces mid-way
    ours = generate(model, tok, PROMPTS, max_new_tokens=16, eos_ids=[eos])
    first = free[0].token_ids.index(eos)
    assert ours[0].token_ids == free[0].token_ids[: first + 1]
    assert ours[0].finish_reason == "stop"
    assert ours[0].text == decode(tok, free[0].token_ids[:first])
    ids = [encode(tok, p, special=True) for p in PROMPTS]
    assert [c.token_ids for c in ours] == _hf_generate(_hf(model), ids, 16, eos=eos)
    for prompt, c in zip(PROMPTS, ours, strict=True):  # dropping finished rows from the cache is exact
        assert generate(model, tok, [prompt], max_new_tokens=16, eos_ids=[eos])[0] == c


def test_stop_string_is_cut_from_text_and_ends_generation(tok):
    model = _model(tok)
    full = generate(model, tok, PROMPTS[:1], max_new_tokens=24, eos_ids=[])[0]
    pieces = [decode(tok, [t]) for t in full.token_ids]
    k = next(i for i in range(4, len(pieces)) if pieces[i].strip() and pieces[i].isascii() and pieces[i].isprintable())
    stop = pieces[k]
    got = generate(model, tok, PROMPTS[:1], max_new_tokens=24, eos_ids=[], stop=["never\x00seen", stop])[0]
    assert got.finish_reason == "stop"
    assert got.text == full.text[: full.text.find(stop)]
    assert stop not in got.text
    assert len(got.token_ids) <= k + 1 < len(full.token_ids)
    assert got.token_ids == full.token_ids[: len(got.token_ids)]


def test_sampling_is_seeded_and_tiny_top_p_is_greedy(tok):
    model = _model(tok)
    kw = dict(max_new_tokens=16, eos_ids=[], temperature=1.0)
    a = generate(model, tok, PROMPTS, seed=123, **kw)
    assert generate(model, tok, PROMPTS, seed=123, **kw) == a
    assert generate(model, tok, PROMPTS, seed=124, **kw) != a
    greedy = generate(model, tok, PROMPTS, max_new_tokens=16, eos_ids=[])
    assert a != greedy
    assert generate(model, tok, PROMPTS, seed=5, top_p=1e-6, **kw) == greedy


def test_nucleus_keeps_only_the_smallest_prefix_reaching_top_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    gen = torch.Generator().manual_seed(0)
    seen = {int(next_tokens(logits, 1.0, 0.7, gen)) for _ in range(400)}
    assert seen == {0, 1}  # 0.5 < 0.7 so token 1 is needed; 0.8 >= 0.7 so token 2 is not
    seen = {int(next_tokens(logits, 1.0, 0.5, gen)) for _ in range(100)}
    assert seen == {0}
    seen = {int(next_tokens(logits, 1.0, 1.0, gen)) for _ in range(400)}
    assert seen == {0, 1, 2, 3}
    assert next_tokens(torch.tensor([[0.0, 2.0, 2.0, 1.0]]), 0.0, 1.0, None).tolist() == [1]


def test_cached_logits_equal_uncached_forward(tok):
    model = _model(tok, n_heads=8, n_kv_heads=2)
    x = torch.randint(0, model.cfg.vocab_size, (2, 20), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        full = model(x)
        cache = KVCache(model.cfg, 2, 24)
        parts = [model(x[:, :7], cache)]
        parts += [model(x[:, i : i + 1], cache) for i in range(7, 12)]
        parts.append(model(x[:, 12:], cache))  # a multi-token chunk after the past: offset causal mask
        torch.testing.assert_close(torch.cat(parts, 1), full, rtol=0, atol=1e-5)
        # left padding: row 1 holds only x[1, 5:] behind five pad tokens
        key_mask = torch.ones(2, 20, dtype=torch.bool)
        key_mask[1, :5] = False
        padded = x.clone()
        padded[1, :5] = PAD
        positions = (key_mask.long().cumsum(-1) - 1).clamp(min=0)
        cache = KVCache(model.cfg, 2, 24)
        got = model(padded[:, :15], cache, positions=positions[:, :15], key_mask=key_mask[:, :15])
        step_mask = torch.cat([key_mask, torch.ones(2, 1, dtype=torch.bool)], 1)
        for i in range(15, 20):
            got = torch.cat([got, model(padded[:, i : i + 1], cache, positions=positions[:, i : i + 1],
                                        key_mask=step_mask[:, : i + 1])], 1)
        torch.testing.assert_close(got[0], full[0], rtol=0, atol=1e-5)
        torch.testing.assert_close(got[1, 5:], model(x[1:, 5:])[0], rtol=0, atol=1e-5)
        assert torch.isfinite(got).all()
        # one row with the transposed head copy generate uses on CPU for one- and two-row batches
        cache = KVCache(model.cfg, 1, 24)
        cache.head_t = model.lm_head.weight.t().contiguous()
        parts = [model(x[:1, :10], cache)] + [model(x[:1, i : i + 1], cache) for i in range(10, 20)]
        torch.testing.assert_close(torch.cat(parts, 1), full[:1], rtol=0, atol=1e-5)


def test_transformers_tokenizer_is_accepted(tok):
    model = _model(tok)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok)
    ours = generate(model, tok, PROMPTS, max_new_tokens=8, eos_ids=[])
    assert generate(model, fast, PROMPTS, max_new_tokens=8, eos_ids=[]) == ours
    assert isinstance(ours[0], Completion)


@pytest.mark.parametrize(
    ("prompts", "kw", "message"),
    [
        ("a single string", {}, "wrap a single prompt in a list"),
        ([], {}, "non-empty list"),
        ([""], {}, "prompt 0 is empty"),
        ([[1, 2, 10**6]], {}, "token ids in [0, 400)"),
        ([1, 2, 3], {}, "a single token-id prompt is [[id, id, ...]]"),
        (["x"], {"max_new_tokens": 0}, "max_new_tokens must be an int >= 1"),
        (["x"], {"temperature": -1.0}, "temperature must be a number >= 0"),
        (["x"], {"top_p": 0.0}, "top_p must be in (0, 1]"),
        (["x"], {"stop": "\n"}, "stop must be a list"),
        (["x"], {"max_new_tokens": 64}, "lower max_new_tokens"),
    ],
)
def test_bad_input_is_named(tok, prompts, kw, message):
    model = _model(tok)
    with pytest.raises(ValueError) as err:
        generate(model, tok, prompts, **{"max_new_tokens": 4, **kw})
    assert message in str(err.value)


def test_wrong_tokenizer_type_is_named(tok):
    with pytest.raises(TypeError, match="tokenizers.Tokenizer"):
        generate(_model(tok), "gpt2", ["x"], max_new_tokens=2)


def test_transposed_head_copy_follows_weight_updates(tok):
    model = _model(tok)
    before = generate(model, tok, PROMPTS[:1], max_new_tokens=8, eos_ids=[])[0]
    with torch.no_grad():  # an in-place update (as an optimizer step makes) must not reuse the stale copy
        model.lm_head.weight.mul_(-1.0)
    after = generate(model, tok, PROMPTS[:1], max_new_tokens=8, eos_ids=[])[0]
    ids = encode(tok, PROMPTS[0], special=True)
    assert after.token_ids == _hf_generate(_hf(model), [ids], 8)[0]
    assert after.token_ids != before.token_ids
