"""Unbiased pass@k (Chen et al. 2021) and the per-benchmark summary of sandbox verdicts.

``1 - C(n-c, k) / C(n, k)`` is computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``: no huge binomials,
no overflow at n = 200, and exact at the edges (c = 0 gives 0, n - c < k gives 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """The probability that at least one of ``k`` samples drawn from ``n`` (``c`` of them correct) passes."""
    for name, v in (("n", n), ("c", c), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"{name} must be an int, got {v!r}")
    if n < 1 or k < 1:
        raise ValueError(f"pass@k needs n >= 1 and k >= 1, got n={n}, k={k}")
    if not 0 <= c <= n:
        raise ValueError(f"the number correct c={c} must be within [0, n={n}]")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n={n}: sample more (--n {k}) "
                         f"or ask for k <= {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """The mean of ``pass_at_k`` over problems given as ``(n, c)`` pairs."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    if not values:
        raise ValueError("no problems to score")
    return float(np.mean(values))


def parse_ks(text: str) -> list[int]:
    """``"1,10"`` -> ``[1, 10]`` (sorted, unique); anything else is refused by name."""
    try:
        ks = sorted({int(p) for p in text.split(",") if p.strip()})
    except ValueError:
        raise ValueError(f"--k must be comma-separated integers such as 1,10, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"--k must list integers >= 1, got {text!r}")
    return ks


def summarize(verdicts: Sequence[Sequence[str]], ks: Sequence[int]) -> dict:
    """Scores from per-problem lists of verdict kinds ("passed", "wrong_answer", ...): pass@k for every
    k <= n (the larger ones are listed as skipped), the failure kinds over all samples, and counts."""
    ns = {len(v) for v in verdicts}
    if len(ns) != 1:
        raise ValueError(f"every problem needs the same number of samples, got {sorted(ns)}")
    (n,) = ns
    counts = [(n, sum(kind == "passed" for kind in v)) for v in verdicts]
    usable = [k for k in ks if k <= n]
    kinds = Counter(kind for v in verdicts for kind in v)
    return {
        "n": n,
        "problems": len(verdicts),
        "pass_at_k": {f"pass@{k}": mean_pass_at_k(counts, k) for k in usable},
        "k_skipped": [k for k in ks if k > n],
        "problems_solved": sum(c > 0 for _, c in counts),
        "samples": n * len(verdicts),
        "samples_passed": kinds.get("passed", 0),
        "kinds": dict(sorted(kinds.items())),
    }
