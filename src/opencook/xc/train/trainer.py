"""The hybrid-parallel training loop: a data-parallel backbone in front of a class-sharded head.

Run under ``torchrun`` (any world size, gloo on CPU, NCCL on GPU) or as one plain process. Every
output lands in the run directory: resolved config, versions, dataset description, metrics.jsonl,
checkpoints, summary.json and the HTML report.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path

import torch
import yaml
from torch.nn.parallel import DistributedDataParallel

from opencook.kit.config import to_plain
from opencook.kit.dist import all_gather_cat, barrier, init_distributed, rank, world_size
from opencook.kit.registry import Registry
from opencook.kit.versions import collect_versions
from opencook.xc.head import ShardedSoftmax, StepClock
from opencook.xc.train.backbone import make_backbone
from opencook.xc.train.checkpoint import checkpoint_dirs, load_checkpoint, save_checkpoint
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


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class Trainer:
    def __init__(self, cfg: TrainConfig, out: Path) -> None:
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
        self.step = 0
        self.metrics = None

    def _log(self, record: dict) -> None:
        if self.metrics is not None:
            self.metrics.write(json.dumps(record) + "\n")
            self.metrics.flush()

    # -- run directory ---------------------------------------------------------------------------
    def _prepare_out(self) -> None:
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(yaml.safe_dump(to_plain(self.cfg), sort_keys=False))
            (self.out / "versions.json").write_text(json.dumps(collect_versions(), indent=2))
            (self.out / "dataset.json").write_text(json.dumps(self.data.describe(), indent=2))
            path = self.out / "metrics.jsonl"
            torn = path.is_file() and path.stat().st_size and not _ends_with_newline(path)
            self.metrics = path.open("a")
            if torn:  # a crash cut the last record: end it, so the next record starts on its own line
                self.metrics.write("\n")
        barrier()

    def _resume(self) -> None:
        found = checkpoint_dirs(self.out / "ckpt")
        if not found:
            return
        loaded = load_checkpoint(found[-1], self.backbone, self.backbone_opt, self.head, self.head_opt)
        self.step = loaded.step
        if self.plateau is not None and "plateau" in loaded.extra:  # absent: an older run, or plateau just enabled
            self.plateau.load_state_dict(loaded.extra["plateau"])
        if self.sparsify is not None:
            own = self.rank if loaded.from_world_size == self.world else None  # else all, to average
            states = [s["sparsify"] for s in loaded.rank_states(own) if "sparsify" in s]
            if states:  # else an older run or sparsify just enabled: start from empty residuals
                self.sparsify.load_rank_states(states)
            self.sparsify.step = self.step  # the dense warm-up is counted in trainer steps
        self._log({"kind": "resume", "step": loaded.step, "from_world_size": loaded.from_world_size,
                   "world_size": self.world})
        if self.is_main:
            print(f"resumed from {found[-1]} (written by {loaded.from_world_size} rank(s))", flush=True)

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Top-1/top-5 over all C classes (the full normaliser), on the held-out set."""
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
        self._log(record)
        return record

    # -- training --------------------------------------------------------------------------------
    def _train_step(self) -> StepResult:
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
            self._log({"kind": "graph", "step": self.step, **self.head.graph_build.metrics()})
        t_opt = time.perf_counter()
        self.backbone_opt.step()
        self.head_opt.step()
        opt_s = time.perf_counter() - t_opt  # the optimizer step is compute
        result.seconds += opt_s
        result.split["compute_ms"] += 1000 * opt_s
        self.step += 1
        return result

    def train(self) -> dict:
        self._prepare_out()
        self._resume()
        cfg, start_step, t_start = self.cfg, self.step, time.perf_counter()
        self.t_start = t_start
        window: list[StepResult] = []
        bar = None
        if self.is_main:
            from tqdm import tqdm

            # a bar on a terminal; in a log file, one line per logging window instead of a stream of \r
            bar = tqdm(total=cfg.steps, initial=self.step, desc=f"xc {cfg.head.mode}", unit="step", leave=False,
                       disable=not sys.stderr.isatty(), mininterval=1.0)
        while self.step < cfg.steps:
            window.append(self._train_step())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{window[-1].loss:.3f}")
            if len(window) == cfg.log_every or self.step == cfg.steps:
                self._log_window(window)
                window = []
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.steps:
                self._observe(self.evaluate())
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < cfg.steps:
                save_checkpoint(self.out / "ckpt", self.step, self.backbone, self.backbone_opt, self.head,
                                self.head_opt, cfg.keep_checkpoints, extra=self._extra_state(),
                                rank_state=self._rank_state())
        if bar is not None:
            bar.close()
        last_eval = self.evaluate()
        self._observe(last_eval)
        save_checkpoint(self.out / "ckpt", self.step, self.backbone, self.backbone_opt, self.head, self.head_opt,
                        cfg.keep_checkpoints, extra=self._extra_state(), rank_state=self._rank_state())
        return self._finish(last_eval, time.perf_counter() - t_start, start_step)

    def _observe(self, record: dict) -> None:
        """Feed the plateau rule one eval; the new LR takes effect from the next step."""
        if self.plateau is not None and self.plateau.observe(record[self.cfg.optim.plateau.metric]):
            self._log({"kind": "lr_decay", "step": self.step, "lr": self.plateau.lr, "decays": self.plateau.decays,
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
        active = self.head.last.global_size if self.head.last is not None else self.head.num_classes
        if self.is_main and not sys.stderr.isatty():
            print(f"step {self.step}/{self.cfg.steps} loss {losses[-1]:.4f} "
                  f"{self.cfg.global_batch * len(window) / step_s:.0f} samples/s, {active} active classes",
                  flush=True)
        self._log({
            "kind": "train", "step": self.step, "time_s": time.perf_counter() - self.t_start, "loss": losses[-1],
            "loss_mean": sum(losses) / len(losses), "lr": self.backbone_opt.param_groups[0]["lr"],
            "samples_per_s": self.cfg.global_batch * len(window) / step_s,
            "step_ms": 1000 * step_s / len(window), **split,
            "active_classes": active, "active_fraction": active / self.head.num_classes,
            "graph_age": self.head.step - self.head.graph_step if self.head.graph is not None else None,
            "peak_mem_mb": _peak_memory_mb(self.device),
            **(self.sparsify.window_metrics() if self.sparsify is not None else {}),
        })

    def _finish(self, last_eval: dict, wall_s: float, start_step: int) -> dict:
        self.step_runner.close()
        summary = {"name": self.cfg.name, "steps": self.step, "world_size": self.world, "mode": self.head.mode,
                   "num_classes": self.head.num_classes, "top1": last_eval["top1"], "top5": last_eval["top5"],
                   "wall_s": wall_s, "steps_this_run": self.step - start_step,
                   "peak_mem_mb": _peak_memory_mb(self.device)}
        if self.is_main:
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
            self.metrics.close()
            try:
                from opencook.xc.train.report import write_training_report

                summary["report"] = str(write_training_report(self.out))
            except ImportError:
                pass
        barrier()
        return summary


def _ends_with_newline(path: Path) -> bool:
    """Read only the last byte: metrics.jsonl grows with the run and is checked at every start."""
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
