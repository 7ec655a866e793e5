"""``ShardedSoftmax`` dropped into a plain DDP loop (no opencook trainer) on a real gloo group.

Each case trains a DDP backbone + the head for a few SGD steps on this rank's slice and compares every
step's loss, and the final weights, with one process training the same model on the whole batch with
plain ``F.cross_entropy``. Then two heads with separate clocks: each one's collectives are timed on its
own clock only.
"""

import torch
import torch.nn.functional as F
from _common import init, report
from torch.nn.parallel import DistributedDataParallel as DDP

from opencook.xc.head import ShardedSoftmax, StepClock
from opencook.xc.head.softmax import init_rows
from opencook.xc.train.optim import RowSparseSGD

rank, world = init()
C, D, IN, B_LOCAL, STEPS, LR, STD = 37, 16, 12, 6, 5, 0.5, 0.1
gen = torch.Generator().manual_seed(7)
# one global batch, seen every step: the loss must fall, and ranks must agree on every step's value
xs = torch.randn(B_LOCAL * world, IN, generator=gen).expand(STEPS, -1, -1)
ys = torch.randint(C, (B_LOCAL * world,), generator=gen).expand(STEPS, -1)
mine = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)


def fresh_backbone() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(IN, D)


def reference() -> tuple[list[float], torch.Tensor]:
    """One process, the whole batch, the whole classifier."""
    backbone = fresh_backbone()
    W = init_rows(0, C, D, STD, seed=0).requires_grad_()
    opt = torch.optim.SGD([*backbone.parameters(), W], lr=LR)
    losses = []
    for x, y in zip(xs, ys, strict=True):
        opt.zero_grad()
        loss = F.cross_entropy(backbone(x) @ W.t(), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, W.detach()


def user_loop(mode: str, micro_batches: int, **opts) -> tuple[list[float], torch.Tensor]:
    """What a user writes: DDP(backbone), the head, two optimizers, ``loss = head(emb, labels)``."""
    model = DDP(fresh_backbone())
    head = ShardedSoftmax(D, C, mode, init_std=STD, **opts)
    backbone_opt = torch.optim.SGD(model.parameters(), lr=LR)
    head_opt = RowSparseSGD(head.parameters(), lr=LR)  # knn's weight gradient is row-sparse
    losses = []
    for x, y in zip(xs, ys, strict=True):
        backbone_opt.zero_grad()
        head_opt.zero_grad()
        if micro_batches == 1:
            loss = head(model(x[mine]), y[mine])
        else:
            loss = head((model(chunk) for chunk in x[mine].chunk(micro_batches)), y[mine])
        loss.backward()
        backbone_opt.step()
        head_opt.step()
        losses.append(loss.item())
    return losses, head.weight.detach()


ref_losses, ref_W = reference()
out = {}
for name, mode, micro, opts in [("full", "full", 1, {}), ("knn_all_neighbours", "knn", 1,
                                                                    {"graph_k": C, "selection": {"imprint": False}}),
                                ("full_micro_batches", "full", 3, {})]:
    losses, weight = user_loop(mode, micro, **opts)
    start = rank * (C // world) + min(rank, C % world)
    out[name] = {"loss_diff": max(abs(a - b) for a, b in zip(losses, ref_losses, strict=True)),
                 "weight_diff": (weight - ref_W[start:start + weight.shape[0]]).abs().max().item(),
                 "first_loss": losses[0], "last_loss": losses[-1]}

clock_a = StepClock()
a, b = ShardedSoftmax(D, C, "full", clock=clock_a), ShardedSoftmax(D, C, "full")
emb = torch.randn(B_LOCAL, D, requires_grad=True)
a(emb, ys[0][mine]).backward()
after_a = {"a_comm_s": clock_a.comm_s, "b_comm_s": b.clock.comm_s}
b(emb, ys[0][mine]).backward()
out["clocks"] = {**after_a, "a_comm_s_after_b": clock_a.comm_s, "b_comm_s_after_b": b.clock.comm_s,
                 "a_is_own": a.clock is clock_a, "b_distinct": b.clock is not clock_a}
report(out)
