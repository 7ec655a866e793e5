"""The xc plan cost model: formulas on hand-checked cases, validation against measured peaks, the CLI."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from opencook.xc.plan.calibrate import load_calibration, save_calibration, validate_memory
from opencook.xc.plan.model import (
    DENSE_OPT_PASSES,
    ROW_OPT_PASSES,
    ROW_TABLE_LARGE,
    ROW_TABLE_SMALL,
    SOFTMAX_PASSES,
    Calibration,
    PlanInputs,
    memory,
    ring_all_reduce,
    row_rate,
    step_time,
)

ROOT = Path(__file__).resolve().parents[2]


def test_memory_formulas_small_case():
    # C=8 over N=2 -> 4 rows/GPU, D=4 fp32 -> 16 B/row; B_global=2*3=6; active 0.5 -> 2 rows/GPU
    p = PlanInputs(classes=8, dim=4, gpus=2, batch_per_gpu=3, active=0.5, dtype="fp32", optimizer="adamw", graph_k=2)
    full = memory(p, "full")
    assert full == {"weights": 64, "optimizer": 128, "embeddings": 2 * 6 * 16, "gradient": 64, "logits": 6 * 4 * 4}
    knn = memory(p, "knn")
    assert knn["logits"] == 6 * 2 * 4 and knn["gradient"] == 2 * (16 + 8) and knn["active rows"] == 32
    assert knn["graph"] == 8 * 2 * 8  # the whole [C, k] int64 graph on every rank
    assert memory(PlanInputs(classes=8, dim=4, gpus=2, dtype="fp16"), "full")["weights"] == 4 * 4 * 2


def test_ring_all_reduce_formula():
    cal = Calibration(bus_bw=1e9, latency_s=1e-6)
    assert ring_all_reduce(4e9, 4, cal) == pytest.approx(2 * 3 / 4 * 4 + 2 * 3 * 1e-6)


def test_head_gemm_time_scales_with_columns():
    cal = Calibration(gemm_flops=1e12)
    p = PlanInputs(classes=1000, dim=10, gpus=1, batch_per_gpu=10, active=0.1)
    assert step_time(p, "full", cal)["head GEMMs (fwd+bwd)"] == pytest.approx(6 * 10 * 1000 * 10 / 1e12)
    assert step_time(p, "random", cal)["head GEMMs (fwd+bwd)"] == pytest.approx(6 * 10 * 100 * 10 / 1e12)
    # knn: the 10 labels and their 10 neighbours each (110) exceed the 100-class budget, and are never trimmed
    assert step_time(p, "knn", cal)["head GEMMs (fwd+bwd)"] == pytest.approx(6 * 10 * 110 * 10 / 1e12)


def test_bad_inputs_name_the_flag():
    with pytest.raises(ValueError, match="--active"):
        PlanInputs(classes=10, dim=4, gpus=1, active=2.0)
    with pytest.raises(ValueError, match="--optimizer"):
        PlanInputs(classes=10, dim=4, gpus=1, optimizer="lamb")
    with pytest.raises(ValueError, match="--gpus"):
        PlanInputs(classes=10, dim=4, gpus=20)


def test_memory_model_within_25pct_of_measured_peaks():
    v = validate_memory(ROOT / "benchmarks" / "results" / "xc_memory.json")
    assert {r["mode"] for r in v["runs"]} == {"full", "knn", "random"}
    assert 0 <= v["constant_mb"] < 200  # one runtime-overhead constant, not a per-point fit
    for r in v["runs"]:
        assert abs(r["rel_error"]) < 0.25, r


def test_knn_needs_less_memory_than_full_at_100m_classes():
    p = PlanInputs(classes=100_000_000, dim=512, gpus=256)
    full, knn = sum(memory(p, "full").values()), sum(memory(p, "knn").values())
    assert knn < full / 3
    assert full > 40 * 2**30  # the [65536, 390625] fp16 logits alone are 47.7 GiB


def test_cli_prints_every_section(tmp_path):
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps({"bus_bw": 1e10, "source": "test file"}))
    out = subprocess.run([sys.executable, "-m", "opencook", "xc", "plan", "--classes", "100000000", "--dim", "512",
                          "--gpus", "256", "--calibration", str(cal)], capture_output=True, text=True, check=True).stdout
    for section in ("memory per device", "step time", "communication per step", "KNN graph rebuild", "test file"):
        assert section in out
    assert "bus 10 GB/s" in out


def test_bad_calibration_file_is_named(tmp_path):
    bad = tmp_path / "cal.json"
    bad.write_text(json.dumps({"bus_bandwidth": 1}))
    with pytest.raises(ValueError, match="unknown keys"):
        load_calibration(bad)


def test_optimizer_term_full_grows_with_classes_knn_does_not():
    cal = Calibration(mem_bw=1e10, row_bw=1e10, row_bw_large=1e10)  # one row rate: the table-size effect is tested below
    small, big = (PlanInputs(classes=c, dim=64, gpus=1, batch_per_gpu=256, active=1e-4, dtype="fp32")
                  for c in (1_000_000, 10_000_000))
    full_small, full_big = step_time(small, "full", cal)["head optimizer"], step_time(big, "full", cal)["head optimizer"]
    assert full_big == pytest.approx(10 * full_small)  # dense C x D update: linear in C
    assert full_small == pytest.approx(DENSE_OPT_PASSES["sgd"] * 1_000_000 * 64 * 4 / 1e10)
    # knn: only the active rows; at a*C below the batch's labels + neighbours the active set is C-free
    assert small.active_global("knn") == big.active_global("knn") == 256 * 11
    assert step_time(small, "knn", cal)["head optimizer"] == step_time(big, "knn", cal)["head optimizer"]
    assert step_time(small, "knn", cal)["head optimizer"] == pytest.approx(ROW_OPT_PASSES["sgd"] * 2816 * 64 * 4 / 1e10)


def test_softmax_elementwise_scales_with_logits_and_is_fp32():
    cal = Calibration(softmax_bw=1e10)
    p = PlanInputs(classes=100_000, dim=64, gpus=2, batch_per_gpu=128, active=0.1)  # fp16: logits still fp32
    assert step_time(p, "full", cal)["softmax elementwise"] == pytest.approx(SOFTMAX_PASSES * 256 * 50_000 * 4 / 1e10)
    assert step_time(p, "knn", cal)["softmax elementwise"] == pytest.approx(SOFTMAX_PASSES * 256 * 5_000 * 4 / 1e10)


def test_selection_and_row_terms_only_for_sampled_modes():
    cal = Calibration(select_rate=1e6)
    p = PlanInputs(classes=1_000_000, dim=64, gpus=1, active=0.01)
    full, knn = step_time(p, "full", cal), step_time(p, "knn", cal)
    assert "active-set selection" not in full and "gather active rows" not in full
    assert knn["active-set selection"] == pytest.approx(10_000 * math.log2(10_000) / 1e6)
    assert p.active_cols("full") == 1_000_000 and p.active_cols("random") == 10_000


def test_fresh_buffers_only_above_mmap_threshold_and_free_by_default():
    p = PlanInputs(classes=1_000_000, dim=64, gpus=1, batch_per_gpu=256, dtype="fp32")
    assert step_time(p, "full", Calibration())["fresh buffers (page faults)"] == 0.0  # GPU: caching allocator
    cal = Calibration(fresh_bw=1e9)
    # logits 1 GB and two 256 MB C x D buffers are all above 32 MiB
    assert step_time(p, "full", cal)["fresh buffers (page faults)"] == pytest.approx((256e6 * 4 + 2 * 256e6) / 1e9)
    knn = PlanInputs(classes=100_000, dim=64, gpus=1, batch_per_gpu=256, active=0.01, dtype="fp32")
    assert step_time(knn, "knn", cal)["fresh buffers (page faults)"] == 0.0  # 2.9 MB logits, under the threshold


def test_fixed_overhead_is_one_constant_for_every_mode():
    cal = Calibration(step_overhead_s=0.004)
    for mode in ("full", "knn", "random"):
        assert step_time(PlanInputs(classes=1000, dim=8, gpus=1, active=0.5), mode, cal)["fixed per-step overhead"] == 0.004


def test_calibration_json_round_trips_with_new_fields(tmp_path):
    cal = Calibration(mem_bw=1.5e10, softmax_bw=9e9, row_bw=4e9, row_bw_large=2e9, select_rate=1e8, fresh_bw=1.4e9,
                      step_overhead_s=0.002, source="round trip")
    path = tmp_path / "cal.json"
    save_calibration(cal, path)
    assert load_calibration(path) == cal


def test_old_calibration_json_without_new_fields_still_loads(tmp_path):
    old = {"gemm_flops": 7e10, "gemm_flops_fp32": 7e10, "bus_bw": 9e8, "latency_s": 1.2e-4, "ivf_add_vps": 7e4,
           "ivf_search_qps": 4.5e4, "ivf_calib_classes": 20000, "source": "written before the step-time terms"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    cal = load_calibration(path)
    assert cal.gemm_flops == 7e10 and cal.mem_bw == Calibration().mem_bw and cal.step_overhead_s == 0.0
    assert cal.fresh_bw == 0.0  # an old file: allocation not charged, as before


def test_validation_fit_is_one_constant():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from xc_plan_validation import fit_overhead, mlp_size

    rows = [{"formula_s": 0.010, "measured_s": 0.012}, {"formula_s": 1.0, "measured_s": 1.002}]
    assert fit_overhead(rows) == pytest.approx(0.002)
    params, gflops = mlp_size(64, 256, 64)
    assert params == 64 * 256 + 256 + 2 * 256 + 256 * 64 + 64 and gflops == pytest.approx(2 * 2 * 64 * 256 / 1e9)


def test_row_rate_interpolates_between_the_two_calibrated_tables():
    cal = Calibration(row_bw=4e9, row_bw_large=1e9)
    assert row_rate(ROW_TABLE_SMALL / 2, cal) == 4e9 and row_rate(ROW_TABLE_LARGE * 2, cal) == 1e9
    middle = math.sqrt(ROW_TABLE_SMALL * ROW_TABLE_LARGE)  # halfway in log(size)
    assert row_rate(middle, cal) == pytest.approx(2e9)
    # knn at 10M classes, D=64 fp32: a 2.56 GB weight, so its row terms use the large-table rate
    p = PlanInputs(classes=10_000_000, dim=64, gpus=1, active=0.01, dtype="fp32")
    assert step_time(p, "knn", cal)["gather active rows"] == pytest.approx(2 * 100_000 * 64 * 4 / 1e9)
