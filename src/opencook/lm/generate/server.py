"""An OpenAI-compatible server over the continuous-batching ``Engine``, on Starlette + uvicorn (ASGI).

The event loop reads, validates and answers; tokenisation runs in worker threads; only the engine's
thread touches the model. Every request's rows (prompts x ``n``) join the running decode batch as slots
free up; a streamed row is sent token by token as server-sent events, as OpenAI sends them; a client
that goes away cancels its rows at the next step. A full queue answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from opencook.lm.generate.chat import TOKENIZE_LOCK, encode_messages
from opencook.lm.generate.engine import Engine, EngineConfig, QueueFull, row_seed
from opencook.lm.generate.engine import Request as EngineRequest
from opencook.lm.generate.metrics import Metrics
from opencook.lm.generate.openai_api import (
    COMPLETIONS_DEFAULT_MAX_TOKENS,
    Ask,
    RequestError,
    TokenLogprobs,
    chat_logprobs,
    chat_response,
    chunk,
    completion_logprobs,
    completion_response,
    new_id,
    parse_ask,
    parse_messages,
    parse_prompts,
    usage_chunk,
)
from opencook.lm.generate.served import ServedModel
from opencook.tokenizer import decode, encode


@dataclass(frozen=True)
class ServeConfig:
    """``max_queue``: rows waiting for a slot before new requests get 429; ``read_timeout_s``: the most a
    request body may take to arrive (and request headers, per connection); ``idle_timeout_s``: how long an
    idle keep-alive connection is kept; ``max_body``: bytes."""

    slots: int = 32
    max_queue: int = 512
    read_timeout_s: float = 30.0
    idle_timeout_s: float = 5.0
    max_body: int = 16 * 2**20


def _sse(payload: dict | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


class App:
    """The routes and their shared state: the served model, its engine, the metrics."""

    def __init__(self, served: ServedModel, config: ServeConfig, engine: Engine | None = None) -> None:
        self.served, self.config = served, config
        self.engine = engine or Engine(served.model, served.tokenizer,
                                       EngineConfig(slots=config.slots, max_queue=max(config.max_queue, 1) * 4))
        self.metrics = Metrics(self.engine)
        self.created = int(time.time())
        self.ctx = served.model.cfg.max_seq_len
        vocab = served.tokenizer.get_vocab()
        # the longest token in characters: a text of c characters is at least c / longest tokens, which
        # refuses a megabyte prompt before spending seconds tokenising it
        self.longest_token = max(1, max((len(decode(served.tokenizer, [i])) for i in vocab.values()), default=1))

    # ---- plain endpoints ------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": self.served.name, "queue_depth": self.engine.queue_depth,
                             "running": self.engine.live})

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.served.name, "object": "model",
                                                         "created": self.created, "owned_by": "opencook"}]})

    async def metrics_text(self, request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    # ---- reading and preparing a request (outside the engine thread) ----------------------------------
    async def _body(self, request: Request) -> dict:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.config.max_body:
            raise RequestError(f"request body of {length} bytes exceeds {self.config.max_body}", status=413)
        raw = bytearray()
        try:
            with anyio.fail_after(self.config.read_timeout_s):
                async for part in request.stream():
                    raw += part
                    if len(raw) > self.config.max_body:
                        raise RequestError(f"request body exceeds {self.config.max_body} bytes", status=413)
        except TimeoutError:
            raise RequestError(f"the request body did not arrive within {self.config.read_timeout_s:g} s",
                               status=408, code="timeout") from None
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(f"the request body is not valid JSON ({e}); send a JSON object") from None
        if not isinstance(body, dict):
            raise RequestError(f"the request body must be a JSON object, got {type(body).__name__}")
        model = body.get("model")
        if model is not None and model != self.served.name:
            raise RequestError(f"model {model!r} is not served here; this server serves {self.served.name!r}",
                               "model", status=404, code="model_not_found")
        return body

    def _check_chars(self, chars: int, what: str) -> None:
        if chars / self.longest_token >= self.ctx:
            raise RequestError(f"the {what} is {chars} characters, at least {math.ceil(chars / self.longest_token)} "
                               f"tokens, which cannot fit the model's context of {self.ctx} tokens", what)

    def prepare(self, body: dict, chat: bool) -> tuple[Ask, list[list[int]]]:
        """Parse and tokenise (in a worker thread); refuse what can never fit the context, with the numbers."""
        s = self.served
        if chat:
            messages = parse_messages(body)
            ask = parse_ask(body, self.ctx, chat=True)
            self._check_chars(sum(len(m["content"]) for m in messages), "messages")
            try:
                with TOKENIZE_LOCK:
                    prompts = [encode_messages(s.tokenizer, messages, s.chat_template, s.template_vars)]
            except ValueError as e:
                raise RequestError(str(e), "messages") from None
        else:
            raw = parse_prompts(body)
            ask = parse_ask(body, COMPLETIONS_DEFAULT_MAX_TOKENS, chat=False)
            self._check_chars(sum(len(p) for p in raw if isinstance(p, str)), "prompt")
            with TOKENIZE_LOCK:
                prompts = [encode(s.tokenizer, p, special=True) if isinstance(p, str) else list(p) for p in raw]
            vocab = s.model.cfg.vocab_size
            if any(not p or not all(0 <= t < vocab for t in p) for p in prompts):
                raise RequestError(f"every prompt needs at least one token, and token ids must be in [0, {vocab})",
                                   "prompt")
        for i, p in enumerate(prompts):
            what = "the conversation" if chat else f"prompt {i}"
            if len(p) >= self.ctx:
                raise RequestError(f"{what} is {len(p)} tokens, which fills the model's context of {self.ctx} "
                                   "tokens: shorten it", "messages" if chat else "prompt",
                                   code="context_length_exceeded")
            if ask.max_tokens is not None and len(p) + ask.max_tokens > self.ctx:
                raise RequestError(f"{what} is {len(p)} tokens and max_tokens is {ask.max_tokens}: "
                                   f"{len(p) + ask.max_tokens} exceeds the model's context of {self.ctx} tokens",
                                   "max_tokens", code="context_length_exceeded")
        return ask, prompts

    # ---- generation -----------------------------------------------------------------------------------
    def submit(self, ask: Ask, prompts: list[list[int]], chat: bool,
               wake: Callable[[int], None] | None = None) -> list[EngineRequest]:
        """Every prompt ``ask.n`` times into the engine; choice ``i`` is seeded ``row_seed(seed, i)``."""
        eos = self.served.chat_eos_ids if chat else self.served.eos_ids
        seed, reqs = ask.sampling.seed, []
        try:
            for i, p in enumerate(prompts):
                for j in range(ask.n):
                    k = i * ask.n + j
                    sampling = replace(ask.sampling, seed=None if seed is None else row_seed(seed, k))
                    listener = None if wake is None else (lambda _r, k=k: wake(k))
                    reqs.append(self.engine.submit(p, sampling, eos, logprobs=ask.logprobs, listener=listener))
        except BaseException:
            for r in reqs:
                r.cancel()
            raise
        return reqs

    def response(self, reqs: list[EngineRequest], ask: Ask, chat: bool, prompt_tokens: int) -> dict:
        """The whole (non-streamed) answer of finished ``reqs``, or an internal-error body."""
        failed = [r.error for r in reqs if r.error is not None]
        if failed:
            return RequestError(f"internal error: {failed[0]}", status=500).body()
        completions = [r.completion for r in reqs]
        lps = [_logprobs(self.served.tokenizer, ask, r, 0, _kept(r)) for r in reqs]
        if chat:
            return chat_response(self.served.name, completions, lps)
        return completion_response(self.served.name, completions, lps, prompt_tokens=prompt_tokens)

    def answer(self, body: dict, chat: bool) -> dict:
        """One request answered without HTTP (``opencook lm generate``): the same parsing and response."""
        ask, prompts = self.prepare(body, chat)
        reqs = self.submit(ask, prompts, chat)
        for r in reqs:
            r.done.wait()
        return self.response(reqs, ask, chat, sum(len(p) for p in prompts))

    async def completions(self, request: Request) -> Response:
        return await self._generate(request, chat=False)

    async def chat(self, request: Request) -> Response:
        return await self._generate(request, chat=True)

    async def _generate(self, request: Request, chat: bool) -> Response:
        endpoint = "chat" if chat else "completions"
        start = time.perf_counter()
        try:
            body = await self._body(request)
            ask, prompts = await anyio.to_thread.run_sync(self.prepare, body, chat)
            rows = len(prompts) * ask.n
            if rows > self.config.max_queue:
                raise RequestError(f"{len(prompts)} prompt(s) x n={ask.n} is {rows} rows, more than this server "
                                   f"queues ({self.config.max_queue}): send fewer at a time", "n")
            if self.engine.queue_depth and self.engine.queue_depth + rows > self.config.max_queue:
                self.metrics.rejected_full += 1
                retry = max(1, math.ceil(self.engine.queue_depth / max(self.metrics.tokens_per_s() / 64, 1.0)))
                raise RequestError(f"the server is busy ({self.engine.queue_depth} rows waiting, at most "
                                   f"{self.config.max_queue}): retry after {retry} s", status=429,
                                   code="queue_full", headers={"Retry-After": str(retry)})
            run = _Run(self, request, ask, prompts, chat)
        except RequestError as e:
            self.metrics.count(endpoint, e.status)
            return JSONResponse(e.body(), status_code=e.status, headers=e.headers)
        except ClientDisconnect:
            self.metrics.count(endpoint, 499)
            return Response(status_code=499)
        except QueueFull as e:
            self.metrics.count(endpoint, 429)
            return JSONResponse(RequestError(f"the server is busy: {e}", status=429).body(), status_code=429,
                                headers={"Retry-After": "1"})
        if ask.stream:
            async def events() -> AsyncIterator[str]:
                async for event in run.stream():
                    yield event
                self.metrics.count(endpoint, 200, time.perf_counter() - start)

            return StreamingResponse(events(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        payload = await run.whole()
        if payload is None:
            self.metrics.count(endpoint, 499)
            return Response(status_code=499)
        status = 500 if "error" in payload else 200
        self.metrics.count(endpoint, status, time.perf_counter() - start)
        return JSONResponse(payload, status_code=status)

    def routes(self) -> list[Route]:
        return [Route("/health", self.health), Route("/v1/models", self.models), Route("/metrics", self.metrics_text),
                Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"])]


def _kept(req: EngineRequest) -> int:
    """Tokens that make the answer's text (a final EOS is not part of it)."""
    n = len(req.token_ids)
    if req.done.is_set() and req.finish_reason == "stop" and req.cut is None and n and req.token_ids[-1] in req.eos_ids:
        return n - 1
    return n


def _logprobs(tok, ask: Ask, req: EngineRequest, start: int, end: int) -> TokenLogprobs | None:
    if ask.logprobs is None:
        return None
    top = [[(decode(tok, [a]), b) for a, b in row] for row in req.top_logprobs[start:end]] if ask.logprobs else []
    return TokenLogprobs([decode(tok, [t]) for t in req.token_ids[start:end]], req.token_logprobs[start:end], top)


class _Run:
    """One request's rows in the engine: woken by the engine thread, answered whole or as events."""

    def __init__(self, app: App, request: Request, ask: Ask, prompts: list[list[int]], chat: bool) -> None:
        self.app, self.request, self.ask, self.chat = app, request, ask, chat
        self.loop = asyncio.get_running_loop()
        self.woken: asyncio.Queue[int] = asyncio.Queue()
        self.id = new_id(chat)
        self.prompt_tokens = sum(len(p) for p in prompts)
        self.reqs = app.submit(ask, prompts, chat, self._wake)

    def _wake(self, index: int) -> None:
        try:
            self.loop.call_soon_threadsafe(self.woken.put_nowait, index)
        except RuntimeError:  # the loop is closed: the server is shutting down
            pass

    def cancel(self) -> None:
        for r in self.reqs:
            r.cancel()

    def _logprobs(self, req, start: int, end: int) -> TokenLogprobs | None:
        return _logprobs(self.app.served.tokenizer, self.ask, req, start, end)

    async def _disconnected(self) -> None:
        while True:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                return

    async def whole(self) -> dict | None:
        """Every row's completion as one response, or None when the client went away first."""
        watch = asyncio.ensure_future(self._disconnected())
        try:
            for req in self.reqs:
                while not req.done.is_set():
                    woken = asyncio.ensure_future(self.woken.get())
                    done, _ = await asyncio.wait({woken, watch}, return_when=asyncio.FIRST_COMPLETED)
                    if watch in done:
                        woken.cancel()
                        self.cancel()
                        self.app.metrics.disconnects += 1
                        return None
        finally:
            watch.cancel()
        return self.app.response(self.reqs, self.ask, self.chat, self.prompt_tokens)

    def _held(self, text: str) -> int:
        """Characters at the end of ``text`` not to send yet: an incomplete UTF-8 character, or what may be
        the start of a stop string (cut from the answer if it completes)."""
        keep = len(text)
        while keep and text[keep - 1] == "\ufffd":
            keep -= 1
        hold = 0
        for s in self.ask.sampling.stop:
            for k in range(min(len(s) - 1, keep), 0, -1):
                if text[keep - k: keep] == s[:k]:
                    hold = max(hold, k)
                    break
        return len(text) - keep + hold

    async def stream(self) -> AsyncIterator[str]:
        """Server-sent events: a role chunk per choice (chat), text deltas, a finish chunk per choice, usage
        when asked, then ``[DONE]``. Leaving early (a disconnect) cancels the rows."""
        name, tok = self.app.served.name, self.app.served.tokenizer
        sent_text = [0] * len(self.reqs)
        sent_tokens = [0] * len(self.reqs)
        open_rows = set(range(len(self.reqs)))
        try:
            if self.chat:
                for i in range(len(self.reqs)):
                    yield _sse(chunk(self.id, name, True, i, None, None, first=True))
            while open_rows:
                i = await self.woken.get()
                if i not in open_rows:
                    continue
                req = self.reqs[i]
                if req.error is not None:
                    yield _sse(RequestError(f"internal error: {req.error}", status=500).body())
                    open_rows.discard(i)
                    continue
                finished = req.done.is_set()
                if finished:
                    text, end_tok = req.text, _kept(req)
                else:
                    end_tok = min(len(req.token_ids), len(req.token_logprobs)) if self.ask.logprobs is not None \
                        else len(req.token_ids)
                    full = decode(tok, req.token_ids[:end_tok])
                    text = full[: len(full) - self._held(full)]
                delta = text[sent_text[i]:]
                lp = self._logprobs(req, sent_tokens[i], end_tok)
                if delta or finished or (lp and lp.tokens):
                    lp_json = None if lp is None else (chat_logprobs(lp) if self.chat else
                                                       completion_logprobs(lp, sent_text[i]))
                    yield _sse(chunk(self.id, name, self.chat, i, delta, req.finish_reason if finished else None,
                                     lp_json))
                    sent_text[i], sent_tokens[i] = len(text), end_tok
                if finished:
                    open_rows.discard(i)
            if self.ask.include_usage:
                done = [r.completion for r in self.reqs]
                completion = sum(len(c.token_ids) for c in done)
                prompt = self.prompt_tokens
                yield _sse(usage_chunk(self.id, name, self.chat, {"prompt_tokens": prompt,
                                                                  "completion_tokens": completion,
                                                                  "total_tokens": prompt + completion}))
            yield _sse("[DONE]")
        finally:
            if open_rows:
                self.app.metrics.disconnects += 1
            self.cancel()


def make_app(served: ServedModel, config: ServeConfig | None = None, engine: Engine | None = None) -> Starlette:
    app = App(served, config or ServeConfig(), engine)

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse(RequestError(f"unknown path {request.url.path}: see GET /v1/models, POST "
                                         "/v1/completions, POST /v1/chat/completions", status=404,
                                         code="not_found").body(), status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse(RequestError(f"{request.url.path} takes POST, not {request.method}", status=405,
                                         code="method_not_allowed").body(), status_code=405)

    star = Starlette(routes=app.routes(), exception_handlers={404: not_found, 405: not_allowed})
    star.state.app = app
    return star


class _HeaderTimeout(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus a deadline for a request's headers: a connection that opens (or
    finishes a response) and does not send a whole request head within the read timeout is closed, so
    half-open connections cannot pile up."""

    header_timeout_s = 30.0
    _deadline = None

    def _arm(self) -> None:
        if self._deadline is not None:  # one deadline at a time: an old one must not close a later request
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expire)

    def _expire(self) -> None:
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)


def make_server(served: ServedModel, host: str = "127.0.0.1", port: int = 8000,
                config: ServeConfig | None = None):
    """A configured ``uvicorn.Server`` (not yet serving) and its listening socket (``port=0``: a free one)."""
    import socket

    import uvicorn

    config = config or ServeConfig()
    protocol = type("Protocol", (_HeaderTimeout,), {"header_timeout_s": config.read_timeout_s})
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # listening before the address is printed: a client that reads it may connect at once
    uv = uvicorn.Config(make_app(served, config), http=protocol, timeout_keep_alive=int(config.idle_timeout_s),
                        backlog=2048, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(uv), sock
