"""HTML -> the page's main text, by a named extractor (``web_ingest`` / recall ``extractor``).

- ``resiliparse`` (the default): Resiliparse's ``extract_plain_text`` with its main-content heuristic
  (navigation, headers, footers, sidebars dropped) and ``<pre>`` line breaks kept; C++, fast.
- ``trafilatura``: the extractor FineWeb used through datatrove (``favor_precision``, no comments);
  pure Python. A page it finds no main text in becomes empty (counted ``empty`` by the readers).
- ``bs4``: the old ``html_to_text`` (every visible string, scripts and styles removed), kept for comparison.

benchmarks/recall_extract.py measures the three on real HTML pages (speed and boilerplate kept).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Literal

from opencook.data.recall.html import html_to_text

Extractor = Literal["resiliparse", "trafilatura", "bs4"]
EXTRACTORS: tuple[str, ...] = ("resiliparse", "trafilatura", "bs4")
DEFAULT_EXTRACTOR: Extractor = "resiliparse"


def _missing(package: str) -> ImportError:
    return ImportError(f"the {package} HTML extractor is not installed: pip install 'opencook[recall]' "
                       "(or set extractor: bs4)")


def _resiliparse(html: str) -> str:
    try:
        from resiliparse.extract.html2text import extract_plain_text
    except ImportError as exc:
        raise _missing("resiliparse") from exc
    return extract_plain_text(html, main_content=True, preserve_formatting=True, alt_texts=False, links=False,
                              form_fields=False, noscript=False).strip()


def _trafilatura(html: str) -> str:
    try:
        import trafilatura
    except ImportError as exc:
        raise _missing("trafilatura") from exc
    return (trafilatura.extract(html, favor_precision=True, include_comments=False, include_images=False,
                                deduplicate=False, with_metadata=False) or "").strip()


_BY_NAME: dict[str, Callable[[str], str]] = {"resiliparse": _resiliparse, "trafilatura": _trafilatura,
                                             "bs4": html_to_text}


@cache
def extractor(name: str) -> Callable[[str], str]:
    """The ``html -> text`` function called ``name``; an unknown name is an error listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown HTML extractor {name!r}: use one of {', '.join(EXTRACTORS)}") from None
