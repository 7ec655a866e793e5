"""SFT: exact loss masks, prompt ids equal to inference's, build/truncation/errors, the SFT loader."""

from __future__ import annotations

import argparse
import json
import re
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("tokenizers")

from opencook.cli.lm import add_parser  # noqa: E402
from opencook.lm.data import (  # noqa: E402
    IGNORE_INDEX,
    DataPositionError,
    PretrainLoader,
    SFTDataset,
    SFTLoader,
    build_packed,
    build_sft,
    encode_chat_prompt,
    render_sft_example,
)
from opencook.tokenizer import (  # noqa: E402
    DEFAULT_SYSTEM_PROMPT,
    TokenizerConfig,
    decode,
    encode,
    render_chat,
    save_tokenizer,
    train_tokenizer,
)

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ("textwrap.py", "string.py", "bisect.py", "heapq.py")

SIMPLE = {"instruction": "Write a function that adds two numbers.", "output": "def add(a, b):\n    return a + b\n"}
MULTI = {"messages": [
    {"role": "system", "content": "You answer with Python only."},
    {"role": "user", "content": "Square a number."},
    {"role": "assistant", "content": "def sq(x):\n    return x * x"},
    {"role": "user", "content": "And cube it? Quote '<|im_end|>' literally."},
    {"role": "assistant", "content": "def cube(x):\n    return x ** 3  # not '<|im_end|>'\n"},
]}


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    torch.set_num_threads(1)
    return train_tokenizer([STDLIB / m for m in MODULES], TokenizerConfig(vocab_size=512), progress=False)


@pytest.fixture(scope="module")
def tok_dir(tok, tmp_path_factory) -> Path:
    return save_tokenizer(tok, tmp_path_factory.mktemp("tok") / "tokenizer")


def _spans(mask: list[int]) -> list[tuple[int, int]]:
    """[start, stop) of each run of 1s."""
    padded = np.diff(np.concatenate([[0], mask, [0]]))
    return list(zip(np.flatnonzero(padded == 1), np.flatnonzero(padded == -1), strict=True))


def test_mask_covers_exactly_the_answer_and_im_end(tok):
    ids, mask = render_sft_example(SIMPLE, tok)
    assert len(ids) == len(mask) and set(mask) == {0, 1}
    messages = [{"role": "user", "content": SIMPLE["instruction"]}, {"role": "assistant", "content": SIMPLE["output"]}]
    assert decode(tok, ids) == render_chat(messages)
    ((start, stop),) = _spans(mask)
    assert decode(tok, ids[start:stop]) == SIMPLE["output"] + "<|im_end|>"
    assert decode(tok, ids[stop:]) == "\n" and decode(tok, ids[:start]).endswith("<|im_start|>assistant\n")


def test_default_and_given_system_prompt(tok):
    ids, _ = render_sft_example(SIMPLE, tok)
    assert decode(tok, ids).startswith(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n")
    ids, _ = render_sft_example(MULTI, tok)
    text = decode(tok, ids)
    assert text.startswith("<|im_start|>system\nYou answer with Python only.<|im_end|>\n")
    assert DEFAULT_SYSTEM_PROMPT not in text


def test_multi_turn_masks_each_answer_and_prompts_match_inference(tok):
    ids, mask = render_sft_example(MULTI, tok)
    messages = MULTI["messages"]
    assert decode(tok, ids) == render_chat(messages)
    spans = _spans(mask)
    answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    assert len(spans) == len(answers) == 2
    for (start, stop), turn in zip(spans, answers, strict=True):
        assert decode(tok, ids[start:stop]) == messages[turn]["content"] + "<|im_end|>"
        assert decode(tok, ids[:start]) == render_chat(messages[:turn], add_generation_prompt=True)
        assert ids[:start] == encode_chat_prompt(messages[:turn], tok)
    first = answers[0]
    assert ids[:spans[0][0]] == encode(tok, render_chat(messages[:first], add_generation_prompt=True), special=True)
    assert ids.count(1) == len(messages)  # a literal '<|im_end|>' in content stays text, not the control id


def test_invalid_examples_are_rejected(tok):
    bad = [({"text": "x"}, "needs 'messages' or both 'instruction' and 'output'"),
           ({"messages": [{"role": "user", "content": "hi"}]}, "no assistant turn"),
           ({"messages": [{"role": "bot", "content": "hi"}]}, "role 'bot'"),
           ({"messages": [{"role": "user"}]}, r"messages\[0\] must have string 'role' and 'content'"),
           ({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"},
                          {"role": "assistant", "content": "c"}]}, "only the first turn"),
           ({"instruction": 1, "output": "x"}, "must be strings")]
    for example, reason in bad:
        with pytest.raises(ValueError, match=reason):
            render_sft_example(example, tok)


@pytest.fixture
def jsonl(tmp_path) -> Path:
    path = tmp_path / "sft.jsonl"
    lines = [SIMPLE, MULTI, {"instruction": "Reverse a string.", "input": "s = 'abc'", "output": "s[::-1]"}]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines) + "\n")
    return path


def test_build_stores_every_example(jsonl, tok, tok_dir, tmp_path):
    meta = build_sft([jsonl], tok_dir, tmp_path / "out", max_len=1000, progress=False)
    ds = SFTDataset(tmp_path / "out")
    examples = [json.loads(line) for line in jsonl.read_text().splitlines() if line]
    assert len(ds) == meta["n_examples"] == 3 and meta["truncated"] == meta["dropped_no_loss"] == 0
    for i, example in enumerate(examples):
        ids, mask = ds.example(i)
        want_ids, want_mask = render_sft_example(example, tok)
        assert ids.tolist() == want_ids and mask.tolist() == want_mask
    assert "Reverse a string.\n\ns = 'abc'" in decode(tok, ds.example(2)[0])
    assert meta["n_loss_tokens"] == sum(int(ds.example(i)[1].sum()) for i in range(3))
    ds.verify()
    again = build_sft([jsonl], tok_dir, tmp_path / "again", max_len=1000, progress=False)
    assert again["files"] == meta["files"]


def test_truncation_and_dropping_are_counted(jsonl, tok, tok_dir, tmp_path):
    long_prompt = {"instruction": "Explain this code: " + "x = x + 1; " * 60, "output": "It counts."}
    with open(jsonl, "a") as fh:
        fh.write(json.dumps(long_prompt) + "\n")
    rendered = [render_sft_example(json.loads(line), tok) for line in jsonl.read_text().splitlines() if line]
    simple_ids, simple_mask = rendered[0]
    cut = simple_mask.index(1) + 3  # the prompt plus three answer tokens of SIMPLE
    meta = build_sft([jsonl], tok_dir, tmp_path / "out", max_len=cut, progress=False)
    ds = SFTDataset(tmp_path / "out")
    too_long = sum(len(ids) > cut for ids, _ in rendered)
    no_loss = sum(sum(mask[1:cut]) == 0 for _, mask in rendered)
    assert meta["truncated"] == too_long >= 3 and meta["dropped_no_loss"] == no_loss >= 1
    assert meta["longest"] == cut and meta["n_examples"] == len(rendered) - no_loss == len(ds)
    first = ds.example(0)
    assert first[0].tolist() == simple_ids[:cut] and first[1].tolist() == simple_mask[:cut]
    with pytest.raises(ValueError, match=r"no usable SFT examples.*4 with no assistant token left.*--max-len"):
        build_sft([jsonl], tok_dir, tmp_path / "short", max_len=8, progress=False)


def test_malformed_lines_name_file_and_line(tok_dir, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(SIMPLE) + "\n\n{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:3: not valid JSON"):
        build_sft([path], tok_dir, tmp_path / "out", max_len=100, progress=False)
    path.write_text(json.dumps(SIMPLE) + "\n" + json.dumps({"messages": [{"role": "user", "content": "x"}]}) + "\n")
    with pytest.raises(FileNotFoundError, match="has no meta.json"):
        SFTDataset(tmp_path / "out")
    meta = build_sft([path], tok_dir, tmp_path / "out", max_len=100, progress=False)  # a bad row is a counted drop
    assert meta["drops"]["malformed"] == 1 and meta["n_examples"] == 1
    assert re.search(r"bad\.jsonl:2: the example has no assistant turn", meta["drop_examples"]["malformed"])
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no usable SFT examples"):
        build_sft([tmp_path / "empty.jsonl"], tok_dir, tmp_path / "out", max_len=100, progress=False)
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(ValueError, match="must be JSONL"):
        build_sft([tmp_path / "data.txt"], tok_dir, tmp_path / "out", max_len=100, progress=False)


@pytest.fixture
def sft_dir(jsonl, tok_dir, tmp_path) -> Path:
    build_sft([jsonl], tok_dir, tmp_path / "sft", max_len=1000, progress=False)
    return tmp_path / "sft"


def test_loader_pads_and_masks_targets(sft_dir, tok):
    ds = SFTDataset(sft_dir)
    seq = int(ds.lengths.max())
    loader = SFTLoader(sft_dir, seq, 3, seed=0)
    assert loader.epoch_steps == 1 and loader.tokens_per_step == 3 * seq
    inputs, targets = loader.next_step(0, 1)
    assert inputs.shape == targets.shape == (3, seq) and inputs.dtype == targets.dtype == torch.int64
    multi = "".join(m["content"] + "<|im_end|>" for m in MULTI["messages"] if m["role"] == "assistant")
    answers = {SIMPLE["output"] + "<|im_end|>", multi, "s[::-1]<|im_end|>"}
    for row_in, row_tgt in zip(inputs.tolist(), targets.tolist(), strict=True):
        n = next(i for i in range(seq + 1) if i == seq or row_in[i] == ds.pad_id)
        assert all(t == ds.pad_id for t in row_in[n:]) and all(t == IGNORE_INDEX for t in row_tgt[n - 1:])
        kept = [t for t in row_tgt if t != IGNORE_INDEX]
        assert all(row_tgt[i] in (IGNORE_INDEX, row_in[i + 1]) for i in range(n - 1))
        assert decode(tok, kept) in answers
    epoch = sorted(tuple(r) for r in inputs.tolist())
    second = sorted(tuple(r) for r in loader.next_step(0, 1)[0].tolist())
    assert epoch == second and loader.describe()["sources"][0]["epochs"] == 2.0


def test_loader_slices_resume_and_refusals(sft_dir, tok_dir, tmp_path):
    seq = int(SFTDataset(sft_dir).lengths.max())
    whole = SFTLoader(sft_dir, seq, 4, seed=1)
    ranks = [SFTLoader(sft_dir, seq, 4, seed=1) for _ in range(2)]
    for _ in range(3):
        inputs, targets = whole.next_step(0, 1)
        parts = [r.next_step(i, 2) for i, r in enumerate(ranks)]
        assert torch.equal(torch.cat([p[0] for p in parts]), inputs)
        assert torch.equal(torch.cat([p[1] for p in parts]), targets)
    resumed = SFTLoader(sft_dir, seq, 4, seed=1)
    resumed.load_state_dict(json.loads(json.dumps(ranks[1].state_dict())))
    for _ in range(2):
        assert torch.equal(resumed.next_step(0, 1)[1], whole.next_step(0, 1)[1])
    with pytest.raises(DataPositionError, match="global batch 4 in the checkpoint, 2 now.*--reset-data-position"):
        SFTLoader(sft_dir, seq, 2, seed=1).load_state_dict(whole.state_dict())
    code = tmp_path / "code.py"
    code.write_text((STDLIB / "bisect.py").read_text())
    build_packed([code], tok_dir, tmp_path / "packed", progress=False)
    pretrain = PretrainLoader([(tmp_path / "packed", 1.0)], seq, 4, seed=1)
    with pytest.raises(DataPositionError, match="a pretrain loader in the checkpoint, a sft loader now"):
        SFTLoader(sft_dir, seq, 4, seed=1).load_state_dict(pretrain.state_dict())
    with pytest.raises(ValueError, match="not divisible by world size 3"):
        whole.next_step(0, 3)


def test_loader_warns_when_examples_do_not_fit(sft_dir):
    with pytest.warns(UserWarning, match=r"3 of 3 examples .* longer than seq_len \+ 1 = 9"):
        loader = SFTLoader(sft_dir, 8, 2, seed=0)
    inputs, targets = loader.next_step(0, 1)
    assert inputs.shape == (2, 8) and loader.describe()["sources"][0]["cut_to_seq_len"] == 3


def test_cli_sft(jsonl, tok_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli"
    args = parser.parse_args(["lm", "data", "sft", str(jsonl), "--tokenizer", str(tok_dir), "--out", str(out),
                              "--max-len", "1000", "--quiet"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    meta = SFTDataset(out).meta
    assert f"sft: 3 examples from 3 lines; {meta['n_tokens']} tokens, {meta['n_loss_tokens']} with loss" in printed
    assert "0 truncated to --max-len 1000" in printed
