"""HTML -> text extractors for the recall path, side by side on real HTML pages of this machine.

The pages are the documentation trees installed here (rustdoc API pages and rust books, Node.js and
npm docs, valgrind, libxslt, libffi, /usr/share/doc): up to ``--per-group`` pages per tree, chosen
by the sha1 of their path, so a rerun on the same machine reads the same pages.

Per extractor (``opencook.data.recall.extract``: resiliparse, trafilatura, and the old bs4 get_text):

- speed: MB of HTML per second and pages per second, one thread, the pages already in memory;
- boilerplate kept: the share of navigation/header/footer/sidebar text units found in the output. The
  regions come from the page's DOM (``<nav>``, ``<header>``, ``<footer>``, ``<aside>``, ARIA roles
  navigation/banner/contentinfo/search, class or id tokens starting with nav/sidebar/menu/toc/
  breadcrumb/footer/search/skip); a unit that also occurs in the main text is not counted;
- main text kept: the share of the main region's leaf blocks (``<main>``, ``role=main``, ``<article>``
  or the body, boilerplate removed) found in the output, and of its ``<pre>`` lines (code);
- hand labels: for a handful of pages, strings a reader wants kept and strings that are boilerplate
  (``recall_extract_labels.json``, written by reading the pages): the share of right calls.

"Found" compares with all whitespace removed, so extractors that break lines differently are not
penalised. The DOM regions are a proxy, not a gold standard: doc generators mark navigation well;
web pages often do not.

    .venv/bin/python benchmarks/recall_extract.py [--per-group 25] [--repeat 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import Tag

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.data.recall.extract import EXTRACTORS, extractor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABELS = Path(__file__).resolve().parent / "recall_extract_labels.json"
_STABLE = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/"
GROUPS: dict[str, re.Pattern] = {
    "rustdoc std API": re.compile(re.escape(_STABLE) + r"std/"),
    "rustdoc source view": re.compile(re.escape(_STABLE) + r"src/std/"),
    "rust book (mdBook)": re.compile(re.escape(_STABLE) + r"book/"),
    "rust by example (mdBook)": re.compile(re.escape(_STABLE) + r"rust-by-example/(?!(zh|ko|ja|es)/)"),
    "rustc book (mdBook)": re.compile(re.escape(_STABLE) + r"rustc/"),
    "node.js API": re.compile(r"^/usr/share/doc/nodejs/api/"),
    "npm docs": re.compile(r"^/usr/lib/node_modules/npm/docs/"),
    "valgrind manual": re.compile(r"^/usr/share/doc/valgrind/"),
    "libxslt (gtk-doc)": re.compile(r"^/usr/share/doc/libxslt1-dev/"),
    "other /usr/share/doc": re.compile(r"^/usr/share/(doc|gtk-doc)/(?!nodejs|valgrind|libxslt1-dev)"),
}
SEARCH = ["/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc", "/usr/share/doc",
          "/usr/share/gtk-doc", "/usr/lib/node_modules/npm/docs"]

_BOILER_TAGS = {"nav", "header", "footer", "aside"}
_BOILER_ROLES = {"navigation", "banner", "contentinfo", "search"}
_BOILER_PREFIX = ("nav", "sidebar", "menu", "toc", "breadcrumb", "footer", "search", "skip")
_BOILER_SUFFIX = ("-nav", "-sidebar", "-menu", "-toc", "-footer", "-breadcrumbs", "_nav", "_footer")
_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "td", "th", "pre", "blockquote", "caption",
           "summary", "div", "section", "figcaption", "table", "ul", "ol", "dl"}
_SPACE = re.compile(r"\s+")
MIN_UNIT = 4


def squash(text: str) -> str:
    return _SPACE.sub("", text)


def find_pages(per_group: int) -> dict[str, list[str]]:
    out = subprocess.run(["find", *[d for d in SEARCH if os.path.isdir(d)], "-name", "*.html", "-type", "f"],
                         capture_output=True, text=True).stdout.split()
    by_group: dict[str, list[str]] = {g: [] for g in GROUPS}
    for path in out:
        for g, pat in GROUPS.items():
            if pat.search(path):
                by_group[g].append(path)
                break
    rank = lambda p: hashlib.sha1(p.encode()).hexdigest()  # noqa: E731
    return {g: sorted(ps, key=rank)[:per_group] for g, ps in by_group.items() if ps}


def _is_boiler(el: Tag) -> bool:
    if el.name in ("html", "body", "main", "article"):
        return False
    if el.name in _BOILER_TAGS or (el.get("role") or "").lower() in _BOILER_ROLES:
        return True
    tokens = [*(el.get("class") or []), el.get("id") or ""]
    return any(t.lower().startswith(_BOILER_PREFIX) or t.lower().endswith(_BOILER_SUFFIX) for t in tokens if t)


def regions(html: str) -> tuple[set[str], set[str], set[str]]:
    """``(main units, code lines, boilerplate units)`` of a page, whitespace-free."""
    soup = BeautifulSoup(html, "html.parser")
    for t in soup(("script", "style", "noscript", "template", "svg", "head")):
        t.decompose()
    boiler_units: set[str] = set()
    for el in soup.find_all(_is_boiler):
        for sub in [el, *el.find_all(True)]:
            if sub.name == "a" or not sub.find(_BLOCKS):
                u = squash(sub.get_text(" "))
                if len(u) >= MIN_UNIT:
                    boiler_units.add(u)
        el.decompose() if el.parent is not None else None
    main = (soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article") or soup.body or soup)
    code: set[str] = set()
    for pre in main.find_all("pre"):
        code.update(u for line in pre.get_text().splitlines() if len(u := squash(line)) >= MIN_UNIT)
    units = {u for el in main.find_all(_BLOCKS) if not el.find(_BLOCKS) and len(u := squash(el.get_text(" "))) >= MIN_UNIT}
    whole = squash(main.get_text(" "))
    return units, code, {u for u in boiler_units if u not in whole}


def measure(pages: dict[str, list[str]], repeat: int) -> dict:
    texts = {p: Path(p).read_bytes().decode("utf-8", "replace") for ps in pages.values() for p in ps}
    nbytes = sum(len(t.encode()) for t in texts.values())
    labels = [x for x in json.loads(LABELS.read_text()) if x["path"] in texts or os.path.isfile(x["path"])]
    for x in labels:
        texts.setdefault(x["path"], Path(x["path"]).read_bytes().decode("utf-8", "replace"))
    ref = {p: regions(texts[p]) for ps in pages.values() for p in ps}
    result: dict = {}
    for name in EXTRACTORS:
        fn = extractor(name)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            outs = {p: fn(texts[p]) for ps in pages.values() for p in ps}
            best = min(best, time.perf_counter() - t0)
        groups = {}
        tot = dict.fromkeys(("main", "main_found", "code", "code_found", "boiler", "boiler_found"), 0)
        for g, ps in pages.items():
            gt = dict.fromkeys(tot, 0)
            for p in ps:
                out = squash(outs[p])
                units, code, boiler = ref[p]
                gt["main"] += len(units)
                gt["main_found"] += sum(u in out for u in units)
                gt["code"] += len(code)
                gt["code_found"] += sum(u in out for u in code)
                gt["boiler"] += len(boiler)
                gt["boiler_found"] += sum(u in out for u in boiler)
            groups[g] = _shares(gt) | {"pages": len(ps), "empty": sum(not outs[p].strip() for p in ps),
                                       "chars_per_page": round(sum(len(outs[p]) for p in ps) / len(ps))}
            for k in tot:
                tot[k] += gt[k]
        right = total = 0
        for x in labels:
            out = squash(fn(texts[x["path"]]))
            right += sum(squash(s) in out for s in x["keep"]) + sum(squash(s) not in out for s in x["drop"])
            total += len(x["keep"]) + len(x["drop"])
        all_out = [outs[p] for ps in pages.values() for p in ps]
        result[name] = _shares(tot) | {
            "seconds": round(best, 3), "mb_per_s": round(nbytes / best / 1e6, 2),
            "pages_per_s": round(len(all_out) / best, 1), "empty_pages": sum(not o.strip() for o in all_out),
            "chars_per_page": round(sum(map(len, all_out)) / len(all_out)),
            "hand_labels": {"pages": len(labels), "checks": total, "right": right,
                            "agreement": round(right / total, 4) if total else None},
            "groups": groups}
    return {"pages": sum(map(len, pages.values())), "html_mb": round(nbytes / 1e6, 2), "extractors": result}


def _shares(t: dict) -> dict:
    share = lambda a, b: round(t[a] / t[b], 4) if t[b] else None  # noqa: E731
    return {"main_kept": share("main_found", "main"), "code_kept": share("code_found", "code"),
            "boilerplate_kept": share("boiler_found", "boiler"), "units": {k: t[k] for k in ("main", "code", "boiler")}}


def render(res: dict, pages: dict[str, list[str]], cmd: str) -> str:
    m = res["machine"]
    lines = [
        "# Recall: HTML -> text extractors on real documentation pages", "",
        f"`{cmd}` · commit {res['commit']}{' (dirty)' if res['dirty'] else ''} · {m['cpu']}, {m['cores']} cores, "
        f"shared with other jobs (load average {res['load_avg']}), one thread · "
        f"{res['versions']}", "",
        f"{res['pages']} pages ({res['html_mb']} MB of HTML) from {len(pages)} documentation trees of this machine "
        "(up to the per-group count each, chosen by sha1 of the path).", "",
        "| extractor | MB/s | pages/s | main text kept | code lines kept | boilerplate kept | "
        "hand labels right | empty pages | chars/page |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in res["extractors"].items():
        h = r["hand_labels"]
        lines.append(f"| {name} | {r['mb_per_s']} | {r['pages_per_s']} | {r['main_kept']} | {r['code_kept']} | "
                     f"{r['boilerplate_kept']} | {h['right']}/{h['checks']} ({h['pages']} pages) | {r['empty_pages']} | "
                     f"{r['chars_per_page']} |")
    lines += ["", "Per tree (main kept / code kept / boilerplate kept / empty pages):", "",
              "| tree | pages | " + " | ".join(res["extractors"]) + " |",
              "| --- | ---: | " + " | ".join("---" for _ in res["extractors"]) + " |"]
    for g, ps in pages.items():
        cells = []
        for r in res["extractors"].values():
            x = r["groups"][g]
            cells.append(f"{x['main_kept']} / {x['code_kept']} / {x['boilerplate_kept']} / {x['empty']}")
        lines.append(f"| {g} | {len(ps)} | " + " | ".join(cells) + " |")
    lines += ["", "Units are leaf blocks (main), `<pre>` lines (code) and link/leaf texts inside navigation "
              "regions (boilerplate) of at least 4 non-space characters, compared with all whitespace removed; "
              "a boilerplate unit that also occurs in the main text is not counted. The regions come from each "
              "page's DOM and are a proxy; the hand labels (`benchmarks/recall_extract_labels.json`) are strings "
              "read off the pages.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-group", type=int, default=25)
    ap.add_argument("--repeat", type=int, default=1, help="timed passes per extractor; the fastest is kept")
    args = ap.parse_args()
    pages = find_pages(args.per_group)
    res = measure(pages, args.repeat)
    commit, dirty = git_commit(ROOT, "src/opencook/data/recall")
    import importlib.metadata as md

    res |= {"commit": commit, "dirty": dirty, "machine": machine_info(), "load_avg": os.getloadavg()[0],
            "versions": ", ".join(f"{p} {md.version(p)}" for p in ("resiliparse", "trafilatura", "beautifulsoup4")),
            "groups": {g: len(ps) for g, ps in pages.items()}, "per_group": args.per_group}
    cmd = command_line("recall_extract.py")
    md_text = render(res, pages, cmd)
    write_results(ROOT / "benchmarks" / "results", "recall_extract", res, md_text)
    print(md_text)


if __name__ == "__main__":
    main()
