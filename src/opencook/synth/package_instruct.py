"""Package-Instruct (OpenCoder SFT stage 2): current API docs of installed libraries → the teacher writes a
question and an answer with runnable code → the code runs in the sandbox; samples whose code fails are
dropped (answers without code are kept only with ``need_code=False``)."""

from __future__ import annotations

from pathlib import Path

from opencook.synth.apidocs import ApiDoc, api_docs
from opencook.synth.counts import StageCounts
from opencook.synth.io import write_jsonl
from opencook.synth.parse import parse_qa
from opencook.synth.sample import Candidate, Item, item_id
from opencook.synth.seeds import sft_row
from opencook.synth.stage import RunConfig, run_stage
from opencook.synth.teacher import Teacher

STAGE = "package-instruct"
SYSTEM = "You are an expert Python programmer who answers questions about library APIs with working examples."
PROMPT = """This is the documentation of `{name}` from the installed `{module}` ({version}):

{signature}

{doc}

Write one question a programmer could ask about using `{name}`, and answer it with a short runnable example
that checks its result with assert. Answer in exactly this format:

Question: <the question>
Answer: <a short explanation>
```python
<code that imports {module} and uses {name}>
```"""


def make_items(docs: list[ApiDoc]) -> list[Item]:
    items = []
    for d in docs:
        text = PROMPT.format(name=d.name, module=d.module, version=d.version, signature=d.signature, doc=d.doc)
        items.append(Item(item_id(STAGE, text), [{"role": "system", "content": SYSTEM},
                                                  {"role": "user", "content": text}],
                          {"api": d.name, "module": d.module, "version": d.version}))
    return items


def make_parser(need_code: bool = True):
    def parse(item: Item, reply: str, finish_reason: str) -> Candidate:
        qa = parse_qa(reply, finish_reason, need_code=need_code)
        row = sft_row(qa.question, qa.answer, STAGE, id=item.id, **item.seed)
        program = f"import {item.seed['module']}\n\n{qa.code}\n" if qa.code else None
        return Candidate(item, program, f"{qa.question}\n{qa.answer}", row)

    return parse


def package_instruct(modules: list[str], teacher: Teacher, out: str | Path, config: RunConfig | None = None,
                     per_module: int = 10, need_code: bool = True) -> tuple[Path, StageCounts]:
    """Up to ``per_module`` APIs of each module → ``out/sft.jsonl``; returns its path and the counts."""
    if not modules:
        raise ValueError("package-instruct: no modules given; pass e.g. --modules json,re")
    docs = [d for m in modules for d in api_docs(m, max_items=per_module)]
    kept, counts = run_stage(STAGE, make_items(docs), teacher, Path(out), make_parser(need_code), config)
    return write_jsonl([c.record for c in kept], Path(out) / "sft.jsonl"), counts
