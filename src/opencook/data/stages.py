"""The stages a recipe can name: stage name -> step class (see ``opencook.kit.step`` for the kinds).

Entries are lazy, so naming the stages (``opencook --help``, parsing a recipe) imports only the
steps the recipe uses. A new stage is one line here and one class with a ``config_cls``.
"""

from __future__ import annotations

from opencook.kit.registry import Registry
from opencook.kit.step import Step

STAGES: Registry[Step] = Registry("stage", {
    "ingest": "opencook.data.ingest.step:Ingest",
    "stack_v2": "opencook.data.ingest.stack_v2:StackV2Ingest",
    "exact_dedup": "opencook.data.dedup.exact:ExactDedup",
    "fuzzy_dedup": "opencook.data.dedup.minhash.stage:FuzzyDedup",
    "transform": "opencook.data.transform.step:Transform",
    "filter": "opencook.data.filter.step:QualityFilter",
    "sample": "opencook.data.sample:Sample",
    "decontaminate": "opencook.data.decontaminate:Decontaminate",
    "web_ingest": "opencook.data.recall.source:WebIngest",
    "recall_score": "opencook.data.recall.score:RecallScore",
    "github_text": "opencook.data.recall.github_text:GithubText",
    "write": "opencook.data.write:Write",
    # `opencook data filter`: every file -> its verdict row (nothing dropped) -> filter_results.{parquet,jsonl}
    "filter_input": "opencook.data.filter.filter_path:FilterInput",
    "filter_verdicts": "opencook.data.filter.filter_path:FilterVerdicts",
    "filter_results": "opencook.data.filter.filter_path:FilterResults",
})


def stage_class(name: str, where: str) -> type[Step]:
    """The step class of stage ``name``; ``where`` says which recipe entry named it."""
    cls = STAGES.get(name, where)
    if cls.name != name:
        raise TypeError(f"stage '{name}' is registered to {cls.__qualname__}, whose name is '{cls.name}'")
    return cls
