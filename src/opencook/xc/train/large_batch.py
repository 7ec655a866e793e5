"""LARS and LAMB: large-batch optimizers with a layer-wise trust ratio, for the data-parallel backbone.

At a large batch a single global learning rate is either too small for some layers or large enough
to blow up others, because ``||grad|| / ||weight||`` differs by orders of magnitude between layers.
Both optimizers scale each tensor's step by a trust ratio that makes its size proportional to the
tensor's own norm (You et al. 2017, "LARS"; You et al. 2019, "LAMB"):

- LARS: ``d = g + wd * w``; ``trust = eta * ||w|| / ||d||``; ``buf = momentum * buf + trust * d``;
  ``w -= lr * buf``.
- LAMB: Adam moments with bias correction, ``u = m_hat / (sqrt(v_hat) + eps) + wd * w``;
  ``trust = eta * ||w|| / ||u||``; ``w -= lr * trust * u``.

Biases and normalisation gains (every tensor with ``ndim <= 1``) are *excluded*: no trust ratio and no
weight decay, as in the papers' reference recipes -- their norms are tiny or ~1 and adapting them
stalls or destabilises training. A group may force it either way with ``adapt=True/False``.

When ``||w||`` or the update's norm is zero (a freshly zeroed layer, a dead gradient) the trust ratio
is 1, never NaN/inf. The class-sharded head is not handled here: it keeps its row-sparse optimizer
(``opencook.xc.train.optim``); these optimizers refuse sparse gradients.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

DEFAULT_TRUST = {"lars": 0.001, "lamb": 1.0}


def _adapted(group: dict, p: torch.Tensor) -> bool:
    """Whether ``p`` gets the trust ratio and weight decay: the group's choice, else ``ndim > 1``."""
    adapt = group.get("adapt")
    return p.dim() > 1 if adapt is None else bool(adapt)


def _trust_ratio(w: torch.Tensor, update: torch.Tensor, eta: float) -> torch.Tensor:
    """``eta * ||w|| / ||update||`` as a 0-dim tensor; 1 where either norm is zero (no .item(): no sync)."""
    w_norm, u_norm = torch.linalg.vector_norm(w), torch.linalg.vector_norm(update)
    ok = (w_norm > 0) & (u_norm > 0)
    return torch.where(ok, eta * w_norm / torch.where(ok, u_norm, torch.ones_like(u_norm)), torch.ones_like(w_norm))


def _dense_grad(p: torch.Tensor, name: str) -> torch.Tensor:
    if p.grad.is_sparse:
        raise ValueError(f"{name} got a sparse gradient; it is for the dense backbone -- the head keeps its "
                         "row-sparse optimizer (opencook.xc.train.optim)")
    return p.grad


class LARS(torch.optim.Optimizer):
    """SGD with momentum whose per-tensor step is scaled by ``eta * ||w|| / ||g + wd * w||``."""

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = DEFAULT_TRUST["lars"]) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0 or trust_coefficient <= 0:
            raise ValueError(f"LARS needs lr, momentum, weight_decay >= 0 and trust_coefficient > 0; got lr={lr}, "
                             f"momentum={momentum}, weight_decay={weight_decay}, trust_coefficient={trust_coefficient}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      trust_coefficient=trust_coefficient))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, mom, wd, eta = group["lr"], group["momentum"], group["weight_decay"], group["trust_coefficient"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = _dense_grad(p, "LARS")
                if _adapted(group, p):
                    if wd:
                        d = d.add(p, alpha=wd)
                    d = d * _trust_ratio(p, d, eta)
                if mom:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    d = state["momentum_buffer"].mul_(mom).add_(d)
                p.add_(d, alpha=-lr)
        return loss


class LAMB(torch.optim.Optimizer):
    """Adam moments (bias-corrected) whose per-tensor step is scaled by ``eta * ||w|| / ||adam + wd * w||``."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, trust_coefficient: float = DEFAULT_TRUST["lamb"]) -> None:
        if lr < 0 or eps <= 0 or weight_decay < 0 or trust_coefficient <= 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid LAMB settings lr={lr} betas={betas} eps={eps} weight_decay={weight_decay} "
                             f"trust_coefficient={trust_coefficient}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      trust_coefficient=trust_coefficient))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            wd, eta = group["weight_decay"], group["trust_coefficient"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = _dense_grad(p, "LAMB")
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = float(state["step"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                u = (m / (1 - b1 ** t)).div_((v / (1 - b2 ** t)).sqrt_().add_(eps))
                if _adapted(group, p):
                    if wd:
                        u.add_(p, alpha=wd)
                    u.mul_(_trust_ratio(p, u, eta))
                p.add_(u, alpha=-lr)
        return loss


def split_decay_groups(params: Iterable[torch.Tensor]) -> list[dict]:
    """Two explicit groups, adapted (``ndim > 1``) and excluded, so the split shows in ``state_dict``."""
    params = list(params)
    groups = [{"params": [p for p in params if p.dim() > 1], "adapt": True},
              {"params": [p for p in params if p.dim() <= 1], "adapt": False}]
    return [g for g in groups if g["params"]]
