"""The xc plan cost model: formulas on hand-checked cases, validation against measured peaks, the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opencook.xc.plan_calibrate import load_calibration, validate_memory
from opencook.xc.plan_model import Calibration, PlanInputs, memory, ring_all_reduce, step_time

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
    assert step_time(p, "knn", cal)["head GEMMs (fwd+bwd)"] == pytest.approx(6 * 10 * 100 * 10 / 1e12)


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
