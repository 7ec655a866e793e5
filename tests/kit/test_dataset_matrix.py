"""Every dataset format the pipeline writes or ingests x every consumer that reads a dataset.

The same six records are written as Parquet, JSONL, JSONL.gz and JSONL.zst; each consumer (the quality filter
included) is called through its public function (or the CLI) and must see the same texts, whatever the format."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from fixtures_code import python_module
from opencook.kit.stats import StageStats

FORMATS = ("parquet", "jsonl", "jsonl.gz", "jsonl.zst")


def _records() -> list[dict]:
    rng = random.Random(3)
    return [{"id": f"r{i}", "repo": "demo", "path": f"pkg/mod{i}.py", "language": "Python",
             "text": python_module(rng, n_funcs=2), "instruction": f"Write helper number {i}.",
             "output": f"def helper_{i}():\n    return {i}\n"} for i in range(6)]


RECORDS = _records()
TEXTS = [r["text"] for r in RECORDS]


def write_dataset(folder: Path, fmt: str, records: list[dict]) -> Path:
    """Two parts of ``records`` in ``fmt`` under ``folder`` (plus a marker file that readers skip)."""
    folder.mkdir(parents=True)
    halves = (records[:3], records[3:])
    for i, rows in enumerate(halves):
        path = folder / f"part-{i:05d}.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(rows), path)
            continue
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        if fmt.endswith(".gz"):
            data = gzip.compress(data)
        elif fmt.endswith(".zst"):
            data = zstandard.ZstdCompressor().compress(data)
        path.write_bytes(data)
    (folder / "_SUCCESS.json").write_text("{}")
    return folder


@pytest.fixture(scope="module", params=FORMATS)
def dataset(request, tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp(request.param.replace(".", "_")) / "dataset", request.param,
                         RECORDS)


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> Path:
    from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

    root = tmp_path_factory.mktemp("tok")
    (root / "code.py").write_text("".join(TEXTS))
    tok = train_tokenizer([root / "code.py"], TokenizerConfig(vocab_size=300), progress=False)
    return save_tokenizer(tok, root / "tokenizer")


def test_dataset_reads_the_records(dataset):
    from opencook.kit.io import Dataset

    ds = Dataset(dataset)
    assert [p.name.split(".", 1)[0] for p in ds.files()] == ["part-00000", "part-00001"]
    assert list(ds.texts()) == TEXTS
    assert list(ds.records(columns=["id", "missing"])) == [{"id": r["id"], "missing": None} for r in RECORDS]


def test_tokenizer_training(dataset):
    from opencook.tokenizer import SourceStats, TokenizerConfig, iter_texts, train_tokenizer

    stats = SourceStats()
    assert sorted(iter_texts([dataset], stats=stats)) == sorted(TEXTS)
    assert stats.files == 2 and stats.docs == len(TEXTS)
    tok = train_tokenizer([dataset], TokenizerConfig(vocab_size=300), progress=False)
    assert tok.get_vocab_size() == 300


def test_packed_data_build(dataset, tok_dir, tmp_path):
    from opencook.lm.data import PackedDataset, build_packed

    meta = build_packed([dataset], tok_dir, tmp_path / "packed", progress=False)
    assert meta["n_docs"] == len(TEXTS) and meta["files_read"] == 2
    assert PackedDataset(tmp_path / "packed").n_tokens == meta["n_tokens"]


def test_sft_data_build(dataset, tok_dir, tmp_path):
    from opencook.lm.data import SFTDataset, build_sft

    meta = build_sft([dataset], tok_dir, tmp_path / "sft", max_len=256, progress=False)
    assert meta["n_examples"] == len(RECORDS) == meta["lines"]
    assert len(SFTDataset(tmp_path / "sft")) == len(RECORDS)


def test_synth_seeds_read(dataset):
    from opencook.synth.seeds import load_seeds

    seeds = load_seeds(dataset, max_chars=10**6)
    assert [s["id"] for s in seeds] == [r["id"] for r in RECORDS]
    assert [s["text"] for s in seeds] == [t.strip() for t in TEXTS]


def test_recall_pages_read(dataset):
    from opencook.data.recall.pages import iter_pages

    stats = StageStats()
    pages = [p for part in sorted(dataset.glob("part-*")) for p in iter_pages(str(part), stats, require_url=False)]
    assert [p["text"] for p in pages] == TEXTS
    assert not stats.dropped


def test_xc_function_names_dataset(dataset, tmp_path):
    from opencook.xc.data import FunctionNames, FunctionNamesConfig

    config = FunctionNamesConfig(sources=str(dataset), eval_fraction=0.0, workers=1, min_count=1, progress=False,
                                 cache_dir=str(tmp_path / "cache"))
    data = FunctionNames(config)
    assert sorted(data.data.file_keys) == sorted(r["path"] for r in RECORDS)
    assert data.describe()["files"] == len(RECORDS)


def test_dedup_cli(dataset, tmp_path, capsys):
    from opencook.cli import main

    assert main(["data", "dedup", str(dataset), "--out", str(tmp_path / "dedup"), "--workers", "1"]) == 0
    assert f"files: {len(RECORDS)} in" in capsys.readouterr().out


def test_quality_filter_cli(dataset, tmp_path, capsys):
    from opencook.cli import main

    assert main(["data", "filter", str(dataset), "--out", str(tmp_path / "filter")]) == 0
    results = pq.read_table(tmp_path / "filter" / "filter_results.parquet").to_pylist()
    assert len(results) == len(RECORDS)
    assert "filter results:" in capsys.readouterr().out
