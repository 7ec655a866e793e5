"""Locate the reference conformance set (``OPENCOOK_CONFORMANCE_DIR`` or ../shared/...)."""

import sys
from pathlib import Path

import pytest

from opencook.data.filter.conformance import default_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).parent))  # for filter_samples


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    root = default_dir(REPO_ROOT)
    if not (root / "verdicts.jsonl").is_file():
        pytest.skip(f"conformance set not found at {root}; set OPENCOOK_CONFORMANCE_DIR")
    return root
