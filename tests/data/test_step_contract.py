"""The step contract: four bases, a Filter that does the bookkeeping once, and the stage registry."""

from dataclasses import dataclass
from typing import ClassVar

import pytest

from opencook.data.recipe import parse_recipe
from opencook.data.stages import STAGES, stage_class
from opencook.kit.config import ConfigError
from opencook.kit.stats import StageStats
from opencook.kit.step import Filter, Global, Map, Sink, Source, Step


@dataclass
class ShortConfig:
    max_chars: int = 5


class DropLong(Filter):
    name: ClassVar[str] = "drop_long"
    config_cls: ClassVar[type] = ShortConfig

    def verdict(self, record):
        self.stats.add("seen")
        return "drop_long:too_long" if len(record["text"]) > self.config.max_chars else None


def test_filter_counts_keeps_drops_reasons_and_bytes_once():
    records = [{"id": "a", "text": "abc", "language": "C"}, {"id": "b", "text": "abcdefgh", "size_bytes": 100},
               {"id": "c", "text": "é", "language": None}]
    stats = StageStats()
    kept = list(DropLong().process(iter(records), stats))
    assert [r["id"] for r in kept] == ["a", "c"]
    assert kept[0] is records[0]  # a filter passes records on unchanged
    assert stats.dropped == {"drop_long:too_long": 1}
    assert stats.dropped_bytes == {"drop_long:too_long": 100}  # the raw size when ingest recorded one
    assert stats.by_language == {"C": {"files": 1, "bytes": 3}, "unknown": {"files": 1, "bytes": 2}}
    assert stats.counters["seen"] == 3
    assert DropLong(ShortConfig(max_chars=100)).config.max_chars == 100


def test_every_registered_stage_is_a_step_of_one_kind_with_a_config():
    kinds = {}
    for name in STAGES.names():
        cls = stage_class(name, "test")
        assert issubclass(cls, Step) and cls.name == name
        kinds[name] = cls.kind
        assert isinstance(cls.config_cls, type)
    assert kinds["ingest"] == kinds["web_ingest"] == kinds["filter_input"] == "source"
    assert kinds["exact_dedup"] == kinds["fuzzy_dedup"] == "global"
    assert {kinds[n] for n in ("transform", "filter", "sample", "decontaminate", "recall_score")} == {"map"}
    assert kinds["write"] == kinds["filter_results"] == "sink"
    for name in ("filter", "sample", "decontaminate"):
        assert issubclass(stage_class(name, "test"), Filter)
    assert {Source.kind, Map.kind, Global.kind, Sink.kind, Filter.kind} == {"source", "map", "global", "sink"}


def test_recipe_binds_names_to_step_classes_and_names_typos():
    recipe = parse_recipe({"stages": [{"ingest": {"paths": ["x"]}}, {"sample": {}}, {"write": {}}]})
    assert [cls.__name__ for cls, _ in recipe.stages] == ["Ingest", "Sample", "Write"]
    with pytest.raises(ConfigError, match=r"stages\[1\]: unknown stage 'sampel'; did you mean 'sample'\?"):
        parse_recipe({"stages": [{"ingest": {"paths": ["x"]}}, {"sampel": {}}, {"write": {}}]})
