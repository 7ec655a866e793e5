"""Bad input on ONE rank must raise the same clear error on EVERY rank (nobody left in a collective)."""

import torch
from _common import init, report

from opencook.xc.head.softmax import KNNSoftmax

rank, world = init()
head = KNNSoftmax(8, 50, "random", active_budget=20)
out = {}
for case in ("label_out_of_range", "nan_embedding"):
    emb, labels = torch.randn(4, 8), torch.randint(50, (4,))
    if rank == world - 1:
        if case == "label_out_of_range":
            labels[2] = 50
        else:
            emb[1, 3] = float("inf")
    try:
        head(emb, labels)
        out[case] = "no error"
    except (ValueError, FloatingPointError) as exc:
        out[case] = f"{type(exc).__name__}: {exc}"
# the group is still usable afterwards: a clean step completes on every rank
out["after"] = head(torch.randn(4, 8), torch.randint(50, (4,))).item()
report(out)
