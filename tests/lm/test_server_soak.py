"""`opencook lm serve` (a real subprocess, a tiny model) under a short mixed load of streaming, plain,
disconnecting and malformed clients (``benchmarks/lm_serve_soak.py``, the 60 s run's code): it keeps answering,
every hostile request gets an answer or a close, and the process is alive after it. A kept-alive connection
is not closed under a later request by the deadline of an earlier one."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from lm_assets import tiny_llama_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from lm_serve_soak import soak, start_server  # noqa: E402

READ_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("soak")
    _, _, model_dir = tiny_llama_dir(tmp, max_seq_len=256)
    with open(tmp / "server.log", "w+") as log:
        proc, url = start_server(str(model_dir), slots=8, threads=1, read_timeout=READ_TIMEOUT, log=log)
        try:
            yield proc, url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.slow
def test_mixed_hostile_load_leaves_the_server_alive_and_answering(served):
    proc, url = served
    res = soak(url, proc.pid, 8, new_tokens=8, read_timeout=READ_TIMEOUT)
    assert proc.poll() is None
    assert httpx.get(url.removesuffix("/v1") + "/health", timeout=30).json()["status"] == "ok"
    assert res["health_after"] == 200 and res["clients_still_running"] == 0
    assert res["health_ok"] == res["health_checks"] > 0
    out = res["outcomes"]
    assert res["malformed_failures"] == 0, out["malformed"]
    assert {o.split(":")[0] for o in out["malformed"]} >= {"bad json", "Content-Length -1", "temperature NaN"}
    for kind in ("stream", "plain"):  # well-formed clients: answered, or told to come back (429), never cut off
        assert out[kind].get("ok", 0) > 0 and set(out[kind]) <= {"ok", "http 429"}, (out[kind], res["examples"])
    assert out["disconnect"].get("dropped after first event", 0) > 0
    assert res["server_counters"]["opencook_client_disconnects_total"] > 0
    assert res["server_counters"]["opencook_prompt_tokens_reused_total"] > 0  # the shared system prompt


def test_kept_alive_connection_outlives_its_first_deadline(served):
    _, url = served
    body = {"model": "m", "prompt": "def f(x):", "max_tokens": 2, "temperature": 0}
    with httpx.Client(timeout=30) as client:
        ports = set()
        for _ in range(3):  # the last request starts after READ_TIMEOUT from the connection's opening
            r = client.post(f"{url}/completions", json=body)
            assert r.status_code == 200
            ports.add(r.extensions["network_stream"].get_extra_info("client_addr")[1])
            time.sleep(0.6 * READ_TIMEOUT)
    assert len(ports) == 1  # one connection throughout, never closed under a request
