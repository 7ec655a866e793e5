"""LR schedules: WSD holds the peak, annealing decays geometrically to final_lr, SFT's cosine ends there."""

from __future__ import annotations

import math

import pytest

from opencook.lm.train.schedule import lr_at


def test_warmup_is_linear_then_wsd_is_constant():
    lrs = [lr_at(s, 100, "wsd", 3e-4, 1e-5, 4) for s in range(100)]
    assert lrs[:4] == pytest.approx([0.75e-4, 1.5e-4, 2.25e-4, 3e-4])
    assert set(lrs[4:]) == {3e-4}


def test_exp_decay_goes_from_peak_to_final_geometrically():
    lrs = [lr_at(s, 11, "exp_decay", 1e-3, 1e-5, 0) for s in range(11)]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-5)
    ratios = [b / a for a, b in zip(lrs, lrs[1:], strict=False)]
    assert ratios == pytest.approx([ratios[0]] * 10)  # a constant factor per step
    assert ratios[0] == pytest.approx(0.01 ** (1 / 10))


def test_cosine_ends_at_final_and_is_monotone():
    lrs = [lr_at(s, 50, "cosine", 5e-5, 0.0, 5) for s in range(50)]
    assert lrs[4] == pytest.approx(5e-5) and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(b <= a for a, b in zip(lrs[4:], lrs[5:], strict=False))
    assert lrs[27] == pytest.approx(5e-5 * 0.5 * (1 + math.cos(math.pi * 22 / 44)))


def test_bad_schedules_are_named():
    with pytest.raises(ValueError, match="final_lr > 0"):
        lr_at(5, 10, "exp_decay", 1e-3, 0.0, 0)
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        lr_at(5, 10, "linear", 1e-3, 0.0, 0)
