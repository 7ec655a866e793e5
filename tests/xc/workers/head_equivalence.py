"""Sharded head under a real process group vs single-process references computed on every rank.

Each rank builds the same global problem from a seed, runs its slice through DDP(backbone) + the
sharded head, and compares the loss, the backbone's gradients (after DDP's averaging), the head
rows' gradients and the raw embedding gradient against plain ``F.cross_entropy`` on the full matrix.
"""

import sys

import torch
import torch.nn.functional as F
from _common import init, report
from torch.nn.parallel import DistributedDataParallel as DDP

from opencook.xc.head.logits import LogitConfig
from opencook.xc.head.softmax import KNNSoftmax

rank, world = init()
C, D, IN, B_LOCAL = int(sys.argv[1]), 16, 12, 6
B = B_LOCAL * world
gen = torch.Generator().manual_seed(123)
x_all = torch.randn(B, IN, generator=gen)
y_all = torch.randint(C, (B,), generator=gen)
backbone_init = torch.nn.Linear(IN, D)
torch.manual_seed(0)
backbone_init = torch.nn.Linear(IN, D)
mine = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)


def diffs(mode: str, logits_cfg: LogitConfig, **opts) -> dict:
    backbone = torch.nn.Linear(IN, D)
    backbone.load_state_dict(backbone_init.state_dict())
    model = DDP(backbone)
    head = KNNSoftmax(D, C, mode, logits=logits_cfg, **opts)
    emb = model(x_all[mine])
    emb.retain_grad()
    loss = head(emb, y_all[mine])
    loss.backward()
    # the reference: one process, the whole batch, the whole classifier
    W = torch.cat([p.detach() for p in _gather_weight(head)]).requires_grad_()
    ref_backbone = torch.nn.Linear(IN, D)
    ref_backbone.load_state_dict(backbone_init.state_dict())
    e = ref_backbone(x_all)
    e.retain_grad()
    logits = _reference_logits(e, W, y_all, logits_cfg)
    ref = F.cross_entropy(logits, y_all)
    ref.backward()
    g = head.weight.grad
    g = g.to_dense() if g.is_sparse else g
    s = head.shard

    def rel(a, b):  # difference scaled by the reference's largest entry (when above 1): fp32 rounding grows with it
        return ((a - b).abs().max() / max(1.0, b.abs().max().item())).item()

    return {
        "loss": abs(loss.item() - ref.item()) / max(1.0, abs(ref.item())),
        "weight_grad": rel(g, W.grad[s.start:s.end]),
        "backbone_grad": max(rel(a.grad, b.grad)
                             for a, b in zip(backbone.parameters(), ref_backbone.parameters(), strict=True)),
        "embedding_grad": rel(emb.grad / world, e.grad[mine]),
        "active": head.last.global_size,
    }


def _gather_weight(head):
    parts = [torch.empty(0)] * world
    torch.distributed.all_gather_object(parts, head.weight.detach())
    return parts


def _reference_logits(e, W, y, cfg: LogitConfig):
    if cfg.kind == "linear":
        return e @ W.t()
    cos = F.normalize(e, dim=1) @ F.normalize(W, dim=1).t()
    onehot = F.one_hot(y, C).bool()
    if cfg.margin_kind == "cosface":
        cos = torch.where(onehot, cos - cfg.margin, cos)
    else:
        cos = torch.where(onehot, torch.cos(torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7)) + cfg.margin), cos)
    return cos * cfg.scale


linear, cosface = LogitConfig(), LogitConfig("cosine", scale=16.0, margin=0.2)
arcface = LogitConfig("cosine", scale=16.0, margin=0.3, margin_kind="arcface")
out = {
    "full": diffs("full", linear),
    "full_cosface": diffs("full", cosface),
    "full_arcface": diffs("full", arcface),
    "random_rate_1": diffs("random", linear, sample_rate=1.0),
    # the default selection (feature anchors) with k >= C, imprinting off: imprinting changes W itself
    "knn_k_ge_C": diffs("knn", linear, graph_k=C, selection={"imprint": False}),
    "knn_label_k_ge_C": diffs("knn", linear, graph_k=C, selection={"anchor": "label", "centres": "weights"}),
}
report(out)
