"""Where completions come from: a model in this process, or any OpenAI-compatible server.

Both take the same batches (``Batch``: rows of prompts or conversations, one seed), so a model served by
``opencook lm serve`` and the same model in-process give the same greedy completions. A row is one
sample; a problem asked for n samples appears n times in a batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from opencook.evals.datasets import DatasetError


@dataclass(frozen=True)
class Decoding:
    """Sampling settings. ``temperature == 0`` is greedy; ``seed`` seeds batch b as ``seed + b``."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int = 0
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError(f"n, max_new_tokens and batch_size must be >= 1, got {self}")
        if not 0.0 <= self.temperature <= 2.0 or not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"temperature must be in [0, 2] and top_p in (0, 1], got {self.temperature}, {self.top_p}")
        if self.n > 1 and self.temperature == 0.0:
            raise ValueError(f"n={self.n} greedy samples would all be identical: set --temperature (e.g. 0.8) "
                             "or use --n 1")


@dataclass(frozen=True)
class Batch:
    """Rows to complete together: ``prompts`` (base) or ``conversations`` (chat), with one ``stop`` list."""

    index: int
    prompts: tuple[str, ...] | None
    conversations: tuple[tuple[dict[str, str], ...], ...] | None
    stop: tuple[str, ...]
    seed: int


@dataclass(frozen=True)
class Sample:
    text: str
    finish_reason: str


class Backend(Protocol):
    def run(self, batch: Batch, decoding: Decoding) -> list[Sample]: ...

    def record(self) -> dict: ...


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _served_from_checkpoint(path: Path, dtype):
    """A training run or checkpoint, with the tokenizer (and chat template) its ``trainer.json`` names."""
    from opencook.lm.generate.decoding import default_eos_ids
    from opencook.lm.generate.served import ServedModel
    from opencook.lm.tokenizer import load_tokenizer
    from opencook.lm.train.checkpoint import load_model_for_export

    model, state = load_model_for_export(path)
    tok_dir = state.get("tokenizer") if isinstance(state, dict) else None
    if not tok_dir:
        raise DatasetError(f"{path} names no tokenizer in its trainer.json: export it with "
                           "`opencook lm export-hf RUN --tokenizer DIR --out HFDIR` and evaluate HFDIR")
    tokenizer = load_tokenizer(tok_dir)
    cfg_file = Path(tok_dir) / "tokenizer_config.json"
    tok_cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
    template = tok_cfg.get("chat_template")
    if dtype is not None:
        model = model.to(dtype)
    return ServedModel(model=model.eval(), tokenizer=tokenizer, name=path.resolve().name,
                       chat_template=template if isinstance(template, str) else None,
                       eos_ids=default_eos_ids(tokenizer),
                       template_vars={k: tok_cfg[k] for k in ("bos_token", "eos_token") if isinstance(tok_cfg.get(k), str)})


class InProcessBackend:
    """A Hugging Face LLaMA directory or an opencook training run/checkpoint, generated with ``generate``."""

    def __init__(self, path: str | Path, *, dtype=None) -> None:
        from opencook.lm.generate.served import load_served_model

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"--model {self.path} does not exist: pass a Hugging Face LLaMA directory "
                                    "(config.json + model.safetensors + tokenizer.json) or a training run")
        if (self.path / "config.json").is_file():
            self.served = load_served_model(self.path, dtype=dtype)
            jinja = self.path / "chat_template.jinja"  # transformers >= 4.43 may keep the template in its own file
            if self.served.chat_template is None and jinja.is_file():
                self.served.chat_template = jinja.read_text(encoding="utf-8")
        else:
            self.served = _served_from_checkpoint(self.path, dtype)

    def _prompt_ids(self, batch: Batch) -> list[list[int]] | list[str]:
        from opencook.lm.generate.chat import render_messages
        from opencook.lm.tokenizer import encode

        if batch.prompts is not None:
            return list(batch.prompts)
        s = self.served
        return [encode(s.tokenizer, render_messages(c, s.chat_template, s.template_vars), special=True)
                for c in batch.conversations]

    def run(self, batch: Batch, decoding: Decoding) -> list[Sample]:
        from opencook.lm.generate.decoding import generate
        from opencook.lm.tokenizer import encode

        s = self.served
        prompts = self._prompt_ids(batch)
        longest = max(len(p) if isinstance(p, list) else len(encode(s.tokenizer, p, special=True)) for p in prompts)
        room = s.model.cfg.max_seq_len - longest
        if room < 1:
            raise ValueError(f"a prompt of batch {batch.index} is {longest} tokens, which fills the model's context "
                             f"of {s.model.cfg.max_seq_len}: evaluate a model with a longer context")
        eos = s.eos_ids if batch.prompts is not None else s.chat_eos_ids
        out = generate(s.model, s.tokenizer, prompts, max_new_tokens=min(decoding.max_new_tokens, room),
                       temperature=decoding.temperature, top_p=decoding.top_p, stop=batch.stop,
                       seed=batch.seed, eos_ids=eos)
        return [Sample(c.text, c.finish_reason) for c in out]

    def record(self) -> dict:
        s, cfg = self.served, self.served.model.cfg
        return {"type": "in-process", "model": str(self.path.resolve()), "name": s.name,
                "dtype": str(s.model.embed_tokens.weight.dtype).removeprefix("torch."),
                "parameters": sum(p.numel() for p in s.model.parameters()), "context": cfg.max_seq_len,
                "eos_ids": s.eos_ids, "chat_eos_ids": s.chat_eos_ids,
                "chat_template_sha256": _sha256(s.chat_template),
                "chat_template": "model's own" if s.chat_template else "built-in ChatML (render_chat)"}


class EndpointBackend:
    """Any OpenAI-compatible server (``opencook lm serve``, vLLM): a base batch is one ``/v1/completions``
    request with a list of prompts; each chat row is one ``/v1/chat/completions`` request."""

    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, timeout: float = 600.0) -> None:
        from opencook.lm.generate.client import list_models

        self.url = url.rstrip("/")
        if not self.url.endswith("/v1"):
            raise ValueError(f"--endpoint {url} should end in /v1 (e.g. http://127.0.0.1:8000/v1)")
        self.api_key, self.concurrency, self.timeout = api_key, concurrency, timeout
        try:
            self.model = model or list_models(self.url, api_key=api_key, timeout=60)[0]
        except OSError as e:
            raise ConnectionError(f"cannot reach --endpoint {self.url} ({e}): start the server "
                                  "(`opencook lm serve MODEL_DIR`) or fix the URL") from None

    def _knobs(self, batch: Batch, decoding: Decoding, seed: int) -> dict:
        knobs: dict[str, object] = {"max_tokens": decoding.max_new_tokens, "temperature": decoding.temperature,
                                    "top_p": decoding.top_p, "seed": seed}
        if batch.stop:
            knobs["stop"] = list(batch.stop)
        return knobs

    def run(self, batch: Batch, decoding: Decoding) -> list[Sample]:
        from opencook.lm.generate.client import complete

        common = {"model": self.model, "api_key": self.api_key, "timeout": self.timeout}
        if batch.prompts is not None:
            reply = complete(self.url, list(batch.prompts), **common, **self._knobs(batch, decoding, batch.seed))
            return [Sample(t, r or "unknown") for t, r in zip(reply.texts, reply.finish_reasons, strict=True)]

        def one(row: tuple[int, Sequence[dict[str, str]]]) -> Sample:
            i, conv = row
            reply = complete(self.url, messages=list(conv), **common,
                             **self._knobs(batch, decoding, batch.seed * 1000 + i))
            return Sample(reply.text, reply.finish_reasons[0] or "unknown")

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, enumerate(batch.conversations)))

    def record(self) -> dict:
        return {"type": "endpoint", "url": self.url, "model": self.model, "concurrency": self.concurrency}
