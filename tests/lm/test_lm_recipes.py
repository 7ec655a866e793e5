"""Every shipped LM recipe type-checks for its phase and splits its global batch over the world it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencook.lm.model import model_config
from opencook.lm.train.config import load_lm_config

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes" / "lm").glob("*.yaml"))
# The world size each recipe is written for: the demo's 2 local ranks, OpenCoder-1.5B's 256 GPUs, 8B's 512.
WORLD = {"demo": 2, "opencoder_1.5b": 256, "opencoder_8b": 512}


def _phase(path: Path) -> str:
    return next(p for p in ("pretrain", "anneal", "sft") if p in path.stem)


def test_there_are_lm_recipes():
    assert {_phase(p) for p in RECIPES} == {"pretrain", "anneal", "sft"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_lm_recipe_loads(path):
    cfg = load_lm_config(path, _phase(path))
    world = next(w for prefix, w in WORLD.items() if path.stem.startswith(prefix))
    assert cfg.grad_accum(world) >= 1
    if not cfg.init_from:
        assert cfg.data.seq_len <= model_config(cfg.model.preset).max_seq_len
