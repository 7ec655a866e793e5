"""``--nproc N`` outside torchrun: start N local ranks of the same ``opencook`` command.

A convenience for one machine; on a cluster users call ``torchrun --nnodes ... -m opencook ...`` directly,
and the trainers see the same environment either way.
"""

from __future__ import annotations

import os
import subprocess
import sys


def relaunch_under_torchrun(nproc: int, opencook_args: list[str], set_pairs: list[str] | None = None) -> int:
    """Run ``python -m opencook OPENCOOK_ARGS [--set PAIR ...]`` on ``nproc`` local ranks (``--standalone``
    rendezvous, so no port has to be picked); one OpenMP thread per rank unless ``OMP_NUM_THREADS`` is set."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--standalone",
           "-m", "opencook", *opencook_args]
    for pair in set_pairs or []:
        cmd += ["--set", pair]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(cmd, env=env).returncode
