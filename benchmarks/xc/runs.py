"""Run ``opencook xc train`` from a benchmark and read back what the run directory recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def train(recipe: Path, out: Path, nproc: int, sets: list[str]) -> None:
    cmd = [sys.executable, "-m", "opencook", "xc", "train", str(recipe), "--out", str(out), "--nproc", str(nproc)]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def losses(run: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in metrics(run) if m["kind"] == "train"}
