"""OpenAI's request and response shapes for /v1/completions and /v1/chat/completions, plain functions of
dicts so they run outside the engine's thread and are tested without a server.

Parsing is strict about what would change the meaning of a request (wrong types, non-finite numbers,
``echo``, ``best_of``) and ignores fields that only tune OpenAI's own service (``user``, penalties = 0).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from opencook.completions.sampling import Sampling
from opencook.lm.generate.decoding import Completion

COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
ROLES = ("system", "user", "assistant", "tool", "developer")
MAX_N = 64
MAX_TOP_LOGPROBS = 20


class RequestError(ValueError):
    """A bad request: becomes an HTTP error with OpenAI's ``{"error": {...}}`` body."""

    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code
        self.headers = headers

    def body(self) -> dict:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


def _number(body: dict, name: str, default: float, lo: float, hi: float, lo_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"'{name}' must be a number, got {type(value).__name__}", name)
    if not math.isfinite(value):
        raise RequestError(f"'{name}' must be a finite number, got {value}", name)
    if value < lo or value > hi or (lo_open and value == lo):
        interval = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise RequestError(f"'{name}' must be in {interval}, got {value}", name)
    return float(value)


def _int(body: dict, name: str, minimum: int, maximum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum and value > maximum):
        bound = f">= {minimum}" + (f" and <= {maximum}" if maximum else "")
        raise RequestError(f"'{name}' must be an integer {bound}, got {value!r}", name)
    return value


@dataclass(frozen=True)
class Ask:
    """One parsed request: per-sample settings (``sampling.n`` is 1), ``n`` choices per prompt, streaming,
    and ``logprobs`` (None: off; k: the chosen token's logprob and the top k). ``max_tokens`` is None when
    the request named none."""

    sampling: Sampling
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    logprobs: int | None = None
    max_tokens: int | None = None


def _penalties(body: dict) -> None:
    for name in ("presence_penalty", "frequency_penalty"):
        if _number(body, name, 0.0, -2.0, 2.0) != 0:
            raise RequestError(f"'{name}' must be 0 on this server", name)


def parse_ask(body: dict, default_max_tokens: int, chat: bool) -> Ask:
    """The settings of ``body`` with OpenAI's defaults (temperature 1, no seed, ``default_max_tokens``)."""
    if body.get("echo"):
        raise RequestError("'echo' is not supported by this server; leave it false", "echo")
    if body.get("best_of") not in (None, 1):
        raise RequestError("'best_of' must be 1 on this server", "best_of")
    _penalties(body)
    n = _int(body, "n", 1, MAX_N) or 1
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise RequestError(f"'stream' must be true or false, got {stream!r}", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise RequestError("'stream_options' must be an object like {\"include_usage\": true}", "stream_options")
    if chat:
        want = body.get("logprobs")
        if want is not None and not isinstance(want, bool):
            raise RequestError(f"'logprobs' must be true or false on chat, got {want!r}", "logprobs")
        top = _int(body, "top_logprobs", 0, MAX_TOP_LOGPROBS)
        if top is not None and not want:
            raise RequestError("'top_logprobs' needs 'logprobs': true", "top_logprobs")
        logprobs = (top or 0) if want else None
    else:
        logprobs = _int(body, "logprobs", 0, 5)
    stop = body.get("stop")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise RequestError("'stop' must be a non-empty string or a list of non-empty strings", "stop")
    max_tokens = _int(body, "max_tokens", 1)
    if "max_completion_tokens" in body:
        max_tokens = _int(body, "max_completion_tokens", 1)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise RequestError(f"'seed' must be an integer in [0, 2**63), got {seed!r}", "seed")
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    sampling = Sampling(temperature=temperature, top_p=_number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True),
                        max_new_tokens=default_max_tokens if max_tokens is None else max_tokens, seed=seed,
                        stop=stop)
    return Ask(sampling, n, bool(stream), bool(options.get("include_usage")), logprobs, max_tokens)


def parse_sampling(body: dict, default_max_tokens: int) -> Sampling:
    """Only the sampling settings of a completions request (``opencook lm generate``)."""
    return parse_ask(body, default_max_tokens, chat=False).sampling


def parse_prompts(body: dict) -> list[str] | list[list[int]]:
    """``prompt``: a string, a list of strings, a list of token ids, or a list of token-id lists."""
    if "prompt" not in body:
        raise RequestError("missing required field 'prompt' (a string or a list of strings)", "prompt")
    prompt = body["prompt"]
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return prompt
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            return [prompt]
        if all(isinstance(p, list) and p and all(isinstance(t, int) and not isinstance(t, bool) for t in p)
               for p in prompt):
            return prompt
    raise RequestError("'prompt' must be a string, a non-empty list of strings, or token-id lists", "prompt")


def _content(message: dict, i: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise RequestError(f"messages[{i}].content must be a string or a list of text parts", f"messages[{i}].content")


def parse_messages(body: dict) -> list[dict[str, str]]:
    """``messages``: a non-empty list of ``{role, content}`` objects with text content."""
    messages = body.get("messages")
    if messages is None:
        raise RequestError("missing required field 'messages' (a list of {role, content} objects)", "messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list of {role, content} objects", "messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise RequestError(f"messages[{i}] must be an object with 'role' and 'content'", f"messages[{i}]")
        if m.get("role") not in ROLES:
            raise RequestError(f"messages[{i}].role must be one of {list(ROLES)}, got {m.get('role')!r}",
                               f"messages[{i}].role")
        out.append({"role": m["role"], "content": _content(m, i)})
    return out


# ---- responses ------------------------------------------------------------------------------------------
def new_id(chat: bool) -> str:
    return f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"


def usage(completions: Sequence[Completion]) -> dict[str, int]:
    """Prompt tokens are counted once per prompt, as OpenAI does for ``n > 1``."""
    prompt = sum(c.prompt_tokens for c in completions)
    completion = sum(len(c.token_ids) for c in completions)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@dataclass(frozen=True)
class TokenLogprobs:
    """The logprobs of some generated tokens: their strings, each one's logprob and top alternatives."""

    tokens: list[str]
    logprobs: list[float]
    top: list[list[tuple[str, float]]]


def completion_logprobs(lp: TokenLogprobs, offset: int = 0) -> dict:
    offsets, at = [], offset
    for t in lp.tokens:
        offsets.append(at)
        at += len(t)
    return {"tokens": lp.tokens, "token_logprobs": lp.logprobs, "text_offset": offsets,
            "top_logprobs": [dict(row) for row in lp.top] if lp.top else None}


def chat_logprobs(lp: TokenLogprobs) -> dict:
    def entry(token: str, value: float) -> dict:
        return {"token": token, "logprob": value, "bytes": list(token.encode())}

    content = [{**entry(t, v), "top_logprobs": [entry(a, b) for a, b in (lp.top[i] if lp.top else [])]}
               for i, (t, v) in enumerate(zip(lp.tokens, lp.logprobs, strict=True))]
    return {"content": content, "refusal": None}


def completion_response(model: str, completions: Sequence[Completion],
                        logprobs: Sequence[TokenLogprobs | None] | None = None, prompt_tokens: int | None = None) -> dict:
    choices = [{"index": i, "text": c.text, "finish_reason": c.finish_reason,
                "logprobs": completion_logprobs(logprobs[i]) if logprobs and logprobs[i] else None}
               for i, c in enumerate(completions)]
    u = usage(completions)
    if prompt_tokens is not None:
        u = {**u, "prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + u["completion_tokens"]}
    return {"id": new_id(False), "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": u}


def chat_response(model: str, completions: Sequence[Completion] | Completion,
                  logprobs: Sequence[TokenLogprobs | None] | None = None) -> dict:
    completions = [completions] if isinstance(completions, Completion) else list(completions)
    choices = [{"index": i, "message": {"role": "assistant", "content": c.text}, "finish_reason": c.finish_reason,
                "logprobs": chat_logprobs(logprobs[i]) if logprobs and logprobs[i] else None}
               for i, c in enumerate(completions)]
    u = usage(completions[:1])
    u = {**u, "completion_tokens": sum(len(c.token_ids) for c in completions)}
    u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
    return {"id": new_id(True), "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": u}


def chunk(rid: str, model: str, chat: bool, index: int, text: str | None, finish: str | None,
          logprobs: dict | None = None, first: bool = False) -> dict:
    """One server-sent event's payload: a text delta (or the role, or the finish) of choice ``index``."""
    if chat:
        delta: dict = {"role": "assistant", "content": ""} if first else ({"content": text} if text else {})
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        kind = "chat.completion.chunk"
    else:
        choice = {"index": index, "text": text or "", "logprobs": logprobs, "finish_reason": finish}
        kind = "text_completion"
    return {"id": rid, "object": kind, "created": int(time.time()), "model": model, "choices": [choice]}


def usage_chunk(rid: str, model: str, chat: bool, u: dict) -> dict:
    return {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()), "model": model, "choices": [], "usage": u}
