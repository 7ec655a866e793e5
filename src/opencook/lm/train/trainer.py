"""The training loop for pretrain, anneal and SFT, under torchrun or in one process.

One optimizer step consumes one global batch (``data.global_batch`` sequences over all ranks and
micro-steps; ``step.py``). The loop, the run directory and the metrics log are the kit's (``TrainLoop``,
``RunDir``); this file builds the model, its parallelism, the data and the optimizer, and says what a
step logs and what a checkpoint holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from opencook.kit.dist import barrier, init_distributed, rank, world_size
from opencook.kit.rundir import peak_memory_mib
from opencook.kit.trainloop import TrainLoop
from opencook.lm.data.position import rank_slice
from opencook.lm.model import Llama, ModelConfig, flops_per_token, model_config, num_params
from opencook.lm.train import checkpoint as ckpt_io
from opencook.lm.train.config import LMTrainConfig
from opencook.lm.train.metrics import device_peak_flops
from opencook.lm.train.parallel import apply_activation_checkpointing, unwrap, wrap_model
from opencook.lm.train.schedule import lr_at
from opencook.lm.train.step import lm_eval_loss, lm_train_step

# An evaluation during training: (plain model, tokenizer, step) -> metrics. The CLI builds them (HumanEval
# through ``opencook.evals``), so the trainer knows no benchmark.
Evaluator = Callable[[Llama, Any, int], dict[str, float]]


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


def _data_tokenizer_sha256(loader) -> str | None:
    """The sha256 of the tokenizer the training data was built with (recorded in every checkpoint, so an
    export can refuse to ship a different one)."""
    datasets = getattr(loader, "datasets", None) or [getattr(loader, "dataset", None)]
    return next((ds.meta.get("tokenizer_sha256") for ds in datasets if ds is not None), None)


def _make_loader(cfg: LMTrainConfig):
    from opencook.lm.data import PretrainLoader, SFTLoader

    if cfg.phase == "sft":
        return SFTLoader(cfg.data.sft, cfg.data.seq_len, cfg.data.global_batch, cfg.seed)
    return PretrainLoader(
        [(s.path, s.weight) for s in cfg.data.sources], cfg.data.seq_len, cfg.data.global_batch, cfg.seed,
        unit=cfg.data_unit, holdout=cfg.data.holdout,
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
    if max(cfg.seq_lens) > mcfg.max_seq_len:
        raise TrainingError(
            f"sequence length {max(cfg.seq_lens)} exceeds the model's max_seq_len {mcfg.max_seq_len}"
        )
    return mcfg


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices only: norms' gains are not decayed (as in LLaMA/OpenCoder recipes)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def compile_model(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` each decoder block in place (torchtitan's granularity: every block shares one compiled
    graph, so compile time does not grow with depth, and DDP/FSDP2 wrap the compiled blocks unchanged)."""
    for block in unwrap(model).layers:
        block.compile()
    return model


def _plain_model(model: torch.nn.Module, mcfg: ModelConfig, device: torch.device, this_rank: int) -> Llama | None:
    """The ``Llama`` to generate with on rank 0 (None elsewhere): the module itself under DDP or in one process,
    a full copy under FSDP2 (whose forward would all-gather on every rank). Collective under FSDP."""
    inner = unwrap(model)
    if not any(hasattr(p, "full_tensor") for p in inner.parameters()):
        return inner if this_rank == 0 else None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(inner, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if this_rank != 0:
        return None
    copy = Llama(mcfg)
    copy.load_state_dict(full)
    return copy.to(device)


class LMTrainer(TrainLoop):
    """Builds everything from a config and a run directory; ``train()`` runs (or resumes) to the end."""

    def __init__(
        self,
        cfg: LMTrainConfig,
        out: Path,
        *,
        reset_data_position: bool = False,
        until_step: int | None = None,
        evaluators: Mapping[str, Evaluator] | None = None,
    ) -> None:
        """``evaluators`` run on rank 0 at every eval point, on the model in eval mode; their metrics go into
        that point's ``eval`` record as ``name/metric``."""
        super().__init__(out)
        self.cfg, self.out = cfg, out
        self.reset_data_position = reset_data_position
        self.until_step = until_step
        self.evaluators = dict(evaluators or {})

    # -- setup -------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.cfg
        self.device = init_distributed()
        self.rank, self.world_size = rank(), world_size()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.accum = cfg.grad_accum(self.world_size)
        self.loader = _make_loader(cfg)
        self.tokenizer_sha256 = _data_tokenizer_sha256(self.loader)
        self.mcfg = _resolve_model_config(cfg, _data_vocab(cfg))
        torch.manual_seed(cfg.seed)
        model = Llama(self.mcfg).to(self.device)
        apply_activation_checkpointing(model, cfg.memory.activation_checkpoint)
        if cfg.compile:
            compile_model(model)
        mem = cfg.memory
        self.model = wrap_model(model, cfg.parallel, self.device, param_dtype=mem.param_dtype,
                                reduce_dtype=mem.reduce_dtype, cpu_offload=mem.cpu_offload)
        self.optimizer = torch.optim.AdamW(
            _param_groups(self.model, cfg.optim.weight_decay),
            lr=cfg.optim.lr,
            betas=tuple(cfg.optim.betas),
            eps=cfg.optim.eps,
        )
        self.total_steps = (
            cfg.steps if cfg.steps is not None else max(1, math.ceil(cfg.epochs * self.loader.epoch_steps))
        )
        self.stop_at = min(self.total_steps, self.until_step) if self.until_step else self.total_steps
        self.autocast = cfg.dtype == "bfloat16" and self.device.type == "cuda"
        self.tokens_seen = 0
        self.resumed_from: str | None = None
        self.loss = self.grad_norm = self.lr = float("nan")
        self.peak_flops = device_peak_flops(self.device)
        self.eos_id = getattr(self.loader, "eos_id", None) if cfg.data.document_mask else None
        self.val_loss = float("nan")
        self._layout(0)

    def _layout(self, step: int) -> None:
        """Sequence length, batch and micro-batch of optimizer step ``step`` (they change at a switch)."""
        seq, batch, self.micro_batch = self.cfg.layout_at(step)
        self.accum = self.cfg.grad_accum(self.world_size, step)
        if hasattr(self.loader, "set_layout"):
            if (seq, batch) != (self.loader.seq_len, self.loader.global_batch) and step > 0:
                self._note(f"step {step}: sequence length {seq}, global batch {batch}")
            self.loader.set_layout(seq, batch)
        self.flops_per_token = flops_per_token(self.mcfg, seq)

    def restore(self) -> dict[str, Any] | None:
        """Resume this run's newest checkpoint, else start from ``init_from`` (anneal: model + optimizer;
        sft: model only), else from the seeded initialisation."""
        from opencook.lm.data import DataPositionError

        latest = self.run.latest_checkpoint()
        if latest is not None:
            state = ckpt_io.load_checkpoint(latest, self.model, self.optimizer)
            self.step, self.tokens_seen = state["step"], state.get("tokens_seen", 0)
            self._layout(self.step)
            try:
                self.loader.load_state_dict(state["data"])
            except DataPositionError:
                if not self.reset_data_position:
                    raise
                self._note(
                    f"data position reset (checkpoint step {self.step}): the data restarts from the beginning"
                )
            self.resumed_from = str(latest)
            self._note(f"resumed at step {self.step} from {self.resumed_from}")
            return self._resume_record()
        if not self.cfg.init_from:
            return None
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
        self._note(f"initialised from {src}")
        return self._resume_record()

    def _resume_record(self) -> dict[str, Any]:
        return {"kind": "resume", "step": self.step, "from": self.resumed_from, "world_size": self.world_size}

    def _note(self, text: str) -> None:
        if self.rank == 0:
            print(f"lm: {text}", flush=True)

    def describe(self) -> dict[str, Any]:
        model_info = {
            "config": ckpt_io.model_config_dict(self.mcfg),
            "params": num_params(self.mcfg),
            "flops_per_token": self.flops_per_token,
        }
        return {"model.json": model_info, "data.json": self.loader.describe()}

    # -- one step ----------------------------------------------------------------------------------------
    def train_step(self) -> None:
        cfg = self.cfg
        self.lr = lr_at(
            self.step, self.total_steps, cfg.schedule_kind, cfg.optim.lr, cfg.optim.final_lr,
            cfg.schedule.warmup_steps,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        self._layout(self.step)
        inputs, targets = self.loader.next_step(self.rank, self.world_size)
        stats = lm_train_step(
            self.model, self.optimizer, inputs.to(self.device), targets.to(self.device),
            micro_batch=self.micro_batch, clip_grad=cfg.optim.clip_grad, autocast=self.autocast,
            eos_id=self.eos_id,
        )
        if not math.isfinite(stats.loss):
            raise TrainingError(f"loss is {stats.loss} at step {self.step + 1}: lower optim.lr or check the data")
        if cfg.optim.clip_grad > 0:
            self.grad_norm = stats.grad_norm
        self.loss = stats.loss
        self.tokens_seen += stats.target_tokens
        self.step += 1

    def after_step(self, seconds: float) -> dict[str, str]:
        tok_per_dev = self.loader.tokens_per_step / self.world_size / seconds
        rec = {
            "kind": "train",
            "step": self.step,
            "loss": self.loss,
            "lr": self.lr,
            "grad_norm": self.grad_norm,
            "tokens_seen": self.tokens_seen,
            "step_s": seconds,
            "tokens_per_s_per_device": tok_per_dev,
            "memory_mib": peak_memory_mib(self.device),
        }
        if self.peak_flops:
            rec["mfu"] = tok_per_dev * self.flops_per_token / self.peak_flops
        self.log(rec, to_tensorboard=self.step % self.cfg.log_every == 0 or self.step == self.stop_at)
        return {"loss": f"{self.loss:.4f}", "lr": f"{self.lr:.2e}"}

    def evaluate(self) -> dict[str, Any] | None:
        """Validation loss on the held-out rows and the injected evaluators, every ``eval_every`` steps and at the
        end of the schedule (not at an ``--until-step`` stop, so a resumed run logs the same eval points as an
        uninterrupted one: the point of a step is logged before its checkpoint, and a resume truncates the
        metrics after the checkpoint it starts from)."""
        every = self.cfg.eval_every
        if not every or not (self.step % every == 0 or self.step == self.total_steps):
            return None
        rec: dict[str, Any] = {"kind": "eval", "step": self.step, "tokens_seen": self.tokens_seen}
        if self.cfg.data.holdout:
            rows = self.cfg.eval_batches * self.cfg.data.global_batch
            inputs, targets = self.loader.validation_batch(rows)
            part = rank_slice(rows, self.rank, self.world_size)
            self.val_loss = lm_eval_loss(self.model, inputs[part].to(self.device), targets[part].to(self.device),
                                         micro_batch=self.micro_batch, autocast=self.autocast, eos_id=self.eos_id)
            rec.update(val_loss=self.val_loss, rows=rows, seq_len=self.loader.seq_len)
        if self.evaluators:
            rec.update(self._run_evaluators())
        self.log(rec)
        return rec

    def _run_evaluators(self) -> dict[str, float]:
        """Rank 0 runs every evaluator on a plain model (under FSDP, a full copy gathered from the shards) while
        the other ranks wait; generation draws no random numbers (greedy), so training continues as without."""
        if not hasattr(self, "eval_tokenizer"):
            from opencook.tokenizer import load_tokenizer

            self.eval_tokenizer = load_tokenizer(self.cfg.tokenizer)
        model = _plain_model(self.model, self.mcfg, self.device, self.rank)
        metrics: dict[str, float] = {}
        if model is not None:
            was_training = model.training
            try:
                for name, evaluate in self.evaluators.items():
                    for key, value in evaluate(model, self.eval_tokenizer, self.step).items():
                        metrics[f"{name}/{key}"] = value
            finally:
                model.train(was_training)
        barrier()
        return metrics

    # -- checkpoint, summary, report ---------------------------------------------------------------------
    def save(self) -> None:
        state = {
            "tokens_seen": self.tokens_seen,
            "data": self.loader.state_dict(),
            "phase": self.cfg.phase,
            "model_config": ckpt_io.model_config_dict(self.mcfg),
            "tokenizer": str(Path(self.cfg.tokenizer).resolve()) if self.cfg.tokenizer else None,
            "tokenizer_sha256": self.tokenizer_sha256,
            "total_steps": self.total_steps,
        }
        ckpt_io.save_checkpoint(
            self.run.checkpoints, self.step, self.model, self.optimizer, state, self.cfg.keep_checkpoints
        )

    def summarize(self, wall_s: float, first_step: int) -> dict[str, Any]:
        steps_run = self.step - first_step
        return {
            "name": self.cfg.name,
            "phase": self.cfg.phase,
            "steps": self.step,
            "total_steps": self.total_steps,
            "finished": self.step >= self.total_steps,
            "final_loss": self.loss,
            "final_val_loss": self.val_loss if self.cfg.eval_every and self.cfg.data.holdout else None,
            "tokens_seen": self.tokens_seen,
            "world_size": self.world_size,
            "grad_accum": self.accum,
            "parallel": self.cfg.parallel,
            "device": str(self.device),
            "params": num_params(self.mcfg),
            "wall_s": wall_s,
            "tokens_per_s_per_device": steps_run * self.loader.tokens_per_step / self.world_size / wall_s
            if wall_s > 0 and steps_run > 0
            else None,
            "resumed_from": self.resumed_from,
        }

    def write_report(self, run_dir: Path) -> Path:
        from opencook.lm.train.report import write_training_report

        return write_training_report(run_dir)

    def train(self) -> dict[str, Any]:
        self._setup()
        return self.fit(
            self.cfg,
            stop_at=self.stop_at,
            checkpoint_every=self.cfg.checkpoint_every,
            eval_every=self.cfg.eval_every,
            tensorboard=self.cfg.tensorboard,
            desc=f"lm {self.cfg.phase}",
        )
