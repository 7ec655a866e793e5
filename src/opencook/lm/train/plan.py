"""``opencook lm plan``: what one device holds for a config, before anything is launched.

Every term is counted from the shapes, tensor by tensor, as the model in ``lm/model/llama.py`` and the step in
``step.py`` allocate them (``benchmarks/lm_memory.py`` checks the totals against measured peaks of real steps):

- parameters, gradients and AdamW's two moments, fp32, divided by the ranks under FSDP (none on the device
  with CPU offload), plus FSDP2's unsharded copies of the blocks it is gathering and the root;
- activations of one micro-batch, per block, in the compute dtype: the fp32 copy RMSNorm keeps and its two
  outputs (twice), q/k/v after RoPE, attention's output and log-sum-exp, SwiGLU's four ``[tokens, ffn]``
  tensors. ``full`` checkpointing keeps each block's input and recomputes one block at a time; ``selective``
  keeps the matmul and attention outputs;
- the output head: the log-softmax of the logits and, at the start of backward, two gradients. With checkpointing
  the head runs in ``head_chunks`` token chunks (``parallel.py``): it keeps the last block's output, and its
  backward holds one chunk's logits and gradients, the head weight's gradient and the next chunk's.

Peak is the larger of (everything alive when backward starts, or, with checkpointing, during a block's backward,
which also holds the gradients of the blocks above it and of the head) and (all gradients with the optimizer
step's temporary, the size of the largest parameter); with gradient accumulation the gradients are alive during
the later micro-batches too.
"""

from __future__ import annotations

from dataclasses import dataclass

from opencook.lm.model import ModelConfig, head_chunks, num_params

GIB = 2**30
CHECKPOINT_MODES = ("none", "selective", "full")


@dataclass(frozen=True)
class PlanInputs:
    model: ModelConfig
    seq_len: int
    micro_batch: int  # rows per forward, per rank
    grad_accum: int
    world: int
    parallel: str  # ddp | fsdp
    act_bytes: int  # 4 fp32, 2 bf16
    param_bytes: int  # FSDP2 param_dtype: the dtype of unsharded parameters
    cpu_offload: bool = False


def block_params(cfg: ModelConfig) -> int:
    d, hd = cfg.dim, cfg.head_size
    return d * cfg.n_heads * hd * 2 + d * cfg.n_kv_heads * hd * 2 + 3 * d * cfg.ffn_dim + 2 * d


def block_activations(cfg: ModelConfig, rows: int, seq: int, a: int) -> dict[str, int]:
    """Bytes autograd keeps for one decoder block of ``rows x seq`` tokens with activations of ``a`` bytes."""
    n, d, hd = rows * seq, cfg.dim, cfg.head_size
    q, kv = cfg.n_heads * hd, cfg.n_kv_heads * hd
    norms = 2 * (n * d * (4 + 2 * a) + 4 * n)  # fp32 input copy + normalised + scaled; rsqrt per token
    attn = a * n * (2 * q + 2 * kv) + 4 * rows * cfg.n_heads * seq  # q, k (after RoPE), v, output; LSE
    mlp = 4 * a * n * cfg.ffn_dim  # gate, silu(gate), up, product
    return {"norms": norms, "attention": attn, "mlp": mlp}


def block_backward_extra(cfg: ModelConfig, rows: int, seq: int, a: int) -> int:
    """Gradients alive inside one block's backward: three [tokens, ffn] (product, SiLU, up) and the block's
    output gradient."""
    n = rows * seq
    return a * n * (3 * cfg.ffn_dim + cfg.dim)


def selective_kept(cfg: ModelConfig, rows: int, seq: int, a: int) -> int:
    """Selective checkpointing: the block input, every matmul output and attention's output and LSE."""
    n, d, hd = rows * seq, cfg.dim, cfg.head_size
    q, kv = cfg.n_heads * hd, cfg.n_kv_heads * hd
    return a * n * (d + q + 2 * kv + q + d + 2 * cfg.ffn_dim + d) + 4 * rows * cfg.n_heads * seq


def head_bytes(cfg: ModelConfig, rows: int, seq: int, a: int) -> int:
    """Final norm, the fp32 log-softmax (the logits themselves are not kept: the loss is taken inside the
    model's forward), the two fp32 [tokens, vocab] gradients alive when backward starts, and in bf16 the
    logits' gradient cast back for the head's matmul."""
    n, v = rows * seq, cfg.vocab_size
    return n * cfg.dim * (4 + 2 * a) + 3 * 4 * n * v + (n * v * a if a != 4 else 0)


def chunked_head_bytes(cfg: ModelConfig, rows: int, seq: int, a: int) -> tuple[int, int]:
    """(kept, backward) of the checkpointed head: the last block's output it keeps through forward, and what its
    backward adds: one chunk recomputed (``head_bytes`` of a chunk), the head weight's gradient and the one
    chunk adds to it (fp32), and the gradient of the hidden states, chunk by chunk."""
    n, d, v = rows * seq, cfg.dim, cfg.vocab_size
    chunk = -(-n // head_chunks(v, d))
    return a * n * d, head_bytes(cfg, 1, chunk, a) + 2 * 4 * v * d + a * n * d


def activation_bytes(p: PlanInputs, mode: str) -> int:
    """Activation memory of one micro-batch at the start of backward (the head included)."""
    cfg, rows, seq, a = p.model, p.micro_batch, p.seq_len, p.act_bytes
    block = sum(block_activations(cfg, rows, seq, a).values())
    head = head_bytes(cfg, rows, seq, a)
    if mode == "none":
        return cfg.n_layers * block + head
    recompute = block + block_backward_extra(cfg, rows, seq, a)  # one block recomputed, then its backward
    if mode == "full":
        per_block = a * rows * seq * cfg.dim
    elif mode == "selective":
        per_block = selective_kept(cfg, rows, seq, a)
    else:
        raise ValueError(f"unknown activation_checkpoint {mode!r}: use {', '.join(CHECKPOINT_MODES)}")
    kept, backward = chunked_head_bytes(cfg, rows, seq, a)
    # Backward of block i (last to first) holds the inputs of blocks 0..i, the gradients of the blocks above and
    # of the head, and block i recomputed: largest at the last block or the first. With gradient accumulation
    # those gradients exist already (``peak_bytes`` counts them).
    shard = p.world if p.parallel == "fsdp" else 1
    new_grads = p.grad_accum == 1
    grads = 4 * block_params(cfg) // shard * new_grads
    blocks = max(cfg.n_layers * per_block, per_block + (cfg.n_layers - 1) * grads)
    head_grad = 4 * cfg.vocab_size * cfg.dim // shard * new_grads
    return max(cfg.n_layers * per_block + kept + backward, blocks + recompute - per_block + head_grad)


def state_bytes(p: PlanInputs) -> dict[str, int]:
    """Parameters, gradients and optimizer state on the device (fp32 master copies)."""
    total = num_params(p.model)
    shard = p.world if p.parallel == "fsdp" else 1
    per = 0 if p.cpu_offload else 4 * total / shard
    out = {"params": per, "grads": per, "optimizer": 2 * per}
    if p.parallel == "fsdp" and p.world > 1:
        root = total - p.model.n_layers * block_params(p.model)  # embedding, head, final norm
        out["fsdp_unsharded"] = p.param_bytes * (root + 2 * block_params(p.model)) * 2  # params + their grads
    elif p.parallel == "ddp" and p.world > 1:
        out["ddp_buckets"] = 4 * total
    return {k: int(v) for k, v in out.items()}


def peak_bytes(p: PlanInputs, mode: str) -> int:
    s = state_bytes(p)
    fixed = s["params"] + s["optimizer"] + s.get("fsdp_unsharded", 0) + s.get("ddp_buckets", 0)
    acts = activation_bytes(p, mode)
    if p.grad_accum > 1:
        return fixed + s["grads"] + acts
    # One micro-batch: gradients grow as activations are freed; the optimizer step holds all gradients and a
    # temporary the size of the largest parameter (AdamW's denominator, tensor by tensor).
    shard = p.world if p.parallel == "fsdp" else 1
    largest = 0 if p.cpu_offload else 4 * p.model.vocab_size * p.model.dim / shard
    return int(fixed + max(acts, s["grads"] + largest))


@dataclass(frozen=True)
class Plan:
    inputs: PlanInputs
    rows: list[tuple[str, int]]  # (what, bytes per device) shared by every mode
    activations: dict[str, int]
    peak: dict[str, int]


def make_plan(p: PlanInputs) -> Plan:
    return Plan(p, list(state_bytes(p).items()), {m: activation_bytes(p, m) for m in CHECKPOINT_MODES},
                {m: peak_bytes(p, m) for m in CHECKPOINT_MODES})


def format_plan(plan: Plan, gpu_memory_gib: float | None, chosen: str | None = None) -> str:
    """The plan as the table ``opencook lm plan`` prints."""
    p = plan.inputs
    m = p.model
    dtype = {4: "fp32", 2: "bf16"}[p.act_bytes]
    lines = [
        f"model: {num_params(m):,} params ({m.n_layers} layers, dim {m.dim}, heads {m.n_heads}/{m.n_kv_heads}, "
        f"ffn {m.ffn_dim}, vocab {m.vocab_size})",
        f"per device: {p.micro_batch} x {p.seq_len} tokens per forward, grad accum {p.grad_accum}, "
        f"{p.world} rank(s) {p.parallel}{', CPU offload' if p.cpu_offload else ''}, activations {dtype}",
        "",
        f"{'':28s}{'GiB':>10s}",
    ]
    lines += [f"  {name:26s}{b / GIB:10.2f}" for name, b in plan.rows]
    for mode in CHECKPOINT_MODES:
        lines.append(f"  {'activations (' + mode + ')':26s}{plan.activations[mode] / GIB:10.2f}")
    lines.append("")
    for mode in CHECKPOINT_MODES:
        peak = plan.peak[mode] / GIB
        verdict = ""
        if gpu_memory_gib:
            verdict = "fits" if peak <= 0.9 * gpu_memory_gib else "does NOT fit"
            verdict = f"  {verdict} in {gpu_memory_gib:g} GiB (90% usable)"
        mark = "  <- config" if mode == chosen else ""
        lines.append(f"  {'peak, checkpoint ' + mode:26s}{peak:10.2f}{verdict}{mark}")
    return "\n".join(lines)
