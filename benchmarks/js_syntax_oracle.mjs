// Ground truth for "does this file parse": Node's own V8 parser. Reads one path per stdin line and
// prints "ok" or "error" per path: a CommonJS function body first (top-level return is legal
// there), then an ES module. Used by benchmarks/filter_js.py.
import fs from "node:fs";
import vm from "node:vm";

const paths = fs.readFileSync(0, "utf8").split("\n").filter(Boolean);
for (const p of paths) {
  const src = fs.readFileSync(p, "utf8").replace(/^#!.*/, "");
  let ok = true;
  try {
    vm.compileFunction(src, ["exports", "require", "module", "__filename", "__dirname"]);
  } catch {
    try {
      new vm.SourceTextModule(src);
    } catch {
      ok = false;
    }
  }
  console.log(ok ? "ok" : "error");
}
