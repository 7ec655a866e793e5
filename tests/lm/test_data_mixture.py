"""Pretraining mixture: real windows, weights, epochs, rank slices, exact resume across world sizes, refusals."""

from __future__ import annotations

import json
import shutil
import sysconfig
from collections import Counter
from pathlib import Path

import pytest
import torch

pytest.importorskip("tokenizers")

from opencook.lm.data import DataPositionError, PackedDataset, PretrainLoader, build_packed  # noqa: E402
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])
A_MODULES = ("textwrap.py", "string.py", "heapq.py")
B_MODULES = ("bisect.py", "shlex.py", "fnmatch.py")
SEQ = 16


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("mix")
    tok = train_tokenizer([STDLIB / m for m in A_MODULES + B_MODULES], TokenizerConfig(vocab_size=512),
                          progress=False)
    tok_dir = save_tokenizer(tok, root / "tokenizer")
    out = {"tokenizer": tok_dir}
    for name, modules in (("a", A_MODULES), ("b", B_MODULES)):
        build_packed([STDLIB / m for m in modules], tok_dir, root / name, shard_tokens=3000, progress=False)
        out[name] = root / name
    (root / "tiny.txt").write_text("x = 1\n")
    build_packed([root / "tiny.txt"], tok_dir, root / "tiny", progress=False)
    out["tiny"] = root / "tiny"
    return out


def _windows(path: Path) -> dict[tuple[int, ...], int]:
    ds = PackedDataset(path)
    return {tuple(ds.tokens(w * SEQ, w * SEQ + SEQ + 1)): w for w in range((ds.n_tokens - 1) // SEQ)}


def _rows(inputs: torch.Tensor, targets: torch.Tensor) -> list[tuple[int, ...]]:
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    return [tuple(r) for r in torch.cat([inputs, targets[:, -1:]], dim=1).tolist()]


def test_samples_are_windows_drawn_by_weight(data):
    a, b = _windows(data["a"]), _windows(data["b"])
    assert not set(a) & set(b)
    loader = PretrainLoader([(data["a"], 3.0), (data["b"], 1.0)], SEQ, 64, seed=1)
    counts = {"a": 0, "b": 0}
    for _ in range(40):
        inputs, targets = loader.next_step(0, 1)
        assert inputs.shape == targets.shape == (64, SEQ) and inputs.dtype == targets.dtype == torch.int64
        for row in _rows(inputs, targets):
            counts["a" if row in a else "b"] += 1
            assert row in a or row in b
    share = counts["a"] / 2560
    assert abs(share - 0.75) < 0.04, share
    assert loader.state_dict()["per_source_tokens"] == [SEQ * counts["a"], SEQ * counts["b"]]
    assert loader.tokens_per_step == 64 * SEQ


def test_each_epoch_is_a_fresh_permutation(data):
    ds = PackedDataset(data["b"])
    n = (ds.n_tokens - 1) // SEQ
    in_order = [tuple(ds.tokens(w * SEQ, w * SEQ + SEQ + 1)) for w in range(n)]
    loader = PretrainLoader([(data["b"], 1.0)], SEQ, 1, seed=3)
    epochs = [[_rows(*loader.next_step(0, 1))[0] for _ in range(n)] for _ in range(2)]
    assert Counter(epochs[0]) == Counter(epochs[1]) == Counter(in_order)
    assert epochs[0] != epochs[1] and epochs[0] != in_order
    assert loader.describe()["sources"][0]["epochs"] == 2.0


def test_rank_slices_partition_the_global_batch(data):
    sources = [(data["a"], 2.0), (data["b"], 1.0)]
    whole = PretrainLoader(sources, SEQ, 8, seed=0)
    ranks = [PretrainLoader(sources, SEQ, 8, seed=0) for _ in range(2)]
    for _ in range(5):
        inputs, targets = whole.next_step(0, 1)
        parts = [r.next_step(i, 2) for i, r in enumerate(ranks)]
        assert parts[0][0].shape == (4, SEQ)
        assert torch.equal(torch.cat([p[0] for p in parts]), inputs)
        assert torch.equal(torch.cat([p[1] for p in parts]), targets)
    with pytest.raises(ValueError, match="global batch 8 is not divisible by world size 3"):
        whole.next_step(0, 3)
    with pytest.raises(ValueError, match="rank 2 of world 2"):
        whole.next_step(2, 2)


def test_resume_continues_identically(data):
    sources = [(data["a"], 1.0), (data["b"], 1.0)]
    loader = PretrainLoader(sources, SEQ, 4, seed=7)
    for _ in range(3):
        loader.next_step(0, 1)
    state = json.loads(json.dumps(loader.state_dict()))
    expected = [loader.next_step(0, 1) for _ in range(3)]
    fresh = PretrainLoader(sources, SEQ, 4, seed=7)
    assert not torch.equal(fresh.next_step(0, 1)[0], expected[0][0])
    fresh.load_state_dict(state)
    for want in expected:
        got = fresh.next_step(0, 1)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_two_rank_checkpoint_continues_on_one_rank(data, tmp_path):
    sources = [(data["a"], 1.0), (data["b"], 2.0)]
    reference = PretrainLoader(sources, SEQ, 6, seed=5)
    ranks = [PretrainLoader(sources, SEQ, 6, seed=5) for _ in range(2)]
    for _ in range(4):
        reference.next_step(0, 1)
        for i, r in enumerate(ranks):
            r.next_step(i, 2)
    assert ranks[0].state_dict() == ranks[1].state_dict() == reference.state_dict()
    moved = tmp_path / "a_moved"
    shutil.copytree(data["a"], moved)
    single = PretrainLoader([(moved, 1.0), (data["b"], 2.0)], SEQ, 6, seed=5)
    single.load_state_dict(json.loads(json.dumps(ranks[0].state_dict())))
    for _ in range(3):
        assert torch.equal(single.next_step(0, 1)[0], reference.next_step(0, 1)[0])


def test_mismatched_position_is_refused_with_the_reason(data):
    sources = [(data["a"], 1.0), (data["b"], 1.0)]
    saved = PretrainLoader(sources, SEQ, 8, seed=0)
    saved.next_step(0, 1)
    state = saved.state_dict()
    cases = [
        (PretrainLoader(sources, SEQ, 4, seed=0), "global batch 8 in the checkpoint, 4 now"),
        (PretrainLoader(sources, 8, 8, seed=0), "sequence length 16 in the checkpoint, 8 now"),
        (PretrainLoader(sources, SEQ, 8, seed=1), "seed 0 in the checkpoint, 1 now"),
        (PretrainLoader([(data["a"], 1.0), (data["b"], 3.0)], SEQ, 8, seed=0), r"weights \[1.0, 1.0\] in the"),
        (PretrainLoader([(data["b"], 1.0), (data["a"], 1.0)], SEQ, 8, seed=0), "sources"),
    ]
    for loader, reason in cases:
        with pytest.raises(DataPositionError, match=f"{reason}.*--reset-data-position"):
            loader.load_state_dict(state)
        assert loader.step == 0
    with pytest.raises(DataPositionError, match="a sft loader in the checkpoint, a pretrain loader now"):
        cases[0][0].load_state_dict({**state, "kind": "sft"})
    assert issubclass(DataPositionError, ValueError)


def test_bad_configurations(data):
    with pytest.raises(ValueError, match="at least one"):
        PretrainLoader([], SEQ, 4, seed=0)
    with pytest.raises(ValueError, match="weight 0 of source"):
        PretrainLoader([(data["a"], 0)], SEQ, 4, seed=0)
    with pytest.raises(ValueError, match="weight nan"):
        PretrainLoader([(data["a"], float("nan"))], SEQ, 4, seed=0)
    with pytest.raises(ValueError, match=r"tiny has \d+ tokens, fewer than seq_len \+ 1 = 17"):
        PretrainLoader([(data["a"], 1.0), (data["tiny"], 1.0)], SEQ, 4, seed=0)
    with pytest.raises(FileNotFoundError, match="opencook lm data build"):
        PretrainLoader([(data["a"].parent / "missing", 1.0)], SEQ, 4, seed=0)
    with pytest.raises(ValueError, match="global_batch=0"):
        PretrainLoader([(data["a"], 1.0)], SEQ, 0, seed=0)


def test_describe_reports_tokens_windows_and_epochs(data):
    loader = PretrainLoader([(data["a"], 1.0)], SEQ, 10, seed=0)
    loader.next_step(0, 1)
    (src,) = loader.describe()["sources"]
    ds = PackedDataset(data["a"])
    assert src["tokens"] == ds.n_tokens and src["windows"] == (ds.n_tokens - 1) // SEQ
    assert src["consumed"] == 10 and src["epochs"] == pytest.approx(10 / src["windows"])
    assert len(loader.fingerprint) == 16 and loader.fingerprint == loader.state_dict()["fingerprint"]
