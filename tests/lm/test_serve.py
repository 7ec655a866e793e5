"""`opencook lm serve` in a real subprocess on a tiny model directory, spoken to over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lm_assets import tiny_llama_dir
from opencook.completions.client import ServerError, complete, list_models
from opencook.lm.generate import generate
from opencook.lm.generate.engine import row_seed
from opencook.tokenizer import encode, render_chat

NAME = "tiny-test"
PROMPTS = ["def forward(self, x):", "import torch", "class Llama(nn.Module):\n    def __init__(self"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    tok, model, model_dir = tiny_llama_dir(tmp, max_seq_len=128)
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "opencook", "lm", "serve", str(model_dir), "--port", "0", "--model-name", NAME],
        stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://[\d.]+:(\d+)/v1", line)
        assert match, f"no URL in the server's first line {line!r}; log: {(tmp / 'server.log').read_text()}"
        yield {"url": match.group(0), "model": model, "tok": tok, "proc": proc, "model_dir": model_dir}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _post(url: str, payload: object, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _eos(tok) -> list[int]:
    return [tok.token_to_id("<|endoftext|>")]


def test_models_and_health(setup):
    status, body = _get(f"{setup['url']}/models")
    assert status == 200 and body["object"] == "list"
    assert [m["id"] for m in body["data"]] == [NAME] == list_models(setup["url"])
    health = _get(setup["url"].removesuffix("/v1") + "/health")
    assert health[0] == 200 and health[1]["status"] == "ok" and health[1]["model"] == NAME


def test_greedy_completions_equal_in_process_generate_with_usage(setup):
    model, tok = setup["model"], setup["tok"]
    status, body = _post(f"{setup['url']}/completions",
                         {"model": NAME, "prompt": PROMPTS, "max_tokens": 12, "temperature": 0})
    assert status == 200, body
    expected = generate(model, tok, PROMPTS, max_new_tokens=12, eos_ids=_eos(tok))
    assert [c["text"] for c in body["choices"]] == [c.text for c in expected]
    assert [c["finish_reason"] for c in body["choices"]] == [c.finish_reason for c in expected]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-") and body["model"] == NAME
    prompt_tokens = sum(len(encode(tok, p, special=True)) for p in PROMPTS)
    completion_tokens = sum(len(c.token_ids) for c in expected)
    assert body["usage"] == {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                             "total_tokens": prompt_tokens + completion_tokens}


def test_stop_strings_and_seeded_sampling_through_the_client(setup):
    model, tok, url = setup["model"], setup["tok"], setup["url"]
    greedy = complete(url, PROMPTS[0], max_tokens=20, temperature=0)
    stop = next(greedy.text[i:i + 2] for i in range(3, len(greedy.text) - 1)
                if greedy.text[i:i + 2].isascii() and greedy.text[i:i + 2].strip())
    cut = complete(url, PROMPTS[0], max_tokens=20, temperature=0, stop=stop)
    assert cut.finish_reasons == ["stop"] and cut.text == greedy.text[: greedy.text.find(stop)]
    ours = generate(model, tok, PROMPTS[:1], max_new_tokens=20, stop=[stop], eos_ids=_eos(tok))[0]
    assert cut.text == ours.text and cut.usage["completion_tokens"] == len(ours.token_ids)
    a = complete(url, PROMPTS, max_tokens=12, temperature=1.0, seed=7)
    assert complete(url, PROMPTS, max_tokens=12, temperature=1.0, seed=7).texts == a.texts
    # each prompt is its own row seeded row_seed(7, i): what a one-prompt generate with that seed samples
    assert a.texts == [generate(model, tok, [p], max_new_tokens=12, temperature=1.0, seed=row_seed(7, i),
                                eos_ids=_eos(tok))[0].text for i, p in enumerate(PROMPTS)]


def test_chat_uses_the_template_and_stops_at_im_end(setup):
    model, tok, url = setup["model"], setup["tok"], setup["url"]
    messages = [{"role": "user", "content": "Write a function."}]
    status, body = _post(f"{url}/chat/completions", {"messages": messages, "max_tokens": 10, "temperature": 0})
    assert status == 200, body
    prompt = render_chat(messages, add_generation_prompt=True)
    eos = sorted({*_eos(tok), tok.token_to_id("<|im_end|>")})
    expected = generate(model, tok, [prompt], max_new_tokens=10, eos_ids=eos)[0]
    choice = body["choices"][0]
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert choice["message"] == {"role": "assistant", "content": expected.text}
    assert choice["finish_reason"] == expected.finish_reason
    assert body["usage"]["prompt_tokens"] == len(encode(tok, prompt, special=True))
    assert complete(url, messages=messages, max_tokens=10, temperature=0).text == expected.text


def test_concurrent_requests_are_batched_and_correct(setup):
    url = setup["url"]
    one = [complete(url, p, max_tokens=8, temperature=0).text for p in PROMPTS]
    with ThreadPoolExecutor(3) as pool:
        texts = list(pool.map(lambda p: complete(url, p, max_tokens=8, temperature=0).text, PROMPTS))
    assert texts == one


@pytest.mark.parametrize(
    ("path", "payload", "status", "needle"),
    [
        ("completions", None, 400, "not valid JSON"),
        ("completions", [1, 2], 400, "must be a JSON object"),
        ("completions", {"max_tokens": 4}, 400, "missing required field 'prompt'"),
        ("completions", {"prompt": 3}, 400, "'prompt' must be a string"),
        ("completions", {"prompt": "x", "temperature": "hot"}, 400, "'temperature' must be a number"),
        ("completions", {"prompt": "x", "max_tokens": -1}, 400, "'max_tokens' must be an integer >= 1"),
        ("completions", {"prompt": "x", "n": 0}, 400, "'n' must be an integer >= 1"),
        ("completions", {"prompt": "x", "stream": "yes"}, 400, "'stream' must be true or false"),
        ("completions", {"prompt": "x", "stop": [1]}, 400, "'stop' must be"),
        ("completions", {"prompt": "x", "max_tokens": 500}, 400, "context of 128"),
        ("completions", {"prompt": "x", "model": "gpt-4"}, 404, "not served here"),
        ("chat/completions", {"prompt": "x"}, 400, "missing required field 'messages'"),
        ("chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role"),
        ("nope", {}, 404, "unknown path"),
    ],
)
def test_bad_requests_get_openai_errors(setup, path, payload, status, needle):
    raw = b"{not json" if payload is None else None
    got, body = _post(f"{setup['url']}/{path}", payload, raw=raw)
    assert got == status, body
    assert needle in body["error"]["message"]
    assert body["error"]["type"] == "invalid_request_error"


def test_get_on_post_endpoint_and_client_errors(setup):
    status, body = _get(f"{setup['url']}/completions")
    assert status == 405 and "takes POST" in body["error"]["message"]
    with pytest.raises(ServerError, match="'best_of' must be 1") as err:
        complete(setup["url"], "x", best_of=3)
    assert err.value.status == 400
    with pytest.raises(ValueError, match="exactly one of prompt"):
        complete(setup["url"])
    assert setup["proc"].poll() is None, "the server must survive bad requests"


def test_cli_errors_name_the_problem(setup, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "opencook", "lm", "serve", str(tmp_path / "missing")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2 and "does not exist" in run.stderr
    port = setup["url"].rsplit(":", 1)[1].split("/")[0]
    model_dir = Path(setup["model_dir"])
    run = subprocess.run([sys.executable, "-m", "opencook", "lm", "serve", str(model_dir), "--port", port],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in run.stderr


def test_chat_template_in_its_own_file_is_used(setup, tmp_path):
    """Newer transformers save the template as chat_template.jinja (an imported SmolLM2 does): it must win
    over the ChatML fallback, or served chat and in-process chat disagree."""
    import json
    import shutil

    from opencook.lm.generate.served import load_served_model

    model_dir = tmp_path / "m"
    shutil.copytree(setup["model_dir"], model_dir)
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    del cfg["chat_template"]
    (model_dir / "tokenizer_config.json").write_text(json.dumps(cfg))
    (model_dir / "chat_template.jinja").write_text("{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}")
    served = load_served_model(model_dir)
    assert served.chat_template.startswith("{% for m in messages %}<<")
