"""Remote ``--out`` and remote folder inputs for the verbs that are not ``opencook run``.

A verb that writes a folder (a tokenizer, packed shards, filter results) works in the local working copy of
its remote ``--out`` (``kit.io.remote.Mirror``, the runner's approach): the copy is first made equal to the
remote, the verb writes into it as into a local folder, and on success the remote is made equal to the copy
(changed files uploaded, files the verb deleted removed). A rerun after a failure does on the copy what a
local rerun does on its folder. A verb marks itself able with ``set_defaults(remote_out=True)``; any other
verb given a URL ``--out`` is refused before any work (``check``), in one line, exit 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opencook.kit.config import ConfigError


def check(args: argparse.Namespace) -> None:
    """Refuse a URL ``--out`` on a verb that cannot write one (training runs, evals: many small writes,
    locks and checkpoints that need a filesystem)."""
    from opencook.kit.io import remote

    out = getattr(args, "out", None)
    if isinstance(out, str) and remote.is_remote(out) and not getattr(args, "remote_out", False):
        raise ConfigError(f"--out {out}: this verb writes to local disk only; give a local folder (remote "
                          "--out works for run, data filter/dedup/recall, lm tokenizer train, lm data "
                          "build/sft, synth algorithmic)")
    if isinstance(out, str):
        args.out = remote.local(out)  # file:///x -> /x


@contextmanager
def local_out(out: str | Path) -> Iterator[Path]:
    """The folder a verb writes into for ``out``: ``out`` itself, or the local copy of a remote ``out``,
    uploaded when the block ends without an error. The copy is locked as a run directory is (the lock is
    local only: an object store cannot ``flock``, so commands on two machines are not kept apart)."""
    from opencook.kit.io import remote

    if not remote.is_remote(out):
        yield Path(out)
        return
    from opencook.kit.rundir import LOCK, RunLock  # imports torch: only for a remote --out

    mirror = remote.Mirror.for_url(str(out), skip=(LOCK,))
    mirror.local.mkdir(parents=True, exist_ok=True)
    with RunLock(mirror.local):  # two commands on this machine never share a working copy at once
        mirror.pull()
        yield mirror.local
        mirror.push()


def local_folder(path: str) -> str:
    """A folder input a reader needs on local disk (a tokenizer): a remote one is downloaded into its local
    copy (only files that changed since the last download) and that copy's path returned."""
    from opencook.kit.io import remote

    if not remote.is_remote(path):
        return path
    mirror = remote.Mirror.for_url(path)
    try:
        is_file = remote.stat(path)["type"] != "directory"
    except FileNotFoundError:
        is_file = False
    if is_file:  # one file (a tokenizer.json): its copy keeps the name
        target = mirror.local / remote.basename(path)
        remote.get_file(path, target)
        return str(target)
    if not mirror.pull():
        raise FileNotFoundError(f"{path} does not exist or is empty: give the --out of `opencook lm tokenizer "
                                "train`")
    return str(mirror.local)


def shown(out: str | Path, *parts: str) -> str:
    """``out/parts`` as the user named ``out`` (a URL stays a URL), for what a verb prints."""
    from opencook.kit.io import remote

    return remote.join(str(out), *parts)
