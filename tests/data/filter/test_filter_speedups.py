"""The throughput rewrites of issue 17 item 10 give the values of the plain computations they replace."""

import random
import signal
import sysconfig
import time
from collections import Counter
from pathlib import Path

import pytest
import regex

from opencook.data.filter import comments, general_signals
from opencook.data.filter import evaluate as evaluate_mod
from opencook.data.filter.document import Document
from opencook.data.filter.evaluate import evaluate
from opencook.data.filter.lang_signals import _fastlex, _fastlex_c

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PY_FILES = ["json/decoder.py", "textwrap.py", "csv.py", "dataclasses.py", "argparse.py"]


def _real_files() -> list[tuple[str, str, str]]:
    """(text, filename, program_lang): stdlib Python files, and C/C++/Go files of the conformance set."""
    out = [((STDLIB / p).read_text(encoding="utf-8"), Path(p).name, "python") for p in PY_FILES]
    from filter_conformance import default_dir

    files = default_dir(Path(__file__).resolve().parents[3]) / "files"
    for ext, lang in (
        ("c", "c"),
        ("cpp", "cpp"),
        ("h", "c"),
        ("go", "go"),
        ("java", "java"),
        ("cs", "csharp"),
        ("js", "javascript"),
    ):
        out += [
            (p.read_text(encoding="utf-8", errors="replace"), p.name, lang)
            for p in sorted(files.rglob(f"*.{ext}"))[:3]
        ]
    return out


def test_reference_mode_gives_the_pygments_split_values_without_lexing_twice(monkeypatch):
    """Reference mode's language signals use the scanners' split (shared with the general signals);
    every signal equals what the same file gives when every split is Pygments' own."""
    files = _real_files()
    lexed: list[str] = []
    real_split_pygments = comments.split_pygments

    def counting(lang, text):
        lexed.append(lang)
        return real_split_pygments(lang, text)

    monkeypatch.setattr(comments, "split_pygments", counting)
    fast = [
        evaluate(t, n, n.rsplit(".", 1)[-1], lang, "code", random.Random(0), compat="reference")
        for t, n, lang in files
    ]
    assert lexed == []  # python, go (hand-written scanners) and the C family (_fastlex_c): no Pygments pass
    monkeypatch.setattr(_fastlex, "split", lambda lang, text: None)
    monkeypatch.setattr(_fastlex_c, "split", lambda lang, text: None)
    comments._cache.clear()
    slow = [
        evaluate(t, n, n.rsplit(".", 1)[-1], lang, "code", random.Random(0), compat="reference")
        for t, n, lang in files
    ]
    assert len(lexed) == len(files)  # each file lexed once by Pygments, for both signal families
    for (_, name, _), a, b in zip(files, fast, slow, strict=True):
        assert a.signals == b.signals, name
        assert (a.kept, a.hits) == (b.kept, b.hits), name


@pytest.mark.parametrize("path", PY_FILES[:3])
def test_ngram_occurrences_equal_a_counter_of_word_tuples(path):
    doc = Document((STDLIB / path).read_text(encoding="utf-8"))
    words = doc.words
    for n in range(1, 11):
        grams = [words[i : i + n] for i in range(len(words) - n + 1)]
        counts = Counter(grams)
        assert doc.ngram_occurrences(n).tolist() == [counts[g] for g in grams], n
        if n >= 2:
            assert doc.ngram_top_count(n) == max(counts.values()), n


def test_ngram_occurrences_in_any_order_and_without_repeats():
    doc = Document("alpha beta gamma alpha beta delta alpha beta gamma epsilon")
    assert doc.ngram_occurrences(3).tolist() == [2, 1, 1, 1, 1, 1, 2, 1]  # asked before n = 2
    assert doc.ngram_occurrences(2).tolist() == [3, 2, 1, 3, 1, 1, 3, 2, 1]
    assert doc.ngram_top_count(4) == 1 and doc.ngram_top_count(5) == 1
    unique = Document("one two three four five six seven eight nine ten eleven")
    assert unique.ngram_top_count(2) == 1 and unique.ngram_occurrences(10).tolist() == [1, 1]


def test_a_signal_past_its_time_limit_is_null_and_no_alarm_is_left(monkeypatch):
    def slow(doc):
        time.sleep(2.0)  # interrupted by the alarm
        return 1.0

    monkeypatch.setattr(evaluate_mod, "SIGNAL_TIMEOUT_S", 0.2)
    real = general_signals.general_signals

    def with_slow(compat="fixed"):
        sigs = real(compat)
        return [*sigs[:3], ("qsc_code_frac_lines_assert", slow), *sigs[3:]]

    monkeypatch.setattr(evaluate_mod, "general_signals", with_slow)
    before = signal.getsignal(signal.SIGALRM)
    text = (STDLIB / "textwrap.py").read_text(encoding="utf-8")
    t = time.perf_counter()
    v = evaluate(text, "textwrap.py", "py", "python", "code", random.Random(0), compat="fixed")
    assert time.perf_counter() - t < 1.9  # the sleep was cut short
    assert v.errors == {"qsc_code_frac_lines_assert": "timeout"}
    assert v.signals["qsc_code_num_lines"] > 0  # the other signals ran, each with its own limit
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def _encoded_matches_plainly(text: str) -> list[list[str]]:
    return [general_signals._findall(p, text) for p in general_signals._ENCODED]


ENCODED_EDGES = [
    "A" * 63 + " " + "B" * 63,  # two runs just short of the base64 length
    "x = '" + "Qm9vaw==" * 8 + "'\n",  # exactly 64
    "é" + "a" * 64 + "é" + "b" * 70,  # non-ASCII characters break a run, as in the pattern
    "\ud800" + "c" * 80,  # a lone surrogate
    "de ad be ef ca fe ba be\n",  # eight pairs joined by spaces
    "de ad be ef ca fe ba\n",  # seven
    "0x1f,0x2e,0x3d,0x4c,0x5b,0x6a,0x79,0x88",
    "\\x41\\x42\\x43\\x44\\x45\\x46\\x47\\x48",
    "1a, 2b, 3c, 4d, 5e, 6f, 7a, 8b",  # comma then space: the pattern does not continue
    "11\u200312\u200313\u200314\u200315\u200316\u200317\u200318",  # a Unicode space
    "11\x1c12\x1c13\x1c14\x1c15\x1c16\x1c17\x1c18",  # a space to Python, not to regex
    "deadbeefcafebabe0123456789abcdef",
    "",
]


@pytest.mark.parametrize("text", ENCODED_EDGES)
def test_encoded_data_skips_only_patterns_that_cannot_match(text):
    skipped = set(map(id, general_signals._ENCODED)) - set(
        map(id, general_signals._encoded_patterns_that_can_match(text))
    )
    plain = _encoded_matches_plainly(text)
    for pattern, matches in zip(general_signals._ENCODED, plain, strict=True):
        if id(pattern) in skipped:
            assert matches == [], (pattern.pattern, text)


def test_encoded_data_prefilter_keeps_the_real_matches_and_skips_most_files():
    texts = [t for t, _, _ in _real_files()]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(STDLIB.glob("*.py"))[:80]]
    texts += ENCODED_EDGES
    skipped = 0
    for text in texts:
        kept = set(map(id, general_signals._encoded_patterns_that_can_match(text)))
        for pattern, matches in zip(general_signals._ENCODED, _encoded_matches_plainly(text), strict=True):
            if id(pattern) not in kept:
                skipped += 1
                assert matches == [], pattern.pattern
    assert skipped > len(texts)  # on real code most files skip both costly patterns
    doc = Document(ENCODED_EDGES[4] * 200, program_lang="c")
    assert general_signals.cate_encoded_data(doc) == 1.0


# The reference's C/C++ patterns, before their repeats were made possessive.
_M = regex.MULTILINE
REFERENCE_CFAMILY = {
    "_FUNCTION": regex.compile(r"\b(?:[a-zA-Z_]\w*\s*\**\s+)+\*?\s*[a-zA-Z_]\w*\([^)]*\)\s*"),
    "_INCLUDE": regex.compile(r'^\s*#\s*include\s+["<][^">]+[">]', _M),
    "_CLASS": regex.compile(r"^\s*class\s+\w+\s*(?::[^{]*)?\{", _M),
    "_SIMPLE_VAR": regex.compile(
        r"^\s*(?:unsigned\s+)?(?:int|float|double|char|bool|std::string|auto)\s+\w+\s*;", _M
    ),
    "_SIMPLE_RETURN": regex.compile(
        r"""^\s*return\s*(?:(?:\w+|\d+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|true|false|nullptr)\s*)?;\s*$""",
        _M,
    ),
}
FUNCTION_EDGES = [
    "char *foo(void);\nint * * bar (int a);\nstatic const struct s *baz(x)\n",
    "a *b *c(d)\nreturn foo(x);\nx = y(z);\nunsigned long long int f ( )",
    "int\n\n  main(int argc, char **argv)\n{\n}\n#define F(x) g(x)\n",
    "typedef void (*handler)(int);\nvoid * const* p(q)\n*r(s)\n_t u_v(w)",
    "\n\n  #  include <a.h>\n\t class A : public B {\n  unsigned int x ;\n\n  return\n 0;\n  return 'c';\n",
]


@pytest.mark.parametrize("name", sorted(REFERENCE_CFAMILY))
def test_possessive_cfamily_patterns_find_the_reference_matches(name):
    from opencook.data.filter.lang_signals import cfamily

    codes = FUNCTION_EDGES + [comments.code_and_comments(lang, t)[0] for t, _, lang in _real_files()]
    codes += [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(Path("/usr/include").glob("*.h"))[:150]
    ]
    assert len(codes) > 20
    total = 0
    for code in codes:
        want = [m.span() for m in REFERENCE_CFAMILY[name].finditer(code)]
        assert [m.span() for m in getattr(cfamily, name).finditer(code)] == want
        total += len(want)
    assert total > 2
