"""The stages a recipe can name, and how the runner drives each kind.

Kinds:
- ``source``: plans tasks from the config and turns each task into one shard (ingest).
- ``map``: a Step applied shard by shard (transform, filter, sample).
- ``global``: summarise every shard, decide once over all summaries, apply per shard (exact and fuzzy
  dedup). The module provides ``summarize(records, stats, config)``, ``decide_files(summary paths,
  stats, config, workdir)`` (it reads the summaries itself, so it can stay out of core) and
  ``apply(records, decision, stats, config)``.
- ``sink``: turns all shards into the final dataset (write).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from opencook.kit.config import ConfigError


@dataclass(frozen=True)
class StageSpec:
    name: str
    kind: str
    config_path: str  # "module:ConfigClass"
    impl_path: str  # "module:StepClass" for map; module for source/global; unused for sink

    def config_cls(self) -> type:
        return _load(self.config_path)

    def impl(self) -> Any:
        if ":" in self.impl_path:
            return _load(self.impl_path)
        return importlib.import_module(self.impl_path)


def _load(path: str) -> Any:
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


STAGES: dict[str, StageSpec] = {
    s.name: s
    for s in (
        StageSpec("ingest", "source", "opencook.data.ingest:IngestConfig", "opencook.data.ingest"),
        StageSpec("exact_dedup", "global", "opencook.data.dedup.exact:ExactDedupConfig", "opencook.data.dedup.exact"),
        StageSpec("fuzzy_dedup", "global", "opencook.data.dedup.minhash.config:FuzzyDedupConfig",
                  "opencook.data.dedup.minhash.stage"),
        StageSpec("transform", "map", "opencook.data.transform.step:TransformConfig",
                  "opencook.data.transform.step:Transform"),
        StageSpec("filter", "map", "opencook.data.filter.step:QualityFilterConfig",
                  "opencook.data.filter.step:QualityFilter"),
        StageSpec("sample", "map", "opencook.data.sample:SampleConfig", "opencook.data.sample:Sample"),
        StageSpec("decontaminate", "map", "opencook.data.decontaminate:DecontaminateConfig",
                  "opencook.data.decontaminate:Decontaminate"),
        StageSpec("web_ingest", "source", "opencook.data.recall.source:WebIngestConfig", "opencook.data.recall.source"),
        StageSpec("recall_score", "map", "opencook.data.recall.score:RecallScoreConfig",
                  "opencook.data.recall.score:RecallScore"),
        StageSpec("write", "sink", "opencook.data.write:WriteConfig", "opencook.data.write"),
    )
}


def stage_spec(name: str, where: str) -> StageSpec:
    if name not in STAGES:
        import difflib

        close = difflib.get_close_matches(name, list(STAGES), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known stages: {', '.join(STAGES)}"
        raise ConfigError(f"{where}: unknown stage '{name}'{hint}")
    return STAGES[name]
