"""Tokenizer: reserved special ids, exact round trip, any bytes, HF save/load, validation, determinism."""

from __future__ import annotations

import argparse
import json
import sysconfig
from pathlib import Path

import pytest

pytest.importorskip("tokenizers")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from opencook.cli.lm import add_parser  # noqa: E402
from opencook.tokenizer import (  # noqa: E402
    SPECIAL_TOKENS,
    SourceStats,
    TokenizerConfig,
    decode,
    encode,
    load_tokenizer,
    render_chat,
    save_tokenizer,
    train_tokenizer,
)

CODE = '''def fib(n: int) -> int:
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y
'''

TRICKY = [
    "", " ", "  leading spaces", "\ttabs\tand\r\nCRLF\r\n", "emoji 🦀🐍👩‍💻 and CJK 你好，世界 こんにちは",
    "x = '<|im_end|>'  # a special token inside code", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
    "\u200b zero width \ufeff BOM", "trailing newlines\n\n\n", "s = \"\\x00\\xff\" + '\x00'", "Ǆ ß İ ﬁ",
    "   \n  \n\t", "I'M DON'T they'LL 1234567 3.14159",
]


def _stdlib_snippets(n: int = 6, limit: int = 4000) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = [stdlib / f for f in ("textwrap.py", "string.py", "bisect.py", "heapq.py", "shlex.py", "fnmatch.py")]
    return [f.read_text(encoding="utf-8")[:limit] for f in files[:n] if f.is_file()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    snippets = _stdlib_snippets()
    pq.write_table(pa.table({"text": [CODE, *snippets[:3], "", "print('hi')\n"],
                             "language": ["python"] * 6}), root / "part-00000.parquet")
    with open(root / "extra.jsonl", "w", encoding="utf-8") as fh:
        for text in [*snippets[3:], "const x = 1; // 你好\n"]:
            fh.write(json.dumps({"text": text}) + "\n")
    (root / "_SUCCESS.json").write_text("{}")
    return root


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    (root / "mod.py").write_text(CODE, encoding="utf-8")
    (root / "latin1.c").write_bytes(b"/* caf\xe9 \xff\xfe */\nint main(void) { return 0; }\n")
    return root


@pytest.fixture(scope="module")
def tok(corpus):
    return train_tokenizer([corpus], TokenizerConfig(vocab_size=1000), progress=False)


def test_special_tokens_reserved_ids_and_single_tokens(tok):
    for i, token in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(token) == i
        assert encode(tok, token, special=True) == [i]
    assert len(encode(tok, "<|im_end|>", special=False)) > 1  # raw data never yields a control token


def test_round_trip_exact(tok):
    for text in [*TRICKY, *_stdlib_snippets(), CODE]:
        for special in (False, True):
            assert decode(tok, encode(tok, text, special=special)) == text, repr(text[:60])


def test_any_bytes_encodable(tok):
    vocab_size = tok.get_vocab_size()
    text = bytes(range(256)).decode("latin-1") + "\U0010ffff\ud7ff"
    ids = encode(tok, text)
    assert all(0 <= i < vocab_size for i in ids)
    assert decode(tok, ids) == text
    assert tok.get_vocab_size() == 1000


def test_dataset_dir_skips_markers_and_raw_files_are_replaced(corpus, raw_files):
    stats = SourceStats()
    train_tokenizer([corpus], TokenizerConfig(vocab_size=300), progress=False, stats=stats)
    assert stats.files == 2 and stats.docs == 9
    stats = SourceStats()
    train_tokenizer([raw_files], TokenizerConfig(vocab_size=300), progress=False, stats=stats)
    assert stats.files == 2 and stats.docs == 2 and stats.replaced_files == 1
    stats = SourceStats()
    train_tokenizer([corpus], TokenizerConfig(vocab_size=300, max_docs=3), progress=False, stats=stats)
    assert stats.docs == 3


def test_save_and_reload(tok, tmp_path):
    out = save_tokenizer(tok, tmp_path / "tok")
    assert {p.name for p in out.iterdir()} == {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert config["model_max_length"] > 0 and config["unk_token"] is None
    assert config["eos_token"] == "<|endoftext|>" and config["pad_token"] == "<|pad|>"
    assert config["added_tokens_decoder"]["1"]["content"] == "<|im_end|>"
    again = load_tokenizer(out)
    for text in [*TRICKY, CODE]:
        assert encode(again, text) == encode(tok, text)
        assert encode(again, text, special=True) == encode(tok, text, special=True)


def test_chat_template_matches_python(tok, tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    config = json.loads((save_tokenizer(tok, tmp_path / "tok") / "tokenizer_config.json").read_text())
    template = jinja2.Environment().from_string(config["chat_template"])
    for messages in ([{"role": "user", "content": "hi"}],
                     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                      {"role": "assistant", "content": "4"}]):
        for gen in (False, True):
            assert template.render(messages=messages, add_generation_prompt=gen) == render_chat(messages, gen)
    assert render_chat([{"role": "user", "content": "hi"}], True) == (
        "<|im_start|>system\nYou are OpenCoder, created by OpenCoder Team.<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_transformers_loads_same_ids(tok, tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed (optional)")
    out = save_tokenizer(tok, tmp_path / "tok")
    hf = transformers.PreTrainedTokenizerFast.from_pretrained(out)
    for text in [*TRICKY, CODE]:
        assert hf(text, add_special_tokens=False)["input_ids"] == encode(tok, text, special=True)
    assert hf.eos_token_id == 2 and hf.pad_token_id == 7


def test_config_validation():
    with pytest.raises(ValueError, match="vocab_size=264 must exceed"):
        TokenizerConfig(vocab_size=264)
    TokenizerConfig(vocab_size=265)
    with pytest.raises(ValueError, match="duplicates"):
        TokenizerConfig(special_tokens=("<|a|>", "<|a|>"))
    with pytest.raises(ValueError, match="max_docs"):
        TokenizerConfig(max_docs=0)
    with pytest.raises(ValueError, match="min_frequency"):
        TokenizerConfig(min_frequency=0)


def test_empty_input_errors(tmp_path):
    (tmp_path / "empty.py").write_text("")
    with pytest.raises(ValueError, match="no training text found.*empty.py"):
        train_tokenizer([tmp_path / "empty.py"], TokenizerConfig(vocab_size=300), progress=False)
    with pytest.raises(FileNotFoundError, match="missing"):
        train_tokenizer([tmp_path / "missing"], TokenizerConfig(vocab_size=300), progress=False)


def test_deterministic(corpus, tok):
    again = train_tokenizer([corpus], TokenizerConfig(vocab_size=1000), progress=False)
    assert again.get_vocab() == tok.get_vocab()
    assert again.to_str() == tok.to_str()


def test_cli_train(corpus, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli_tok"
    args = parser.parse_args(["lm", "tokenizer", "train", str(corpus), "--out", str(out),
                              "--vocab-size", "500", "--quiet"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "vocab 500" in printed and "read 9 docs" in printed and "bytes/token" in printed
    assert str(out) in printed and (out / "tokenizer.json").is_file()
