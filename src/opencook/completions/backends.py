"""Where completions come from: the contract every backend meets, and any OpenAI-compatible server.

A model in this process is the other backend (``opencook.lm.generate.backend.InProcessBackend``). Both take
the same batches (``Batch``: rows of prompts or conversations, one seed), so a model served by
``opencook lm serve`` and the same model in-process give the same greedy completions. A row is one
sample; a problem asked for n samples appears n times in a batch, and each batch brings its own ``stop``
strings and seed, which replace those of the ``Sampling`` it is run with.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from opencook.completions.sampling import Sampling, row_seed


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
    def run(self, batch: Batch, sampling: Sampling) -> list[Sample]: ...

    def record(self) -> dict: ...


class EndpointBackend:
    """Any OpenAI-compatible server (``opencook lm serve``, vLLM, a hosted API): a base batch is one
    ``/v1/completions`` request with a list of prompts; each chat row is one ``/v1/chat/completions`` request.
    ``stream`` reads replies as server-sent events; ``requests_per_minute``/``tokens_per_minute`` keep every
    request of this backend under a hosted API's limits (0: none); ``retries`` counts retries of 429/5xx and
    connection failures, each after the server's ``Retry-After`` or a jittered backoff."""

    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, timeout: float = 600.0, stream: bool = False,
                 requests_per_minute: float = 0, tokens_per_minute: float = 0, retries: int = 3) -> None:
        from opencook.completions.client import RateLimit, list_models

        self.url = url.rstrip("/")
        if not self.url.endswith("/v1"):
            raise ValueError(f"--endpoint {url} should end in /v1 (e.g. http://127.0.0.1:8000/v1)")
        if min(requests_per_minute, tokens_per_minute, retries) < 0:
            raise ValueError("requests_per_minute, tokens_per_minute and retries must be >= 0")
        self.api_key, self.concurrency, self.timeout = api_key, concurrency, timeout
        self.stream, self.retries = stream, retries
        self.rpm, self.tpm = requests_per_minute, tokens_per_minute
        self.limit = RateLimit(requests_per_minute, tokens_per_minute) if requests_per_minute or tokens_per_minute else None
        try:
            self.model = model or list_models(self.url, api_key=api_key, timeout=60)[0]
        except OSError as e:
            raise ConnectionError(f"cannot reach --endpoint {self.url} ({e}): start the server "
                                  "(`opencook lm serve MODEL_DIR`) or fix the URL") from None

    def run(self, batch: Batch, sampling: Sampling) -> list[Sample]:
        from opencook.completions.client import complete

        def fields(seed: int) -> dict:
            return replace(sampling, n=1, seed=seed, stop=batch.stop).openai()

        common = {"model": self.model, "api_key": self.api_key, "timeout": self.timeout, "stream": self.stream,
                  "limit": self.limit, "retries": self.retries}
        if batch.prompts is not None:
            reply = complete(self.url, list(batch.prompts), **common, **fields(batch.seed))
            return [Sample(t, r or "unknown") for t, r in zip(reply.texts, reply.finish_reasons, strict=True)]

        def one(row: tuple[int, Sequence[dict[str, str]]]) -> Sample:
            i, conv = row
            reply = complete(self.url, messages=list(conv), **common,
                             **fields(row_seed(batch.seed, i)))
            return Sample(reply.text, reply.finish_reasons[0] or "unknown")

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, enumerate(batch.conversations)))

    def record(self) -> dict:
        return {"type": "endpoint", "url": self.url, "model": self.model, "concurrency": self.concurrency,
                "stream": self.stream, "requests_per_minute": self.rpm, "tokens_per_minute": self.tpm}
