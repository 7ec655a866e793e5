"""One sandboxed process: start the child with its settings, read both pipes with a cap, kill what is left.

Shared by the run step (``runner.py``) and the compile step (``build.py``).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

CHILD_SOURCE = (Path(__file__).parent / "child.py").read_text()
_CHUNK = 1 << 16
NOT_COMPLETED = "\n[sandbox: exited with status 0 before the program finished (no completion record)]\n"
VERDICT_ENV = "OPENCOOK_VERDICT_FDS"  # "r,w": where a program's completion code finds the nonce and the record


class Run(NamedTuple):
    code: int  # negative for a signal
    out: str
    err: str
    timed_out: bool
    completed: bool  # the completion record came back: the program's code ran to its end


def spawn(settings: dict, workdir: str, env: dict[str, str], prefix: tuple[str, ...], deadline: float,
          cap: int, uid: int, verdict: bool = False) -> Run:
    """Run ``child.py`` with ``settings`` in ``workdir``.

    With ``verdict``, the child gets a pipe holding a fresh random nonce and a pipe back to us: the nonce
    comes back only from the code that runs after the program's last statement (child.py for Python, the
    language's completion code otherwise), so an exit status of 0 alone does not make a pass. The process
    group, and then anything still running as ``uid``, is killed afterwards whatever happened.
    """
    netns_fd = settings["netns_fd"]
    fds = [netns_fd] if netns_fd >= 0 else []
    nonce, theirs, ours = b"", [], -1
    if verdict:
        nonce = os.urandom(16).hex().encode()
        nonce_r, nonce_w = os.pipe()
        os.write(nonce_w, nonce)
        os.close(nonce_w)
        ours, verdict_w = os.pipe()
        theirs = [nonce_r, verdict_w]
        settings = {**settings, "verdict": theirs}
        env = {**env, VERDICT_ENV: f"{nonce_r},{verdict_w}"}
    cmd = [*prefix, sys.executable, "-I", "-S", "-B", "-c", CHILD_SOURCE, json.dumps(settings)]
    try:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, pass_fds=(*fds, *theirs))
    finally:
        for fd in theirs:
            os.close(fd)
    try:
        out, err, timed_out = collect(proc, deadline, cap)
    finally:
        kill_group(proc)
        if uid >= 0:
            kill_uid(uid)
        proc.stdout.close()
        proc.stderr.close()
        record = b""
        if ours >= 0:
            os.set_blocking(ours, False)
            try:
                record = os.read(ours, 64)
            except BlockingIOError:
                pass
            os.close(ours)
    return Run(proc.wait(), out, err, timed_out, bool(nonce) and record.strip() == nonce)


def collect(proc: subprocess.Popen, deadline: float, cap: int) -> tuple[str, str, bool]:
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


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the program's whole process group (after a timeout, and after a normal exit too)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_uid(uid: int) -> None:
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
