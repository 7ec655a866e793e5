"""``_esprima_fast`` gives stock esprima 4.0.1's trees and errors; ``javascript.parse`` its verdicts."""

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import esprima
import pytest

from opencook.data.filter.lang_signals import _esprima_fast as fast
from opencook.data.filter.lang_signals import javascript
from opencook.data.filter.lang_signals._common import SignalFailure

MODES = [
    ("script", esprima.parseScript, fast.parse_script),
    ("module", esprima.parseModule, fast.parse_module),
]

SNIPPETS = {
    "spaces_tabs_vt_ff": "var a\t=\x0b1;\x0c  b  =  a  +  2 ;",
    "unicode_whitespace": "var\u00a0a\u2003=\ufeff1;\u3000a\u202f+\u205fa\u1680;\u180e",
    "crlf_cr_ls_ps": "var a = 1;\r\nvar b = 2;\rvar c = 3;\u2028var d = 4;\u2029a\r\n++\r\nb\n",
    "asi_over_newlines": "a\nb\n\n\nc = d\n(e)\nreturnValue\n",
    "line_comments": "// top\r\nvar a = 1; // tail\n//\u2028b // end without newline",
    "block_comments": "/* a\r\n b\n c\u2029 */ x /**/ = /* x */ 1 /* multi\nline */\ny /***/ /* ** */ ;",
    "html_open_comment": "<!-- hidden\nvar a = 1; <!-- also hidden\na < !b;",
    "html_close_comment": "--> at start\nvar a = 1;\n   --> after newline\n/* c */ --> after comment\nx-->y;",
    "html_close_after_crlf": "a\r\n--> comment\r\nb",
    "unterminated_block_comment": "var a = 1; /* open\r\n\n",
    "unicode_identifiers": "var café = 1, π = 2, ℮x = 3, x\u200d = 4, $_ = 5; café + π;",
    "escaped_identifiers": "var \\u0061bc = 1, d\\u0065f = 2, \\u{67}h = 3; abc + def;",
    "escaped_keyword": "var x = { \\u0069f: 1 }; x.\\u0069f;",
    "astral_identifier": "var \U0001d49c = 1; \U0001d49c;",
    "regex_vs_division": "a = b / c / d; e = /re[/]gex/gi.test(f) / 2; g = (h) / i; j = /=/; k /= 2;",
    "regex_after_keywords": "return_ = typeof /x/; if (/a/.test(s)) x = s.split(/\\s+/)",
    "templates": "t = `a${b + `n${c}`}d` + `\r\n${'}'}` + tag`x\\u0041${{a: 1}.a}`;",
    "strings": "s = 'a\"b' + \"c'd\" + 'e\\n\\x41\\u0042\\u{43}' + '\\101' + \"line\\\r\ncont\" + '';",
    "numbers": "n = [0, 7, 42, 0x1F, 0b101, 0o17, 017, 09, 1.5, .5, 5., 1e3, 2E-2, 12345678901234567890, 3];",
    "punctuators": "a >>>= b >>> c >> d << e; f === g !== h; i **= j ** k; l = 0 || m && n; o = [...p]; q => r;",
    "es2020_fails": "const v = a?.b ?? c;",
    "curly_and_template_stack": "function f() { if (a) { return `${ {b: {c: 1}} }` } }",
    "strict_reserved": '"use strict"; var let = 1;',
    "nul_char": "var a = 1;\x00",
    "lone_surrogate": "var a = '\ud800'; \ud800",
    "object_rest": "const {a, ...rest} = obj;",
    "unterminated_string": "var s = 'abc\nd';",
    "unterminated_template": "var t = `abc",
    "bad_char": "var a = #b;",
    "number_then_identifier": "var a = 3in [1];",
    "import_export": "import x, { y as z } from './m.js';\nexport default function () { return z; }\nexport { x };",
    "html_comment_in_module": "x = 1; <!-- not a comment in a module",
    "empty": "",
    "only_whitespace": " \n\t\r\n ",
}


def _outcome(parse, text: str):
    """What a parse function does with ``text``: the tree as a dict, the error's dict, or the crash class."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # esprima compiles JS regexes with re: FutureWarnings
            return "tree", parse(text).toDict()
    except esprima.Error as exc:
        return "error", exc.toDict()
    except Exception as exc:  # noqa: BLE001
        return "crash", type(exc).__name__


@pytest.mark.parametrize("name", sorted(SNIPPETS))
@pytest.mark.parametrize("mode,stock,ours", MODES, ids=[m[0] for m in MODES])
def test_snippets_match_stock(name, mode, stock, ours):
    text = SNIPPETS[name]
    assert _outcome(ours, text) == _outcome(stock, text)


def test_snippets_cover_success_and_failure():
    """The snippet set exercises both outcomes (a set that only parses would prove little)."""
    kinds = {_outcome(esprima.parseScript, text)[0] for text in SNIPPETS.values()}
    assert kinds == {"tree", "error"}


def _npm_js_files() -> list[Path]:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: no global npm packages to compare esprima on")
    root = Path(
        subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, check=True).stdout.strip()
    )
    files = sorted(p for p in root.rglob("*.js") if p.is_file())
    if not files:
        pytest.skip(f"no .js files under npm root -g ({root})")
    return files


@pytest.mark.slow
def test_npm_files_match_stock():
    """Every .js file of the global npm packages: same tree or same error, in both modes."""
    files = _npm_js_files()
    outcomes = {"tree": 0, "error": 0, "crash": 0}
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for mode, stock, ours in MODES:
            expected = _outcome(stock, text)
            assert _outcome(ours, text) == expected, f"{path} ({mode})"
            outcomes[expected[0]] += 1
    assert outcomes["tree"] > 0 and outcomes["error"] > 0, outcomes


def _stock_parse(text: str):
    """``javascript.parse`` as it was before ``_esprima_fast``: stock esprima only."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, javascript._RECURSION_LIMIT))
    try:
        return javascript.parse_stock(text)
    finally:
        sys.setrecursionlimit(old)


def _verdict(parse, text: str):
    try:
        tree = parse(text)
    except SignalFailure as exc:
        return "crash", str(exc)
    return ("none", None) if tree is None else ("tree", tree.toDict())


def _nested(depth: int) -> str:
    return "x = " + "(" * depth + "1" + ")" * depth + ";"


def test_parse_at_the_recursion_limit_is_stock_esprimas():
    """Around the nesting depth where stock esprima starts to crash, ``parse`` answers as it does."""
    lo, hi = 1, 2000
    assert _verdict(_stock_parse, _nested(lo))[0] == "tree"
    assert _verdict(_stock_parse, _nested(hi))[0] == "crash"
    while hi - lo > 1:  # the deepest nesting stock esprima still parses
        mid = (lo + hi) // 2
        if _verdict(_stock_parse, _nested(mid))[0] == "tree":
            lo = mid
        else:
            hi = mid
    for depth in (lo - 3, lo - 1, lo, hi, hi + 1):
        assert _verdict(javascript.parse, _nested(depth)) == _verdict(_stock_parse, _nested(depth)), depth


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_parse_verdicts_match_stock(name):
    assert _verdict(javascript.parse, SNIPPETS[name]) == _verdict(_stock_parse, SNIPPETS[name])


@pytest.mark.parametrize(
    "options", [{"range": True, "loc": True, "tokens": True, "comment": True}, {"tolerant": True}]
)
def test_other_options_take_the_original_paths(options):
    """Ranges, locations, tokens, comments and tolerance (unused by the filter) still come out as stock."""
    text = SNIPPETS["block_comments"] + SNIPPETS["templates"] + SNIPPETS["regex_vs_division"]
    ours = fast.FastParser(text, options=dict(options, sourceType="script"))
    stock = esprima.parser.Parser(text, options=dict(options, sourceType="script"))
    assert ours.parseScript().toDict() == stock.parseScript().toDict()
    assert [t.toDict() for t in ours.tokens] == [t.toDict() for t in stock.tokens]
