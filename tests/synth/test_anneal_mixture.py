"""The annealing-mixture recipe loads as an `opencook lm anneal` config, and its per-sample weights give the
intended *token* shares: packed sources of very different sizes, drawn by the real loader, end up with the
84/12/3/1 token split (each sample is one seq_len window, whatever the source's size)."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from opencook.lm.data import build_packed
from opencook.lm.data.mixture import PretrainLoader
from opencook.lm.train.config import load_lm_config
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "synth" / "anneal_mixture.yaml"
TARGET = {"refinecode": 0.84, "algorithmic": 0.12, "snippets": 0.03, "textbook": 0.01}
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# deliberately unlike the target shares: the small sources repeat, the big one is barely touched
FILES = {"refinecode": ["bisect.py"], "algorithmic": ["heapq.py", "textwrap.py"], "snippets": ["string.py"],
         "textbook": ["shlex.py", "fnmatch.py"]}


def test_recipe_is_an_anneal_config_with_the_paper_shares():
    cfg = load_lm_config(RECIPE, "anneal")
    weights = {Path(s.path).parent.name: s.weight for s in cfg.data.sources}
    total = sum(weights.values())
    assert {k: round(w / total, 4) for k, w in weights.items()} == TARGET
    assert cfg.grad_accum(256) >= 1 and cfg.schedule_kind == "exp_decay"


def test_sample_weights_are_token_shares(tmp_path):
    tok = train_tokenizer([STDLIB / "bisect.py", STDLIB / "heapq.py"], TokenizerConfig(vocab_size=300),
                          progress=False)
    tok_dir = save_tokenizer(tok, tmp_path / "tok")
    cfg = load_lm_config(RECIPE, "anneal")
    sources = []
    for s in cfg.data.sources:
        name = Path(s.path).parent.name
        build_packed([STDLIB / f for f in FILES[name]], tok_dir, tmp_path / name, progress=False)
        sources.append((tmp_path / name, s.weight))
    seq_len, batch, steps = 16, 256, 40
    loader = PretrainLoader(sources, seq_len=seq_len, global_batch=batch, seed=0)
    sizes = [d["tokens"] for d in loader.describe()["sources"]]
    assert max(sizes) / min(sizes) > 2  # the sources really differ in size
    for _ in range(steps):
        loader.next_step(0, 1)
    tokens = list(loader.per_source_tokens)
    shares = dict(zip(TARGET, (t / sum(tokens) for t in tokens), strict=True))
    for name, target in TARGET.items():
        assert shares[name] == pytest.approx(target, abs=0.012), shares
