"""Language-specific signals: agreement with the reference verdicts, and the fixed faults."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from filter_conformance import default_dir  # benchmarks/, put on sys.path by conftest.py
from opencook.data.filter.comments import split_pygments
from opencook.data.filter.lang_signals import compute_language_signals
from opencook.data.filter.lang_signals._fastlex import split as fast_split

REPO = Path(__file__).resolve().parents[3]
CONFORMANCE = default_dir(REPO)
LANGS = {"python", "c", "cpp", "csharp", "go", "java", "javascript", "html"}
# Signals whose value changes in fixed mode on the conformance files (substring tests -> statements).
FIXED_DIFFERS = {
    "qsc_codepython_frac_lines_pass",
    "qsc_codepython_frac_lines_import",
    "qsc_codepython_frac_lines_print",
    "qsc_codepython_score_lines_no_logic",
}


def _records() -> list[dict]:
    path = CONFORMANCE / "verdicts.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["program_lang"] in LANGS]


RECORDS = _records()
needs_conformance = pytest.mark.skipif(not RECORDS, reason=f"no conformance data under {CONFORMANCE}")


def _inputs(rec: dict) -> tuple[str, str, str, str]:
    path = CONFORMANCE / "files" / rec["path"]
    text = path.read_text(encoding="utf-8")
    name = path.name
    return rec["program_lang"], text, name, os.path.splitext(name)[1][1:]


def _expected(rec: dict) -> dict:
    lang_prefix = f"qsc_code{rec['program_lang']}_"
    return {k: v for k, v in rec["signals"].items() if k.startswith(lang_prefix)}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-6


@needs_conformance
@pytest.mark.parametrize("rec", RECORDS, ids=lambda r: r["path"])
def test_reference_mode_matches_reference_values(rec: dict) -> None:
    got = compute_language_signals(*_inputs(rec), compat="reference")
    expected = _expected(rec)
    assert set(got) == set(expected)
    bad = {k: (v, got[k]) for k, v in expected.items() if not _same(v, got[k])}
    assert not bad, f"(reference, ours): {bad}"


@needs_conformance
@pytest.mark.parametrize("rec", RECORDS, ids=lambda r: r["path"])
def test_fixed_mode_differs_only_in_fixed_signals(rec: dict) -> None:
    got = compute_language_signals(*_inputs(rec))
    expected = _expected(rec)
    assert set(got) == set(expected)
    bad = {k: (v, got[k]) for k, v in expected.items() if k not in FIXED_DIFFERS and not _same(v, got[k])}
    assert not bad, f"(reference, ours): {bad}"


# Only the files whose language has a fast scanner: the others go through Pygments itself.
FAST_RECORDS = [r for r in RECORDS if fast_split(*_inputs(r)[:2]) is not None]


@needs_conformance
@pytest.mark.parametrize("rec", FAST_RECORDS, ids=lambda r: r["path"])
def test_fast_scanner_agrees_with_pygments(rec: dict) -> None:
    lang, text, _, _ = _inputs(rec)
    assert fast_split(lang, text) == split_pygments(lang, text)


PY_PASSWORD = """\
import os

password = os.environ.get("PASSWORD")
passlib_version = "1.7"


def check(value):
    if value == password:
        pass
    return value
"""


def test_python_pass_is_a_statement_not_a_substring() -> None:
    ref = compute_language_signals("python", PY_PASSWORD, "a.py", "py", compat="reference")
    fixed = compute_language_signals("python", PY_PASSWORD, "a.py", "py")
    assert ref["qsc_codepython_frac_lines_pass"] == pytest.approx(4 / 7)
    assert fixed["qsc_codepython_frac_lines_pass"] == pytest.approx(1 / 7)


def test_python_import_and_print_are_whole_words() -> None:
    text = (
        "from os import path  # important\n"
        "important = 1\n"
        "blueprint = 'x'\n"
        "fingerprint = blueprint\n"
        "print(important)\n"
        "if important: import sys\n"
    )
    ref = compute_language_signals("python", text, "a.py", "py", compat="reference")
    fixed = compute_language_signals("python", text, "a.py", "py")
    assert ref["qsc_codepython_frac_lines_import"] == pytest.approx(
        round(4 / 6, 8)
    )  # the comment is stripped first
    assert fixed["qsc_codepython_frac_lines_import"] == pytest.approx(round(2 / 6, 8))
    assert ref["qsc_codepython_frac_lines_print"] == pytest.approx(round(3 / 6, 8))
    assert fixed["qsc_codepython_frac_lines_print"] == pytest.approx(round(1 / 6, 8))


GO_TEST = 'package foo\n\nimport "testing"\n\nfunc TestX(t *testing.T) {\n\tx := 1\n\t_ = x\n}\n'


@pytest.mark.parametrize("filename", ["foo_test.go", "foo_test", "FOO_TEST.GO"])
def test_go_test_file_detected_with_or_without_extension(filename: str) -> None:
    got = compute_language_signals("go", GO_TEST, filename, "go")
    assert got["qsc_codego_cate_testfile"] == 1.0


def test_go_test_file_reference_mode_never_fires_on_a_full_name() -> None:
    got = compute_language_signals("go", GO_TEST, "foo_test.go", "go", compat="reference")
    assert got["qsc_codego_cate_testfile"] == 0.0
    plain = compute_language_signals("go", GO_TEST, "foo.go", "go")
    assert plain["qsc_codego_cate_testfile"] == 0.0


TWO_MAINS = """\
#include <stdio.h>

int main(void) {
    printf("one\\n");
    return 0;
}

#if 0
#endif

int main(int argc, char **argv) {
    return 1;
}
"""


@pytest.mark.parametrize("compat", ["fixed", "reference"])
def test_c_counts_every_main_declaration(compat: str) -> None:
    got = compute_language_signals("c", TWO_MAINS, "m.c", "c", compat=compat)
    assert got["qsc_codec_nums_lines_main"] == 2
    cpp = compute_language_signals("cpp", TWO_MAINS, "m.cpp", "cpp", compat=compat)
    assert cpp["qsc_codecpp_nums_lines_main"] == 2.0


def test_header_has_no_directive_ratio() -> None:
    got = compute_language_signals("c", TWO_MAINS, "m.h", "h")
    assert got["qsc_codec_frac_lines_preprocessor_directives"] is None


def test_javascript_that_does_not_parse() -> None:
    got = compute_language_signals("javascript", "var = = ;\nconsole.log(1)\n", "x.js", "js")
    assert got["qsc_codejavascript_cate_ast"] == 0.0
    assert got["qsc_codejavascript_cate_var_zero"] is None
    assert got["qsc_codejavascript_frac_lines_print"] == 0.5


def test_python_that_does_not_parse() -> None:
    got = compute_language_signals("python", "def f(:\n    print(1)\n", "x.py", "py")
    assert got["qsc_codepython_cate_ast"] == 0.0
    assert got["qsc_codepython_frac_lines_func_ratio"] is None
    assert got["qsc_codepython_frac_lines_print"] == 0.5


def test_failing_signal_nulls_the_rest_of_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from opencook.data.filter.lang_signals import cfamily

    def boom(*_a, **_k):
        raise TimeoutError("regex timeout")

    monkeypatch.setattr(cfamily, "count", boom)
    got = compute_language_signals("c", TWO_MAINS, "m.c", "c")
    assert got["qsc_codec_frac_lines_func_ratio"] is None
    assert all(v is None for v in got.values())
    assert len(got) == 8


def test_unknown_language_and_bad_mode() -> None:
    assert compute_language_signals("php", "<?php echo 1;", "a.php", "php") == {}
    with pytest.raises(ValueError):
        compute_language_signals("python", "x = 1\n", "a.py", "py", compat="strict")


def test_empty_text() -> None:
    for lang in sorted(LANGS):
        got = compute_language_signals(lang, "", "empty", "")
        assert got, lang
