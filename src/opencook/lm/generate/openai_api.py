"""OpenAI's request and response shapes for /v1/completions and /v1/chat/completions.

Parsing is strict about what would change the meaning of a request (wrong types, ``n > 1``,
streaming) and ignores fields that only tune OpenAI's own service (``user``, ``presence_penalty`` = 0).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from opencook.completions.sampling import Sampling
from opencook.lm.generate.decoding import Completion

COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
ROLES = ("system", "user", "assistant", "tool", "developer")


class RequestError(ValueError):
    """A bad request: becomes an HTTP error with OpenAI's ``{"error": {...}}`` body."""

    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code

    def body(self) -> dict:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


def _number(body: dict, name: str, default: float, lo: float, hi: float, lo_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"'{name}' must be a number, got {type(value).__name__}", name)
    if value < lo or value > hi or (lo_open and value == lo):
        interval = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise RequestError(f"'{name}' must be in {interval}, got {value}", name)
    return float(value)


def _int(body: dict, name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RequestError(f"'{name}' must be an integer >= {minimum}, got {value!r}", name)
    return value


def parse_sampling(body: dict, default_max_tokens: int) -> Sampling:
    """The sampling settings of ``body``, with OpenAI's defaults (temperature 1, no seed) and
    ``default_max_tokens`` when it names none; unsupported options are refused by name."""
    n = body.get("n")
    if n is not None and n != 1:
        raise RequestError(f"'n' must be 1 (got {n!r}): this server returns one choice per prompt; "
                           "send the request n times with different seeds instead", "n")
    for name in ("stream", "echo"):
        if body.get(name):
            raise RequestError(f"'{name}' is not supported by this server; leave it false", name)
    if body.get("logprobs") not in (None, False, 0):
        raise RequestError("'logprobs' is not supported by this server; leave it null", "logprobs")
    if body.get("best_of") not in (None, 1):
        raise RequestError("'best_of' must be 1 on this server", "best_of")
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
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RequestError(f"'seed' must be an integer, got {seed!r}", "seed")
    return Sampling(temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
                    top_p=_number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True),
                    max_new_tokens=default_max_tokens if max_tokens is None else max_tokens, seed=seed, stop=stop)


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
        if all(isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt):
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


def _usage(completions: Sequence[Completion]) -> dict[str, int]:
    prompt = sum(c.prompt_tokens for c in completions)
    completion = sum(len(c.token_ids) for c in completions)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_response(model: str, completions: Sequence[Completion]) -> dict:
    choices = [{"index": i, "text": c.text, "logprobs": None, "finish_reason": c.finish_reason}
               for i, c in enumerate(completions)]
    return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": model, "choices": choices, "usage": _usage(completions)}


def chat_response(model: str, completion: Completion) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": completion.text}, "logprobs": None,
              "finish_reason": completion.finish_reason}
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [choice], "usage": _usage([completion])}
