"""Issue 13's bug: a dataset written with ``write: {format: jsonl.zst}`` must read as its texts everywhere.

The dataset is made by the real pipeline (``opencook run``); the oracle decompresses its parts by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
import zstandard

from fixtures_code import make_repos, pipeline_recipe
from opencook.cli import main


@pytest.fixture(scope="module")
def zst_dataset(tmp_path_factory) -> Path:
    root = make_repos(tmp_path_factory.mktemp("zst"))
    recipe = root / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(pipeline_recipe(root, format="jsonl.zst")))
    assert main(["run", str(recipe), "--out", str(root / "run"), "--executor", "inprocess", "--no-report"]) == 0
    dataset = root / "run" / "dataset"
    parts = sorted(dataset.glob("part-*"))
    assert len(parts) > 1 and all(p.name.endswith(".jsonl.zst") for p in parts)
    return dataset


def _records(dataset: Path) -> list[dict]:
    rows = []
    for part in sorted(dataset.glob("part-*.jsonl.zst")):
        with zstandard.open(part, "rt", encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def test_tokenizer_sources_decode_jsonl_zst(zst_dataset):
    from opencook.tokenizer import iter_texts

    assert sorted(iter_texts([zst_dataset])) == sorted(r["text"] for r in _records(zst_dataset) if r["text"])


def test_packed_build_reads_jsonl_zst_texts(zst_dataset, tmp_path):
    from opencook.lm.data import PackedDataset, build_packed
    from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

    tok = train_tokenizer([zst_dataset], TokenizerConfig(vocab_size=300), progress=False)
    tok_dir = save_tokenizer(tok, tmp_path / "tok")
    build_packed([zst_dataset], tok_dir, tmp_path / "packed", progress=False)
    texts = [r["text"] for r in _records(zst_dataset) if r["text"]]
    assert PackedDataset(tmp_path / "packed").meta["n_docs"] == len(texts)


def test_synth_seeds_read_jsonl_zst(zst_dataset):
    from opencook.synth.seeds import load_seeds

    records = _records(zst_dataset)
    seeds = load_seeds(zst_dataset, max_chars=10**9)
    assert [s["id"] for s in seeds] == [r["id"] for r in records if r["text"].strip()]


def test_funcnames_reads_jsonl_zst_as_a_dataset(zst_dataset, tmp_path):
    from opencook.xc.data import FunctionNames, FunctionNamesConfig

    data = FunctionNames(FunctionNamesConfig(sources=str(zst_dataset), eval_fraction=0.0, workers=1, min_count=1,
                                             progress=False, cache_dir=str(tmp_path / "cache")))
    python = {r["path"] for r in _records(zst_dataset) if r["language"] == "Python"}
    assert sorted(data.data.file_keys) == sorted(python)
