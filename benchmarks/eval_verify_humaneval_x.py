"""HumanEval-X's canonical solutions through opencook's sandbox, per language: passed/total and every failure
with its verdict and cause. Writes results/eval_verify_humaneval_x.{json,md}.

    .venv/bin/python benchmarks/eval_verify_humaneval_x.py [--langs cpp,go,java,js,rust] [--workers 2]

Each language is what `opencook eval verify humaneval-x --lang L` runs. Compiles are cached per program
(``$OPENCOOK_SANDBOX_CACHE``, default /var/tmp/opencook-sandbox-<uid>): the first run of a language builds
164 programs (minutes for javac/rustc/go on 2 cores), a rerun only runs them; ``--cold`` uses an empty cache.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.cli.eval_languages import last_line, verify_humaneval_x  # noqa: E402
from opencook.sandbox import Limits, isolation_report  # noqa: E402
from opencook.sandbox.languages import language, resolve_tools  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SANDBOX = {"cpp": "cpp", "go": "go", "java": "java", "js": "js", "rust": "rs"}
# Why each known failure fails (docs/eval.md lists the same).
CAUSES = {
    "JavaScript/112": "the canonical solution returns `(z, false)` (JS comma operator: a bare boolean) instead of "
                      "the array `[t, false]` the test compares with",
    "JavaScript/155": "the canonical solution counts no digit for 0 (`while (num > 0)`), the test expects [1, 0]",
    "Go/95": "flaky: the canonical solution stops after the second key (`else { break }`), so its answer depends on "
             "Go's randomised map iteration order; it fails on some runs",
    "Rust/50": "the test calls rand 0.7's `gen_range(low, high)`; rand 0.8 (Debian bookworm's librust-rand-dev) "
               "takes a range, so the program does not compile",
}


def versions(lang: str) -> dict[str, str]:
    out = {}
    for tool, path in resolve_tools(language(SANDBOX[lang]), drop_uid=True).items():
        flag = {"go": "version", "java": "-version", "javac": "-version", "mono": "--version"}.get(tool, "--version")
        proc = subprocess.run([path, flag], capture_output=True, text=True, timeout=60)
        out[tool] = (proc.stdout or proc.stderr).strip().splitlines()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", default="cpp,go,java,js,rust")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--cold", action="store_true", help="build every program again (an empty compile cache)")
    args = ap.parse_args()
    limits = Limits(timeout_s=args.timeout)
    cache = tempfile.mkdtemp(prefix="opencook-verify-cache-", dir="/var/tmp") if args.cold else None
    rows = []
    for lang in args.langs.split(","):
        start = time.perf_counter()
        bench, outcomes = verify_humaneval_x(lang, None, limits, args.workers, cache_dir=cache)
        seconds = time.perf_counter() - start
        failures = [{"task_id": o.id, "kind": o.kind, "output": last_line(o), "cause": CAUSES.get(o.id, "")}
                    for o in outcomes if not o.passed]
        rows.append({"lang": lang, "passed": sum(o.passed for o in outcomes), "total": len(outcomes),
                     "seconds": round(seconds, 1), "sha256": bench.sha256,
                     "sha256_matches_release": bench.sha256 == bench.known_sha256, "failures": failures,
                     "toolchain": versions(lang)})
        print(f"{lang}: {rows[-1]['passed']}/{rows[-1]['total']} ({seconds:.1f} s)", flush=True)
    commit, dirty = git_commit(ROOT, "src/opencook/sandbox")
    result = {"command": command_line("eval_verify_humaneval_x.py"), "machine": machine_info(), "commit": commit,
              "sandbox_dirty": dirty, "isolation": isolation_report(), "workers": args.workers,
              "timeout_s": args.timeout, "memory_mb": limits.memory_mb, "cold_cache": args.cold, "languages": rows}
    m = result["machine"]
    md = ["# HumanEval-X canonical solutions in opencook's sandbox", "",
          f"`{result['command']}` at {commit}{' (sandbox modified)' if dirty else ''}; {m['cpu']}, {m['cores']} cores; "
          f"{args.workers} workers, {args.timeout:g} s per program, {'cold' if args.cold else 'warm'} compile cache.",
          "", "| language | passed/total | wall s | toolchain | failures |", "| --- | ---: | ---: | --- | --- |"]
    for r in rows:
        fails = "; ".join(f"{f['task_id']} ({f['kind']})" for f in r["failures"]) or "none"
        tools = ", ".join(r["toolchain"].values())
        md.append(f"| {r['lang']} | {r['passed']}/{r['total']} | {r['seconds']} | {tools} | {fails} |")
    causes = [(f["task_id"], f["cause"] or f["output"]) for r in rows for f in r["failures"]]
    if causes:
        md += ["", "Causes:", ""] + [f"- {t}: {c}" for t, c in causes]
    write_results(ROOT / "benchmarks" / "results", "eval_verify_humaneval_x", result, "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
