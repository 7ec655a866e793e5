"""Natural language of a text file, to pick the ``en`` or ``zh`` rule set as the reference does.

The reference runs fastText's ``lid.176`` on every text file and judges a file the identifier calls
Chinese with the ``zh`` rules (jieba tokens), everything else with the ``en`` rules. fastText's
model is a separate 126 MB download, so the default here is py3langid (a maintained fork of
langid.py, 97 languages, its 4 MB model inside the wheel, numpy only); ``model_path`` pointing
at ``lid.176.bin``/``.ftz`` switches to fastText (the ``recall`` extra installs it). Accuracy and
speed of both on real text from this machine: benchmarks/results/text_langid.md.
"""

from __future__ import annotations

from functools import cache

MAX_CHARS = 4096  # identification reads the start of a file: cost is linear, accuracy is flat past ~1 KB


@cache
def _py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@cache
def _fasttext(model_path: str):
    import fasttext

    return fasttext.load_model(model_path)


def identify(text: str, model_path: str | None = None) -> tuple[str, float]:
    """``(ISO 639-1 code, probability)`` of ``text``'s language (``("und", 0.0)`` for empty text)."""
    sample = text[:MAX_CHARS]
    if not sample.strip():
        return "und", 0.0
    if model_path:
        labels, probs = _fasttext(model_path).predict(sample.replace("\n", " "))
        return labels[0].removeprefix("__label__"), float(probs[0])
    lang, prob = _py3langid().classify(sample)
    return lang, float(prob)


# Chinese written in Han characters under another code (py3langid and lid.176 both have ``wuu``).
_CHINESE = {"zh": "zh", "wuu": "zh", "yue": "zh", "gan": "zh", "cmn": "zh"}


def document_lang(text: str, model_path: str | None = None) -> str:
    """The ``lang`` the filter judges ``text`` with: the identified code, Chinese varieties as ``zh``,
    ``en`` for text with nothing to identify."""
    code, _ = identify(text, model_path)
    return "en" if code == "und" else _CHINESE.get(code, code)


def rule_set_lang(code: str) -> str:
    """The reference's choice: Chinese text gets the ``zh`` rules, all other text the ``en`` rules."""
    return "zh" if _CHINESE.get(code) == "zh" else "en"


def chinese_words(text: str) -> list[str]:
    """jieba's tokens of ``text`` without the whitespace ones: the reference's words for ``zh``.

    (The reference first converts traditional characters to simplified with zhconv; jieba's
    dictionary covers both well enough that this module skips that dependency.)
    """
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(text) if not w.isspace()]
