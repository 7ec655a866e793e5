"""The one progress rule (kit/progress.py): a bar on a terminal, one plain line per log window elsewhere,
nothing under --quiet; checked on the helper itself, on a real `lm pretrain` and a real data run whose
stderr goes to a file."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
import yaml

from fixtures_code import make_repos
from opencook.kit import progress
from opencook.kit.progress import Progress, track


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _env_without_mode() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != progress.MODE_ENV}, "OMP_NUM_THREADS": "1"}


def _counts(text: str, unit: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"{unit} ([\d,]+)", text)]


def test_a_line_per_window_when_not_a_terminal(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    out = io.StringIO()
    with Progress(35, "train", "step", every=10, stream=out) as bar:
        for i in range(35):
            bar.update(1, loss=round(10.0 - i / 10, 2))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert _counts(out.getvalue(), "step") == ["10", "20", "30", "35"]
    assert "loss 9.1" in lines[0] and "loss 6.6" in lines[-1]
    assert all(re.search(r", [\d.,]+ (step/s|s/step), elapsed \d", ln) for ln in lines)
    assert all("ETA" in ln for ln in lines[:-1]) and "ETA" not in lines[-1]


def test_a_resumed_count_and_an_unknown_total(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    out = io.StringIO()
    with Progress(100, "train", "step", initial=90, every=5, stream=out) as bar:
        for _ in range(10):
            bar.update()
    assert _counts(out.getvalue(), "step") == ["95", "100"]
    out = io.StringIO()
    with Progress(None, "reading", "doc", every=3, stream=out) as bar:
        for _ in range(7):
            bar.update()
    assert [ln.split(",")[0] for ln in out.getvalue().splitlines()] == [
        "reading: doc 3", "reading: doc 6", "reading: doc 7"]


def test_a_total_without_a_window_gives_about_ten_lines(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    out = io.StringIO()
    with Progress(95, "stage", "task", stream=out) as bar:
        for _ in range(95):
            bar.update()
    assert _counts(out.getvalue(), "task") == [str(n) for n in range(10, 100, 10)] + ["95"]


def test_quiet_and_disabled_print_nothing(monkeypatch):
    out = io.StringIO()
    with Progress(3, "x", enabled=False, stream=out) as bar:
        bar.update(3)
        bar.write("note")
    monkeypatch.setenv(progress.MODE_ENV, "lines")
    progress.silence()
    assert progress.mode() == "off"
    tty = _Tty()
    with Progress(3, "x", stream=tty) as bar:
        bar.update(3)
    assert out.getvalue() == "" and tty.getvalue() == ""
    assert list(track(iter([1, 2]), 2, "t")) == [1, 2]


def test_a_terminal_gets_a_bar_and_lines_can_be_forced(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    tty = _Tty()
    with Progress(4, "bar", stream=tty) as bar:
        bar.update(4)
    assert "\r" in tty.getvalue() and "4/4" in tty.getvalue()
    monkeypatch.setenv(progress.MODE_ENV, "lines")
    tty = _Tty()
    with Progress(4, "forced", stream=tty, every=2) as bar:
        bar.update(2)
        bar.update(2)
    assert "\r" not in tty.getvalue() and _counts(tty.getvalue(), "it") == ["2", "4"]


def test_a_data_run_logged_to_a_file_has_lines_not_bars(tmp_path):
    root = make_repos(tmp_path)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "p", "stages": [
        {"ingest": {"paths": [str(root / "repos")], "layout": "repos", "files_per_task": 2}},
        {"filter": {}}, {"write": {}}]}))
    err = tmp_path / "stderr.log"
    with err.open("w") as f:
        subprocess.run([sys.executable, "-m", "opencook", "run", str(recipe), "--out", str(tmp_path / "out"),
                        "--executor", "inprocess", "--no-report"], stdout=subprocess.DEVNULL, stderr=f,
                       check=True, timeout=300, env=_env_without_mode())
    text = err.read_text()
    assert "\r" not in text
    assert re.search(r"task (\d+)/\1 \(100%\)", text), text  # every stage ends with its last line


@pytest.mark.slow
def test_lm_pretrain_logged_to_a_file_has_a_line_per_log_window(tmp_path):
    from lm_assets import build_assets, recipe

    assets = build_assets(tmp_path / "assets")
    cfg = recipe(tmp_path / "r.yaml", assets, steps=9, log_every=3, checkpoint_every=0)
    err = tmp_path / "stderr.log"
    with err.open("w") as f:
        subprocess.run([sys.executable, "-m", "opencook", "lm", "pretrain", str(cfg), "--out", str(tmp_path / "run")],
                       stdout=subprocess.DEVNULL, stderr=f, check=True, timeout=300, env=_env_without_mode())
    text = err.read_text()
    assert "\r" not in text
    windows = re.findall(r"^lm pretrain: step (\d+)/9 \(\d+%\) loss [\d.]+ lr [\d.e+-]+, [\d.,]+ (?:step/s|s/step), elapsed", text, re.M)
    assert windows == ["3", "6", "9"], text
