"""Sparsify hook vs plain DDP under a real gloo group; each rank reports measured differences.

Every rank feeds its own slice of a seeded global batch. The references are computed here from the
local gradients of an unhooked copy of the model and explicit collectives, never from the hook.
"""

import torch
import torch.distributed as dist
from _common import init, report
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from opencook.xc.train.sparsify import SparsifyConfig, attach_sparsify

torch.set_num_threads(1)
rank, world = init()
IN, B_LOCAL = 20, 8


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN, 64), nn.GELU(), nn.Linear(64, 48), nn.GELU(), nn.Linear(48, 16))


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1000 + step)
    x, y = torch.randn(B_LOCAL * world, IN, generator=gen), torch.randn(B_LOCAL * world, 16, generator=gen)
    mine = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)
    return x[mine], y[mine]


def loss_of(model: nn.Module, step: int) -> torch.Tensor:
    x, y = batch(step)
    return ((model(x) - y) ** 2).mean()


def flat_grads(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def versus_dense(cfg: SparsifyConfig, momentum: float, ref_momentum: float, steps: int, bucket_cap_mb: float) -> dict:
    """Per step: max |grad| and max |weight| difference, hooked DDP + SGD without momentum (the hook
    owns ``momentum``) vs plain DDP + SGD(``ref_momentum``); no weight decay (see docs/xc_sparsify.md)."""
    hooked, plain = DDP(net(), bucket_cap_mb=bucket_cap_mb), DDP(net(), bucket_cap_mb=bucket_cap_mb)
    attach_sparsify(hooked, cfg, momentum=momentum)
    opts = [torch.optim.SGD(hooked.parameters(), lr=0.05), torch.optim.SGD(plain.parameters(), lr=0.05,
                                                                            momentum=ref_momentum)]
    grad, weight = [], []
    for step in range(steps):
        for model, opt in zip((hooked, plain), opts, strict=True):
            opt.zero_grad()
            loss_of(model, step).backward()
            opt.step()
        grad.append(max_diff(flat_grads(hooked), flat_grads(plain)))
        weight.append(max(max_diff(a, b) for a, b in zip(hooked.parameters(), plain.parameters(), strict=True)))
    return {"grad": grad, "weight": weight}


def error_feedback(steps: int = 6, ratio: float = 0.05) -> dict:
    """Fixed weights, changing data: sum of sent averages + mean final residual vs sum of dense averages."""
    hooked, local = DDP(net(), bucket_cap_mb=0.004), net()
    state = attach_sparsify(hooked, SparsifyConfig(enabled=True, ratio=ratio), momentum=0.0)
    sent_sum = dense_sum = 0
    for step in range(steps):
        hooked.zero_grad()
        local.zero_grad()
        loss_of(hooked, step).backward()
        loss_of(local, step).backward()
        g = flat_grads(local)
        dist.all_reduce(g)
        sent_sum = sent_sum + flat_grads(hooked)
        dense_sum = dense_sum + g / world
    residual = torch.cat([state.residual_of(p) for p in hooked.module.parameters()])
    dist.all_reduce(residual)
    total = sent_sum + residual / world
    return {"ef_diff": max_diff(total, dense_sum), "ef_scale": dense_sum.abs().max().item(),
            "ef_without_residual": max_diff(sent_sum, dense_sum), "buckets": len(state.last_step["buckets"])}


def counts(ratio: float, bucket_cap_mb: float, steps: int) -> dict:
    """Sparse steps: the last step's per-bucket k, pairs and bytes; after one step (a single bucket),
    the averaged gradient vs a hand-made top-k exchange of the local gradients."""
    hooked, local = DDP(net(), bucket_cap_mb=bucket_cap_mb), net()
    state = attach_sparsify(hooked, SparsifyConfig(enabled=True, ratio=ratio), momentum=0.0)
    for step in range(steps):
        hooked.zero_grad()
        loss_of(hooked, step).backward()
    out = {"buckets": state.last_step["buckets"], "bytes_sent": state.last_step["bytes_sent"],
           "bytes_dense": state.last_step["bytes_dense"], "param_numels": [p.numel() for p in local.parameters()],
           "sent_nonzero": int((flat_grads(hooked) != 0).sum())}
    if steps == 1:
        loss_of(local, 0).backward()
        g = flat_grads(local)
        idx = g.abs().topk(out["buckets"][0]["k"]).indices
        parts_i = [torch.empty_like(idx) for _ in range(world)]
        parts_v = [torch.empty_like(g[idx]) for _ in range(world)]
        dist.all_gather(parts_i, idx)
        dist.all_gather(parts_v, g[idx].contiguous())
        ref = torch.zeros_like(g).index_add_(0, torch.cat(parts_i), torch.cat(parts_v)) / world
        out["exchange_diff"] = max_diff(flat_grads(hooked), ref)
    return out


result = {
    "ratio1_plain": versus_dense(SparsifyConfig(enabled=True, ratio=1.0), 0.0, 0.0, 3, 0.004),
    # momentum-factor masking: at ratio 1 every entry is sent, so every velocity is reset -> SGD without momentum
    "ratio1_momentum": versus_dense(SparsifyConfig(enabled=True, ratio=1.0), 0.9, 0.0, 3, 0.004),
    # dense steps: the hook applies the momentum, so they match momentum SGD on plain DDP
    "warmup": versus_dense(SparsifyConfig(enabled=True, ratio=0.01, warmup_steps=2), 0.9, 0.9, 4, 0.004),
    "warmup_plain": versus_dense(SparsifyConfig(enabled=True, ratio=0.01, warmup_steps=2), 0.0, 0.0, 4, 0.004),
    "fallback": versus_dense(SparsifyConfig(enabled=True, ratio=0.01, dense_fallback=True), 0.9, 0.9, 3, 0.004),
    **error_feedback(),
    "multi": counts(0.01, 0.004, steps=3),
    "single": counts(0.01, 25.0, steps=1),
}
report(result)
dist.destroy_process_group()
