"""``meta.json`` handling shared by the packed and SFT builders.

Every data file is written through ``opencook.kit.io.atomic_write`` (a temporary name, then a rename); ``meta.json`` is written last, so a folder without it
is an interrupted build and readers refuse it instead of training on half a dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from opencook.kit.io import atomic_write

META = "meta.json"
TMP_SUFFIX = ".tmp"


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id: ids are < vocab_size."""
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.uint32)


def save_npy(arr: np.ndarray, final: Path) -> None:
    with atomic_write(final, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)


def write_meta(out: Path, meta: dict) -> None:
    with atomic_write(out / META) as fh:
        fh.write(json.dumps(meta, indent=2, sort_keys=False) + "\n")


def start_build(out: Path, patterns: tuple[str, ...]) -> None:
    """Make ``out`` and remove a previous build's ``meta.json``, data files and leftovers, so a crash midway
    leaves a folder that readers reject rather than a mix of old and new files."""
    out.mkdir(parents=True, exist_ok=True)
    (out / META).unlink(missing_ok=True)
    for pattern in (*patterns, f"*{TMP_SUFFIX}"):
        for path in out.glob(pattern):
            path.unlink()


def read_meta(path: Path, fmt: str, version: int, rebuild: str) -> dict:
    """``meta.json`` of a finished build of format ``fmt``; ``rebuild`` is the command that makes one."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory: build it with `{rebuild}`")
    meta_file = path / META
    if not meta_file.is_file():
        raise FileNotFoundError(f"{path} has no {META}: its build did not finish (or never ran); "
                                f"rerun `{rebuild}` with --out {path}")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != fmt:
        raise ValueError(f"{meta_file} is format {meta.get('format')!r}, not {fmt!r}: "
                         f"point at a folder written by `{rebuild}`")
    if meta.get("version") != version:
        raise ValueError(f"{meta_file} is {fmt} version {meta.get('version')}, this code reads version "
                         f"{version}: rebuild it with `{rebuild}`")
    return meta


def check_file(path: Path, n_bytes: int, rebuild: str) -> None:
    """A data file listed in ``meta.json`` must exist with its recorded size."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is listed in {path.parent / META} but missing: "
                                f"rerun `{rebuild}` with --out {path.parent}")
    size = path.stat().st_size
    if size != n_bytes:
        raise ValueError(f"{path} has {size} bytes, {path.parent / META} says {n_bytes} (truncated or "
                         f"overwritten): rerun `{rebuild}` with --out {path.parent}")


def fingerprint(parts: object) -> str:
    """A short stable hash of JSON-serialisable ``parts`` (sorted keys), for data-position checks."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
