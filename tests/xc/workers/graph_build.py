"""Each rank builds the class graph from its shard of the centres in ``argv[1]`` (a torch.save'd [C, D])."""

import sys

import torch
from _common import init, report

from opencook.xc.graph import GraphConfig, build_class_graph
from opencook.xc.sharding import shard_range

rank, world = init()
centres = torch.load(sys.argv[1])
shard = shard_range(centres.shape[0], rank, world)
graphs = {}
for method in ("exact", "ivf"):
    cfg = GraphConfig(k=5, method=method, nlist=16, nprobe=3, chunk_rows=128)
    graphs[method] = build_class_graph(centres[shard.start:shard.end], shard, cfg).tolist()
report({"rank": rank, "world": world, "start": shard.start, "end": shard.end, "graphs": graphs})
