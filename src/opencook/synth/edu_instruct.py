"""Educational-Instruct (OpenCoder SFT stage 2): seed code → the teacher writes a problem, a solution and
assert tests → the solution runs against its tests in the sandbox → only passing samples are kept."""

from __future__ import annotations

from pathlib import Path

from opencook.synth.counts import StageCounts
from opencook.synth.io import write_jsonl
from opencook.synth.parse import parse_exercise
from opencook.synth.sample import Candidate, Item, seed_items
from opencook.synth.seeds import sft_row
from opencook.synth.stage import RunConfig, run_stage
from opencook.synth.teacher import Teacher

STAGE = "edu-instruct"
SYSTEM = "You are an expert Python teacher who writes clear programming exercises with correct, tested solutions."
PROMPT = """Here is some code:

```python
{seed}
```

Inspired by this code, write one self-contained programming exercise. Answer in exactly this format:

Problem:
<the exercise, in a few sentences>

Solution:
```python
<a complete solution that defines a function>
```

Tests:
```python
<three assert statements that call the solution>
```"""


def make_items(seeds: list[dict], stage: str = STAGE, prompt: str = PROMPT) -> list[Item]:
    return seed_items(stage, prompt, SYSTEM, seeds)


def parse(item: Item, reply: str, finish_reason: str) -> Candidate:
    ex = parse_exercise(reply, finish_reason, need_problem=True)
    output = f"```python\n{ex.solution}\n```"
    row = sft_row(ex.problem, output, STAGE, id=item.id, seed_id=item.seed["seed_id"], tests=ex.tests)
    return Candidate(item, f"{ex.solution}\n\n{ex.tests}\n", f"{ex.problem}\n{ex.solution}\n{ex.tests}", row)


def edu_instruct(seeds: list[dict], teacher: Teacher, out: str | Path,
                 config: RunConfig | None = None) -> tuple[Path, StageCounts]:
    """Write ``out/sft.jsonl`` (kept samples: instruction/output, messages, tests, provenance); returns its
    path and the counts."""
    out = Path(out)
    kept, counts = run_stage(STAGE, make_items(seeds), teacher, out, parse, config)
    return write_jsonl([c.record for c in kept], out / "sft.jsonl"), counts
