"""The training report renders from a run directory alone, embeds real PNGs and escapes its input."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from opencook.xc.train import report
from opencook.xc.train.report import load_metrics, render_training_report, write_training_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = 6  # loss, eval, throughput, step/head time, peak memory, active set
EVIL = "<script>alert('x')</script>&"
GRAPHS = [
    {"kind": "graph", "step": 0, "build_s": 0.125, "k": 16, "method": "exact", "recall": None},
    {"kind": "graph", "step": 20, "build_s": 2.5, "k": 32, "method": "faiss-ivf", "recall": 0.9375},
]


@pytest.fixture
def stub_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Matplotlib costs ~0.3 s a figure; tests of the page's logic only need to know which plots were drawn."""

    def lines(series: Any, *args: Any, right: Any = (), **kwargs: Any) -> str | None:
        drawn = any(len(xs) for _, xs, _ in [*series, *right])
        return "data:image/png;base64,c3R1Yg==" if drawn else None

    monkeypatch.setattr(report.plots, "lines", lines)


def _train(step: int) -> dict:
    return {
        "kind": "train",
        "step": step,
        "time_s": 0.1 * step,
        "loss": 5.0 * math.exp(-step / 20) + 0.1 * (step % 3),
        "lr": 0.1,
        "samples_per_s": 1000.0 + step,
        "step_ms": 50.0,
        "compute_ms": 40.0,
        "comm_ms": 8.0,
        "selection_ms": 2.0,
        "active_classes": 400 + step,
        "active_fraction": (400 + step) / 10_000,
        "graph_age": step % 10,
        "peak_mem_mb": 800.0 + step,
    }


def _run_dir(tmp_path: Path, metrics: list[dict] | None, tail: str = "") -> Path:
    run = tmp_path / "run"
    run.mkdir()
    summary = {"steps": 40, "final_loss": 0.4, "top1": 0.4321, "top5": 0.75, "mode": EVIL, "wall_s": 75.0}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "dataset.json").write_text(json.dumps({"num_classes": 10_000, "train": {"samples": 123_456}}))
    (run / "config.yaml").write_text(f"head:\n  mode: knn\n  k: 32\nname: '{EVIL}'\n")
    (run / "versions.json").write_text(json.dumps({"torch": "2.5.0", "opencook": "0.1"}))
    if metrics is not None:
        body = "".join(json.dumps(r) + "\n" for r in metrics)
        (run / "metrics.jsonl").write_text(body + tail)
    return run


def _full_metrics() -> list[dict]:
    recs: list[dict] = [_train(s) for s in range(0, 40)]
    recs += [
        {"kind": "eval", "step": s, "top1": s / 100, "top5": s / 50, "eval_samples": 500}
        for s in (10, 20, 30)
    ]
    recs += GRAPHS
    recs.append({"kind": "resume", "step": 25, "from_world_size": 2, "world_size": 1})
    recs.append({"kind": "heartbeat", "step": 3})  # unknown kind: ignored
    return recs


def _section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    nxt = html.find("<h2 ", start)
    return html[start : nxt if nxt >= 0 else len(html)]


def test_full_run_has_every_section_and_plot(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, _full_metrics(), tail='{"kind": "train", "step": 40, "lo')
    out = write_training_report(run)
    assert out == run / "report.html"
    html = out.read_text(encoding="utf-8")
    for anchor in ("summary", "curves", "events", "config"):
        assert f'id="{anchor}"' in html
    for title in (
        "Training loss",
        "Evaluation",
        "Throughput and step time",
        "Memory",
        "Active set",
        "Resolved config",
    ):
        assert f">{title}</h3>" in html
    assert "full softmax normaliser over all C classes" in html
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == PLOTS == html.count("data:image/png;base64")
    assert all(base64.b64decode(u).startswith(PNG_MAGIC) for u in uris)
    assert "truncated" in html
    assert "43.21%" in html  # summary top1 shown as a percentage
    assert "123,456" in html  # nested dataset size flattened
    assert "Last eval at step 30: top-1 30.00%, top-5 60.00%" in html


def test_page_is_self_contained(tmp_path: Path, stub_plots: None) -> None:
    html = render_training_report(_run_dir(tmp_path, _full_metrics()))
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "http://" not in html and "https://" not in html


def test_graph_and_resume_tables(tmp_path: Path, stub_plots: None) -> None:
    events = _section(render_training_report(_run_dir(tmp_path, _full_metrics())), "events")
    rows = re.findall(r"<tr>(.*?)</tr>", events)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]
    cells = [c for c in cells if c]
    assert cells[0] == ["0", "exact", "16", "0.125 s", "not measured"]
    assert cells[1] == ["20", "faiss-ivf", "32", "2.500 s", "0.9375"]
    assert cells[2] == ["25", "2", "1"]


def test_hostile_strings_are_escaped(tmp_path: Path, stub_plots: None) -> None:
    recs = _full_metrics() + [
        {"kind": "graph", "step": 30, "build_s": 1.0, "k": 8, "method": EVIL, "recall": 0.5}
    ]
    html = render_training_report(_run_dir(tmp_path, recs))
    assert EVIL not in html
    assert "<script" not in html.lower()
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;"
    assert html.count(escaped) >= 3  # summary mode, graph method, config text


def test_missing_metrics_gives_a_notice(tmp_path: Path, stub_plots: None) -> None:
    html = render_training_report(_run_dir(tmp_path, None))
    assert '<p class="notice">metrics.jsonl is missing' in html
    assert "data:image/png" not in html
    assert "No graph rebuilds logged" in html


def test_empty_metrics_and_missing_summary_give_notices(tmp_path: Path, stub_plots: None) -> None:
    run = _run_dir(tmp_path, [])
    (run / "summary.json").unlink()
    html = render_training_report(run)
    assert "metrics.jsonl holds no train or eval records" in html
    assert '<p class="notice">summary.json is missing' in html
    assert "data:image/png" not in html


def test_partial_metrics_plot_what_exists(tmp_path: Path, stub_plots: None) -> None:
    """A crashed run with train lines only (no eval, no memory field, a NaN loss) still gets its curves."""
    recs = [{k: v for k, v in _train(s).items() if k != "peak_mem_mb"} for s in range(10)]
    recs[4]["loss"] = float("nan")
    run = _run_dir(tmp_path, recs)
    (run / "summary.json").unlink()
    html = render_training_report(run)
    assert html.count("data:image/png;base64") == PLOTS - 2
    assert "No eval records" in html and "No train record carries peak_mem_mb" in html
    assert "1 step(s) logged a non-finite loss, the first at step 4" in html
    assert "The last logged training step is 9." in html


def test_malformed_lines_are_skipped_and_listed(tmp_path: Path, stub_plots: None) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps(_train(1)), "garbage", json.dumps([1, 2]), json.dumps({**_train(1), "loss": 9.0})]
    path.write_text("\n".join(lines) + '\n{"kind": "ev')
    m = load_metrics(path)
    assert m is not None
    assert m.bad_lines == [2, 3] and m.truncated_tail
    assert [r["loss"] for r in m.records["train"]] == [_train(1)["loss"], 9.0]
    html = render_training_report(_run_dir(tmp_path, None))
    assert "2 malformed" not in html
    (tmp_path / "run" / "metrics.jsonl").write_text(path.read_text())
    html = render_training_report(tmp_path / "run")
    assert "2 malformed line(s) in metrics.jsonl skipped: line 2, 3." in html


def test_relogged_step_after_resume_replaces_the_earlier_record(tmp_path: Path, stub_plots: None) -> None:
    """A resume re-logs the steps after its checkpoint: the later record is the one plotted and counted."""
    recs = [_train(s) for s in range(10)]
    recs[6]["loss"] = float("inf")
    recs += [{"kind": "resume", "step": 5, "from_world_size": 2, "world_size": 2}]
    recs += [_train(s) for s in range(5, 12)]
    html = render_training_report(_run_dir(tmp_path, recs))
    assert "non-finite loss" not in html
    recs.append({**_train(7), "loss": float("nan")})
    (tmp_path / "run" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert "1 step(s) logged a non-finite loss, the first at step 7" in render_training_report(
        tmp_path / "run"
    )


def test_missing_run_dir_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="output directory of a training run"):
        write_training_report(tmp_path / "nope")
