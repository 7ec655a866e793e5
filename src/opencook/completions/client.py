"""A client for any OpenAI-compatible server (this one, vLLM, OpenAI itself), on httpx.

Evaluation and synthetic-data code call ``complete`` and do not care which server answers. Connections are
pooled per server and reused across calls and threads. A 429 or 503 is retried after the server's
``Retry-After`` (else an exponential backoff with jitter); connection failures are retried the same way.
``RateLimit`` keeps a caller under a hosted API's requests- and tokens-per-minute limits. With
``stream=True`` the reply is read as server-sent events and assembled into the same ``Reply``.
Errors keep the standard types callers catch: ``ServerError`` (an HTTP error status), ``TimeoutError``,
``ConnectionError``.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

RETRY_STATUS = (429, 502, 503, 504)


class ServerError(RuntimeError):
    """The server answered with an error: ``status``, its ``message`` and its ``Retry-After`` (seconds or None),
    for callers that retry on their own."""

    def __init__(self, status: int, message: str, url: str, retry_after: str | None = None) -> None:
        super().__init__(f"{url} answered {status}: {message}")
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass
class Reply:
    """One response: a text and a finish reason per choice, the token usage, and the raw JSON."""

    texts: list[str]
    finish_reasons: list[str]
    usage: dict[str, int] = field(default_factory=dict)
    response: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The first (for a single prompt, the only) choice's text."""
        return self.texts[0]


class RateLimit:
    """Requests and tokens per minute, as hosted APIs meter them (0: no limit). A request reserves its
    estimated tokens (prompt characters / 4 + max_tokens) before it is sent; ``settle`` corrects the
    estimate with the usage the server reports."""

    def __init__(self, requests_per_minute: float = 0, tokens_per_minute: float = 0) -> None:
        self.rpm, self.tpm = requests_per_minute, tokens_per_minute
        self._lock = threading.Lock()
        self._requests = float(requests_per_minute)
        self._tokens = float(tokens_per_minute)
        self._at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed, self._at = now - self._at, now
        self._requests = min(self.rpm, self._requests + elapsed * self.rpm / 60)
        self._tokens = min(self.tpm, self._tokens + elapsed * self.tpm / 60)

    def acquire(self, tokens: int) -> None:
        tokens = min(tokens, int(self.tpm)) if self.tpm else tokens
        while True:
            with self._lock:
                self._refill()
                need_r = 1 - self._requests if self.rpm else 0
                need_t = tokens - self._tokens if self.tpm else 0
                if need_r <= 0 and need_t <= 0:
                    self._requests -= 1 if self.rpm else 0
                    self._tokens -= tokens if self.tpm else 0
                    return
                wait = max(need_r * 60 / self.rpm if self.rpm else 0, need_t * 60 / self.tpm if self.tpm else 0)
            time.sleep(min(wait, 5.0))

    def settle(self, estimated: int, used: int) -> None:
        if self.tpm:
            with self._lock:
                self._tokens += estimated - used


_CLIENTS: dict[tuple[str, float], httpx.Client] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(base: str, timeout: float) -> httpx.Client:
    """One pooled client per (server, timeout), shared by every thread of this process."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get((base, timeout))
        if client is None:
            client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
                                  limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
            _CLIENTS[(base, timeout)] = client
        return client


def _message(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def retry_delay(attempt: int, backoff: float, retry_after: str | None = None) -> float:
    """Seconds before retry ``attempt`` (0-based): the server's ``Retry-After`` when it gave one, else an
    exponential backoff with jitter."""
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    return backoff * 2**attempt * (0.5 + random.random())  # jitter: retries of many clients spread out


def _send(base: str, path: str, payload: dict | None, api_key: str | None, timeout: float, retries: int,
          backoff: float, stream: bool) -> dict:
    headers = {"Content-Type": "application/json"}
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = f"{base}{path}"
    client = _client(base, timeout)
    for attempt in range(retries + 1):
        try:
            if payload is None:
                response = client.get(url, headers=headers)
                if response.status_code < 400:
                    return response.json()
            elif stream:
                with client.stream("POST", url, headers=headers, json=payload) as response:
                    if response.status_code < 400:
                        return _assemble(response)
                    response.read()
            else:
                response = client.post(url, headers=headers, json=payload)
                if response.status_code < 400:
                    return response.json()
        except httpx.TimeoutException as e:
            if attempt == retries:
                raise TimeoutError(f"{url} did not answer within {timeout} s") from e
            time.sleep(retry_delay(attempt, backoff))
            continue
        except httpx.TransportError as e:
            if attempt == retries:
                raise ConnectionError(f"cannot reach {url}: {e}") from e
            time.sleep(retry_delay(attempt, backoff))
            continue
        if response.status_code not in RETRY_STATUS or attempt == retries:
            raise ServerError(response.status_code, _message(response), url, response.headers.get("Retry-After"))
        time.sleep(retry_delay(attempt, backoff, response.headers.get("Retry-After")))
    raise AssertionError("unreachable")


def _assemble(response: httpx.Response) -> dict:
    """A streamed reply (server-sent events) as the whole response it stands for."""
    texts: dict[int, list[str]] = {}
    finish: dict[int, str | None] = {}
    usage: dict = {}
    chat = False
    for line in response.iter_lines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if "error" in event:
            raise ServerError(500, event["error"].get("message", ""), str(response.url))
        usage = event.get("usage") or usage
        for c in event.get("choices", []):
            i = c["index"]
            chat = chat or "delta" in c
            piece = (c.get("delta") or {}).get("content") if "delta" in c else c.get("text")
            texts.setdefault(i, []).append(piece or "")
            if c.get("finish_reason") is not None:
                finish[i] = c["finish_reason"]
    choices = []
    for i in sorted(texts):
        text = "".join(texts[i])
        body = {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        choices.append({"index": i, **body, "finish_reason": finish.get(i)})
    return {"choices": choices, "usage": usage, "streamed": True}


def list_models(base_url: str, *, api_key: str | None = None, timeout: float = 30.0, retries: int = 3,
                backoff: float = 1.0) -> list[str]:
    """The model ids the server offers (``GET /v1/models``)."""
    out = _send(base_url.rstrip("/"), "/models", None, api_key, timeout, retries, backoff, False)
    return [m["id"] for m in out["data"]]


def complete(base_url: str, prompt: str | Sequence[str] | None = None, *,
             messages: Sequence[dict[str, str]] | None = None, model: str | None = None,
             api_key: str | None = None, timeout: float = 600.0, retries: int = 3, backoff: float = 1.0,
             stream: bool = False, limit: RateLimit | None = None, **knobs: object) -> Reply:
    """``prompt`` via ``/completions`` or ``messages`` via ``/chat/completions`` at ``base_url`` (ending in
    ``/v1``). ``knobs`` go into the request as they are: max_tokens, temperature, top_p, stop, seed.
    ``model=None`` asks the server for its first model, as vLLM requires a name. ``retries`` counts retries
    of 429/5xx answers and connection failures; ``stream`` reads the reply as server-sent events."""
    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt= (text completion) or messages= (chat)")
    base = base_url.rstrip("/")
    model = model or list_models(base, api_key=api_key)[0]
    if messages is not None:
        path, payload = "/chat/completions", {"model": model, "messages": list(messages), **knobs}
        chars = sum(len(m.get("content") or "") for m in messages)
    else:
        body_prompt = prompt if isinstance(prompt, str) else list(prompt)
        path, payload = "/completions", {"model": model, "prompt": body_prompt, **knobs}
        chars = len(prompt) if isinstance(prompt, str) else sum(len(p) for p in prompt)
    if stream:
        payload = {**payload, "stream": True, "stream_options": {"include_usage": True}}
    estimate = chars // 4 + int(knobs.get("max_tokens") or 16)  # type: ignore[call-overload]
    if limit is not None:
        limit.acquire(estimate)
    try:
        out = _send(base, path, payload, api_key, timeout, retries, backoff, stream)
    except ServerError:
        if limit is not None:
            limit.settle(estimate, 0)  # refused: it used none of the budget
        raise
    if limit is not None:
        limit.settle(estimate, int((out.get("usage") or {}).get("total_tokens", estimate)))
    choices = sorted(out["choices"], key=lambda c: c["index"])
    texts = [c["message"]["content"] if messages is not None else c["text"] for c in choices]
    reasons = [c.get("finish_reason") for c in choices]
    return Reply(texts=texts, finish_reasons=reasons, usage=out.get("usage", {}), response=out)
