"""What an ingest task reads, as it is now: the key that makes a rerun read an edited input again.

A task's ``repr`` names its files, not their contents. The fingerprint adds, for every file the
task opens, its size, mtime and ctime (the ctime changes on any write or replacement, even one that
restores the mtime), plus the metadata sidecar's. It costs one ``stat`` per file in the driver and
never opens a file, so a finished run's rerun stays cheap; a changed file redoes only its task. A remote
object (an fsspec URL) is keyed by its size and version tag (S3 ETag, GCS generation) instead.
"""

from __future__ import annotations

import hashlib
import os

from opencook.data.ingest.config import IngestConfig, IngestTask
from opencook.kit.io import remote


def _stat_line(path: str, follow: bool) -> str:
    if remote.is_remote(path):  # one metadata request: size and the object's version (ETag, generation)
        try:
            info = remote.stat(path)
        except OSError as e:
            return f"{path}\0error:{type(e).__name__}\n"
        return f"{path}\0{info['size']}\0{info['version']}\n"
    try:
        st = os.stat(path, follow_symlinks=follow)
    except OSError as e:  # gone, a link loop, unreadable: the drop it becomes is part of the output too
        return f"{path}\0error:{e.errno}\n"
    return f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_mode:o}\n"


def task_fingerprint(task: IngestTask, config: IngestConfig) -> str:
    """Hex digest of the stat of every file ``task`` reads and of the metadata sidecar."""
    h = hashlib.sha256()
    if task.kind == "tree":
        for root, _repo, rel, flag in task.files:
            if flag in ("f", "l") and not remote.is_remote(root):  # remote files: in task.version
                h.update(_stat_line(os.path.join(root, rel), follow=flag == "f").encode("utf-8", "surrogateescape"))
        h.update(task.version.encode())
    else:
        h.update(_stat_line(task.source, follow=True).encode("utf-8", "surrogateescape"))
    if config.metadata:
        h.update(_stat_line(config.metadata, follow=True).encode("utf-8", "surrogateescape"))
    return h.hexdigest()
