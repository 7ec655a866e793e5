"""The Linguist overlay beneath the hand table, multi-part extensions and shebang detection."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opencook.data.ingest import languages
from opencook.data.ingest.languages import (
    detect_language,
    doc_type_for,
    interpreter_of,
    language_from_shebang,
)

REPO = Path(__file__).resolve().parents[3]


def test_hand_table_still_decides_ambiguous_extensions():
    # Linguist lists .h for C, C++ and Objective-C, .m for Objective-C, MATLAB, Limbo ...; the hand table wins.
    assert detect_language("x.h") == "C"
    assert detect_language("x.m") == "Objective-C"
    assert detect_language("x.v") == "Verilog"
    assert detect_language("login.js") == "JavaScript"


def test_languages_only_linguist_knows_are_detected_with_their_doc_type():
    linguist_only = {"x.bqn": "BQN", "x.zig.zon": "Zig", "x.blade.php": "Blade", "x.bicepparam": "Bicep"}
    for name, lang in linguist_only.items():
        assert detect_language(name) == lang, name
    assert doc_type_for("BQN") == "code"
    assert doc_type_for("Adobe Font Metrics") == "excluded"  # the hand table's doc type is kept


def test_every_generated_language_has_a_doc_type_and_the_map_is_large():
    assert len(languages.DOC_TYPE) >= 800
    assert set(languages.DOC_TYPE.values()) <= set(languages.DOC_TYPES)
    assert all(lang in languages.DOC_TYPE for lang in languages.EXTENSIONS.values())
    assert all(lang in languages.DOC_TYPE for lang in languages.INTERPRETERS.values())


@pytest.mark.parametrize(
    ("line", "interpreter", "language"),
    [
        (b"#!/bin/sh\n", "sh", "Shell"),
        (b"#! /usr/bin/perl -w\n", "perl", "Perl"),
        (b"#!/usr/bin/env python3.11\n", "python3.11", "Python"),
        (b"#!/usr/bin/env -S node --no-warnings\n", "node", "JavaScript"),
        (b"#!/usr/bin/env LC_ALL=C ruby\n", "ruby", "Ruby"),
        (b"#!/usr/bin/make -f\n", "make", "Makefile"),
        (b"#!/no/such/interpreter\n", "interpreter", "unknown"),
        (b"no shebang\n", None, "unknown"),
    ],
)
def test_shebangs(line, interpreter, language):
    assert interpreter_of(line) == interpreter
    assert language_from_shebang(line) == language


def test_shebang_only_for_files_without_an_extension():
    assert detect_language("tool", b"#!/usr/bin/python3\n") == "Python"
    assert detect_language("tool.txt", b"#!/usr/bin/python3\n") == "Text"
    assert detect_language("tool") == "unknown"


def test_real_scripts_on_this_machine_are_detected_by_their_shebang():
    """Interpreter scripts installed here (pip's entry points, the shell's own tools)."""
    found = {}
    for name in ("pip", "pytest"):
        path = Path(sys.executable).parent / name
        if path.is_file() and path.read_bytes()[:2] == b"#!":
            found[path] = "Python"
    for name in ("zgrep", "gunzip", "which"):
        path = shutil.which(name)
        if path and Path(path).read_bytes()[:2] == b"#!":
            found[Path(path)] = "Shell"
    assert found, "no script found to test with"
    for path, lang in found.items():
        with open(path, "rb") as f:
            assert detect_language(path.name, f.read(256)) == lang, path


def test_generator_reproduces_the_shipped_table_from_its_own_rows(tmp_path):
    """scripts/gen_languages.py reads languages.yml; fed a YAML rebuilt from the shipped rows it
    writes the same table back."""
    yaml = pytest.importorskip("yaml")
    from opencook.data.ingest.linguist_languages import TABLE

    types = {"code": "programming", "data": "data", "text": "prose"}
    spec = {}
    for line in TABLE.strip().splitlines():
        name, doc_type, exts, names, interps = (p.strip() for p in line.split("|"))
        spec[name] = {"type": types[doc_type], "extensions": ["." + e for e in exts.split()],
                      "filenames": names.split(), "interpreters": interps.split()}
    (tmp_path / "languages.yml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    out = tmp_path / "gen.py"
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_languages.py"), "--yml",
                    str(tmp_path / "languages.yml"), "--source", "test", "--out", str(out)],
                   check=True, env={**os.environ, "PYTHONPATH": ""})
    generated = {}
    exec(out.read_text(), generated)  # noqa: S102 - the file the generator just wrote
    assert generated["TABLE"] == TABLE
