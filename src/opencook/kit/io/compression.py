"""Open plain, gzip, bzip2, xz or zstd files as one decompressed binary stream.

Every reader here raises ``EOFError`` (or the codec's error) on a truncated stream
instead of returning short data: a half-downloaded shard must fail loudly, not ingest
half of its files. ``zstandard``'s own ``stream_reader`` stops silently at a cut frame,
so zstd gets a small reader that checks the frame end.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from typing import BinaryIO

import zstandard

from opencook.kit.io.remote import open_binary

_CHUNK = 1 << 20


class _ZstdReader(io.RawIOBase):
    """Decompress a (possibly multi-frame) zstd file; ``EOFError`` if a frame is cut."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._in_frame = False
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _feed(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._dobj.decompress(data))
            self._in_frame = not self._dobj.eof
            if not self._dobj.eof:
                break
            data = self._dobj.unused_data
            self._dobj = self._dctx.decompressobj()
        return b"".join(out)

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        while not self._buf:
            chunk = self._fh.read(_CHUNK)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd stream ended in the middle of a frame (file truncated)")
                return 0
            self._buf = memoryview(self._feed(chunk))
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def _closing_both(stream, raw: BinaryIO) -> BinaryIO:  # type: ignore[no-untyped-def]
    """The codec's reader, whose ``close`` also closes the file under it (the codecs leave a given one open)."""
    close = stream.close

    def close_both() -> None:
        try:
            close()
        finally:
            raw.close()

    stream.close = close_both
    return stream


def open_decompressed(path: str) -> BinaryIO:
    """A buffered binary stream of ``path``'s content (a local path or an fsspec URL), decompressed by its
    suffix."""
    lower = path.lower()
    raw = open_binary(path)
    if lower.endswith((".gz", ".tgz")):
        return _closing_both(gzip.GzipFile(fileobj=raw, mode="rb"), raw)
    if lower.endswith((".zst", ".zstd", ".tzst")):
        return io.BufferedReader(_ZstdReader(raw), buffer_size=_CHUNK)  # type: ignore[return-value]
    if lower.endswith((".bz2", ".tbz2")):
        return _closing_both(bz2.BZ2File(raw, "rb"), raw)
    if lower.endswith((".xz", ".txz")):
        return _closing_both(lzma.LZMAFile(raw, "rb"), raw)
    return raw  # type: ignore[return-value]
