"""SGD and AdamW that understand the head's row-sparse gradients.

In ``knn``/``random`` mode only the active rows of W get a gradient. What should happen to the
others is a real choice (Partial FC's ecosystem shipped a bug here: momentum kept moving rows that
were not sampled, PLSC PR #140). Two documented semantics, per parameter group:

- ``inactive_rows="lazy"`` (default): a row that is not active is not touched -- no weight decay,
  no momentum step, its optimizer state frozen. Each row's trajectory is exactly the standard
  optimizer run on the steps where it was active (AdamW's bias correction counts those steps per row).
  Cost: proportional to the active rows, not to C.
- ``inactive_rows="dense"``: exactly ``torch.optim.SGD``/``AdamW`` fed the dense zero-filled gradient:
  momentum keeps moving inactive rows and weight decay shrinks them. Cost: proportional to C.

Dense gradients (the backbone, or the head in ``full`` mode) follow the standard algorithms, so one
optimizer can hold every parameter of a model.
"""

from __future__ import annotations

import torch

INACTIVE_ROWS = ("lazy", "dense")


def _rows_and_values(grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    grad = grad.coalesce()
    return grad.indices()[0], grad.values()


def _check_inactive(value: str) -> str:
    if value not in INACTIVE_ROWS:
        raise ValueError(f"inactive_rows must be one of {INACTIVE_ROWS}, got {value!r}")
    return value


class RowSparseSGD(torch.optim.Optimizer):
    """SGD with momentum (dampening 0) and L2 weight decay, as ``torch.optim.SGD``."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 inactive_rows: str = "lazy") -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      inactive_rows=_check_inactive(inactive_rows)))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, mom, wd = group["lr"], group["momentum"], group["weight_decay"]
            lazy = _check_inactive(group["inactive_rows"]) == "lazy"
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if mom and "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                if not p.grad.is_sparse:
                    g = p.grad.add(p, alpha=wd) if wd else p.grad
                    if mom:
                        g = state["momentum_buffer"].mul_(mom).add_(g)
                    p.add_(g, alpha=-lr)
                    continue
                rows, values = _rows_and_values(p.grad)
                if lazy:
                    g = values + wd * p[rows] if wd else values
                    if mom:
                        buf = state["momentum_buffer"]
                        g = buf[rows].mul_(mom).add_(g)
                        buf[rows] = g
                    p.index_add_(0, rows, g, alpha=-lr)
                elif mom:
                    buf = state["momentum_buffer"].mul_(mom)
                    if wd:
                        buf.add_(p, alpha=wd)
                    buf.index_add_(0, rows, values)
                    p.add_(buf, alpha=-lr)
                else:
                    if wd:
                        p.mul_(1 - lr * wd)
                    p.index_add_(0, rows, values, alpha=-lr)
        return loss


class RowSparseAdamW(torch.optim.Optimizer):
    """AdamW (decoupled weight decay), the same arithmetic as ``torch.optim.AdamW``."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, inactive_rows: str = "lazy") -> None:
        if lr < 0 or eps <= 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid AdamW settings lr={lr} betas={betas} eps={eps} weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      inactive_rows=_check_inactive(inactive_rows)))

    @staticmethod
    def _update(p, g, m, v, step, lr, b1, b2, eps, wd):
        """One AdamW update of ``p`` (rows or all); ``step`` is a float, or per-row counts [R, 1]."""
        p.mul_(1 - lr * wd)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        if torch.is_tensor(step):
            denom = v.sqrt().div_((1 - b2 ** step).sqrt()).add_(eps).mul_(1 - b1 ** step)
            p.addcdiv_(m, denom, value=-lr)
        else:  # one temporary of p's size, not three: this path runs over every row of dense params
            denom = v.sqrt().div_((1 - b2 ** step) ** 0.5).add_(eps)
            p.addcdiv_(m, denom, value=-lr / (1 - b1 ** step))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            lazy = _check_inactive(group["inactive_rows"]) == "lazy"
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    state["step"] = torch.tensor(0.0)
                    if p.grad.is_sparse and lazy:
                        state["row_step"] = torch.zeros(p.shape[0], device=p.device)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                if not p.grad.is_sparse:
                    self._update(p, p.grad, m, v, float(state["step"]), lr, b1, b2, eps, wd)
                    continue
                rows, values = _rows_and_values(p.grad)
                if not lazy:
                    dense = torch.zeros_like(p).index_add_(0, rows, values)
                    self._update(p, dense, m, v, float(state["step"]), lr, b1, b2, eps, wd)
                    continue
                row_step = state.setdefault("row_step", torch.zeros(p.shape[0], device=p.device))
                row_step[rows] += 1
                pr, mr, vr = p[rows], m[rows], v[rows]
                self._update(pr, values, mr, vr, row_step[rows].unsqueeze(1), lr, b1, b2, eps, wd)
                p[rows], m[rows], v[rows] = pr, mr, vr
        return loss
