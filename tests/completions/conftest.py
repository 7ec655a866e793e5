"""A scripted local HTTP server for the completions client tests: each test file gives its handler class."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import pytest


@pytest.fixture()
def http_server():
    """``start(handler_class)`` serves a fresh subclass (its own empty ``script`` and ``seen`` lists) on a free
    localhost port in a thread; returns (that subclass, the ``.../v1`` base URL). Stopped after the test."""
    started: list[ThreadingHTTPServer] = []

    def start(base: type) -> tuple[type, str]:
        handler = type("H", (base,), {"script": [], "seen": []})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return handler, f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()
