"""A labelled sample of real natural-language text from this machine, for language identification.

Sources, labelled by the locale directory they sit in: translated manual pages
(``/usr/share/man/<locale>/man*/*.gz``, groff markup stripped), message catalogues
(``/usr/share/locale/<locale>/LC_MESSAGES/*.mo``, their translated strings), and for English
the untranslated manual pages and ``/usr/share/doc`` READMEs. Files are taken evenly spaced
from the sorted list, so the sample is the same on the same machine.
"""

from __future__ import annotations

import gettext
import gzip
import re
from pathlib import Path

LOCALES = {
    "de": ["de"], "fr": ["fr"], "es": ["es"], "it": ["it"], "ja": ["ja"], "zh": ["zh_CN", "zh_TW"],
    "ru": ["ru"], "pt": ["pt", "pt_BR"], "pl": ["pl"], "nl": ["nl"], "sv": ["sv"], "ko": ["ko"],
    "cs": ["cs"], "uk": ["uk"], "tr": ["tr"],
}
_ESCAPE = re.compile(r"\\(f\[[^\]]*\]|f\(..|f.|\(..|\*\(..|\*.|[-&|^e%0 ]|s[-+]?\d)")


def man_text(raw: str) -> str:
    """Prose of a groff manual page: macro lines dropped (their words kept for headings and fonts)."""
    out = []
    for line in raw.splitlines():
        if line.startswith(("'\\\"", '.\\"', "'")):
            continue
        if line.startswith("."):
            macro, _, rest = line.partition(" ")
            if macro not in (".SH", ".SS", ".B", ".I", ".BR", ".IR", ".BI", ".IB", ".RB", ".RI", ".TP", ".IP"):
                continue
            line = rest.replace('"', "")
        out.append(_ESCAPE.sub(lambda m: "-" if m.group(1) == "-" else "", line))
    return "\n".join(out)


def mo_text(path: Path) -> str:
    """The translated strings of a compiled message catalogue, one per line."""
    with open(path, "rb") as f:
        catalog = gettext.GNUTranslations(f)
    strings = []
    for key, value in catalog._catalog.items():  # noqa: SLF001 - the documented place of the strings
        if key and isinstance(value, str) and value.strip():
            strings.append(value.replace("%s", "").replace("%d", "").strip())
    return "\n".join(strings)


def _spaced(paths: list[Path], k: int) -> list[Path]:
    paths = sorted(paths)
    if len(paths) <= k:
        return paths
    return [paths[i * len(paths) // k] for i in range(k)]


def _clip(text: str, max_chars: int) -> str:
    return text[:max_chars]


def build(per_source: int = 20, min_chars: int = 300, max_chars: int = 6000) -> list[dict]:
    """``[{"lang", "source", "path", "text"}]``: up to ``per_source`` documents per language and source."""
    rows = []

    def add(lang: str, source: str, path: Path, text: str) -> None:
        text = _clip(text.strip(), max_chars)
        if len(text) >= min_chars:
            rows.append({"lang": lang, "source": source, "path": str(path), "text": text})

    for lang, locales in LOCALES.items():
        man = [p for loc in locales for p in Path(f"/usr/share/man/{loc}").glob("man*/*.gz")]
        for p in _spaced(man, per_source):
            add(lang, "man", p, man_text(gzip.decompress(p.read_bytes()).decode("utf-8", "replace")))
        mo = [p for loc in locales for p in Path(f"/usr/share/locale/{loc}/LC_MESSAGES").glob("*.mo")]
        for p in _spaced(mo, per_source):
            try:
                add(lang, "mo", p, mo_text(p))
            except (OSError, UnicodeDecodeError):
                continue
    for p in _spaced(list(Path("/usr/share/man/man1").glob("*.gz")), per_source):
        add("en", "man", p, man_text(gzip.decompress(p.read_bytes()).decode("utf-8", "replace")))
    readmes = [p for p in Path("/usr/share/doc").glob("*/README*") if p.suffix in ("", ".md", ".txt")]
    for p in _spaced(readmes, per_source):
        add("en", "doc", p, p.read_text("utf-8", "replace"))
    return rows
