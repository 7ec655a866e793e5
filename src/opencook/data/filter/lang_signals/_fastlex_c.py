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
import re._constants as _c
import re._parser as _parser
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
    """One lexer state: its rules, and per first character the combined patterns that can match there.

    ``disp[c]`` (``c`` ASCII; ``nonascii`` for the rest) is ``(combo, rule_of_group)`` over only the
    rules whose match can start with ``c`` (their order kept), or None when none can; ``full`` is
    the same over all rules, for the end of the text; ``skip`` dispatches the same way inside the
    regex engine. ``combo`` is None when the rules cannot be combined.
    """

    __slots__ = ("rules", "combo", "disp", "nonascii", "full", "skip")

    def __init__(self, rules: list, flags: int, owner) -> None:
        rules = [(rex, _fast_action(action), new) for rex, action, new in rules]
        self.rules = [(rule[0], _entry(rule, 0, owner)) for rule in rules]
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
        self.full = _combo(rules, pats, range(len(pats)), flags, owner)
        self.combo = self.full[0]
        firsts = [_first_of(p, flags) for p in pats]
        groups = _char_groups(firsts)
        self.disp = {}
        cache: dict[tuple[int, ...], tuple | None] = {}
        for chars, members in groups:
            ent = cache.get(members)
            if ent is None and members:
                if pats[members[0]] == "":  # ``default(...)``: the first candidate always matches
                    ent = (None, self.full[1][self.full[0].__self__.groupindex[f"_{members[0]}"]])
                else:
                    ent = _combo(rules, pats, members, flags, owner)
                cache[members] = ent
            for c in chars:
                self.disp[c] = ent
        self.nonascii = self.disp.pop(None, None)
        # The skip pattern: one atomic alternation of all rules in order, where a rule with an
        # effect is only a look-ahead: when it is the first to match, the iteration is empty and
        # the possessive repeat stops there. Each first-character class gets its own branch of
        # only the rules that can start with it, so the engine tries few rules per token.
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
            branches = []
            for chars, members in groups:
                if members:
                    guard = "[^\\x00-\\x7f]" if chars == [None] else _char_class(c for c in chars if c is not None)
                    if None in chars and chars != [None]:
                        guard = f"(?:{guard}|[^\\x00-\\x7f])"
                    branches.append(f"(?={guard})(?:" + "|".join(alts[i] for i in members) + ")")
            if branches:
                self.skip = re.compile("(?>" + "|".join(branches) + ")*+", flags).match


def _combo(rules: list, pats: list[str], members, flags: int, owner) -> tuple:
    """``(match, {group number: rule})`` of the alternation ``(?P<_i>rule_i)|...`` over ``members``."""
    combo = []
    ngroups = 0
    for i in members:
        q, k = _rewrite(pats[i], True, ngroups + 1)
        combo.append(f"(?P<_{i}>{q})")
        ngroups += k + 1
    match = re.compile("|".join(combo), flags).match
    gi = match.__self__.groupindex
    return match, {gi[f"_{i}"]: _entry(rules[i], gi[f"_{i}"], owner) for i in members}


_NOOP, _COMMENT, _GROUPS, _CALL = range(4)  # _NOOP must be 0 (falsy): the scan tests ``if kind``


def _entry(rule: tuple, base: int, owner) -> list:
    """``[kind, groups, transition, rexmatch, action, new_state]`` of a rule whose groups are numbered from
    ``base + 1`` in the pattern that matched it. A ``bygroups`` of token types and ``using``
    callbacks is read off that match (``_GROUPS``: ``(group number, None)`` for a comment-typed
    group, ``(group number, (lexer, stack))`` for a group lexed by ``lexer``: ``owner``, the
    driver lexing this state, for ``using(this)``, else a lexer class this module drives); other
    callbacks run on the rule's own match (``_CALL``). ``transition`` is set by ``_link``."""
    rexmatch, action, new_state = rule
    if action is None or (type(action) is _TokenType and action not in _COMMENT_TYPES):
        return [_NOOP, (), None, rexmatch, action, new_state]
    if type(action) is _TokenType:
        return [_COMMENT, (), None, rexmatch, action, new_state]
    if getattr(action, "__code__", None) is _BYGROUPS:
        args = _closure(action)["args"]
        groups = []
        for i, a in enumerate(args):
            if a is None or (type(a) is _TokenType and a not in _COMMENT_TYPES):
                continue
            if type(a) is _TokenType:
                groups.append((base + i + 1, None))
                continue
            sub = _using_target(a, owner)
            if sub is None:
                break
            groups.append((base + i + 1, sub))
        else:
            if len(args) <= rexmatch.__self__.groups:
                return [_GROUPS if groups else _NOOP, tuple(groups), None, rexmatch, action, new_state]
    return [_CALL, (), None, rexmatch, action, new_state]


_PUSH, _POP, _OTHER = range(3)


def _link(entry: list, states: dict) -> None:
    """Pygments' ``new_state`` as a transition on a stack of ``_State`` objects: ``(_PUSH, states)``,
    ``(_POP, negative count)`` or ``(_OTHER, names)`` with ``#pop``/``#push`` among them."""
    new = entry[5]
    if new is None:
        entry[2] = None
    elif isinstance(new, tuple) and new and not any(n in ("#pop", "#push") for n in new):
        entry[2] = (_PUSH, tuple(states[n] for n in new))
    elif isinstance(new, int):
        entry[2] = (_POP, new)
    elif isinstance(new, tuple):
        entry[2] = (_OTHER, new)
    elif new == "#push":
        entry[2] = (_OTHER, ("#push",))
    else:
        raise ValueError(f"unknown new state {new!r}")


def _using_target(action, owner) -> tuple | None:
    """``(lexer, stack)`` of a ``using(this)`` or ``using(DrivableLexer)`` callback without options."""
    code = getattr(action, "__code__", None)
    if code is not _USING_THIS and code is not _USING_OTHER:
        return None
    cl = _closure(action)
    if cl["kwargs"]:
        return None
    stack = tuple(cl["gt_kwargs"].get("stack", ("root",)))
    if code is _USING_THIS:
        return owner, stack
    return (cl["_other"], stack) if _drivable(cl["_other"]) else None


def _char_class(chars) -> str:
    return "[" + "".join(f"\\x{ord(c):02x}" for c in chars) + "]"


_ASCII = frozenset(range(128))
_CATEGORY = {
    "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
}


def _first_of(pattern: str, flags: int) -> tuple[frozenset[int], bool]:
    """A superset of the characters a match of ``pattern`` can start with: (ASCII codes, whether
    any non-ASCII one). A pattern that can match empty can start anywhere."""
    parsed = _parser.parse(pattern, flags)
    codes, nonascii, nullable = _first(parsed.data, parsed.state.flags)
    return (_ASCII, True) if nullable else (frozenset(codes), nonascii)


def _first(items, flags: int) -> tuple[set[int], bool, bool]:
    """(ASCII codes, non-ASCII?, unconstrained) of a parsed sequence: a match at ``pos`` needs
    ``text[pos]`` among the codes (or non-ASCII), unless it can match empty whatever follows.
    Zero-width items are skipped, except a leading look-ahead, which constrains ``text[pos]``."""
    codes: set[int] = set()
    nonascii = False
    ahead: tuple[set[int], bool] | None = None
    leading = True
    for op, av in items:
        if op is _c.ASSERT and av[0] == 1 and leading:
            c, n, e = _first(av[1], flags)
            if not e:
                ahead = (c, n) if ahead is None else (ahead[0] & c, ahead[1] and n)
            continue
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        leading = False
        c, n, nullable = _first_item(op, av, flags)
        codes |= c
        nonascii |= n
        if not nullable:
            break
    else:
        if ahead is None:
            return codes, nonascii, True
        return set(ahead[0]), ahead[1], False
    if ahead is not None:
        return codes & ahead[0], nonascii and ahead[1], False
    return codes, nonascii, False


def _first_item(op, av, flags: int) -> tuple[set[int], bool, bool]:
    if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
        if flags & (re.IGNORECASE | re.ASCII | re.LOCALE):
            return set(_ASCII), True, False
        if op is _c.LITERAL:
            return ({av} if av < 128 else set()), av >= 128, False
        if op is _c.NOT_LITERAL:
            return set(_ASCII - {av}), True, False
        if op is _c.ANY:
            return set(_ASCII if flags & re.DOTALL else _ASCII - {10}), True, False
        return (*_in_set(av), False)
    if op is _c.BRANCH:
        codes: set[int] = set()
        nonascii = nullable = False
        for seq in av[1]:
            c, n, e = _first(seq, flags)
            codes |= c
            nonascii |= n
            nullable |= e
        return codes, nonascii, nullable
    if op is _c.SUBPATTERN:
        _group, add, remove, seq = av
        return _first(seq, (flags | add) & ~remove)
    if op is _c.ATOMIC_GROUP:
        return _first(av, flags)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        lo, hi, seq = av
        if hi == 0:
            return set(), False, True
        c, n, e = _first(seq, flags)
        return c, n, e or lo == 0
    return set(_ASCII), True, True  # back-references and anything else: anywhere


def _in_set(items) -> tuple[set[int], bool]:
    codes: set[int] = set()
    nonascii = False
    negate = False
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            if av < 128:
                codes.add(av)
            else:
                nonascii = True
        elif op is _c.RANGE:
            codes.update(range(av[0], min(av[1], 127) + 1))
            nonascii |= av[1] >= 128
        elif op is _c.CATEGORY and str(av) in _CATEGORY:
            cat = re.compile(_CATEGORY[str(av)])
            codes.update(i for i in _ASCII if cat.match(chr(i)))
            nonascii = True
        else:
            return set(_ASCII), True
    if negate:
        return set(_ASCII - codes), True
    return codes, nonascii


def _char_groups(firsts: list[tuple[frozenset[int], bool]]) -> list[tuple[list, tuple[int, ...]]]:
    """Characters grouped by the rules (indices, in order) that can start there; ``None`` stands
    for every non-ASCII character. Groups with the most common code characters come first."""
    by_members: dict[tuple[int, ...], list] = {}
    for code in range(128):
        members = tuple(i for i, (codes, _n) in enumerate(firsts) if code in codes)
        by_members.setdefault(members, []).append(chr(code))
    members = tuple(i for i, (_codes, n) in enumerate(firsts) if n)
    by_members.setdefault(members, []).append(None)
    common = " \n\tetaoinsrlcdu_(),;.=*/{}"
    return sorted(
        ((chars, m) for m, chars in by_members.items()),
        key=lambda cm: -sum(c in cm[0] for c in common),
    )


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
        self.states = {name: _State(rules, lexer.flags, self) for name, rules in lexer._tokens.items()}
        for st in self.states.values():
            for _rex, entry in st.rules:
                _link(entry, self.states)
            if st.combo is not None:
                for ent in (st.full, st.nonascii, *st.disp.values()):
                    if ent is not None:
                        for entry in ent[1].values() if ent[0] is not None else (ent[1],):
                            _link(entry, self.states)

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
        root = states["root"]
        statestack = [states[name] for name in stack]
        st = statestack[-1]
        pos = 0
        n = len(text)
        comment_types = _COMMENT_TYPES
        while True:
            if st.skip is not None:
                pos = st.skip(text, pos).end()
            rule = None
            if st.combo is not None:
                ent = st.disp.get(text[pos], st.nonascii) if pos < n else st.full
                if ent is not None:
                    if ent[0] is None:
                        rule = ent[1]
                        end = pos
                    else:
                        m = ent[0](text, pos)
                        if m is not None:
                            rule = ent[1][m.lastindex]
                            end = m.end()
            else:
                for rexmatch, r in st.rules:
                    m = rexmatch(text, pos)
                    if m:
                        rule = r
                        end = m.end()
                        break
            if rule is None:
                if pos >= n:
                    break
                if text[pos] == "\n":
                    statestack = [root]
                    st = root
                pos += 1
                continue
            kind, groups, trans, rexmatch, action, _new = rule
            if kind:
                if kind == _COMMENT:
                    spans.append((pos, end))
                elif kind == _GROUPS:
                    for g, sub in groups:
                        a, b = m.span(g)
                        if sub is None:
                            if a < b:
                                spans.append((a, b))
                        elif a >= 0:
                            lexer = sub[0] if type(sub[0]) is FastRegexLexer else _class_driver(sub[0])
                            inner: list[tuple[int, int]] = []
                            lexer.scan(text[a:b], sub[1], inner)
                            spans.extend((x + a, y + a) for x, y in inner)
                else:
                    for i, t, v in action(self, rexmatch(text, pos)):
                        if t in comment_types and v:
                            spans.append((i, i + len(v)))
            if trans is None:
                if end == pos:
                    raise _Hang
                pos = end
                continue
            pos = end
            op, arg = trans
            if op == _PUSH:
                statestack.extend(arg)
                st = arg[-1]
                continue
            if op == _POP:
                if -arg >= len(statestack):
                    del statestack[1:]
                else:
                    del statestack[arg:]
            else:
                for name in arg:
                    if name == "#pop":
                        if len(statestack) > 1:
                            statestack.pop()
                    elif name == "#push":
                        statestack.append(statestack[-1])
                    else:
                        statestack.append(states[name])
            st = statestack[-1]


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
