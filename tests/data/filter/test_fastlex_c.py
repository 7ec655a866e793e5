"""The fast RegexLexer driver (_fastlex_c) must split code/comments exactly as Pygments does."""

from __future__ import annotations

import glob
import os
import random

import pytest

from opencook.data.filter.comments import code_and_comments, split_pygments
from opencook.data.filter.lang_signals import _fastlex_c

CONF = "/work/shared/data/opc_filter_conformance/files"
LANGS = ["c", "cpp", "csharp", "java", "javascript"]

SNIPPETS = {
    "c": [
        '#include <stdio.h> // hi\n/* a */ #define X "//" /* b\n c */ 1\nint f(int a /* x */) { return \'"\'; }\n',
        '#if 0\n/* not a comment */\n#endif\nint x = 1\'000; // c\n char *s = "a\\\n b"; /* open',
        'int f(a /* ) {\n */ ) { case A: break; }\n  lbl: x = y / z; /**/ "unterminated\n int g;',
    ],
    "cpp": [
        'auto s = R"xy(/* not */)xy"; // yes\ntemplate<class T> class A { public: int f() const; };\n',
        "namespace a { int b() { return 0; } } /* c */ // d \\\n e\n",
    ],
    "java": [
        '/** doc */ @Ann("x") public class A { String s = """\n /* no */ """; char c = \'/\'; }\n',
        'import a.b.*; // x\nclass B { int f() { return 1 / 2; /* c */ } } "open\n',
    ],
    "csharp": [
        '/// <summary>x</summary>\nclass A { string s = @"a""//b"; string t = $"{x}//"; } // c\n',
        "#region r\nnamespace N { /* a */ int x = 1; } #endregion\n'a' '\\n' @\"open\n",
    ],
    "javascript": [
        "var r = /\\/*[a-z]/g; // c\nlet t = `a ${b /* c */} // d`; x = a / b / c; /* e */\n",
        "#!/usr/bin/env node\nconst x = '/*'; f(/re/); </script> // \n`open ${",
    ],
}


def _mutate(text: str, rng: random.Random) -> str:
    s = list(text)
    for _ in range(rng.randint(1, 4)):
        p = rng.randrange(len(s) + 1)
        if rng.random() < 0.5 and p < len(s):
            del s[p]
        else:
            s.insert(p, rng.choice(list("\"'/*\\\n`#@{};()")))
    return "".join(s)


def _corpus(lang: str) -> list[str]:
    texts = list(SNIPPETS[lang])
    for path in sorted(glob.glob(os.path.join(CONF, lang, "*"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    return texts


@pytest.mark.parametrize("lang", LANGS)
def test_fast_driver_matches_pygments(lang: str) -> None:
    rng = random.Random(lang)
    texts = _corpus(lang)
    inputs = texts + [_mutate(t, rng) for t in texts for _ in range(3)]
    for text in inputs:
        fast = _fastlex_c.split(lang, text)
        assert fast is None or fast == split_pygments(lang, text), text[:200]


@pytest.mark.parametrize("lang", LANGS)
def test_code_and_comments_uses_exact_split(lang: str) -> None:
    for text in SNIPPETS[lang]:
        assert code_and_comments(lang, text) == split_pygments(lang, text)
        assert code_and_comments(lang, text, fast=False) == split_pygments(lang, text)


def test_usr_include_sample() -> None:
    headers = sorted(glob.glob("/usr/include/*.h"))[:40]
    if not headers:
        pytest.skip("no /usr/include")
    for path in headers:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for lang in ("c", "cpp"):
            assert _fastlex_c.split(lang, text) == split_pygments(lang, text), path
