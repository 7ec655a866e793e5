"""HTML -> readable text with BeautifulSoup (already a data dependency): scripts and styles removed."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "head")
_BLANKS = re.compile(r"\n\s*\n+")


def html_to_text(html: str) -> str:
    """Visible text, one block per line; ``<pre>`` keeps its line breaks so code stays code."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    text = soup.get_text("\n")
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
