"""The continuous-batching engine: the same greedy tokens as ``generate``, whatever shares the batch;
per-request seeds, stop strings, EOS and limits; cancels free slots; logprobs are the model's."""

from __future__ import annotations

import threading

import pytest
import torch

from lm_assets import tiny_llama, tiny_tokenizer
from opencook.completions.sampling import Sampling
from opencook.lm.generate import generate
from opencook.lm.generate.engine import Engine, EngineConfig, QueueFull
from opencook.tokenizer import encode

PROMPTS = ["def forward(self, x):", "import torch", "class Llama(nn.Module):\n    def __init__(self",
           "return", "x = torch.zeros(3)\ny = x + 1\nprint(y", "for i in range(10):"]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    return tiny_llama(tok, max_seq_len=96)


def _ids(tok):
    return [encode(tok, p, special=True) for p in PROMPTS]


def test_greedy_equals_generate_with_fewer_slots_than_requests(tok, model):
    ids = _ids(tok)
    # limits differ per request, so rows retire at different steps and newcomers join mid-batch
    limits = [5, 30, 12, 40, 8, 25]
    want = [generate(model, tok, [p], max_new_tokens=n, eos_ids=[])[0].token_ids for p, n in zip(ids, limits, strict=True)]
    engine = Engine(model, tok, EngineConfig(slots=3))
    reqs = [engine.submit(p, Sampling(max_new_tokens=n), []) for p, n in zip(ids, limits, strict=True)]
    got = [r.result(60) for r in reqs]
    engine.close()
    assert [c.token_ids for c in got] == want
    assert [len(c.token_ids) for c in got] == limits
    assert all(c.finish_reason == "length" for c in got)
    assert [c.prompt_tokens for c in got] == [len(p) for p in ids]


def test_stop_strings_eos_and_context_limit(tok, model):
    ids = _ids(tok)
    ref = generate(model, tok, [ids[0]], max_new_tokens=20, eos_ids=[])[0]
    eos = ref.token_ids[6]
    stop = ref.text[len(ref.text) // 2: len(ref.text) // 2 + 2]
    engine = Engine(model, tok, EngineConfig(slots=2))
    by_eos = engine.submit(ids[0], Sampling(max_new_tokens=20), [eos]).result(60)
    assert by_eos.finish_reason == "stop" and by_eos.token_ids == ref.token_ids[: ref.token_ids.index(eos) + 1]
    want = generate(model, tok, [ids[0]], max_new_tokens=20, eos_ids=[], stop=[stop])[0]
    by_stop = engine.submit(ids[0], Sampling(max_new_tokens=20, stop=(stop,)), []).result(60)
    assert (by_stop.text, by_stop.finish_reason) == (want.text, "stop") and stop not in by_stop.text
    long = engine.submit(ids[2], Sampling(max_new_tokens=500), []).result(60)  # the context (96) caps it
    assert long.finish_reason == "length" and len(ids[2]) + len(long.token_ids) == 96
    with pytest.raises(ValueError, match="fills the model's context of 96"):
        engine.submit(list(range(96)), Sampling(), [])
    engine.close()


def test_sampled_rows_depend_on_their_seed_only(tok, model):
    ids = _ids(tok)
    s = Sampling(temperature=1.0, max_new_tokens=12, seed=7)
    alone = Engine(model, tok, EngineConfig(slots=1))
    a = alone.submit(ids[1], s, []).result(60).token_ids
    alone.close()
    crowd = Engine(model, tok, EngineConfig(slots=4))
    others = [crowd.submit(p, Sampling(temperature=0.9, max_new_tokens=9, seed=i), []) for i, p in enumerate(ids)]
    b = crowd.submit(ids[1], s, []).result(60).token_ids
    c = crowd.submit(ids[1], Sampling(temperature=1.0, max_new_tokens=12, seed=8), []).result(60).token_ids
    [o.result(60) for o in others]
    crowd.close()
    assert a == b and a != c


def test_cancel_frees_the_slot_and_listener_streams_tokens(tok, model):
    ids = _ids(tok)
    engine = Engine(model, tok, EngineConfig(slots=1))
    seen = []
    gate = threading.Event()

    def listen(req):
        seen.append(len(req.token_ids))
        if len(req.token_ids) == 3:
            req.cancel()
            gate.set()

    first = engine.submit(ids[0], Sampling(max_new_tokens=80), [], listener=listen)
    second = engine.submit(ids[1], Sampling(max_new_tokens=4), [])
    assert gate.wait(60)
    assert first.result(60).finish_reason == "cancelled" and len(first.token_ids) < 80
    assert second.result(60).finish_reason == "length"  # the one slot was freed for it
    assert seen[:3] == [1, 2, 3]
    engine.close()


def test_logprobs_are_the_models_log_softmax(tok, model):
    ids = _ids(tok)[3]
    engine = Engine(model, tok, EngineConfig(slots=2))
    req = engine.submit(ids, Sampling(max_new_tokens=3), [], logprobs=2)
    c = req.result(60)
    engine.close()
    with torch.no_grad():
        full = torch.log_softmax(model(torch.tensor([ids + c.token_ids]))[0].float(), -1)
    for j, tid in enumerate(c.token_ids):
        row = full[len(ids) - 1 + j]
        assert req.token_logprobs[j] == pytest.approx(float(row[tid]), abs=1e-4)
        assert req.top_logprobs[j][0][0] == tid == int(row.argmax())
        assert len(req.top_logprobs[j]) == 2


def test_full_queue_is_refused(tok, model):
    engine = Engine(model, tok, EngineConfig(slots=1, max_queue=1))
    with engine._cv:  # hold the engine thread out, so the queue cannot drain while we fill it
        engine.submit([1, 2], Sampling(max_new_tokens=2), [])
        with pytest.raises(QueueFull):
            engine.submit([1, 2], Sampling(max_new_tokens=2), [])
    engine.close()
