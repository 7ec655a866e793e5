"""Language-specific quality signals (Python, C/C++, C#, Go, Java, JavaScript, HTML)."""

from __future__ import annotations


def compute_language_signals(program_lang: str, text: str, filename: str, ext: str) -> dict[str, float | None]:
    """Signals of the language-specific family for ``program_lang`` (reference key, e.g. "cpp").

    ``filename`` is the base name *with* its extension, ``ext`` the last extension without the dot.
    Returns ``{}`` for a language with no specific signals.
    """
    return {}
