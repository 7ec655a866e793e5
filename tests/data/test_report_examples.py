"""The documents behind the counts: every drop reason of a real run has examples (path, size, first lines, the
signals that fired) that do not depend on sharding, unknown_language drops are broken down by extension, and
with ``rejects: true`` every dropped record is kept with its reason in Parquet."""

from __future__ import annotations

import html
import re

import pyarrow.parquet as pq
import pytest

from fixtures_code import make_repos, pipeline_recipe, python_module
from opencook.data.recipe import parse_recipe
from opencook.data.rejects import REJECTS_SCHEMA
from opencook.data.report import write_data_report
from opencook.data.runner import PipelineRunner
from opencook.kit.executors import InProcessExecutor
from opencook.kit.io import Dataset
from opencook.kit.stats import EXAMPLES_PER_REASON

EXTRA = {"alpha/data/table.xyz": "1 2 3\n4 5 6\n", "beta/data/other.xyz": "x y\n", "gamma/build/app.weird": "?\n",
         "alpha/pkg/flat.py": "x = [" + ", ".join(str(i) for i in range(4000)) + "]\n"}


def _tree(repo_tree):
    for rel, text in EXTRA.items():
        path = repo_tree / "repos" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    import random

    (repo_tree / "repos" / "beta" / "pkg" / "copy.py").write_text(python_module(random.Random(0)))
    return repo_tree


def _run(root, out, files_per_task, rejects=False):
    recipe = pipeline_recipe(root)
    recipe["stages"][0]["ingest"]["files_per_task"] = files_per_task
    recipe["stages"].insert(1, {"fuzzy_dedup": {}})
    recipe["rejects"] = rejects
    return {r.name: r for r in PipelineRunner(parse_recipe(recipe), out, InProcessExecutor()).run()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("examples")
    root = _tree(make_repos(tmp_path))
    return root, _run(root, tmp_path / "a", 3, rejects=True), _run(root, tmp_path / "b", 50), tmp_path


def test_every_drop_reason_has_examples_from_the_real_inputs(runs):
    root, a, _, _ = runs
    for name, result in a.items():
        for reason, n in result.stats.dropped.items():
            examples = result.stats.examples.get(reason, [])
            assert len(examples) == min(n, EXAMPLES_PER_REASON), (name, reason)
            for ex in examples:
                file = root / "repos" / ex["path"]
                assert file.is_file(), ex
                assert ex["size"] == file.stat().st_size
                if "head" in ex:  # the file's own first lines (binary files have none)
                    assert file.read_text().startswith(ex["head"].split("\n")[0][:100].rstrip("…"))
    ingest = a["ingest"].stats
    assert {e["path"] for e in ingest.examples["unknown_language"]} >= {"alpha/data/table.xyz"}
    assert "head" not in ingest.examples["binary"][0]
    [flat] = [e for reason, exs in a["filter"].stats.examples.items() for e in exs if e["path"].endswith("flat.py")]
    assert flat["signals"] and all(isinstance(v, int | float | bool) for v in flat["signals"].values())


def test_examples_do_not_depend_on_sharding(runs):
    _, a, b, _ = runs
    assert a["ingest"].stats.dropped == b["ingest"].stats.dropped
    for name in a:
        assert a[name].stats.examples == b[name].stats.examples, name


def test_unknown_language_by_extension_in_the_report(runs):
    _, a, _, tmp = runs
    counters = a["ingest"].stats.counters
    by_ext = {k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith("unknown_language_ext:")}
    assert sum(by_ext.values()) == a["ingest"].stats.dropped["unknown_language"]
    assert by_ext["xyz"] == 2 and by_ext["weird"] == 1
    text = html.unescape(re.sub(r"<[^>]+>", " ", write_data_report(tmp / "a").read_text()))
    assert "unknown_language by extension" in text and ".xyz" in text and ".weird" in text
    assert "Examples of what ingest dropped" in text and "alpha/data/table.xyz" in text and "1 2 3" in text
    assert "rejected rows kept with their reason" in text


def test_rejects_keep_every_dropped_record_with_its_reason(runs):
    _, a, b, tmp = runs
    kept_ids = {r["id"] for r in Dataset(tmp / "a" / "dataset").records(["id"])}
    for index, name in enumerate(a):
        folder = tmp / "a" / "stages" / f"{index:02d}_{name}" / "rejects"
        stats = a[name].stats
        if name in ("ingest", "write") or not stats.dropped:
            assert not folder.exists(), name
            continue
        table = pq.read_table(folder)
        assert table.schema.names == REJECTS_SCHEMA.names
        reasons = table.column("reason").to_pylist()
        assert {r: reasons.count(r) for r in set(reasons)} == dict(stats.dropped), name
        assert not kept_ids & set(table.column("id").to_pylist())
        assert all(t for t in table.column("text").to_pylist())
    assert not list((tmp / "b" / "stages").glob("*/rejects"))  # off by default
