"""One optimizer step of the LM trainer, as a function (the trainer and ``benchmarks/lm_train_speed.py`` both
call it, so the benchmark times the code the trainer runs).

The loss is the mean over every target token of the global batch, however it is split over ranks and
micro-batches, so the same recipe gives the same curve on 1 rank with accumulation and on N ranks without.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from opencook.kit.dist import all_reduce_, world_size
from opencook.lm.model import document_ids
from opencook.lm.train.parallel import set_grad_sync


@dataclass(frozen=True)
class StepStats:
    loss: float  # mean cross-entropy per target token, over all ranks
    grad_norm: float  # before clipping; nan when clipping is off
    target_tokens: int  # target tokens of the global batch (not -100)


def lm_train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    micro_batch: int,
    clip_grad: float,
    autocast: bool,
    eos_id: int | None = None,
) -> StepStats:
    """Forward/backward over this rank's ``inputs`` in micro-batches of ``micro_batch`` rows, then clip and
    step. Targets of -100 (prompt, padding) carry no loss. Collective under a process group."""
    device = inputs.device
    n_targets = all_reduce_((targets != -100).sum().to(torch.float64))
    scale = world_size() / n_targets.clamp(min=1).item()  # DDP/FSDP average over ranks: undo it
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    accum = max(1, -(-inputs.size(0) // micro_batch))
    for i in range(accum):
        x, y = inputs[i * micro_batch : (i + 1) * micro_batch], targets[i * micro_batch : (i + 1) * micro_batch]
        with set_grad_sync(model, i == accum - 1):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = model(x, targets=y, doc_ids=document_ids(x, eos_id) if eos_id is not None else None)
            (loss * scale).backward()
        loss_sum += loss.detach().to(torch.float64)
    grad_norm = float("nan")
    if clip_grad > 0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return StepStats(
        float(all_reduce_(loss_sum) / n_targets.clamp(min=1)), grad_norm, int(n_targets.item())
    )


@torch.no_grad()
def lm_eval_loss(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, micro_batch: int,
                 autocast: bool, eos_id: int | None = None) -> float:
    """Mean cross-entropy per target token over every rank's rows (collective under a process group)."""
    device = inputs.device
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    for i in range(0, inputs.size(0), micro_batch):
        x, y = inputs[i:i + micro_batch], targets[i:i + micro_batch]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = model(x, targets=y, doc_ids=document_ids(x, eos_id) if eos_id is not None else None)
        loss_sum += loss.to(torch.float64)
    model.train(was_training)
    n = all_reduce_((targets != -100).sum().to(torch.float64))
    return float(all_reduce_(loss_sum) / n.clamp(min=1))
