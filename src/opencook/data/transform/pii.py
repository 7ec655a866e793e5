"""Replace personal data and secrets with placeholders: ``<email>``, ``<ip_address>``, ``<password>``, ``<key>``.

RefineCode fixes such files rather than dropping them. Every replacement keeps the code
syntactically valid: inside a string literal only the literal's content is replaced, never its
quotes. Patterns are compiled once at import; each is guarded by a cheap substring test so a
file without ``@`` never runs the email regex, and so on.

Rules (see docs/transform.md for the reasoning):

- ``<key>``: private-key PEM blocks (the whole block), well-known token formats (AWS key ids,
  GitHub, GitLab, Slack, Google API, Stripe secret, OpenAI, Anthropic, Hugging Face, npm,
  SendGrid, JWTs), and quoted values assigned to secret/token/api-key names.
- ``<password>``: quoted values assigned to password-like names; in config languages (YAML, INI,
  .env, Shell, properties) also unquoted values that end the line.
- ``<email>``: addresses, except reserved example domains (example.com, *.test, ...) and
  image names such as ``icon@2x.png``.
- ``<ip_address>``: IPv4 and IPv6 addresses that are globally routable (``ipaddress.is_global``);
  private, loopback, link-local and documentation ranges are kept, as are the public DNS
  resolvers, and dotted numbers that follow the word "version"/"release"/"build" or a "v".
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

from opencook.data.transform.anchors import lines_matching, lines_with, sub_in_spans

# ---------------------------------------------------------------- private keys and token formats

_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?-----END \1-----", re.DOTALL
)

# (hints, pattern): the pattern runs only when one of its literal hints occurs in the file. A
# leading ``\b`` or lookbehind would make CPython scan slowly, so boundaries are checked after
# the literal prefix instead (``(?<![\w]ghp_)`` style) where the hint is a common substring.
_TOKENS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (hints, re.compile(p))
    for hints, p in [
        (("AKIA", "ASIA"), r"(?<![A-Z0-9])A(?:KIA|SIA)[A-Z0-9]{16}(?![A-Z0-9])"),
        (("ghp_", "gho_", "ghs_", "ghu_", "ghr_"), r"\b(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36}\b"),
        (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{60,}"),
        (("glpat-",), r"\bglpat-[A-Za-z0-9_-]{20,}"),
        (("xox",), r"xox(?<![\w]xox)[abposr]-[A-Za-z0-9-]{10,}"),
        (("hooks.slack.com",), r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"),
        (("AIza",), r"AIza(?<![\w-]AIza)[0-9A-Za-z_-]{35}(?![\w-])"),
        (("k_live_", "k_test_"), r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{20,}\b"),
        (("sk-",), r"sk-(?<![\w]sk-)(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{32,}"),
        (("hf_",), r"hf_(?<![\w]hf_)[A-Za-z0-9]{34,}\b"),
        (("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b"),
        (("SG.",), r"\bSG\.[\w-]{22}\.[\w-]{43}\b"),
        (("eyJ",), r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ]
)

# ---------------------------------------------------------------- secrets in assignments

_PASSWORD_WORDS = r"password|passwd|passphrase|pwd|credentials?"
_KEY_WORDS = r"secret|key|token"
# A bare ``key`` is usually a dict key or a setting name; it is a secret only after one of these.
_KEY_QUALIFIERS = ("api", "access", "secret", "private", "auth", "signing", "encryption", "master", "client")

# Matched *at* an anchor (a secret word found with ``str.find``): the word must end the name
# (``db_password``, ``apiKey``), so ``password_label`` and ``token_type`` are not secrets; an
# optional type annotation may sit between the name and the operator.
_ASSIGN_AT = re.compile(
    rf"(?i:(?P<word>{_PASSWORD_WORDS}|{_KEY_WORDS}))(?![\w-])['\"]?\]?"
    r"(?:[ \t]*:[ \t]*[A-Za-z_][\w.\[\] |]*?)?[ \t]*(?::=|=>|==|=|:)[ \t]*"
    r"(?:[rRbBuU]{1,2})?(?:\"(?P<dq>[^\"\n\\]*(?:\\.[^\"\n\\]*)*)\"|'(?P<sq>[^'\n\\]*(?:\\.[^'\n\\]*)*)')"
)
_ANCHOR_WORDS = ("pass", "pwd", "credential", "secret", "key", "token")
_ASSIGN_ANCHORS = tuple(v for w in _ANCHOR_WORDS for v in (w, w.capitalize(), w.upper()))
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _anchor_positions(text: str) -> list[int]:
    """Offsets of every secret-word anchor; ASCII text is searched once in lower case."""
    if text.isascii():
        haystack, needles = text.lower(), _ANCHOR_WORDS
    else:
        haystack, needles = text, _ASSIGN_ANCHORS
    found: list[int] = []
    for needle in needles:
        i = haystack.find(needle)
        while i >= 0:
            found.append(i)
            i = haystack.find(needle, i + len(needle))
    found.sort()
    return found


def _name_before(text: str, i: int) -> str:
    """The identifier characters ending at ``i`` (``db_`` in ``db_password``), lower-cased."""
    j = i
    while j > 0 and text[j - 1] in _NAME_CHARS and i - j < 64:
        j -= 1
    return text[j:i].lower()


def _redact_assignments(text: str, counts: Counter[str]) -> str:
    pieces: list[str] = []
    last = 0
    for i in _anchor_positions(text):
        if i < last:
            continue
        m = _ASSIGN_AT.match(text, i)
        if m is None:
            continue
        word = m.group("word").lower()
        if word == "key":
            prefix = _name_before(text, i).replace("_", "").replace("-", "").rsplit(".", 1)[-1]
            if not prefix.endswith(_KEY_QUALIFIERS):
                continue
        group = "dq" if m.group("dq") is not None else "sq"
        if not _looks_secret(m.group(group), word):
            continue
        kind = "password" if _is_password_word(word) else "key"
        counts[kind] += 1
        pieces.append(text[last : m.start(group)])
        pieces.append(f"<{kind}>")
        last = m.end(group)
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


# Config formats whose values are literal text, so an unquoted value is the secret itself.
_CONFIG_LANGUAGES = frozenset(
    {"YAML", "INI", "Dotenv", "Java Properties", "Shell", "Git Config", "TOML", "Dockerfile", "Nginx"}
)
_ASSIGN_UNQUOTED = re.compile(
    rf"^([ \t]*(?:export[ \t]+|ENV[ \t]+)?[\w.-]*?(?i:(?P<word>{_PASSWORD_WORDS}|secret|token|"
    r"(?:api|access|secret|private|auth|client)[_-]?key)))"
    r"([ \t]*[:=][ \t]*)(?P<val>[^\s'\"#;$%{<!&*|>\[][^\s#;]*)[ \t]*(?=\r?$|[ \t]+[#;])",
    re.MULTILINE,
)

_PLACEHOLDER = re.compile(
    r"^(?:<[^>]*>|\$.*|%.*|\{.*\}|\*+|x+|\.+|-+|_+|#+|\?+)$"
    r"|\{\{|\$\{|%\(|%s|\{\}|\{0\}"
    r"|(?i:example|your[_-]?|placeholder|changeme|change[_-]me|dummy|redacted|xxxx|\.\.\.|todo|fixme)",
)
_PLAIN_VALUES = frozenset(
    {"none", "null", "nil", "true", "false", "undefined", "required", "optional", "string", "str", "text",
     "hidden", "empty", "n/a", "na", "off", "on", "yes", "no", "env", "secret", "password", "token", "key"}
)


def _is_password_word(word: str) -> bool:
    w = word.lower()
    return w.startswith(("pass", "pwd", "credential"))


def _looks_secret(value: str, word: str) -> bool:
    """Whether an assigned literal is plausibly a real secret rather than a label or placeholder."""
    if not value or any(c.isspace() for c in value):
        return False
    if value.lower() in _PLAIN_VALUES or value.lower() == word.lower():
        return False
    if value.startswith(("/", "~", "./", "http://", "https://")) or _PLACEHOLDER.search(value):
        return False
    if len(set(value)) == 1:
        return False
    if _is_password_word(word):
        return len(value) >= 4
    # Tokens and keys: long enough and not a plain word (lexer token names, enum labels).
    classes = any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    return len(value) >= 8 and classes >= 2


# ---------------------------------------------------------------- emails

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][\w.%+-]*@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
)
_EMAIL_KEEP_DOMAINS = re.compile(
    r"(?i)(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost|local|"
    r"png|jpe?g|gif|svg|webp|ico|bmp|js|css|html?|py|json|md|txt)$|^(?:self|this|np|torch)\."
)

# ---------------------------------------------------------------- IP addresses

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
_IPV4_ANCHOR = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d+(?:\.\d+){3})?(?![\w:])")
# Global addresses (2000::/3) have at least three colons or a hex group between two of them.
_IPV6_ANCHOR = re.compile(r":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{0,4}:")
_VERSION_CONTEXT = re.compile(r"(?i)(?:version|release|build|\bver|\bv)[\s\"'=:_-]{0,6}$")
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_PUBLIC_RESOLVERS = frozenset(
    {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
     "208.67.220.220", "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111"}
)


def _redact_ip(m: re.Match[str], counts: Counter[str]) -> str:
    s = m.group(0)
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return s
    if not ip.is_global or ip.is_multicast or s in _PUBLIC_RESOLVERS:
        return s
    if ip.version == 6 and ip not in _GLOBAL_UNICAST_V6:  # ``dead::beef`` is C++, not an address
        return s
    if ip.version == 4 and _VERSION_CONTEXT.search(m.string, max(0, m.start() - 16), m.start()):
        return s
    counts["ip_address"] += 1
    return "<ip_address>"


# ---------------------------------------------------------------- driver


def redact_pii(text: str, language: str = "") -> tuple[str, Counter[str]]:
    """``text`` with PII and secrets replaced, and the number of replacements per placeholder kind.

    ``language`` (a Linguist name) enables unquoted ``name: value`` secrets for config formats.
    """
    counts: Counter[str] = Counter()
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY.sub(lambda m: _count(counts, "key"), text)
    for hints, pattern in _TOKENS:
        if any(h in text for h in hints):
            text = pattern.sub(lambda m: _count(counts, "key"), text)
    text = _redact_assignments(text, counts)
    if language in _CONFIG_LANGUAGES:
        text = sub_in_spans(
            _ASSIGN_UNQUOTED, lambda m: _redact_unquoted(m, counts), text, lines_with(text, _ASSIGN_ANCHORS)
        )
    if "@" in text:
        text = sub_in_spans(_EMAIL, lambda m: _redact_email(m, counts), text, lines_with(text, "@"))
    text = sub_in_spans(_IPV4, lambda m: _redact_ip(m, counts), text, lines_matching(text, _IPV4_ANCHOR))
    text = sub_in_spans(_IPV6, lambda m: _redact_ip(m, counts), text, lines_matching(text, _IPV6_ANCHOR))
    return text, counts


def _count(counts: Counter[str], kind: str) -> str:
    counts[kind] += 1
    return f"<{kind}>"


def _redact_unquoted(m: re.Match[str], counts: Counter[str]) -> str:
    value, word = m.group("val"), m.group("word")
    if not _looks_secret(value, word):
        return m.group(0)
    kind = "password" if _is_password_word(word) else "key"
    counts[kind] += 1
    return f"{m.group(1)}{m.group(3)}<{kind}>"


def _redact_email(m: re.Match[str], counts: Counter[str]) -> str:
    if _EMAIL_KEEP_DOMAINS.search(m.group(1)) or m.group(0).startswith("git@"):
        return m.group(0)
    counts["email"] += 1
    return "<email>"
