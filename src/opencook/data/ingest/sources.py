"""Find the inputs and cut them into tasks.

``plan_ingest`` runs once, in the driver: it resolves paths, walks directory trees (names
only: no file is opened or stat-ed), validates archives, JSONL and Parquet headers and the
metadata sidecar, and returns a sorted list of small picklable ``IngestTask``s. Workers
then call ``read_task`` on each. Any input problem found here raises ``IngestError``
before any work starts.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from opencook.data.ingest.config import (
    ARCHIVE_SUFFIXES,
    JSONL_SUFFIXES,
    PARQUET_SUFFIXES,
    IngestConfig,
    IngestError,
    IngestTask,
    auto_layout,
    excluded,
    has_suffix,
    strip_suffix,
)
from opencook.data.ingest.metadata import load_metadata
from opencook.data.ingest.readers import SKIP_DIRS, read_task
from opencook.data.ingest.remote_tree import tree_version, walk_remote
from opencook.kit.io import remote
from opencook.kit.io.compression import open_decompressed

__all__ = ["plan_ingest", "read_task"]

_ENTRY_SUFFIXES = ARCHIVE_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES


def plan_ingest(config: IngestConfig) -> list[IngestTask]:
    """Deterministic list of tasks covering every input file exactly once."""
    if not config.paths:
        raise IngestError(
            "ingest has no input paths: set paths to directories, archives, JSONL or Parquet files"
        )
    if config.metadata:
        load_metadata(config.metadata)
    tasks: list[IngestTask] = []
    tree_files: list[tuple[str, str, str, str]] = []
    versions: dict[str, str] = {}  # remote tree file URL -> "size:version", from the planning listing
    for path in _expand(config.paths):
        if remote.is_remote(path):
            _plan_remote(path, config, tasks, tree_files, versions)
        else:
            _plan_path(path, config, tasks, tree_files)
    tree_files.sort(key=lambda f: (f[1], f[0], f[2]))
    n = config.files_per_task
    chunks = (tuple(tree_files[i : i + n]) for i in range(0, len(tree_files), n))
    tasks.extend(IngestTask("tree", files=c, version=tree_version(c, versions)) for c in chunks)
    if not tasks:
        raise IngestError(
            f"ingest found no input files under {', '.join(config.paths)}: check the paths "
            "(hidden files are skipped unless include_hidden is set)"
        )
    order = {"tree": 0, "archive": 1, "jsonl": 2, "parquet": 3}
    return sorted(tasks, key=lambda t: (order[t.kind], t.source, t.row_groups, t.files[:1]))


def _expand(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        p = p if remote.is_remote(p) else os.path.expanduser(remote.local(p))
        if glob.has_magic(p):
            matches = remote.glob(p) if remote.is_remote(p) else sorted(glob.glob(p))
            if not matches:
                raise IngestError(f"ingest path pattern {p!r} matches nothing: fix the pattern")
            out.extend(matches)
        else:
            out.append(p)
    return sorted(set(out), key=out.index)


def _plan_path(path: str, config: IngestConfig, tasks: list[IngestTask], tree: list) -> None:
    if not os.path.exists(path):
        raise IngestError(f"ingest path {path} does not exist: fix the path in the config")
    if not os.access(path, os.R_OK):
        raise IngestError(f"ingest path {path} is not readable: fix its permissions")
    if os.path.isdir(path):
        _plan_dir(path, config, tasks, tree)
    elif has_suffix(path, _ENTRY_SUFFIXES):
        _plan_file(path, config, tasks)
    else:
        raise IngestError(
            f"ingest path {path} is not a directory, archive ({', '.join(ARCHIVE_SUFFIXES)}), "
            "JSONL(.gz/.zst) or Parquet file: put it in a directory or convert it"
        )


def _plan_remote(url: str, config: IngestConfig, tasks: list[IngestTask], tree: list,
                 versions: dict[str, str]) -> None:
    """A remote file, or a remote folder planned as a local one is (``remote_tree.py``), from one listing."""
    try:
        kind = remote.stat(url)["type"]
    except FileNotFoundError:
        raise IngestError(f"ingest path {url} does not exist: fix the URL in the config") from None
    except OSError as e:
        raise IngestError(f"ingest path {url} cannot be read ({e}): check the URL and the credentials") from None
    if kind != "directory":
        if not has_suffix(url, _ENTRY_SUFFIXES):
            raise IngestError(f"remote ingest path {url} is not an archive ({', '.join(ARCHIVE_SUFFIXES)}), "
                              "JSONL(.gz/.zst) or Parquet file: pack remote inputs as one of those")
        _plan_file(url, config, tasks)
        return
    entries, files, found = walk_remote(url, config, _ENTRY_SUFFIXES)
    for entry in entries:
        _plan_file(entry, config, tasks)
    tree.extend(files)
    versions.update(found)


def _plan_file(path: str, config: IngestConfig, tasks: list[IngestTask]) -> None:
    if has_suffix(path, ARCHIVE_SUFFIXES):
        _check_archive(path)
        repo = strip_suffix(remote.basename(path), ARCHIVE_SUFFIXES)
        tasks.append(IngestTask("archive", source=path, repo=repo))
    elif has_suffix(path, JSONL_SUFFIXES):
        _check_jsonl(path)
        tasks.append(IngestTask("jsonl", source=path))
    else:
        tasks.extend(_plan_parquet(path, config.files_per_task))


def _listdir(path: str) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as e:
        raise IngestError(f"ingest cannot list {path} ({e.strerror}): fix its permissions") from None


def _is_entry_file(e: os.DirEntry) -> bool:
    return _is(e.is_file) and has_suffix(e.name, _ENTRY_SUFFIXES)


def _is(test, **kwargs) -> bool:
    """``DirEntry.is_dir``/``is_file`` without the OSError a link loop raises: a loop is neither."""
    try:
        return test(**kwargs)
    except OSError:
        return False


def resolve_layout(path: str, layout: str) -> str:
    """``repo`` or ``repos`` for a directory; ``auto`` decides as documented in docs/ingest.md.

    auto: a directory with its own ``.git`` is one repository. Otherwise it holds many when
    a subfolder has ``.git``, or when its top level has archives/JSONL/Parquet and no other
    files; it is one when it has other (non-hidden) files at the top level; else many when
    it has more than one subfolder.
    """
    if layout != "auto":
        return layout
    if os.path.exists(os.path.join(path, ".git")):
        return "repo"
    entries = [e for e in _listdir(path) if not e.name.startswith(".")]
    dirs = [e for e in entries if _is(e.is_dir)]
    entry_files = [e for e in entries if _is_entry_file(e)]
    loose = [e for e in entries if _is(e.is_file) and not _is_entry_file(e)]
    sub_git = any(os.path.exists(os.path.join(d.path, ".git")) for d in dirs)
    return auto_layout(sub_git, bool(entry_files), bool(loose), len(dirs))


def _plan_dir(path: str, config: IngestConfig, tasks: list[IngestTask], tree: list) -> None:
    path = os.path.abspath(path)
    if resolve_layout(path, config.layout) == "repo":
        name = os.path.basename(path.rstrip(os.sep))
        tree.extend((path, name, rel, flag) for rel, flag in _walk(path, config))
        return
    for e in _listdir(path):
        if e.name in SKIP_DIRS or (e.name.startswith(".") and not config.include_hidden):
            continue
        if _is(e.is_dir, follow_symlinks=config.follow_symlinks):
            tree.extend((e.path, e.name, rel, flag) for rel, flag in _walk(e.path, config))
        elif _is_entry_file(e):
            _plan_file(e.path, config, tasks)
        else:  # a loose file next to the repositories belongs to none of them
            tree.extend((path, "", rel, flag) for rel, flag in _walk_entries(path, [e], "", config, set()))


def _walk(root: str, config: IngestConfig) -> Iterator[tuple[str, str]]:
    """``(relative path, flag)`` of every file under ``root``, sorted; see ``IngestTask``."""
    seen = {os.stat(root).st_ino} if config.follow_symlinks else set()
    yield from _walk_entries(root, _listdir(root), "", config, seen)


def _walk_entries(
    root: str, entries: list[os.DirEntry], prefix: str, config: IngestConfig, seen: set[int]
) -> Iterator[tuple[str, str]]:
    for e in entries:
        rel = prefix + e.name
        if config.exclude and excluded(rel, e.is_dir(), config.exclude):
            continue
        hidden = e.name.startswith(".")
        kind = _entry_kind(e, config.follow_symlinks)
        if kind == "dir":
            if e.name in SKIP_DIRS or (hidden and not config.include_hidden):
                continue
            if e.is_symlink():  # followed (a link not followed is never "dir")
                ino = os.stat(e.path).st_ino
                if ino in seen:  # a link back up the tree
                    continue
                seen.add(ino)
            yield from _walk_entries(root, _listdir(e.path), rel + "/", config, seen)
        elif hidden and not config.include_hidden:
            yield rel, "h"
        else:
            yield rel, kind


def _entry_kind(e: os.DirEntry, follow: bool) -> str:
    """``dir`` or a flag of ``IngestTask``. Costs no system call except for a followed link (the directory
    listing says what each entry is): a broken link is ``f``, counted as unreadable when read."""
    if e.is_symlink():
        if not follow:
            return "l"
        try:
            mode = os.stat(e.path).st_mode
        except OSError as err:
            return "x" if err.errno == errno.ELOOP else "f"
    elif e.is_dir(follow_symlinks=False):
        return "dir"
    elif e.is_file(follow_symlinks=False):
        return "f"
    else:
        try:
            mode = e.stat(follow_symlinks=False).st_mode
        except OSError:
            return "f"  # gone since the listing
    if stat.S_ISDIR(mode):
        return "dir"
    return "f" if stat.S_ISREG(mode) else "s"



def _check_archive(path: str) -> None:
    """Open the archive and read its first header: catches non-archives and cut headers.

    A tar cut further in is only found when read (``read_task`` raises then).
    """
    try:
        if path.lower().endswith(".zip"):
            with remote.open_binary(path) as fh, zipfile.ZipFile(fh) as zf:
                zf.infolist()
        else:
            with open_decompressed(path) as fh, tarfile.open(fileobj=fh, mode="r|") as tf:
                tf.next()
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, zstandard.ZstdError) as e:
        raise IngestError(
            f"archive {path} cannot be opened ({type(e).__name__}: {e}): re-download or drop it from paths"
        ) from None


def _check_jsonl(path: str) -> None:
    try:
        with open_decompressed(path) as fh:
            fh.read(1)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        raise IngestError(
            f"JSONL file {path} cannot be read ({type(e).__name__}: {e}): re-download or regenerate it"
        ) from None


def _plan_parquet(path: str, rows_per_task: int) -> list[IngestTask]:
    """Consecutive row groups, cut into tasks of about ``rows_per_task`` rows."""
    try:
        with remote.open_binary(path) as fh:
            meta = pq.ParquetFile(fh).metadata
        names = set(meta.schema.to_arrow_schema().names)
    except (OSError, pa.ArrowException) as e:
        raise IngestError(
            f"Parquet file {path} is truncated or not Parquet ({e}): re-download or regenerate it"
        ) from None
    missing = [c for c in ("text", "path") if c not in names and not (c == "text" and "content" in names)]
    if missing:
        raise IngestError(
            f"Parquet file {path} lacks column(s) {', '.join(missing)}: ingest needs text and path"
        )
    tasks, group, rows = [], [], 0
    for i in range(meta.num_row_groups):
        group.append(i)
        rows += meta.row_group(i).num_rows
        if rows >= rows_per_task:
            tasks.append(IngestTask("parquet", source=path, row_groups=tuple(group)))
            group, rows = [], 0
    if group:
        tasks.append(IngestTask("parquet", source=path, row_groups=tuple(group)))
    return tasks
