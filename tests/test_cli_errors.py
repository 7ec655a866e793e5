"""No tracebacks for user errors (docs/cli.md): every verb, run with a missing path and with a bad value,
exits 2 with one line on stderr, no traceback, and no output folder. In-process through ``main(argv)`` (the
checks come before any heavy import), plus the console script in a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from opencook.cli import build_parser, main
from test_cli_flags import VERBS

REPO = Path(__file__).resolve().parents[1]
LM = str(REPO / "recipes" / "lm" / "demo_pretrain.yaml")
XC = str(REPO / "recipes" / "xc" / "synthetic.yaml")
URL = "http://127.0.0.1:9/v1"  # nothing listens there; no case below gets as far as asking

# verb -> (argv with a missing path, argv with a bad value); {M} a missing path, {D} a JSONL file, {T} an
# existing folder, {R} a data recipe, {C} a recall config, {O} the --out folder that must not appear
CASES = {
    "run": ("run {M} --out {O}", "run {R} --set stages[0].ingest.files_per_task=many --out {O}"),
    "data filter": ("data filter {M} --out {O}", "data filter {D} --workers 0 --out {O}"),
    "data dedup": ("data dedup {M} --out {O}", "data dedup {D} --threshold 1.5 --out {O}"),
    "data recall": ("data recall {M} --out {O}", "data recall {C} --set roundz=2 --out {O}"),
    "lm tokenizer train": ("lm tokenizer train {M} --out {O}", "lm tokenizer train {D} --vocab-size 0 --out {O}"),
    "lm data build": ("lm data build {D} --tokenizer {M} --out {O}",
                      "lm data build {D} --tokenizer {T} --shard-tokens 0 --out {O}"),
    "lm data sft": ("lm data sft {M} --tokenizer {T} --max-len 8 --out {O}",
                    "lm data sft {D} --tokenizer {T} --max-len 0 --out {O}"),
    "lm pretrain": ("lm pretrain {M} --out {O}", f"lm pretrain {LM} --set optim.lrr=1 --out {{O}}"),
    "lm anneal": ("lm anneal {M} --out {O}", f"lm anneal {LM} --nproc 0 --out {{O}}"),
    "lm sft": ("lm sft {M} --out {O}", f"lm sft {LM} --set data.sources[3].path=x --out {{O}}"),
    "lm plan": ("lm plan {M}", f"lm plan {LM} --gpus 0"),
    "lm import-hf": ("lm import-hf {M} --out {O}", "lm import-hf {D} --out {O}"),
    "lm export-hf": ("lm export-hf {M} --out {O}", "lm export-hf {T} --dtype float16 --out {O}"),
    "lm serve": ("lm serve {M}", "lm serve {T} --port -1"),
    "lm generate": ("lm generate {M} hello", "lm generate {T} hello --max-new-tokens 0"),
    "xc train": ("xc train {M} --out {O}", f"xc train {XC} --set head.mode --out {{O}}"),
    "xc plan": ("xc plan --classes 10 --dim 4 --gpus 1 --calibration {M}", "xc plan --classes ten --dim 4 --gpus 1"),
    "eval humaneval": ("eval humaneval --model {M} --out {O}", "eval humaneval --model {T} --n 0 --out {O}"),
    "eval mbpp": (f"eval mbpp --endpoint {URL} --mbpp-dir {{M}} --out {{O}}",
                  "eval mbpp --model {T} --batch-size 0 --out {O}"),
    "eval humaneval-x": ("eval humaneval-x --lang js --dataset {M} --model {T} --out {O}",
                         f"eval humaneval-x --lang cobol --endpoint {URL} --out {{O}}"),
    "eval multipl-e": ("eval multipl-e --dataset {M} --model {T} --out {O}",
                       "eval multipl-e --dataset {D} --model {T} --n 0 --out {O}"),
    "eval livecodebench": ("eval livecodebench --dataset {M} --model {T} --out {O}",
                           "eval livecodebench --dataset {D} --model {T} --start 2023-13-01 --out {O}"),
    "eval bigcodebench": ("eval bigcodebench --dataset {M} --model {T} --out {O}",
                          "eval bigcodebench --dataset {D} --model {T} --subset medium --out {O}"),
    "eval report": ("eval report {M} --out {O}/r.html", "eval report {T} --out {O}/r.html"),
    "eval verify humaneval": ("eval verify humaneval --dataset {M}", "eval verify humaneval --timeout 0"),
    "eval verify mbpp": ("eval verify mbpp --mbpp-dir {M}", "eval verify mbpp --workers 0"),
    "eval verify humaneval-x": ("eval verify humaneval-x --lang js --dataset {M}",
                                "eval verify humaneval-x --lang cobol"),
    "eval verify livecodebench": ("eval verify livecodebench --dataset {M} --solutions {D}",
                                  "eval verify livecodebench --dataset {D} --solutions {D} --end soon"),
    "eval verify bigcodebench": ("eval verify bigcodebench --dataset {M}",
                                 "eval verify bigcodebench --dataset {D} --memory-mb 0"),
    "synth algorithmic": ("synth algorithmic {M} --out {O}", "synth algorithmic {D} --set nosuch=1 --out {O}"),
    "synth edu-instruct": (f"synth edu-instruct {{M}} --endpoint {URL} --out {{O}}",
                           f"synth edu-instruct {{D}} --endpoint {URL} --limit 0 --out {{O}}"),
    "synth package-instruct": ("synth package-instruct --modules json --model {M} --out {O}",
                               f"synth package-instruct --modules json --endpoint {URL} --per-module 0 --out {{O}}"),
    "synth snippets": (f"synth snippets {{M}} --endpoint {URL} --out {{O}}",
                       f"synth snippets {{D}} --endpoint {URL} --kind poem --out {{O}}"),
}
# what the one line must say for the bad values that get past argparse (the rest are argparse's own checks)
SAYS = {
    "run": "--set stages[0].ingest.files_per_task=many",
    "data recall": "--set roundz=2",
    "lm pretrain": "--set optim.lrr=1: optim: unknown key 'lrr'; did you mean 'lr'?",
    "lm sft": "--set data.sources[3].path: data.sources has 1 item(s)",
    "xc train": "--set head.mode: expected KEY=VALUE",
    "synth algorithmic": "--set nosuch=1",
    "eval report": "has no results.json",
    "data dedup": "threshold",
}


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_errors")
    data = root / "d.jsonl"
    data.write_text(json.dumps({"text": "def f():\n    return 1\n"}) + "\n")
    (root / "folder").mkdir()
    recipe = root / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "r", "stages": [{"ingest": {"paths": [str(root / "folder")]}},
                                                             {"write": {}}]}))
    recall = root / "recall.yaml"
    recall.write_text("corpus: [d.jsonl]\nseeds: [d.jsonl]\ntokenizer: folder\n")
    return {"M": str(root / "missing"), "D": str(data), "T": str(root / "folder"), "R": str(recipe),
            "C": str(recall), "root": root}


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)  # a parse error is returned too, not raised: main(argv) is what in-process callers use
    out, err = capsys.readouterr()
    return code, out, err


def test_every_verb_has_its_cases():
    assert set(CASES) == set(VERBS)


@pytest.mark.parametrize("verb", sorted(CASES))
@pytest.mark.parametrize("which", ["missing path", "bad value"])
def test_a_user_error_is_exit_2_in_one_line(verb, which, paths, capsys, tmp_path):
    out_dir = tmp_path / "out"
    template = CASES[verb][which == "bad value"]
    argv = template.format(**paths, O=out_dir).split()
    code, out, err = _run(argv, capsys)
    assert code == 2, (argv, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    assert not out_dir.exists(), f"{verb} left {out_dir} behind"
    if which == "missing path":
        assert paths["M"] in lines[0], lines[0]
    elif verb in SAYS:
        assert SAYS[verb] in lines[0], lines[0]


def test_a_failed_command_removes_the_out_folder_it_made_only_if_no_work_is_in_it(tmp_path, capsys):
    from opencook.cli.errors import run_verb
    from opencook.kit.config import ConfigError

    def fails(args):
        out = Path(args.out)
        (out / "stages").mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text("name: x\n")  # a run's bookkeeping: nothing is lost with it
        if args.work:
            (out / "stages" / "part-0.parquet").write_bytes(b"rows")
        raise ConfigError("stage 3 says no")

    args = build_parser().parse_args(["data", "filter", str(tmp_path), "--out", str(tmp_path / "made")])
    args.func, args.work = fails, False
    assert run_verb(args) == 2 and not (tmp_path / "made").exists()
    args.work = True
    assert run_verb(args) == 2 and (tmp_path / "made" / "stages" / "part-0.parquet").exists()  # work is kept
    kept = tmp_path / "kept"
    kept.mkdir()
    args.out, args.work = str(kept), False
    assert run_verb(args) == 2 and (kept / "config.yaml").exists()  # it was there before: not ours to remove
    assert "opencook: config error: stage 3 says no" in capsys.readouterr().err


def test_the_console_script_prints_no_traceback(tmp_path):
    script = shutil.which("opencook", path=str(Path(sys.executable).parent)) or shutil.which("opencook")
    cmd = [script] if script else [sys.executable, "-m", "opencook"]
    proc = subprocess.run([*cmd, "data", "filter", "/nonexistent", "--out", str(tmp_path / "X")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "/nonexistent does not exist" in proc.stderr
    assert not (tmp_path / "X").exists()
