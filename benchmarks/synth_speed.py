"""Synthetic-data throughput with the small real teacher: Educational-Instruct samples generated and kept per
minute, SmolLM2-135M-Instruct behind `opencook lm serve` on this CPU. A tiny model on a shared CPU: the figures
say what the pipeline costs around the teacher, not what a real teacher (vLLM on a GPU) would give.

    .venv/bin/opencook lm import-hf smollm2 --out /tmp/smollm2
    .venv/bin/python benchmarks/synth_speed.py --model-dir /tmp/smollm2 [--seeds 3] [--max-tokens 96]
    # or against a running server: --endpoint http://127.0.0.1:PORT/v1

Writes ``benchmarks/results/synth_speed.{json,md}``. A fresh cache each run: every sample is paid for.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.completions.sampling import Sampling  # noqa: E402
from opencook.synth.edu_instruct import edu_instruct  # noqa: E402
from opencook.synth.stage import RunConfig  # noqa: E402
from opencook.synth.teacher import Teacher, TeacherConfig  # noqa: E402

SEEDS = [
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "def is_palindrome(s):\n    s = s.lower()\n    return s == s[::-1]",
    "def count_words(text):\n    counts = {}\n    for w in text.split():\n        counts[w] = counts.get(w, 0) + 1\n"
    "    return counts",
    "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a",
    "def flatten(xs):\n    out = []\n    for x in xs:\n        out.extend(flatten(x) if isinstance(x, list) else [x])\n"
    "    return out",
]


def _serve(model_dir: str, threads: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen([sys.executable, "-m", "opencook", "lm", "serve", model_dir, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    match = re.search(r"http://[\d.]+:\d+/v1", proc.stdout.readline())
    if not match:
        proc.kill()
        raise SystemExit(f"`opencook lm serve {model_dir}` printed no URL; is it an imported model directory?")
    return proc, match.group(0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--model-dir", help="an imported model directory to serve (opencook lm import-hf smollm2)")
    where.add_argument("--endpoint", help="an already running OpenAI-compatible endpoint")
    ap.add_argument("--seeds", type=int, default=3, help=f"seeds to use (at most {len(SEEDS)})")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2, help="server threads when --model-dir is given")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    proc = None
    endpoint = args.endpoint
    if args.model_dir:
        proc, endpoint = _serve(args.model_dir, args.threads)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            teacher = Teacher(TeacherConfig(endpoint=endpoint, sampling=Sampling(max_new_tokens=args.max_tokens),
                                            concurrency=1),
                              cache_dir=Path(tmp) / "cache")
            seeds = [{"id": f"s{i}", "text": t} for i, t in enumerate(SEEDS[: args.seeds])]
            start = time.perf_counter()
            _, counts = edu_instruct(seeds, teacher, Path(tmp) / "out", RunConfig(timeout_s=3.0))
            wall = time.perf_counter() - start
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
    minutes = wall / 60
    stats = teacher.stats
    result = {
        "stage": "edu-instruct", "teacher": teacher.model, "seeds": len(seeds), "max_tokens": args.max_tokens,
        "wall_s": round(wall, 1), "teacher_s": round(stats.seconds, 1), "completion_tokens": stats.completion_tokens,
        "tokens_per_s": round(stats.completion_tokens / stats.seconds, 2) if stats.seconds else None,
        "generated_per_min": round(counts.generated / minutes, 2), "kept_per_min": round(counts.kept / minutes, 2),
        "counts": counts.as_dict(), "machine": machine_info(), "note": "CPU only, 135M teacher, shared machine",
        "command": command_line("synth_speed.py"),
    }
    commit, dirty = git_commit(ROOT, "src/opencook/synth")
    result["commit"] = commit + ("-dirty" if dirty else "")
    m = result["machine"]
    md = (f"# Synthetic data throughput (Educational-Instruct, small real teacher)\n\n"
          f"`{result['command']}` at {result['commit']}; {m['cpu']}, {m['cores']} cores (shared with other jobs), "
          f"Python {m['python']}. CPU only: SmolLM2-135M-Instruct via `opencook lm serve`, one request at a time.\n\n"
          f"| seeds | max_tokens | wall s | teacher tokens/s | generated/min | kept/min | kept |\n"
          f"|---|---|---|---|---|---|---|\n"
          f"| {len(seeds)} | {args.max_tokens} | {result['wall_s']} | {result['tokens_per_s']} | "
          f"{result['generated_per_min']} | {result['kept_per_min']} | {counts.kept} of {counts.generated} |\n\n"
          f"Drops: {', '.join(f'{k}={v}' for k, v in sorted(counts.reasons.items())) or 'none'}. "
          "A 135M teacher rarely writes the asked format; the figure that carries over to a real teacher is the "
          "cost around it (parse, decontaminate, sandbox: wall s minus teacher s).\n")
    print(md)
    if not args.no_write:
        write_results(ROOT / "benchmarks" / "results", "synth_speed", result, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
