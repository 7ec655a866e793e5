"""Top-k sparsification hook (issue 8) under real 2-rank gloo groups, and in a short training run."""

import math

import pytest
import torch

from opencook.xc.sparsify import SparsifyConfig, attach_sparsify
from xc_launch import torchrun

FP32 = 1e-6


@pytest.fixture(scope="module")
def checks(tmp_path_factory) -> list[dict]:
    """One torchrun launch runs every hook check (startup dominates on 2 cores); each test reads its part."""
    return torchrun("sparsify_checks.py", 2, tmp_path_factory.mktemp("sparsify"))


def test_ratio_one_equals_dense_ddp(checks):
    for report in checks:
        for key in ("ratio1_plain", "ratio1_momentum"):  # with momentum correction too: u is masked after sending
            assert len(report[key]) == 3 and max(report[key]) < FP32, (key, report[key])


def test_error_feedback_preserves_the_sum_of_gradients(checks):
    for report in checks:
        assert report["buckets"] > 1  # residuals survive DDP's bucket rebuild after the first step
        assert report["ef_diff"] < FP32 * max(1.0, report["ef_scale"])
        # the residual matters: without it the sums differ by far more than rounding
        assert report["ef_without_residual"] > 100 * FP32


def test_topk_exchanges_k_pairs_per_rank_per_bucket_and_counts_bytes(checks):
    for name in ("multi", "single"):
        for report in checks:
            part = report[name]
            buckets = part["buckets"]
            assert sum(b["numel"] for b in buckets) == sum(part["param_numels"])
            for b in buckets:
                assert b["k"] == math.ceil(0.01 * b["numel"]), b
                assert b["pairs_received"] == 2 * b["k"], b
            assert part["bytes_sent"] == sum(b["k"] * (4 + 4) for b in buckets)  # int32 index + fp32 value
            assert part["bytes_dense"] == 4 * sum(part["param_numels"])
            assert 0 < part["sent_nonzero"] <= sum(2 * b["k"] for b in buckets)
    assert len(checks[0]["multi"]["buckets"]) > 1
    for report in checks:
        assert report["single"]["exchange_diff"] < FP32


def test_dense_warmup_and_fallback_equal_dense_ddp(checks):
    for report in checks:
        warm = report["warmup"]
        assert max(warm[:2]) < FP32, warm
        assert min(warm[2:]) > 1e-4, warm  # afterwards the sparse steps really differ
        assert max(report["fallback"]) < FP32


def test_bad_config_and_non_ddp_model_fail_clearly():
    with pytest.raises(ValueError, match="sparsify.ratio"):
        SparsifyConfig(ratio=0.0)
    with pytest.raises(ValueError, match="sparsify.warmup_steps"):
        SparsifyConfig(warmup_steps=-1)
    with pytest.raises(TypeError, match="DistributedDataParallel"):
        attach_sparsify(torch.nn.Linear(2, 2), SparsifyConfig(enabled=True))
