"""Ingest configuration, the unit of work, and the one error type users see."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

ARCHIVE_SUFFIXES = (
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.zst",
    ".tzst",
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".zip",
)
JSONL_SUFFIXES = tuple(f"{base}{comp}" for base in (".jsonl", ".ndjson") for comp in ("", ".gz", ".zst"))
PARQUET_SUFFIXES = (".parquet",)
LAYOUTS = ("auto", "repos", "repo")


def auto_layout(sub_git: bool, entry_files: bool, loose: bool, dirs: int) -> str:
    """The ``auto`` layout of a directory without its own ``.git`` (docs/ingest.md), from its non-hidden top
    level: a subfolder with ``.git``, archives/JSONL/Parquet files, other files, the number of subfolders.
    One rule for the local walk (``sources.resolve_layout``) and a remote listing (``remote_tree``)."""
    if sub_git or (entry_files and not loose):
        return "repos"
    if loose:
        return "repo"
    return "repos" if dirs > 1 else "repo"


def excluded(rel: str, is_dir: bool, patterns: list[str]) -> bool:
    """``rel`` matches an ``exclude`` pattern; a directory matches as ``rel/`` too, so ``"test/*"`` prunes the
    whole ``test`` folder. The local walk asks it of every entry, the remote one of a file and its folders."""
    candidates = (rel, rel + "/") if is_dir else (rel,)
    return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)
FLAG_DROPS = {"l": "symlink", "h": "hidden", "s": "special_file", "x": "symlink_loop"}  # see IngestTask


class IngestError(Exception):
    """An input that cannot be ingested; the message names the path and the fix."""


@dataclass
class IngestConfig:
    """What to ingest and what to keep.

    - ``paths``: directories, archives, JSONL(.gz/.zst) or Parquet files; glob patterns allowed.
    - ``layout``: how a directory maps to repositories: ``repo`` (the directory is one
      repository), ``repos`` (each immediate subfolder or archive is one), ``auto`` (see
      docs/ingest.md).
    - ``metadata``: sidecar CSV/JSONL with ``repo, stars, commit_time`` per repository.
    - ``max_file_bytes``: larger files are dropped (``too_large``); RefineCode uses 8 MB.
    - ``files_per_task``: files (or Parquet rows) per task; tasks are the unit of parallelism.
    - ``exclude``: glob patterns (``fnmatch``) on paths inside a directory tree, e.g.
      ``["test/*", "site-packages/*"]``; a matching directory is not walked at all. A choice of
      the recipe, not a loss: excluded files are not counted as drops.
    """

    paths: list[str]
    layout: str = "auto"
    metadata: str | None = None
    max_file_bytes: int = 8_000_000
    files_per_task: int = 1000
    keep_doc_types: list[str] = field(default_factory=lambda: ["code", "data", "text"])
    follow_symlinks: bool = False
    include_hidden: bool = False
    exclude: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.paths, str):
            self.paths = [self.paths]
        if self.layout not in LAYOUTS:
            raise IngestError(f"ingest layout {self.layout!r} is not one of {', '.join(LAYOUTS)}")
        if self.files_per_task < 1 or self.max_file_bytes < 0:
            raise IngestError("ingest files_per_task must be >= 1 and max_file_bytes >= 0")


@dataclass(frozen=True)
class IngestTask:
    """A small, picklable piece of input that one worker reads start to finish.

    ``kind`` is ``tree`` (``files``: (root, repo, relative path, flag) with flag ``f`` file,
    ``l`` symlink not followed, ``h`` hidden file, ``s`` FIFO, socket or device (or a followed link to
    one), ``x`` a link loop; every flag but ``f`` is a counted drop, see ``FLAG_DROPS``), ``archive`` (``source`` read whole as
    repository ``repo``), ``jsonl`` (``source`` read whole) or ``parquet`` (``row_groups``
    of ``source``). ``version``: for a tree task over remote files, a digest of their sizes and version tags
    as listed when planned (their resume key, so a rerun costs no request per file); not in the ``repr``.
    """

    kind: str
    source: str = ""
    repo: str = ""
    files: tuple[tuple[str, str, str, str], ...] = ()
    row_groups: tuple[int, ...] = ()
    version: str = field(default="", repr=False, compare=False)

    @property
    def name(self) -> str:
        """A short label for logs and error messages."""
        if self.kind == "tree":
            first = self.files[0] if self.files else ("", "", "", "")
            return f"tree {first[0]} ({len(self.files)} files from {first[2]!r})"
        if self.kind == "parquet":
            return f"parquet {self.source} row groups {self.row_groups[0]}..{self.row_groups[-1]}"
        return f"{self.kind} {self.source}"


def has_suffix(path: str, suffixes: tuple[str, ...]) -> bool:
    return path.lower().endswith(suffixes)


def strip_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    """``"repo.tar.gz"`` -> ``"repo"``: the longest matching suffix is removed."""
    lower = name.lower()
    for suffix in sorted(suffixes, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name
