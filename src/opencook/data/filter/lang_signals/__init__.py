"""Language-specific quality signals (Python, C/C++, C#, Go, Java, JavaScript, HTML).

Each language module lexes/parses the text once and derives all its signals from that. Two
modes: ``compat="reference"`` reproduces OpenCoder's reference code exactly (Pygments lexing,
its substring tests, its test-file check on the extension-less name); ``compat="fixed"`` (the
default) fixes the known faults listed in docs/filter_lang_signals.md and uses the fast
comment scanner.
"""

from __future__ import annotations

from ._common import Signal

COMPAT_MODES = ("fixed", "reference")
LANGUAGES = ("python", "c", "cpp", "csharp", "go", "java", "javascript", "html")


def compute_language_signals(
    program_lang: str, text: str, filename: str, ext: str, *, compat: str = "fixed"
) -> dict[str, float | None]:
    """Signals of the language-specific family for ``program_lang`` (reference key, e.g. "cpp").

    ``filename`` is the base name *with* its extension, ``ext`` the last extension without the dot.
    Returns ``{}`` for a language with no specific signals. When one signal fails (a parser crash,
    a pattern time-out) it and every later signal of the family are None, as in the reference.
    """
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat must be one of {COMPAT_MODES}, not {compat!r}")
    out: dict[str, Signal]
    if program_lang == "python":
        from . import python

        out = python.compute(text, compat)
    elif program_lang in ("c", "cpp"):
        from . import cfamily

        out = cfamily.compute(program_lang, text, ext, compat)
    elif program_lang == "csharp":
        from . import csharp

        out = csharp.compute(text, compat)
    elif program_lang == "go":
        from . import go

        out = go.compute(text, filename, ext, compat)
    elif program_lang == "java":
        from . import java

        out = java.compute(text, compat)
    elif program_lang == "javascript":
        from . import javascript

        out = javascript.compute(text, compat)
    elif program_lang == "html":
        from . import html

        out = html.compute(text, compat)
    else:
        return {}
    return out  # type: ignore[return-value]
