"""Chat-mode code extraction and completion-mode stop strings for every language the benchmarks use."""

from __future__ import annotations

import pytest

from opencook.evals.extract import FENCE_TAGS, extract_code, language_name, stop_strings, truncate_at_stop

CPP = "#include <vector>\nint add(int a, int b) {\n    return a + b;\n}\n"


@pytest.mark.parametrize("tag", ["cpp", "C++", "cc", ""])
def test_tagged_or_untagged_block(tag):
    reply = f"Here is the function:\n```{tag}\n{CPP}```\nIt adds two numbers."
    assert extract_code(reply, "cpp") == CPP


def test_the_block_for_the_language_wins_over_earlier_ones():
    reply = "Install:\n```bash\ng++ -O2 a.cpp\n```\nthen\n```\nplain\n```\n```cpp\n" + CPP + "```\n"
    assert extract_code(reply, "cpp") == CPP
    assert extract_code(reply, "bash") == "g++ -O2 a.cpp\n"
    assert extract_code(reply, "go") == "plain\n"  # no go block: the first untagged one
    assert extract_code("```java\nclass A {}\n```", "rust") == ""  # another language's block is never taken


def test_aliases_tildes_unclosed_and_no_fence():
    assert extract_code("~~~ts\nlet x: number = 1;\n~~~", "typescript") == "let x: number = 1;\n"
    assert extract_code("```js\nconsole.log(1)\n```", "javascript") == "console.log(1)\n"
    assert extract_code("```sh\necho hi\n```", "bash") == "echo hi\n"
    assert extract_code("```c#\nclass P {}\n```", "cs") == "class P {}\n"
    assert extract_code("```{.rust}\nfn f() {}\n```", "rs") == "fn f() {}\n"
    assert extract_code("```go\nfunc f() int {\n\treturn 1", "go") == "func f() int {\n\treturn 1"  # cut by max tokens
    assert extract_code("def f():\n    return 2\n", "python") == "def f():\n    return 2\n"  # no fence: whole reply
    assert extract_code("Sure! ```python\nx = 1\n```", "python") == "x = 1\n"  # fence opened mid-line


def test_stop_strings_cut_a_completion_where_the_function_ends():
    assert truncate_at_stop("  return a + b;\n}\n\nint main() {}", stop_strings("cpp")) == "  return a + b;"
    js = "  return a + b;\n}\nconsole.log(add(1, 2));"
    assert truncate_at_stop(js, stop_strings("js")) == "  return a + b;\n}"
    assert truncate_at_stop("    return 1\n\ndef g():\n", stop_strings("python")) == "    return 1\n"
    for name in FENCE_TAGS:
        assert stop_strings(name) and all(s.strip() for s in stop_strings(name)), name


def test_unknown_language_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown language 'cobol'.*javascript"):
        extract_code("```\nx\n```", "cobol")
    with pytest.raises(ValueError, match="unknown language"):
        stop_strings("cobol")
    assert language_name("C++") == "cpp" and language_name("JS") == "javascript"
