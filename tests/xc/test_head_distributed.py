"""B1: the sharded head equals single-process cross entropy, under real 1- and 2-rank gloo groups."""

import pytest

from xc_launch import torchrun

TOL = 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("world", [1, 2])
def test_sharded_head_equals_full_cross_entropy(tmp_path, world):
    reports = torchrun("head_equivalence.py", world, tmp_path, "37")  # 37 classes: uneven shards
    for r, rep in enumerate(reports):
        for case, d in rep.items():
            assert d["active"] == 37, (r, case)
            for what in ("loss", "weight_grad", "backbone_grad", "embedding_grad"):
                assert d[what] < TOL, f"rank {r} {case}: {what} differs by {d[what]:.2e}"


@pytest.mark.slow
def test_bad_input_on_one_rank_fails_on_every_rank_without_hanging(tmp_path):
    reports = torchrun("head_errors.py", 2, tmp_path, timeout=120)
    for rep in reports:
        assert rep["label_out_of_range"].startswith("ValueError") and "out of range [0, 50)" in rep["label_out_of_range"]
        assert rep["nan_embedding"].startswith("FloatingPointError")
    assert reports[0]["after"] == reports[1]["after"]
