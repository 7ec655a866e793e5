"""Run programs, each in a fresh interpreter in a fresh temp dir, a thread per worker slot."""

from __future__ import annotations

import functools
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opencook.sandbox.isolation import UID_SLOTS, Isolation, empty_netns, slot_uid
from opencook.sandbox.types import Limits, Outcome, Program

CHILD_SOURCE = (Path(__file__).parent / "child.py").read_text()
EXIT_CODES = {0: "passed", 3: "wrong_answer", 4: "syntax_error", 6: "killed"}  # set by child.py
FILE_SIZE_LIMIT = 16 << 20  # RLIMIT_FSIZE: the largest file a program may write
OPEN_FILES_LIMIT = 256
_CHUNK = 1 << 16
DEFAULT_LIMITS = Limits()


def run_programs(programs: Sequence[Program], limits: Limits = DEFAULT_LIMITS, workers: int | None = None,
                 progress: bool = False) -> list[Outcome]:
    """Run every program under ``limits``; outcomes come back in input order.

    Threads only wait: each program is its own ``python -I -S`` process, so ``workers`` (default: the CPU
    count) processes run at once.
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
    slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    for s in range(min(workers, 256)):
        slots.put(s)
    purelib = sysconfig.get_paths()["purelib"]
    done = [0]

    def one(program: Program) -> Outcome:
        slot = slots.get()
        try:
            return run_one(program, limits, iso, slot, purelib)
        finally:
            slots.put(slot)
            if progress:
                done[0] += 1
                if done[0] % 50 == 0 or done[0] == len(programs):
                    print(f"sandbox: {done[0]}/{len(programs)}", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=min(workers, 256)) as pool:
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
        settings = child_settings(limits, uid, purelib, netns_fd, iso.pidns_in_child)
        cmd = [*iso.wrapper(limits.network), sys.executable, "-I", "-S", "-B", "-c", CHILD_SOURCE, settings]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
               "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1"}
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True,
                                pass_fds=(netns_fd,) if netns_fd >= 0 else ())
        try:
            out, err, timed_out = _collect(proc, start + limits.timeout_s, limits.max_output_bytes)
        finally:
            _kill_group(proc)
            if uid >= 0:
                _kill_uid(uid)
            proc.stdout.close()
            proc.stderr.close()
        code = proc.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if timed_out:
        kind = "timeout"
    elif code < 0:
        kind = "killed"
    else:
        kind = EXIT_CODES.get(code, "exception")
    return Outcome(id=program.id, passed=kind == "passed", kind=kind, exit_code=code, stdout=out, stderr=err,
                   duration_s=time.perf_counter() - start)


def _collect(proc: subprocess.Popen, deadline: float, cap: int) -> tuple[str, str, bool]:
    """Read both pipes until the process exits or the deadline passes, keeping the last ``cap`` bytes of each."""
    fds = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    seen = dict.fromkeys(fds, 0)
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    poller = select.poll()
    for fd in (*fds, *([pidfd] if pidfd is not None else [])):
        poller.register(fd, select.POLLIN)
    open_fds = set(fds)
    exited = timed_out = False
    try:
        while not exited:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                timed_out = proc.poll() is None
                break
            wait_ms = remaining * 1000 if pidfd is not None else min(remaining * 1000, 20)
            for fd, _ in poller.poll(wait_ms):
                if fd == pidfd:
                    exited = True
                elif fd in open_fds and not _read(fd, fds, seen, cap):
                    open_fds.discard(fd)
                    poller.unregister(fd)
            if pidfd is None and proc.poll() is not None:
                exited = True
            if not open_fds and proc.poll() is not None:
                exited = True
        for fd in open_fds:  # what the program wrote just before exiting; never wait on a grandchild's pipe
            os.set_blocking(fd, False)
            while True:
                try:
                    if not _read(fd, fds, seen, cap):
                        break
                except BlockingIOError:
                    break
    finally:
        if pidfd is not None:
            os.close(pidfd)
    out, err = (_text(fds[fd], seen[fd], cap) for fd in fds)
    return out, err, timed_out


def _read(fd: int, bufs: dict[int, bytearray], seen: dict[int, int], cap: int) -> bool:
    data = os.read(fd, _CHUNK)
    if not data:
        return False
    buf = bufs[fd]
    buf += data
    seen[fd] += len(data)
    if len(buf) > 2 * cap:
        del buf[:-cap]
    return True


def _text(buf: bytearray, seen: int, cap: int) -> str:
    text = bytes(buf[-cap:]).decode("utf-8", errors="replace")
    return f"[{seen - cap} bytes cut]\n{text}" if seen > cap else text


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the program's whole process group (after a timeout, and after a normal exit too)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_uid(uid: int) -> None:
    """SIGKILL whatever still runs as the slot's throwaway uid (a program that left its group and namespace)."""
    for _ in range(10):
        found = False
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat(f"/proc/{entry}").st_uid == uid:
                        found = True
                        os.kill(int(entry), signal.SIGKILL)
                except (FileNotFoundError, ProcessLookupError):
                    pass
        if not found:
            return
        time.sleep(0.001)


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
        candidates.append(Isolation(drop_uid=True, netns_fd=netns, pidns_in_child=True))
        if unshare:
            candidates.append(Isolation(prefix=(unshare, "--net", "--pid", "--fork", "--kill-child"), drop_uid=True))
        candidates.append(Isolation(drop_uid=True))
    elif unshare:
        candidates.append(Isolation(prefix=(unshare, "--user", "--map-root-user", "--net", "--pid", "--fork",
                                            "--kill-child")))
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
            "wrapper": " ".join(iso.prefix) or None, "euid": os.geteuid()}
