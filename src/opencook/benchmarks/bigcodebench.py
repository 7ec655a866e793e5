"""BigCodeBench (full or hard) from its released JSONL: ``task_id``, ``complete_prompt``, ``instruct_prompt``,
``canonical_solution``, ``code_prompt``, ``test`` (a ``unittest.TestCase`` class named ``TestCases``),
``entry_point`` and ``libs`` (a list, or its Python repr as a string in some releases).

A task needs third-party libraries (pandas, matplotlib, sklearn ...). One whose libraries are not importable
here cannot be judged fairly, so it is skipped, and every skip is counted under each library it lacks:
``BigCodeBench.skipped_by_library`` goes into the results record and the printout, never silently away.
"""

from __future__ import annotations

import ast
import importlib.util
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from opencook.benchmarks.problems import DatasetError, read_jsonl
from opencook.kit.io import sha256_file

FIELDS = ("task_id", "complete_prompt", "instruct_prompt", "canonical_solution", "code_prompt", "test",
          "entry_point", "libs")
SPLITS = ("complete", "instruct")
SUBSETS = ("full", "hard")


@dataclass(frozen=True)
class BcbTask:
    task_id: str
    complete_prompt: str
    instruct_prompt: str
    canonical_solution: str
    code_prompt: str
    test: str
    entry_point: str
    libs: tuple[str, ...]


@dataclass(frozen=True)
class BigCodeBench:
    subset: str
    source: str
    sha256: str
    tasks: tuple[BcbTask, ...]  # the runnable ones
    skipped: tuple[str, ...] = ()  # task ids whose libraries are missing
    skipped_by_library: dict[str, int] = field(default_factory=dict)

    def record(self) -> dict:
        return {"name": "bigcodebench", "subset": self.subset, "source": self.source, "sha256": self.sha256,
                "tasks": len(self.tasks) + len(self.skipped), "runnable": len(self.tasks),
                "skipped": len(self.skipped), "skipped_by_library": dict(self.skipped_by_library),
                "skipped_tasks": list(self.skipped)}


def parse_libs(value: object, where: str) -> tuple[str, ...]:
    """``libs`` as a list, or as the string repr of one (``"['pandas', 'random']"``)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value) if value.strip() else []
        except (ValueError, SyntaxError):
            raise DatasetError(f"{where}: libs {value!r:.80} is neither a list nor a list's repr") from None
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
        raise DatasetError(f"{where}: libs must be a list of library names, got {value!r:.80}")
    return tuple(value)


def installed(lib: str) -> bool:
    """Whether ``import lib`` can find it in this interpreter (the sandbox runs the same one)."""
    try:
        return importlib.util.find_spec(lib.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def load_bigcodebench(path: str | Path, subset: str = "full", *, available=installed) -> BigCodeBench:
    """The tasks of the release file at ``path``; ``subset`` (full or hard) names which file it is."""
    if subset not in SUBSETS:
        raise DatasetError(f"unknown BigCodeBench subset {subset!r}: use one of {list(SUBSETS)}")
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"--dataset {file} does not exist: pass a BigCodeBench release JSONL "
                           f"(bigcode/bigcodebench{'-hard' if subset == 'hard' else ''}, one split as .jsonl)")
    tasks, skipped, by_lib, seen = [], [], Counter(), {}
    for i, row in enumerate(read_jsonl(file), 1):
        where = f"{file} row {i}"
        missing = [k for k in FIELDS if k not in row]
        if missing:
            raise DatasetError(f"{where} lacks field(s) {missing}: expected a BigCodeBench row with {list(FIELDS)}")
        if row["task_id"] in seen:
            raise DatasetError(f"{where}: task_id {row['task_id']} appears twice")
        seen[row["task_id"]] = True
        task = BcbTask(task_id=str(row["task_id"]), complete_prompt=row["complete_prompt"],
                       instruct_prompt=row["instruct_prompt"], canonical_solution=row["canonical_solution"],
                       code_prompt=row["code_prompt"], test=row["test"], entry_point=row["entry_point"],
                       libs=parse_libs(row["libs"], where))
        lacking = sorted({lib for lib in task.libs if not available(lib)})
        if lacking:
            skipped.append(task.task_id)
            by_lib.update(lacking)
        else:
            tasks.append(task)
    return BigCodeBench(subset=subset, source=str(file), sha256=sha256_file(file), tasks=tuple(tasks),
                        skipped=tuple(skipped), skipped_by_library=dict(sorted(by_lib.items())))
