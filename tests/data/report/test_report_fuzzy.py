"""The report's "Fuzzy dedup" section, on a real small run with planted near-duplicates."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from fixtures_code import make_repos
from opencook.data.recipe import parse_recipe
from opencook.data.report import write_data_report
from opencook.data.runner import PipelineRunner
from opencook.kit.executors import InProcessExecutor

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _plant(root: Path) -> tuple[str, str]:
    """A near-duplicate of alpha's mod0.py in gamma (a few lines edited); returns (original, copy)."""
    original = (root / "repos" / "alpha" / "pkg" / "mod0.py").read_text()
    lines = original.splitlines()
    lines[5] = "    edited_total = 12345  # <edited & escaped>"
    (root / "repos" / "gamma" / "pkg" / "mod0_copy.py").write_text("\n".join(lines) + "\n")
    return original, "\n".join(lines)


def _run(tmp_path: Path, fuzzy: dict) -> Path:
    root = make_repos(tmp_path / "src")
    _plant(root)
    recipe = {"name": "fz-report", "seed": 1, "stages": [
        {"ingest": {"paths": [str(root / "repos")], "layout": "repos", "metadata": str(root / "meta.jsonl"),
                    "files_per_task": 5}},
        {"fuzzy_dedup": fuzzy},
        {"write": {}},
    ]}
    out = tmp_path / "run"
    PipelineRunner(parse_recipe(recipe), out, InProcessExecutor()).run()
    return out


def test_fuzzy_section_shows_settings_curve_languages_histogram_and_examples(tmp_path: Path) -> None:
    out = _run(tmp_path, {"num_perm": 128, "bands": 32, "rows": 4, "verify_threshold": 0.7})
    page = write_data_report(out).read_text()
    assert '<h2 id="fuzzy">Fuzzy dedup</h2>' in page and 'href="#fuzzy"' in page
    section = page.split('<h2 id="fuzzy">', 1)[1].split("<h2 ", 1)[0]
    assert "32 × 4" in section and "implied threshold" in section and "0.420" in section  # (1/32)^(1/4)
    assert "P(candidate)" in section and "verified at 0.700" in section.replace("Jaccard ≥ ", "verified at ")
    assert "Removed per language" in section and "Python" in section and "Cluster sizes" in section
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', section)
    alts = {alt for _, alt in imgs}
    assert {"LSH S-curve for the settings used", "fuzzy dedup cluster size histogram",
            "bytes removed by fuzzy dedup per language"} <= alts
    assert all(base64.b64decode(data)[:8] == PNG_MAGIC for data, _ in imgs)
    # side-by-side snippets: the kept file and the removed copy, escaped, in two <pre> columns
    assert section.count('<div class="pair">') >= 1
    pair = section.split('<div class="pair">', 1)[1]
    pres = re.findall(r"<pre>(.*?)</pre>", section, flags=re.S)
    assert len(pres) >= 2 and "edited_total" in "".join(pres)
    assert "&lt;edited &amp; escaped&gt;" in section and "<edited & escaped>" not in section
    assert "kept: alpha/pkg/mod0.py" in html.unescape(pair) or "removed: gamma/pkg/mod0_copy.py" in html.unescape(
        pair)
    assert "decision.parquet" in section
    for pre in pres:
        assert len(html.unescape(pre).splitlines()) <= 16


def test_no_fuzzy_section_without_the_stage(tmp_path: Path) -> None:
    root = make_repos(tmp_path / "src")
    recipe = {"name": "plain", "seed": 1, "stages": [
        {"ingest": {"paths": [str(root / "repos")], "layout": "repos"}}, {"write": {}}]}
    out = tmp_path / "run"
    PipelineRunner(parse_recipe(recipe), out, InProcessExecutor()).run()
    page = write_data_report(out).read_text()
    assert 'id="fuzzy"' not in page and 'href="#fuzzy"' not in page
