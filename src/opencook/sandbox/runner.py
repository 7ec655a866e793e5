"""Run programs, each in a fresh interpreter in a fresh temp dir, a thread per worker slot."""

from __future__ import annotations

import functools
import json
import os
import queue
import shutil
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from opencook.kit.progress import Progress
from opencook.sandbox import cgroup
from opencook.sandbox.build import Builder
from opencook.sandbox.isolation import UID_SLOTS, Isolation, empty_netns, slot_uid
from opencook.sandbox.languages import language
from opencook.sandbox.native import run_native
from opencook.sandbox.process import CHILD_SOURCE, NOT_COMPLETED, spawn
from opencook.sandbox.types import Limits, Outcome, Program

__all__ = ["CHILD_SOURCE", "OPEN_FILES_LIMIT", "child_settings", "isolation_report", "run_programs"]
EXIT_CODES = {0: "passed", 3: "wrong_answer", 4: "syntax_error", 6: "killed"}  # set by child.py
FILE_SIZE_LIMIT = 16 << 20  # RLIMIT_FSIZE: the largest file a program may write
OPEN_FILES_LIMIT = 256
DEFAULT_LIMITS = Limits()


def run_programs(programs: Sequence[Program], limits: Limits = DEFAULT_LIMITS, workers: int | None = None,
                 progress: bool = False, cache_dir: str | Path | None = None) -> list[Outcome]:
    """Run every program under ``limits``; outcomes come back in input order.

    Threads only wait: each program is its own process (``python -I -S``, or the build of a compiled
    language then its binary), so ``workers`` (default: the CPU count) run at once. Compiled programs are
    built once per content hash into ``cache_dir`` (default ``build.default_cache_dir()``); every
    language's toolchain is checked before anything runs.
    """
    if not isinstance(limits, Limits):
        raise TypeError(f"limits={limits!r}: pass an opencook.sandbox.Limits")
    for p in programs:
        if not isinstance(p, Program):
            raise TypeError(f"programs contains {type(p).__name__} {p!r:.80}: wrap each in Program(id, source)")
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers={workers}: must be >= 1")
    iso = probe_isolation()
    langs = {p.language for p in programs if p.language != "python"}
    for name in sorted(langs):
        if limits.memory_mb < language(name).min_memory_mb:
            raise ValueError(f"Limits.memory_mb={limits.memory_mb}: {name} programs need >= "
                             f"{language(name).min_memory_mb} (its runtime commits that much at start)")
    builder = Builder(cache_dir, iso, sorted(langs)) if langs else None
    slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    for s in range(min(workers, 256)):
        slots.put(s)
    purelib = sysconfig.get_paths()["purelib"]

    def one(program: Program) -> Outcome:
        slot = slots.get()
        try:
            if program.language == "python":
                return run_one(program, limits, iso, slot, purelib)
            return run_native(program, language(program.language), limits, iso, slot, builder)
        finally:
            slots.put(slot)
            bar.update()

    with Progress(len(programs), "sandbox", "program", enabled=progress) as bar, \
            ThreadPoolExecutor(max_workers=min(workers, 256)) as pool:
        return list(pool.map(one, programs))


def child_settings(limits: Limits, uid: int, purelib: str, netns_fd: int, pidns: bool) -> str:
    """The child's one argument: a JSON object naming each setting (child.py says what each means)."""
    return json.dumps({"uid": uid, "gid": uid, "cpu_s": int(limits.timeout_s) + 1,
                       "data_bytes": limits.memory_mb << 20, "nproc": limits.max_procs,
                       "fsize_bytes": FILE_SIZE_LIMIT, "nofile": OPEN_FILES_LIMIT, "purelib": purelib,
                       "netns_fd": netns_fd, "pidns": bool(pidns)})


def run_one(program: Program, limits: Limits, iso: Isolation, slot: int, purelib: str) -> Outcome:
    start = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="opencook-sandbox-")
    try:
        uid = slot_uid(slot) if iso.drop_uid else -1
        Path(workdir, "main.py").write_text(program.source, encoding="utf-8", errors="surrogatepass")
        if uid >= 0:
            os.chown(workdir, uid, uid)
        netns_fd = -1 if limits.network else iso.netns_fd
        settings = json.loads(child_settings(limits, uid, purelib, netns_fd, iso.pidns_in_child))
        settings.update(iso.containment(slot, limits.memory_mb << 20, workdir))
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
               "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1"}
        code, out, err, timed_out, completed = spawn(settings, workdir, env, iso.wrapper(limits.network),
                                                     start + limits.timeout_s, limits.max_output_bytes, uid,
                                                     verdict=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if timed_out:
        kind = "timeout"
    elif code < 0:
        kind = "killed"
    elif code == 0 and not completed:  # exited 0 without running to its end: os._exit(0), a patched exit...
        kind, err = "exception", err + NOT_COMPLETED
    else:
        kind = EXIT_CODES.get(code, "exception")
    return Outcome(id=program.id, passed=kind == "passed", kind=kind, exit_code=code, stdout=out, stderr=err,
                   duration_s=time.perf_counter() - start)


# ---------------------------------------------------------------- which isolation this machine gives

def _works(iso: Isolation) -> bool:
    """Run a real program through this isolation: it must import from the stdlib and pass."""
    probe = Program("probe", "import json, socket, traceback\nassert json.loads('[1]') == [1]")
    try:
        return run_one(probe, Limits(timeout_s=30), iso, UID_SLOTS - 1, "").passed
    except OSError:
        return False


@functools.cache
def probe_isolation() -> Isolation:
    unshare = shutil.which("unshare") or ("/usr/bin/unshare" if os.path.exists("/usr/bin/unshare") else None)
    candidates: list[Isolation] = []
    if os.geteuid() == 0:
        netns = empty_netns(unshare) if unshare else -1
        best = Isolation(drop_uid=True, netns_fd=netns, pidns_in_child=True)
        cgroups = cgroup.find()
        candidates += [replace(best, private_tmp=True, cgroups=cgroups), replace(best, private_tmp=True), best]
        if unshare:
            candidates.append(Isolation(prefix=(unshare, "--net", "--pid", "--fork", "--kill-child"), drop_uid=True))
        candidates.append(Isolation(drop_uid=True))
    elif unshare:
        userns = Isolation(prefix=(unshare, "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"))
        candidates += [replace(userns, private_tmp=True), userns]
    candidates.append(Isolation())
    for iso in candidates:
        if _works(iso):
            return iso
    raise RuntimeError(f"the sandbox cannot run {sys.executable} -I -S at all (not even without isolation): "
                       "check that this interpreter starts and imports json/socket")


def isolation_report() -> dict[str, object]:
    """What this machine gives a sandboxed program (recorded with benchmark results and in the docs)."""
    iso = probe_isolation()
    return {"network_cut": iso.network_cut, "pid_namespace": iso.pid_namespace, "throwaway_uid": iso.drop_uid,
            "private_tmp": iso.private_tmp, "memory_cgroup": str(iso.cgroups.base) if iso.cgroups else None,
            "wrapper": " ".join(iso.prefix) or None, "euid": os.geteuid()}
