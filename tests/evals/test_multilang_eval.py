"""Model evaluation on HumanEval-X and MultiPL-E (``evals/multilang.py``, ``opencook eval humaneval-x|multipl-e``):
what the model is shown, where its output is cut, and that known-good replies pass and known-bad ones fail
in every language, in base and chat form, through the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_humaneval_x import ROWS, WRONG, _write

from opencook.benchmarks.humaneval_x import load_humaneval_x
from opencook.benchmarks.multipl_e import load_multipl_e
from opencook.cli import main
from opencook.completions.backends import Sample
from opencook.evals.extract import stop_strings
from opencook.evals.multilang import LanguageProtocol
from opencook.evals.run import score_samples
from opencook.sandbox import Limits

JUNK = {"cpp": "int junk(){}", "rust": "fn junk(){}", "java": "    }\n    void junk(){}", "go": "\nfunc junk(){}",
        "js": "\nfunction junk(){}"}  # what a model writes after the function, from one of the stop strings on
TAG = {"cpp": "cpp", "go": "go", "java": "java", "js": "javascript", "rust": "rust"}


def _whole_function(lang: str) -> str:
    """The reply a chat model gives when it re-writes the function: signature (and imports) plus body."""
    row = ROWS[lang]
    head = row["declaration"] if lang == "rust" else row["prompt"]
    return head + row["canonical_solution"]


def test_base_tasks_show_the_program_prefix_and_stop_per_language(tmp_path):
    for lang, row in ROWS.items():
        (task,) = LanguageProtocol(load_humaneval_x(lang, _write(tmp_path, lang, [row])), "base").tasks()
        want = row["declaration"] + row["prompt"] if lang == "rust" else row["prompt"]  # what precedes the completion
        assert task.prompt == want and task.messages is None
        assert task.stop == stop_strings(task.language) and task.stop
        # generation stops at the first stop string; the function's own closing brace(s) are kept
        done = row["canonical_solution"]
        code = task.extract(done.rstrip("\n") + "\n" + JUNK[lang])
        assert code.rstrip("\n") == done.rstrip("\n") and "junk" not in code
        # a generator that cut at the stop itself (and dropped it) leaves the function open: it is closed
        body = done[: done.find(task.stop[0])] if task.stop[0] in done else done
        closed = task.extract(body) if task.stop[0] in done else None
        if closed is not None:
            assert closed.count("}") - closed.count("{") == task.prompt.count("{") - task.prompt.count("}")


@pytest.mark.slow
def test_known_good_replies_pass_and_bad_ones_fail_in_every_language_base_and_chat(tmp_path):
    tasks, samples, expect = [], [], []
    for lang, row in ROWS.items():
        bench = load_humaneval_x(lang, _write(tmp_path, lang, [row]))
        (base,) = LanguageProtocol(bench, "base").tasks()
        (chat,) = LanguageProtocol(bench, "chat").tasks()
        assert TAG[lang] in chat.messages[0]["content"] and base.prompt in chat.messages[0]["content"]
        fence = f"```{TAG[lang]}\n"
        replies = [(base, row["canonical_solution"], True), (base, WRONG[lang], False),
                   (chat, f"Here it is:\n{fence}{_whole_function(lang)}\n```\nDone.", True),  # whole function
                   (chat, f"{fence}{row['canonical_solution']}```", True),  # the body only
                   (chat, f"```python\nprint(1)\n```\n{fence}{WRONG[lang]}```", False)]  # another language's block
        for task, text, ok in replies:
            tasks.append(task)
            samples.append([Sample(text, "stop")])
            expect.append((lang, task.prompt is None, ok))
    rows = score_samples(tasks, samples, Limits(timeout_s=20), workers=2)
    got = [(lang, chat, r["samples"][0]["passed"]) for (lang, chat, _), r in zip(expect, rows, strict=True)]
    assert got == expect, [(e, r["samples"][0]["kind"], r["samples"][0]["stderr_tail"][-300:])
                           for e, r in zip(expect, rows, strict=True) if r["samples"][0]["passed"] != e[2]]


def _multipl_e_file(tmp_path: Path) -> Path:
    rows = [{"name": "HumanEval_0_add", "language": "js", "prompt": "function add(x, y) {\n",
             "tests": "const assert = require('node:assert');\nassert.deepEqual(add(2, 3), 5);\n",
             "stop_tokens": ["\nfunction ", "\n/*", "\n//", "\nconsole.log"]},
            {"name": "HumanEval_0_add", "language": "sh", "prompt": "#!/bin/bash\nadd() {\n",
             "tests": "}\n\ncandidate() {\n    add \"$@\"\n}\n\nset -e\nrun_test() {\n"
                      "    [[ $(candidate \"2\" \"3\") = \"5\" ]]\n}\n\nrun_test\n",
             "stop_tokens": ["\n}"]}]
    path = tmp_path / "multipl_e.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_multipl_e_cuts_at_each_rows_stop_tokens_and_scores_in_its_language(tmp_path):
    protocol = LanguageProtocol(load_multipl_e(_multipl_e_file(tmp_path)), "base")
    js, sh = protocol.tasks()
    assert (js.language, sh.language) == ("js", "sh") and sh.stop == ("\n}",)
    samples = [[Sample("  return x + y;\n}\n// trailing chatter\nfoo(", "stop"), Sample("  return x - y;\n}\n", "stop")],
               [Sample("    echo $(( $1 + $2 ))\n}\necho never", "length"), Sample("    echo 6\n}", "stop")]]
    rows = score_samples([js, sh], samples, Limits(timeout_s=20), workers=2)
    assert [[s["passed"] for s in r["samples"]] for r in rows] == [[True, False], [True, False]]
    assert rows[1]["samples"][0]["code"] == "    echo $(( $1 + $2 ))"
    with pytest.raises(ValueError, match="--kind base"):
        LanguageProtocol(load_multipl_e(_multipl_e_file(tmp_path)), "chat")


@pytest.mark.slow
def test_eval_humaneval_x_cli_runs_a_real_model_and_records_the_protocol(tmp_path):
    from opencook.lm.hf import save_hf_dir
    from opencook.lm.model import Llama, ModelConfig
    from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

    src = Path(__file__).resolve().parents[2] / "src" / "opencook" / "evals"
    tok = train_tokenizer(sorted(src.glob("*.py")), TokenizerConfig(vocab_size=400), progress=False)
    save_tokenizer(tok, tmp_path / "tok")
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=tok.get_vocab_size(), dim=32, n_layers=1, n_heads=4, n_kv_heads=2,
                              ffn_dim=64, max_seq_len=512)).eval()
    model_dir = save_hf_dir(model, tmp_path / "model", tokenizer=tmp_path / "tok")
    data = _write(tmp_path, "js", [ROWS["js"], dict(ROWS["js"], task_id="JavaScript/1")])
    out = tmp_path / "run"
    assert main(["eval", "humaneval-x", "--lang", "javascript", "--dataset", str(data), "--model", str(model_dir),
                 "--max-new-tokens", "16", "--out", str(out), "--quiet"]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["protocol"]["name"] == "codegeex" and record["protocol"]["benchmark"] == "humaneval-x"
    assert record["protocol"]["stop"] == {"js": list(stop_strings("js"))}
    assert record["problems_evaluated"] == 2 and record["benchmark"]["split"] == "js"
    rows = [json.loads(line) for line in (out / "problems.jsonl").read_text().splitlines()]
    for r in rows:
        s = r["samples"][0]
        assert not any(stop in s["code"] for stop in stop_strings("js"))
        assert s["kind"] in ("passed", "wrong_answer", "exception", "timeout", "syntax_error", "killed")
    assert main(["eval", "multipl-e", "--dataset", str(tmp_path / "missing.jsonl"), "--model", str(model_dir)]) == 2
    # the cross-run report reads the run back: one table per benchmark, the run's score and checksum, a chart
    assert main(["eval", "report", str(out), "--out", str(tmp_path / "rep" / "results.html")]) == 0
    md = (tmp_path / "rep" / "results.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| js | base | codegeex |"))
    assert f"| {100 * record['scores']['pass_at_k']['pass@1']:.2f} |" in row
    assert f"{record['scores']['problems_solved']}/2" in row and record["benchmark"]["sha256"][:12] in row
    html = (tmp_path / "rep" / "results.html").read_text()
    assert "<h2 id=\"humaneval-x\">" in html and "data:image/png;base64," in html
    assert main(["eval", "report", str(tmp_path), "--out", str(tmp_path / "x.html")]) == 2  # no results.json there
