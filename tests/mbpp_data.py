"""Where the tests find MBPP (never committed): ``$OPENCOOK_MBPP_DIR``, ``../shared/data/mbpp`` or the workplace
copy. Tests that need it are marked ``needs_mbpp`` and say where they looked when it is absent (CI without the
data, no network to fetch it); everything else runs."""

from __future__ import annotations

import pytest

from opencook.benchmarks.problems import default_mbpp_dir

MBPP_DIR = default_mbpp_dir()
HAVE_MBPP = (MBPP_DIR / "mbpp.jsonl").is_file() and (MBPP_DIR / "mbpp_sanitized.jsonl").is_file()
needs_mbpp = pytest.mark.skipif(not HAVE_MBPP, reason=f"MBPP data not at {MBPP_DIR}; set OPENCOOK_MBPP_DIR")
# Decontamination sets for tests that are about something else: MBPP joins HumanEval when it is here.
BENCHMARKS = ["humaneval", "mbpp"] if HAVE_MBPP else ["humaneval"]
