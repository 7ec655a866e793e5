"""Remote storage through fsspec URLs (``s3://``, ``gs://``, ``hf://``, ...): the one place that knows of them.

A path is *remote* when it is a string with a ``scheme://`` other than ``file://``; ``file:///x`` is the local
path ``/x``, and a ``Path`` is always local. Readers open inputs with ``open_binary``, which serves both.

Writes on an object store: a file is written whole on local disk first, then uploaded to its *final* key in
one request (``put_file``). An S3 or GCS PUT (and a multipart upload's completion) makes the object visible
all at once, so readers see the old object or the new one, never a torn one; a temporary key plus a rename
would be a second full copy there, since object stores cannot rename. On a filesystem that can rename (any
other protocol) the upload goes to a temporary name beside the target and is then moved into place.

A remote run directory is a ``Mirror``: the runner works in a local copy (its lock, scratch files and
partly written shards stay on local disk, since an object store cannot ``flock``), every finished shard is
uploaded before its completion marker, and a rerun (on this machine or another) first makes the local copy
equal the remote, so it resumes from the remote's markers exactly as a local run does from its own.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from opencook.kit.io.atomic import atomic_write

CACHE_ENV = "OPENCOOK_REMOTE_CACHE"  # where remote runs keep their local working copy
# stores where one upload is atomic (a PUT; a commit on the HF Hub) and a rename is a second full copy
WRITE_ONCE = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "r2", "hf"})
_COPY_CHUNK = 1 << 22
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


class RemoteError(OSError):
    """A remote path that cannot be used: the message names it and the fix."""


class ForeignFiles(RemoteError):
    """A remote run location that already holds files opencook did not write."""


def protocol(path: str | Path) -> str | None:
    """The URL scheme of ``path`` (``s3``, ``file``...), or None for a plain path."""
    if isinstance(path, Path):
        return None
    m = _URL.match(path)
    return m.group(1).lower() if m else None


def is_remote(path: str | Path) -> bool:
    return protocol(path) not in (None, "file")


def local(path: str | Path) -> str:
    """``file:///x`` -> ``/x``; any other path unchanged (as a string)."""
    text = str(path)
    return text[len("file://"):] if protocol(text) == "file" else text


def join(base: str, *parts: str) -> str:
    """``posixpath.join`` that keeps a URL's ``scheme://``."""
    return posixpath.join(base, *parts) if parts else base


def basename(path: str | Path) -> str:
    return posixpath.basename(str(path).rstrip("/"))


def url_to_fs(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)``; fsspec and the protocol's package are imported only here."""
    try:
        import fsspec
    except ImportError:
        raise RemoteError(f"{url}: remote paths need fsspec; install opencook[remote] (fsspec, s3fs)") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise RemoteError(f"{url}: the {protocol(url)}:// filesystem is not installed ({exc}); install "
                          "opencook[remote] for s3://, or the package fsspec names") from None
    except ValueError as exc:
        raise RemoteError(f"{url}: {exc}") from None


def open_binary(path: str | Path) -> IO[bytes]:
    """A seekable binary stream of a local file or a remote object (fetched in blocks as it is read)."""
    if not is_remote(path):
        return open(local(path), "rb")
    fs, p = url_to_fs(str(path))
    try:
        return fs.open(p, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None


def stat(path: str) -> dict[str, Any]:
    """``{"type": "file"|"directory", "size": int, "version": str}`` of a remote path; ``version`` is what
    changes when the object is replaced (its ETag, generation or modification time), for resume keys."""
    fs, p = url_to_fs(path)
    info = fs.info(p)
    return {"type": info.get("type", "file"), "size": int(info.get("size") or 0), "version": _version(info)}


def version(path: str | Path) -> str:
    """What changes when a file is rewritten or an object replaced, for resume keys: a local file's size, mtime
    and ctime; a remote object's size and version tag (one metadata request)."""
    if is_remote(path):
        info = stat(str(path))
        return f"{info['size']}:{info['version']}"
    st = os.stat(local(path))
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def listing(url: str) -> dict[str, tuple[int, str]]:
    """Every file under a remote folder (recursively): path relative to ``url`` -> (size, version tag), sorted,
    in one listing. Fresh from the store (fsspec's listing cache is dropped first: another process may have
    written since)."""
    fs, p = url_to_fs(url)
    fs.invalidate_cache()
    base = p.rstrip("/")
    found = fs.find(base, detail=True, withdirs=False)
    return {posixpath.relpath(k, base): (int(v.get("size") or 0), _version(v)) for k, v in sorted(found.items())
            if v.get("type") != "directory" and k != base}


def find(url: str) -> dict[str, int]:
    """Every file under a remote folder (recursively): path relative to ``url`` -> size, sorted."""
    return {rel: size for rel, (size, _) in listing(url).items()}


def _version(info: dict[str, Any]) -> str:
    """What changes when an object is replaced: its ETag, generation, hash or modification time."""
    return next((str(info[k]) for k in ("ETag", "etag", "generation", "md5Hash", "LastModified", "mtime",
                                        "last_commit", "blob_id") if info.get(k)), "")


def glob(pattern: str) -> list[str]:
    fs, p = url_to_fs(pattern)
    return sorted(fs.unstrip_protocol(m) for m in fs.glob(p))


def put_file(src: str | Path, url: str) -> None:
    """Upload a finished local file to ``url`` so that no reader sees it half written (see the module note)."""
    fs, p = url_to_fs(url)
    if protocol(url) in WRITE_ONCE:
        fs.put_file(str(src), p)
        return
    tmp = posixpath.join(posixpath.dirname(p), f".{posixpath.basename(p)}.{os.getpid()}.tmp")
    fs.makedirs(posixpath.dirname(p), exist_ok=True)
    fs.put_file(str(src), tmp)
    fs.mv(tmp, p)


def get_file(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` through ``atomic_write``, so a cut download leaves nothing."""
    fs, p = url_to_fs(url)
    with fs.open(p, "rb") as src, atomic_write(dest, "wb") as fh:
        shutil.copyfileobj(src, fh, _COPY_CHUNK)


def remove(urls: Iterable[str]) -> None:
    urls = list(urls)
    if urls:
        fs, _ = url_to_fs(urls[0])
        fs.rm([url_to_fs(u)[1] for u in urls])


def cache_dir(url: str) -> Path:
    """The local working copy of a remote run: ``$OPENCOOK_REMOTE_CACHE`` (default ``~/.cache/opencook/remote``)
    / protocol / the URL's path, with a short hash so two URLs never share a folder."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "opencook" / "remote")
    scheme = protocol(url) or "file"
    rest = url.split("://", 1)[1].strip("/")
    safe = re.sub(r"[^A-Za-z0-9._/-]", "_", rest).replace("..", "_")
    return root / scheme / safe / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:8]


@dataclass
class Mirror:
    """A remote run directory ``url`` and its local working copy ``local``.

    ``pull`` downloads every remote file the copy lacks or holds at another size, and every JSON file
    (markers, small): finished shards and their markers, so the runner skips them as it skips its own. ``publish`` uploads files as they are
    finished, a shard before its marker, so the remote never holds a marker without its shard. ``push``
    uploads whatever else changed and deletes remote files the run deleted locally (stale shards, an old
    dataset's parts): after it, the remote is the local copy. ``skip`` names local-only files (the lock).
    """

    url: str
    local: Path
    skip: frozenset[str] = frozenset()
    _known: dict[str, tuple[int, int]] = field(default_factory=dict)  # relpath -> (size, mtime_ns) in sync

    @classmethod
    def for_url(cls, url: str, skip: Iterable[str] = ()) -> Mirror:
        return cls(url.rstrip("/"), cache_dir(url), frozenset(skip))

    def remote_files(self) -> dict[str, int]:
        """relpath -> size of every file under the remote run directory."""
        try:
            return find(self.url)
        except FileNotFoundError:  # a location nothing was written to yet
            return {}

    def pull(self, required: str | None = None) -> dict[str, int]:
        """Make the local copy equal the remote: the remote is the run directory, the copy only a cache, so a
        file the remote lacks is deleted here too (a run whose remote was deleted starts over, the same on
        every machine). ``required``: a file that must be among the remote's when it holds any (the run
        directory's marker), checked before anything is downloaded or deleted; returns the listing."""
        files = self.remote_files()
        if files and required is not None and required not in files:
            shown = ", ".join(sorted(files)[:5])
            raise ForeignFiles(f"{self.url} already holds files opencook did not write ({shown}); a run writes "
                              "only into a new or empty location or its own run directory: give --out another URL")
        self.local.mkdir(parents=True, exist_ok=True)
        for rel, size in files.items():
            if rel in self.skip or _hidden_tmp(rel):
                continue
            dest = self.local / rel
            if rel.endswith(".json") or not dest.is_file() or dest.stat().st_size != size:
                get_file(join(self.url, rel), dest)
            self._remember(rel)
        for path in sorted(self.local.rglob("*"), reverse=True):
            rel = path.relative_to(self.local).as_posix()
            if path.is_file() and rel not in files and rel not in self.skip and not _hidden_tmp(rel):
                path.unlink()
        return files

    def _remember(self, rel: str) -> None:
        st = (self.local / rel).stat()
        self._known[rel] = (st.st_size, st.st_mtime_ns)

    def publish(self, *paths: Path) -> None:
        """Upload these local files (under ``local``), in the order given, unless already in sync."""
        for path in paths:
            rel = path.relative_to(self.local).as_posix()
            st = path.stat()
            if self._known.get(rel) == (st.st_size, st.st_mtime_ns):
                continue
            put_file(path, join(self.url, rel))
            self._known[rel] = (st.st_size, st.st_mtime_ns)

    def push(self) -> None:
        """Upload every changed local file (markers last), then delete remote files no longer present locally."""
        present = sorted(p for p in self.local.rglob("*") if p.is_file()
                         and p.relative_to(self.local).as_posix() not in self.skip
                         and not _hidden_tmp(p.relative_to(self.local).as_posix()))
        self.publish(*sorted(present, key=lambda p: (_is_marker(p.name), p.as_posix())))
        keep = {p.relative_to(self.local).as_posix() for p in present}
        gone = [rel for rel in self.remote_files() if rel not in keep and rel not in self.skip]
        remove(join(self.url, rel) for rel in gone)
        for rel in gone:
            self._known.pop(rel, None)


def _is_marker(name: str) -> bool:
    return name.endswith(".done.json") or name == "_SUCCESS.json"


def _hidden_tmp(rel: str) -> bool:
    """A temporary file of an interrupted write (``.x.123.tmp``) or download (``.x.123.part``)."""
    name = posixpath.basename(rel)
    return name.startswith(".") and name.endswith((".tmp", ".part"))
