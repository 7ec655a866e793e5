"""Issue 20: a trainer's run directory gets the marker and the lock too (RunDir.write_config takes both)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

from opencook.kit.rundir import MARKER, RunDir, RunDirError

_HOLD = textwrap.dedent("""
    import sys
    from dataclasses import dataclass
    from opencook.kit.rundir import RunDir

    @dataclass
    class Cfg:
        lr: float = 0.1

    RunDir(sys.argv[1], main=True).write_config(Cfg())
    print("locked", flush=True)
    sys.stdin.read()
""")


@dataclass
class _Cfg:
    lr: float = 0.2


def test_a_second_trainer_into_a_run_being_written_fails_clearly(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert json.loads((out / MARKER).read_text())["kind"] == "train"
        with pytest.raises(RunDirError, match=rf"another run \(pid {holder.pid}"):
            RunDir(out, main=True).write_config(_Cfg())
        assert "lr: 0.1" in (out / "config.yaml").read_text()  # the running run's config is untouched
    finally:
        holder.kill()
        holder.wait()
    run = RunDir(out, main=True)
    run.write_config(_Cfg())  # the killed holder left no lock behind
    run.write_config(_Cfg())  # the same process may write again (re-entrant)
    run.release()
    assert "lr: 0.2" in (out / "config.yaml").read_text()


def test_a_trainer_refuses_a_data_run_directory(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"kind": "data"}))
    with pytest.raises(RunDirError, match="is a data run directory"):
        RunDir(out, main=True).write_config(_Cfg())
