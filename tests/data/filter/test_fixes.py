"""One test per reference fault we fix, each showing both modes."""

import random

from opencook.data.filter import general_signals
from opencook.data.filter.evaluate import evaluate

PY_LINES = [
    "import os",
    "",
    "def check_login(username, password):",
    '    """Return True when the password matches."""',
    "    stored_password = os.environ.get('APP_PASSWORD', '')",
    "    password_ok = stored_password == password",
    "    if not password_ok:",
    "        reprint_banner = 'important: wrong password'",
    "        return reprint_banner == ''",
    "    return True",
    "",
    "counter = 0",
    "for name in ['a', 'b', 'c']:",
    "    counter += len(name)",
]
PY = "\n".join(PY_LINES) + "\n"


def _sig(text, name, compat, filename="f.py", ext="py", lang="python"):
    return evaluate(text, filename, ext, lang, "code", random.Random(0), compat=compat).signals[name]


def test_assert_counts_words_not_substrings():
    java = "\n".join(
        ["class T {", "  boolean isAsserted = reassertAll();", "  void f() { assertEquals(1, 1); }", "}"]
    )
    ref = _sig(java, "qsc_code_frac_lines_assert", "reference", "T.java", "java", "java")
    fixed = _sig(java, "qsc_code_frac_lines_assert", "fixed", "T.java", "java", "java")
    assert ref == 0.5  # the isAsserted/reassertAll line and the assertEquals line
    assert fixed == 0.25  # only assertEquals


def test_python_pass_and_print_ignore_password_and_reprint():
    assert _sig(PY, "qsc_codepython_frac_lines_pass", "reference") > 0
    assert _sig(PY, "qsc_codepython_frac_lines_pass", "fixed") == 0
    assert _sig(PY, "qsc_codepython_frac_lines_print", "reference") > 0
    assert _sig(PY, "qsc_codepython_frac_lines_print", "fixed") == 0


def test_go_test_file_is_recognised():
    go = 'package cache\n\nimport "testing"\n\nfunc TestGet(t *testing.T) {\n\tv := 1\n\tif v != 1 {\n\t\tt.Fatal(v)\n\t}\n}\n'
    assert _sig(go, "qsc_codego_cate_testfile", "reference", "cache_test.go", "go", "go") == 0
    assert _sig(go, "qsc_codego_cate_testfile", "fixed", "cache_test.go", "go", "go") == 1


def test_regex_timeout_gives_null_not_a_hang(monkeypatch):
    monkeypatch.setattr(general_signals, "REGEX_TIMEOUT_S", 1e-9)
    text = ("x = '" + "a" * 200 + "' + \"" + "b" * 200 + '"\n') * 2000
    v = evaluate(text, "big.py", "py", "python", "code", random.Random(0), compat="fixed")
    assert v.signals["qsc_code_frac_chars_string_length"] is None
    assert v.errors["qsc_code_frac_chars_string_length"] == "timeout"
    assert v.signals["qsc_code_num_lines"] == 2000.0  # later signals still computed in fixed mode
