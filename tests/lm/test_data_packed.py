"""Packed shards: exact round trip per document, boundaries, dtype choice, determinism, damaged folders."""

from __future__ import annotations

import argparse
import json
import math
import sysconfig
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from opencook.cli.lm import add_parser  # noqa: E402
from opencook.lm.data import PackedDataset, build_packed  # noqa: E402
from opencook.tokenizer import TokenizerConfig, decode, load_tokenizer, save_tokenizer, train_tokenizer  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ("textwrap.py", "string.py", "bisect.py", "heapq.py", "shlex.py", "fnmatch.py", "colorsys.py")


def _texts() -> list[str]:
    texts = [(STDLIB / m).read_text(encoding="utf-8") for m in MODULES]
    return [*texts, "x = '<|endoftext|>'  # a separator typed in code\n", "emoji 🐍 and 你好\r\n\ttab"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tok")
    tok = train_tokenizer([STDLIB / m for m in MODULES], TokenizerConfig(vocab_size=512), progress=False)
    return save_tokenizer(tok, root / "tokenizer")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, texts) -> Path:
    """A pipeline-style dataset folder: two Parquet parts, an empty text, a marker file."""
    root = tmp_path_factory.mktemp("dataset")
    pq.write_table(pa.table({"text": [*texts[:4], ""]}), root / "part-00000.parquet")
    pq.write_table(pa.table({"text": texts[4:]}), root / "part-00001.parquet")
    (root / "_SUCCESS.json").write_text("{}")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory, dataset, tok_dir) -> Path:
    out = tmp_path_factory.mktemp("packed") / "out"
    build_packed([dataset], tok_dir, out, shard_tokens=5000, progress=False)
    return out


def test_round_trip_every_document(built, tok_dir, texts):
    ds = PackedDataset(built)
    tok = load_tokenizer(tok_dir)
    docs = [decode(tok, ds.document(i)) for i in range(len(ds.doc_starts))]
    assert sorted(docs) == sorted(texts)
    assert ds.meta["n_docs"] == len(texts) and ds.meta["bytes_read"] == sum(len(t.encode()) for t in texts)


def test_document_boundaries_are_the_only_eos(built):
    ds = PackedDataset(built)
    stream = ds.tokens(0, ds.n_tokens)
    eos_at = np.flatnonzero(stream == ds.eos_id)
    assert ds.doc_starts[0] == 0
    np.testing.assert_array_equal(eos_at + 1, [*ds.doc_starts[1:], ds.n_tokens])


def test_shards_split_the_stream(built):
    ds = PackedDataset(built)
    shards = ds.meta["shards"]
    assert len(shards) == math.ceil(ds.n_tokens / 5000) > 2
    assert all(s["tokens"] == 5000 for s in shards[:-1])
    raw = np.concatenate([np.fromfile(built / s["file"], dtype=np.uint16) for s in shards])
    np.testing.assert_array_equal(ds.tokens(0, ds.n_tokens), raw)
    for start, stop in ((4990, 5010), (4999, 10001), (0, 1), (ds.n_tokens - 3, ds.n_tokens), (7, 7)):
        np.testing.assert_array_equal(ds.tokens(start, stop), raw[start:stop].astype(np.int64))
    assert ds.tokens(0, 10).dtype == np.int64
    with pytest.raises(IndexError, match="outside"):
        ds.tokens(0, ds.n_tokens + 1)
    ds.verify()


def test_dtype_uint16_and_uint32(built, tok_dir, dataset, tmp_path, texts):
    ds = PackedDataset(built)
    assert ds.dtype == np.uint16 and ds.vocab_size == 512
    assert (built / "shard_00000.bin").stat().st_size == 2 * 5000
    big = load_tokenizer(tok_dir)
    big.add_special_tokens([f"<|extra_{i}|>" for i in range(65536 - 512 + 1)])
    assert big.get_vocab_size() == 65537
    big_dir = save_tokenizer(big, tmp_path / "big_tok")
    meta = build_packed([dataset], big_dir, tmp_path / "big", progress=False)
    wide = PackedDataset(tmp_path / "big")
    assert meta["dtype"] == "uint32" and wide.dtype == np.uint32 and wide.vocab_size == 65537
    assert (tmp_path / "big" / "shard_00000.bin").stat().st_size == 4 * wide.n_tokens
    assert sorted(decode(big, wide.document(i)) for i in range(len(wide.doc_starts))) == sorted(texts)


def test_rerun_is_byte_identical(built, dataset, tok_dir, tmp_path):
    again = tmp_path / "again"
    build_packed([dataset], tok_dir, again, shard_tokens=5000, progress=False)
    files = sorted(p.name for p in built.iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    for name in files:
        if name != "meta.json":
            assert (built / name).read_bytes() == (again / name).read_bytes(), name
    first, second = (json.loads((d / "meta.json").read_text()) for d in (built, again))
    assert first["shards"] == second["shards"] and first["n_tokens"] == second["n_tokens"]


def test_damaged_folders_name_the_file_and_the_fix(dataset, tok_dir, tmp_path):
    out = tmp_path / "out"
    build_packed([dataset], tok_dir, out, shard_tokens=5000, progress=False)
    shard = out / "shard_00001.bin"
    shard.write_bytes(shard.read_bytes()[:-6])
    with pytest.raises(ValueError, match=r"shard_00001\.bin has 9994 bytes.*truncated.*rerun"):
        PackedDataset(out)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=r"shard_00001\.bin is listed .* but missing.*rerun"):
        PackedDataset(out)


def test_interrupted_rebuild_is_refused(dataset, tok_dir, tmp_path):
    out = tmp_path / "out"
    build_packed([dataset], tok_dir, out, progress=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jsonl").write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"body": "no text"}) + "\n")
    with pytest.raises(ValueError, match=r"a\.jsonl:2 has no 'text' field"):
        build_packed([bad], tok_dir, out, progress=False)
    with pytest.raises(FileNotFoundError, match="build did not finish.*rerun"):
        PackedDataset(out)
    build_packed([dataset], tok_dir, out, progress=False)
    assert not list(out.glob("*.tmp")) and PackedDataset(out).n_tokens > 0


def test_empty_input_is_an_error(tok_dir, tmp_path):
    (tmp_path / "src").mkdir()
    pq.write_table(pa.table({"text": ["", ""]}), tmp_path / "src" / "part-00000.parquet")
    with pytest.raises(ValueError, match="no documents found.*src"):
        build_packed([tmp_path / "src"], tok_dir, tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="has no meta.json"):
        PackedDataset(tmp_path / "out")


def test_non_utf8_file_is_read_and_counted(tok_dir, tmp_path):
    src = tmp_path / "code"
    src.mkdir()
    raw = b"/* caf\xe9 \xff\xfe */\nint main(void) { return 0; }\n"
    (src / "latin1.c").write_bytes(raw)
    (src / "ok.py").write_text("print('hi')\n")
    meta = build_packed([src], tok_dir, tmp_path / "out", progress=False)
    assert meta["replaced_files"] == 1 and meta["n_docs"] == 2
    ds = PackedDataset(tmp_path / "out")
    tok = load_tokenizer(tok_dir)
    docs = {decode(tok, ds.document(i)) for i in range(2)}
    assert docs == {raw.decode("utf-8", errors="replace"), "print('hi')\n"}


def test_max_docs_and_bad_arguments(dataset, tok_dir, tmp_path):
    meta = build_packed([dataset], tok_dir, tmp_path / "out", max_docs=3, progress=False)
    assert meta["n_docs"] == 3 and len(PackedDataset(tmp_path / "out").doc_starts) == 3
    with pytest.raises(ValueError, match="shard_tokens=0"):
        build_packed([dataset], tok_dir, tmp_path / "x", shard_tokens=0, progress=False)
    with pytest.raises(FileNotFoundError, match="opencook lm tokenizer train"):
        build_packed([dataset], tmp_path / "no_tokenizer", tmp_path / "x", progress=False)


def test_cli_build(dataset, tok_dir, tmp_path, capsys, texts):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli"
    args = parser.parse_args(["lm", "data", "build", str(dataset), "--tokenizer", str(tok_dir), "--out", str(out),
                              "--shard-tokens", "4000", "--quiet"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    ds = PackedDataset(out)
    assert f"packed: {len(texts)} docs from 2 file(s)" in printed
    assert f"{ds.n_tokens} tokens (uint16, vocab 512)" in printed
    assert f"{len(ds.meta['shards'])} shard(s)" in printed and "bytes/token" in printed and "MB/s" in printed
