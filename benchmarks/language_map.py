"""How many real files fall to `unknown_language`: the previous language map vs today's.

Walks ``--roots`` (default /usr/share and /usr/lib; every regular file, no sampling unless
``--limit``) and detects each file's language twice, in one run: with ``languages.py`` as of
``--before`` (a git revision, default the last commit before the Linguist overlay) and with the current
module (hand table + generated Linguist table + shebangs of extensionless files). A file is
"text" when its first 8 KiB hold no NUL byte; binaries are unknown to both and are reported apart.
Writes benchmarks/results/language_map.{json,md}.
Run: .venv/bin/python benchmarks/language_map.py [--roots /usr/share /usr/lib] [--before REV]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import types
from collections import Counter
from pathlib import Path

from _machine import command_line, git_commit, machine_info, write_results
from opencook.data.ingest import languages

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODULE = "src/opencook/data/ingest/languages.py"
BEFORE = "3e7fecf"  # the hand table alone (~280 languages), name-only detection


def old_module(rev: str) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{rev}:{MODULE}"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    mod = types.ModuleType("languages_before")
    exec(compile(source, f"{rev}:{MODULE}", "exec"), mod.__dict__)  # noqa: S102 - our own file at a revision
    return mod


def walk(roots: list[Path], limit: int):
    n = 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                yield path
                n += 1
                if n >= limit:
                    return


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else "(none)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--roots", nargs="+", type=Path, default=[Path("/usr/share"), Path("/usr/lib")])
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--limit", type=int, default=10**9)
    args = ap.parse_args()
    before = old_module(args.before)
    counts = Counter()
    unknown_ext_after = Counter()
    gained = Counter()
    by_shebang = Counter()
    t0 = time.perf_counter()
    for path in walk(args.roots, args.limit):
        try:
            with open(path, "rb") as f:
                head = f.read(8192)
        except OSError:
            continue
        kind = "binary" if b"\0" in head else "text"
        old = before.detect_language(path)
        name_only = languages.detect_language(path)
        new = languages.detect_language(path, head) if name_only == languages.UNKNOWN else name_only
        counts[f"{kind}_files"] += 1
        counts[f"{kind}_unknown_before"] += old == before.UNKNOWN
        counts[f"{kind}_unknown_after"] += new == languages.UNKNOWN
        if new == languages.UNKNOWN and kind == "text":
            unknown_ext_after[_ext(os.path.basename(path))] += 1
        if old == before.UNKNOWN and new != languages.UNKNOWN and kind == "text":
            gained[new] += 1
            if name_only == languages.UNKNOWN:
                by_shebang[new] += 1
    seconds = time.perf_counter() - t0
    files = counts["text_files"] + counts["binary_files"]
    unknown_before = counts["text_unknown_before"] + counts["binary_unknown_before"]
    unknown_after = counts["text_unknown_after"] + counts["binary_unknown_after"]
    commit, dirty = git_commit(ROOT, MODULE)
    n_langs_before = len(before.DOC_TYPE)
    n_langs_after = len(languages.DOC_TYPE)
    kept_types = Counter(languages.DOC_TYPE.values())
    result = {
        "command": command_line("language_map.py"), "commit": commit, "dirty": dirty, "before_rev": args.before,
        "machine": machine_info(), "load_avg": [round(x, 2) for x in os.getloadavg()],
        "roots": [str(r) for r in args.roots], "seconds": round(seconds, 1), "files": files, **counts,
        "unknown_before": unknown_before, "unknown_after": unknown_after,
        "languages_before": n_langs_before, "languages_after": n_langs_after,
        "doc_types_after": dict(kept_types), "interpreters": len(languages.INTERPRETERS),
        "gained_text_files_by_language": dict(gained.most_common(30)),
        "gained_by_shebang": dict(by_shebang.most_common(15)),
        "unknown_text_by_extension_after": dict(unknown_ext_after.most_common(25)),
    }

    def pct(a: int, b: int) -> str:
        return f"{a} ({100 * a / max(b, 1):.1f}%)"

    md = [
        "# Files that fall to `unknown_language`: previous map vs Linguist overlay + shebangs", "",
        f"`{result['command']}` at {commit}{' (dirty)' if dirty else ''}, before = `languages.py` at "
        f"{args.before}; {files} regular files under {', '.join(result['roots'])} ({result['seconds']} s, "
        f"load average {result['load_avg'][0]} on a shared 2-core machine).", "",
        "| files | count | unknown before | unknown after |", "| --- | --- | --- | --- |",
        f"| all | {files} | {pct(unknown_before, files)} | {pct(unknown_after, files)} |",
        f"| text (no NUL in the first 8 KiB) | {counts['text_files']} | "
        f"{pct(counts['text_unknown_before'], counts['text_files'])} | "
        f"{pct(counts['text_unknown_after'], counts['text_files'])} |",
        f"| binary | {counts['binary_files']} | {pct(counts['binary_unknown_before'], counts['binary_files'])} | "
        f"{pct(counts['binary_unknown_after'], counts['binary_files'])} |", "",
        f"Languages with a doc type: {n_langs_before} before, {n_langs_after} after "
        f"({', '.join(f'{k} {v}' for k, v in sorted(kept_types.items()))}); {len(languages.INTERPRETERS)} "
        "interpreters for shebangs.", "",
        "Text files newly recognised, by language: "
        + ", ".join(f"{k} {v}" for k, v in gained.most_common(20)) + ".", "",
        "Of those, through a shebang: " + ", ".join(f"{k} {v}" for k, v in by_shebang.most_common(10)) + ".", "",
        "Text files still unknown, by extension: "
        + ", ".join(f"`{k}` {v}" for k, v in unknown_ext_after.most_common(20)) + ".", "",
    ]
    write_results(RESULTS, "language_map", result, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
