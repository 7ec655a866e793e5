"""``report.html`` of a recall run, rendered from its ``recall.json`` with the shared report helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opencook.kit.report import page as P
from opencook.kit.report.plots import grouped_bars, hbar, histogram, lines
from opencook.kit.report.training import write_report


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _summary(rounds: list[dict[str, Any]]) -> str:
    rows = []
    for r in rounds:
        h = r.get("heldout") or {}
        rows.append([r["round"], P.num(r["positives"]), P.num(r["negatives"]), P.num(r["scored"]),
                     P.num(r["recalled"]), len(r["code_domains"]), len(r["new_domains"]), len(r["patterns"]),
                     P.num(r["pattern_additions"]), _pct(h.get("precision")), _pct(h.get("recall")),
                     P.fmt_seconds(r["train_seconds"]), P.fmt_seconds(r["score_seconds"])])
    table = P.table(["round", "positives", "negatives", "scored", "recalled", "code domains", "new", "patterns",
                     "added by URL", "held-out precision", "held-out recall", "train", "score"], rows)
    xs = [r["round"] for r in rounds]
    held = [r for r in rounds if r.get("heldout")]
    plot = lines([("precision", [r["round"] for r in held], [r["heldout"]["precision"] for r in held]),
                  ("recall", [r["round"] for r in held], [r["heldout"]["recall"] for r in held]),
                  ("classifier-only recall", [r["round"] for r in held],
                   [r["heldout"]["classifier"]["recall"] for r in held])],
                 "held-out precision and recall per round", "round", "fraction", ylim=(0, 1.02))
    counts = grouped_bars([str(x) for x in xs], [("recalled", [r["recalled"] for r in rounds]),
                                                 ("added by URL pattern", [r["pattern_additions"] for r in rounds])],
                          "pages per round", "pages")
    return (table + P.img(plot, "held-out precision and recall") if held else table) + P.img(counts, "pages")


def _round(r: dict[str, Any]) -> str:
    out = [P.heading(2, f"Round {r['round']}", f"round{r['round']}")]
    labels = [f"{b / 10:.1f}-{(b + 1) / 10:.1f}" for b in range(10)]

    out.append(P.img(histogram(labels, r["score_hist"], f"round {r['round']}: P(code) of corpus pages", "score"),
                     "score histogram"))
    top = r["top_domains"]
    out.append(P.img(hbar([t["domain"] for t in top], [t["recalled"] for t in top],
                          f"round {r['round']}: top domains by recalled pages", "recalled pages"), "top domains"))
    out.append(P.table(["domain", "pages", "recalled", "share", "code domain"],
                       [[P.mono(t["domain"]), P.num(t["pages"]), P.num(t["recalled"]), _pct(t["share"]),
                         "yes" if t["code_domain"] else ""] for t in top]))
    if r["new_domains"]:
        out.append(P.para("New code domains: " + ", ".join(r["new_domains"])))
    out.append(P.para(f"URL patterns ({len(r['patterns'])}): " + (", ".join(r["patterns"]) or "none")))
    return "".join(out)


def render_recall_report(out_dir: Path) -> str:
    data = json.loads((Path(out_dir) / "recall.json").read_text())
    rounds = data["rounds"]
    o = data["output"]
    body = [P.heading(2, "Summary", "summary"),
            P.para(f"{o['pages']} pages recalled, {o['added_by_url_pattern']} of them added by URL patterns; "
                   f"dataset parts: {', '.join(o['parts'])}."),
            _summary(rounds)]
    body += [_round(r) for r in rounds]
    read = data["read"]
    if read.get("dropped"):
        body.append(P.heading(2, "Input problems", "input"))
        body.append(P.table(["reason", "pages"], [[P.mono(k), P.num(v)] for k, v in read["dropped"].items()]))
    nav = [("summary", "Summary")] + [(f"round{r['round']}", f"Round {r['round']}") for r in rounds]
    return P.document("Code-related text recall", nav, "".join(body))


def write_recall_report(out_dir: Path) -> Path:
    return write_report(Path(out_dir), render_recall_report)
