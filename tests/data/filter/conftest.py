"""Locate the reference conformance set (``OPENCOOK_CONFORMANCE_DIR`` or ../shared/...); the harness that
compares with it is tooling, in benchmarks/filter_conformance.py."""

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).parent))  # for filter_samples
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # for filter_conformance

from filter_conformance import default_dir  # noqa: E402


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    root = default_dir(REPO_ROOT)
    if not (root / "verdicts.jsonl").is_file():
        pytest.skip(f"conformance set not found at {root}; set OPENCOOK_CONFORMANCE_DIR")
    return root
