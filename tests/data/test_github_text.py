"""The ``github_text`` stage in a real pipeline run: a repository of real text files (this project's README
and docs, the Python licence, a source file) plus notebooks, a classifier trained here on the recall
demo corpus, and the counts in stats.json and report.html."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("fasttext", reason="needs the recall extra (fastText)")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from recall_demo_corpus import make_corpus  # noqa: E402

from opencook.data.recall import CodeClassifier, FastTextConfig  # noqa: E402
from opencook.data.recall.github_text import GithubTextConfig, notebook_markdown, text_rule  # noqa: E402
from opencook.data.recipe import parse_recipe  # noqa: E402
from opencook.data.report import write_data_report  # noqa: E402
from opencook.data.runner import PipelineRunner  # noqa: E402
from opencook.kit.executors import InProcessExecutor  # noqa: E402
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer  # noqa: E402

NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
            "cells": [{"cell_type": "markdown", "source": ["# Parsing JSON\n", "\n",
                                                           "Call `json.loads(text)` to parse; `json.dumps(obj)` "
                                                           "serializes. Pass `indent=2` for readable output."]},
                      {"cell_type": "code", "source": ["import json\n", "print(json.dumps({'a': 1}, indent=2))"],
                       "outputs": [], "execution_count": 1},
                      {"cell_type": "markdown", "source": "The function returns a `str`; use `json.dump(obj, fh)` "
                                                          "to write to a file object."}]}
CODE_ONLY = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
             "cells": [{"cell_type": "code", "source": "x = 1\nprint(x)", "outputs": [], "execution_count": 1}]}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("ghtext")
    corpus, seeds, _ = make_corpus(seed=0)
    prose = [p for p in corpus if p.kind == "prose"]
    train = d / "train.jsonl"
    train.write_text("".join(json.dumps({"text": p.text}) + "\n" for p in seeds + prose[:120]))
    tok = train_tokenizer([train], TokenizerConfig(vocab_size=1200), progress=False)
    save_tokenizer(tok, d / "tok")
    clf = CodeClassifier.train([p.text for p in seeds], [p.text for p in prose[:120]], d / "tok",
                               FastTextConfig(epoch=10))
    clf.save(d / "model")

    repo = d / "repos" / "acme"
    (repo / "docs").mkdir(parents=True)
    (repo / "src").mkdir()
    shutil.copy(ROOT / "README.md", repo / "README.md")
    shutil.copy(ROOT / "docs" / "recall.md", repo / "docs" / "recall.md")
    shutil.copy(ROOT / "docs" / "dedup.md", repo / "docs" / "dedup.md")
    shutil.copy(json.__file__, repo / "src" / "codec.py")
    (repo / "NOTES.txt").write_text(prose[-1].text)  # a held-out prose page (not trained on)
    (repo / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (repo / "scratch.ipynb").write_text(json.dumps(CODE_ONLY))
    return {"dir": d, "repo": repo, "model": str(d / "model")}


def test_file_name_rules():
    config = GithubTextConfig(model="unused")
    rule = lambda name, ext="": text_rule({"filename": name, "ext": ext, "path": name}, config)  # noqa: E731
    assert rule("README") == "readme" and rule("Readme.rst", "rst") == "readme"
    assert rule("CONTRIBUTING.md", "md") == "name" and rule("guide.adoc", "adoc") == "name"
    assert rule("intro.md", "md") == "ext:md" and rule("a.ipynb", "ipynb") == "notebook"
    assert rule("setup.py", "py") is None and rule("Makefile") is None
    assert text_rule({"filename": "a.ipynb", "ext": "ipynb"}, GithubTextConfig(model="x", notebooks=False)) is None


def test_notebook_markdown_takes_only_the_prose_cells():
    text = "# %% [markdown]\n# # Title\n#\n# Some `code` talk.\n\n# %%\nimport os\n\n# %% [raw]\n# raw\n" \
           "\n// %% [markdown]\n// second cell\n"
    assert notebook_markdown(text) == "# Title\n\nSome `code` talk.\n\nsecond cell"
    assert notebook_markdown("# %%\nx = 1\n") == ""


def test_github_text_stage_in_a_pipeline_run(world, tmp_path):
    recipe = parse_recipe({"name": "github-text", "stages": [
        {"ingest": {"paths": [str(world["repo"].parent)]}},
        {"github_text": {"model": world["model"], "threshold": 0.5}},
        {"write": {}},
    ]})
    run = tmp_path / "run"
    PipelineRunner(recipe, run, InProcessExecutor()).run()
    table = pq.read_table(run / "dataset").to_pylist()
    kept = {r["path"].removeprefix("acme/"): r for r in table}
    assert {"README.md", "docs/recall.md", "docs/dedup.md", "analysis.ipynb"} <= set(kept)
    assert "NOTES.txt" not in kept and "src/codec.py" not in kept and "scratch.ipynb" not in kept
    nb = kept["analysis.ipynb"]
    assert nb["language"] == "Markdown" and nb["doc_type"] == "text"
    assert "Call `json.loads(text)` to parse" in nb["text"] and "print(json.dumps" not in nb["text"]

    stats = json.loads((run / "stats.json").read_text())
    stage = next(s["stats"] for s in stats["stages"] if s["name"] == "github_text")
    assert stage["dropped"]["not_text_file"] == 1
    assert stage["dropped"]["notebook_without_markdown"] == 1
    assert stage["dropped"]["recall:below_threshold"] == 1
    assert stage["counters"]["github_text:readme"] == 1 and stage["counters"]["github_text:notebook"] == 1
    assert stage["counters"]["github_text:ext:md"] == 2 and stage["counters"]["github_text:name"] == 1  # NOTES.txt
    assert sum(v for k, v in stage["counters"].items() if k.startswith("recall_score_bin:")) == 5
    report = write_data_report(run).read_text()
    assert "github_text" in report and "not_text_file" in report and "recall:below_threshold" in report
