"""Where completions come from: the contract every backend meets, and any OpenAI-compatible server.

A model in this process is the other backend (``opencook.lm.generate.backend.InProcessBackend``). Both take
the same batches (``Batch``: rows of prompts or conversations, one seed), so a model served by
``opencook lm serve`` and the same model in-process give the same greedy completions. A row is one
sample; a problem asked for n samples appears n times in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol


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


class EndpointBackend:
    """Any OpenAI-compatible server (``opencook lm serve``, vLLM): a base batch is one ``/v1/completions``
    request with a list of prompts; each chat row is one ``/v1/chat/completions`` request."""

    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, timeout: float = 600.0) -> None:
        from opencook.completions.client import list_models

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
        from opencook.completions.client import complete

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
