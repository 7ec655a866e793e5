"""Settings of file-level fuzzy dedup, presets, and the LSH S-curve math.

Normalisation (``normalise``): ``"lower"`` (default) lower-cases the text, then takes the maximal runs of
word characters (Python ``re`` ``\\w+``, Unicode-aware: letters, digits, underscore) as tokens. That is
``re.split(r"\\W+", text.lower())`` without the empty strings, so any run of spaces, punctuation or
newlines separates two tokens and reformatting whitespace or punctuation-only edits leave the tokens
unchanged. ``"none"`` keeps case. (text-dedup splits on a single ``\\W`` and keeps the empty tokens
between consecutive separators, bigcode splits on ``[^A-Za-z_0-9]`` without lower-casing; both make
indentation changes visible as shingle changes, ours does not.) Shingles are the n-grams of
consecutive tokens; a file with fewer than ``ngram`` tokens (but at least one) has one shingle made of
all its tokens; a file with no token has no shingle and is never a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PRESETS: dict[str, dict[str, int]] = {
    # OpenCoder / RefineCode: 5-gram shingles, 2048 permutations, 16 bands x 128 rows (threshold ~0.98).
    "opencoder": {"ngram": 5, "num_perm": 2048, "bands": 16, "rows": 128},
    # datatrove's MinhashConfig defaults: 5-grams, 14 buckets x 8 hashes = 112 permutations (~0.72).
    "datatrove": {"ngram": 5, "num_perm": 112, "bands": 14, "rows": 8},
    # bigcode (The Stack): 5-grams, 250 permutations, 25 x 10 (~0.73).
    "bigcode": {"ngram": 5, "num_perm": 250, "bands": 25, "rows": 10},
}
NORMALISATIONS = ("lower", "none")
BACKENDS = ("numpy", "rensa")


def implied_threshold(bands: int, rows: int) -> float:
    """The Jaccard similarity where the S-curve is steepest, approximately ``(1/b)^(1/r)``."""
    return (1.0 / bands) ** (1.0 / rows)


def p_candidate(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """P(two files of Jaccard ``s`` share at least one band): ``1 - (1 - s^r)^b``."""
    return 1.0 - (1.0 - np.power(s, rows)) ** bands


@lru_cache(maxsize=64)
def optimal_bands_rows(threshold: float, num_perm: int, fp_weight: float = 0.5,
                       fn_weight: float = 0.5) -> tuple[int, int]:
    """(b, r) with ``b*r <= num_perm`` minimising the weighted false-positive and false-negative areas.

    As datasketch's ``_optimal_param``: the false-positive area is the integral of P(candidate) over
    [0, threshold], the false-negative area that of 1 - P(candidate) over [threshold, 1]. Integrals by
    the trapezoid rule on 1001 points (datasketch uses scipy's quad; the argmin agrees).
    """
    lo = np.linspace(0.0, threshold, 1001)
    hi = np.linspace(threshold, 1.0, 1001)
    best, best_err = (1, 1), float("inf")
    for b in range(1, num_perm + 1):
        rs = np.arange(1, num_perm // b + 1, dtype=np.float64)[:, None]
        fp = np.trapezoid(1.0 - (1.0 - lo ** rs) ** b, lo, axis=1)
        fn = np.trapezoid((1.0 - hi ** rs) ** b, hi, axis=1)
        err = fp * fp_weight + fn * fn_weight
        i = int(np.argmin(err))
        if err[i] < best_err - 1e-15:
            best, best_err = (b, i + 1), float(err[i])
    return best


@dataclass
class FuzzyDedupConfig:
    """File-level MinHash-LSH dedup. Either (``bands``, ``rows``), or a ``threshold`` to choose them from.

    ``preset`` fills ``ngram``, ``num_perm``, ``bands`` and ``rows`` (see ``PRESETS``); a field set to a
    different value alongside a preset is an error. ``verify`` checks every candidate pair's exact
    Jaccard on the shingle sets and keeps only pairs at or above ``verify_threshold`` (default: the
    ``threshold`` if given, else the implied threshold of the bands and rows). ``verify_rounds`` bounds
    the chained re-verification of members that failed against their bucket head (see ``verify``).
    ``backend`` computes the signatures: ``numpy`` (our vectorised multiply-shift family, no extra
    dependency) or ``rensa`` (its Rust MinHash on the same uint64 shingle hashes, several times
    faster at 2048 permutations; the ``data`` extra installs it). The two give different signatures
    of equal quality (benchmarks/results/minhash_backends.md), so one run must keep one backend.
    """

    ngram: int = 5
    num_perm: int = 2048
    bands: int | None = 16
    rows: int | None = 128
    threshold: float | None = None
    preset: str | None = None
    verify: bool = True
    verify_threshold: float | None = None
    verify_rounds: int = 4
    normalise: str = "lower"
    seed: int = 0
    partition_rows: int = 1 << 24
    backend: str = "numpy"

    def __post_init__(self) -> None:
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise ValueError(f"unknown preset '{self.preset}'; known: {', '.join(PRESETS)}")
            for key, value in PRESETS[self.preset].items():
                current = getattr(self, key)
                if current not in (value, _DEFAULTS[key]):
                    raise ValueError(f"preset '{self.preset}' sets {key}={value}, but {key}={current} was "
                                     f"given; drop one of them")
                setattr(self, key, value)
        if self.ngram < 1 or self.num_perm < 1:
            raise ValueError("ngram and num_perm must be >= 1")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got '{self.backend}'")
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, got '{self.normalise}'")
        if self.threshold is not None:
            if not 0.0 < self.threshold < 1.0:
                raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
            b, r = optimal_bands_rows(self.threshold, self.num_perm)
            for key, value in (("bands", b), ("rows", r)):
                current = getattr(self, key)
                if current not in (None, value, _DEFAULTS[key]):
                    raise ValueError(f"threshold {self.threshold} chooses {key}={value}, but {key}={current} "
                                     "was given; give either a threshold or bands and rows")
            self.bands, self.rows = b, r
        if self.bands is None or self.rows is None:
            raise ValueError("give bands and rows, or a threshold to choose them from")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.verify_rounds < 1:
            raise ValueError(f"verify_rounds must be >= 1, got {self.verify_rounds}")
        if self.verify_threshold is not None and not 0.0 <= self.verify_threshold <= 1.0:
            raise ValueError(f"verify_threshold must be in [0, 1], got {self.verify_threshold}")

    @property
    def implied_threshold(self) -> float:
        return implied_threshold(self.bands, self.rows)

    @property
    def jaccard_threshold(self) -> float:
        """The Jaccard a verified pair must reach."""
        if self.verify_threshold is not None:
            return self.verify_threshold
        return self.threshold if self.threshold is not None else self.implied_threshold

    def s_curve(self, points: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)) -> dict[str, float]:
        """P(candidate) at a few Jaccard values, for the report."""
        return {f"{s:.2f}": round(float(p_candidate(s, self.bands, self.rows)), 4) for s in points}


_DEFAULTS = {"ngram": 5, "num_perm": 2048, "bands": 16, "rows": 128}
