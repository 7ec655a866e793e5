"""Batched KV-cache decoding for ``Llama``: left padding, greedy or nucleus sampling, stop strings, EOS.

One prefill forward over the left-padded prompts fills a preallocated ``KVCache``; each later step feeds
one token per unfinished row. Rows that finish (EOS, a stop string, or the length limit) are dropped
from the batch and the cache, so they stop costing compute.
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch
from tokenizers import Tokenizer

from opencook.completions.sampling import Sampling
from opencook.lm.generate.sampling import next_tokens
from opencook.lm.model.llama import KVCache, Llama
from opencook.tokenizer import decode, encode

EOS_TOKENS = ("<|endoftext|>", "<|im_end|>")


@dataclass
class Completion:
    """One generated continuation. ``token_ids`` holds every generated token (an ending EOS included);
    ``text`` is their decoded text without the EOS token and cut before a matched stop string."""

    text: str
    token_ids: list[int]
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int


def as_tokenizer(tokenizer: object) -> Tokenizer:
    """A ``tokenizers.Tokenizer``, also unwrapped from a ``transformers`` fast tokenizer."""
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if isinstance(backend, Tokenizer):
        return backend
    raise TypeError(f"tokenizer must be a tokenizers.Tokenizer or a transformers fast tokenizer, "
                    f"got {type(tokenizer).__name__}: load one with opencook.tokenizer.load_tokenizer(dir)")


def default_eos_ids(tokenizer: Tokenizer) -> list[int]:
    """``<|endoftext|>`` and ``<|im_end|>``, where the vocabulary has them."""
    ids = (tokenizer.token_to_id(t) for t in EOS_TOKENS)
    return [i for i in ids if i is not None]


def _prompt_ids(tokenizer: Tokenizer, prompts: Sequence[str] | Sequence[Sequence[int]], vocab: int) -> list[list[int]]:
    if isinstance(prompts, str | bytes) or not isinstance(prompts, Sequence) or not prompts:
        raise ValueError("prompts must be a non-empty list of strings or of token-id lists "
                         f"(got {type(prompts).__name__}); wrap a single prompt in a list")
    out = []
    for i, p in enumerate(prompts):
        if not isinstance(p, str | Sequence):
            raise ValueError(f"prompt {i} must be a string or a list of int token ids, got {type(p).__name__}; "
                             "a single token-id prompt is [[id, id, ...]]")
        ids = encode(tokenizer, p, special=True) if isinstance(p, str) else list(p)
        if not ids:
            raise ValueError(f"prompt {i} is empty: give at least one token")
        if not all(isinstance(t, int) and 0 <= t < vocab for t in ids):
            raise ValueError(f"prompt {i} must be a string or a list of int token ids in [0, {vocab})")
        out.append(ids)
    return out


_HEAD_T: weakref.WeakKeyDictionary[Llama, tuple[int, int, torch.Tensor]] = weakref.WeakKeyDictionary()


def _transposed_head(model: Llama) -> torch.Tensor:
    """``lm_head.weight.t().contiguous()``, kept per model (one extra copy of the head, freed with the model)
    so a server does not copy it per request; rebuilt when the weight is replaced or updated in place."""
    weight = model.lm_head.weight
    key = (weight.data_ptr(), weight._version)
    cached = _HEAD_T.get(model)
    if cached is None or cached[:2] != key:
        _HEAD_T[model] = (*key, weight.detach().t().contiguous())
    return _HEAD_T[model][2]


def _first_stop(text: str, stop: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(hits) if hits else None


@torch.inference_mode()
def generate(model: Llama, tokenizer: object, prompts: Sequence[str] | Sequence[Sequence[int]],
             sampling: Sampling | None = None, *, eos_ids: Sequence[int] | None = None,
             **settings) -> list[Completion]:
    """Complete each prompt (a string, or token ids) with up to ``max_new_tokens`` tokens, in one batch.

    ``sampling`` says how (``Sampling(seed=None)`` when None: a random seed); keyword ``settings`` are ``Sampling`` fields that
    replace its own, for a one-off call: ``generate(model, tok, prompts, max_new_tokens=16)``. A sequence
    ends at any of ``eos_ids`` (default: ``<|endoftext|>`` and ``<|im_end|>``) or when its decoded text
    contains one of the stop strings (cut from the returned text, as OpenAI does); both give
    ``finish_reason="stop"``. One completion per prompt: for n samples, repeat the prompt n times."""
    sampling = replace(sampling or Sampling(seed=None), **settings)  # no seed given: a random one, as before
    if sampling.n != 1:
        raise ValueError(f"generate returns one completion per prompt, got n={sampling.n}: repeat each prompt "
                         "n times (with temperature > 0) instead")
    max_new_tokens, temperature, top_p, stop = (sampling.max_new_tokens, sampling.temperature, sampling.top_p,
                                                sampling.stop)
    tok = as_tokenizer(tokenizer)
    cfg = model.cfg
    eos = set(default_eos_ids(tok) if eos_ids is None else eos_ids)
    ids = _prompt_ids(tok, prompts, cfg.vocab_size)
    lens = [len(p) for p in ids]
    b, t = len(ids), max(lens)
    if t + max_new_tokens > cfg.max_seq_len:
        raise ValueError(f"the longest prompt ({t} tokens) + max_new_tokens ({max_new_tokens}) exceeds the "
                         f"model's context of {cfg.max_seq_len}: shorten the prompt or lower max_new_tokens")

    weight = model.embed_tokens.weight
    device = weight.device
    tokens = torch.zeros(b, t, dtype=torch.long)
    key_mask = torch.zeros(b, t + max_new_tokens, dtype=torch.bool)
    for i, p in enumerate(ids):
        tokens[i, t - len(p):] = torch.tensor(p)
        key_mask[i, t - len(p):] = True
    tokens, key_mask = tokens.to(device), key_mask.to(device)
    padded = min(lens) < t
    cache = KVCache(cfg, b, t + max_new_tokens, dtype=weight.dtype, device=device)
    if device.type == "cpu" and b <= 2 and max_new_tokens >= 8:  # the copy pays for itself within a few steps
        cache.head_t = _transposed_head(model)
    positions = (key_mask[:, :t].long().cumsum(-1) - 1).clamp(min=0) if padded else None
    logits = model(tokens, cache, positions=positions, key_mask=key_mask[:, :t] if padded else None,
                   last_only=True)[:, -1]
    next_pos = torch.tensor(lens, device=device)
    generator = None
    if temperature > 0:
        generator = torch.Generator(device=device)
        generator.manual_seed(random.randrange(2**63) if sampling.seed is None else sampling.seed)

    rows = list(range(b))  # original prompt index of each live batch row
    out: list[list[int]] = [[] for _ in range(b)]
    finish: list[str | None] = [None] * b
    cut: list[int | None] = [None] * b
    for step in range(max_new_tokens):
        chosen = next_tokens(logits, temperature, top_p, generator)
        keep = []
        for j, (r, tid) in enumerate(zip(rows, chosen.tolist(), strict=True)):
            out[r].append(tid)
            if tid in eos:
                finish[r] = "stop"
            elif stop and (hit := _first_stop(decode(tok, out[r]), stop)) is not None:
                finish[r], cut[r] = "stop", hit
            else:
                keep.append(j)
        if step == max_new_tokens - 1 or not keep:
            break
        if len(keep) < len(rows):
            index = torch.tensor(keep, device=device)
            cache.keep(index)
            chosen, next_pos, key_mask = chosen[index], next_pos[index], key_mask[index]
            rows = [rows[j] for j in keep]
        if padded:
            key_mask[:, cache.length] = True
            logits = model(chosen[:, None], cache, positions=next_pos[:, None],
                           key_mask=key_mask[:, : cache.length + 1])[:, -1]
        else:
            logits = model(chosen[:, None], cache)[:, -1]
        next_pos += 1

    completions = []
    for r in range(b):
        gen = out[r]
        text = decode(tok, gen[:-1] if finish[r] == "stop" and cut[r] is None else gen)
        if cut[r] is not None:
            text = text[: cut[r]]
        completions.append(Completion(text=text, token_ids=gen, finish_reason=finish[r] or "length",
                                      prompt_tokens=lens[r]))
    return completions
