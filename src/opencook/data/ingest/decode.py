"""Binary detection and byte -> text decoding.

Policy (see docs/ingest.md):
1. Binary: a NUL byte in the first 8 KB, or more than 30% control bytes there
   (C0 controls other than tab/newline/vertical tab/form feed/carriage return/escape).
   Exception: a UTF-16 byte-order mark, whose text is full of NULs by design.
2. UTF-8, strict, with a leading BOM stripped. Almost all of GitHub is UTF-8.
3. cp1252, strict, only when the non-ASCII bytes look like a Western single-byte text
   (high bytes alone or in pairs, as in "Müller", "Größe"). Legacy CJK encodings put
   high bytes in longer runs and would otherwise decode "successfully" into mojibake. cp1252 rather than
   latin-1 because latin-1 never fails and maps 0x80-0x9F to invisible C1 controls.
4. Otherwise UTF-8 with ``errors="replace"``: the U+FFFD characters stay visible so the
   quality filter (U+FFFD fraction > 1%) can judge the file, instead of mojibake hiding it.

Line endings become ``\\n``: the OpenCoder reference read files in text mode (universal
newlines), so its line-based signals never saw ``\\r``; it also makes exact dedup blind to
the CRLF/LF checkout difference of otherwise identical files.
"""

from __future__ import annotations

import re

SNIFF_BYTES = 8192
MAX_CONTROL_FRACTION = 0.30
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27))
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3,}")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def is_binary(raw: bytes) -> bool:
    """True when the start of ``raw`` looks like a binary file rather than text."""
    head = raw[:SNIFF_BYTES]
    if not head or head.startswith(_UTF16_BOMS):
        return False
    if b"\x00" in head:
        return True
    n_control = len(head) - len(head.translate(None, _CONTROL))
    return n_control > MAX_CONTROL_FRACTION * len(head)


def _looks_single_byte_western(raw: bytes) -> bool:
    """Most high bytes are alone or in pairs: typical of latin-1/cp1252 prose and comments."""
    n_high = len(raw) - len(raw.translate(None, bytes(range(128, 256))))
    in_runs = sum(len(m) for m in _HIGH_RUN.findall(raw))
    return in_runs <= 0.5 * n_high


def decode(raw: bytes) -> tuple[str, str]:
    """Decode non-binary ``raw`` to text with ``\\n`` line endings.

    Returns ``(text, encoding)`` where ``encoding`` is one of ``utf-8``, ``utf-8-bom``,
    ``utf-16``, ``cp1252``, ``utf-8-replace``, for the ``decode:<encoding>`` counters.
    """
    if raw.startswith(_UTF8_BOM):
        raw, encoding = raw[3:], "utf-8-bom"
    else:
        encoding = "utf-8"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text, encoding = _fallback(raw)
    return normalize_newlines(text), encoding


def _fallback(raw: bytes) -> tuple[str, str]:
    if raw.startswith(_UTF16_BOMS):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    if _looks_single_byte_western(raw):
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", errors="replace"), "utf-8-replace"


def normalize_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` -> ``\\n`` (no copy when there is no ``\\r``)."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")
