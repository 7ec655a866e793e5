"""The transform step: counters, drops, field handling, and real Python staying parseable."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

from opencook.data.transform.step import Transform, TransformConfig
from opencook.kit.stats import StageStats


def _rec(text: str, language: str = "Python", i: int = 0) -> dict:
    return {"id": f"id{i}", "language": language, "text": text, "size_bytes": len(text.encode())}


def test_counts_replacements_and_header_removal() -> None:
    text = "# Copyright 2020 Foo Inc.\n\npassword = 'hunter22'\nmail = 'a.b@gmail.com'\n"
    stats = StageStats()
    [out] = list(Transform().process(iter([_rec(text)]), stats))
    assert out["text"] == "password = '<password>'\nmail = '<email>'\n"
    assert out["size_bytes"] == len(text.encode())
    assert stats.counters["copyright_header_removed"] == 1
    assert stats.counters["copyright_header_bytes"] == len("# Copyright 2020 Foo Inc.\n\n")
    assert stats.counters["pii:password"] == 1
    assert stats.counters["pii:email"] == 1
    assert stats.by_language["Python"] == {"files": 1, "bytes": len(out["text"].encode())}


def test_file_that_was_only_a_notice_is_dropped() -> None:
    text = "/* Copyright 2020 Foo. All rights reserved. */\n"
    stats = StageStats()
    assert list(Transform().process(iter([_rec(text, "C")]), stats)) == []
    assert stats.dropped["transform:empty"] == 1
    assert stats.dropped_bytes["transform:empty"] == len(text)


def test_options_switch_parts_off() -> None:
    text = "# Copyright 2020 Foo Inc.\npassword = 'hunter22'\n"
    cfg = TransformConfig(remove_copyright=False, redact_pii=False)
    [out] = list(Transform(cfg).process(iter([_rec(text)]), StageStats()))
    assert out["text"] == text


def test_stdlib_files_stay_parseable() -> None:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)[:300]
    records = []
    for i, p in enumerate(files):
        text = p.read_text("utf-8", errors="replace")
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        records.append(_rec(text, i=i))
    assert len(records) > 200
    stats = StageStats()
    out = list(Transform().process(iter(records), stats))
    for r in out:
        ast.parse(r["text"], filename=r["id"])
    assert stats.counters["copyright_header_removed"] > 0
    assert len(out) == len(records)
