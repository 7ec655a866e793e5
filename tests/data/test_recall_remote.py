"""Web-text recall inputs behind s3:// URLs, against a real S3 server (moto's server mode, started and stopped
here): the ``web_ingest`` stage and the recall loop read WET, WARC, Parquet and JSONL objects (files, folders and
globs) into the same output as the same run over the same files on local disk; a missing object and a glob
matching nothing fail before any work, naming the path; a run over s3:// inputs killed with SIGKILL resumes to
the same bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("fasttext", reason="needs the recall extra (fastText)")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))  # the demo-corpus generator

from recall_demo_corpus import make_corpus  # noqa: E402
from test_recall import write_jsonl, write_wet  # noqa: E402
from test_recall_extract import PAGE, write_warc  # noqa: E402
from test_remote_runs import _KILLED_CHILD, _results  # noqa: E402

from opencook.data.recall import RecallConfig, run_recall  # noqa: E402
from opencook.data.recall.source import WebIngestError, expand_paths  # noqa: E402
from opencook.data.recipe import parse_recipe  # noqa: E402
from opencook.data.runner import PipelineRunner  # noqa: E402
from opencook.kit.executors import InProcessExecutor  # noqa: E402
from opencook.kit.io import Dataset, remote  # noqa: E402
from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer  # noqa: E402
from s3_server import listing, local_files, new_bucket, s3_server, upload  # noqa: E402


@pytest.fixture(scope="module")
def s3():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """``web/``: the labelled corpus as a gzip WET file, a WARC response file, a Parquet file of many row groups
    and a JSONL file (plus a marker the readers must skip); ``labels/``: seeds (JSONL) and the held-out sample
    (Parquet); a local BPE tokenizer."""
    d = tmp_path_factory.mktemp("recall-remote")
    corpus, seeds, held = make_corpus(seed=0)
    third = len(corpus) // 3
    (d / "web").mkdir()
    (d / "labels").mkdir()
    write_wet(d / "web" / "cc.warc.wet.gz", corpus[:third])
    write_warc(d / "web" / "crawl.warc.gz", PAGE)
    middle = corpus[third : 2 * third]
    pq.write_table(pa.table({"url": [p.url for p in middle], "text": [p.text for p in middle]}),
                   d / "web" / "fineweb.parquet", row_group_size=20)
    write_jsonl(d / "web" / "web.jsonl", corpus[2 * third :])
    (d / "web" / "_SUCCESS.json").write_text("{}\n")
    write_jsonl(d / "labels" / "seeds.jsonl", seeds)
    pq.write_table(pa.table({"url": [p.url for p in held], "text": [p.text for p in held],
                             "label": [int(p.code) for p in held]}), d / "labels" / "heldout.parquet")
    tok = train_tokenizer([d / "web" / "web.jsonl", d / "labels" / "seeds.jsonl"], TokenizerConfig(vocab_size=1200),
                          progress=False)
    save_tokenizer(tok, d / "tok")
    return {"dir": d, "corpus": corpus, "seeds": len(seeds), "middle": len(middle), "tok": str(d / "tok")}


@pytest.fixture(scope="module")
def bucket(s3, world) -> str:
    """The same ``web/`` and ``labels/`` folders uploaded to a fresh bucket."""
    b = new_bucket()
    upload(world["dir"] / "web", f"{b}/web")
    upload(world["dir"] / "labels", f"{b}/labels")
    return b


def _ingest_recipe(web: str) -> dict:
    """A folder, a glob and a file naming the same objects twice over (each is read once)."""
    return {"name": "web", "stages": [
        {"web_ingest": {"paths": [f"{web}/*.gz", web, f"{web}/fineweb.parquet"], "rows_per_task": 20}},
        {"write": {"max_rows": 50}},
    ]}


@pytest.fixture(scope="module")
def local_ingest(world, tmp_path_factory) -> dict[str, bytes]:
    """The oracle: the same recipe over the local copy of the inputs."""
    out = tmp_path_factory.mktemp("local") / "run"
    PipelineRunner(parse_recipe(_ingest_recipe(str(world["dir"] / "web"))), out, InProcessExecutor()).run()
    return _results(local_files(out))


def test_expand_paths_lists_remote_folders_globs_and_files_like_local_ones(world, bucket):
    local = str(world["dir"] / "web")
    names = ["cc.warc.wet.gz", "crawl.warc.gz", "fineweb.parquet", "web.jsonl"]
    assert expand_paths([local]) == [f"{local}/{n}" for n in names]  # _SUCCESS.json skipped
    assert expand_paths([f"{bucket}/web"]) == [f"{bucket}/web/{n}" for n in names]
    assert expand_paths([f"{bucket}/web/*.warc*.gz"]) == [f"{bucket}/web/{n}" for n in names[:2]]
    assert expand_paths([f"{bucket}/web/web.jsonl"]) == [f"{bucket}/web/web.jsonl"]


def test_web_ingest_over_s3_inputs_writes_what_the_local_run_writes(world, bucket, local_ingest, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    out = f"{bucket}/runs/ingest"
    [ingest, _] = PipelineRunner(parse_recipe(_ingest_recipe(f"{bucket}/web")), out, InProcessExecutor()).run()
    pages = len(world["corpus"]) + 1  # the WET, Parquet and JSONL pages and the WARC response page
    assert ingest.stats.counters["out"] == pages and len(ingest.shards) == 3 + -(-world["middle"] // 20)
    on_s3 = listing(out)
    assert any(k.startswith("dataset/part-") for k in on_s3)
    assert _results(on_s3) == local_ingest
    texts = [t for k, v in on_s3.items() if k.startswith("dataset/part-")
             for t in pq.read_table(pa.BufferReader(v)).column("text").to_pylist()
             if "It serializes Python objects to strings in JSON" in t]
    assert len(texts) == 1 and "Privacy policy" not in texts[0]  # the WARC HTML went through the extractor


def test_a_replaced_remote_input_is_read_again_and_nothing_else(world, bucket, tmp_path, monkeypatch):
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    web = f"{bucket}/web-edit"
    upload(world["dir"] / "web", web)
    recipe, out = parse_recipe(_ingest_recipe(web)), f"{bucket}/runs/edit"
    [first, _] = PipelineRunner(recipe, out, InProcessExecutor()).run()
    assert first.skipped == 0
    [again, _] = PipelineRunner(recipe, out, InProcessExecutor()).run()
    assert again.skipped == len(again.shards)  # a finished run is a no-op
    edited = tmp_path / "web.jsonl"
    edited.write_bytes((world["dir"] / "web" / "web.jsonl").read_bytes()
                       + json.dumps({"url": "https://new.example/x", "text": "a new page"}).encode() + b"\n")
    upload(edited, f"{web}/web.jsonl")  # the object is replaced
    [third, _] = PipelineRunner(recipe, out, InProcessExecutor()).run()
    assert third.skipped == len(third.shards) - 1 and third.stats.counters["out"] == first.stats.counters["out"] + 1
    assert "https://new.example/x" in {r["path"] for r in Dataset(f"{out}/dataset").records(["path"])}


def _loop_config(world: dict, web: str, labels: str) -> RecallConfig:
    return RecallConfig(corpus=[f"{web}/*.gz", f"{web}/fineweb.parquet", f"{web}/web.jsonl"],
                        seeds=[f"{labels}/seeds.jsonl"], heldout=f"{labels}/heldout.parquet", tokenizer=world["tok"],
                        rounds=2)


@pytest.fixture(scope="module")
def local_loop(world, tmp_path_factory):
    """The oracle: the loop over the local copy of the inputs."""
    out = tmp_path_factory.mktemp("local-loop")
    return run_recall(_loop_config(world, str(world["dir"] / "web"), str(world["dir"] / "labels")), out=out), out


def test_the_recall_loop_over_s3_inputs_recalls_what_the_local_loop_recalls(world, bucket, local_loop, tmp_path):
    here, local_out = local_loop
    there = run_recall(_loop_config(world, f"{bucket}/web", f"{bucket}/labels"), out=tmp_path / "remote")
    assert here.read_stats.counters["pages_seen"] == len(world["corpus"]) + 1 + world["seeds"]  # corpus, seeds
    assert there.read_stats.to_dict() == here.read_stats.to_dict()
    assert there.recalled_ids == here.recalled_ids and len(here.recalled_ids) > 50
    assert [r.heldout for r in there.rounds] == [r.heldout for r in here.rounds]
    assert here.rounds[-1].heldout["pages"] == len(pq.read_table(world["dir"] / "labels" / "heldout.parquet"))
    assert local_files(tmp_path / "remote" / "dataset") == local_files(local_out / "dataset")


def test_the_recall_verb_reads_urls_from_its_yaml_and_writes_to_s3(world, bucket, local_loop, tmp_path, monkeypatch,
                                                                   capsys):
    """URLs in the config are taken as they are (relative paths are relative to the file), ``--out`` is a URL."""
    from opencook.cli.recall import main

    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "cfg").mkdir()
    shutil.copytree(world["tok"], tmp_path / "cfg" / "tok")
    config = _loop_config(world, f"{bucket}/web", f"{bucket}/labels")
    (tmp_path / "cfg" / "recall.yaml").write_text(
        f"corpus: {json.dumps(config.corpus)}\nseeds: {json.dumps(config.seeds)}\nheldout: {config.heldout}\n"
        f"tokenizer: tok\nrounds: {config.rounds}\n")
    out = f"{bucket}/runs/verb"
    assert main([str(tmp_path / "cfg" / "recall.yaml"), "--out", out, "--quiet"]) == 0
    assert f"-> {out}/dataset" in capsys.readouterr().out
    _, local_out = local_loop
    on_s3 = listing(out)
    assert {k: v for k, v in on_s3.items() if k.startswith("dataset/")} == {
        f"dataset/{k}": v for k, v in local_files(local_out / "dataset").items()}
    assert json.loads(on_s3["recall.json"])["config"]["corpus"] == config.corpus


@pytest.mark.parametrize(("path", "message"), [
    ("web/missing.warc.gz", "web-text path s3://.*/web/missing.warc.gz does not exist"),
    ("nothing-here", "web-text path s3://.*/nothing-here does not exist"),
    ("web/*.wet.zst", r"web-text pattern 's3://.*/web/\*.wet.zst' matches nothing"),
    ("labels/*.csv", r"matches nothing"),
])
def test_a_missing_remote_path_or_an_empty_remote_glob_fails_before_any_work(world, bucket, tmp_path, monkeypatch,
                                                                              path, message):
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    url = f"{bucket}/{path}"
    with pytest.raises(WebIngestError, match=message):
        run_recall(RecallConfig(corpus=[url], seeds=[f"{bucket}/labels/seeds.jsonl"], tokenizer=world["tok"]),
                   out=tmp_path / "loop")
    recipe = parse_recipe({"name": "x", "stages": [{"web_ingest": {"paths": [url]}}, {"write": {}}]})
    out = f"{bucket}/runs/failed-{tmp_path.name}"
    with pytest.raises(WebIngestError, match=message):
        PipelineRunner(recipe, out, InProcessExecutor()).run()
    assert not [k for k in listing(out) if k.startswith("stages/")]  # no work was done


def test_a_remote_file_of_another_format_is_named(bucket, tmp_path):
    (tmp_path / "pages.csv").write_text("url,text\n")
    url = upload(tmp_path / "pages.csv", f"{bucket}/odd/pages.csv")
    with pytest.raises(ValueError, match=r"s3://.*/odd/pages.csv is not a web-text file"):
        expand_paths([f"{bucket}/odd"])
    with pytest.raises(ValueError, match="is not a web-text file"):
        expand_paths([url])


@pytest.mark.slow  # a child process
def test_a_run_over_s3_inputs_killed_with_sigkill_resumes_to_the_same_bytes(world, bucket, local_ingest, tmp_path,
                                                                             monkeypatch):
    recipe = _ingest_recipe(f"{bucket}/web")
    out = f"{bucket}/runs/killed"
    env = {**os.environ, remote.CACHE_ENV: str(tmp_path / "cache")}
    child = subprocess.run([sys.executable, "-c", _KILLED_CHILD, json.dumps(recipe), out, "3"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    half = listing(out)
    assert "dataset/_SUCCESS.json" not in half and sum(k.endswith(".done.json") for k in half) == 3
    shutil.rmtree(tmp_path / "cache")  # resume on a machine that has only the remote
    monkeypatch.setenv(remote.CACHE_ENV, str(tmp_path / "cache"))
    [ingest, _] = PipelineRunner(parse_recipe(recipe), out, InProcessExecutor()).run()
    assert ingest.skipped == 3 and len(ingest.shards) > 3
    assert _results(listing(out)) == local_ingest
