"""BigCodeBench: prompts (complete: the function to continue; instruct: the task in words), the program that
runs a task's ``TestCases`` in the sandbox, and scoring.

Followed: bigcode-project/bigcodebench (``bigcodebench/eval/__init__.py`` ``unsafe_execute`` and
``untrusted_check``, ``eval/utils.py``, ``provider/utility.py``, ``generate.py``). The solution and the
test class run as one module named ``__test__`` (``sys``, ``os`` and ``environ`` in its namespace), with
TZ=UTC, stdout/stderr swallowed and stdin unreadable, ``exit``/``quit`` disabled; every test method of
``TestCases`` runs under one time limit (``max(240 s, ...) + 1`` in their harness; ``--timeout`` here,
240 s by default); a task passes when no test fails or errors. A base model completes ``complete_prompt``
and its sample is appended to it; a chat model's reply is reduced to its fenced Python block and
"calibrated" as the leaderboard does: ``code_prompt + "\\n    pass\\n" + code``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence

from opencook.benchmarks.bigcodebench import BcbTask
from opencook.evals.extract import extract_code, truncate_at_stop
from opencook.evals.rows import judge_rows

TASK_TIMEOUT_S = 240.0
INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following problem in a "
                      "markdown code block:")
BASE_STOP = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(",
             "\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")

_JUDGE = r'''
import builtins, io, os, sys, time, types, unittest, signal
os.environ["TZ"] = "UTC"
time.tzset()
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


class _Late(BaseException):
    pass


def _late(signum, frame):
    raise _Late("Timed out!")


class _Sink(io.StringIO):
    def read(self, *a):
        raise IOError
    readline = readlines = read

    def readable(self, *a):
        return False


def _verdict(passed, details):
    text = MARK + " " + json.dumps({"passed": passed, "details": details})
    os.write(2, ("\n" + text + "\n").encode("utf-8", "replace"))
    os._exit(0 if passed else 3)


module = types.ModuleType("__test__")
module.__dict__.update({"__builtins__": builtins, "__file__": "__test__.py", "__package__": None,
                        "__doc__": None, "sys": sys, "os": os, "environ": os.environ})
sink = _Sink()
real = sys.stdout, sys.stderr, sys.stdin
sys.stdout = sys.stderr = sys.stdin = sink
builtins.exit = builtins.quit = None
signal.signal(signal.SIGALRM, _late)
try:
    exec(compile(CODE + "\n" + TEST, "__test__.py", "exec"), module.__dict__)
    sys.modules["__test__"] = module
    suite = unittest.TestLoader().loadTestsFromTestCase(module.TestCases)
    result = unittest.TestResult()
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    try:
        suite.run(result)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
except BaseException as e:
    sys.stdout, sys.stderr, sys.stdin = real
    _verdict(False, {"ALL": (type(e).__name__ + ": " + str(e))[-1000:]})
sys.stdout, sys.stderr, sys.stdin = real
issues = {t.id().split(".")[-1]: trace[-1000:] for t, trace in result.failures + result.errors}
_verdict(not issues, issues)
'''


def program(code: str, test: str, mark: str, timeout_s: float = TASK_TIMEOUT_S) -> str:
    """The sandboxed program for one solution: ``code`` and the task's ``test``, run as BigCodeBench does."""
    return (f"import json\nCODE = {code!r}\nTEST = {test!r}\nTIMEOUT_S = {float(timeout_s) + 1!r}\n"
            f"MARK = {mark!r}\n" + _JUDGE)


def chat_message(task: BcbTask, split: str) -> str:
    """BigCodeBench's user turn for a chat model (its response prefix is left out: our backends cannot
    pre-fill the assistant turn)."""
    if split == "complete":
        return f"{INSTRUCTION_PREFIX}\n```\n{task.complete_prompt.strip()}\n```\n"
    return f"{INSTRUCTION_PREFIX}\n{task.instruct_prompt.strip()}\n"


def solution(task: BcbTask, split: str, kind: str, text: str) -> str:
    """The code that is tested for a model's ``text``."""
    if kind == "base":
        if split != "complete":
            raise ValueError("BigCodeBench's instruct split is for chat models: use --kind chat (or --split complete)")
        return task.complete_prompt + truncate_at_stop(text, BASE_STOP)
    return task.code_prompt + "\n    pass\n" + extract_code(text, "python")


def verdict(outcome, mark: str) -> dict:
    for line in reversed(outcome.stderr.splitlines()):
        if line.startswith(mark + " "):
            v = json.loads(line[len(mark) + 1:])
            passed = v["passed"] and outcome.exit_code == 0
            late = str(v["details"].get("ALL", "")).startswith("_Late")
            return {"kind": "passed" if passed else "timeout" if late else "failed", "details": v["details"]}
    kind = "timeout" if outcome.kind == "timeout" else "failed"
    return {"kind": kind, "details": {"ALL": f"no verdict ({outcome.kind}): {outcome.stderr[-500:]}"}}


def judge(tasks: Sequence[BcbTask], codes: Sequence[Sequence[str]], *, timeout_s: float = TASK_TIMEOUT_S,
          memory_mb: int = 8192, workers: int = 2, progress: bool = False) -> list[list[dict]]:
    """Verdicts (``passed``, ``failed`` or ``timeout``, with the failing tests' traces) of every code."""
    from opencook.sandbox import Limits, Program

    if len(codes) != len(tasks):
        raise ValueError(f"{len(codes)} code lists for {len(tasks)} tasks")
    if timeout_s <= 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {timeout_s}")
    mark = "BCB-VERDICT-" + secrets.token_hex(8)
    rows = [[Program(f"{t.task_id}#{j}", program(c, t.test, mark, timeout_s)) for j, c in enumerate(row)]
            for t, row in zip(tasks, codes, strict=True)]
    limits = Limits(timeout_s=timeout_s + 3, memory_mb=memory_mb, max_procs=256)
    return judge_rows(rows, limits, lambda o: verdict(o, mark), workers=workers, progress=progress)


def tasks_for(bench, split: str, kind: str) -> list:
    from opencook.evals.protocol import Task

    def make(t: BcbTask) -> Task:
        def code(text: str, t: BcbTask = t) -> str:
            return solution(t, split, kind, text)

        if kind == "base":
            return Task(t.task_id, t.complete_prompt, None, BASE_STOP, code, code)
        return Task(t.task_id, None, ({"role": "user", "content": chat_message(t, split)},), (), code, code)

    if kind == "base" and split != "complete":
        raise ValueError("BigCodeBench's instruct split is for chat models: use --kind chat (or --split complete)")
    return [make(t) for t in bench.tasks]


def protocol_record(split: str, kind: str, timeout_s: float) -> dict:
    out = {"name": "bigcodebench", "split": split, "kind": kind, "task_timeout_s": timeout_s,
           "followed": "bigcode-project/bigcodebench (eval/__init__.py unsafe_execute; provider/utility.py)",
           "program": "solution + '\\n' + test run as module __test__; unittest TestCases; pass = no failure or "
                      "error; TZ=UTC, stdio swallowed, exit/quit disabled"}
    if kind == "base":
        out.update(prompt="complete_prompt, completed as is", stop=list(BASE_STOP),
                   solution="complete_prompt + completion cut at the earliest stop")
    else:
        out.update(prompt=chat_message(BcbTask("", "{complete_prompt}", "{instruct_prompt}", "", "", "", "", ()),
                                       split),
                   response_prefix=None, solution="code_prompt + '\\n    pass\\n' + the first ```python block "
                                                  "(calibrated, as BigCodeBench's leaderboard)")
    return out


def evaluate(bench, split: str, kind: str, backend, sampling, *, ks: Sequence[int], batch_size: int = 8,
             workers: int = 2, memory_mb: int = 8192, timeout_s: float = TASK_TIMEOUT_S,
             limit: int | None = None, progress: bool = False):
    """Generate, judge and score ``bench`` (a loaded ``BigCodeBench``) in ``split`` for a ``kind`` model."""
    import dataclasses
    import time

    from opencook.evals.passk import summarize
    from opencook.evals.run import Results, extra_versions, generate_samples
    from opencook.kit.versions import collect_versions
    from opencook.sandbox import isolation_report

    todo = tasks_for(bench, split, kind)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"--limit must be >= 1, got {limit}")
        todo = todo[:limit]
    if not todo:
        raise ValueError(f"no runnable BigCodeBench task in {bench.source}: {len(bench.skipped)} skipped for missing "
                         f"libraries {bench.skipped_by_library}")
    by_id = {t.task_id: t for t in bench.tasks}
    t0 = time.perf_counter()
    samples = generate_samples(todo, backend, sampling, batch_size, progress)
    t1 = time.perf_counter()
    codes = [[task.extract(s.text) for s in row] for task, row in zip(todo, samples, strict=True)]
    graded = judge([by_id[t.task_id] for t in todo], codes, timeout_s=timeout_s, memory_mb=memory_mb,
                   workers=workers, progress=progress)
    t2 = time.perf_counter()
    rows = []
    for task, row, code_row, verdicts in zip(todo, samples, codes, graded, strict=True):
        entries = [{"completion": s.text, "finish_reason": s.finish_reason, "code": c, "kind": v["kind"],
                    "passed": v["kind"] == "passed", "details": v["details"], "duration_s": v["duration_s"],
                    "stderr_tail": json.dumps(v["details"])[-1000:]}
                   for s, c, v in zip(row, code_row, verdicts, strict=True)]
        rows.append({"task_id": task.task_id, "prompt": task.prompt, "messages": list(task.messages or []) or None,
                     "n": len(row), "passed": sum(e["passed"] for e in entries), "samples": entries})
    versions = collect_versions()
    versions["packages"].update(extra_versions())
    record = {
        "benchmark": bench.record(), "protocol": protocol_record(split, kind, timeout_s),
        "decoding": {**{k: v for k, v in dataclasses.asdict(sampling).items() if k != "stop"},
                     "batch_size": batch_size, "greedy": sampling.greedy},
        "n": sampling.n, "k": list(ks), "limit": limit, "problems_evaluated": len(todo),
        "problems_in_benchmark": len(bench.tasks) + len(bench.skipped),
        "sandbox": {"limits": {"timeout_s": timeout_s, "per": "task", "memory_mb": memory_mb}, "workers": workers,
                    "isolation": isolation_report()},
        "backend": backend.record(), "scores": summarize([[s["kind"] for s in r["samples"]] for r in rows], ks),
        "wall_time_s": {"generation": round(t1 - t0, 3), "execution": round(t2 - t1, 3), "total": round(t2 - t0, 3)},
        "versions": versions,
    }
    return Results(record=record, problems=rows)
