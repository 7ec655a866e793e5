"""Every shipped recipe loads and type-checks (a broken demo must fail here, not at a user's)."""

from pathlib import Path

import pytest

from opencook.data.recipe import load_recipe

# data recipes; xc_*.yaml are trainer configs, checked in tests/xc/test_trainer.py
RECIPES = sorted(p for p in (Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml")
                 if not p.name.startswith("xc_"))


def test_there_are_recipes():
    assert RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_loads(path):
    recipe = load_recipe(path)
    names = [spec.name for spec, _ in recipe.stages]
    assert names[0] == "ingest" and names[-1] == "write"
    assert not any("{python_stdlib}" in p for p in recipe.stages[0][1].paths)  # placeholders expanded
