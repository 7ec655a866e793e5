"""Where function-name examples come from: .py trees or datasets (any ``opencook.kit.io.Dataset`` format:
RefineCode or pipeline Parquet, JSONL plain/.gz/.zst; a dataset may be an fsspec URL, ``s3://bucket/dataset``),
and which split each file is in.

A file's split is a hash of its *module path* -- the part after ``lib/python3.X/`` for a CPython
library, else the path below the source root (or the dataset's ``path`` field) -- so the copies of
one module across CPython versions, which are near-duplicates, always land in the same split.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from opencook.kit.io import Dataset, NoDatasetFiles, is_dataset_file, remote
from opencook.xc.data.funcnames_config import FunctionNamesConfig

_LIB_ROOT = re.compile(r"(?:^|/)lib/python\d+(?:\.\d+)?/")
_SPLIT_SCALE = 1_000_000


@dataclass(frozen=True)
class Root:
    path: Path | str
    """A local path, or a URL (str) of a remote dataset."""
    format: str
    """``py`` or ``dataset``."""


@dataclass(frozen=True)
class Task:
    """One file to parse: ``payload`` is a path to read (``py``) or the file's text (``dataset``)."""

    key: str
    kind: str
    payload: str


def module_key(path: str) -> str:
    """The split key: ``.../lib/python3.11/json/decoder.py`` -> ``json/decoder.py``."""
    path = path.replace("\\", "/").removeprefix("./")
    found = list(_LIB_ROOT.finditer(path))
    return path[found[-1].end() :] if found else path


def is_eval(key: str, eval_fraction: float, split_seed: int) -> bool:
    digest = hashlib.blake2b(f"{split_seed}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % _SPLIT_SCALE < round(eval_fraction * _SPLIT_SCALE)


def resolve_roots(config: FunctionNamesConfig) -> list[Root]:
    """Expand ``~``, ``$VARS`` and globs; every entry must match an existing file or directory."""
    if not config.sources:
        raise ValueError("funcnames: no sources given; set 'sources' to .py directories or datasets")
    roots = []
    for entry in config.sources:
        if remote.is_remote(entry):
            roots.extend(_remote_roots(entry, config))
            continue
        expanded = os.path.expanduser(os.path.expandvars(_default_pyenv_root(entry)))
        matches = sorted(glob.glob(expanded)) if glob.has_magic(expanded) else [expanded]
        matches = [m for m in matches if os.path.exists(m)]
        if not matches:
            raise ValueError(f"funcnames source {entry!r} does not exist (expanded: {expanded!r})")
        roots.extend(Root(Path(m).resolve(), _format(Path(m), config)) for m in matches)
    return roots


def _remote_roots(url: str, config: FunctionNamesConfig) -> list[Root]:
    """A remote source is a dataset (a file or a folder of Parquet/JSONL): .py trees are read from local disk."""
    if config.format == "py":
        raise ValueError(f"funcnames source {url!r}: a remote source must be a dataset (Parquet/JSONL), not a .py tree")
    if glob.has_magic(url):
        matches = remote.glob(url)
    else:
        try:
            remote.stat(url)
            matches = [url.rstrip("/")]
        except FileNotFoundError:
            matches = []
    if not matches:
        raise ValueError(f"funcnames source {url!r} does not exist")
    return [Root(m, "dataset") for m in matches]


def _default_pyenv_root(entry: str) -> str:
    """``$PYENV_ROOT`` means ``~/.pyenv`` when the variable is unset (pyenv's own default)."""
    if "PYENV_ROOT" in os.environ:
        return entry
    return entry.replace("${PYENV_ROOT}", "~/.pyenv").replace("$PYENV_ROOT", "~/.pyenv")


def _format(path: Path, config: FunctionNamesConfig) -> str:
    """``parquet`` is the old name of ``dataset``; ``auto`` picks ``dataset`` when any dataset file is there."""
    if config.format != "auto":
        return "py" if config.format == "py" else "dataset"
    if path.is_file():
        return "dataset" if is_dataset_file(path) else "py"
    for _, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in config.exclude_dirs]
        if any(is_dataset_file(f) for f in files):
            return "dataset"
    return "py"


def list_files(root: Root, exclude_dirs: tuple[str, ...]) -> list[Path] | list[str]:
    """The root's .py or dataset files, sorted, skipping directories named in ``exclude_dirs``."""
    if isinstance(root.path, str):
        try:
            urls = Dataset(root.path).files()
        except NoDatasetFiles:
            return []
        return [u for u in urls if not set(u[len(root.path) :].split("/")[:-1]) & set(exclude_dirs)]
    if root.format == "dataset":
        if root.path.is_file():
            return [root.path]
        try:
            files = Dataset(root.path).files()
        except NoDatasetFiles:
            return []
        return [p for p in files if not set(p.relative_to(root.path).parts[:-1]) & set(exclude_dirs)]
    if root.path.is_file():
        return [root.path]
    found = []
    for parent, dirs, files in os.walk(root.path):
        dirs[:] = sorted(d for d in dirs if d not in exclude_dirs)
        found.extend(Path(parent, f) for f in sorted(files) if f.endswith(".py"))
    return found


def fingerprint(roots: list[Root], files: list[list[Path]] | list[list[str]]) -> str:
    """Changes when any listed file is added, removed, resized or touched (a remote one: replaced)."""
    h = hashlib.sha1()
    for root, paths in zip(roots, files, strict=True):
        h.update(f"{root.path}\0{root.format}\n".encode())
        if isinstance(root.path, str):
            h.update(_remote_versions(root.path, paths).encode())
            continue
        for p in paths:
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _remote_versions(root: str, urls: list[str]) -> str:
    """Size and version tag (ETag, generation) of each remote file, from one listing of the folder."""
    if urls == [root]:
        info = remote.stat(root)
        return f"{root}\0{info['size']}\0{info['version']}\n"
    listed = remote.listing(root)
    lines = []
    for url in urls:
        size, version = listed[url[len(root) + 1 :]]
        lines.append(f"{url}\0{size}\0{version}\n")
    return "".join(lines)


def count_tasks(root: Root, paths: list[Path] | list[str]) -> int | None:
    """Files (``py``) or rows before the language filter (local Parquet; ``None`` when JSONL would need a pass,
    or the files are remote)."""
    if root.format == "py":
        return len(paths)
    if isinstance(root.path, str) or not all(p.name.endswith(".parquet") for p in paths):
        return None
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)


def iter_tasks(root: Root, paths: list[Path] | list[str], language: str) -> Iterator[Task | None]:
    """Tasks in a fixed order; ``None`` for a record of another language (counted, not parsed)."""
    if root.format == "py":
        base = root.path.parent if root.path.is_file() else root.path
        for p in paths:
            yield Task(module_key(p.relative_to(base).as_posix()), "path", str(p))
        return
    for p in paths:
        rows = usable = 0
        for row in Dataset(p).records(columns=("path", "text", "language")):
            lang = row["language"] if row["language"] is not None else language
            ok = lang == language and row["text"] is not None and row["path"] is not None
            rows += 1
            usable += row["text"] is not None and row["path"] is not None
            yield Task(module_key(row["path"]), "text", row["text"]) if ok else None
        if rows and not usable:
            raise ValueError(f"{p}: a funcnames dataset source needs records with 'path' and 'text' fields")
