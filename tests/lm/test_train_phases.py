"""The three phases chained as a user runs them: pretrain -> anneal (new mixture, exp decay) -> SFT,
plus FSDP2 against DDP on a real 2-rank gloo group, and the run report."""

from __future__ import annotations

import json

import pytest
import torch

from lm_assets import build_assets, losses, recipe, run_cli
from opencook.lm.train.checkpoint import load_model_for_export


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return build_assets(tmp_path_factory.mktemp("lm_assets"))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, assets):
    root = tmp_path_factory.mktemp("pre")
    run_cli(
        "lm",
        "pretrain",
        str(
            recipe(
                root / "r.yaml",
                assets,
                steps=20,
                optim={"lr": 1e-2, "final_lr": 1e-4},
                tensorboard=True,
                log_every=5,
            )
        ),
        "--out",
        str(root / "run"),
    )
    return root / "run"


def _records(run_dir, kind="train"):
    return [
        r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind
    ]


@pytest.mark.slow
def test_pretraining_learns_and_writes_its_run_directory(pretrained):
    curve = losses(pretrained)
    assert (
        len(curve) == 20 and curve[20] < curve[1] - 0.5
    )  # byte-level BPE at vocab 512 starts near ln(512)=6.2
    for name in ("config.yaml", "versions.json", "model.json", "data.json", "summary.json", "report.html"):
        assert (pretrained / name).is_file(), name
    recs = _records(pretrained)
    assert [r["lr"] for r in recs][:3] == pytest.approx([5e-3, 1e-2, 1e-2])  # warmup 2, then constant
    assert all(r["tokens_per_s_per_device"] > 0 and r["memory_mib"] > 0 for r in recs)
    assert recs[-1]["tokens_seen"] == 20 * 4 * 32
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(pretrained / "tb"))
    events.Reload()
    logged = events.Scalars("train/loss")
    assert [e.step for e in logged] == [5, 10, 15, 20]
    assert [e.value for e in logged] == pytest.approx([curve[s] for s in (5, 10, 15, 20)], rel=1e-6)
    html = (pretrained / "report.html").read_text()
    assert html.count("<img") >= 4 and "training loss" in html


@pytest.mark.slow
def test_anneal_resumes_weights_and_optimizer_on_a_new_mixture(tmp_path, assets, pretrained):
    cfg = recipe(
        tmp_path / "a.yaml",
        assets,
        steps=5,
        init_from=str(pretrained),
        data={
            "sources": [
                {"path": str(assets["packed"]), "weight": 1.0},
                {"path": str(assets["packed_anneal"]), "weight": 3.0},
            ]
        },
        schedule={"warmup_steps": 0},
    )
    run_cli("lm", "anneal", str(cfg), "--out", str(tmp_path / "anneal"))
    recs = _records(tmp_path / "anneal")
    lrs = [r["lr"] for r in recs]
    assert lrs[0] == pytest.approx(3e-3) and lrs[-1] == pytest.approx(1e-4)
    assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False))
    # Started from the pretrained weights: its first loss is far below a fresh model's (~6.2).
    assert recs[0]["loss"] < losses(pretrained)[1] - 0.3
    resume = _records(tmp_path / "anneal", "resume")
    assert resume and resume[0]["from"].startswith("init_from")
    data = json.loads((tmp_path / "anneal" / "data.json").read_text())
    assert "sources" in data


@pytest.mark.slow
def test_sft_trains_only_on_answers_from_a_pretrained_model(tmp_path, assets, pretrained):
    cfg = recipe(
        tmp_path / "s.yaml",
        assets,
        init_from=str(pretrained),
        steps=None,
        epochs=3.0,
        data={"sources": [], "sft": str(assets["sft"]), "seq_len": 128, "global_batch": 2},
        micro_batch=1,
        optim={"lr": 1e-3, "final_lr": 0.0},
        schedule={"warmup_steps": 1},
    )
    run_cli("lm", "sft", str(cfg), "--out", str(tmp_path / "sft"))
    recs = _records(tmp_path / "sft")
    assert len(recs) == 6  # 4 examples, global batch 2 -> 2 steps per epoch, 3 epochs
    assert recs[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    from opencook.lm.data import SFTLoader

    loader = SFTLoader(assets["sft"], 128, 2, 0)
    answer_tokens = 0
    for _ in range(6):
        _, targets = loader.next_step(0, 1)
        answer_tokens += int((targets != -100).sum())
    assert recs[-1]["tokens_seen"] == answer_tokens  # the loss counted answer tokens only
    assert recs[-1]["loss"] < recs[0]["loss"]


@pytest.mark.slow
def test_fsdp_matches_ddp_and_its_checkpoint_loads_on_one_process(tmp_path, assets):
    cfg = recipe(tmp_path / "r.yaml", assets, steps=3)
    run_cli("lm", "pretrain", str(cfg), "--out", str(tmp_path / "ddp"), "--nproc", "2")
    run_cli(
        "lm", "pretrain", str(cfg), "--out", str(tmp_path / "fsdp"), "--nproc", "2", "--set", "parallel=fsdp"
    )
    ddp, fsdp = losses(tmp_path / "ddp"), losses(tmp_path / "fsdp")
    assert fsdp == pytest.approx(ddp, rel=1e-5)
    a, _ = load_model_for_export(tmp_path / "ddp")
    b, _ = load_model_for_export(tmp_path / "fsdp")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.slow
def test_export_hf_of_a_run_loads_in_transformers_with_our_logits(tmp_path, pretrained):
    from transformers import AutoTokenizer, LlamaForCausalLM

    out = tmp_path / "hf"
    run_cli("lm", "export-hf", str(pretrained), "--out", str(out))
    ours, _ = load_model_for_export(pretrained)
    theirs = LlamaForCausalLM.from_pretrained(out).eval()
    tokens = torch.tensor([AutoTokenizer.from_pretrained(out).encode("def add(a, b):\n    return a + b\n")])
    with torch.no_grad():
        torch.testing.assert_close(theirs(tokens).logits, ours.eval()(tokens), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_generate_command_answers_like_in_process_generation(tmp_path, pretrained):
    from opencook.lm.generate import generate
    from opencook.tokenizer import load_tokenizer, render_chat

    out = tmp_path / "hf"
    run_cli("lm", "export-hf", str(pretrained), "--out", str(out), "--chat")
    model, state = load_model_for_export(pretrained)
    tok = load_tokenizer(state["tokenizer"])
    prompt = "def add(a, b):"
    completion = run_cli("lm", "generate", str(out), prompt, "--max-new-tokens", "12").stdout
    (expected,) = generate(model.eval(), tok, [prompt], max_new_tokens=12)
    assert completion == prompt + expected.text + "\n"
    chat = run_cli("lm", "generate", str(out), "--chat", "Add two numbers.", "--max-new-tokens", "12")
    ids = tok.encode(
        render_chat([{"role": "user", "content": "Add two numbers."}], add_generation_prompt=True)
    ).ids
    (answer,) = generate(model.eval(), tok, [ids], max_new_tokens=12)
    assert chat.stdout == f"user: Add two numbers.\nassistant: {answer.text}\n"
    assert "12 generated tokens" in chat.stderr or "finish: stop" in chat.stderr
