"""Checks the launcher runs before any rank starts, and the ``--dry-run`` / ``opencook lm plan`` report.

Everything here reads only the config, ``meta.json`` files and checkpoint metadata (no torch model is built),
so a wrong preset, a missing dataset, an ``--out`` that is a file, a batch that does not split over the ranks
or a tokenizer that is not the one the data was built with fails in one line, in seconds, with exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

from opencook.kit.config import ConfigError
from opencook.lm.model import ModelConfig, model_config, num_params
from opencook.lm.train.config import LMTrainConfig
from opencook.lm.train.plan import PlanInputs, format_plan, make_plan

TOKENIZER_FILE = "tokenizer.json"


def tokenizer_sha256(tokenizer_dir: str | Path) -> str:
    from opencook.kit.io import sha256_file

    file = Path(tokenizer_dir) / TOKENIZER_FILE
    if not file.is_file():
        raise ConfigError(f"tokenizer {tokenizer_dir}: no {TOKENIZER_FILE} there (train one with "
                          "`opencook lm tokenizer train`)")
    return sha256_file(file)


def data_paths(cfg: LMTrainConfig) -> list[Path]:
    return [Path(cfg.data.sft)] if cfg.phase == "sft" else [Path(s.path) for s in cfg.data.sources]


def read_data_meta(path: Path) -> dict:
    meta = path / "meta.json"
    if not meta.is_file():
        what = "opencook lm data sft" if (path / "offsets.npy").exists() else "opencook lm data build"
        state = "does not exist" if not path.exists() else "has no meta.json (its build did not finish)"
        raise ConfigError(f"data {path} {state}: build it with `{what}`")
    return json.loads(meta.read_text())


def check_tokenizer(cfg: LMTrainConfig, metas: dict[Path, dict]) -> None:
    """The recipe's tokenizer must be byte-identical to the one every dataset was built with."""
    if not cfg.tokenizer:
        return
    ours = tokenizer_sha256(cfg.tokenizer)
    for path, meta in metas.items():
        theirs = meta.get("tokenizer_sha256")
        if theirs and theirs != ours:
            raise ConfigError(
                f"tokenizer {cfg.tokenizer} (sha256 {ours[:12]}) is not the one {path} was built with "
                f"({meta.get('tokenizer')}, sha256 {theirs[:12]}): point `tokenizer:` at that one, or rebuild "
                "the data with this tokenizer"
            )


def model_for_plan(cfg: LMTrainConfig, vocab: int | None) -> ModelConfig:
    """The architecture the run will train: ``init_from``'s when it exists, else the preset's."""
    if cfg.init_from and Path(cfg.init_from).exists():
        src = Path(cfg.init_from)
        if (src / "config.json").is_file():
            from opencook.lm.hf import config_from_hf

            return config_from_hf(json.loads((src / "config.json").read_text()))
        from opencook.lm.train.checkpoint import CheckpointError, model_config_of, resolve_checkpoint

        try:
            return model_config_of(resolve_checkpoint(src))
        except CheckpointError as exc:
            raise ConfigError(f"init_from {src}: {exc}") from exc
    overrides = dict(cfg.model.overrides)
    if vocab is not None and "vocab_size" not in overrides:
        overrides["vocab_size"] = vocab
    try:
        return model_config(cfg.model.preset, **overrides)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"model: {str(exc).strip(chr(34))}") from exc


def preflight(cfg: LMTrainConfig, out: Path | None, world: int, *, need_data: bool = True) -> dict[Path, dict]:
    """Raise ``ConfigError`` on anything that would make every rank fail; returns the datasets' meta.json."""
    if world < 1:
        raise ConfigError(f"--nproc must be >= 1, got {world}")
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: give a directory for the run")
    cfg.grad_accum(world)  # every layout must split over the ranks
    metas: dict[Path, dict] = {}
    if need_data:
        metas = {p: read_data_meta(p) for p in data_paths(cfg)}
        check_tokenizer(cfg, metas)
    if cfg.init_from and not Path(cfg.init_from).exists() and need_data:
        raise ConfigError(f"init_from {cfg.init_from} does not exist: give the previous phase's run directory, "
                          "one of its checkpoints or a Hugging Face directory")
    vocabs = {int(m["vocab_size"]) for m in metas.values()}
    mcfg = model_for_plan(cfg, max(vocabs) if vocabs else None)
    if vocabs and mcfg.vocab_size < max(vocabs):
        raise ConfigError(f"the model's vocab_size {mcfg.vocab_size} is smaller than the data's tokenizer "
                          f"({max(vocabs)})")
    longest = max(cfg.seq_lens)
    if longest > mcfg.max_seq_len:
        raise ConfigError(f"sequence length {longest} exceeds the model's max_seq_len {mcfg.max_seq_len}: raise "
                          "model.overrides.max_seq_len or shorten data.seq_len")
    return metas


def plan_inputs(cfg: LMTrainConfig, mcfg: ModelConfig, world: int, step: int = 0) -> PlanInputs:
    seq, _, micro = cfg.layout_at(step)
    bf16 = cfg.dtype == "bfloat16" or cfg.memory.param_dtype == "bfloat16"
    return PlanInputs(mcfg, seq, micro, cfg.grad_accum(world, step), world, cfg.parallel, 2 if bf16 else 4,
                      2 if cfg.memory.param_dtype == "bfloat16" else 4, cfg.memory.cpu_offload)


def plan_text(cfg: LMTrainConfig, mcfg: ModelConfig, world: int, gpu_memory_gib: float | None) -> str:
    """The plan of every layout of the run (one per sequence-length switch)."""
    parts = []
    for first, seq, batch, _ in cfg.layouts():
        head = f"steps {first}+: global batch {batch} x {seq}" if len(cfg.layouts()) > 1 else ""
        body = format_plan(make_plan(plan_inputs(cfg, mcfg, world, first)), gpu_memory_gib,
                           cfg.memory.activation_checkpoint)
        parts.append(f"{head}\n{body}" if head else body)
    return "\n\n".join(parts)


def _steps_and_tokens(cfg: LMTrainConfig, metas: dict[Path, dict]) -> tuple[int | None, int | None]:
    if cfg.steps is None:
        sft = next(iter(metas.values()), None)
        if sft is None:
            return None, None
        import math

        steps = max(1, math.ceil(cfg.epochs * math.ceil(sft["n_examples"] / cfg.data.global_batch)))
        return steps, steps * cfg.data.global_batch * cfg.data.seq_len
    bounds = [*(s.step for s in cfg.data.switches), cfg.steps]
    tokens, prev = 0, 0
    for (first, seq, batch, _), end in zip(cfg.layouts(), bounds, strict=True):
        tokens += max(0, min(end, cfg.steps) - max(first, prev)) * seq * batch
        prev = end
    return cfg.steps, tokens


def dry_run_text(cfg: LMTrainConfig, out: Path, world: int, gpu_memory_gib: float | None) -> str:
    """What ``--dry-run`` prints: the resolved config, data sizes, steps and tokens, and the memory plan."""
    import yaml

    from opencook.kit.config import to_plain

    metas: dict[Path, dict] = {}
    missing = []
    for p in data_paths(cfg):
        try:
            metas[p] = read_data_meta(p)
        except ConfigError:
            missing.append(p)
    vocabs = {int(m["vocab_size"]) for m in metas.values()}
    mcfg = model_for_plan(cfg, max(vocabs) if vocabs else None)
    steps, tokens = _steps_and_tokens(cfg, metas)
    lines = [f"dry run: lm {cfg.phase} '{cfg.name}' on {world} rank(s) into {out} (nothing is trained)", "",
             "resolved config:", yaml.safe_dump(to_plain(cfg), sort_keys=False).rstrip(), "", "data:"]
    for p, m in metas.items():
        size = f"{m['n_tokens']:,} tokens" + (f", {m['n_examples']:,} examples" if "n_examples" in m else
                                               f", {m['n_docs']:,} documents")
        lines.append(f"  {p}: {size}, vocab {m['vocab_size']}")
    lines += [f"  {p}: MISSING (build it before training)" for p in missing]
    lines += ["", f"model: {num_params(mcfg):,} parameters"]
    layouts = ", ".join(f"from step {f}: {b} x {s} (micro-batch {m}, grad accum {cfg.grad_accum(world, f)})"
                        for f, s, b, m in cfg.layouts())
    lines.append(f"layout: {layouts}")
    lines.append(f"steps: {steps if steps is not None else 'unknown (the SFT data is missing)'}")
    if tokens is not None:
        lines.append(f"tokens: {tokens:,} ({tokens / 1e9:,.1f} B)")
        for p, m in metas.items():
            if cfg.phase != "sft":
                lines.append(f"  {p}: {tokens / max(m['n_tokens'], 1):.2f} epochs at weight 1")
    lines += ["", "memory plan per device:", plan_text(cfg, mcfg, world, gpu_memory_gib)]
    return "\n".join(lines)


def check_export_tokenizer(state: dict, tokenizer: str | Path | None) -> None:
    """Refuse to export a training run with a tokenizer other than the one its data was built with."""
    recorded = state.get("tokenizer_sha256")
    if not tokenizer or not recorded:
        return
    ours = tokenizer_sha256(tokenizer)
    if ours != recorded:
        raise ConfigError(f"tokenizer {tokenizer} (sha256 {ours[:12]}) is not the one this model was trained with "
                          f"(sha256 {recorded[:12]}): pass --tokenizer with the training tokenizer")
