"""The distributed graph build under a real 2-rank gloo group equals the one-process build."""

import pytest
import torch
import torch.nn.functional as F

from opencook.xc.graph import GraphConfig, build_class_graph
from opencook.xc.sharding import shard_range
from xc_launch import torchrun


@pytest.mark.slow
def test_two_ranks_build_the_one_process_graph(tmp_path):
    num_classes = 1001  # odd: the shards are 501 and 500 rows
    centres = torch.randn(num_classes, 24, generator=torch.Generator().manual_seed(3))
    torch.save(centres, tmp_path / "centres.pt")
    reports = torchrun("graph_build.py", 2, tmp_path / "out", str(tmp_path / "centres.pt"))
    assert [(r["start"], r["end"]) for r in reports] == [(0, 501), (501, 1001)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers run (OMP_NUM_THREADS=1), so the BLAS paths match
    try:
        for method in ("exact", "ivf"):
            cfg = GraphConfig(k=5, method=method, nlist=16, nprobe=3, chunk_rows=128)
            want = build_class_graph(centres, shard_range(num_classes, 0, 1), cfg)
            got = [torch.tensor(r["graphs"][method]) for r in reports]
            assert got[0].shape == (num_classes, 5)
            assert torch.equal(got[0], got[1]), f"{method}: the ranks disagree"
            assert torch.equal(got[0], want), f"{method}: 2 ranks differ from 1 process"
    finally:
        torch.set_num_threads(threads)
    exact = torch.tensor(reports[0]["graphs"]["exact"])
    ivf = torch.tensor(reports[0]["graphs"]["ivf"])
    assert not torch.equal(exact, ivf), "nprobe=3 of 16 lists should miss some neighbours"
    sims = F.normalize(centres, dim=1) @ F.normalize(centres, dim=1).T
    sims.fill_diagonal_(float("-inf"))
    assert torch.equal(exact, sims.topk(5, dim=1).indices)
