"""An OpenAI-compatible HTTP server over ``generate``, on the standard library's ThreadingHTTPServer.

Requests are parsed concurrently; generation is serialised by one lock around the model, and the
prompts of one request run as one batch.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opencook.lm.generate.chat import render_messages
from opencook.lm.generate.decoding import generate
from opencook.lm.generate.openai_api import (
    COMPLETIONS_DEFAULT_MAX_TOKENS,
    RequestError,
    chat_response,
    completion_response,
    parse_messages,
    parse_prompts,
    parse_sampling,
)
from opencook.lm.generate.served import ServedModel
from opencook.tokenizer import encode

MAX_BODY = 16 * 2**20


def handle_completions(served: ServedModel, body: dict) -> dict:
    prompts = parse_prompts(body)
    sampling = parse_sampling(body, COMPLETIONS_DEFAULT_MAX_TOKENS)
    with served.lock:
        completions = generate(served.model, served.tokenizer, prompts, sampling, eos_ids=served.eos_ids)
    return completion_response(served.name, completions)


def handle_chat(served: ServedModel, body: dict) -> dict:
    messages = parse_messages(body)
    ids = encode(served.tokenizer, render_messages(messages, served.chat_template, served.template_vars),
                 special=True)
    room = served.model.cfg.max_seq_len - len(ids)
    if room < 1:
        raise RequestError(f"the conversation is {len(ids)} tokens, which fills the model's context of "
                           f"{served.model.cfg.max_seq_len}: send fewer or shorter messages", "messages")
    sampling = parse_sampling(body, room)  # no max_tokens: answer until the context is full
    with served.lock:
        (completion,) = generate(served.model, served.tokenizer, [ids], sampling, eos_ids=served.chat_eos_ids)
    return chat_response(served.name, completion)


def models_response(served: ServedModel, created: int) -> dict:
    return {"object": "list",
            "data": [{"id": served.name, "object": "model", "created": created, "owned_by": "opencook"}]}


class Handler(BaseHTTPRequestHandler):
    """Routes the OpenAI endpoints; ``served`` and ``created`` are set on a subclass by ``make_server``."""

    served: ServedModel
    created: int
    server_version = "opencook"

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err: RequestError) -> None:
        self._send(err.status, err.body())

    def do_GET(self) -> None:  # noqa: N802 - the name BaseHTTPRequestHandler dispatches to
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, {"status": "ok", "model": self.served.name})
        elif path == "/v1/models":
            self._send(200, models_response(self.served, self.created))
        elif path in ("/v1/completions", "/v1/chat/completions"):
            self._error(RequestError(f"{path} takes POST, not GET", status=405, code="method_not_allowed"))
        else:
            self._error(RequestError(f"unknown path {path or '/'}: see GET /v1/models, POST /v1/completions, "
                                     "POST /v1/chat/completions", status=404, code="not_found"))

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise RequestError("Content-Length is not an integer") from None
        if length > MAX_BODY:
            raise RequestError(f"request body of {length} bytes exceeds {MAX_BODY}", status=413)
        raw = self.rfile.read(length)
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

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0].rstrip("/")
        routes = {"/v1/completions": handle_completions, "/v1/chat/completions": handle_chat}
        if path not in routes:
            self._error(RequestError(f"unknown path {path or '/'}: POST /v1/completions or "
                                     "/v1/chat/completions", status=404, code="not_found"))
            return
        try:
            self._send(200, routes[path](self.served, self._body()))
        except RequestError as e:
            self._error(e)
        except ValueError as e:  # generate's own checks (prompt too long, bad ids): the caller's input
            self._error(RequestError(str(e)))
        except Exception as e:  # noqa: BLE001 - the server must answer, and keep serving
            traceback.print_exc()
            self._error(RequestError(f"internal error: {type(e).__name__}: {e}", status=500))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def make_server(served: ServedModel, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A bound (not yet serving) server; ``port=0`` picks a free port, read it from ``server_address``."""
    handler = type("BoundHandler", (Handler,), {"served": served, "created": int(time.time())})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
