"""Issue 20, case 7: after the driver is SIGKILLed, its pool workers die too. Real processes, real signals:
the driver is stopped once its workers exist (so none can finish and leave on its own), then SIGKILLed, and
every process it had started must be gone. Linux: the process tree is read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from fixtures_code import python_module

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")]

WAIT_S = 120  # an upper bound for slow shared machines, never a timing claim: without the fix they never go


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a live process, or None (gone, or a zombie awaiting its reaper)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == b"Z" else (int(fields[1]), fields[0].decode())


def _descendants(root: int) -> dict[int, int]:
    """pid -> depth below ``root`` of every live descendant."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = st[0]
    depth: dict[int, int] = {}
    frontier = {root: 0}
    while frontier:
        nxt = {}
        for pid, parent in parents.items():
            if parent in frontier and pid not in depth:
                depth[pid] = frontier[parent] + 1
                nxt[pid] = depth[pid]
        frontier = nxt
    return depth


def _kill_driver_once_workers_run(driver: subprocess.Popen, workers: int) -> list[int]:
    """Wait for ``workers`` pool processes (the forkserver's children), stop the driver, SIGKILL it; returns
    every process it had started."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and driver.poll() is None:
        tree = _descendants(driver.pid)
        if sum(d == 2 for d in tree.values()) >= workers:
            break
        time.sleep(0.05)
    assert driver.poll() is None, f"the driver ended before its workers were seen:\n{driver.stderr.read()[-2000:]}"
    os.kill(driver.pid, signal.SIGSTOP)  # nothing finishes while we look
    tree = _descendants(driver.pid)
    assert sum(d == 2 for d in tree.values()) >= workers
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    return sorted(tree)


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + WAIT_S
    while (alive := [p for p in pids if _stat(p) is not None]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive:  # without the fix: clean up what the test started, by pid
        os.kill(pid, signal.SIGKILL)
    return alive


def test_pool_workers_busy_in_a_task_die_with_a_killed_driver():
    script = textwrap.dedent("""
        import time
        from opencook.kit.executors import LocalExecutor
        for _ in LocalExecutor(2).map(time.sleep, [3600] * 4, "sleep"):
            pass
    """)
    driver = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    pids = _kill_driver_once_workers_run(driver, 2)
    assert _wait_gone(pids) == []


def test_the_workers_of_a_killed_opencook_run_are_gone(tmp_path):
    import random

    rng = random.Random(0)
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(400):
        (repo / f"m{i:03d}.py").write_text(python_module(rng, n_funcs=12))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "k", "stages": [
        {"ingest": {"paths": [str(repo)], "layout": "repo", "files_per_task": 5}},
        {"fuzzy_dedup": {"preset": "opencoder"}}, {"filter": {}}, {"write": {}}]}))
    env = {k: v for k, v in os.environ.items() if k != "OPENCOOK_RUN_DIR_LOCKED"}
    driver = subprocess.Popen([sys.executable, "-m", "opencook", "run", str(recipe), "--out", str(tmp_path / "out"),
                               "--workers", "2", "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, env=env)
    pids = _kill_driver_once_workers_run(driver, 2)
    assert _wait_gone(pids) == []
