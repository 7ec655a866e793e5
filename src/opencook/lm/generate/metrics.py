"""The server's counters, rendered in Prometheus text format for ``GET /metrics``."""

from __future__ import annotations

import collections
import threading
import time

from opencook.lm.generate.engine import Engine


def _quantiles(values: list[float]) -> dict[float, float]:
    if not values:
        return {}
    values = sorted(values)
    return {q: values[min(len(values) - 1, int(q * len(values)))] for q in (0.5, 0.9, 0.99)}


class Metrics:
    """Requests by endpoint and status, request latency; the engine supplies queue depth, tokens and TTFT."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.requests: collections.Counter[tuple[str, int]] = collections.Counter()
        self.latency: collections.deque[float] = collections.deque(maxlen=2048)
        self.latency_sum = 0.0
        self.rejected_full = 0
        self.disconnects = 0
        self._lock = threading.Lock()
        self._rate = collections.deque([(time.perf_counter(), 0)], maxlen=64)

    def count(self, endpoint: str, status: int, seconds: float | None = None) -> None:
        with self._lock:
            self.requests[(endpoint, status)] += 1
            if seconds is not None:
                self.latency.append(seconds)
                self.latency_sum += seconds

    def tokens_per_s(self) -> float:
        """Generated tokens per second over the last minute or so (between scrapes, at least one second)."""
        now, total = time.perf_counter(), self.engine.generated_tokens
        while len(self._rate) > 1 and now - self._rate[1][0] > 60:
            self._rate.popleft()
        t0, n0 = self._rate[0]
        if now - self._rate[-1][0] >= 1:
            self._rate.append((now, total))
        return (total - n0) / (now - t0) if now > t0 else 0.0

    def render(self) -> str:
        e = self.engine
        lines = ["# HELP opencook_requests_total HTTP requests answered, by endpoint and status.",
                 "# TYPE opencook_requests_total counter"]
        with self._lock:
            for (endpoint, status), n in sorted(self.requests.items()):
                lines.append(f'opencook_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
            latency, latency_sum = list(self.latency), self.latency_sum
        gauges = [("opencook_queue_depth", "Requests (rows) waiting for a slot.", e.queue_depth),
                  ("opencook_running", "Requests (rows) being decoded.", e.live),
                  ("opencook_slots", "Rows the engine decodes together.", e.config.slots),
                  ("opencook_tokens_per_second", "Generated tokens per second, recent.", round(self.tokens_per_s(), 3)),
                  ("opencook_prefix_cache_bytes", "Keys/values of prompt blocks kept for reuse.",
                   e.prefix.bytes if e.prefix is not None else 0)]
        for name, help_, value in gauges:
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {value}"]
        counters = [("opencook_generated_tokens_total", "Tokens generated.", e.generated_tokens),
                    ("opencook_prompt_tokens_total", "Prompt tokens admitted.", e.prompt_tokens),
                    ("opencook_prompt_tokens_reused_total", "Prompt tokens whose keys/values came from the prefix "
                     "cache.", e.reused_tokens),
                    ("opencook_rejected_queue_full_total", "Requests answered 429.", self.rejected_full),
                    ("opencook_client_disconnects_total", "Requests cancelled by a disconnect.", self.disconnects)]
        for name, help_, value in counters:
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} counter", f"{name} {value}"]
        summaries = [("opencook_time_to_first_token_seconds", "Submit to first token, per row.", list(e.ttft),
                      e.ttft_sum, e.ttft_count),
                     ("opencook_request_latency_seconds", "Generation requests, arrival to last byte.", latency,
                      latency_sum, None)]
        for name, help_, values, total, count in summaries:
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} summary"]
            lines += [f'{name}{{quantile="{q}"}} {v:.6f}' for q, v in _quantiles(values).items()]
            lines += [f"{name}_sum {total:.6f}", f"{name}_count {len(values) if count is None else count}"]
        return "\n".join(lines) + "\n"
