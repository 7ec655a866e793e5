"""The verbs besides ``opencook run`` reading s3:// inputs and writing an s3:// ``--out``, against a real S3
server (moto's server mode, started and stopped here): the objects they leave equal the files the same
command writes on local disk. A verb that cannot write remotely refuses a URL ``--out`` in one line, exit 2."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures_code import c_source, make_repos, python_module
from opencook.cli import main
from opencook.kit.io import remote
from s3_server import listing, new_bucket, s3_server, upload

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def s3():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """Each test's remote working copies in its own folder (none left from another test)."""
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A dataset folder as the pipeline writes one: a Parquet part and a JSONL.gz part, plus a marker."""
    import gzip

    root = tmp_path_factory.mktemp("ds") / "dataset"
    (root / "sub").mkdir(parents=True)
    rng = random.Random(5)
    rows = [{"id": f"r{i}", "path": f"src/m{i}.{'py' if i % 3 else 'c'}", "language": "",
             "text": python_module(rng) if i % 3 else c_source(rng)} for i in range(24)]
    pq.write_table(pa.Table.from_pylist(rows[:12]), root / "part-00000.parquet")
    with gzip.open(root / "sub" / "part-00001.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows[12:])
    (root / "_SUCCESS.json").write_text("{}")
    return root


def _run(*argv: str) -> None:
    code = main([*argv, "--quiet"])
    assert code == 0, f"opencook {' '.join(argv)} exited {code}"


def _local_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(data: bytes, fmt: str) -> list[dict]:
    if fmt == "jsonl":
        return [json.loads(line) for line in data.decode().splitlines()]
    return pq.read_table(pa.BufferReader(data)).to_pylist()


@pytest.mark.parametrize(("kind", "fmt"), [("dataset", "parquet"), ("files", "jsonl")])
def test_data_filter_reads_and_writes_s3_as_on_local_disk(s3, dataset, tmp_path, kind, fmt) -> None:
    src = dataset if kind == "dataset" else make_repos(tmp_path / "src") / "repos"
    _run("data", "filter", str(src), "--out", str(tmp_path / "local"), "--format", fmt, "--workers", "1")
    bucket = new_bucket()
    upload(src, f"{bucket}/in")
    _run("data", "filter", f"{bucket}/in", "--out", f"{bucket}/out", "--format", fmt, "--workers", "1")

    local = _local_files(tmp_path / "local")
    got = listing(f"{bucket}/out")
    assert list(got) == list(local) == [f"filter_results.{fmt}"]  # no run folder, lock or cache left behind
    rows = _rows(got[f"filter_results.{fmt}"], fmt)
    assert len(rows) >= 10 and any(r["kept"] for r in rows)
    assert rows == _rows(local[f"filter_results.{fmt}"], fmt)

    # a command that fails uploads nothing: the remote keeps the last finished output
    assert main(["data", "filter", f"{bucket}/missing", "--out", f"{bucket}/out", "--format", fmt, "--quiet"]) == 2
    assert listing(f"{bucket}/out") == got


def test_tokenizer_packed_and_sft_builds_read_and_write_s3_as_on_local_disk(s3, dataset, tmp_path) -> None:
    bucket = new_bucket()
    upload(dataset, f"{bucket}/dataset")
    common = ("--vocab-size", "400", "--min-frequency", "2")
    _run("lm", "tokenizer", "train", str(dataset), "--out", str(tmp_path / "tok"), *common)
    _run("lm", "tokenizer", "train", f"{bucket}/dataset", "--out", f"{bucket}/tok", *common)
    tok = listing(f"{bucket}/tok")
    assert tok == _local_files(tmp_path / "tok") and "tokenizer.json" in tok

    build = ("--shard-tokens", "3000")
    _run("lm", "data", "build", str(dataset), "--tokenizer", str(tmp_path / "tok"), "--out", str(tmp_path / "packed"),
         *build)
    _run("lm", "data", "build", f"{bucket}/dataset", "--tokenizer", f"{bucket}/tok", "--out", f"{bucket}/packed",
         *build)
    local, got = _local_files(tmp_path / "packed"), listing(f"{bucket}/packed")
    assert sorted(got) == sorted(local) and sum(k.endswith(".bin") for k in got) >= 2
    assert all(got[k] == local[k] for k in got if k != "meta.json")  # every shard, byte for byte
    meta, local_meta = json.loads(got["meta.json"]), json.loads(local["meta.json"])
    assert meta["sources"] == [f"{bucket}/dataset"] and meta["n_docs"] == 24
    assert {k: v for k, v in meta.items() if k not in ("sources", "tokenizer")} == \
        {k: v for k, v in local_meta.items() if k not in ("sources", "tokenizer")}

    sft = tmp_path / "sft"
    sft.mkdir()
    (sft / "rows.jsonl").write_text("".join(json.dumps({"instruction": f"Return {i} plus {i}.",
                                                        "output": f"def f():\n    return {i} + {i}\n"}) + "\n"
                                            for i in range(8)))
    upload(sft, f"{bucket}/sft")
    args = ("--max-len", "512", "--no-decontam")
    _run("lm", "data", "sft", str(sft), "--tokenizer", str(tmp_path / "tok"), "--out", str(tmp_path / "sftout"), *args)
    _run("lm", "data", "sft", f"{bucket}/sft", "--tokenizer", f"{bucket}/tok", "--out", f"{bucket}/sftout", *args)
    local, got = _local_files(tmp_path / "sftout"), listing(f"{bucket}/sftout")
    assert sorted(got) == sorted(local) and "tokens.bin" in got
    assert all(got[k] == local[k] for k in got if k != "meta.json")
    assert json.loads(got["meta.json"])["n_examples"] == json.loads(local["meta.json"])["n_examples"] == 8

    # a rebuild into the same URL with bigger shards: the remote holds the new build only, as a local folder would
    _run("lm", "data", "build", f"{bucket}/dataset", "--tokenizer", f"{bucket}/tok", "--out", f"{bucket}/packed",
         "--shard-tokens", "1000000")
    assert sorted(listing(f"{bucket}/packed")) == ["meta.json", "shard_00000.bin", "shard_00000.docs.npy"]


def test_data_dedup_reads_and_writes_s3_as_on_local_disk(s3, dataset, tmp_path) -> None:
    bucket = new_bucket()
    upload(dataset, f"{bucket}/dataset")
    _run("data", "dedup", str(dataset), "--out", str(tmp_path / "local"), "--workers", "1")
    _run("data", "dedup", f"{bucket}/dataset", "--out", f"{bucket}/dedup", "--workers", "1")
    local = _local_files(tmp_path / "local" / "dataset")
    got = listing(f"{bucket}/dedup/dataset")
    assert list(got) == list(local) and local
    rows = [r for k in got if k.endswith(".parquet") for r in _rows(got[k], "parquet")]
    assert rows == [r for k in local if k.endswith(".parquet") for r in _rows(local[k], "parquet")]
    assert 0 < len(rows) <= 24


def test_a_verb_that_writes_locally_refuses_a_url_out(s3, tmp_path, capsys) -> None:
    code = main(["lm", "pretrain", str(ROOT / "recipes" / "lm" / "demo_pretrain.yaml"), "--out", "s3://bucket/run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "s3://bucket/run" in err[0] and "local" in err[0]
    code = main(["lm", "pretrain", "s3://bucket/recipe.yaml"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "must be a local path" in err[-1]
