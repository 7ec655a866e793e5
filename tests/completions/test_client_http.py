"""The completions client against a real local HTTP server that misbehaves as hosted APIs do: 429 with
Retry-After, a dropped connection, a streamed reply; connections are reused between calls."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from opencook.completions.client import RateLimit, ServerError, complete


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so reuse is visible as one client port
    script: list[str] = []
    seen: list[tuple[int, dict]] = []

    def log_message(self, *args) -> None:
        pass

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.client_address[1], body))
        step = self.script.pop(0) if self.script else "ok"
        if step == "429":
            self._json(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        elif step == "400":
            self._json(400, {"error": {"message": "bad prompt"}})
        elif step == "stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for piece, finish in (("hel", None), ("lo", None), ("", "stop")):
                event = {"choices": [{"index": 0, "text": piece, "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            usage = {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}}
            self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
            self.close_connection = True
        else:
            self._json(200, {"choices": [{"index": 0, "text": "hello", "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}})


@pytest.fixture()
def server(http_server):
    return http_server(_Handler)


def test_retry_after_is_honoured_and_connections_are_reused(server):
    handler, url = server
    handler.script[:] = ["429", "429", "ok"]
    reply = complete(url, "hi", model="m", max_tokens=2, backoff=0)
    assert reply.text == "hello" and len(handler.seen) == 3
    complete(url, "hi", model="m", max_tokens=2)
    assert len({port for port, _ in handler.seen}) == 1  # one kept-alive connection for all four requests


def test_client_errors_are_not_retried_and_retries_run_out(server):
    handler, url = server
    handler.script[:] = ["400"]
    with pytest.raises(ServerError, match="bad prompt") as err:
        complete(url, "hi", model="m")
    assert err.value.status == 400 and len(handler.seen) == 1
    handler.script[:] = ["429"] * 3
    with pytest.raises(ServerError) as err:
        complete(url, "hi", model="m", retries=2, backoff=0)
    assert err.value.status == 429 and len(handler.seen) == 4


def test_streamed_reply_is_assembled(server):
    handler, url = server
    handler.script[:] = ["stream"]
    reply = complete(url, "hi", model="m", max_tokens=2, stream=True)
    assert (reply.text, reply.finish_reasons, reply.usage["total_tokens"]) == ("hello", ["stop"], 4)
    assert handler.seen[0][1]["stream"] is True


def test_unreachable_server_is_a_connection_error():
    with pytest.raises(ConnectionError):
        complete("http://127.0.0.1:9/v1", "hi", model="m", retries=1, backoff=0)


def test_tokens_per_minute_budget_is_reserved_and_settled():
    limit = RateLimit(tokens_per_minute=600)
    limit.acquire(100)
    assert 499 <= limit._tokens <= 501
    limit.settle(100, 40)  # the server reported fewer tokens than estimated: the rest is given back
    assert 559 <= limit._tokens <= 561
