"""Fixtures shared by the data tests."""

from pathlib import Path

import pytest

from fixtures_code import make_repos


@pytest.fixture
def repo_tree(tmp_path: Path) -> Path:
    return make_repos(tmp_path)
