"""Which isolation this machine allows, probed once per process.

As root (CI): each program runs as a throwaway uid per worker slot (RLIMIT_NPROC then counts that program
alone, system and project files are read-only to it, it cannot signal the harness), joins an empty network
namespace made once per harness process, and runs as pid 1 of its own pid namespace (everything it starts
dies with it, even after setsid). Not root but user namespaces allowed: ``unshare --user --map-root-user
--net --pid --fork`` wraps each program (no uid drop). Otherwise: a plain subprocess in its own process
group, network not cut. ``isolation_report`` says which applies.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from opencook.sandbox.cgroup import MemoryCgroups

# Throwaway uids: 256 slots per harness process, spread by pid so two harnesses rarely share one.
_UID_BASE = 200_000
UID_SLOTS = 256
# Each program gets its own tmpfs on these (a mount namespace): nothing it leaves there outlives it, the
# host's files and Unix sockets there are out of reach, and their size is bounded.
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run")


@dataclass(frozen=True)
class Isolation:
    prefix: tuple[str, ...] = ()  # command that wraps the interpreter (an unshare call), or ()
    drop_uid: bool = False  # run each program as a throwaway uid (needs root)
    netns_fd: int = -1  # an open fd of an empty network namespace the program joins (needs root)
    pidns_in_child: bool = False  # the program runs as pid 1 of a new pid namespace (needs root)
    private_tmp: bool = False  # a mount namespace with a fresh tmpfs on each of PRIVATE_DIRS
    cgroups: MemoryCgroups | None = None  # a memory cgroup per worker slot (shared memory counted)

    @property
    def network_cut(self) -> bool:
        return self.netns_fd >= 0 or "--net" in self.prefix

    @property
    def pid_namespace(self) -> bool:
        return self.pidns_in_child or "--pid" in self.prefix

    def containment(self, slot: int, memory_bytes: int, workdir: str, keep: str = "") -> dict:
        """The child settings for the memory cgroup and the private mounts; ``keep`` (a path the program must
        see, the build cache) leaves the private dir above it shared."""
        keep = os.path.realpath(keep) + "/" if keep else ""
        private = [d for d in PRIVATE_DIRS if not keep.startswith(d + "/")] if self.private_tmp else []
        return {"cgroup": self.cgroups.procs(slot, memory_bytes) if self.cgroups else "", "private": private,
                "tmpfs_bytes": memory_bytes, "workdir": workdir}

    def wrapper(self, network: bool) -> tuple[str, ...]:
        """The wrapping command; ``network=True`` keeps the host's network (no ``--net``)."""
        return tuple(a for a in self.prefix if a != "--net") if network else self.prefix


def slot_uid(slot: int) -> int:
    """The uid (and gid) of worker slot ``slot`` of this process."""
    return _UID_BASE + (os.getpid() % 100_000) * UID_SLOTS + slot % UID_SLOTS


def empty_netns(unshare: str) -> int:
    """An fd holding a fresh network namespace (only a down loopback), shared by this process's programs."""
    own = os.stat("/proc/self/ns/net").st_ino
    holder = subprocess.Popen([unshare, "--net", "sleep", "30"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and holder.poll() is None:
            path = f"/proc/{holder.pid}/ns/net"
            if os.stat(path).st_ino != own:
                return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            time.sleep(0.002)
        return -1
    except OSError:
        return -1
    finally:
        holder.kill()
        holder.wait()
