"""File-level fuzzy dedup (RefineCode step 3): MinHash-LSH with exact-Jaccard verification.

Modules, one job each: ``config`` (settings, presets, S-curve), ``shingles`` (text -> shingle hashes),
``signatures`` (MinHash), ``lsh`` (bands, sorted runs, candidate edges), ``verify`` (exact Jaccard),
``components`` (connected components), ``stage`` (the runner's summarize / decide / apply).
"""

from opencook.data.dedup.minhash.config import (
    PRESETS,
    FuzzyDedupConfig,
    implied_threshold,
    optimal_bands_rows,
    p_candidate,
)
from opencook.data.dedup.minhash.stage import apply, decide, decide_files, summarize

__all__ = ["PRESETS", "FuzzyDedupConfig", "apply", "decide", "decide_files", "implied_threshold",
           "optimal_bands_rows", "p_candidate", "summarize"]
