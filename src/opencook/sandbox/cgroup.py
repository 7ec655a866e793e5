"""A memory cgroup per worker slot: the one bound that counts shared memory.

``RLIMIT_DATA`` counts private writable mappings only, so a ``MAP_SHARED|MAP_ANONYMOUS`` mapping or files
in a tmpfs escape it; a memory cgroup charges every page a program faults in (anonymous, shared, tmpfs,
page cache), across all its processes, and the kernel's OOM killer ends the program when it goes over.
The cgroups live under this process's own cgroup (``<mount>/<own path>/opencook-sandbox-<pid>/slot-N``),
one per worker slot, reused program after program; the child joins its slot before dropping root.
cgroup v1 (a ``memory`` hierarchy) and v2 (``memory`` delegated to our cgroup) are both tried; where neither
works (not root, no controller, v2 without delegation) ``find()`` returns None and only the rlimits apply.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path


class MemoryCgroups:
    """Per-slot memory cgroups under ``base``; ``procs(slot, limit)`` is the file a child writes its pid to."""

    def __init__(self, base: Path, version: int):
        self.base, self.version = base, version
        self._limits: dict[Path, int] = {}
        self._guard = threading.Lock()
        atexit.register(self.remove)

    def procs(self, slot: int, limit_bytes: int) -> str:
        """``cgroup.procs`` of the slot's cgroup, its limit set to ``limit_bytes`` (a fresh cgroup if the old
        one cannot be lowered: v1 refuses a limit under what is still charged)."""
        with self._guard:
            for gen in range(4):
                path = self.base / (f"slot-{slot}" if gen == 0 else f"slot-{slot}-{gen}")
                if self._limits.get(path) == limit_bytes:
                    return str(path / "cgroup.procs")
                try:
                    path.mkdir(exist_ok=True)
                    self._set_limit(path, limit_bytes)
                except OSError:
                    continue
                self._limits[path] = limit_bytes
                return str(path / "cgroup.procs")
        raise OSError(f"cannot set a memory limit in {self.base}")

    def _set_limit(self, path: Path, limit: int) -> None:
        if self.version == 2:
            (path / "memory.max").write_text(str(limit))
            swap = path / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
            return
        memsw = path / "memory.memsw.limit_in_bytes"  # memory + swap; must stay >= the memory limit
        old = self._limits.get(path, 1 << 62)
        order = ("memory.limit_in_bytes", memsw.name) if limit < old else (memsw.name, "memory.limit_in_bytes")
        for name in order:
            if (path / name).exists():
                (path / name).write_text(str(limit))

    def remove(self) -> None:
        for path in sorted(self.base.glob("slot-*")):
            try:
                path.rmdir()
            except OSError:
                pass
        try:
            self.base.rmdir()
        except OSError:
            pass


def _own_cgroup() -> tuple[Path, int] | None:
    """(this process's memory cgroup directory, cgroup version), or None."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    for line in mounts:  # v1: a hierarchy with the memory controller
        fields = line.split()
        sep = fields.index("-")
        fstype, super_opts = fields[sep + 1], fields[sep + 3]
        if fstype == "cgroup" and "memory" in super_opts.split(","):
            root, mount_point = fields[3], fields[4]
            for entry in lines:
                _, controllers, rel = entry.split(":", 2)
                if "memory" in controllers.split(","):
                    return Path(mount_point) / os.path.relpath(rel, root), 1
    for line in mounts:  # v2: the unified hierarchy, if it offers memory
        fields = line.split()
        sep = fields.index("-")
        if fields[sep + 1] == "cgroup2":
            root, mount_point = fields[3], fields[4]
            for entry in lines:
                if entry.startswith("0::"):
                    own = Path(mount_point) / os.path.relpath(entry[3:], root)
                    if "memory" in (Path(mount_point) / "cgroup.controllers").read_text().split():
                        return own, 2
    return None


def _sweep_stale(parent: Path) -> None:
    """Remove cgroups left by harnesses that were killed (their pid is gone)."""
    for stale in parent.glob("opencook-sandbox-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            for path in stale.glob("slot-*"):
                try:
                    path.rmdir()
                except OSError:
                    pass
            try:
                stale.rmdir()
            except OSError:
                pass


def find() -> MemoryCgroups | None:
    """Per-slot memory cgroups for this process, or None where the machine does not let us make them."""
    if os.geteuid() != 0:
        return None
    try:
        found = _own_cgroup()
        if found is None:
            return None
        own, version = found
        _sweep_stale(own)
        base = own / f"opencook-sandbox-{os.getpid()}"
        base.mkdir(exist_ok=True)
        if version == 2:  # children may only use memory if it is enabled below us (fails where not delegated)
            (own / "cgroup.subtree_control").write_text("+memory")
            (base / "cgroup.subtree_control").write_text("+memory")
        cgroups = MemoryCgroups(base, version)
        cgroups.procs(255, 64 << 20)
        return cgroups
    except (OSError, ValueError, IndexError):
        return None
