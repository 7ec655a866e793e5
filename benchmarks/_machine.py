"""Machine facts recorded with every benchmark result."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path


def machine_info() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": mem_gib, "python": platform.python_version(),
            "platform": platform.platform()}


def git_commit(root: Path, dirty_path: str | None = None) -> tuple[str, bool]:
    """The short commit of ``root`` and whether ``dirty_path`` has uncommitted changes."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=root).stdout.strip()
    dirty = bool(dirty_path) and bool(subprocess.run(["git", "status", "--porcelain", dirty_path],
                                                     capture_output=True, text=True, cwd=root).stdout.strip())
    return commit, dirty


def peer_versions(python: Path, packages: tuple[str, ...]) -> str:
    """``name==version`` of each peer package, as installed beside ``python`` (the peers' venv)."""
    code = f"import importlib.metadata as m;print(*(f'{{p}}=={{m.version(p)}}' for p in {packages!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()


def command_line(script: str) -> str:
    """How this run was started, to print beside its figures."""
    return f".venv/bin/python benchmarks/{script}" + "".join(f" {a}" for a in sys.argv[1:])


def write_results(results: Path, name: str, result: dict, md: str) -> None:
    """``results/<name>.json`` and ``results/<name>.md``."""
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (results / f"{name}.md").write_text(md)
