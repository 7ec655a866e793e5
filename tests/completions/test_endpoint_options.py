"""The eval endpoint backend and the synth teacher pass the client's options through: they stream when asked,
wait what the server's Retry-After says (not their own backoff), and spend a tokens-per-minute budget by the
usage the server reports. Against a real local HTTP server scripted to answer as hosted APIs do."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from opencook.completions.backends import Batch, EndpointBackend
from opencook.completions.client import RateLimit
from opencook.completions.sampling import Sampling
from opencook.synth.teacher import Teacher, TeacherConfig

USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: list[str] = []
    seen: list[dict] = []

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in {"Content-Type": ctype, "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self._send(200, json.dumps({"data": [{"id": "m"}]}).encode(), "application/json")

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        if self.script and self.script.pop(0) == "429":
            self._send(429, b'{"error": {"message": "slow down"}}', "application/json", {"Retry-After": "7"})
            return
        chat = "messages" in body
        prompts = [None] if chat else (body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]])
        if body.get("stream"):
            events = []
            for i in range(len(prompts)):
                for piece, finish in (("ans", None), (f"wer{i}", "stop")):
                    c = {"index": i, "delta": {"content": piece}} if chat else {"index": i, "text": piece}
                    events.append({"choices": [{**c, "finish_reason": finish}]})
            events.append({"choices": [], "usage": USAGE})
            data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            self._send(200, data.encode(), "text/event-stream")
            return
        choices = [{"index": i, "finish_reason": "stop",
                    **({"message": {"role": "assistant", "content": f"answer{i}"}} if chat else {"text": f"answer{i}"})}
                   for i in range(len(prompts))]
        self._send(200, json.dumps({"choices": choices, "usage": USAGE}).encode(), "application/json")


@pytest.fixture()
def server(http_server):
    return http_server(_Handler)


class _Budget:
    """Records what a caller reserves and settles (the real ``RateLimit`` refills with the clock)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def acquire(self, tokens: int) -> None:
        self.calls.append(("acquire", tokens))

    def settle(self, estimated: int, used: int) -> None:
        self.calls.append(("settle", estimated, used))


@pytest.fixture()
def sleeps(monkeypatch):
    """The waits asked for, instead of waiting them."""
    import time

    waited: list[float] = []
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited


def test_endpoint_backend_streams_retries_after_and_spends_its_token_budget(server, sleeps):
    handler, url = server
    backend = EndpointBackend(url, stream=True, tokens_per_minute=6000, retries=2)
    assert isinstance(backend.limit, RateLimit) and backend.limit.tpm == 6000
    backend.limit = _Budget()
    handler.script[:] = ["429"]
    base = Batch(0, ("def f():", "def g():"), None, ("\n\n",), seed=1)
    got = backend.run(base, Sampling(max_new_tokens=4))
    assert [s.text for s in got] == ["answer0", "answer1"] and [s.finish_reason for s in got] == ["stop", "stop"]
    assert [b.get("stream") for b in handler.seen] == [True, True]
    assert sleeps == [7.0]  # the server's Retry-After, not the backoff
    chat = Batch(1, None, (({"role": "user", "content": "hi"},),), (), seed=2)
    assert backend.run(chat, Sampling(max_new_tokens=4))[0].text == "answer0"
    assert handler.seen[-1]["stream"] is True and handler.seen[-1]["messages"][0]["content"] == "hi"
    # each call reserves its estimate (chars / 4 + max_tokens) once, its retries included, and settles at the
    # 8 tokens the server reported
    assert backend.limit.calls == [("acquire", 8), ("settle", 8, 8), ("acquire", 4), ("settle", 4, 8)]
    assert backend.record()["stream"] is True and backend.record()["tokens_per_minute"] == 6000


def test_endpoint_backend_defaults_neither_stream_nor_limit(server):
    handler, url = server
    backend = EndpointBackend(url)
    backend.run(Batch(0, ("x",), None, (), seed=0), Sampling(max_new_tokens=2))
    assert backend.limit is None and "stream" not in handler.seen[0]
    with pytest.raises(ValueError, match="tokens_per_minute"):
        EndpointBackend(url, tokens_per_minute=-1)


def test_teacher_waits_retry_after_streams_and_meters_tokens(server, sleeps, tmp_path):
    handler, url = server
    config = TeacherConfig(endpoint=url, model="m", sampling=Sampling(max_new_tokens=4), retries=3, backoff_s=100,
                           stream=True, tokens_per_minute=600)
    teacher = Teacher(config)
    assert isinstance(teacher._tokens, RateLimit) and teacher._tokens.tpm == 600
    teacher._tokens = _Budget()
    handler.script[:] = ["429", "429"]
    answers = teacher.run([("a", [{"role": "user", "content": "hello"}])], tmp_path / "j.jsonl")
    assert answers["a"].text == "answer0" and answers["a"].error is None
    assert (teacher.stats.requests, teacher.stats.retries) == (3, 2)
    assert len(handler.seen) == 3  # the client itself does not retry under the teacher's loop
    assert all(b["stream"] is True for b in handler.seen)
    assert sleeps == [7.0, 7.0]
    assert teacher.stats.completion_tokens == 3
    # each attempt reserves; the refused ones give their reservation back
    assert teacher._tokens.calls == [("acquire", 5), ("settle", 5, 0)] * 2 + [("acquire", 5), ("settle", 5, 8)]
