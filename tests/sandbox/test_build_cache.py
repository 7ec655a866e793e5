"""The compile step: separate from the run, cached per program content hash, with its own timeout."""

from __future__ import annotations

import pytest

from opencook.sandbox import Limits, Program, run_programs
from opencook.sandbox.build import Builder
from opencook.sandbox.languages import language
from opencook.sandbox.runner import probe_isolation

pytestmark = pytest.mark.slow

SOURCE = "#include <cstdio>\nint main() { std::puts(\"built\"); }\n"


def test_a_program_compiles_once_and_the_artefact_is_reused(tmp_path):
    iso = probe_isolation()
    first = Builder(tmp_path, iso, ["cpp"]).build(SOURCE, language("cpp"), Limits(), slot=0)
    assert first.ok and not first.cached and (first.dir / "main").is_file()
    entries = list((tmp_path / "build" / "cpp").glob("*/*/build.json"))
    assert len(entries) == 1
    again = Builder(tmp_path, iso, ["cpp"]).build(SOURCE, language("cpp"), Limits(), slot=1)  # a new process
    assert again.ok and again.cached and again.dir == first.dir
    other = Builder(tmp_path, iso, ["cpp"]).build(SOURCE + "// changed\n", language("cpp"), Limits(), slot=0)
    assert other.ok and not other.cached and other.dir != first.dir


def test_cached_artefacts_run_and_identical_samples_compile_once(tmp_path):
    programs = [Program(f"s{i}", SOURCE, "cpp") for i in range(6)]
    outcomes = run_programs(programs, Limits(), workers=3, cache_dir=tmp_path)
    assert [o.id for o in outcomes] == [f"s{i}" for i in range(6)]  # input order
    assert all(o.passed and o.stdout == "built\n" for o in outcomes)
    assert len(list((tmp_path / "build" / "cpp").glob("*/*"))) == 1


def test_a_compile_error_is_reported_and_not_stored(tmp_path):
    builder = Builder(tmp_path, probe_isolation(), ["cpp"])
    result = builder.build("int main() { return nope; }\n", language("cpp"), Limits(), slot=0)
    assert not result.ok and result.kind == "syntax_error" and "nope" in result.stderr
    assert not list((tmp_path / "build" / "cpp").glob("*/*"))
    assert builder.build("int main() { return nope; }\n", language("cpp"), Limits(), slot=0).cached


def test_the_compile_has_its_own_timeout(tmp_path):
    (o,) = run_programs([Program("slow", SOURCE, "cpp")], Limits(timeout_s=5, compile_timeout_s=0.05), workers=1,
                        cache_dir=tmp_path)
    assert o.kind == "timeout" and "compile timed out" in o.stderr


def test_compile_limits_are_validated():
    with pytest.raises(ValueError, match="compile_timeout_s"):
        Limits(compile_timeout_s=0)
