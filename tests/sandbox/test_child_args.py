"""The sandbox child reads one JSON argument with named settings, not a row of positional strings."""

from __future__ import annotations

import json
import subprocess
import sys

from opencook.sandbox import Limits, Program, run_programs
from opencook.sandbox.runner import CHILD_SOURCE, OPEN_FILES_LIMIT, child_settings


def test_settings_are_one_json_object_with_named_fields():
    text = child_settings(Limits(timeout_s=2.0, memory_mb=64), uid=-1, purelib="/opt/é/site-packages",
                          netns_fd=-1, pidns=False)
    assert json.loads(text) == {"uid": -1, "gid": -1, "cpu_s": 3, "data_bytes": 64 << 20, "nproc": Limits().max_procs,
                                "fsize_bytes": 16 << 20, "nofile": OPEN_FILES_LIMIT,
                                "purelib": "/opt/é/site-packages", "netns_fd": -1, "pidns": False}


def test_the_child_applies_what_the_settings_name():
    source = ("import resource\n"
              f"assert resource.getrlimit(resource.RLIMIT_NOFILE) == ({OPEN_FILES_LIMIT}, {OPEN_FILES_LIMIT})\n"
              "assert resource.getrlimit(resource.RLIMIT_CPU)[0] == 3\n")
    (outcome,) = run_programs([Program("limits", source)], Limits(timeout_s=2.0), workers=1)
    assert outcome.passed, outcome.stderr


def test_positional_arguments_are_refused_by_name(tmp_path):
    old = ["-1", "-1", "4", str(64 << 20), "64", str(16 << 20), "256", "/x", "-1", "0"]
    proc = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", CHILD_SOURCE, *old], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "one JSON argument" in proc.stderr
