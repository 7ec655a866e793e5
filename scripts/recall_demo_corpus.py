"""A labelled web corpus made on the spot, for tests, the benchmark and the demo (tooling, not library).

Run: ``python scripts/recall_demo_corpus.py runs/recall_demo`` writes the corpus, seeds, a held-out
sample, a tokenizer and ``recall.yaml``. tests/data/test_recall.py and benchmarks/recall_speed.py import it
with scripts/ on ``sys.path``.

Code-related pages are built from real code and docs: the docstrings and source of pure-Python
standard-library functions, wrapped in a little prose, on ``docs.python.org``, ``stackoverflow.com``
and a blog. Other pages are ordinary prose (news, recipes, sport, travel) from templates. Planted on
the code domains are prose pages that are still code-related by where they live (community pages of
the docs, off-topic-looking questions): the classifier misses them and only the URL-pattern step can
add them. A few tech-news pages with code sit on a news domain, below the code-domain share.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

MODULES = ("json", "textwrap", "shutil", "argparse", "csv", "difflib", "heapq", "bisect", "fractions", "statistics",
           "calendar", "random", "string", "functools", "pathlib", "tempfile", "glob", "fnmatch", "base64", "gzip",
           "html", "ipaddress", "shlex", "pprint", "queue", "sched", "secrets", "tarfile", "zipfile", "uuid",
           "urllib.parse", "email.utils", "http.cookies", "logging", "configparser", "dataclasses", "enum", "copy",
           "contextlib", "abc", "operator", "numbers", "decimal", "datetime", "platform", "locale", "getopt",
           "optparse", "threading", "subprocess", "socketserver", "ftplib", "smtplib", "imaplib", "mailbox",
           "wave", "colorsys", "codecs", "quopri", "netrc", "plistlib", "tomllib", "graphlib", "zoneinfo")

TOPICS = {
    "news": (["minister", "council", "election", "budget", "court", "mayor", "protest", "economy", "report",
              "committee", "parliament", "voters", "inflation", "agency", "spokesperson", "treaty"],
             ["announced", "criticised", "approved", "delayed", "rejected", "welcomed", "debated", "confirmed"]),
    "recipes": (["onion", "garlic", "butter", "flour", "oven", "pan", "sauce", "pepper", "lemon", "basil", "dough",
                 "chicken", "rice", "broth", "cream", "salt", "sugar", "skillet"],
                ["chop", "simmer", "whisk", "bake", "stir", "season", "fold", "roast", "drizzle", "knead"]),
    "sport": (["striker", "coach", "league", "match", "goal", "season", "referee", "fans", "stadium", "title",
               "keeper", "midfield", "trophy", "injury", "derby", "captain"],
              ["scored", "defended", "celebrated", "lost", "won", "signed", "equalised", "dominated"]),
    "travel": (["beach", "village", "museum", "harbour", "train", "valley", "hotel", "market", "island", "castle",
                "festival", "cathedral", "hike", "ferry", "vineyard", "coast"],
               ["visited", "explored", "wandered", "booked", "photographed", "discovered", "admired", "crossed"]),
}
ADJ = ["quiet", "busy", "old", "bright", "local", "famous", "small", "long", "warm", "early", "late", "grand",
       "simple", "fresh", "crowded", "gentle", "sudden", "careful"]
GLUE = ["Meanwhile", "Later", "By evening", "Earlier that week", "In the end", "Still", "According to residents",
        "For many", "After a while", "Even so"]


@dataclass
class Page:
    url: str
    text: str
    code: bool
    kind: str  # "code", "prose", "planted" (code-related prose on a code domain), "tech_news" (code on news)


def _functions(modules: tuple[str, ...] = MODULES) -> list[tuple[str, str, str, str]]:
    """(module, name, docstring, source) of documented pure-Python functions, in a stable order."""
    out = []
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for attr, obj in sorted(vars(mod).items()):
            if attr.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != mod.__name__:
                continue
            doc = inspect.getdoc(obj)
            try:
                src = inspect.getsource(obj)
            except (OSError, TypeError):
                continue
            if doc and 80 < len(src) < 4000:
                out.append((name, attr, doc, src))
    return out


def prose(rng: random.Random, topic: str, sentences: int) -> str:
    nouns, verbs = TOPICS[topic]
    out = []
    for i in range(sentences):
        s = (f"The {rng.choice(ADJ)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} "
             f"near the {rng.choice(ADJ)} {rng.choice(nouns)}.")
        if i % 3 == 2:
            s = f"{rng.choice(GLUE)}, the {rng.choice(nouns)} {rng.choice(verbs)} {rng.randint(2, 90)} times."
        out.append(s)
    paras = [" ".join(out[i : i + 4]) for i in range(0, len(out), 4)]
    return "\n\n".join(paras)


def code_page(rng: random.Random, fn: tuple[str, str, str, str], style: str) -> str:
    mod, name, doc, src = fn
    if style == "docs":
        return (f"{mod}.{name}\n\n{doc}\n\nExample:\n\n>>> import {mod}\n>>> {mod}.{name}(...)\n\n"
                f"Source code:\n\n{src}\n")
    if style == "qa":
        return (f"How does {mod}.{name} work in Python?\n\nI am trying to call {name} from the {mod} module "
                f"but the result is not what I expected. Here is the implementation I found:\n\n{src}\n"
                f"What am I missing?\n\nAnswer: read the docstring carefully:\n\n{doc}\n")
    return (f"Understanding {name} in Python's {mod}\n\nIn this tutorial we read the source of {name}.\n\n{src}\n"
            f"The documentation says:\n\n{doc}\n\nTry it yourself: import {mod} and call {name}.\n")


def _slug(rng: random.Random) -> str:
    return "-".join(rng.choice(ADJ) for _ in range(3))


def make_corpus(seed: int = 0, *, scale: int = 1) -> tuple[list[Page], list[Page], list[Page]]:
    """``(corpus, seeds, heldout)``: about 370, 80 and 100 pages at ``scale=1`` (pages grow linearly)."""
    rng = random.Random(seed)
    fns = _functions()
    rng.shuffle(fns)
    seed_fns, corpus_fns = fns[: len(fns) // 3], fns[len(fns) // 3 :]
    qid = itertools.count(10_000_000, 7919)

    def code(domain: str, style: str, n: int, pool: list) -> list[Page]:
        pages = []
        for _ in range(n):
            fn = rng.choice(pool)
            if domain == "docs.python.org":
                url = f"https://docs.python.org/3/library/{fn[0]}.html#{fn[0]}.{fn[1]}.{next(qid)}"
            elif domain == "stackoverflow.com":
                url = f"https://stackoverflow.com/questions/{next(qid)}/{fn[1].replace('_', '-')}"
            else:
                url = f"https://{domain}/posts/{fn[1]}-{next(qid)}/"
            pages.append(Page(url, code_page(rng, fn, style), True, "code"))
        return pages

    def other(domain: str, topic: str, n: int, section: str) -> list[Page]:
        return [Page(f"https://{domain}/{section}/{_slug(rng)}-{next(qid)}", prose(rng, topic, rng.randint(6, 16)),
                     False, "prose") for _ in range(n)]

    def planted(n: int) -> list[Page]:
        pages = []
        for i in range(n):
            topic = rng.choice(list(TOPICS))
            if i % 2:
                url = f"https://docs.python.org/3/community/{_slug(rng)}-{next(qid)}.html"
            else:
                url = f"https://stackoverflow.com/questions/{next(qid)}/{_slug(rng)}"
            pages.append(Page(url, prose(rng, topic, rng.randint(6, 12)), True, "planted"))
        return pages

    def build(k: int) -> list[Page]:
        pages = (code("docs.python.org", "docs", 60 * k, corpus_fns) + code("stackoverflow.com", "qa", 60 * k, corpus_fns)
                 + code("pyblog.example", "blog", 20 * k, corpus_fns) + planted(18 * k)
                 + other("dailynews.example", "news", 50 * k, "world") + other("recipes.example", "recipes", 50 * k, "recipe")
                 + other("sportsdesk.example", "sport", 50 * k, "match") + other("travelnotes.example", "travel", 50 * k, "trip"))
        for _ in range(3 * k):
            fn = rng.choice(corpus_fns)
            text = prose(rng, "news", 6) + "\n\nThe code behind it:\n\n" + fn[3]
            pages.append(Page(f"https://dailynews.example/tech/{_slug(rng)}-{next(qid)}", text, True, "tech_news"))
        rng.shuffle(pages)
        return pages

    corpus = build(scale)
    seeds = [Page(f"https://seed.example/{i}", code_page(rng, rng.choice(seed_fns), rng.choice(["docs", "qa", "blog"])),
                  True, "code") for i in range(80 * scale)]
    held = (code("docs.python.org", "docs", 20, corpus_fns) + code("stackoverflow.com", "qa", 20, corpus_fns)
            + planted(10) + other("dailynews.example", "news", 15, "world") + other("recipes.example", "recipes", 15, "recipe")
            + other("sportsdesk.example", "sport", 10, "match") + other("travelnotes.example", "travel", 10, "trip"))
    return corpus, seeds, held


def write_demo(out_dir: str | Path, seed: int = 0, scale: int = 1) -> Path:
    """A ready-to-run recall demo: the corpus as a WET file, a Parquet and a JSONL file; seeds; a labelled
    held-out sample; a small BPE tokenizer trained on the corpus; ``recall.yaml``. Returns the YAML path."""
    import gzip
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from opencook.tokenizer import TokenizerConfig, save_tokenizer, train_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus, seeds, held = make_corpus(seed, scale=scale)
    third = len(corpus) // 3
    with open(out / "cc.warc.wet.gz", "wb") as fh:
        for p in corpus[:third]:
            body = p.text.encode()
            head = (f"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: {p.url}\r\n"
                    f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            fh.write(gzip.compress(head + body + b"\r\n\r\n"))
    part = corpus[third : 2 * third]
    pq.write_table(pa.table({"url": [p.url for p in part], "text": [p.text for p in part]}), out / "fineweb.parquet")
    for name, pages, labelled in (("web.jsonl", corpus[2 * third :], False), ("seeds.jsonl", seeds, False),
                                  ("heldout.jsonl", held, True)):
        with open(out / name, "w") as fh:
            for p in pages:
                fh.write(json.dumps({"url": p.url, "text": p.text} | ({"label": int(p.code)} if labelled else {})) + "\n")
    with open(out / "labels.jsonl", "w") as fh:
        for p in corpus:
            fh.write(json.dumps({"url": p.url, "label": int(p.code), "kind": p.kind}) + "\n")
    tok = train_tokenizer([out / "web.jsonl", out / "seeds.jsonl"], TokenizerConfig(vocab_size=1200), progress=False)
    save_tokenizer(tok, out / "tokenizer")
    (out / "recall.yaml").write_text(
        "# code-related web text recall on the self-made demo corpus (python scripts/recall_demo_corpus.py)\n"
        "corpus: [cc.warc.wet.gz, fineweb.parquet, web.jsonl]\nseeds: [seeds.jsonl]\nheldout: heldout.jsonl\n"
        "tokenizer: tokenizer\nrounds: 3\nthreshold: 0.5\ndomain_share: 0.10\nseed: 0\n")
    return out / "recall.yaml"


if __name__ == "__main__":
    import sys

    print(write_demo(sys.argv[1] if len(sys.argv) > 1 else "recall_demo"))
