"""Text files get a language: Chinese is judged by the zh rules on jieba words, the rest by en."""

import gettext
from pathlib import Path

import pytest

from opencook.data.filter.document import Document
from opencook.data.filter.langid import chinese_words, document_lang, identify, rule_set_lang
from opencook.data.filter.step import QualityFilterConfig, judge

ZH = (
    "数据清洗是训练代码大模型的第一步。我们从公开的代码仓库中收集源文件，去掉重复的文件，"
    "再用一组启发式规则过滤低质量的内容。每一条规则都有明确的阈值和解释，"
    "所以使用者可以知道每个文件为什么被保留或者被删除。\n"
) * 12
EN = (
    "Data cleaning is the first step of training a large code model. We collect source files from "
    "public repositories, remove duplicate files, and filter low quality content with heuristic rules.\n"
) * 12
DE = (
    "Die Datenbereinigung ist der erste Schritt beim Training eines großen Code-Modells. Wir sammeln "
    "Quelldateien aus öffentlichen Archiven und entfernen doppelte Dateien mit einfachen Regeln.\n"
) * 12


def _record(text, **extra):
    return {"id": "doc", "path": "notes.md", "language": "Markdown", "doc_type": "text", "text": text, **extra}


def test_chinese_text_is_judged_by_the_zh_rules_on_jieba_words():
    verdict = judge(_record(ZH), QualityFilterConfig())
    assert verdict.rule_set == "zh"
    # wordpunct would make each sentence one "word" of dozens of characters; jieba words are short
    assert verdict.signals["qsc_doc_mean_word_length"] < 3
    assert judge(_record(ZH), QualityFilterConfig(langid=False)).rule_set == "en"


def test_other_languages_use_the_en_rules_but_only_english_counts_letters():
    en = judge(_record(EN), QualityFilterConfig())
    de = judge(_record(DE), QualityFilterConfig())
    assert en.rule_set == de.rule_set == "en"
    assert en.signals["qsc_doc_frac_chars_alphabet"] is not None
    assert de.signals["qsc_doc_frac_chars_alphabet"] is None  # as the reference: null unless lang is en


def test_a_record_lang_is_trusted():
    assert judge(_record(EN, lang="zh"), QualityFilterConfig()).rule_set == "zh"


def test_code_files_are_not_identified():
    record = {"id": "c", "path": "a.py", "language": "Python", "doc_type": "code", "text": "# 数据清洗\nx = 1\n" * 20}
    assert judge(record, QualityFilterConfig()).signals["qsc_code_mean_word_length"] is not None
    assert Document(record["text"], lang="en").raw_words[1] == "数据清洗"


def test_jieba_words():
    words = chinese_words("我们从公开的代码仓库中收集源文件")
    assert "代码" in words and "仓库" in words
    assert Document(ZH, lang="zh").words[:3] == tuple(chinese_words(ZH)[:3])


def test_labels_and_rule_sets():
    assert document_lang("") == "en"
    assert rule_set_lang("zh") == "zh" and rule_set_lang("wuu") == "zh"
    assert rule_set_lang("ja") == rule_set_lang("de") == "en"


def _catalog_text(path: Path) -> str:
    with open(path, "rb") as f:
        strings = [v for k, v in gettext.GNUTranslations(f)._catalog.items() if k and isinstance(v, str)]
    return "\n".join(strings)


@pytest.mark.parametrize(("locale", "lang"), [("zh_CN", "zh"), ("de", "de"), ("fr", "fr"), ("ja", "ja")])
def test_real_message_catalogues_on_this_machine(locale, lang):
    """The translated strings of this machine's catalogues for a locale are identified as its language."""
    paths = sorted(Path(f"/usr/share/locale/{locale}/LC_MESSAGES").glob("*.mo"))
    texts = [t for t in (_catalog_text(p) for p in paths[:40]) if len(t) > 2000][:10]
    if len(texts) < 3:
        pytest.skip(f"fewer than 3 large {locale} catalogues here")
    hits = sum(identify(t)[0] == lang for t in texts)
    assert hits >= len(texts) - 1, (locale, hits, len(texts))
