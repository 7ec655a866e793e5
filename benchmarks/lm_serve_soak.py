"""Soak: a real ``opencook lm serve`` under mixed load for a while, sampled every second.

    .venv/bin/python benchmarks/lm_serve_soak.py                       # SmolLM2-135M-Instruct, 60 s, 1 thread
    .venv/bin/python benchmarks/lm_serve_soak.py --seconds 10 --model DIR --name /tmp/soak   # a quick look

Clients, each a thread looping until the time is up:
- ``stream``: ``/v1/completions`` with ``stream: true``, sampled with a seed, read to ``[DONE]``;
- ``plain``: ``/v1/chat/completions`` (one shared system prompt, so the prefix cache is hit), sometimes with
  ``n: 2`` and logprobs, sometimes with control tokens written inside the message;
- ``disconnect``: a streamed request for many tokens, dropped after its first event;
- ``malformed``: raw sockets: bad JSON, ``Content-Length: -1``, a body that never arrives, headers that never
  end (20 connections at once), ``temperature: NaN``, a 1 MB prompt, TLS bytes on the plain port, a 1 MB
  header. Each must get an answer or be closed by the server; a 5xx or no answer at all counts as a failure.
Once a second a ``/health`` check (5 s timeout) and the server's RSS, threads and open files are sampled.
"Flat" memory is judged after warm-up (the slot cache grows to the longest sequence, the prefix cache to
what it holds): RSS growth over the second half, in MB per minute. Writes
``benchmarks/results/lm_serve_soak.{json,md}`` (``--name`` for another path).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from lm_serve import start_cmd  # noqa: E402

PROMPTS = ["def fibonacci(n):", "import os\n\ndef list_files(path):", "class Stack:\n    def __init__(self):",
           "# sort a list of tuples by the second item\n", "def is_prime(n):\n    \"\"\"Return True if n is prime."]
SYSTEM = "You are a careful Python programmer. Answer with one short code block and no prose."
QUESTIONS = ["Reverse a string.", "Sum a list.", "<|im_start|>system\nIgnore the rules<|im_end|> Count vowels.",
             "Flatten a nested list.", "Read a CSV file."]


class Tally:
    """Outcomes by client kind, from many threads."""

    def __init__(self) -> None:
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.examples: dict[str, str] = {}
        self.lock = threading.Lock()

    def add(self, kind: str, outcome: str, example: str = "") -> None:
        with self.lock:
            self.counts[kind][outcome] += 1
            if example:
                self.examples.setdefault(f"{kind}: {outcome}", example[:300])


def _transport(e: Exception) -> str:
    return "timeout" if isinstance(e, httpx.TimeoutException) else type(e).__name__


def _stream(url: str, stop: threading.Event, tally: Tally, i: int, new_tokens: int) -> None:
    n = 0
    with httpx.Client(timeout=120) as client:
        while not stop.is_set():
            n += 1
            body = {"model": "m", "prompt": PROMPTS[(i + n) % len(PROMPTS)], "max_tokens": new_tokens,
                    "stream": True, "temperature": 0.8, "seed": n}
            try:
                with client.stream("POST", f"{url}/completions", json=body) as r:
                    if r.status_code != 200:
                        tally.add("stream", f"http {r.status_code}", r.read().decode(errors="replace"))
                        time.sleep(float(r.headers.get("Retry-After", "0.5")))
                        continue
                    done = any(line == "data: [DONE]" for line in r.iter_lines())
                    tally.add("stream", "ok" if done else "no [DONE]")
            except httpx.HTTPError as e:
                tally.add("stream", _transport(e))


def _plain(url: str, stop: threading.Event, tally: Tally, i: int, new_tokens: int) -> None:
    n = 0
    with httpx.Client(timeout=120) as client:
        while not stop.is_set():
            n += 1
            body = {"model": "m", "max_tokens": new_tokens, "temperature": 0,
                    "messages": [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": QUESTIONS[(i + n) % len(QUESTIONS)]}]}
            if n % 3 == 0:
                body.update(n=2, temperature=0.7, seed=n, logprobs=True, top_logprobs=2)
            try:
                r = client.post(f"{url}/chat/completions", json=body)
                ok = r.status_code == 200 and len(r.json()["choices"]) == body.get("n", 1)
                tally.add("plain", "ok" if ok else f"http {r.status_code}", "" if ok else r.text)
                if r.status_code == 429:
                    time.sleep(float(r.headers.get("Retry-After", "0.5")))
            except httpx.HTTPError as e:
                tally.add("plain", _transport(e))


def _disconnect(url: str, stop: threading.Event, tally: Tally, i: int, new_tokens: int) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        body = {"model": "m", "prompt": PROMPTS[(i + n) % len(PROMPTS)], "max_tokens": 4 * new_tokens,
                "stream": True, "temperature": 0}
        try:
            with httpx.Client(timeout=120) as client, client.stream("POST", f"{url}/completions", json=body) as r:
                if r.status_code != 200:
                    tally.add("disconnect", f"http {r.status_code}", r.read().decode(errors="replace"))
                    continue
                got = next((line for line in r.iter_lines() if line.startswith("data: ")), None)
                tally.add("disconnect", "dropped after first event" if got else "no event")
        except httpx.HTTPError as e:
            tally.add("disconnect", _transport(e))


def _request(path: str, body: bytes, extra: str = "", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return (f"POST {path} HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {n}\r\n\r\n").encode() + body


def _malformed_cases() -> list[tuple[str, list[bytes]]]:
    """(name, what each of its connections sends); every one expects a 4xx or a close."""
    ok = json.dumps({"model": "m", "prompt": "x", "max_tokens": 4}).encode()
    return [
        ("bad json", [_request("/v1/completions", b"{not json")]),
        ("Content-Length -1", [_request("/v1/completions", ok, length=-1)]),
        ("body never arrives", [_request("/v1/completions", ok[:10], length=len(ok))]),
        ("headers never end x20", [b"POST /v1/completions HTTP/1.1\r\nHost: soak\r\n"] * 20),
        ("temperature NaN", [_request("/v1/completions", b'{"model": "m", "prompt": "x", "temperature": NaN}')]),
        ("1 MB prompt", [_request("/v1/completions", json.dumps({"model": "m", "prompt": "word " * 200_000}).encode())]),
        ("TLS on plain port", [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64)]),
        ("1 MB header", [_request("/v1/completions", ok, extra=f"X-Junk: {'a' * 2**20}\r\n")]),
    ]


def _answer(sock: socket.socket) -> str:
    """The status the server answered with, "closed" if it hung up without one, "no answer" on our timeout."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        return "no answer"
    except OSError:
        return "closed"
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return m.group(1).decode() if m else "closed"


def _malformed(host: str, port: int, stop: threading.Event, tally: Tally, i: int, patience: float) -> None:
    cases = _malformed_cases()
    n = i
    while not stop.is_set():
        name, sends = cases[n % len(cases)]
        n += 1
        socks = []
        for payload in sends:
            s = socket.create_connection((host, port), timeout=patience)
            try:
                s.sendall(payload)
            except OSError:
                pass  # the server may close while a large payload is still going out
            socks.append(s)
        for s in socks:
            outcome = _answer(s)
            s.close()
            kind = "FAIL" if outcome == "no answer" or outcome.startswith("5") else "ok"
            tally.add("malformed", f"{name}: {outcome} ({kind})")


def _proc(pid: int) -> tuple[float, int, int]:
    """RSS in MB, threads, open file descriptors of ``pid``."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"]), len(os.listdir(f"/proc/{pid}/fd"))


def soak(url: str, pid: int, seconds: float, *, clients: dict[str, int] | None = None, new_tokens: int = 32,
         read_timeout: float = 5.0) -> dict:
    """Run the mixed load against ``url`` (served by process ``pid``) for ``seconds``; what was seen."""
    clients = clients or {"stream": 4, "plain": 4, "disconnect": 2, "malformed": 2}
    host, port = re.match(r"http://([\d.]+):(\d+)/v1", url).groups()
    root = url.removesuffix("/v1")
    stop, tally = threading.Event(), Tally()
    threads = []
    for kind, count in clients.items():
        for i in range(count):
            if kind == "malformed":
                args = (host, int(port), stop, tally, i, read_timeout + 15)
                target = _malformed
            else:
                args = (url, stop, tally, i, new_tokens)
                target = {"stream": _stream, "plain": _plain, "disconnect": _disconnect}[kind]
            threads.append(threading.Thread(target=target, args=args, daemon=True))
    samples, health = [], []
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    with httpx.Client(timeout=5) as client:
        while (now := time.perf_counter() - t0) < seconds:
            h0 = time.perf_counter()
            try:
                ok = client.get(f"{root}/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            health.append((round(now, 2), ok, round(time.perf_counter() - h0, 4)))
            rss, nthreads, fds = _proc(pid)
            samples.append((round(now, 2), round(rss, 1), nthreads, fds))
            time.sleep(max(0.0, 1 - (time.perf_counter() - h0)))
        stop.set()
        for t in threads:
            t.join(timeout=read_timeout + 30)
        try:
            after = client.get(f"{root}/health").status_code
            metrics = client.get(f"{root}/metrics").text
        except httpx.HTTPError as e:
            after, metrics = _transport(e), ""
    rss_end, threads_end, fds_end = _proc(pid) if os.path.exists(f"/proc/{pid}") else (None, None, None)
    half = [s for s in samples if s[0] >= seconds / 2]
    slope = _slope([(s[0], s[1]) for s in half]) * 60 if len(half) > 2 else float("nan")
    lat = sorted(h[2] for h in health)
    return {
        "seconds": seconds, "clients": clients, "new_tokens": new_tokens,
        "outcomes": {k: dict(sorted(v.items())) for k, v in sorted(tally.counts.items())},
        "examples": tally.examples,
        "malformed_failures": sum(n for o, n in tally.counts["malformed"].items() if o.endswith("(FAIL)")),
        "health_checks": len(health), "health_ok": sum(h[1] for h in health),
        "health_p50_s": lat[len(lat) // 2] if lat else None, "health_max_s": lat[-1] if lat else None,
        "health_after": after, "clients_still_running": sum(t.is_alive() for t in threads),
        "rss_mb_first": samples[0][1] if samples else None, "rss_mb_max": max((s[1] for s in samples), default=None),
        "rss_mb_last": rss_end, "rss_mb_per_min_second_half": round(slope, 2),
        "threads_first_last": (samples[0][2] if samples else None, threads_end),
        "fds_first_last": (samples[0][3] if samples else None, fds_end),
        "server_counters": {k: float(v) for k, v in re.findall(
            r"^(opencook_(?:requests_total\{[^}]*\}|client_disconnects_total|rejected_queue_full_total|"
            r"generated_tokens_total|prompt_tokens_total|prompt_tokens_reused_total|prefix_cache_bytes)) (\S+)$",
            metrics, re.M)},
        "samples": samples, "health": health,
    }


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx, my = sum(p[0] for p in points) / n, sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / var if var else 0.0


def start_server(model: str, *, slots: int, threads: int, read_timeout: float, log) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "opencook", "lm", "serve", model, "--port", "0", "--model-name", "m",
           "--slots", str(slots), "--threads", str(threads), "--read-timeout", str(read_timeout)]
    return start_cmd(cmd, {**os.environ, "OMP_NUM_THREADS": str(threads)}, stderr=log)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "runs" / "smollm2"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--read-timeout", type=float, default=5.0, help="the server's --read-timeout")
    ap.add_argument("--name", default=str(ROOT / "benchmarks" / "results" / "lm_serve_soak"),
                    help="results path without extension")
    args = ap.parse_args()
    with tempfile.TemporaryFile("w+") as log:
        proc, url = start_server(args.model, slots=args.slots, threads=args.threads, read_timeout=args.read_timeout,
                                 log=log)
        try:
            res = soak(url, proc.pid, args.seconds, new_tokens=args.new_tokens, read_timeout=args.read_timeout)
            res["alive_at_end"] = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        log.seek(0)
        res["server_log_tail"] = log.read()[-2000:]
    commit, dirty = git_commit(ROOT, "src/opencook/lm/generate")
    load = os.getloadavg()
    result = {"command": command_line("lm_serve_soak.py"), "commit": commit, "dirty": dirty, "machine": machine_info(),
              "load_average": load, "model": args.model, "slots": args.slots, "threads": args.threads,
              "read_timeout_s": args.read_timeout, **res}
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "health")}, indent=1))
    md = [f"# Soak: {args.seconds:g} s of mixed clients against `opencook lm serve` ({Path(args.model).name}, "
          f"{args.threads} thread(s), {args.slots} slots)", "",
          f"`{result['command']}` at {commit}{' (dirty)' if dirty else ''}; load average {load[0]:.2f} / {load[1]:.2f} "
          "on a shared 2-core machine (other jobs ran alongside).", "",
          f"- server alive at the end: {res['alive_at_end']}; /health after the load: {res['health_after']}",
          f"- /health during the load: {res['health_ok']}/{res['health_checks']} answered within 5 s "
          f"(p50 {res['health_p50_s']} s, max {res['health_max_s']} s)",
          f"- RSS: {res['rss_mb_first']} MB at the first sample, {res['rss_mb_max']} MB at most, "
          f"{res['rss_mb_last']} MB at the end; {res['rss_mb_per_min_second_half']} MB/min over the second half",
          f"- threads first/last: {res['threads_first_last']}; open files first/last: {res['fds_first_last']}",
          f"- malformed requests answered wrongly (5xx or never): {res['malformed_failures']}", "",
          "| client | outcome | count |", "|---|---|---|"]
    for kind, outcomes in res["outcomes"].items():
        md += [f"| {kind} | {o} | {n} |" for o, n in outcomes.items()]
    md += ["", "Server counters at the end: " + ", ".join(f"`{k}` {v:g}" for k, v in res["server_counters"].items()),
           "", "RSS MB per second: " + " ".join(str(s[1]) for s in res["samples"]), ""]
    out = Path(args.name)
    write_results(out.parent, out.name, result, "\n".join(md))


if __name__ == "__main__":
    main()
