"""The fast RegexLexer driver (_fastlex_c) must split code/comments exactly as Pygments does."""

from __future__ import annotations

import glob
import os
import random

import pytest
from pygments.lexers.make import BaseMakefileLexer

from opencook.data.filter.comments import code_and_comments, split_pygments
from opencook.data.filter.lang_signals import _fastlex_c

CONF = "/work/shared/data/opc_filter_conformance/files"
LANGS = ["c", "cpp", "csharp", "java", "javascript"] + [
    "shell", "html", "typescript", "rust", "makefile", "xml", "cmake", "d", "sql", "tcl", "ini",
]
# Real files of each language on a Debian machine with the usual toolchains; a few per language.
MACHINE = {
    "shell": ["/usr/share/dpkg/sh/*.sh", "/usr/share/vim/vim*/macros/*.sh", "/usr/share/ucf/*.sh"],
    "html": ["/usr/share/doc/libffi8/html/*.html", "/usr/share/doc/nodejs/*.html", "/usr/share/doc/*/*.html"],
    "typescript": ["/usr/lib/node_modules/typescript/dist/api/*.d.ts", "/usr/lib/node_modules/*/lib/*.d.ts"],
    "rust": ["/usr/share/cargo/registry/*/src/*.rs"],
    "makefile": ["/usr/share/dpkg/*.mk"],
    "xml": ["/usr/share/mime/packages/*.xml", "/usr/share/glib-2.0/schemas/*.xml"],
    "cmake": ["/usr/share/cmake-3*/Modules/Find*.cmake"],
    "d": ["/usr/sbin/*-rc.d"],
    "sql": ["/usr/share/postgresql/*/extension/*.sql"],
    "tcl": ["/usr/share/tcltk/tk8*/*.tcl"],
    "ini": ["/usr/lib/systemd/system/*.service", "/usr/share/php*/*/*.ini"],
}

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
    "shell": [
        '#!/bin/sh\n# c\necho "a # b" \'#x\' $# ${x#y} # d\ncat <<EOF\n# not\nEOF\nx=$(echo # e\n)\n`a # f`\n',
        "case $1 in a) f;; esac # g\n(( i = 2 # 3 )) [[ $a == \"#\" ]] && { b; } # h\n",
    ],
    "html": [
        '<!-- c -->\n<script>var a = 1; // js\n/* b */</script><style>a { /* css */ }</style><p a="<!--">x</p>\n',
        "<!DOCTYPE html><script type=x>`${a /* t */}`</script>\n<script>// open\n<style>/* x",
    ],
    "typescript": [
        "interface A { x: number } // c\nlet s = `a ${b /* c */}`; /** d */ enum E { A }\n",
        "function f<T>(a: T): T { return a / 2; } /* e */ module M { } // f\n",
    ],
    "rust": [
        "//! doc\n/// item\nfn f<'a>(x: &'a str) -> char { '/' } /* a /* nested */ b */ let r = r#\"// no\"#;\n",
        "macro_rules! m { ($x:expr) => { $x /* c */ } } #[cfg(test)] // d\nb\"/*\" /* open",
    ],
    "makefile": [
        "all: x # c\n\techo a # b\n# line\nifeq (a,b)\nX = 1 # d \\\n  y\nendif\n$(call f,#)\n",
        "define V\n# in define\nendef\n.PHONY: a # e\nexport A B # f\n\t@# g\n",
    ],
    "xml": [
        '<?xml version="1.0"?>\n<!-- c --><a b="<!--"><![CDATA[ <!-- no --> ]]></a>\n<!-- open\n',
        "<!DOCTYPE x [ <!ENTITY a 'b'> ]><x:y z='1'/><!-- d --></x>\n",
    ],
    "cmake": [
        '# c\nset(X "a # b") #[[ block ]] \nif(A) # d\nendif()\n',
        "foo(${A} $ENV{B} $<C> # e\n  \"#\" ) #[==[ long\n]==] x\n",
    ],
    "d": [
        '/+ a /+ nested +/ b +/ int x; // c\n/** doc */ string s = q"(/* no */)";\n#line 1\n',
        "auto r = r\"//\"; char c = '/'; /* e */ `/+ raw +/` /+ open",
    ],
    "sql": [
        "-- c\nSELECT '/* no */' /* a /* nested */ b */ FROM t; # x\n",
        "CREATE FUNCTION f() AS $$ -- in $$ LANGUAGE sql; \"--\" /* open",
    ],
    "tcl": [
        '# c\nproc f {a} { return $a } ;# d\nset x "# no"\n',
        "if {$a} { # e\n  puts [list #f]\n} \\\n# g\n",
    ],
    "ini": [
        "; c\n[sec] # x\nkey = value ; d\n# e\n",
        "a: b \\\n  c # f\n[open\n",
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


@pytest.mark.parametrize("lang", sorted(MACHINE))
def test_machine_files(lang: str) -> None:
    paths = sorted({p for pat in MACHINE[lang] for p in glob.glob(pat) if os.path.getsize(p) < 300_000})[:8]
    if not paths:
        pytest.skip(f"no {lang} files on this machine")
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        assert _fastlex_c.split(lang, text) == split_pygments(lang, text), path


def test_usr_include_sample() -> None:
    headers = sorted(glob.glob("/usr/include/*.h"))[:40]
    if not headers:
        pytest.skip("no /usr/include")
    for path in headers:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for lang in ("c", "cpp"):
            assert _fastlex_c.split(lang, text) == split_pygments(lang, text), path


@pytest.mark.parametrize("lang", LANGS)
def test_first_character_sets_cover_every_match(lang: str) -> None:
    """Wherever a rule matches, the character there is in the set the dispatch files it under."""
    rng = random.Random(lang + "first")
    texts = [t for t in SNIPPETS[lang]] + [_mutate(t, rng) for t in SNIPPETS[lang] for _ in range(3)]
    lexer = BaseMakefileLexer() if lang == "makefile" else _fastlex_c._driver(lang).lexer
    checked = 0
    for rules in lexer._tokens.values():
        for rexmatch, _action, _new in rules:
            pat = rexmatch.__self__
            codes, nonascii = _fastlex_c._first_of(pat.pattern, pat.flags)
            for text in texts:
                for pos in range(len(text)):
                    if rexmatch(text, pos):
                        c = ord(text[pos])
                        assert (c in codes) if c < 128 else nonascii, (pat.pattern, text[pos])
                        checked += 1
    assert checked > 0
