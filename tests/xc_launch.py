"""Run a worker script under a real ``torchrun`` gloo group and return what each rank reported.

A worker writes JSON to ``$XC_OUT/rank{RANK}.json``; the test reads it back. Using real processes
(not mocks) is the point: the collectives, their ordering and their gradients are what is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

WORKERS = Path(__file__).parent / "xc" / "workers"


def torchrun(script: str | Path, nproc: int, out: Path, *args: str, timeout: float = 240) -> list[dict]:
    """Launch ``script`` on ``nproc`` local CPU ranks; return each rank's JSON report, rank order."""
    out.mkdir(parents=True, exist_ok=True)
    script = Path(script)
    if not script.is_absolute():
        script = WORKERS / script
    env = {**os.environ, "XC_OUT": str(out), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
           "--standalone", str(script), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"torchrun {script.name} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(nproc)]

