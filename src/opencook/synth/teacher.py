"""Teacher calls through any OpenAI-compatible chat endpoint (vLLM, a hosted API, ``opencook lm serve``).

Requests go out ``concurrency`` at a time (a thread pool; the chat API has one conversation per request), no
faster than ``rps`` per second and, for hosted APIs, under ``tokens_per_minute``; each is retried on 5xx, 429,
timeouts and connection errors after the server's ``Retry-After``, else an exponential backoff with jitter.
``stream`` reads replies as server-sent events (one connection per reply, nothing buffered server-side). Replies are cached on disk by request content (``cache.py``) and journalled per item, so a rerun
skips finished items and never pays twice for a prompt. An endpoint that stays unreachable stops the stage
with a ``TeacherError``; a single item that keeps failing (5xx, timeout, 400) is counted and skipped."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from opencook.completions.client import RateLimit, ServerError, complete, list_models, retry_delay
from opencook.completions.sampling import Sampling
from opencook.kit.progress import Progress
from opencook.synth.cache import ReplyCache, request_key

_PER_ITEM_STATUS = (400, 413, 422)  # this request is bad (too long a prompt); others may still work


class TeacherError(RuntimeError):
    """The endpoint cannot be used at all (down, wrong model, refused credentials)."""


TEACHER_SAMPLING = Sampling(max_new_tokens=768)


@dataclass
class TeacherConfig:
    """Where the teacher is and how it decodes. ``model=None`` takes the server's first model. ``rps=0``
    means no rate limit. ``sampling.max_new_tokens`` bounds every reply (a teacher that never stops costs at
    most that); one sample per request (``sampling.n`` must be 1). ``tokens_per_minute=0`` means no token
    limit; ``stream`` asks for server-sent events."""

    endpoint: str
    model: str | None = None
    api_key: str | None = None
    sampling: Sampling = TEACHER_SAMPLING
    concurrency: int = 4
    rps: float = 0.0
    retries: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 300.0
    tokens_per_minute: float = 0.0
    stream: bool = False

    def __post_init__(self) -> None:
        if not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"teacher endpoint {self.endpoint!r}: give a URL ending in /v1, "
                             "e.g. http://127.0.0.1:8000/v1")
        if self.concurrency < 1:
            raise ValueError(f"teacher concurrency={self.concurrency}: must be >= 1")
        if self.sampling.n != 1:
            raise ValueError(f"teacher sampling n={self.sampling.n}: must be 1 (one reply per request)")
        if min(self.rps, self.retries, self.backoff_s, self.tokens_per_minute) < 0 or self.timeout_s <= 0:
            raise ValueError("teacher rps, retries, backoff_s and tokens_per_minute must be >= 0 and timeout_s > 0")

    def knobs(self) -> dict:
        """The request fields that decide a reply: sent with every request and part of its cache key."""
        return self.sampling.openai()


@dataclass
class Answer:
    """A teacher reply for one item; ``error`` is set (and ``text`` empty) when the item failed."""

    id: str
    text: str
    finish_reason: str
    source: str  # "request", "cache" or "journal"
    error: str | None = None


@dataclass
class TeacherStats:
    """``requests`` counts HTTP attempts (retries included), so a fully cached rerun shows 0."""

    requests: int = 0
    cache_hits: int = 0
    resumed: int = 0
    retries: int = 0
    timeouts: int = 0
    errors: int = 0
    seconds: float = 0.0
    completion_tokens: int = 0


class _RateLimit:
    def __init__(self, rps: float) -> None:
        self.gap = 1.0 / rps if rps > 0 else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.gap:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.gap
        time.sleep(max(0.0, start - now))


class Teacher:
    """``run(items, journal)`` asks the teacher for every ``(id, messages)`` item not in ``journal`` yet."""

    def __init__(self, config: TeacherConfig, cache_dir: str | Path | None = None) -> None:
        self.config = config
        self.cache = ReplyCache(cache_dir) if cache_dir else None
        self.stats = TeacherStats()
        self._limit = _RateLimit(config.rps)
        self._tokens = RateLimit(tokens_per_minute=config.tokens_per_minute) if config.tokens_per_minute else None
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._model = config.model

    @property
    def model(self) -> str:
        """The model name (asked of the server once when not configured)."""
        with self._model_lock:
            if self._model is None:
                self._model = self._with_retries(lambda: list_models(self.config.endpoint, api_key=self.config.api_key,
                                                                     timeout=self.config.timeout_s, retries=0)[0])
        return self._model

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + n)

    def _with_retries(self, call: Callable):
        cfg = self.config
        for attempt in range(cfg.retries + 1):
            self._limit.wait()
            self._count("requests")
            try:
                return call()
            except ServerError as exc:
                if exc.status != 429 and exc.status < 500:
                    raise
                last: Exception = exc
            except TimeoutError as exc:
                self._count("timeouts")
                last = exc
            except (urllib.error.URLError, ConnectionError) as exc:
                if isinstance(getattr(exc, "reason", None), TimeoutError):
                    self._count("timeouts")
                last = exc
            if attempt < cfg.retries:
                self._count("retries")
                time.sleep(retry_delay(attempt, cfg.backoff_s, getattr(last, "retry_after", None)))
        raise last

    def ask(self, messages: list[dict[str, str]]) -> tuple[str, str, str]:
        """(text, finish_reason, source) for one conversation, from the cache or the endpoint."""
        knobs = self.config.knobs()
        key = request_key(self.model, messages, knobs)
        if self.cache and (hit := self.cache.get(key)) is not None:
            self._count("cache_hits")
            return hit["text"], hit["finish_reason"], "cache"
        reply = self._with_retries(lambda: complete(self.config.endpoint, messages=messages, model=self.model,
                                                    api_key=self.config.api_key, timeout=self.config.timeout_s,
                                                    retries=0, stream=self.config.stream, limit=self._tokens,
                                                    **knobs))
        text, reason = reply.text or "", reply.finish_reasons[0] or "unknown"
        self._count("completion_tokens", int(reply.usage.get("completion_tokens", 0)))
        if self.cache:
            self.cache.put(key, {"text": text, "finish_reason": reason, "usage": reply.usage})
        return text, reason, "request"

    def _one(self, item_id: str, messages: list[dict[str, str]]) -> Answer:
        try:
            text, reason, source = self.ask(messages)
            return Answer(item_id, text, reason, source)
        except ServerError as exc:
            if exc.status in _PER_ITEM_STATUS or exc.status == 429 or exc.status >= 500:
                self._count("errors")
                return Answer(item_id, "", "error", "request", error=str(exc))
            raise TeacherError(f"teacher endpoint {self.config.endpoint} refused the request: {exc}; check "
                               "--endpoint, --model and OPENAI_API_KEY") from None
        except TimeoutError as exc:
            self._count("errors")
            return Answer(item_id, "", "error", "request", error=f"timed out after {self.config.timeout_s} s: {exc}")
        except (urllib.error.URLError, ConnectionError) as exc:
            if isinstance(getattr(exc, "reason", None), TimeoutError):
                self._count("errors")
                return Answer(item_id, "", "error", "request", error=f"timed out: {exc}")
            raise TeacherError(f"teacher endpoint {self.config.endpoint} is unreachable after "
                               f"{self.config.retries} retries ({getattr(exc, 'reason', exc)}); start the server "
                               "or fix --endpoint, then rerun: finished items are kept") from None

    def run(self, items: Sequence[tuple[str, list[dict[str, str]]]], journal: str | Path) -> dict[str, Answer]:
        """Answers for every item, by id. Each finished item is appended to ``journal`` (JSONL) at once, so a
        killed run loses nothing; items already there with the same request key are not asked again."""
        journal = Path(journal)
        journal.parent.mkdir(parents=True, exist_ok=True)
        knobs = self.config.knobs()
        done = _read_journal(journal)
        answers: dict[str, Answer] = {}
        pending = []
        for item_id, messages in items:
            if item_id in answers:
                raise ValueError(f"item id {item_id!r} appears twice; give every item a unique id")
            prior = done.get(item_id)
            model = self._model or (prior or {}).get("model")
            if prior is not None and model and prior["key"] == request_key(model, messages, knobs):
                answers[item_id] = Answer(item_id, prior["text"], prior["finish_reason"], "journal")
                self._count("resumed")
            else:
                pending.append((item_id, messages))
        started = time.perf_counter()
        with open(journal, "a", encoding="utf-8") as fh, ThreadPoolExecutor(self.config.concurrency) as pool, \
                Progress(len(pending), "teacher", "request") as bar:
            futures = [(i, m, pool.submit(self._one, i, m)) for i, m in pending]
            for *_, future in futures:  # counted as they finish, not in the order they are written
                future.add_done_callback(lambda _: bar.update())
            for item_id, messages, future in futures:
                answer = future.result()
                answers[item_id] = answer
                if answer.error is None:
                    key = request_key(self.model, messages, knobs)
                    fh.write(json.dumps({"id": item_id, "model": self.model, "key": key, "text": answer.text,
                                         "finish_reason": answer.finish_reason}, ensure_ascii=False) + "\n")
                    fh.flush()
        self.stats.seconds += time.perf_counter() - started
        return answers


def _read_journal(path: Path) -> dict[str, dict]:
    """Finished items of an earlier run; a torn last line (a killed run) is ignored."""
    done: dict[str, dict] = {}
    if not path.is_file():
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                done[row["id"]] = row
            except (ValueError, KeyError, TypeError):
                continue
    return done
