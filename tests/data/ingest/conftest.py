"""Fixtures for the ingest tests."""

import pytest


@pytest.fixture
def by_path():
    def index(records: list[dict]) -> dict[tuple[str, str], dict]:
        return {(r["repo"], r["path"]): r for r in records}

    return index
