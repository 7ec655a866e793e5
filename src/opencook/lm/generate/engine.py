"""Continuous batching: one thread owns the model and runs a decode batch that changes every step.

At each step the scheduler admits waiting requests into free slots (prefilling each newcomer's prompt
into its own slot), then feeds one token per live slot in a single forward, and retires every request
that finished (EOS, a stop string, its token limit, or a cancel) so its slot is free for the next
arrival. Each request keeps its own sampling settings, stop strings, token limit and seeded generator,
so what it generates does not depend on what it shares the batch with (greedy rows bit for bit up to
float rounding; sampled rows exactly, given the seed).

Callers in any thread ``submit`` and wait on the returned ``Request`` (``result()``), or pass a
``listener`` that the engine calls after every token, for streaming; ``cancel()`` frees the slot at
the next step.
"""

from __future__ import annotations

import atexit
import collections
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from opencook.completions.sampling import Sampling, row_seed  # noqa: F401 - row_seed re-exported
from opencook.lm.generate.decoding import Completion, as_tokenizer
from opencook.lm.generate.prefix import PrefixCache
from opencook.lm.generate.sampling import next_tokens
from opencook.lm.generate.slots import SlotCache, decode, prefill
from opencook.lm.model.llama import Llama
from opencook.tokenizer import decode as detokenize


class QueueFull(RuntimeError):
    """The engine already holds ``max_queue`` waiting requests: try again later."""


@dataclass(frozen=True)
class EngineConfig:
    """``slots``: sequences decoded together (on CPU 16-32 keeps the matrix products efficient);
    ``max_queue``: waiting requests before ``submit`` raises ``QueueFull``; ``prefill_budget``: prompt
    tokens admitted per step beyond the first newcomer, so a burst of arrivals does not stall the decode
    of live requests for long; ``prefix_cache_mb``: memory for the keys/values of prompt blocks kept for
    reuse by later prompts that start the same (0: recompute every prompt), in blocks of ``prefix_block``
    tokens."""

    slots: int = 32
    max_queue: int = 4096
    prefill_budget: int = 2048
    prefix_cache_mb: float = 256.0
    prefix_block: int = 32


@dataclass(eq=False)
class Request:
    """One sequence to complete, and (as the engine fills them) its tokens, logprobs and outcome."""

    prompt_ids: list[int]
    sampling: Sampling
    eos_ids: frozenset[int]
    max_new_tokens: int
    logprobs: int | None = None  # None: none; 0: the chosen token's; k: also the top k
    listener: Callable[[Request], None] | None = None
    token_ids: list[int] = field(default_factory=list)
    token_logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    finish_reason: str | None = None
    cut: int | None = None
    text: str = ""
    error: BaseException | None = None
    submitted: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    generator: torch.Generator | None = None

    def cancel(self) -> None:
        """Stop generating (the client went away): the slot is freed at the next step."""
        self.cancelled = True

    def result(self, timeout: float | None = None) -> Completion:
        if not self.done.wait(timeout):
            raise TimeoutError(f"no completion within {timeout} s")
        if self.error is not None:
            raise RuntimeError(f"generation failed: {self.error}") from self.error
        return self.completion

    @property
    def completion(self) -> Completion:
        return Completion(text=self.text, token_ids=list(self.token_ids), finish_reason=self.finish_reason or "length",
                          prompt_tokens=len(self.prompt_ids))



def _first_stop(text: str, stop: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(hits) if hits else None


class Engine:
    """The continuous-batching scheduler over one model; its thread starts on the first ``submit``."""

    def __init__(self, model: Llama, tokenizer: object, config: EngineConfig | None = None) -> None:
        self.model, self.tok = model.eval(), as_tokenizer(tokenizer)
        self.config = config or EngineConfig()
        self.cache = SlotCache(model, self.config.slots)
        self.prefix = (PrefixCache(int(self.config.prefix_cache_mb * 2**20), self.config.prefix_block)
                       if self.config.prefix_cache_mb > 0 else None)
        self.device = model.embed_tokens.weight.device
        self._waiting: collections.deque[Request] = collections.deque()
        self._live: list[Request] = []  # slot i holds self._live[i]
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.generated_tokens = 0
        self.finished_requests = 0
        self.prompt_tokens = 0
        self.reused_tokens = 0  # prompt tokens whose keys/values came from the prefix cache
        self.prefill_s = 0.0  # engine-thread seconds spent admitting prompts (prefix copy + prefill)
        self.ttft: collections.deque[float] = collections.deque(maxlen=1024)
        self.ttft_sum, self.ttft_count = 0.0, 0
        self.started = time.perf_counter()

    # ---- callers ----------------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    @property
    def live(self) -> int:
        return len(self._live)

    def submit(self, prompt_ids: Sequence[int], sampling: Sampling, eos_ids: Sequence[int], *,
               logprobs: int | None = None, listener: Callable[[Request], None] | None = None) -> Request:
        """Queue one completion of ``prompt_ids`` (``sampling.n`` must be 1; submit n rows for n samples).
        Its token limit is ``sampling.max_new_tokens``, lowered to what the context leaves."""
        ctx = self.model.cfg.max_seq_len
        ids = list(prompt_ids)
        if not ids:
            raise ValueError("the prompt is empty: give at least one token")
        if len(ids) >= ctx:
            raise ValueError(f"the prompt is {len(ids)} tokens, which fills the model's context of {ctx}")
        vocab = self.model.cfg.vocab_size
        if not all(isinstance(t, int) and 0 <= t < vocab for t in ids):
            raise ValueError(f"prompt token ids must be ints in [0, {vocab})")
        if sampling.n != 1:
            raise ValueError(f"one request is one sample, got n={sampling.n}: submit n requests")
        req = Request(ids, sampling, frozenset(eos_ids), min(sampling.max_new_tokens, ctx - len(ids)),
                      logprobs=logprobs, listener=listener)
        if sampling.temperature > 0:
            req.generator = torch.Generator(device=self.device)
            req.generator.manual_seed(random.randrange(2**63) if sampling.seed is None else sampling.seed)
        with self._cv:
            if self._closed:
                raise RuntimeError("the engine is closed")
            if len(self._waiting) >= self.config.max_queue:
                raise QueueFull(f"{len(self._waiting)} requests are already waiting")
            self._waiting.append(req)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="opencook-engine", daemon=True)
                self._thread.start()
                atexit.register(self.close)  # joined before the interpreter exits: torch aborts on a live one
            self._cv.notify()
        return req

    def complete(self, prompts: Sequence[Sequence[int]], sampling: Sampling, eos_ids: Sequence[int],
                 seeds: Sequence[int | None] | None = None) -> list[Completion]:
        """Every prompt as its own request (seeded ``seeds[i]``, else ``sampling.seed``), in order."""
        reqs = []
        for i, p in enumerate(prompts):
            s = sampling if seeds is None else replace(sampling, seed=seeds[i])
            reqs.append(self.submit(p, s, eos_ids))
        return [r.result() for r in reqs]

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # ---- the engine thread ------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._closed and not self._waiting and not self._live:
                    self._cv.wait()
                if self._closed:
                    pending = list(self._waiting) + self._live
                    self._waiting.clear()
                    break
                newcomers, budget = [], self.config.prefill_budget
                while (self._waiting and len(self._live) + len(newcomers) < self.config.slots
                       and (not newcomers or budget >= len(self._waiting[0].prompt_ids))):
                    req = self._waiting.popleft()
                    budget -= len(req.prompt_ids)
                    newcomers.append(req)
            try:
                with torch.inference_mode():
                    for req in newcomers:
                        self._admit(req)
                    if self._live:
                        self._step()
            except Exception as e:  # noqa: BLE001 - fail the requests in flight, keep serving the next ones
                for req in newcomers + self._live:
                    if not req.done.is_set():
                        req.error = e
                        self._notify(req, done=True)
                self._live = []
        for req in pending:
            req.error = RuntimeError("the engine was closed")
            self._notify(req, done=True)

    def _admit(self, req: Request) -> None:
        if req.cancelled:
            req.finish_reason = "cancelled"
            self._notify(req, done=True)
            return
        t0 = time.perf_counter()
        slot, ids = len(self._live), req.prompt_ids
        self.cache.reserve(len(ids) + req.max_new_tokens)
        start = self.prefix.load(self.cache, slot, ids) if self.prefix is not None else 0
        logits = prefill(self.cache, slot, torch.tensor(ids[start:], device=self.device), start)
        if self.prefix is not None:
            self.prefix.store(self.cache, slot, ids)
        self.prompt_tokens += len(ids)
        self.reused_tokens += start
        self.prefill_s += time.perf_counter() - t0
        self._live.append(req)
        self._take(req, logits[None], int(logits.argmax()))
        if req.finish_reason is not None:
            self._retire([slot])

    def _step(self) -> None:
        live = self._live
        for req in live:
            if req.cancelled:
                req.finish_reason = "cancelled"
        self._retire([i for i, r in enumerate(live) if r.finish_reason is not None])
        live = self._live
        if not live:
            return
        positions = [len(r.prompt_ids) + len(r.token_ids) - 1 for r in live]
        tokens = torch.tensor([r.token_ids[-1] for r in live], device=self.device)
        pos = torch.tensor(positions, device=self.device)
        logits = decode(self.cache, tokens, pos, max(positions) + 1)
        greedy = logits.argmax(-1).tolist()
        for i, req in enumerate(live):
            self._take(req, logits[i: i + 1], greedy[i])
        self._retire([i for i, r in enumerate(live) if r.finish_reason is not None])

    def _take(self, req: Request, logits: torch.Tensor, greedy: int) -> None:
        """Choose ``req``'s next token from ``logits`` [1, vocab] and record whether it finished."""
        s = req.sampling
        tid = greedy if s.temperature == 0 else int(next_tokens(logits, s.temperature, s.top_p, req.generator)[0])
        if req.first_token_at is None and req.token_ids == []:
            req.first_token_at = time.perf_counter()
            self.ttft.append(req.first_token_at - req.submitted)
            self.ttft_sum += self.ttft[-1]
            self.ttft_count += 1
        req.token_ids.append(tid)
        self.generated_tokens += 1
        if req.logprobs is not None:
            lp = torch.log_softmax(logits[0].float(), -1)
            req.token_logprobs.append(float(lp[tid]))
            if req.logprobs > 0:
                values, ids = lp.topk(req.logprobs)
                req.top_logprobs.append(list(zip(ids.tolist(), values.tolist(), strict=True)))
        if tid in req.eos_ids:
            req.finish_reason = "stop"
        elif s.stop and (hit := _first_stop(detokenize(self.tok, req.token_ids), s.stop)) is not None:
            req.finish_reason, req.cut = "stop", hit
        elif len(req.token_ids) >= req.max_new_tokens:
            req.finish_reason = "length"
        if req.finish_reason is None and req.listener is not None:
            req.listener(req)

    def _retire(self, slots: list[int]) -> None:
        """Finish the requests in ``slots``; move the last live slots into the holes to keep a prefix."""
        for slot in sorted(slots, reverse=True):
            req = self._live[slot]
            last = len(self._live) - 1
            if slot != last:
                moved = self._live[last]
                self.cache.move(last, slot, len(moved.prompt_ids) + len(moved.token_ids))
                self._live[slot] = moved
            self._live.pop()
            self._finalise(req)

    def _finalise(self, req: Request) -> None:
        gen = req.token_ids
        ends_in_eos = req.finish_reason == "stop" and req.cut is None and gen and gen[-1] in req.eos_ids
        text = detokenize(self.tok, gen[:-1] if ends_in_eos else gen)
        req.text = text[: req.cut] if req.cut is not None else text
        self.finished_requests += 1
        self._notify(req, done=True)

    @staticmethod
    def _notify(req: Request, done: bool) -> None:
        if done:
            req.done.set()
        if req.listener is not None:
            req.listener(req)
