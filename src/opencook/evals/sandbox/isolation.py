"""Which isolation this machine allows, probed once per process.

As root: ``unshare --net --pid --fork`` (no network; every process the program starts dies with it, even one
that called setsid) and a throwaway uid per worker slot (so RLIMIT_NPROC is enforced per program, system
and project files are read-only to it, and it cannot signal the harness). Not root but user namespaces
allowed: ``unshare --user --map-root-user --net --pid --fork`` (same, minus the uid drop). Otherwise: plain
subprocess in its own process group, network not cut; ``isolation_report`` says so.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from dataclasses import dataclass

# Throwaway uids: 256 slots per harness process, spread by pid so two harnesses rarely share one.
_UID_BASE = 200_000
_UID_SLOTS = 256


@dataclass(frozen=True)
class Isolation:
    prefix: tuple[str, ...]  # command that wraps the interpreter (the unshare call), or ()
    drop_uid: bool  # run each program as a throwaway uid (needs root)
    network_cut: bool
    pid_namespace: bool

    def wrapper(self, network: bool) -> tuple[str, ...]:
        """The wrapping command; ``network=True`` keeps the host's network (no ``--net``)."""
        return tuple(a for a in self.prefix if a != "--net") if network else self.prefix


def slot_uid(slot: int) -> int:
    """The uid (and gid) of worker slot ``slot`` of this process."""
    return _UID_BASE + (os.getpid() % 100_000) * _UID_SLOTS + slot % _UID_SLOTS


def _works(iso: Isolation) -> bool:
    """Run a real program through this isolation: it must import from the stdlib and pass."""
    from opencook.evals.sandbox.runner import run_one  # runner imports this module
    from opencook.evals.sandbox.types import Limits, Program

    probe = Program("probe", "import json, socket, traceback\nassert json.loads('[1]') == [1]")
    try:
        return run_one(probe, Limits(timeout_s=30), iso, _UID_SLOTS - 1, "").passed
    except OSError:
        return False


@functools.cache
def probe_isolation() -> Isolation:
    unshare = shutil.which("unshare") or ("/usr/bin/unshare" if os.path.exists("/usr/bin/unshare") else None)
    root = os.geteuid() == 0
    prefixes: list[tuple[str, ...]] = []
    if unshare:
        prefixes.append((unshare, "--net", "--pid", "--fork", "--kill-child"))
        if not root:
            prefixes.insert(0, (unshare, "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"))
    for prefix in [*prefixes, ()]:
        for drop in (True, False) if root else (False,):
            iso = Isolation(prefix=prefix, drop_uid=drop, network_cut=bool(prefix), pid_namespace=bool(prefix))
            if _works(iso):
                return iso
    raise RuntimeError(f"the sandbox cannot run {sys.executable} -I -S at all (not even without isolation): "
                       "check that this interpreter starts and imports json/socket")


def isolation_report() -> dict[str, object]:
    """What this machine gives a sandboxed program (recorded with benchmark results and in the docs)."""
    iso = probe_isolation()
    return {"network_cut": iso.network_cut, "pid_namespace": iso.pid_namespace, "throwaway_uid": iso.drop_uid,
            "wrapper": " ".join(iso.prefix) or None, "euid": os.geteuid()}
