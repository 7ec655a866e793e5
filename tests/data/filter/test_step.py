"""The filter as a pipeline step, and filter_path over folders and datasets."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from filter_samples import GOOD_C

from opencook.data.filter.filter_path import filter_path
from opencook.data.filter.step import (
    QualityFilter,
    QualityFilterConfig,
    program_lang_for,
    record_rng,
)
from opencook.kit.stats import StageStats


def _rec(id_, text, language="C", doc_type="code", path="src/x.c"):
    return {"id": id_, "path": path, "filename": Path(path).name, "language": language,
            "doc_type": doc_type, "text": text}  # fmt: skip


def test_program_lang_for():
    assert program_lang_for("C++") == "cpp"
    assert program_lang_for("C#") == "csharp"
    assert program_lang_for("Shell") == "shell"
    assert program_lang_for("JavaScript") == "javascript"
    assert program_lang_for("Python") == "python"
    assert program_lang_for("Emacs Lisp") == "emacs-lisp"
    assert program_lang_for("Objective-C") == "objective-c"


def test_config_rejects_unknown_rules_and_modes():
    with pytest.raises(ValueError, match="unknown rule"):
        QualityFilterConfig(disabled_rules=["qsc_no_such_rule"])
    with pytest.raises(ValueError, match="compat"):
        QualityFilterConfig(compat="strict")


def test_process_counts_drops_rules_and_kept_bytes():
    stats = StageStats()
    records = [_rec("a", GOOD_C), _rec("b", "x\n"), _rec("c", GOOD_C, doc_type="excluded")]
    out = list(QualityFilter().process(iter(records), stats))
    assert [r["id"] for r in out] == ["a"]
    assert stats.by_language["C"]["files"] == 1
    assert stats.by_language["C"]["bytes"] == len(GOOD_C.encode())
    assert stats.dropped["filter:qsc_code_num_words"] == 1
    assert stats.dropped_bytes["filter:qsc_code_num_words"] == 2
    assert stats.dropped["filter:doc_type"] == 1
    assert stats.counters["rule:qsc_code_num_words"] == 1
    assert stats.counters["rule:qsc_code_num_lines"] == 1


def test_rng_depends_only_on_seed_and_id():
    assert record_rng(0, "abc").random() == record_rng(0, "abc").random()
    assert record_rng(0, "abc").random() != record_rng(1, "abc").random()
    assert record_rng(0, "abc").random() != record_rng(0, "abd").random()


def test_probabilistic_rule_is_seeded_and_drops_about_80_percent(conformance_dir):
    text = (conformance_dir / "files" / "java" / "CompanyController.java").read_text(encoding="utf-8")
    recs = [_rec(f"id{i}", text, "Java", path="CompanyController.java") for i in range(200)]
    step = QualityFilter(QualityFilterConfig(seed=7))
    kept1 = [r["id"] for r in step.process(iter(recs), StageStats())]
    kept2 = [r["id"] for r in step.process(iter(reversed(recs)), StageStats())]
    assert sorted(kept1) == sorted(kept2)  # order-independent
    assert 20 <= len(kept1) <= 60  # p(drop) = 0.8
    v = step.judge(recs[0])
    assert v.random_rules == ["qsc_codejava_score_lines_no_logic"]
    assert v.kept_without_random_drops


def test_filter_path_folder(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "sum.c").write_text(GOOD_C)
    (src / "tiny.py").write_text("x = 1\n")
    (src / "data.csv").write_text("a,b\n1,2\n")
    out = filter_path(src, tmp_path / "out")
    rows = {r["path"]: r for r in pq.read_table(out).to_pylist()}
    assert rows["pkg/sum.c"]["kept"] and rows["pkg/sum.c"]["language"] == "C"
    assert not rows["tiny.py"]["kept"] and rows["tiny.py"]["hits"][0] == "qsc_code_num_words"
    assert not rows["data.csv"]["kept"] and rows["data.csv"]["hits"] == []
    assert json.loads(rows["pkg/sum.c"]["signals"])["qsc_code_num_lines"] == 16.0


def test_filter_path_jsonl_dataset_two_workers(tmp_path):
    ds = tmp_path / "ds.jsonl"
    with ds.open("w") as f:
        for i in range(6):
            f.write(json.dumps({"path": f"f{i}.c", "text": GOOD_C if i % 2 else "int x;\n"}) + "\n")
    out = filter_path(ds, tmp_path / "out", fmt="jsonl", workers=2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in rows] == [f"f{i}.c" for i in range(6)]
    assert [r["kept"] for r in rows] == [i % 2 == 1 for i in range(6)]


def test_data_filter_is_a_recipe_that_reads_a_dataset_folder(tmp_path):
    """A folder of dataset parts (here, JSONL.zst, as `write` makes) is read through kit.io.Dataset."""
    import zstandard

    from opencook.data.filter.filter_path import filter_recipe
    from opencook.data.recipe import parse_recipe

    names = [spec.name for spec, _ in parse_recipe(filter_recipe("x"), "t").stages]
    assert names == ["filter_input", "filter_verdicts", "filter_results"]
    ds = tmp_path / "dataset"
    ds.mkdir()
    lines = "".join(json.dumps({"path": f"f{i}.c", "text": GOOD_C if i % 2 else "int x;\n"}) + "\n"
                    for i in range(4))
    (ds / "part-00000.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    (ds / "_SUCCESS.json").write_text("{}")
    out = filter_path(ds, tmp_path / "out", seed=3)
    rows = pq.read_table(out).to_pylist()
    assert [r["path"] for r in rows] == [f"f{i}.c" for i in range(4)]
    assert [r["kept"] for r in rows] == [False, True, False, True]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["filter_results.parquet"]  # the run dir is gone
