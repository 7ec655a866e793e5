"""Annealing data from algorithmic-corpus seeds (OpenCoder): synthetic snippets (a self-contained function plus
assert tests; kept only when the tests pass) and textbook sections (prose plus runnable examples; kept only when
the examples run). Both are written as Parquet in the pipeline's schema, ready for `opencook lm data build`."""

from __future__ import annotations

from pathlib import Path

from opencook.synth.counts import StageCounts
from opencook.synth.io import synthetic_record, write_parquet
from opencook.synth.parse import parse_exercise, parse_section
from opencook.synth.sample import Candidate, Item, seed_items
from opencook.synth.stage import RunConfig, run_stage
from opencook.synth.teacher import Teacher

SYSTEM = "You are an expert Python programmer who writes clean, self-contained, tested code."
SNIPPET_PROMPT = """Here is some code:

```python
{seed}
```

Write one new self-contained Python function that solves a related algorithmic task, with a docstring, and then
tests for it. Use only the standard library. Answer in exactly this format:

```python
<the function>
```

```python
<three assert statements that call the function>
```"""
TEXTBOOK_PROMPT = """Here is some code:

```python
{seed}
```

Write a short textbook section that teaches the main programming idea used in this code: a title, a clear
explanation of a few paragraphs, and one runnable example that checks its results with assert:

```python
<the example>
```"""


def _parse_snippet(item: Item, reply: str, finish_reason: str) -> Candidate:
    ex = parse_exercise(reply, finish_reason, need_problem=False)
    text = f"{ex.solution}\n\n\n{ex.tests}\n"
    return Candidate(item, text, text, synthetic_record("snippets", item.id, text))


def _parse_section(item: Item, reply: str, finish_reason: str) -> Candidate:
    sec = parse_section(reply, finish_reason)
    return Candidate(item, sec.code + "\n", sec.text, synthetic_record("textbook", item.id, sec.text))


def snippets(seeds: list[dict], teacher: Teacher, out: str | Path, config: RunConfig | None = None,
             kind: str = "snippets") -> tuple[Path, StageCounts]:
    """``kind`` "snippets" or "textbook" → ``out/dataset/part-00000.parquet``; returns the folder and counts."""
    if kind not in ("snippets", "textbook"):
        raise ValueError(f"kind={kind!r}: use 'snippets' or 'textbook'")
    prompt, parse = (SNIPPET_PROMPT, _parse_snippet) if kind == "snippets" else (TEXTBOOK_PROMPT, _parse_section)
    kept, counts = run_stage(kind, seed_items(kind, prompt, SYSTEM, seeds), teacher, Path(out), parse, config)
    write_parquet([c.record for c in kept], Path(out) / "dataset")
    return Path(out) / "dataset", counts
