"""Every shipped recipe loads and type-checks (a broken demo must fail here, not at a user's)."""

from pathlib import Path

import pytest

from opencook.data.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
# data pipeline recipes; recipes/xc, recipes/lm and recipes/synth are checked in tests/xc, tests/lm, tests/synth
RECIPES = sorted((ROOT / "recipes" / "data").glob("*.yaml"))


def test_recipes_are_filed_by_capability():
    """One layout: recipes/<capability>/..., nothing loose at the top."""
    assert {p.name for p in (ROOT / "recipes").iterdir() if not p.name.startswith(".")} <= {"data", "lm", "xc", "synth"}


def test_there_are_recipes():
    assert RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_loads(path):
    recipe = load_recipe(path)
    names = [spec.name for spec, _ in recipe.stages]
    assert names[0] == "ingest" and names[-1] == "write"
    assert not any("{python_stdlib}" in p for p in recipe.stages[0][1].paths)  # placeholders expanded
