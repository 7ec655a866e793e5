"""Fast code/comment split for Pygments RegexLexers (C, C++, Java, C#, JavaScript, shell, Rust, ...).

Pygments' ``RegexLexer`` tries the rules of the current state one by one, in Python, at every
token. This module runs the *same* rules, taken from the lexer's own compiled token table, so
the result is Pygments' by construction, but in far fewer Python steps:

- per state, one compiled alternation ``(?P<_0>rule0)|(?P<_1>rule1)|...`` picks the first
  matching rule in one call (regex alternation is ordered, exactly like the rule loop);
- per state, a "skip" pattern consumes, inside the regex engine, every run of tokens whose rule
  only emits a non-comment token type and keeps the state: ``(?>(?!E)P|...)*+`` where each plain
  rule ``P`` is guarded by a negative look-ahead on the rules with an effect (comment tokens,
  callbacks, state changes) that come before it, so a position where Pygments would pick one of
  those stops the run. The atomic group and the possessive repeat stop the regex engine from
  backtracking into a token, so every token is the one the lone rule would match.

Only the Python loop runs per "interesting" token (a comment, a string delimiter, a brace that
pushes or pops a state); callbacks (``bygroups``, ``using(this)``) are run as Pygments runs
them, with ``using(this)`` routed back into this scanner and ``using(OtherRegexLexer)`` (HTML's
scripts and styles) into this module's driver of that lexer. A ``bygroups`` of non-comment token
types counts as a plain rule. Makefiles get ``MakefileLexer``'s line pre-pass (``_makefile_scan``). A state whose rules cannot be combined
(back-references, inline global flags, named groups) is matched rule by rule, as Pygments does.
Checked differentially against Pygments; see tests/data/filter/test_fastlex_c.py.
"""

from __future__ import annotations

import re
from functools import cache

from pygments.lexer import Lexer, RegexLexer, bygroups, this, using
from pygments.lexers import get_lexer_by_name
from pygments.lexers.make import BaseMakefileLexer, MakefileLexer
from pygments.token import Comment, String, _TokenType

from ._fastlex import _assemble, _prepare

_COMMENT_TYPES = frozenset({Comment.Multiline, Comment.Single, String.Doc, Comment.Hashbang, Comment.Special})
_UNCOMBINABLE = re.compile(r"\(\?P[=<]|\(\?[aiLmsux]+\)|\\g<")
_BYGROUPS = bygroups(Comment).__code__
_USING_OTHER = using(Lexer).__code__
_USING_THIS = using(this).__code__


def _closure(action) -> dict:
    return dict(zip(action.__code__.co_freevars, (c.cell_contents for c in action.__closure__ or ()), strict=True))


def _plain(action) -> bool:
    """True when the rule's action never emits a comment token: a non-comment token type, or
    ``bygroups`` of such types (and ``None``)."""
    if type(action) is _TokenType:
        return action not in _COMMENT_TYPES
    if getattr(action, "__code__", None) is _BYGROUPS:
        return all(a is None or (type(a) is _TokenType and a not in _COMMENT_TYPES) for a in _closure(action)["args"])
    return False


def _drivable(cls) -> bool:
    """A lexer class whose tokens are exactly what ``RegexLexer`` makes of its token table."""
    return (
        isinstance(cls, type)
        and issubclass(cls, RegexLexer)
        and cls.get_tokens_unprocessed is RegexLexer.get_tokens_unprocessed
        and cls.__init__ is Lexer.__init__
    )


def _fast_action(action):
    """``using(OtherLexer)`` re-routed to this module's driver of ``OtherLexer`` (Pygments would
    build a fresh ``OtherLexer`` and run its rule loop); any other action unchanged."""
    if getattr(action, "__code__", None) is not _USING_OTHER:
        return action
    cl = _closure(action)
    other = cl["_other"]
    if cl["kwargs"] or not _drivable(other):
        return action
    stack = cl["gt_kwargs"].get("stack", ("root",))

    def callback(_lexer, match):
        sub: list[tuple[int, int]] = []
        text = match.group()
        _class_driver(other).scan(text, stack, sub)
        s = match.start()
        for a, b in sub:
            yield a + s, Comment.Single, text[a:b]

    return callback


class _Hang(Exception):
    """A rule matched empty without changing state: Pygments would loop forever."""


class _State:
    __slots__ = ("rules", "combo", "index", "skip")

    def __init__(self, rules: list, flags: int) -> None:
        rules = [(rex, _fast_action(action), new) for rex, action, new in rules]
        self.rules = rules
        pats: list[str] | None = []
        flags = re.compile("", flags).flags
        for rexmatch, _action, _new in rules:
            pat = rexmatch.__self__
            if (pat.flags != flags and pat.pattern) or _UNCOMBINABLE.search(pat.pattern):
                pats = None
                break
            pats.append(pat.pattern)
        self.combo = None
        self.skip = None
        if pats is None:
            return
        combo = []
        ngroups = 0
        for i, p in enumerate(pats):
            q, k = _rewrite(p, True, ngroups + 1)
            combo.append(f"(?P<_{i}>{q})")
            ngroups += k + 1
        self.combo = re.compile("|".join(combo), flags).match
        gi = self.combo.__self__.groupindex
        self.index = {gi[f"_{i}"]: i for i in range(len(pats))}
        # The skip pattern: one atomic alternation of all rules in order, where a rule with an
        # effect is only a look-ahead: when it is the first to match, the iteration is empty and
        # the possessive repeat stops there.
        alts = []
        any_plain = False
        for (_rex, action, new_state), p in zip(rules, pats, strict=True):
            q = _nocapture(p)
            if new_state is None and _plain(action):
                alts.append(f"(?:{q})")
                any_plain = True
            else:
                alts.append(f"(?={q})")
        if any_plain:
            self.skip = re.compile("(?>" + "|".join(alts) + ")*+", flags).match


def _rewrite(p: str, capture: bool, offset: int = 0) -> tuple[str, int]:
    """``p`` for use inside a bigger pattern, and its number of capturing groups.

    ``capture``: keep capturing groups and shift numeric back-references by ``offset`` (the
    groups before ``p`` in the combined pattern). Otherwise make every group non-capturing
    (CPython's ``re`` mis-tracks captures inside possessive repeats) and widen each back-reference
    to ``.*?``: the result matches a superset of what ``p`` matches, which is all a guard needs.
    """
    out = []
    i, n = 0, len(p)
    groups = 0
    in_class = False
    while i < n:
        c = p[i]
        if c == "\\":
            if not in_class and i + 1 < n and p[i + 1] in "123456789":
                j = i + 1
                while j < n and p[j].isdigit():
                    j += 1
                ref = int(p[i + 1 : j])
                out.append(f"(?:\\{ref + offset})" if capture else "(?s:.*?)")
                i = j
                continue
            out.append(p[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            # a ']' (after an optional '^') right after '[' is a literal
            if i < n and p[i] == "^":
                out.append("^")
                i += 1
            if i < n and p[i] == "]":
                out.append("]")
                i += 1
            continue
        elif c == "(" and not p.startswith("?", i + 1):
            groups += 1
            out.append("(" if capture else "(?:")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out), groups


def _nocapture(p: str) -> str:
    return _rewrite(p, False)[0]


class FastRegexLexer:
    """Drives one Pygments RegexLexer's token table; yields only comment tokens."""

    def __init__(self, lexer) -> None:
        self.lexer = lexer
        self.states = {name: _State(rules, lexer.flags) for name, rules in lexer._tokens.items()}

    # ``using(this)`` callbacks call this on the lexer they are given (``self`` here).
    def get_tokens_unprocessed(self, text: str, stack=("root",)):
        spans: list[tuple[int, int]] = []
        self.scan(text, stack, spans)
        for a, b in spans:
            yield a, Comment.Single, text[a:b]

    @property
    def options(self):
        return self.lexer.options

    def scan(self, text: str, stack, spans: list[tuple[int, int]]) -> None:
        states = self.states
        statestack = list(stack)
        st = states[statestack[-1]]
        pos = 0
        comment_types = _COMMENT_TYPES
        while True:
            if st.skip is not None:
                pos = st.skip(text, pos).end()
            if st.combo is not None:
                m = st.combo(text, pos)
                if m is None:
                    rule = None
                else:
                    rule = st.rules[st.index[m.lastindex]]
            else:
                rule = m = None
                for r in st.rules:
                    m = r[0](text, pos)
                    if m:
                        rule = r
                        break
            if rule is None:
                if pos >= len(text):
                    break
                if text[pos] == "\n":
                    statestack = ["root"]
                    st = states["root"]
                pos += 1
                continue
            rexmatch, action, new_state = rule
            end = m.end()
            if action is not None:
                if type(action) is _TokenType:
                    if action in comment_types:
                        spans.append((pos, end))
                else:
                    m2 = rexmatch(text, pos)
                    for i, t, v in action(self, m2):
                        if t in comment_types and v:
                            spans.append((i, i + len(v)))
            if new_state is None:
                if end == pos:
                    raise _Hang
                pos = end
                continue
            pos = end
            if isinstance(new_state, tuple):
                for state in new_state:
                    if state == "#pop":
                        if len(statestack) > 1:
                            statestack.pop()
                    elif state == "#push":
                        statestack.append(statestack[-1])
                    else:
                        statestack.append(state)
            elif isinstance(new_state, int):
                if abs(new_state) >= len(statestack):
                    del statestack[1:]
                else:
                    del statestack[new_state:]
            elif new_state == "#push":
                statestack.append(statestack[-1])
            st = states[statestack[-1]]


@cache
def _class_driver(cls) -> FastRegexLexer:
    return FastRegexLexer(cls())


@cache
def _driver(program_lang: str) -> FastRegexLexer:
    return _class_driver(type(get_lexer_by_name(program_lang)))


# Each checked equal to Pygments on every file of that language found on the development machine
# (/usr, npm, pyenv: counts in the commit log). JSON is not here: Pygments' JsonLexer is not a
# RegexLexer (and already lexes ~10 MB/s).
LANGS = frozenset(
    {"c", "cpp", "java", "csharp", "javascript"}
    | {"shell", "html", "typescript", "rust", "xml", "cmake", "d", "sql", "tcl", "ini", "makefile"}
)


def _makefile_scan(text: str, spans: list[tuple[int, int]]) -> None:
    """``MakefileLexer``: directive and comment lines are whole-line code tokens inserted into the
    ``BaseMakefileLexer`` stream of the other lines; map that stream's comment spans back."""
    special, comment = MakefileLexer.r_special.match, MakefileLexer.r_comment.match
    runs: list[tuple[int, int, int]] = []  # (start in ``done``, end in ``done``, start in ``text``)
    done: list[str] = []
    dlen = pos = 0
    backslash = False
    for line in text.splitlines(keepends=True):
        if special(line) or backslash:
            backslash = line.strip().endswith("\\")
        elif not comment(line):
            if runs and runs[-1][1] == dlen and runs[-1][2] + (dlen - runs[-1][0]) == pos:
                runs[-1] = (runs[-1][0], dlen + len(line), runs[-1][2])
            else:
                runs.append((dlen, dlen + len(line), pos))
            done.append(line)
            dlen += len(line)
        pos += len(line)
    sub: list[tuple[int, int]] = []
    _class_driver(BaseMakefileLexer).scan("".join(done), ("root",), sub)
    k = 0
    for a, b in sub:
        if a == b:
            continue
        while a >= runs[k][1]:
            k += 1
        j = k
        while a < b:
            r0, r1, t0 = runs[j]
            e = min(b, r1)
            spans.append((t0 + a - r0, t0 + e - r0))
            a = e
            j += 1


def split(program_lang: str, text: str) -> tuple[str, str] | None:
    """(code, comments) as Pygments splits them, or None for a language not handled here."""
    if program_lang not in LANGS:
        return None
    text = _prepare(text)
    spans: list[tuple[int, int]] = []
    try:
        if program_lang == "makefile":
            _makefile_scan(text, spans)
        else:
            _driver(program_lang).scan(text, ("root",), spans)
    except (_Hang, RecursionError):
        return None
    return _assemble(text, spans)
