"""Extensionless scripts are read by their shebang, in trees and in archives (issue 17: they fell to
``unknown_language``); a file with an extension or without a shebang keeps the name's verdict."""

from __future__ import annotations

from ingest_fixtures import ingest, make_tar, write

from opencook.data.ingest import IngestConfig

FILES = {
    "tool/bin/deploy": b"#!/usr/bin/env python3\nimport sys\nprint(sys.argv)\n",
    "tool/bin/build": b"#!/bin/bash\nset -e\necho building\n",
    "tool/bin/blob": b"just some words without a shebang\n",
    "tool/lib/util.txt": b"#!/usr/bin/env python3\nnot python: the extension decides\n",
}


def _languages(records):
    return {"/".join(r["path"].split("/")[-2:]): r["language"] for r in records}  # bin/x, lib/y


def test_shebang_decides_for_extensionless_files_in_a_tree(tmp_path):
    for rel, data in FILES.items():
        write(tmp_path / "repos", rel, data)
    records, _ = ingest(IngestConfig(paths=[str(tmp_path / "repos")]))
    got = _languages(records)
    assert got["bin/deploy"] == "Python" and got["bin/build"] == "Shell"
    assert got.get("lib/util.txt") != "Python"
    assert "bin/blob" not in got


def test_shebang_decides_for_archive_members(tmp_path):
    archive = make_tar(tmp_path / "tool.tar.gz", {k.split("/", 1)[1]: v for k, v in FILES.items()})
    records, _ = ingest(IngestConfig(paths=[str(archive)]))
    got = _languages(records)
    assert got["bin/deploy"] == "Python" and got["bin/build"] == "Shell" and "bin/blob" not in got
