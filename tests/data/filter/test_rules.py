"""Rule-set selection, null handling and the drop-without-rules cases."""

import random

from filter_samples import GOOD_C

from opencook.data.filter.document import Document
from opencook.data.filter.evaluate import compute_signals, evaluate
from opencook.data.filter.rules import RULE_SETS, all_rule_names, rule_set_name, select_rules


def test_rule_set_selection():
    assert rule_set_name("code", "python") == "python"
    assert rule_set_name("data", "sql") == "sql"  # a supported language wins over doc type
    assert rule_set_name("data", "json") == "data"
    assert rule_set_name("code", "php") == "others"
    assert rule_set_name("code", "typescript") == "others"
    assert rule_set_name("text", "markdown") == "en"
    assert rule_set_name("text", "markdown", lang="zh") == "zh"
    assert rule_set_name("unknown", "python") is None
    assert rule_set_name("excluded", "csv") is None


def test_every_set_has_unique_names_and_explanations():
    for name, rules in RULE_SETS.items():
        names = [r.name for r in rules]
        assert len(names) == len(set(names)), name
        assert all(r.explain for r in rules)
    probabilistic = {r.name for rules in RULE_SETS.values() for r in rules if r.probabilistic}
    assert probabilistic == {
        "qsc_codego_cate_testfile",
        *(
            f"qsc_code{lang}_score_lines_no_logic"
            for lang in ("python", "cpp", "c", "csharp", "go", "java", "javascript")
        ),
    }
    assert "qsc_code_frac_words_unique" in {r.name for r in select_rules("data", "json")}
    assert "qsc_code_frac_words_unique" not in {r.name for r in select_rules("code", "php")}
    assert "qsc_code_frac_chars_comments" not in {r.name for r in select_rules("code", "html")}
    assert len(all_rule_names()) > 80


def test_unknown_and_excluded_doc_types_are_dropped_without_hits():
    for doc_type in ("unknown", "excluded"):
        v = evaluate(GOOD_C, "a.c", "c", "c", doc_type, random.Random(0))
        assert not v.kept and v.hits == [] and v.reason == "doc_type"


def test_good_c_file_is_kept():
    v = evaluate(GOOD_C, "sum.c", "c", "c", "code", random.Random(0))
    assert v.kept, v.hits
    assert v.rule_set == "c"


def test_null_signal_never_fires():
    # An empty file: mean word length, dupe lines and friends are None; only non-null rules fire.
    v = evaluate("", "empty.c", "c", "c", "code", random.Random(0))
    assert v.signals["qsc_code_mean_word_length"] is None
    assert "qsc_code_mean_word_length" not in v.hits
    assert "qsc_code_num_words" in v.hits


def test_disabled_rules_are_skipped():
    v = evaluate(
        "x = 1\n", "t.py", "py", "python", "code", random.Random(0), disabled_rules=["qsc_code_num_words"]
    )
    assert "qsc_code_num_words" not in v.hits
    assert "qsc_code_num_lines" in v.hits


class _BrokenText(Document):
    """A document whose text cannot be read: every signal that looks at it fails."""

    @property
    def text(self):  # type: ignore[override]
        raise RuntimeError("unreadable")

    @text.setter
    def text(self, value):
        pass


def test_failed_signal_group_yields_nulls_and_stops_in_reference_mode():
    doc = _BrokenText("", filename="a.c", ext="c", program_lang="c", doc_type="code", size_bytes=10)
    values, errors, ok = compute_signals(doc, compat="reference")
    assert values == {"qsc_code_num_words": None}  # the rest of the group is skipped
    assert errors["qsc_code_num_words"] == "exception"
    assert not ok  # nothing succeeded: evaluate() drops such a file


def test_failed_signal_does_not_hide_later_ones_in_fixed_mode():
    doc = _BrokenText("", filename="a.c", ext="c", program_lang="c", doc_type="code", size_bytes=10)
    values, errors, ok = compute_signals(doc, compat="fixed")
    assert values["qsc_code_num_words"] is None
    assert values["qsc_code_size_file_byte"] == 10.0
    assert ok
