"""Issue 20, cases 5-6: a sample ratio for a language that does not exist is an error, and hostile inputs
(FIFOs, devices, link loops, undecodable names) are counted drops instead of a hang, a memory blow-up or a
traceback. The pipeline runs as a real ``opencook`` process: a regression hangs or dies there, not in pytest."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from opencook.data.recipe import parse_recipe
from opencook.kit.config import ConfigError

HANG_GUARD_S = 120  # a FIFO opened for reading blocks forever: without the fix the command never ends


def _limited() -> None:
    """4 GiB of address space: reading /dev/zero into memory fails fast instead of taking the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def _opencook(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OPENCOOK_RUN_DIR_LOCKED"}
    return subprocess.run([sys.executable, "-m", "opencook", *args], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, preexec_fn=_limited, env=env)


def _hostile_tree(root: Path) -> Path:
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "good.py").write_text("def add(a, b):\n    total = a + b\n    return total\n")
    os.mkfifo(repo / "pkg" / "pipe.py")  # a FIFO named like code
    os.symlink("pipe.py", repo / "pkg" / "to_pipe.py")
    os.symlink("/dev/zero", repo / "pkg" / "zero.py")
    os.symlink("self.py", repo / "pkg" / "self.py")  # a link to itself
    os.symlink("loop", repo / "loop")  # a directory-looking link to itself
    (repo / "pkg").joinpath(os.fsdecode(b"caf\xe9.py")).write_bytes(b"x = 1\n")  # Latin-1 name, not UTF-8
    return repo


def _run(tmp_path: Path, repo: Path, follow: bool) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / f"run-{follow}"
    recipe = {"name": "hostile", "stages": [
        {"ingest": {"paths": [str(repo)], "layout": "repo", "follow_symlinks": follow}}, {"write": {}}]}
    path = tmp_path / f"hostile-{follow}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    done = _opencook("run", str(path), "--out", str(out), "--executor", "inprocess", "--no-report")
    return done, out


def _ingest_dropped(out: Path) -> dict[str, int]:
    return json.loads((out / "stages" / "00_ingest" / "stats.json").read_text())["dropped"]


def test_followed_links_to_special_files_and_loops_are_counted_drops(tmp_path):
    done, out = _run(tmp_path, _hostile_tree(tmp_path), follow=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _ingest_dropped(out) == {"special_file": 3, "symlink_loop": 2, "bad_name": 1}
    assert [r["path"] for r in pq.read_table(out / "dataset").to_pylist()] == ["pkg/good.py"]


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_a_followed_link_to_a_fifo_or_dev_zero_neither_hangs_nor_fills_memory(tmp_path, target):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "good.py").write_text("def add(a, b):\n    total = a + b\n    return total\n")
    if target == "fifo":
        os.mkfifo(tmp_path / "pipe")  # outside the tree: only the link leads to it
        target = str(tmp_path / "pipe")
    os.symlink(target, repo / "data.py")
    done, out = _run(tmp_path, repo, follow=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _ingest_dropped(out) == {"special_file": 1}


def test_special_files_and_bad_names_are_counted_without_following_links(tmp_path):
    done, out = _run(tmp_path, _hostile_tree(tmp_path), follow=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _ingest_dropped(out) == {"special_file": 1, "symlink": 4, "bad_name": 1}


def test_data_filter_gives_hostile_entries_a_row_with_the_reason(tmp_path):
    repo = _hostile_tree(tmp_path)
    done = _opencook("data", "filter", str(repo), "--out", str(tmp_path / "f"))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["path"]: r["reason"] for r in pq.read_table(tmp_path / "f" / "filter_results.parquet").to_pylist()}
    assert rows == {
        "loop": "symlink_loop", "pkg/caf\\xe9.py": "bad_name", "pkg/good.py": rows["pkg/good.py"],
        "pkg/pipe.py": "special_file", "pkg/self.py": "symlink_loop", "pkg/to_pipe.py": "special_file",
        "pkg/zero.py": "special_file",
    }
    assert rows["pkg/good.py"] not in ("special_file", "symlink_loop", "bad_name", "unreadable")


def test_a_file_that_grows_past_the_limit_while_read_is_not_read_whole(tmp_path):
    from opencook.data.ingest.files import read_regular

    big = tmp_path / "big.py"
    big.write_bytes(b"a" * 100)
    assert read_regular(str(big), 100) == (b"a" * 100, 100, None)
    assert read_regular(str(big), 99)[2] == "too_large"
    assert read_regular("/dev/zero", 1 << 40) == (None, 0, "special_file")


# ---------------------------------------------------------------- case 5: a ratio for no language


@pytest.mark.parametrize(("name", "hint"), [("Pythn", "did you mean 'Python'"), ("python", "did you mean 'Python'"),
                                            ("Xyzzyq", "languages are Linguist names")])
def test_a_sample_ratio_for_an_unknown_language_fails_before_any_work(name, hint):
    recipe = {"name": "s", "stages": [{"ingest": {"paths": ["."]}}, {"sample": {"ratios": {name: 0.5}}},
                                      {"write": {}}]}
    with pytest.raises(ConfigError, match=rf"stages\[1\]\.sample: .*unknown language '{name}'; {hint}"):
        parse_recipe(recipe)


def test_the_sample_ratios_of_the_demo_and_the_unknown_bucket_are_accepted():
    recipe = {"name": "s", "stages": [{"ingest": {"paths": ["."]}},
                                      {"sample": {"ratios": {"HTML": 0.135, "Java": 0.445, "unknown": 0.1}}},
                                      {"write": {}}]}
    assert parse_recipe(recipe).stages[1][1].ratios["Java"] == 0.445
