"""Plan a remote folder (an fsspec URL) the way a local folder is planned, from one recursive listing.

An object store has no directories, links or special files: one ``find`` names every object with its size
and version tag (S3 ETag, GCS generation). The layouts, hidden-name rules, VCS folders and ``exclude``
patterns are those of the local walk (``sources.py``), so a tree uploaded as it is ingests to the same
records as its local copy. Each loose file then costs its own requests when read; an archive or a
JSONL/Parquet file holds many files per request.
"""

from __future__ import annotations

import hashlib

from opencook.data.ingest.config import IngestConfig, auto_layout, excluded
from opencook.data.ingest.readers import SKIP_DIRS, member_filter
from opencook.kit.io import remote

Listing = dict[str, tuple[int, str]]  # relative path -> (size, version tag)
TreeFile = tuple[str, str, str, str]  # (root, repo, relative path, flag), as IngestTask.files


def walk_remote(url: str, config: IngestConfig, entry_suffixes: tuple[str, ...]) -> tuple[list[str], list[TreeFile], dict[str, str]]:
    """``(entry files, tree files, versions)`` of the folder ``url``: archives/JSONL/Parquet to plan as files
    (in a ``repos`` layout), loose files as ``IngestTask`` tree entries, and each tree file's
    ``size:version`` by URL (the resume key of the tasks they land in)."""
    base = url.rstrip("/")
    listing = remote.listing(base)
    groups: list[tuple[str, str, Listing]] = []
    entries: list[str] = []
    if _layout(listing, config.layout, entry_suffixes) == "repo":
        groups.append((base, remote.basename(base), listing))
    else:
        by_repo: dict[str, Listing] = {}
        loose: Listing = {}
        for rel, info in listing.items():
            top, _, rest = rel.partition("/")
            if top in SKIP_DIRS or (top.startswith(".") and not config.include_hidden):
                continue
            if not rest:
                if rel.lower().endswith(entry_suffixes):
                    entries.append(remote.join(base, rel))
                else:  # a loose file next to the repositories belongs to none of them
                    loose[rel] = info
            else:
                by_repo.setdefault(top, {})[rest] = info
        groups.append((base, "", loose))
        groups.extend((remote.join(base, top), top, files) for top, files in sorted(by_repo.items()))
    tree: list[TreeFile] = []
    versions: dict[str, str] = {}
    for root, repo, files in groups:
        for rel, (size, version) in sorted(files.items()):
            verdict = member_filter(rel, config.include_hidden)  # as an archive member: the walk's rules
            if verdict == "skip" or config.exclude and _excluded(rel, config.exclude):
                continue
            tree.append((root, repo, rel, "h" if verdict == "hidden" else "f"))
            versions[remote.join(root, rel)] = f"{size}:{version}"
    return sorted(entries), tree, versions


def tree_version(files: tuple[TreeFile, ...], versions: dict[str, str]) -> str:
    """A digest of the listed sizes and versions of a task's remote files ("" when it has none)."""
    lines = [f"{url}\0{versions[url]}\n" for url in (remote.join(root, rel) for root, _, rel, _ in files)
             if url in versions]
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest() if lines else ""


def _excluded(rel: str, patterns: list[str]) -> bool:
    """As the local walk, which prunes an excluded folder: the file or any folder above it is excluded."""
    parts = rel.split("/")
    return excluded(rel, False, patterns) or any(excluded("/".join(parts[:i]), True, patterns)
                                                 for i in range(1, len(parts)))


def _layout(listing: Listing, layout: str, entry_suffixes: tuple[str, ...]) -> str:
    """``resolve_layout``'s ``auto`` rule (docs/ingest.md) on a listing instead of a directory."""
    if layout != "auto":
        return layout
    if any(rel.startswith(".git/") for rel in listing):
        return "repo"
    tops = [rel.split("/", 1) for rel in listing if not rel.startswith(".")]
    dirs = {t[0] for t in tops if len(t) == 2}
    top_files = [t[0] for t in tops if len(t) == 1]
    entry_files = [f for f in top_files if f.lower().endswith(entry_suffixes)]
    loose = [f for f in top_files if f not in entry_files]
    has_git = any(rel.split("/", 2)[1:2] == [".git"] for rel in listing if "/" in rel)
    return auto_layout(has_git, bool(entry_files), bool(loose), len(dirs))
