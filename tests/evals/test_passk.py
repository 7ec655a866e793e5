"""pass@k against a brute-force count over every k-subset of the samples, and its edge cases."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from opencook.evals.passk import mean_pass_at_k, parse_ks, pass_at_k, summarize


def brute_force(n: int, c: int, k: int) -> Fraction:
    """The fraction of k-subsets of n samples (the first c correct) holding at least one correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(i < c for i in s) for s in subsets), len(subsets))


@pytest.mark.parametrize(("n", "c", "k"), [(n, c, k) for n in (1, 2, 5, 10) for c in range(n + 1)
                                           for k in (1, 2, 3, 10) if k <= n])
def test_matches_brute_force(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(float(brute_force(n, c, k)), abs=1e-12)


def test_known_values():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the fraction correct
    assert pass_at_k(10, 1, 10) == 1.0
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)  # 1 - C(199,100)/C(200,100) = 100/200
    # large n: the product form stays finite where C(200, 100) ~ 9e58 would overflow a float binomial ratio
    assert 0.0 < pass_at_k(200, 2, 10) < 1.0


def test_edges():
    assert pass_at_k(5, 5, 1) == 1.0 and pass_at_k(5, 5, 5) == 1.0  # n == c
    assert pass_at_k(5, 0, 1) == 0.0 and pass_at_k(5, 0, 5) == 0.0  # c == 0
    assert pass_at_k(5, 1, 5) == 1.0  # n - c < k
    with pytest.raises(ValueError, match=r"pass@6 needs at least 6 samples"):
        pass_at_k(5, 1, 6)
    with pytest.raises(ValueError, match=r"c=6"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError, match=r"k >= 1"):
        pass_at_k(5, 1, 0)
    with pytest.raises(TypeError):
        pass_at_k(5.0, 1, 1)


def test_mean_and_summary():
    assert mean_pass_at_k([(2, 0), (2, 1), (2, 2)], 1) == pytest.approx(0.5)
    verdicts = [["passed", "wrong_answer"], ["timeout", "exception"], ["passed", "passed"]]
    s = summarize(verdicts, [1, 2, 10])
    assert s["pass_at_k"] == {"pass@1": pytest.approx(0.5), "pass@2": pytest.approx(2 / 3)}
    assert s["k_skipped"] == [10]
    assert s["kinds"] == {"exception": 1, "passed": 3, "timeout": 1, "wrong_answer": 1}
    assert (s["n"], s["problems"], s["problems_solved"], s["samples_passed"]) == (2, 3, 2, 3)
    with pytest.raises(ValueError, match="same number of samples"):
        summarize([["passed"], ["passed", "passed"]], [1])


def test_parse_ks():
    assert parse_ks("10,1, 1") == [1, 10]
    for bad in ("", "0", "a,b", "1;10"):
        with pytest.raises(ValueError, match="--k"):
            parse_ks(bad)
