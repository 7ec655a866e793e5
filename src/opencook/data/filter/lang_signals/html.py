"""HTML signals: visible-text size from BeautifulSoup's ``html.parser`` tree, parsed once."""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup

from ._common import PRECISION, Signal, run_group


def _parse(text: str) -> BeautifulSoup | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about inputs that look like URLs or file names
        try:
            return BeautifulSoup(text, features="html.parser")
        except Exception:  # noqa: BLE001 - the reference treats any failure as "does not parse"
            return None


def compute(text: str, compat: str) -> dict[str, Signal]:
    """``qsc_codehtml_*`` signals, in the reference's order."""
    soup = _parse(text)
    n_text = None if soup is None else len(soup.get_text())

    def frac_text() -> float | None:
        if not text or n_text is None:
            return None
        return round(n_text / len(text), PRECISION)

    return run_group(
        [
            ("qsc_codehtml_cate_ast", lambda: float(soup is not None)),
            ("qsc_codehtml_frac_words_text", frac_text),
            ("qsc_codehtml_num_chars_text", lambda: None if n_text is None else float(n_text)),
        ]
    )
