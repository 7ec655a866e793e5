"""Read one file from disk (or an object behind an fsspec URL) as data, or say why not: the only way ingest
and ``data filter`` open a file.

A FIFO blocks its reader forever, ``/dev/zero`` never ends, a device may act when opened: a file is
``stat``-ed first (following links) and only a regular file is opened, then checked again on the open
descriptor (it may have been swapped in between) and read to at most ``max_bytes + 1`` bytes, so a file
that grows while it is read cannot exhaust memory either. Every other outcome is a reason to count.
"""

from __future__ import annotations

import errno
import os
import stat

from opencook.kit.io import remote

SPECIAL_FILE = "special_file"  # a FIFO, socket or device, or a link to one
SYMLINK_LOOP = "symlink_loop"
UNREADABLE = "unreadable"  # gone, a broken link, no permission
TOO_LARGE = "too_large"
BAD_NAME = "bad_name"  # a name that is not valid UTF-8: no record, no Parquet string can hold it


def name_ok(*names: str) -> bool:
    """False when a name carries undecodable bytes (``os`` hands them over as lone surrogates)."""
    try:
        for name in names:
            name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stat_reason(path: str) -> tuple[int, str | None]:
    """``(size, None)`` for a regular file (links followed), else ``(0, reason)``."""
    if remote.is_remote(path):  # an object: no links, no special files
        try:
            return remote.stat(path)["size"], None
        except OSError:
            return 0, UNREADABLE
    try:
        st = os.stat(path)
    except OSError as e:
        return 0, SYMLINK_LOOP if e.errno == errno.ELOOP else UNREADABLE
    return (st.st_size, None) if stat.S_ISREG(st.st_mode) else (0, SPECIAL_FILE)


def read_regular(path: str, max_bytes: int) -> tuple[bytes | None, int, str | None]:
    """``(bytes, size, None)``, or ``(None, size, reason)``: too_large, special_file, symlink_loop, unreadable."""
    if remote.is_remote(path):
        return _read_remote(path, max_bytes)
    size, reason = stat_reason(path)
    if reason is not None:
        return None, 0, reason
    if size > max_bytes:
        return None, size, TOO_LARGE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        return None, 0, SYMLINK_LOOP if e.errno == errno.ELOOP else UNREADABLE
    try:
        with open(fd, "rb", buffering=0, closefd=False) as fh:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped for something else since the stat above
                return None, 0, SPECIAL_FILE
            data = _read_at_most(fh, max_bytes + 1, st.st_size)
    except OSError:
        return None, 0, UNREADABLE
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while being read
        return None, len(data), TOO_LARGE
    return data, len(data), None


def _read_remote(path: str, max_bytes: int) -> tuple[bytes | None, int, str | None]:
    """An object read to at most ``max_bytes + 1`` bytes (its size comes with the open)."""
    try:
        with remote.open_binary(path) as fh:
            size = getattr(fh, "size", None)
            if size is not None and size > max_bytes:
                return None, size, TOO_LARGE
            data = fh.read(max_bytes + 1)
    except OSError:
        return None, 0, UNREADABLE
    if len(data) > max_bytes:
        return None, len(data), TOO_LARGE
    return data, len(data), None


def _read_at_most(fh, limit: int, hint: int) -> bytes:
    chunks, total, want = [], 0, hint + 1
    while total < limit:
        chunk = fh.read(min(want, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = 1 << 20
    return b"".join(chunks)
