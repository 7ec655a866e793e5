"""WARC HTML -> text through the configured extractor: main text and code kept, navigation dropped by the
maintained extractors, everything kept by the old ``bs4`` one; the choice reaches ``web_ingest``."""

from __future__ import annotations

import gzip

import pyarrow.parquet as pq
import pytest

from opencook.data.recall import iter_pages
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner
from opencook.kit.config import ConfigError
from opencook.kit.executors import InProcessExecutor
from opencook.kit.stats import StageStats

NAV = [f"Module {name}" for name in ("asyncio", "collections", "contextlib", "dataclasses", "functools",
                                     "itertools", "pathlib", "subprocess", "threading", "typing")]
PAGE = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>json — JSON encoder</title>
<script>window.dataLayer = [];</script><style>nav {{ float: left; }}</style></head><body>
<header class="site-header"><a href="/">Example Docs Home</a> <form role="search"><input name="q"></form></header>
<nav class="sidebar"><h3>Standard library index</h3><ul>{''.join(f'<li><a href="/{n}">{n}</a></li>' for n in NAV)}</ul></nav>
<main><article>
<h1>json — JSON encoder and decoder</h1>
<p>The json module exposes an API familiar to users of the standard library marshal and pickle modules.
It serializes Python objects to strings in JSON, a lightweight data interchange format.</p>
<p>Encoding basic Python object hierarchies is a one-liner; decoding gives back plain dicts and lists,
so a round trip keeps every value that JSON can represent.</p>
<pre><code>import json
payload = json.dumps({{"name": "opencook", "stages": [1, 2, 3]}}, indent=2)
assert json.loads(payload)["stages"] == [1, 2, 3]</code></pre>
<p>Use <code>json.dump</code> to write to a file object and <code>json.load</code> to read one back.
Both take the same keyword arguments as their string counterparts.</p>
</article></main>
<footer class="site-footer"><p>Copyright 2024 Example Docs Foundation. Privacy policy. Terms of use.</p></footer>
</body></html>"""
URL = "https://docs.example.org/3/library/json.html"


def write_warc(path, html: str) -> None:
    payload = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()
    head = ["WARC/1.0", "WARC-Type: response", f"WARC-Target-URI: {URL}",
            "Content-Type: application/http; msgtype=response", f"Content-Length: {len(payload)}"]
    with open(path, "wb") as fh:
        fh.write(gzip.compress("\r\n".join(head).encode() + b"\r\n\r\n" + payload + b"\r\n\r\n"))


@pytest.fixture()
def warc(tmp_path):
    path = tmp_path / "crawl.warc.gz"
    write_warc(path, PAGE)
    return str(path)


@pytest.mark.parametrize("name", ["resiliparse", "trafilatura"])
def test_maintained_extractors_drop_navigation_and_keep_code(warc, name):
    pytest.importorskip(name)
    stats = StageStats()
    [page] = list(iter_pages(warc, stats, html_extractor=name))
    text = page["text"]
    assert "It serializes Python objects to strings in JSON" in text
    assert 'assert json.loads(payload)["stages"] == [1, 2, 3]' in text
    assert "Use json.dump to write to a file object" in " ".join(text.split())
    assert not [n for n in NAV if n in text], "sidebar links kept"
    assert "Privacy policy" not in text and "window.dataLayer" not in text


def test_bs4_extractor_keeps_every_visible_string(warc):
    [page] = list(iter_pages(warc, StageStats(), html_extractor="bs4"))
    assert all(n in page["text"] for n in NAV) and "Privacy policy" in page["text"]
    assert "window.dataLayer" not in page["text"]


def test_web_ingest_stage_takes_the_extractor_from_the_recipe(warc, tmp_path):
    pytest.importorskip("resiliparse")
    texts = {}
    for name in ("resiliparse", "bs4"):
        run = tmp_path / name
        recipe = parse_recipe({"name": "x", "stages": [{"web_ingest": {"paths": [warc], "extractor": name}},
                                                        {"write": {}}]})
        PipelineRunner(recipe, run, InProcessExecutor()).run()
        [texts[name]] = pq.read_table(run / "dataset").column("text").to_pylist()
    assert "Module asyncio" in texts["bs4"] and "Module asyncio" not in texts["resiliparse"]
    assert len(texts["resiliparse"]) < len(texts["bs4"])
    with pytest.raises(ConfigError, match="extractor"):
        parse_recipe({"name": "x", "stages": [{"web_ingest": {"paths": [warc], "extractor": "readability"}}]})


def test_an_extractor_that_raises_is_counted_not_fatal(warc, monkeypatch):
    from opencook.data.recall import extract

    def broken(html: str) -> str:
        raise RuntimeError("parser crashed")

    extract.extractor.cache_clear()
    monkeypatch.setitem(extract._BY_NAME, "bs4", broken)
    try:
        stats = StageStats()
        assert list(iter_pages(warc, stats, html_extractor="bs4")) == []
        assert stats.counters["extract_failed:RuntimeError"] == 1 and stats.dropped["empty"] == 1
    finally:
        extract.extractor.cache_clear()
