"""Top-k gradient sparsification for the data-parallel backbone, as a DDP communication hook.

Why: the backbone's dense all-reduce is the part of a step whose bytes grow with the model, not
with the classes. DGC (Lin et al., ICLR 2018) sends only the largest entries and keeps the rest.
Per DDP bucket and step, on every rank:

1. velocity (momentum correction, ``momentum`` = m > 0): ``u = m*u + g``; ``v = v + u``;
   without it (m = 0): ``v = v + g`` -- ``v`` is the residual (error feedback): what was not sent
   before is added to this step's gradient, so nothing is lost, only delayed;
2. select the k = ceil(ratio * n) entries of largest ``|v|``; zero them in ``v`` and, with momentum,
   in ``u`` too (momentum-factor masking, so a sent entry does not keep pushing through stale ``u``);
3. all_gather the fixed-size (int32 index, value) pairs of every rank, scatter-add them into a
   zero bucket and divide by the world size: the averaged sparse gradient DDP writes into ``.grad``.

The first ``warmup_steps`` steps, and every step with ``dense_fallback``, are the plain averaging
all-reduce; with momentum correction the hook then returns ``u = m*u + mean(g)``, so with the
optimizer's momentum set to 0 those steps are exactly momentum SGD on dense DDP gradients, and the
velocity carries over into the sparse steps. (Masking makes a sparse step at ratio 1.0 plain SGD:
every entry is sent, so every entry's velocity is reset -- DGC's own behaviour.) Bytes each rank puts on the wire as payload are counted per step (sparse pairs vs the
dense bucket) so the trainer can log them. Residual and velocity live per parameter, not per bucket
index, because DDP rebuilds its buckets after the first step. They differ by rank and are checkpointed
per rank (``state_dict``/``load_rank_states``), so a resumed run continues as an uninterrupted one.
"""

# no ``from __future__ import annotations``: DDP checks the hook's annotations at runtime
import math
from dataclasses import dataclass

import torch
import torch.distributed as dist

from opencook.xc.head.timing import StepClock


@dataclass(frozen=True)
class SparsifyConfig:
    """Off by default. ``momentum_correction`` takes m from the trainer's SGD momentum (see docs)."""

    enabled: bool = False
    ratio: float = 0.01
    warmup_steps: int = 0
    momentum_correction: bool = True
    dense_fallback: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"sparsify.ratio must be in (0, 1] (e.g. 0.001-0.01), got {self.ratio}")
        if self.warmup_steps < 0:
            raise ValueError(f"sparsify.warmup_steps must be >= 0 (dense steps first), got {self.warmup_steps}")


class SparsifyState:
    """Everything the hook keeps between steps: residuals, velocities, the step and byte counters."""

    def __init__(self, cfg: SparsifyConfig, momentum: float = 0.0, process_group=None,
                 clock: StepClock | None = None) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"sparsify momentum must be in [0, 1), got {momentum}")
        self.cfg, self.momentum, self.group = cfg, momentum, process_group
        self.clock = clock or StepClock()  # the step's clock: the blocking exchange counts as communication
        self.world = dist.get_world_size(process_group)
        self.step = 0
        self.residual: dict[torch.Tensor, torch.Tensor] = {}
        self.velocity: dict[torch.Tensor, torch.Tensor] = {}
        self.bytes_sent = self.bytes_dense = 0  # this step so far
        self.buckets: list[dict] = []  # this step so far: one record per bucket
        self.last_step: dict = {}  # the finished step's totals
        self._window = [0, 0, 0]  # bytes sent, dense bytes, steps since the trainer last asked
        self.names: dict[torch.Tensor, str] = {}  # parameter -> its name in checkpoints (attach_sparsify sets it)

    def is_dense(self) -> bool:
        return self.cfg.dense_fallback or self.step < self.cfg.warmup_steps

    def k_for(self, numel: int) -> int:
        return min(numel, max(1, math.ceil(self.cfg.ratio * numel)))

    def _finish_step(self) -> None:
        self.last_step = {"step": self.step, "dense": self.is_dense(), "bytes_sent": self.bytes_sent,
                          "bytes_dense": self.bytes_dense, "buckets": self.buckets}
        self._window[0] += self.bytes_sent
        self._window[1] += self.bytes_dense
        self._window[2] += 1
        self.step += 1
        self.bytes_sent = self.bytes_dense = 0
        self.buckets = []

    def window_metrics(self) -> dict:
        """Mean payload bytes per step (this rank) since the last call, for metrics.jsonl; resets the window."""
        sent, dense, steps = self._window
        self._window = [0, 0, 0]
        steps = max(steps, 1)
        return {"comm_bytes_per_step": sent / steps, "comm_dense_bytes_per_step": dense / steps,
                "comm_compression": dense / sent if sent else None, "sparsify_step": self.step}

    def _flat(self, store: dict, params: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        if not all(p in store for p in params):
            for p in params:
                store[p] = torch.zeros(p.numel(), dtype=like.dtype, device=like.device)
        return torch.cat([store[p] for p in params])

    def _unflat(self, store: dict, params: list[torch.Tensor], flat: torch.Tensor) -> None:
        offset = 0
        for p in params:
            store[p] = flat[offset:offset + p.numel()]
            offset += p.numel()

    def state_dict(self) -> dict:
        """This rank's residuals and velocities by parameter name (they differ by rank), and the step."""
        names = self.names
        return {"step": self.step,
                "residual": {names[p]: v.detach().cpu().clone() for p, v in self.residual.items()},
                "velocity": {names[p]: v.detach().cpu().clone() for p, v in self.velocity.items()}}

    def load_rank_states(self, states: list[dict]) -> None:
        """Resume from old ranks' states: at the same world size this rank's own (one state), else every
        old rank's, whose mean every rank takes -- that keeps what error feedback will still deliver, the
        ranks' average of the withheld gradient, unchanged."""
        self.step = max(s["step"] for s in states)
        params = {n: p for p, n in self.names.items()}
        for key in ("residual", "velocity"):
            store = getattr(self, key)
            store.clear()
            for name in set().union(*(s[key] for s in states)):
                if name not in params:
                    raise RuntimeError(f"checkpointed sparsify {key} for {name!r}, which this model lacks")
                if len(states) == 1:
                    value = states[0][key][name]
                else:
                    value = torch.stack([s[key][name] for s in states]).mean(0)
                store[params[name]] = value.to(params[name].device)

    def residual_of(self, param: torch.Tensor) -> torch.Tensor | None:
        """The entries of ``param``'s gradient withheld so far (flat), or None before any sparse step."""
        return self.residual.get(param)


def _done(value: torch.Tensor) -> torch.futures.Future:
    # a CUDA result must name its device, so that DDP's stream waits on it (NCCL runs the same code)
    fut: torch.futures.Future = torch.futures.Future(devices=[value.device] if value.is_cuda else None)
    fut.set_result(value)
    return fut


def _dense_velocity(state: SparsifyState, params: list[torch.Tensor], avg: torch.Tensor) -> torch.Tensor:
    u = state._flat(state.velocity, params, avg).mul_(state.momentum).add_(avg)
    state._unflat(state.velocity, params, u)
    return u.clone()  # DDP copies the result into .grad; the velocity must stay ours


def sparsify_hook(state: SparsifyState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """DDP comm hook: dense average during warm-up/fallback, else top-k (index, value) exchange."""
    buf = bucket.buffer()
    n, elem = buf.numel(), buf.element_size()
    state.bytes_dense += n * elem
    if state.is_dense():
        state.bytes_sent += n * elem
        state.buckets.append({"index": bucket.index(), "numel": n, "k": n, "pairs_received": 0})
        work = dist.all_reduce(buf.div_(state.world), group=state.group, async_op=True)
        if state.momentum > 0:  # the optimizer's momentum is off: apply it here, as momentum SGD would
            params = list(bucket.parameters())
            fut = work.get_future().then(lambda f: _dense_velocity(state, params, f.value()[0]))
        else:
            fut = work.get_future().then(lambda f: f.value()[0])
        if bucket.is_last():
            state._finish_step()
        return fut
    params = list(bucket.parameters())
    if sum(p.numel() for p in params) != n:
        raise RuntimeError(f"bucket {bucket.index()}: buffer has {n} entries but its parameters "
                           f"{sum(p.numel() for p in params)}; padded buckets are not supported by sparsify")
    v = state._flat(state.residual, params, buf)
    if state.momentum > 0:
        u = state._flat(state.velocity, params, buf).mul_(state.momentum).add_(buf)
        v.add_(u)
    else:
        v.add_(buf)
    k = state.k_for(n)
    index = v.abs().topk(k, sorted=False).indices
    values = v[index]
    v[index] = 0
    if state.momentum > 0:
        u[index] = 0
        state._unflat(state.velocity, params, u)
    state._unflat(state.residual, params, v)
    index_dtype = torch.int32 if n < 2**31 else torch.int64
    sent_index = index.to(index_dtype)
    all_index = [torch.empty_like(sent_index) for _ in range(state.world)]
    all_values = [torch.empty_like(values) for _ in range(state.world)]
    with state.clock.comm(state.group):  # blocking inside backward: the step's split counts it as communication
        dist.all_gather(all_index, sent_index, group=state.group)
        dist.all_gather(all_values, values, group=state.group)
    out = torch.zeros_like(buf)
    out.index_add_(0, torch.cat(all_index).long(), torch.cat(all_values))
    out.div_(state.world)
    state.bytes_sent += k * (sent_index.element_size() + values.element_size())
    state.buckets.append({"index": bucket.index(), "numel": n, "k": k,
                          "pairs_received": sum(t.numel() for t in all_values)})
    if bucket.is_last():
        state._finish_step()
    return _done(out)


def attach_sparsify(model: torch.nn.parallel.DistributedDataParallel, cfg: SparsifyConfig,
                    momentum: float = 0.0, clock: StepClock | None = None) -> SparsifyState:
    """Register the hook on a DDP model; returns the state the caller reads bytes from. Pass the step's
    ``clock`` (the head's) for the hook's blocking exchange to count in the step's communication time."""
    if not isinstance(model, torch.nn.parallel.DistributedDataParallel):
        raise TypeError(f"sparsify needs a DistributedDataParallel model, got {type(model).__name__}; "
                        "run with more than one rank or set sparsify.enabled: false")
    state = SparsifyState(cfg, momentum=momentum if cfg.momentum_correction else 0.0,
                          process_group=model.process_group, clock=clock)
    state.names = {p: n for n, p in model.module.named_parameters()}
    model.register_comm_hook(state, sparsify_hook)
    return state
