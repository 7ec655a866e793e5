"""HumanEval+ and MBPP+ from EvalPlus's release files (``HumanEvalPlus.jsonl(.gz)`` v0.1.10,
``MbppPlus.jsonl(.gz)`` v0.2.0) at a path: the problems with their ``base_input`` and ``plus_input`` lists,
so a score can be split into EvalPlus's ``base`` and ``plus`` columns.
"""

from __future__ import annotations

from pathlib import Path

from opencook.benchmarks.problems import Benchmark, DatasetError, Problem, _require, read_jsonl
from opencook.kit.io import sha256_file

NEEDED = ("task_id", "prompt", "entry_point", "base_input", "plus_input")


def mbpp_text(row: dict) -> str:
    """The task description OpenCodeEval's MBPP+ prompt starts with: ``text`` where the file has it, else the
    release's docstring prompt without its quotes and without the example assert (which the prompt adds back)."""
    if "text" in row:
        return row["text"]
    lines = [line for line in row["prompt"].strip().strip('"').strip().splitlines()
             if line.strip() not in {t.strip() for t in row.get("test_list", [])[:1]}]
    return "\n".join(lines)


def load_evalplus(path: str | Path) -> Benchmark:
    """An EvalPlus release file: ``humaneval+`` when its ids are ``HumanEval/N``, ``mbpp+`` when ``Mbpp/N``."""
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"--dataset {file} does not exist: pass EvalPlus's HumanEvalPlus.jsonl(.gz) or "
                           "MbppPlus.jsonl(.gz) (github.com/evalplus/humanevalplus_release, mbppplus_release)")
    rows = read_jsonl(file)
    if not rows:
        raise DatasetError(f"{file} holds no problems: is it an EvalPlus release file?")
    mbpp = str(rows[0].get("task_id", "")).startswith("Mbpp/")
    problems = []
    for i, r in enumerate(rows, 1):
        _require(r, NEEDED + (("test_list",) if mbpp else ()), file, i)
        canonical = r.get("canonical_solution") or r.get("code", "")
        extra = {"base_input": r["base_input"], "plus_input": r["plus_input"], "atol": r.get("atol", 0) or 0,
                 "test_imports": tuple(r.get("test_imports", ()))}
        if mbpp:
            problems.append(Problem(task_id=str(r["task_id"]), prompt=mbpp_text(r), canonical=canonical,
                                    test=r.get("test", ""), entry_point=r["entry_point"],
                                    test_list=tuple(r["test_list"]), setup="\n".join(extra["test_imports"]),
                                    extra=extra))
        else:
            problems.append(Problem(task_id=str(r["task_id"]), prompt=r["prompt"], canonical=canonical,
                                    test=r.get("test", ""), entry_point=r["entry_point"], extra=extra))
    return Benchmark(name="mbpp+" if mbpp else "humaneval+", split="test", version=f"evalplus {file.name}",
                     source=str(file), sha256=sha256_file(file), problems=tuple(problems))


def is_evalplus_file(path: str | Path) -> bool:
    """Whether ``path``'s first row carries EvalPlus's ``plus_input`` (so it loads with ``load_evalplus``)."""
    rows = read_jsonl(Path(path))
    return bool(rows) and "plus_input" in rows[0]
