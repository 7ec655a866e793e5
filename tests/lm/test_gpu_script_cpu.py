"""``benchmarks/gpu/lm_mfu.sh`` runs end to end at a tiny shape on CPU (the GPU run uses the same script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_lm_mfu_script_runs_every_phase_at_a_tiny_shape(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path), "LM_MFU_PRESET": "tiny", "LM_MFU_SEQ": "64",
           "LM_MFU_STEPS": "3", "LM_MFU_MICRO": "2", "LM_MFU_COMPILE": "false", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu" / "lm_mfu.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "lm_mfu_gpu.json").read_text())
    assert result["steps"] == 3 and result["median_tokens_per_s"] > 0 and result["planned_peak_gib"] > 0
    assert {p["phase"] for p in result["phases"].values()} == {"pretrain", "anneal", "sft"}
    assert result["phases"]["pre"]["final_val_loss"] is not None
    assert "model.safetensors" in result["hf_export"] and (tmp_path / "lm_mfu_gpu.md").is_file()
