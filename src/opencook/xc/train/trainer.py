"""The hybrid-parallel training loop: a data-parallel backbone in front of a class-sharded head.

Run under ``torchrun`` (any world size, gloo on CPU, NCCL on GPU) or as one plain process. The loop and
the run directory (resolved config, versions, metrics.jsonl, checkpoints, summary.json, the HTML report)
are the kit's ``TrainLoop``; this file adds the dataset description and the xc-specific parts.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from opencook.kit.dist import all_gather_cat, barrier, init_distributed, rank, world_size
from opencook.kit.registry import Registry
from opencook.kit.rundir import peak_memory_mib
from opencook.kit.trainloop import TrainLoop
from opencook.xc.head import ShardedSoftmax, StepClock
from opencook.xc.train.backbone import make_backbone
from opencook.xc.train.checkpoint import load_checkpoint, save_checkpoint
from opencook.xc.train.config import OptimConfig, TrainConfig
from opencook.xc.train.large_batch import DEFAULT_TRUST, LAMB, LARS, split_decay_groups
from opencook.xc.train.lr_rules import PlateauRule, warmup_scale
from opencook.xc.train.optim import RowSparseAdamW, RowSparseSGD
from opencook.xc.train.overlap import HybridStep, StepResult
from opencook.xc.train.sparsify import attach_sparsify

# The backbone's optimizer by ``optim.name``; the head keeps a row-sparse one (see ``make_optimizer``).
OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry(
    "optimizer", {"sgd": RowSparseSGD, "adamw": RowSparseAdamW, "lars": LARS, "lamb": LAMB})
HEAD_OPTIMIZER = {"lars": "sgd", "lamb": "adamw"}


def make_optimizer(params, cfg: OptimConfig, lr: float, inactive_rows: str = "lazy", *, head: bool = False):
    """The backbone's (``head=False``) or the head's optimizer for ``cfg.name``.

    LARS/LAMB are for the dense backbone only; the head keeps its row-sparse optimizer (momentum SGD
    under ``lars``, AdamW under ``lamb``), whose lazy rows a per-tensor trust ratio would not respect.
    """
    cls = OPTIMIZERS.get(HEAD_OPTIMIZER.get(cfg.name, cfg.name) if head else cfg.name, "optim.name")
    momentum = {"momentum": cfg.momentum} if cls in (LARS, RowSparseSGD) else {}
    if cls in (LARS, LAMB):
        eta = cfg.trust_coefficient or DEFAULT_TRUST[cfg.name]
        return cls(split_decay_groups(params), lr=lr, weight_decay=cfg.weight_decay, trust_coefficient=eta,
                   **momentum)
    return cls(params, lr=lr, weight_decay=cfg.weight_decay, inactive_rows=inactive_rows, **momentum)


class Trainer(TrainLoop):
    def __init__(self, cfg: TrainConfig, out: Path) -> None:
        super().__init__(out)
        self.cfg, self.out = cfg, out
        self.device = init_distributed()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.rank, self.world = rank(), world_size()
        self.is_main = self.rank == 0
        from opencook.xc.data import make_dataset

        if self.is_main:  # builds any cache once; the other ranks then read it
            self.data = make_dataset(cfg.data)
        barrier()
        if not self.is_main:
            self.data = make_dataset(cfg.data)
        torch.manual_seed(cfg.seed)
        self.backbone = make_backbone(self.data.input_kind, self.data.input_dim, cfg.backbone).to(self.device)
        self.model = DistributedDataParallel(self.backbone) if self.world > 1 else self.backbone
        head_cfg = dataclasses.replace(cfg.head, seed=cfg.seed)
        self.clock = StepClock()  # the step's time split: the head, its collectives and sparsify add to it
        self.head = ShardedSoftmax(cfg.backbone.embedding_dim, self.data.num_classes, config=head_cfg,
                                   device=self.device, clock=self.clock)
        self.backbone_opt = make_optimizer(self.backbone.parameters(), cfg.optim, cfg.optim.lr)
        self.head_opt = make_optimizer(self.head.parameters(), cfg.optim, cfg.optim.head_lr or cfg.optim.lr,
                                       cfg.optim.inactive_rows, head=True)
        self.plateau = PlateauRule.from_config(cfg.optim.plateau, cfg.optim.lr) if cfg.optim.plateau.enabled else None
        self.sparsify = None  # one process has no all-reduce to sparsify: the flag is then a no-op
        if cfg.sparsify.enabled and self.world > 1:
            momentum = cfg.optim.momentum if cfg.optim.name == "sgd" else 0.0
            self.sparsify = attach_sparsify(self.model, cfg.sparsify, momentum=momentum, clock=self.clock)
            if self.sparsify.momentum:  # DGC: the hook now applies the momentum; SGD must not apply it twice
                for group in self.backbone_opt.param_groups:
                    group["momentum"] = 0.0
        self.step_runner = HybridStep(self.model, self.backbone, self.head, cfg.overlap)
        self.window: list[StepResult] = []  # the steps since the last train record
        self.last_eval: dict | None = None

    # -- run directory ---------------------------------------------------------------------------
    def describe(self) -> dict:
        return {"dataset.json": self.data.describe()}

    def restore(self) -> dict | None:
        latest = self.run.latest_checkpoint()
        if latest is None:
            return None
        loaded = load_checkpoint(latest, self.backbone, self.backbone_opt, self.head, self.head_opt)
        self.step = loaded.step
        if self.plateau is not None and "plateau" in loaded.extra:  # absent: an older run, or plateau just enabled
            self.plateau.load_state_dict(loaded.extra["plateau"])
        if self.sparsify is not None:
            own = self.rank if loaded.from_world_size == self.world else None  # else all, to average
            states = [s["sparsify"] for s in loaded.rank_states(own) if "sparsify" in s]
            if states:  # else an older run or sparsify just enabled: start from empty residuals
                self.sparsify.load_rank_states(states)
            self.sparsify.step = self.step  # the dense warm-up is counted in trainer steps
        if self.is_main:
            print(f"resumed from {latest} (written by {loaded.from_world_size} rank(s))", flush=True)
        return {"kind": "resume", "step": loaded.step, "from_world_size": loaded.from_world_size,
                "world_size": self.world}

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Top-1/top-5 over all C classes (the full normaliser), on the held-out set; the plateau rule sees it."""
        self.model.eval()
        hits1 = hits5 = seen = 0
        for x, y in self.data.eval_batches(self.cfg.eval_batch, self.rank, self.world):
            top = self.head.predict_topk(self.backbone(x.to(self.device)), k=5).cpu()
            labels = all_gather_cat(y.to(self.device)).cpu()
            valid = labels >= 0
            hits1 += int((top[valid, 0] == labels[valid]).sum())
            hits5 += int((top[valid] == labels[valid].unsqueeze(1)).any(dim=1).sum())
            seen += int(valid.sum())
        self.model.train()
        record = {"kind": "eval", "step": self.step, "top1": hits1 / max(seen, 1), "top5": hits5 / max(seen, 1),
                  "eval_samples": seen}
        self.log(record)
        self._observe(record)
        self.last_eval = record
        return record

    # -- training --------------------------------------------------------------------------------
    def train_step(self) -> StepResult:
        x, y = self.data.train_batch(self.step, self.cfg.global_batch, self.rank, self.world)
        x, y = x.to(self.device), y.to(self.device)
        scale = warmup_scale(self.step, self.cfg.optim.warmup_steps) * (self.plateau.scale if self.plateau else 1.0)
        for opt, base in ((self.backbone_opt, self.cfg.optim.lr), (self.head_opt, self.cfg.optim.head_lr or self.cfg.optim.lr)):
            for group in opt.param_groups:
                group["lr"] = base * scale
        graph_before = self.head.graph_step
        self.backbone_opt.zero_grad(set_to_none=True)
        self.head_opt.zero_grad(set_to_none=True)
        result = self.step_runner.run(x, y)
        if self.head.graph_step != graph_before:
            self.log({"kind": "graph", "step": self.step, **self.head.graph_build.metrics()})
        gauge = self.head.last_coverage
        if gauge is not None and gauge["step"] == self.step:
            self.log({"kind": "coverage", **gauge})
        t_opt = time.perf_counter()
        self.backbone_opt.step()
        self.head_opt.step()
        opt_s = time.perf_counter() - t_opt  # the optimizer step is compute
        result.seconds += opt_s
        result.split["compute_ms"] += 1000 * opt_s
        self.step += 1
        self.last_result = result
        return result

    def after_step(self, seconds: float) -> dict[str, str]:
        self.window.append(self.last_result)
        if len(self.window) == self.cfg.log_every or self.step == self.cfg.steps:
            self._log_window(self.window)
            self.window = []
        return {"loss": f"{self.last_result.loss:.3f}", "active classes": self._active_classes()}

    def _active_classes(self) -> int:
        """The last step's active classes over all ranks (every class before the first step)."""
        return self.head.last.global_size if self.head.last is not None else self.head.num_classes

    def train(self) -> dict:
        cfg = self.cfg
        return self.fit(cfg, stop_at=cfg.steps, checkpoint_every=cfg.checkpoint_every, eval_every=cfg.eval_every,
                        desc=f"xc {cfg.head.mode}")

    def save(self) -> None:
        save_checkpoint(self.run.checkpoints, self.step, self.backbone, self.backbone_opt, self.head, self.head_opt,
                        self.cfg.keep_checkpoints, extra=self._extra_state(), rank_state=self._rank_state())

    def _observe(self, record: dict) -> None:
        """Feed the plateau rule one eval; the new LR takes effect from the next step."""
        if self.plateau is not None and self.plateau.observe(record[self.cfg.optim.plateau.metric]):
            self.log({"kind": "lr_decay", "step": self.step, "lr": self.plateau.lr, "decays": self.plateau.decays,
                       "best": self.plateau.best})

    def _extra_state(self) -> dict:
        return {"plateau": self.plateau.state_dict()} if self.plateau is not None else {}

    def _rank_state(self) -> dict | None:
        if self.sparsify is None:
            return None
        return {"sparsify": self.sparsify.state_dict()}

    def _log_window(self, window: list[StepResult]) -> None:
        losses = [r.loss for r in window]
        step_s = sum(r.seconds for r in window)
        split = {k: sum(r.split[k] for r in window) / len(window) for k in window[0].split}
        active = self._active_classes()
        self.log({
            "kind": "train", "step": self.step, "time_s": time.perf_counter() - self.t_start, "loss": losses[-1],
            "loss_mean": sum(losses) / len(losses), "lr": self.backbone_opt.param_groups[0]["lr"],
            "samples_per_s": self.cfg.global_batch * len(window) / step_s,
            "step_ms": 1000 * step_s / len(window), **split,
            "active_classes": active, "active_fraction": active / self.head.num_classes,
            "graph_age": self.head.step - self.head.graph_step if self.head.graph is not None else None,
            "peak_mem_mb": peak_memory_mib(self.device),
            **(self.sparsify.window_metrics() if self.sparsify is not None else {}),
        })

    def close(self) -> None:
        self.step_runner.close()

    def summarize(self, wall_s: float, first_step: int) -> dict:
        last_eval = self.last_eval or self.evaluate()  # a rerun of a finished run steps no more
        return {"name": self.cfg.name, "steps": self.step, "world_size": self.world, "mode": self.head.mode,
                "num_classes": self.head.num_classes, "top1": last_eval["top1"], "top5": last_eval["top5"],
                "wall_s": wall_s, "steps_this_run": self.step - first_step,
                "peak_mem_mb": peak_memory_mib(self.device)}

    def write_report(self, run_dir: Path) -> Path:
        from opencook.xc.train.report import write_training_report

        return write_training_report(run_dir)
