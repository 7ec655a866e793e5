"""A dependency-free client for any OpenAI-compatible server (this one, vLLM, OpenAI itself).

Evaluation and synthetic-data code call ``complete`` and do not care which server answers.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field


class ServerError(RuntimeError):
    """The server answered with an error: ``status`` and its ``message``."""

    def __init__(self, status: int, message: str, url: str) -> None:
        super().__init__(f"{url} answered {status}: {message}")
        self.status, self.message = status, message


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


def _request(url: str, payload: dict | None, api_key: str | None, timeout: float) -> dict:
    headers = {"Content-Type": "application/json"}
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            message = json.loads(raw)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = raw.decode(errors="replace")[:500]
        raise ServerError(e.code, message, url) from None


def list_models(base_url: str, *, api_key: str | None = None, timeout: float = 30.0) -> list[str]:
    """The model ids the server offers (``GET /v1/models``)."""
    return [m["id"] for m in _request(f"{base_url.rstrip('/')}/models", None, api_key, timeout)["data"]]


def complete(base_url: str, prompt: str | Sequence[str] | None = None, *,
             messages: Sequence[dict[str, str]] | None = None, model: str | None = None,
             api_key: str | None = None, timeout: float = 600.0, **knobs: object) -> Reply:
    """``prompt`` via ``/completions`` or ``messages`` via ``/chat/completions`` at ``base_url`` (ending in
    ``/v1``). ``knobs`` go into the request as they are: max_tokens, temperature, top_p, stop, seed.
    ``model=None`` asks the server for its first model, as vLLM requires a name."""
    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt= (text completion) or messages= (chat)")
    base = base_url.rstrip("/")
    model = model or list_models(base, api_key=api_key)[0]
    if messages is not None:
        out = _request(f"{base}/chat/completions", {"model": model, "messages": list(messages), **knobs},
                       api_key, timeout)
    else:
        body_prompt = prompt if isinstance(prompt, str) else list(prompt)
        out = _request(f"{base}/completions", {"model": model, "prompt": body_prompt, **knobs}, api_key, timeout)
    choices = sorted(out["choices"], key=lambda c: c["index"])
    texts = [c["message"]["content"] if messages is not None else c["text"] for c in choices]
    reasons = [c.get("finish_reason") for c in choices]
    return Reply(texts=texts, finish_reasons=reasons, usage=out.get("usage", {}), response=out)
