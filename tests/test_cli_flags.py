"""One flag vocabulary (docs/cli.md), checked by walking every verb's parser: ``--out`` optional with a
``runs/`` default, ``--set`` with list indices on every verb that reads a config, ``--workers`` defaulting to
the machine's cores, ``--quiet`` everywhere, ``--version``, a default in every option's help, and the old
spellings working as hidden aliases that docs/cli.md lists."""

from __future__ import annotations

import argparse
import json
import os
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from opencook.cli import build_parser, main
from opencook.cli.flags import OldSpelling, default_workers

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
# verbs that write nothing (they print, serve or check)
READ_ONLY = {"lm plan", "lm serve", "lm generate", "eval verify humaneval", "eval verify mbpp",
             "eval verify humaneval-x", "eval verify livecodebench", "eval verify bigcodebench"}
FILE_OUT = {"eval report", "xc plan"}  # --out is one file: the report page; the calibration JSON
RETIRED = {"--max-tokens", "--sandbox-workers", "--model-name", "--serve"}


def verbs(parser: argparse.ArgumentParser | None = None, prefix: tuple[str, ...] = ()) -> dict[str, argparse.ArgumentParser]:
    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {" ".join(prefix): parser}
    found = {}
    for name, child in subs[0].choices.items():
        found.update(verbs(child, (*prefix, name)))
    return found


VERBS = verbs()


def options(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in p._actions for s in a.option_strings if s.startswith("--")}


def visible(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]


def reads_config(p: argparse.ArgumentParser) -> bool:
    names = {a.dest for a in p._actions}
    return bool(names & {"config", "recipe", "mix"})


def test_the_walk_finds_every_verb():
    assert len(VERBS) >= 31
    assert {"run", "data filter", "lm pretrain", "xc train", "eval humaneval", "synth edu-instruct"} <= set(VERBS)


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_speaks_the_vocabulary(verb):
    p = VERBS[verb]
    opts = options(p)
    assert isinstance(opts.get("--quiet"), argparse._StoreTrueAction), f"{verb}: no --quiet"
    if verb in READ_ONLY:
        assert "--out" not in opts, f"{verb} writes nothing, yet takes --out"
    else:
        out = opts.get("--out")
        assert out is not None and not out.required, f"{verb}: --out missing or required"
        rule = "(default: runs/" if verb not in FILE_OUT else "(default: "
        assert rule in p._get_formatter()._expand_help(out), f"{verb}: --out help does not say its default"
    if reads_config(p):
        assert opts.get("--set") is not None and opts["--set"].nargs is None and \
            isinstance(opts["--set"], argparse._AppendAction), f"{verb} reads a config but has no --set"
    if "--workers" in opts:
        assert opts["--workers"].default == default_workers() == len(os.sched_getaffinity(0))
    if "--model" in opts:
        assert opts["--model"].metavar == "DIR", f"{verb}: --model is a model directory"
    if "--endpoint-model" in opts:
        assert opts["--endpoint-model"].metavar == "NAME"
    assert not RETIRED & {s for a in visible(p) for s in a.option_strings}, f"{verb} shows a retired spelling"


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_option_says_its_default(verb):
    p = VERBS[verb]
    formatter = p._get_formatter()
    one_of = {a for g in p._mutually_exclusive_groups if g.required for a in g._group_actions}  # one is required
    for action in visible(p):
        if not action.option_strings or action.required or action in one_of:
            continue
        if isinstance(action, argparse._StoreConstAction | argparse._VersionAction):
            assert action.help, f"{verb} {action.option_strings[0]}: no help"
            continue
        text = formatter._expand_help(action)
        assert "default" in text.lower(), f"{verb} {action.option_strings[0]}: help does not give the default: {text!r}"


def test_every_hidden_alias_is_documented_and_lands_on_its_new_option():
    docs = DOCS.read_text()
    seen = set()
    for p in VERBS.values():
        opts = options(p)
        for action in p._actions:
            if isinstance(action, OldSpelling):
                old = action.option_strings[0]
                assert action.help is argparse.SUPPRESS
                assert opts[action.new].dest == action.dest and opts[action.new].help is not argparse.SUPPRESS
                assert f"`{old}`" in docs and f"`{action.new}`" in docs, f"docs/cli.md does not list {old}"
                seen.add(old)
    assert seen == RETIRED


def test_docs_name_every_verb():
    docs = DOCS.read_text()
    missing = [v for v in VERBS if f"opencook {v}" not in docs]
    assert not missing, f"docs/cli.md does not mention {missing}"


def test_old_spellings_still_work_and_say_the_new_one(tmp_path, capsys):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"text": "def f():\n    return 1\n"}) + "\n")
    args = build_parser().parse_args(["synth", "edu-instruct", str(seeds), "--serve", str(tmp_path),
                                      "--max-tokens", "7", "--sandbox-workers", "1"])
    assert (args.model, args.max_new_tokens, args.workers) == (str(tmp_path), 7, 1)
    err = capsys.readouterr().err
    assert "--max-tokens is now spelled --max-new-tokens" in err and "--serve is now spelled --model" in err
    args = build_parser().parse_args(["lm", "serve", str(tmp_path), "--model-name", "m"])
    assert args.endpoint_model == "m" and "--endpoint-model" in capsys.readouterr().err


def test_old_synth_model_name_with_an_endpoint_becomes_the_endpoint_model(tmp_path, capsys):
    from opencook.cli.synth import _with_teacher

    seen = {}
    cmd = _with_teacher(lambda a: seen.update(vars(a)) or 0, "edu-instruct", lambda a: "s")
    args = build_parser().parse_args(["synth", "edu-instruct", str(tmp_path), "--endpoint", "http://h:1/v1",
                                      "--model", "teacher-7b"])
    assert cmd(args) == 0
    assert seen["endpoint_model"] == "teacher-7b" and seen["model"] is None
    assert seen["out"] == str(Path("runs/synth/edu-instruct-s"))
    assert "old spelling of --endpoint-model" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"opencook {version('opencook')}"


def test_out_defaults_follow_one_rule(tmp_path):
    from opencook.cli.flags import input_name, out_dir

    ns = argparse.Namespace(out=None)
    assert out_dir(ns, "data", "filter", input_name(tmp_path / "runs" / "demo" / "dataset")) == \
        Path("runs/data/filter-demo")
    assert out_dir(ns, "lm", "import-hf", input_name("model.Q8_0.gguf")) == Path("runs/lm/import-hf-model")
    assert out_dir(argparse.Namespace(out=str(tmp_path)), "lm", "x", "y") == tmp_path


def test_set_addresses_list_items_by_index(tmp_path):
    from opencook.data.recipe import parse_recipe
    from opencook.kit.config import ConfigError, parse_set_pairs, read_yaml_config

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "r", "stages": [{"ingest": {"paths": ["a"]}}, {"filter": {}},
                                                             {"write": {}}]}))
    sets = parse_set_pairs(["stages[1].filter.seed=7", "stages.0.ingest.paths[0]=b", "name=other"])
    parsed = parse_recipe(read_yaml_config(recipe, sets), str(recipe))
    assert parsed.name == "other" and parsed.stages[1][1].seed == 7 and parsed.stages[0][1].paths == ["b"]
    with pytest.raises(ConfigError, match=r"--set stages\[5\]\.filter\.seed: stages has 3 item\(s\)"):
        read_yaml_config(recipe, parse_set_pairs(["stages[5].filter.seed=1"]))


def test_paths_in_a_recipe_are_relative_to_the_recipe_not_the_working_directory(tmp_path, monkeypatch, capsys):
    import pyarrow.parquet as pq

    from opencook.lm.train.config import load_lm_config

    project = tmp_path / "project"
    (project / "code").mkdir(parents=True)
    (project / "code" / "m.py").write_text("def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n")
    recipe = project / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "rel", "stages": [{"ingest": {"paths": ["code"]}}, {"write": {}}]}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["run", str(recipe), "--executor", "inprocess", "--no-report", "--quiet"]) == 0
    assert pq.read_table(elsewhere / "runs" / "rel" / "dataset").column("text").to_pylist()[0].startswith("def add")
    capsys.readouterr()
    # a --set path is typed on the command line: relative to where the command runs
    assert main(["run", str(recipe), "--set", "stages[0].ingest.paths[0]=code", "--out", "x", "--quiet",
                 "--executor", "inprocess"]) == 2
    assert "ingest path code does not exist" in capsys.readouterr().err
    assert not (elsewhere / "x").exists()  # the run's bookkeeping of a run that did nothing is not left behind
    demo_sft = Path(__file__).resolve().parents[1] / "recipes" / "lm" / "demo_sft.yaml"
    cfg = load_lm_config(demo_sft, "sft")
    repo_runs = demo_sft.parents[2] / "runs" / "lm_demo"
    assert (cfg.tokenizer, cfg.init_from, cfg.data.sft) == (str(repo_runs / "tokenizer"), str(repo_runs / "pretrain"),
                                                             str(repo_runs / "sft_data"))
