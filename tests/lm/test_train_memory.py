"""Activation checkpointing and the memory plan, measured on real training steps (the trainer's step function,
AdamW, clipping) with a tracker that counts every live tensor storage."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from opencook.lm.model import Llama, model_config
from opencook.lm.train.memtrack import PeakTensorMemory
from opencook.lm.train.parallel import apply_activation_checkpointing
from opencook.lm.train.plan import PlanInputs, peak_bytes
from opencook.lm.train.step import lm_train_step
from opencook.lm.train.trainer import _param_groups


def _run(cfg, rows, seq, mode, steps=2):
    torch.manual_seed(0)
    model = apply_activation_checkpointing(Llama(cfg), mode)
    opt = torch.optim.AdamW(_param_groups(model, 0.1), lr=1e-3)
    data = torch.randint(0, cfg.vocab_size, (steps, rows, seq + 1), generator=torch.Generator().manual_seed(1))
    tracker = PeakTensorMemory()
    tracker.track(model.parameters())
    losses = []
    with tracker:
        for x in data:
            tracker.reset_peak()
            before = tracker.live
            losses.append(lm_train_step(model, opt, x[:, :-1], x[:, 1:], micro_batch=rows, clip_grad=1.0,
                                        autocast=False).loss)
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return tracker.peak, tracker.peak - before, losses, params


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_full_checkpointing_halves_activation_memory_with_equal_losses():
    cfg = model_config("tiny", vocab_size=512, n_layers=6, max_seq_len=256)
    _, acts_none, losses_none, params_none = _run(cfg, 4, 256, "none")
    _, acts_full, losses_full, params_full = _run(cfg, 4, 256, "full")
    _, acts_sel, losses_sel, _ = _run(cfg, 4, 256, "selective")
    assert acts_full <= 0.5 * acts_none
    assert acts_full < acts_sel < acts_none
    for got in (losses_full, losses_sel):
        assert all(abs(a - b) <= 1e-6 * abs(b) for a, b in zip(got, losses_none, strict=True))
    # The recomputed forward gives the same gradients, so the same update; the chunked head adds the head's
    # gradient chunk by chunk (another summation order), so parameters agree to 1% of the 2e-3 AdamW moves
    # two steps at lr 1e-3 make, not bit for bit.
    for k in params_none:
        torch.testing.assert_close(params_full[k], params_none[k], rtol=0, atol=2e-5)


class _LargestOutput(TorchDispatchMode):
    """The most elements of any tensor an operator returns (forward and backward)."""

    largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("mode", ["selective", "full"])
def test_checkpointed_head_never_holds_the_logits_of_the_whole_micro_batch(mode):
    """Vocabulary 4096 against width 64: without chunking, the head's [tokens, vocab] logits, log-softmax and
    their two gradients are most of the activation memory, and checkpointing the blocks alone cannot halve it."""
    cfg = model_config("tiny", vocab_size=4096, dim=64, n_heads=4, n_kv_heads=2, ffn_dim=176, n_layers=2,
                       max_seq_len=128)
    rows, seq = 2, 128
    logits_bytes = 4 * rows * seq * cfg.vocab_size
    _, acts_none, losses_none, _ = _run(cfg, rows, seq, "none")
    peak, acts, losses, _ = _run(cfg, rows, seq, mode)
    assert acts_none > 3 * logits_bytes
    assert acts <= 0.5 * acts_none  # the goal; the head alone is more than half without chunking
    assert all(abs(a - b) <= 1e-6 * abs(b) for a, b in zip(losses, losses_none, strict=True))
    planned = peak_bytes(PlanInputs(cfg, seq, rows, 1, 1, "ddp", 4, 4), mode)
    assert abs(planned / peak - 1) <= 0.15, (planned, peak)
    model = apply_activation_checkpointing(Llama(cfg), mode)
    x = torch.randint(0, cfg.vocab_size, (rows, seq + 1), generator=torch.Generator().manual_seed(2))
    with _LargestOutput() as seen:
        model(x[:, :-1], targets=x[:, 1:]).backward()
    assert seen.largest == cfg.vocab_size * cfg.dim  # the head's weight gradient; logits come a chunk at a time


@pytest.mark.parametrize("mode", ["none", "selective", "full"])
@pytest.mark.parametrize(
    ("overrides", "rows", "seq"),
    [({"vocab_size": 512, "max_seq_len": 128}, 4, 128),
     ({"vocab_size": 1024, "dim": 96, "n_heads": 6, "n_kv_heads": 3, "ffn_dim": 256, "max_seq_len": 128}, 2, 128),
     ({"vocab_size": 256, "n_layers": 3, "n_kv_heads": 4, "max_seq_len": 64}, 8, 64)],
)
def test_plan_is_within_15_percent_of_measured_peak(overrides, rows, seq, mode):
    cfg = model_config("tiny", **overrides)
    peak, _, _, _ = _run(cfg, rows, seq, mode)
    planned = peak_bytes(PlanInputs(cfg, seq, rows, 1, 1, "ddp", 4, 4), mode)
    assert abs(planned / peak - 1) <= 0.15, (planned, peak)


def test_checkpointed_model_keeps_parameter_names_and_eval_path():
    cfg = model_config("tiny", vocab_size=256, n_layers=2, max_seq_len=64)
    plain = Llama(cfg)
    checked = apply_activation_checkpointing(Llama(cfg), "selective")
    assert list(plain.state_dict()) == list(checked.state_dict())
    checked.load_state_dict(plain.state_dict())
    x = torch.randint(0, 256, (2, 16))
    with torch.no_grad():
        assert torch.equal(checked(x), plain(x))
    with pytest.raises(ValueError, match="none, full or selective"):
        apply_activation_checkpointing(Llama(cfg), "some")


@pytest.mark.slow
def test_fsdp_with_full_checkpointing_matches_plain_ddp(tmp_path):
    """The chunked, recomputed head under FSDP2 on a real 2-rank gloo group: the root's parameters (norm, head)
    must still be gathered when backward recomputes a chunk."""
    from lm_assets import build_assets, losses, recipe, run_cli

    cfg = recipe(tmp_path / "r.yaml", build_assets(tmp_path / "assets"), steps=3)
    run_cli("lm", "pretrain", str(cfg), "--out", str(tmp_path / "ddp"), "--nproc", "2")
    run_cli("lm", "pretrain", str(cfg), "--out", str(tmp_path / "fsdp"), "--nproc", "2", "--set", "parallel=fsdp",
            "--set", "memory.activation_checkpoint=full")
    ddp, fsdp = losses(tmp_path / "ddp"), losses(tmp_path / "fsdp")
    assert len(ddp) == 3 and fsdp == pytest.approx(ddp, rel=1e-5)
