"""The documented multi-machine launch, with two torchrun agents on this host standing in for two machines:
each agent is started separately and they meet at a c10d rendezvous endpoint, exactly as on a cluster."""

import json
import os
import socket
import subprocess
import sys

import pytest
import yaml
from test_trainer import TINY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_agents_meet_at_a_rendezvous_endpoint_and_train_one_run(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "steps": 4, "eval_every": 0, "checkpoint_every": 0}))
    out = tmp_path / "run"
    endpoint = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "opencook-test",
           "-m", "opencook", "xc", "train", str(cfg), "--out", str(out)]
    # node ranks are assigned by the rendezvous; the first agent to start hosts the store
    agents = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
              for _ in range(2)]
    logs = [a.communicate(timeout=240)[0] for a in agents]
    assert [a.returncode for a in agents] == [0, 0], "\n---\n".join(log[-3000:] for log in logs)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4
    train = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in train if r["kind"] == "train"] == [1, 2, 3, 4]
    assert all(r["comm_ms"] > 0 for r in train if r["kind"] == "train")  # the ranks did talk
