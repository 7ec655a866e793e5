"""Fixed mode parses JavaScript with tree-sitter; reference mode keeps esprima (ES2017 at most)."""

import json
import random
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from opencook.cli import main
from opencook.data.filter.comments import split_pygments
from opencook.data.filter.evaluate import evaluate
from opencook.data.filter.lang_signals import javascript, javascript_ts

CATE_AST = "qsc_codejavascript_cate_ast"
ORACLE = Path(__file__).resolve().parents[3] / "benchmarks" / "js_syntax_oracle.mjs"

MODERN = """\
import { readFile } from "node:fs/promises";

export class Cache {
  #entries = new Map();
  static created = 0;

  async *values() {
    for await (const [key, value] of this.#entries) {
      yield value?.payload ?? key;
    }
  }

  get size() {
    return this.#entries.size;
  }
}

export async function load(path) {
  const { default: data = {} } = await import(path);
  const text = await readFile(path, "utf8").catch(() => "");
  return { ...data, text, lines: text.split("\\n").at(-1) };
}
"""

BROKEN = "function f(a, b) {\n  return a +;\n}\n"

FLOW = """\
// @flow
type Point = { x: number, y: number };

function norm(p: Point): number {
  return Math.sqrt(p.x * p.x + p.y * p.y);
}

module.exports = norm;
"""


def _verdict(text, compat, name="m.js"):
    return evaluate(text, name, "js", "javascript", "code", random.Random(0), compat=compat)


def test_modern_syntax_parses_in_fixed_mode_only():
    fixed, reference = _verdict(MODERN, "fixed"), _verdict(MODERN, "reference")
    assert fixed.signals[CATE_AST] == 1.0 and CATE_AST not in fixed.hits
    assert reference.signals[CATE_AST] == 0.0 and CATE_AST in reference.hits


def test_broken_file_is_unparseable_in_both_modes():
    assert _verdict(BROKEN, "fixed").signals[CATE_AST] == 0.0
    assert _verdict(BROKEN, "reference").signals[CATE_AST] == 0.0


def test_type_annotations_in_a_js_file_parse_in_fixed_mode():
    assert _verdict(FLOW, "fixed").signals[CATE_AST] == 1.0
    assert _verdict(FLOW, "reference").signals[CATE_AST] == 0.0


def test_modern_file_counts_declarations_functions_and_classes():
    facts = javascript._Facts()
    javascript_ts.collect(javascript_ts.parse(MODERN), facts)
    assert sorted(facts.functions) == ["load"]
    assert facts.classes == ["Cache"]
    assert facts.imports == 1
    assert sorted(facts.variables) == ["text"]  # a destructuring pattern has no single name


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_agrees_on_what_parses(tmp_path):
    paths = []
    for i, text in enumerate((MODERN, BROKEN)):
        paths.append(tmp_path / f"f{i}.mjs")
        paths[-1].write_text(text)
    out = subprocess.run(["node", "--experimental-vm-modules", "--no-warnings", str(ORACLE)], check=True,
                         input="\n".join(map(str, paths)) + "\n", capture_output=True, text=True).stdout.split()
    assert out == ["ok", "error"]
    assert [javascript_ts.parse(p.read_text()) is not None for p in paths] == [True, False]


def test_signals_and_comments_match_esprima_and_pygments_on_conformance_files(conformance_dir):
    files = sorted((conformance_dir / "files" / "javascript").glob("*.js"))
    assert files
    compared = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        split = javascript_ts.split(text)
        assert split is not None, path.name
        assert split == split_pygments("javascript", text), path.name
        ref = javascript.compute(text, "reference")
        if ref[CATE_AST] != 1.0:
            continue
        fixed = javascript.compute(text, "fixed")
        for key, value in ref.items():
            assert fixed[key] == pytest.approx(value, abs=1e-6), (path.name, key)
        compared += 1
    assert compared >= 5


def test_cli_takes_compat(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "cache.js").write_text(MODERN)
    kept = {}
    for mode in ("fixed", "reference"):
        assert main(["data", "filter", str(src), "--out", str(tmp_path / mode), "--compat", mode]) == 0
        [row] = pq.read_table(tmp_path / mode / "filter_results.parquet").to_pylist()
        kept[mode] = json.loads(row["signals"])[CATE_AST]
    assert kept == {"fixed": 1.0, "reference": 0.0}
