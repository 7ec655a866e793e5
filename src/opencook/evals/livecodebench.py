"""LiveCodeBench code generation: the prompt LiveCodeBench gives a chat model, its code extraction, and its
grading, run in the sandbox (``lcb_judge.py`` holds the grader that runs there).

Followed: LiveCodeBench/LiveCodeBench at commit 4fa15949edfc48871be612fc83dcb7961b012ad3
(``lcb_runner/prompts/code_generation.py``: ``SYSTEM_MESSAGE_GENERIC`` as the system turn and
``get_generic_question_template_answer`` as the user turn, the OpenAIChat style; ``lcb_runner/utils/
extraction_utils.py``: the code between the last two lines that contain a fence; ``lcb_runner/evaluation/
testing_util.py`` and ``compute_code_generation_metrics.py``: 6 s per test, a whole-sample limit of
(6 + 1) x tests + 5 s, the first failing test ends the sample).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from pathlib import Path

from opencook.benchmarks.livecodebench import LcbProblem
from opencook.evals.rows import judge_rows

SYSTEM_MESSAGE = ("You are an expert Python programmer. You will be given a question (problem specification) and "
                  "will generate a correct Python program that matches the specification and passes all tests. You "
                  "will NOT return anything except for the program.")
WITH_STARTER = ("You will use the following starter code to write the solution to the problem and enclose your "
                "code within delimiters.")
WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
                   "test on the sample inputs). Enclose your code within delimiters as follows.")
TEST_TIMEOUT_S = 6.0
JUDGE_SOURCE = (Path(__file__).parent / "lcb_judge.py").read_text()
KINDS = ("passed", "wrong_answer", "timeout", "exception")


def user_prompt(p: LcbProblem) -> str:
    """LiveCodeBench's generic question template, byte for byte."""
    text = f"### Question:\n{p.content}\n\n"
    if p.starter_code:
        text += f"### Format: {WITH_STARTER}\n```python\n{p.starter_code}\n```\n\n"
    else:
        text += f"### Format: {WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return text + "### Answer: (use the provided format with backticks)\n\n"


def messages(p: LcbProblem) -> tuple[dict[str, str], ...]:
    return ({"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user_prompt(p)})


def extract(reply: str) -> str:
    """The lines between the last two lines that contain a fence; fewer than two such lines: no code."""
    lines = reply.split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1:fences[-1]])


def sample_timeout(p: LcbProblem, test_timeout_s: float = TEST_TIMEOUT_S) -> float:
    """LiveCodeBench's whole-sample limit: (per-test limit + 1) per test, plus 5 s."""
    return (test_timeout_s + 1) * len(p.tests) + 5


def judge_program(p: LcbProblem, code: str, mark: str, test_timeout_s: float = TEST_TIMEOUT_S) -> str:
    tests = [[t.input, t.output] for t in p.tests]
    head = (f"CODE = {code!r}\nTESTS = json.loads({json.dumps(tests)!r})\nFN_NAME = {p.func_name!r}\n"
            f"TIMEOUT_S = {float(test_timeout_s)!r}\nMARK = {mark!r}\n")
    return "import json\n" + head + JUDGE_SOURCE


def verdict(outcome, mark: str) -> dict:
    """The judge's verdict line, or (no line: the sample was killed or ran out of its whole time) the sandbox's."""
    for line in reversed(outcome.stderr.splitlines()):
        if line.startswith(mark + " "):
            v = json.loads(line[len(mark) + 1:])
            if v["kind"] == "passed" and outcome.exit_code != 0:
                return {"kind": "exception", "test": None, "message": "passed, then exited nonzero"}
            return v
    kind = "timeout" if outcome.kind == "timeout" else "exception"
    return {"kind": kind, "test": None, "message": f"no verdict ({outcome.kind}): {outcome.stderr[-300:]}"}


def judge(problems: Sequence[LcbProblem], codes: Sequence[Sequence[str]], *, memory_mb: int = 4096,
          workers: int = 2, test_timeout_s: float = TEST_TIMEOUT_S, progress: bool = False) -> list[list[dict]]:
    """Verdicts (kind, failing test, message) of every code, ``codes[i]`` being problem i's samples.

    All programs share one sandbox limit, the largest whole-sample limit among them: each test is held to
    ``test_timeout_s`` inside the program, so the shared one is only the backstop LiveCodeBench also has."""
    from opencook.sandbox import Limits, Program

    if len(codes) != len(problems):
        raise ValueError(f"{len(codes)} code lists for {len(problems)} problems")
    if test_timeout_s <= 0:
        raise ValueError(f"--test-timeout must be > 0 seconds, got {test_timeout_s}")
    mark = "LCB-VERDICT-" + secrets.token_hex(8)
    rows = [[Program(f"{p.task_id}#{j}", judge_program(p, c, mark, test_timeout_s)) for j, c in enumerate(row)]
            for p, row in zip(problems, codes, strict=True)]
    limits = Limits(timeout_s=max((sample_timeout(p, test_timeout_s) for p in problems), default=test_timeout_s),
                    memory_mb=memory_mb)
    return judge_rows(rows, limits, lambda o: verdict(o, mark), workers=workers, progress=progress)


def read_solutions(path: str | Path) -> dict[str, list[str]]:
    """``--solutions FILE``: JSONL rows ``{"question_id", "code"}`` (or LiveCodeBench's own output rows,
    ``{"question_id", "code_list"}``); several rows for one question are its samples, in order."""
    from opencook.benchmarks.problems import DatasetError, read_jsonl

    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"--solutions {file} does not exist: pass a JSONL of {{question_id, code}} rows")
    out: dict[str, list[str]] = {}
    for i, row in enumerate(read_jsonl(file), 1):
        qid = row.get("question_id", row.get("task_id"))
        codes = row.get("code_list", [row["code"]] if "code" in row else None)
        if qid is None or not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise DatasetError(f"{file} row {i} needs question_id and code (a string) or code_list (strings)")
        out.setdefault(str(qid), []).extend(codes)
    return out


def protocol_record(test_timeout_s: float) -> dict:
    return {"name": "livecodebench", "kind": "chat", "system": SYSTEM_MESSAGE,
            "user_template": "### Question:\\n{question_content}\\n\\n### Format: {with/without starter text}\\n"
                             "```python\\n{starter_code or '# YOUR CODE HERE'}\\n```\\n\\n### Answer: (use the "
                             "provided format with backticks)\\n\\n",
            "code_extraction": "the lines between the last two lines containing ``` (fewer than two: no code)",
            "grading": "LiveCodeBench's: prelude imports, stdin programs wrapped in a function, outputs compared "
                       "line by line after strip() (then as Decimals), functional tests call Solution().func_name",
            "test_timeout_s": test_timeout_s, "sample_timeout": "(test_timeout_s + 1) * tests + 5",
            "followed": "LiveCodeBench/LiveCodeBench@4fa15949edfc48871be612fc83dcb7961b012ad3"}


def tasks(bench) -> list:
    """One chat task per problem (LiveCodeBench's prompt has no completion-mode form that we follow)."""
    from opencook.evals.protocol import Task

    def make(p: LcbProblem) -> Task:
        return Task(p.task_id, None, messages(p), (), extract, lambda c: extract(c))

    return [make(p) for p in bench.problems]


def evaluate(bench, backend, sampling, *, ks: Sequence[int], batch_size: int = 8, workers: int = 2,
             memory_mb: int = 4096, test_timeout_s: float = TEST_TIMEOUT_S, limit: int | None = None,
             progress: bool = False):
    """Generate ``sampling.n`` replies per problem of ``bench`` (a loaded ``LiveCodeBench``), grade them as
    LiveCodeBench does, and score pass@k."""
    import dataclasses
    import time

    from opencook.evals.passk import summarize
    from opencook.evals.run import Results, extra_versions, generate_samples
    from opencook.kit.versions import collect_versions
    from opencook.sandbox import isolation_report

    problems = list(bench.problems)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"--limit must be >= 1, got {limit}")
        problems = problems[:limit]
    if not problems:
        raise ValueError(f"no LiveCodeBench problem of {bench.source} lies in {bench.start}..{bench.end}: widen "
                         "--start/--end")
    todo = tasks(bench)[:len(problems)]
    t0 = time.perf_counter()
    samples = generate_samples(todo, backend, sampling, batch_size, progress)
    t1 = time.perf_counter()
    codes = [[extract(s.text) for s in row] for row in samples]
    graded = judge(problems, codes, memory_mb=memory_mb, workers=workers, test_timeout_s=test_timeout_s,
                   progress=progress)
    t2 = time.perf_counter()
    rows = []
    for p, row, code_row, verdicts in zip(problems, samples, codes, graded, strict=True):
        entries = [{"completion": s.text, "finish_reason": s.finish_reason, "code": c, "kind": v["kind"],
                    "passed": v["kind"] == "passed", "failed_test": v["test"], "message": v["message"],
                    "duration_s": v["duration_s"], "stderr_tail": v["message"]}
                   for s, c, v in zip(row, code_row, verdicts, strict=True)]
        rows.append({"task_id": p.task_id, "prompt": None, "messages": list(messages(p)), "n": len(row),
                     "difficulty": p.difficulty, "platform": p.platform, "contest_date": p.contest_date.isoformat(),
                     "passed": sum(e["passed"] for e in entries), "samples": entries})
    scores = summarize([[s["kind"] for s in r["samples"]] for r in rows], ks)
    scores["by_difficulty"] = {
        d: summarize([[s["kind"] for s in r["samples"]] for r in rows if r["difficulty"] == d], ks)["pass_at_k"]
        for d in sorted({r["difficulty"] for r in rows})}
    versions = collect_versions()
    versions["packages"].update(extra_versions())
    record = {
        "benchmark": bench.record(), "protocol": protocol_record(test_timeout_s),
        "decoding": {**{k: v for k, v in dataclasses.asdict(sampling).items() if k != "stop"},
                     "batch_size": batch_size, "greedy": sampling.greedy},
        "n": sampling.n, "k": list(ks), "limit": limit, "problems_evaluated": len(problems),
        "problems_in_benchmark": len(bench.problems),
        "sandbox": {"limits": {"timeout_s": test_timeout_s, "per": "test", "memory_mb": memory_mb},
                    "workers": workers, "isolation": isolation_report()},
        "backend": backend.record(), "scores": scores,
        "wall_time_s": {"generation": round(t1 - t0, 3), "execution": round(t2 - t1, 3), "total": round(t2 - t0, 3)},
        "versions": versions,
    }
    return Results(record=record, problems=rows)
