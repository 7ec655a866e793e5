"""Language identification of text files: accuracy on a labelled sample of this machine's text, and speed.

The sample (benchmarks/text_langid_sample.py): translated manual pages and message catalogues in
15 languages plus English manual pages and READMEs. Compared in one run: py3langid (the filter's
default, model in the wheel), lingua-language-detector (model in the wheel, 75 languages) when
installed, and fastText lid.176 (the reference's identifier) when ``--fasttext-model`` is given.
Each sees what the filter gives it: the first ``langid.MAX_CHARS`` characters. Scored: the exact
language, and the decision that matters to the filter, zh rules or en rules. Speed is characters
over CPU time (per core). Writes benchmarks/results/text_langid.{json,md}.
Run: .venv/bin/python benchmarks/text_langid.py [--per-source 20] [--fasttext-model lid.176.bin]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from _machine import command_line, git_commit, machine_info, write_results
from opencook.data.filter import langid
from text_langid_sample import build

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def backends(fasttext_model: str | None) -> dict:
    out = {"py3langid": lambda t: langid.identify(t)[0]}
    try:
        from lingua import LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_all_languages().build()

        def lingua_id(text: str) -> str:
            lang = detector.detect_language_of(text[: langid.MAX_CHARS])
            return "und" if lang is None else lang.iso_code_639_1.name.lower()

        out["lingua"] = lingua_id
    except ImportError:
        pass
    if fasttext_model:
        out["fasttext lid.176"] = lambda t: langid.identify(t, fasttext_model)[0]
    return out


def score(rows: list[dict], fn) -> dict:
    fn(rows[0]["text"])  # model loaded before timing
    cpu = time.process_time()
    preds = [fn(r["text"]) for r in rows]
    seconds = time.process_time() - cpu
    chars = sum(min(len(r["text"]), langid.MAX_CHARS) for r in rows)
    per_lang: dict[str, list[int]] = {}
    for r, p in zip(rows, preds, strict=True):
        hit = per_lang.setdefault(r["lang"], [0, 0])
        hit[0] += p == r["lang"]
        hit[1] += 1
    rule_ok = sum(langid.rule_set_lang(p) == langid.rule_set_lang(r["lang"]) for r, p in zip(rows, preds, strict=True))
    zh = [(r, p) for r, p in zip(rows, preds, strict=True) if r["lang"] == "zh"]
    not_zh = [(r, p) for r, p in zip(rows, preds, strict=True) if r["lang"] != "zh"]
    errors = Counter(f"{r['lang']}->{p}" for r, p in zip(rows, preds, strict=True) if p != r["lang"])
    return {
        "accuracy": round(sum(v[0] for v in per_lang.values()) / len(rows), 4),
        "rule_set_accuracy": round(rule_ok / len(rows), 4),
        "zh_recall": round(sum(langid.rule_set_lang(p) == "zh" for _, p in zh) / max(len(zh), 1), 4),
        "zh_false_positives": sum(langid.rule_set_lang(p) == "zh" for _, p in not_zh),
        "accuracy_by_source": {
            src: round(sum(p == r["lang"] for r, p in pairs) / len(pairs), 4)
            for src in sorted({r["source"] for r in rows})
            for pairs in [[(r, p) for r, p in zip(rows, preds, strict=True) if r["source"] == src]]
        },
        "per_language": {k: round(v[0] / v[1], 3) for k, v in sorted(per_lang.items())},
        "top_errors": dict(errors.most_common(8)),
        "docs_per_s_cpu": round(len(rows) / seconds, 1),
        "mb_per_s_cpu": round(chars / 1e6 / seconds, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-source", type=int, default=20)
    ap.add_argument("--fasttext-model", default=None)
    args = ap.parse_args()
    rows = build(per_source=args.per_source)
    results = {name: score(rows, fn) for name, fn in backends(args.fasttext_model).items()}
    commit, dirty = git_commit(ROOT, "src/opencook/data/filter/langid.py")
    counts = Counter(r["lang"] for r in rows)
    result = {
        "command": command_line("text_langid.py"), "commit": commit, "dirty": dirty, "machine": machine_info(),
        "load_avg": [round(x, 2) for x in os.getloadavg()], "documents": len(rows), "by_language": dict(counts),
        "by_source": dict(Counter(r["source"] for r in rows)), "backends": results,
    }
    md = [
        "# Language identification of text files", "",
        f"`{result['command']}` at {commit}{' (dirty)' if dirty else ''}; {len(rows)} labelled documents from "
        f"this machine ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}; sources: "
        f"{', '.join(f'{k} {v}' for k, v in result['by_source'].items())}). Load average "
        f"{result['load_avg'][0]} on a shared 2-core machine; speeds are per core (CPU time).", "",
        "| identifier | exact language | by source | en/zh rule set | zh text to zh rules | non-zh to zh rules "
        "| docs/s | MB/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        by_source = ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["accuracy_by_source"].items())
        md.append(f"| {name} | {100 * r['accuracy']:.1f}% | {by_source} | {100 * r['rule_set_accuracy']:.1f}% | "
                  f"{100 * r['zh_recall']:.1f}% | {r['zh_false_positives']} | {r['docs_per_s_cpu']} | "
                  f"{r['mb_per_s_cpu']} |")
    md += ["", "Per language (exact):", ""]
    langs = sorted(counts)
    md.append("| identifier | " + " | ".join(langs) + " |")
    md.append("| --- |" + " --- |" * len(langs))
    for name, r in results.items():
        md.append(f"| {name} | " + " | ".join(f"{100 * r['per_language'][k]:.0f}" for k in langs) + " |")
    md += ["", "Most frequent errors (label->prediction): " + "; ".join(
        f"{name}: " + ", ".join(f"{k} {v}" for k, v in r["top_errors"].items()) for name, r in results.items()), "",
        "Labels are the locale directory a file sits in; a page left untranslated there counts as an error "
        "(most `->en` errors are manual pages whose body was never translated: their rule set is rightly `en`). "
        "Message catalogues (`mo`) have the cleanest labels.", ""]
    write_results(RESULTS, "text_langid", result, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
