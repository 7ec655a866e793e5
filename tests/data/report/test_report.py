"""The data report renders from a run directory alone, embeds real PNGs and escapes its input."""

from __future__ import annotations

import base64
import json
import re
import sys
import time
import types
from collections import Counter
from pathlib import Path

import pytest
import yaml

from opencook.data.report import sections, write_data_report
from opencook.data.report.rundata import config_stages
from opencook.kit.stats import StageStats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL_REASON = "filter:<script>alert('x')</script>&more $x^$"


def _stage(n_in: int, drops: dict[str, tuple[int, int]], langs: dict[str, tuple[int, int]], **counters: int):
    s = StageStats()
    s.add("in", n_in)
    s.add("out", n_in - sum(n for n, _ in drops.values()))
    for reason, (n, nbytes) in drops.items():
        s.dropped[reason] += n
        s.dropped_bytes[reason] += nbytes
    for lang, (files, nbytes) in langs.items():
        s.by_language[lang] = Counter(files=files, bytes=nbytes)
    for k, v in counters.items():
        s.add(k.replace("__", ":"), v)
    return s


def _stages() -> list[tuple[str, str, StageStats]]:
    ingest = _stage(
        1000,
        {"binary": (40, 400_000), "too_large": (10, 9_000_000)},
        {"Python": (600, 6_000_000), "C++": (250, 4_000_000), "JSON": (100, 2_000_000)},
    )
    filt = _stage(
        950,
        {
            "filter:max_line_length": (120, 1_200_000),
            EVIL_REASON: (7, 7_000),
            "filter:alpha_fraction": (23, 230_000),
        },
        {"Python": (520, 5_100_000), "C++": (200, 3_000_000), "JSON": (80, 1_500_000)},
        **{"rule__max_line_length": 130, "rule__alpha_fraction": 31, "rule__too_many_digits": 4},
    )
    dedup = _stage(
        800,
        {"exact_duplicate": (57, 570_000)},
        {"Python": (480, 4_700_000), "C++": (190, 2_900_000), "JSON": (73, 1_400_000)},
        **{"dup_group_size__2": 30, "dup_group_size__3": 7, "dup_group_size__10-99": 1},
    )
    transform = _stage(
        743,
        {},
        {"Python": (480, 4_690_000), "C++": (190, 2_890_000), "JSON": (73, 1_400_000)},
        **{"pii__email": 17, "pii__ip_address": 3, "copyright_header_removed": 42},
    )
    write = _stage(743, {}, {})
    return [
        ("ingest", "read", ingest),
        ("filter", "filter", filt),
        ("dedup_exact", "dedup", dedup),
        ("transform", "transform", transform),
        ("write", "write", write),
    ]


def _make_run(
    root: Path,
    *,
    top_stats: bool = True,
    stage_stats: bool = True,
    manifest_parts: int = 3,
    contract_totals: bool = False,
) -> Path:
    """A run dir as the runner writes it; ``contract_totals`` uses the ``totals`` objects of the docs."""
    run = root / "run"
    run.mkdir()
    stages = _stages()
    config = {  # the recipe shape of recipes/*.yaml: one single-key mapping per stage
        "name": "demo",
        "seed": 1234,
        "input": {"path": "data/raw", "format": "jsonl"},
        "stages": [{n: {"max_line_length": 1000, "languages": ["Python", "C++"]}} for n, _, _ in stages],
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (run / "versions.json").write_text(
        json.dumps({"python": "3.11.9", "opencook": "0.1.0", "packages": {"pyarrow": "15.0.0"}})
    )
    entries = []
    for i, (name, kind, st) in enumerate(stages):
        d = run / "stages" / f"{i:02d}_{name}"
        d.mkdir(parents=True)
        meta = {"name": name, "kind": kind, "seconds": 1.5 * (i + 1), "shards": 4, "shards_skipped": i % 3}
        if stage_stats:
            (d / "stats.json").write_text(json.dumps({**meta, **st.to_dict()}))
        entries.append({"index": i, **meta, "stats": st.to_dict()})
    run_stats: dict = {"recipe": "demo", "seconds": 22.5, "stages": entries}
    if contract_totals:
        run_stats = {"stages": entries, "totals": {"seconds": 1234.0}}
    if top_stats:
        (run / "stats.json").write_text(json.dumps(run_stats))
    files = [
        {"path": f"dataset/part-{i:05d}.parquet", "rows": 100 + i, "bytes": 50_000 + i, "sha256": f"{i:064x}"}
        for i in range(manifest_parts)
    ]
    manifest: dict = {
        "files": files,
        "total_rows": sum(f["rows"] for f in files),
        "total_bytes": sum(f["bytes"] for f in files),
    }
    if contract_totals:
        manifest = {"files": files, "totals": {"files": 99, "rows": 7777, "bytes": 3 * 2**30}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def test_config_stages_accepts_the_recipe_shapes() -> None:
    config = {"stages": [{"ingest": {"paths": ["a"]}}, {"name": "filter", "kind": "filter", "p": 1}, "write"]}
    assert config_stages(config) == [
        ("ingest", "", {"paths": ["a"]}),
        ("filter", "filter", {"p": 1}),
        ("write", "", {}),
    ]
    assert config_stages({"seed": 1}) == [] and config_stages(None) == []


def _pngs(page: str) -> list[bytes]:
    return [
        base64.b64decode(m, validate=True) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Rendered once per module: the page is read-only to the tests that share it."""
    root = tmp_path_factory.mktemp("report")
    path = write_data_report(_make_run(root))
    assert path == root / "run" / "report.html"
    return path.read_text(encoding="utf-8")


def test_every_stage_and_setting_appears(report: str) -> None:
    for name in ("ingest", "filter", "dedup_exact", "transform", "write"):
        assert f'<td class="mono">{name}</td>' in report
    assert "3.11.9" in report and "pyarrow" in report  # versions
    assert "max_line_length=1000" in report  # key settings
    assert "22.5 s" in report  # wall time
    assert "303 rows" in report  # manifest total_rows
    assert "1,000 files" in report and "743 files" in report  # input -> output
    assert "8.6 MiB of text" in report  # last stage counting languages (transform), not write's 0 B


def test_shards_and_resumed_shards_are_shown(report: str) -> None:
    assert re.search(r">dedup_exact</td>.*?<td>4 \(2 already done\)</td>", report)


def test_funnel_flags_out_not_matching_in_minus_dropped(tmp_path: Path) -> None:
    run = _make_run(tmp_path, top_stats=False)
    stats_path = run / "stages" / "00_ingest" / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats["counters"]["out"] += 60
    stats_path.write_text(json.dumps(stats))
    page = write_data_report(run).read_text()
    assert "out = in − dropped +60" in page
    assert page.count("out = in − dropped") == 1


def test_contract_totals_objects_are_read(tmp_path: Path) -> None:
    page = write_data_report(_make_run(tmp_path, contract_totals=True)).read_text()
    assert "20m 34s" in page  # totals.seconds = 1234
    assert "99 files, 7,777 rows, 3.0 GiB" in page


def test_drop_reasons_appear_with_counts(report: str) -> None:
    assert re.search(r">binary</td><td class=\"num\"[^>]*>40</td>", report)
    assert re.search(r">filter:max_line_length</td><td class=\"num\"[^>]*>120</td>", report)
    assert re.search(r">exact_duplicate</td><td class=\"num\"[^>]*>57</td>", report)
    assert "8.6 MiB" in report  # too_large bytes (9,000,000 B)


def test_embedded_plots_are_png(report: str) -> None:
    pngs = _pngs(report)
    # funnel + 3 drop plots + rules + 2 language plots + dedup histogram
    assert len(pngs) == 8
    assert all(p.startswith(PNG_MAGIC) for p in pngs)
    assert "<script" not in report.lower()
    assert 'src="http' not in report and "<link" not in report


def test_html_special_characters_are_escaped(report: str) -> None:
    assert EVIL_REASON not in report
    assert "filter:&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;more $x^$" in report


def test_rules_dedup_transform_and_manifest(report: str) -> None:
    assert re.search(r">max_line_length</td><td class=\"num\"[^>]*>130</td>", report)
    assert re.search(r">too_many_digits</td><td class=\"num\"[^>]*>4</td>", report)
    assert re.search(r"duplicate groups</td><td class=\"num\"[^>]*>38</td>", report)
    assert re.search(r">10-99</td><td class=\"num\"[^>]*>1</td>", report)
    assert re.search(r"PII: email</td><td class=\"num\"[^>]*>17</td>", report)
    assert re.search(r"copyright headers removed</td><td class=\"num\"[^>]*>42</td>", report)
    assert "part-00002.parquet" in report and f"{2:064x}" in report
    # languages: before from the first stage, after from the last stage that has any
    assert re.search(r">Python</td><td class=\"num\"[^>]*>600</td>.*?>480</td>", report)


def _install_rules(monkeypatch: pytest.MonkeyPatch, module: types.ModuleType | None) -> None:
    """Stand in for opencook.data.filter.rules (written elsewhere, may be absent or in flux)."""
    import opencook.data.filter as filter_pkg

    monkeypatch.setitem(sys.modules, "opencook.data.filter.rules", module)
    if module is None:
        monkeypatch.delattr(filter_pkg, "rules", raising=False)
    else:
        monkeypatch.setattr(filter_pkg, "rules", module, raising=False)


def test_rule_explanations_come_from_the_filter_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("opencook.data.filter.rules")
    fake.RULE_EXPLANATIONS = {"max_line_length": "a line longer than <N> chars"}  # type: ignore[attr-defined]
    _install_rules(monkeypatch, fake)
    page = write_data_report(_make_run(tmp_path)).read_text()
    assert re.search(r">max_line_length</td>.*?<td>a line longer than &lt;N&gt; chars</td>", page)
    assert "Rule explanations are unavailable" not in page


def test_rule_explanations_from_rule_sets_join_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("opencook.data.filter.rules")
    rule = types.SimpleNamespace
    fake.RULE_SETS = {  # type: ignore[attr-defined]
        "python": (rule(name="num_chars", explain="fewer than 50 chars"), rule(name="digits", explain="")),
        "go": (rule(name="num_chars", explain="fewer than 50 or more than 5000"),),
        "c": (rule(name="num_chars", explain="fewer than 50 chars"),),
    }
    _install_rules(monkeypatch, fake)
    assert sections._rule_explanations() == {
        "num_chars": "fewer than 50 chars / fewer than 50 or more than 5000"
    }


def test_rule_explanations_fall_back_to_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_rules(monkeypatch, None)  # the import raises ImportError
    assert sections._rule_explanations() == {}
    page = write_data_report(_make_run(tmp_path)).read_text()
    assert "Rule explanations are unavailable" in page


def test_manifest_is_cut_at_fifty_rows(tmp_path: Path) -> None:
    page = write_data_report(_make_run(tmp_path, manifest_parts=57)).read_text()
    assert "part-00049.parquet" in page and "part-00050.parquet" not in page
    assert "and 7 more files" in page


def test_missing_stats_still_renders_with_notice(tmp_path: Path) -> None:
    run = _make_run(tmp_path, top_stats=False, stage_stats=False)
    page = write_data_report(run).read_text()
    assert "ingest" in page and "write" in page  # names from stages/NN_name and config
    assert "has no stats" in page
    assert "no stats recorded" in page
    assert "No exact dedup in this run" in page
    assert _pngs(page) == []


def test_stage_dirs_alone_are_enough(tmp_path: Path) -> None:
    page = write_data_report(_make_run(tmp_path, top_stats=False)).read_text()
    assert re.search(r">exact_duplicate</td><td class=\"num\"[^>]*>57</td>", page)


def test_empty_run_dir_renders(tmp_path: Path) -> None:
    page = write_data_report(tmp_path).read_text()
    assert "config.yaml is missing" in page
    assert "versions.json is missing" in page
    assert "No stages found" in page
    assert "manifest.json is missing" in page


def test_corrupt_stats_is_reported_not_raised(tmp_path: Path) -> None:
    run = _make_run(tmp_path, top_stats=False, stage_stats=False)
    (run / "stats.json").write_text("{not json")
    page = write_data_report(run).read_text()
    assert "stats.json could not be read" in page


def test_missing_run_dir_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        write_data_report(tmp_path / "nope")


def test_renders_fast(tmp_path: Path) -> None:
    run = _make_run(tmp_path)
    t0 = time.perf_counter()
    write_data_report(run)
    assert time.perf_counter() - t0 < 5.0
