"""The algorithmic corpus: self-contained, logic-heavy files from a RefineCode dataset (OpenCoder's annealing
ingredient). A file is kept when it carries one of the paper's markers, or when it passes every rule of a
configurable rule set for Python (parses, defines functions, imports little outside the standard library, has
loops or branches). Every drop is counted under the first rule it failed, so the report says why."""

from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from opencook.kit.io import Dataset
from opencook.kit.progress import Progress
from opencook.synth.io import write_parquet

PAPER_MARKERS = ("leetcode", "def solution", "class solution")
_CONTROL = (ast.For, ast.While, ast.If, ast.comprehension, ast.IfExp)


@dataclass
class AlgorithmicConfig:
    """``markers`` match case-insensitively anywhere in the text (the paper's rule). The rule set applies to
    Python files without a marker when ``rules`` is on: ``min_lines``..``max_lines`` lines, at least
    ``min_functions`` function definitions, at most ``max_third_party_imports`` imports of non-stdlib top-level
    modules, at least ``min_control_flow`` loops/branches/comprehensions, and no top-level statements besides
    imports, definitions, constants and an ``if __name__ == "__main__"`` block when ``self_contained``."""

    markers: list[str] = field(default_factory=lambda: list(PAPER_MARKERS))
    rules: bool = True
    min_lines: int = 5
    max_lines: int = 500
    min_functions: int = 1
    max_third_party_imports: int = 0
    min_control_flow: int = 2
    self_contained: bool = True

    def __post_init__(self) -> None:
        if not self.markers and not self.rules:
            raise ValueError("algorithmic: no markers and rules off selects nothing; give markers or set rules: true")
        if self.min_lines > self.max_lines:
            raise ValueError(f"algorithmic: min_lines={self.min_lines} > max_lines={self.max_lines}")


def _is_python(record: dict) -> bool:
    return record.get("language") == "Python" or str(record.get("ext") or "").lower() == "py"


def _top_level_ok(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # docstring
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return True  # constants
    if isinstance(node, ast.If):
        test = node.test
        return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__")
    return False


def rule_verdict(text: str, config: AlgorithmicConfig) -> str | None:
    """None when ``text`` passes every rule, else the name of the first rule it fails."""
    lines = text.count("\n") + 1
    if lines < config.min_lines:
        return "too_short"
    if lines > config.max_lines:
        return "too_long"
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "does_not_parse"
    nodes = list(ast.walk(tree))
    if sum(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in nodes) < config.min_functions:
        return "too_few_functions"
    modules = {a.name.split(".")[0] for n in nodes if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in nodes if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    if len(modules - set(sys.stdlib_module_names) - {"__future__"}) > config.max_third_party_imports:
        return "third_party_imports"
    if sum(isinstance(n, _CONTROL) for n in nodes) < config.min_control_flow:
        return "no_control_flow"
    if config.self_contained and not all(_top_level_ok(n) for n in tree.body):
        return "top_level_code"
    return None


def classify(record: dict, config: AlgorithmicConfig) -> tuple[bool, str]:
    """(keep, reason): ``marker:<m>``, ``rules``, ``not_python`` or the failed rule's name."""
    text = record["text"] or ""
    lower = text.lower()
    for marker in config.markers:
        if marker.lower() in lower:
            return True, f"marker:{marker.lower()}"
    if not config.rules:
        return False, "no_marker"
    if not _is_python(record):
        return False, "not_python"
    failed = rule_verdict(text, config)
    return (True, "rules") if failed is None else (False, failed)


def select_algorithmic(dataset: str | Path, out: str | Path, config: AlgorithmicConfig | None = None) -> dict:
    """Write the selected records of ``dataset`` to ``out/dataset/part-00000.parquet`` (same schema);
    returns the counts: ``in``, ``kept``, and one count per reason (``marker:leetcode``, ``too_few_functions``)."""
    config = config or AlgorithmicConfig()
    kept: list[dict] = []
    counts: Counter[str] = Counter()
    with Progress(None, "algorithmic", "file") as bar:  # no total known up front: a line every 30 s
        for where, record in Dataset(dataset).located_records():
            if not isinstance(record.get("text"), str):
                raise ValueError(f"{where}: a record without a string 'text' field; give a dataset written by "
                                 "`opencook run`")
            keep, reason = classify(record, config)
            counts["in"] += 1
            counts[reason] += 1
            if keep:
                counts["kept"] += 1
                kept.append(record)
            bar.update(1, kept=counts["kept"])
    write_parquet(kept, Path(out) / "dataset")
    return {"in": counts.pop("in", 0), "kept": counts.pop("kept", 0), "reasons": dict(sorted(counts.items()))}
