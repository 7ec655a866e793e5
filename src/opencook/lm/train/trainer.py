"""The training loop for pretrain, anneal and SFT, under torchrun or in one process.

One optimizer step consumes one global batch (``data.global_batch`` sequences over all ranks and
micro-steps). The loss is the mean over every target token of that global batch, however it is split,
so the same recipe gives the same curve on 1 rank with accumulation and on N ranks without.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from tqdm import tqdm

from opencook.kit.config import to_plain
from opencook.kit.dist import all_reduce_, barrier, init_distributed, rank, world_size
from opencook.kit.versions import collect_versions
from opencook.lm.model import Llama, ModelConfig, flops_per_token, model_config, num_params
from opencook.lm.train import checkpoint as ckpt_io
from opencook.lm.train.config import LMTrainConfig
from opencook.lm.train.metrics import MetricsWriter, device_peak_flops, peak_memory_mib, truncate_after
from opencook.lm.train.parallel import set_grad_sync, unwrap, wrap_model
from opencook.lm.train.schedule import lr_at


class TrainingError(RuntimeError):
    """A run that cannot continue as configured; the message says why and what to change."""


def _data_vocab(cfg: LMTrainConfig) -> int:
    paths = [cfg.data.sft] if cfg.phase == "sft" else [s.path for s in cfg.data.sources]
    vocabs = set()
    for p in paths:
        meta = Path(p) / "meta.json"
        if not meta.is_file():
            what = "opencook lm data sft" if cfg.phase == "sft" else "opencook lm data build"
            raise TrainingError(f"{p}: not a finished dataset (no meta.json); build it with `{what}`")
        vocabs.add(int(json.loads(meta.read_text())["vocab_size"]))
    if len(vocabs) != 1:
        raise TrainingError(f"data sources were tokenised with different vocabularies {sorted(vocabs)}")
    return vocabs.pop()


def _make_loader(cfg: LMTrainConfig):
    from opencook.lm.data import PretrainLoader, SFTLoader

    if cfg.phase == "sft":
        return SFTLoader(cfg.data.sft, cfg.data.seq_len, cfg.data.global_batch, cfg.seed)
    return PretrainLoader(
        [(s.path, s.weight) for s in cfg.data.sources], cfg.data.seq_len, cfg.data.global_batch, cfg.seed
    )


def _is_hf_dir(path: Path) -> bool:
    return (path / "config.json").is_file()


def _resolve_model_config(cfg: LMTrainConfig, vocab: int) -> ModelConfig:
    if cfg.init_from:
        src = Path(cfg.init_from)
        if _is_hf_dir(src):
            from opencook.lm.hf import config_from_hf

            mcfg = config_from_hf(json.loads((src / "config.json").read_text()))
        else:
            mcfg = ckpt_io.model_config_of(ckpt_io.resolve_checkpoint(src))
    else:
        overrides = {"vocab_size": vocab, **cfg.model.overrides}
        mcfg = model_config(cfg.model.preset, **overrides)
    if mcfg.vocab_size < vocab:
        raise TrainingError(
            f"the model's vocab_size {mcfg.vocab_size} is smaller than the data's tokenizer ({vocab})"
        )
    if cfg.data.seq_len > mcfg.max_seq_len:
        raise TrainingError(
            f"data.seq_len {cfg.data.seq_len} exceeds the model's max_seq_len {mcfg.max_seq_len}"
        )
    return mcfg


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices only: norms' gains are not decayed (as in LLaMA/OpenCoder recipes)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def loss_sum(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed next-token cross-entropy over targets that are not -100 (prompt, padding)."""
    return F.cross_entropy(
        logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100, reduction="sum"
    )


def compile_model(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` each decoder block in place (torchtitan's granularity: every block shares one compiled
    graph, so compile time does not grow with depth, and DDP/FSDP2 wrap the compiled blocks unchanged)."""
    for block in unwrap(model).layers:
        block.compile()
    return model


class LMTrainer:
    """Builds everything from a config and a run directory; ``train()`` runs (or resumes) to the end."""

    def __init__(
        self,
        cfg: LMTrainConfig,
        out: Path,
        *,
        reset_data_position: bool = False,
        until_step: int | None = None,
    ) -> None:
        self.cfg, self.out = cfg, out
        self.reset_data_position = reset_data_position
        self.until_step = until_step

    # -- setup -------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.cfg
        self.device = init_distributed()
        self.rank, self.world_size = rank(), world_size()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.accum = cfg.grad_accum(self.world_size)
        self.loader = _make_loader(cfg)
        self.mcfg = _resolve_model_config(cfg, _data_vocab(cfg))
        torch.manual_seed(cfg.seed)
        model = Llama(self.mcfg).to(self.device)
        if cfg.compile:
            compile_model(model)
        self.model = wrap_model(model, cfg.parallel, self.device)
        self.optimizer = torch.optim.AdamW(
            _param_groups(self.model, cfg.optim.weight_decay),
            lr=cfg.optim.lr,
            betas=tuple(cfg.optim.betas),
            eps=cfg.optim.eps,
        )
        self.total_steps = (
            cfg.steps if cfg.steps is not None else max(1, math.ceil(cfg.epochs * self.loader.epoch_steps))
        )
        self.autocast = cfg.dtype == "bfloat16" and self.device.type == "cuda"
        self.ckpt_root = self.out / "checkpoints"
        self.step = 0
        self.tokens_seen = 0
        self.resumed_from: str | None = None

    def _restore(self) -> None:
        """Resume this run's newest checkpoint, else start from ``init_from`` (anneal: model + optimizer;
        sft: model only), else from the seeded initialisation."""
        from opencook.lm.data import DataPositionError

        existing = ckpt_io.checkpoint_dirs(self.ckpt_root)
        if existing:
            state = ckpt_io.load_checkpoint(existing[-1], self.model, self.optimizer)
            self.step, self.tokens_seen = state["step"], state.get("tokens_seen", 0)
            try:
                self.loader.load_state_dict(state["data"])
            except DataPositionError:
                if not self.reset_data_position:
                    raise
                self._note(
                    f"data position reset (checkpoint step {self.step}): the data restarts from the beginning"
                )
            self.resumed_from = str(existing[-1])
            return
        if not self.cfg.init_from:
            return
        src = Path(self.cfg.init_from)
        if _is_hf_dir(src):
            from opencook.lm.hf import load_hf_dir

            hf_model, _ = load_hf_dir(src)
            unwrap(self.model).load_state_dict(hf_model.state_dict())
        else:
            ckpt = ckpt_io.resolve_checkpoint(src)
            ckpt_io.load_checkpoint(ckpt, self.model, self.optimizer if self.cfg.phase == "anneal" else None)
            for group in self.optimizer.param_groups:  # the new run's schedule owns the LR from here on
                group["lr"] = self.cfg.optim.lr
        self.resumed_from = f"init_from {src}"

    def _note(self, text: str) -> None:
        if self.rank == 0:
            print(f"lm: {text}", flush=True)

    def _write_run_files(self) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.yaml").write_text(yaml.safe_dump(to_plain(self.cfg), sort_keys=False))
        (self.out / "versions.json").write_text(json.dumps(collect_versions(), indent=2) + "\n")
        model_info = {
            "config": ckpt_io.model_config_dict(self.mcfg),
            "params": num_params(self.mcfg),
            "flops_per_token": flops_per_token(self.mcfg, self.cfg.data.seq_len),
        }
        (self.out / "model.json").write_text(json.dumps(model_info, indent=2) + "\n")
        (self.out / "data.json").write_text(json.dumps(self.loader.describe(), indent=2, default=str) + "\n")

    # -- one step ----------------------------------------------------------------------------------------
    def _train_step(self, lr: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        inputs, targets = self.loader.next_step(self.rank, self.world_size)
        inputs, targets = inputs.to(self.device), targets.to(self.device)
        n_targets = all_reduce_((targets != -100).sum().to(torch.float64))
        scale = self.world_size / n_targets.clamp(min=1).item()  # DDP/FSDP average over ranks: undo it
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        mb = self.cfg.micro_batch
        for i in range(self.accum):
            x, y = inputs[i * mb : (i + 1) * mb], targets[i * mb : (i + 1) * mb]
            with set_grad_sync(self.model, i == self.accum - 1):
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                    logits = self.model(x)
                loss = F.cross_entropy(
                    logits.view(-1, logits.size(-1)), y.reshape(-1), ignore_index=-100, reduction="sum"
                )
                (loss * scale).backward()
            loss_sum += loss.detach().to(torch.float64)
        if self.cfg.optim.clip_grad > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.clip_grad)
            self.grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.tokens_seen += int(n_targets.item())
        return float(all_reduce_(loss_sum) / n_targets.clamp(min=1))

    # -- the run -----------------------------------------------------------------------------------------
    def _save(self) -> None:
        state = {
            "tokens_seen": self.tokens_seen,
            "data": self.loader.state_dict(),
            "phase": self.cfg.phase,
            "model_config": ckpt_io.model_config_dict(self.mcfg),
            "tokenizer": str(Path(self.cfg.tokenizer).resolve()) if self.cfg.tokenizer else None,
            "total_steps": self.total_steps,
        }
        ckpt_io.save_checkpoint(
            self.ckpt_root, self.step, self.model, self.optimizer, state, self.cfg.keep_checkpoints
        )

    def train(self) -> dict[str, Any]:
        self._setup()
        self._restore()  # before writing anything: a refused resume leaves the run directory as it was
        self._write_run_files()
        barrier()
        if self.rank == 0:
            truncate_after(self.out / "metrics.jsonl", self.step)
        metrics = MetricsWriter(self.out, self.rank == 0, self.cfg.tensorboard)
        if self.resumed_from:
            metrics.write(
                {
                    "kind": "resume",
                    "step": self.step,
                    "from": self.resumed_from,
                    "world_size": self.world_size,
                },
                to_tensorboard=False,
            )
            if self.resumed_from.startswith("init_from"):
                self._note(f"initialised from {self.resumed_from.removeprefix('init_from ')}")
            else:
                self._note(f"resumed at step {self.step} from {self.resumed_from}")
        stop_at = min(self.total_steps, self.until_step) if self.until_step else self.total_steps
        peak = device_peak_flops(self.device)
        fpt = flops_per_token(self.mcfg, self.cfg.data.seq_len)
        bar = tqdm(
            total=stop_at,
            initial=self.step,
            desc=f"lm {self.cfg.phase}",
            unit="step",
            disable=self.rank != 0 or not os.isatty(2) and os.environ.get("OPENCOOK_PROGRESS") != "1",
        )
        t_start = time.perf_counter()
        first_step = self.step
        loss = float("nan")
        self.grad_norm = float("nan")
        while self.step < stop_at:
            lr = lr_at(
                self.step,
                self.total_steps,
                self.cfg.schedule_kind,
                self.cfg.optim.lr,
                self.cfg.optim.final_lr,
                self.cfg.schedule.warmup_steps,
            )
            t0 = time.perf_counter()
            loss = self._train_step(lr)
            if not math.isfinite(loss):
                raise TrainingError(
                    f"loss is {loss} at step {self.step + 1}: lower optim.lr or check the data"
                )
            dt = time.perf_counter() - t0
            self.step += 1
            tok_per_dev = self.loader.tokens_per_step / self.world_size / dt
            rec = {
                "kind": "train",
                "step": self.step,
                "loss": loss,
                "lr": lr,
                "grad_norm": self.grad_norm,
                "tokens_seen": self.tokens_seen,
                "step_s": dt,
                "tokens_per_s_per_device": tok_per_dev,
                "memory_mib": peak_memory_mib(self.device),
            }
            if peak:
                rec["mfu"] = tok_per_dev * fpt / peak
            metrics.write(rec, to_tensorboard=self.step % self.cfg.log_every == 0 or self.step == stop_at)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
            if (
                self.cfg.checkpoint_every
                and self.step % self.cfg.checkpoint_every == 0
                or self.step == stop_at
            ):
                self._save()
        bar.close()
        wall = time.perf_counter() - t_start
        metrics.close()
        summary = {
            "name": self.cfg.name,
            "phase": self.cfg.phase,
            "steps": self.step,
            "total_steps": self.total_steps,
            "finished": self.step >= self.total_steps,
            "final_loss": loss,
            "tokens_seen": self.tokens_seen,
            "world_size": self.world_size,
            "grad_accum": self.accum,
            "parallel": self.cfg.parallel,
            "device": str(self.device),
            "params": num_params(self.mcfg),
            "wall_s": wall,
            "tokens_per_s_per_device": (self.step - first_step)
            * self.loader.tokens_per_step
            / self.world_size
            / wall
            if wall > 0 and self.step > first_step
            else None,
            "resumed_from": self.resumed_from,
        }
        if self.rank == 0:
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            try:
                from opencook.lm.train.report import write_training_report

                summary["report"] = str(write_training_report(self.out))
            except Exception as exc:  # the report is a view; a bug in it must not fail a finished run
                self._note(f"report not written: {exc}")
        barrier()
        return summary
