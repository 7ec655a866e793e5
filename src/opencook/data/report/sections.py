"""The report's sections: each turns a ``RunData`` into an HTML fragment.

Every section renders on partial data and says what is absent rather than failing, so a
crashed run still gets a report that shows how far it got.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from opencook.data.report.examples import drop_examples, rejects_note, unknown_by_extension
from opencook.data.report.rundata import RunData, Stage, config_stages
from opencook.kit.report import page as P
from opencook.kit.report import plots
from opencook.kit.report.page import num_or_none

TOP_N = 20
MANIFEST_ROWS = 50
TABLE_ROWS = 100


def _rule_explanations() -> dict[str, str]:
    """One-line explanation per filter rule, from the filter package when it is installed.

    Uses ``RULE_EXPLANATIONS`` if published, else each ``Rule.explain`` in ``RULE_SETS``; a rule
    whose threshold differs between language sets gets its distinct explanations joined.
    Anything missing or malformed yields ``{}``: the report is never blocked by the filter code.
    """
    try:
        from opencook.data.filter import rules
    except ImportError:
        return {}
    try:
        published = getattr(rules, "RULE_EXPLANATIONS", None)
        if published:
            return {str(k): str(v) for k, v in dict(published).items()}
        found: dict[str, list[str]] = {}
        for rule_set in dict(getattr(rules, "RULE_SETS", {})).values():
            for rule in rule_set:
                texts = found.setdefault(str(rule.name), [])
                if rule.explain and str(rule.explain) not in texts:
                    texts.append(str(rule.explain))
        return {name: " / ".join(texts) for name, texts in found.items() if texts}
    except Exception:  # a half-written rules module must not take the report down
        return {}


def _prefixed(c: Counter, prefix: str) -> Counter:
    return Counter({k[len(prefix) :]: v for k, v in c.items() if k.startswith(prefix)})


def _with_stats(run: RunData) -> list[Stage]:
    return [s for s in run.stages if s.stats is not None]


def _bucket_key(bucket: str) -> tuple[int, str]:
    m = re.match(r"\d+", bucket)
    return (int(m.group()) if m else 1 << 62, bucket)


def _flat_settings(d: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Scalar settings as ``key=value`` pairs, one nesting level deep, values cut short."""
    out: list[tuple[str, str]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and not prefix:
            out.extend(_flat_settings(v, key + "."))
        elif isinstance(v, dict):
            out.append((key, "{…}"))
        else:
            text = json.dumps(v, default=str) if isinstance(v, list) else str(v)
            out.append((key, text if len(text) <= 60 else text[:59] + "…"))
    return out


def _more(shown: int, total: int, what: str) -> str:
    return P.para(f"… and {total - shown:,} more {what} not shown.", "muted") if total > shown else ""


def section_header(run: RunData) -> str:
    out = [P.table(["run directory"], [[P.mono(str(run.run_dir.resolve()))]])]
    out += [P.notice(p) for p in run.problems]

    out.append(P.heading(3, "Recipe"))
    stages = config_stages(run.config)
    if run.config is None:
        out.append(P.notice("config.yaml is missing: the recipe is unknown."))
    else:
        top = [
            (k, v)
            for k, v in _flat_settings(
                {k: v for k, v in run.config.items() if k not in ("stages", "pipeline", "steps")}
            )
        ]
        if top:
            out.append(P.kv_table(top[:30]))
        rows = []
        for i, (name, kind, settings) in enumerate(stages):
            pairs = _flat_settings(settings)
            text = ", ".join(f"{k}={v}" for k, v in pairs[:12]) + (" …" if len(pairs) > 12 else "")
            rows.append([P.num(i), P.mono(name), kind, P.mono(text)])
        out.append(
            P.table(["#", "stage", "kind", "key settings"], rows)
            if rows
            else P.notice("config.yaml lists no stages.")
        )

    out.append(P.heading(3, "Versions"))
    if run.versions is None:
        out.append(P.notice("versions.json is missing."))
    else:
        out.append(P.kv_table(_flat_settings(run.versions)))

    out.append(P.heading(3, "Totals"))
    with_stats = _with_stats(run)
    wall = num_or_none(run.totals.get("seconds")) or num_or_none(run.totals.get("wall_seconds"))
    stage_secs = [s.seconds for s in run.stages if s.seconds is not None]
    if wall is None and stage_secs:
        wall_text = f"{P.fmt_seconds(sum(stage_secs))} (sum of stage times)"
    else:
        wall_text = P.fmt_seconds(wall)
    rows: list[list[Any]] = [["wall time", wall_text]]
    if with_stats:
        first, last = with_stats[0].stats, with_stats[-1].stats
        assert first is not None and last is not None
        in_bytes = sum(c.get("bytes", 0) for c in first.by_language.values()) + sum(
            first.dropped_bytes.values()
        )
        rows.append(
            [
                "input",
                f"{P.fmt_int(first.counters.get('in', 0))} files, {P.fmt_bytes(in_bytes)}"
                f" (stage {with_stats[0].label})",
            ]
        )
        # the write stage may not count languages: take text bytes from the last stage that does
        lang_stage = next((st for st in reversed(with_stats) if st.stats and st.stats.by_language), None)
        out_text = ""
        if lang_stage is not None and lang_stage.stats is not None:
            out_bytes = sum(c.get("bytes", 0) for c in lang_stage.stats.by_language.values())
            out_text = f", {P.fmt_bytes(out_bytes)} of text (bytes counted at stage {lang_stage.label})"
        rows.append(
            [
                "output",
                f"{P.fmt_int(last.counters.get('out', 0))} files (stage {with_stats[-1].label}){out_text}",
            ]
        )
    mt = _manifest_totals(run.manifest)
    if mt:
        rows.append(
            [
                "dataset (manifest)",
                f"{P.fmt_int(mt.get('files', 'n/a'))} files, "
                f"{P.fmt_int(mt.get('rows', 'n/a'))} rows, {P.fmt_bytes(mt.get('bytes', 'n/a'))}",
            ]
        )
    out.append(P.table(["", "value"], rows))
    extra = [(k, v) for k, v in run.totals.items() if not isinstance(v, dict | list)]
    if extra:
        out.append(P.para("Totals recorded in stats.json:", "muted"))
        out.append(P.kv_table(extra))
    return "".join(out)


def _shards_text(s: Stage) -> str:
    if s.shards is None:
        return ""
    return f"{s.shards:,}" + (f" ({s.shards_skipped:,} already done)" if s.shards_skipped else "")


def section_funnel(run: RunData) -> str:
    if not run.stages:
        return P.notice("No stages found: stats.json and stages/ are both absent or empty.")
    rows, labels, ins, outs = [], [], [], []
    for s in run.stages:
        head = [P.num(s.index), P.mono(s.name), s.kind]
        tail = [P.fmt_seconds(s.seconds), _shards_text(s)]
        if s.stats is None:
            rows.append(head + ["", "", "", "", *tail, "no stats recorded"])
            continue
        n_in, n_out = s.stats.counters.get("in", 0), s.stats.counters.get("out", 0)
        dropped = sum(s.stats.dropped.values())
        gap = n_out - (n_in - dropped)  # nonzero when a stage splits records or miscounts
        note = f"out = in − dropped {gap:+,}" if gap else ""
        rows.append(head + [P.num(n_in), P.num(n_out), P.num(dropped), P.pct(n_out, n_in), *tail, note])
        labels.append(s.label)
        ins.append(n_in)
        outs.append(n_out)
    headers = ["#", "stage", "kind", "in", "out", "dropped", "kept", "time", "shards", "note"]
    html = P.table(headers, rows)
    html += P.img(
        plots.grouped_bars(labels, [("in", ins), ("out", outs)], "Records in / out per stage", "records"),
        "records in and out per stage",
    )
    return html


def section_drops(run: RunData) -> str:
    if not run.stages:
        return P.notice("No stages, so no drops to show.")
    expl = _rule_explanations()
    out = []
    for s in run.stages:
        out.append(P.heading(3, f"Stage {s.label}"))
        if s.stats is None:
            out.append(P.notice(f"Stage {s.name} has no stats: its drops are unknown."))
            continue
        if not s.stats.dropped:
            out.append(P.para("No records dropped.", "muted"))
            continue
        n_in = s.stats.counters.get("in", 0)
        reasons = sorted(s.stats.dropped.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = []
        for reason, n in reasons[:TABLE_ROWS]:
            why = expl.get(reason.removeprefix("filter:"), "") if reason.startswith("filter:") else ""
            rows.append(
                [
                    P.mono(reason),
                    P.num(n),
                    P.pct(n, n_in),
                    P.nbytes(s.stats.dropped_bytes.get(reason, 0)),
                    why,
                ]
            )
        out.append(P.table(["reason", "files", "% of in", "bytes", "explanation"], rows))
        out.append(_more(min(len(reasons), TABLE_ROWS), len(reasons), "reasons"))
        top = reasons[:TOP_N]
        out.append(
            P.img(
                plots.hbar(
                    [r for r, _ in top],
                    [n for _, n in top],
                    f"{s.name}: top {len(top)} drop reasons",
                    "files dropped",
                ),
                f"drop reasons of stage {s.name}",
            )
        )
        out += [unknown_by_extension(s), drop_examples(s), rejects_note(run, s)]
    return "".join(out)


def section_rules(run: RunData) -> str:
    expl = _rule_explanations()
    out = []
    for s in _with_stats(run):
        assert s.stats is not None
        rules = _prefixed(s.stats.counters, "rule:")
        if not rules:
            continue
        n_in = s.stats.counters.get("in", 0)
        ranked = sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append(P.heading(3, f"Stage {s.label}"))
        out.append(
            P.table(
                ["rule", "fired", "% of in", "explanation"],
                [[P.mono(r), P.num(n), P.pct(n, n_in), expl.get(r, "")] for r, n in ranked[:TABLE_ROWS]],
            )
        )
        out.append(_more(min(len(ranked), TABLE_ROWS), len(ranked), "rules"))
        top = ranked[:TOP_N]
        out.append(
            P.img(
                plots.hbar(
                    [r for r, _ in top], [n for _, n in top], f"{s.name}: top {len(top)} rules fired", "files"
                ),
                f"filter rules fired in stage {s.name}",
            )
        )
    if not out:
        return P.notice("No filter rules fired (no rule:<name> counters in any stage).")
    note = (
        ""
        if expl
        else P.para("Rule explanations are unavailable (the filter package publishes none).", "muted")
    )
    return (
        P.para("A file may fire several rules, so the counts can exceed the drops.", "muted")
        + note
        + "".join(out)
    )


def section_languages(run: RunData) -> str:
    with_lang = [s for s in _with_stats(run) if s.stats and s.stats.by_language]
    if not with_lang:
        return P.notice("No per-language counts recorded (by_language is empty in every stage).")
    first, last = with_lang[0], with_lang[-1]
    assert first.stats is not None and last.stats is not None
    before, after = first.stats.by_language, last.stats.by_language
    langs = sorted(
        set(before) | set(after),
        key=lambda lang: (
            -before.get(lang, Counter()).get("bytes", 0),
            -after.get(lang, Counter()).get("bytes", 0),
            lang,
        ),
    )
    rows = []
    for lang in langs[:TABLE_ROWS]:
        b, a = before.get(lang, Counter()), after.get(lang, Counter())
        rows.append(
            [
                P.mono(lang),
                P.num(b.get("files", 0)),
                P.nbytes(b.get("bytes", 0)),
                P.num(a.get("files", 0)),
                P.nbytes(a.get("bytes", 0)),
                P.pct(a.get("bytes", 0), b.get("bytes", 0)),
            ]
        )
    html = P.para(f"Before = kept by stage {first.label}; after = kept by stage {last.label}.", "muted")
    html += P.table(
        ["language", "files before", "bytes before", "files after", "bytes after", "bytes kept"], rows
    )
    html += _more(min(len(langs), TABLE_ROWS), len(langs), "languages")
    top = langs[:TOP_N]
    for unit in ("files", "bytes"):
        html += P.img(
            plots.grouped_bars(
                top,
                [
                    ("before", [before.get(x, Counter()).get(unit, 0) for x in top]),
                    ("after", [after.get(x, Counter()).get(unit, 0) for x in top]),
                ],
                f"{unit.capitalize()} per language, top {len(top)}",
                unit,
            ),
            f"{unit} per language before and after",
        )
    return html


def section_dedup(run: RunData) -> str:
    groups: Counter = Counter()
    removed = removed_bytes = 0
    stages = []
    for s in _with_stats(run):
        assert s.stats is not None
        g = _prefixed(s.stats.counters, "dup_group_size:")
        if g or "exact_duplicate" in s.stats.dropped:
            stages.append(s.label)
        groups.update(g)
        removed += s.stats.dropped.get("exact_duplicate", 0)
        removed_bytes += s.stats.dropped_bytes.get("exact_duplicate", 0)
    if not stages:
        return P.notice(
            "No exact dedup in this run (no dup_group_size:<n> counters, no exact_duplicate drops)."
        )
    buckets = sorted(groups, key=_bucket_key)
    html = P.table(
        ["", "value"],
        [
            ["stages", ", ".join(stages)],
            ["duplicate groups", P.num(sum(groups.values()))],
            ["files removed", P.num(removed)],
            ["bytes removed", P.nbytes(removed_bytes)],
        ],
    )
    if buckets:
        html += P.table(["group size", "groups"], [[P.mono(b), P.num(groups[b])] for b in buckets])
        html += P.img(
            plots.histogram(
                buckets, [groups[b] for b in buckets], "Exact-duplicate group sizes", "files per group"
            ),
            "exact duplicate group size histogram",
        )
    else:
        html += P.notice("No group-size histogram recorded.")
    return html


def section_transform(run: RunData) -> str:
    rows = []
    for s in _with_stats(run):
        assert s.stats is not None
        for kind, n in sorted(_prefixed(s.stats.counters, "pii:").items()):
            rows.append([s.label, P.mono(f"PII: {kind}"), P.num(n)])
        if "copyright_header_removed" in s.stats.counters:
            rows.append(
                [
                    s.label,
                    P.mono("copyright headers removed"),
                    P.num(s.stats.counters["copyright_header_removed"]),
                ]
            )
    if not rows:
        return P.notice("No transform counts (no pii:<kind> or copyright_header_removed counters).")
    return P.table(["stage", "change", "count"], rows)


def _manifest_files(m: Any) -> list[dict[str, Any]]:
    files = m.get("files") if isinstance(m, dict) else m
    if isinstance(files, dict):
        files = [{"path": k, **v} if isinstance(v, dict) else {"path": k} for k, v in files.items()]
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def _manifest_totals(m: Any) -> dict[str, Any]:
    """files/rows/bytes of the dataset: recorded totals where present, else summed over files."""
    if m is None:
        return {}
    d = m if isinstance(m, dict) else {}
    t = d.get("totals") if isinstance(d.get("totals"), dict) else {}
    files = _manifest_files(m)
    return {
        "files": t.get("files", len(files)),
        "rows": t.get("rows", d.get("total_rows", sum(num_or_none(f.get("rows")) or 0 for f in files))),
        "bytes": t.get("bytes", d.get("total_bytes", sum(num_or_none(f.get("bytes")) or 0 for f in files))),
    }


def section_manifest(run: RunData) -> str:
    if run.manifest is None:
        return P.notice(
            "manifest.json is missing: no final dataset was written (or the write stage did not finish)."
        )
    files = _manifest_files(run.manifest)
    if not files:
        return P.notice("manifest.json lists no files.")
    rows = [
        [
            P.mono(f.get("path") or f.get("file") or f.get("name") or ""),
            P.num(f.get("rows", "")),
            P.nbytes(f.get("bytes", "")),
            P.mono(f.get("sha256", "")),
        ]
        for f in files[:MANIFEST_ROWS]
    ]
    t = _manifest_totals(run.manifest)
    html = P.table(["file", "rows", "bytes", "sha256"], rows)
    html += _more(min(len(files), MANIFEST_ROWS), len(files), "files")
    html += P.para(
        f"Total: {P.fmt_int(t.get('files', len(files)))} files, {P.fmt_int(t.get('rows', 'n/a'))} rows, "
        f"{P.fmt_bytes(t.get('bytes', 'n/a'))}."
    )
    return html
