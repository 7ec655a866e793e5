"""Small real inputs for the LM trainer tests: a tokenizer, packed pretraining data and SFT data.

Everything is built with the project's own commands' functions from real code (a few stdlib modules),
so the trainer is tested on what a user would feed it, only smaller.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import yaml

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = (
    "textwrap.py",
    "string.py",
    "bisect.py",
    "heapq.py",
    "shlex.py",
    "fnmatch.py",
    "colorsys.py",
    "glob.py",
    "keyword.py",
    "numbers.py",
)
ANNEAL_MODULES = ("queue.py", "sched.py", "base64.py")

SFT_EXAMPLES = [
    {
        "instruction": "Write a function that adds two numbers.",
        "output": "def add(a, b):\n    return a + b\n",
    },
    {"instruction": "Reverse a string in Python.", "output": "def rev(s):\n    return s[::-1]\n"},
    {
        "messages": [
            {"role": "user", "content": "Square a number."},
            {"role": "assistant", "content": "def sq(x):\n    return x * x\n"},
            {"role": "user", "content": "And cube it?"},
            {"role": "assistant", "content": "def cube(x):\n    return x ** 3\n"},
        ]
    },
    {"instruction": "Return the maximum of a list.", "output": "def biggest(xs):\n    return max(xs)\n"},
]


def build_assets(root: Path) -> dict[str, Path]:
    """Tokenizer (vocab 512), two packed datasets (pretrain, anneal) and one SFT set under ``root``."""
    from opencook.lm.data import build_packed, build_sft
    from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

    code = root / "code"
    code.mkdir(parents=True)
    for name in MODULES:
        (code / name).write_text((STDLIB / name).read_text(encoding="utf-8"), encoding="utf-8")
    anneal_code = root / "anneal_code"
    anneal_code.mkdir()
    for name in ANNEAL_MODULES:
        (anneal_code / name).write_text((STDLIB / name).read_text(encoding="utf-8"), encoding="utf-8")
    tok = train_tokenizer([code], TokenizerConfig(vocab_size=512), progress=False)
    tok_dir = save_tokenizer(tok, root / "tokenizer")
    build_packed([code], tok_dir, root / "packed", progress=False)
    build_packed([anneal_code], tok_dir, root / "packed_anneal", progress=False)
    sft_file = root / "sft.jsonl"
    sft_file.write_text("".join(json.dumps(e) + "\n" for e in SFT_EXAMPLES))
    build_sft([sft_file], tok_dir, root / "sft", max_len=128, progress=False)
    return {
        "tokenizer": tok_dir,
        "packed": root / "packed",
        "packed_anneal": root / "packed_anneal",
        "sft": root / "sft",
    }


def recipe(path: Path, assets: dict[str, Path], **extra) -> Path:
    """A tiny pretraining recipe (2 layers, dim 32, seq 32, global batch 4) plus ``extra`` top-level keys."""
    values = {
        "name": "t",
        "tokenizer": str(assets["tokenizer"]),
        "model": {
            "preset": "tiny",
            "overrides": {"dim": 32, "n_layers": 2, "ffn_dim": 64, "max_seq_len": 128},
        },
        "data": {
            "sources": [{"path": str(assets["packed"]), "weight": 1.0}],
            "seq_len": 32,
            "global_batch": 4,
        },
        "optim": {"lr": 3e-3, "final_lr": 1e-4},
        "schedule": {"warmup_steps": 2},
        "steps": 6,
        "micro_batch": 2,
        "checkpoint_every": 2,
        "keep_checkpoints": 5,
        "tensorboard": False,
        "threads": 1,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    path.write_text(yaml.safe_dump(values))
    return path


def run_cli(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m opencook ARGS`` in a real subprocess (``--nproc N`` relaunches under torchrun)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "opencook", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"opencook {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
            f"{proc.stderr[-5000:]}"
        )
    return proc


def losses(run_dir: Path) -> dict[int, float]:
    """Step -> loss from a run's metrics.jsonl."""
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") == "train":
            out[rec["step"]] = rec["loss"]
    return out


def tiny_tokenizer():
    """A 400-token BPE trained on the model's own sources (``src/opencook/lm/model``)."""
    from opencook.tokenizer import TokenizerConfig, train_tokenizer

    src = Path(__file__).resolve().parents[1] / "src" / "opencook" / "lm" / "model"
    return train_tokenizer(sorted(src.glob("*.py")), TokenizerConfig(vocab_size=400), progress=False)


def tiny_llama(tok, max_seq_len: int):
    """A tiny random LLaMA (dim 64, 2 layers, GQA 8/2) for ``tok``, seeded, in eval mode. Peaked logits (std
    0.1), so greedy is decided by margins, not rounding."""
    import torch

    from opencook.lm.model import Llama, ModelConfig

    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=tok.get_vocab_size(), dim=64, n_layers=2, n_heads=8, n_kv_heads=2,
                              ffn_dim=96, max_seq_len=max_seq_len)).eval()
    model.reset_parameters(std=0.1)
    return model


def tiny_llama_dir(tmp: Path, max_seq_len: int):
    """``tiny_tokenizer`` and ``tiny_llama`` saved as an HF directory: (tokenizer, model, directory)."""
    from opencook.lm.hf import save_hf_dir
    from opencook.tokenizer import save_tokenizer

    tok = tiny_tokenizer()
    save_tokenizer(tok, tmp / "tok")
    model = tiny_llama(tok, max_seq_len)
    return tok, model, save_hf_dir(model, tmp / "model", tokenizer=tmp / "tok")


@contextlib.contextmanager
def lm_server(model_dir: Path, *flags: str, log: Path | None = None, env: dict | None = None):
    """``opencook lm serve MODEL_DIR --port 0 FLAGS`` in a subprocess (stderr to the file ``log``, else
    discarded; ``env`` default: this one with ``OMP_NUM_THREADS=1``); yields its ``.../v1`` URL, stops it on exit."""
    err = open(log, "w") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "opencook", "lm", "serve", str(model_dir), "--port", "0", *flags],
                            stdout=subprocess.PIPE, stderr=err, text=True,
                            env=env if env is not None else {**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        line = proc.stdout.readline()  # the server prints its URL first, once the model is loaded
        match = re.search(r"http://[\d.]+:\d+/v1", line)
        assert match, f"no URL in the server's first line {line!r}" + (f"; log: {log.read_text()[-3000:]}" if log else "")
        yield match.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if log is not None:
            err.close()
