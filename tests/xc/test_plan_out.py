"""``opencook xc plan`` takes ``--out`` like every command that writes a file (its calibration JSON)."""

from __future__ import annotations

import subprocess
import sys


def test_out_without_calibrate_is_refused_with_the_fix(tmp_path):
    out = tmp_path / "cal.json"
    proc = subprocess.run([sys.executable, "-m", "opencook", "xc", "plan", "--classes", "1000", "--dim", "64",
                           "--gpus", "8", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "add --calibrate" in proc.stderr
    assert not out.exists()
