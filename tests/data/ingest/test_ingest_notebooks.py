import json

import pytest
from ingest_fixtures import notebook

from opencook.data.ingest.notebooks import MalformedNotebook, notebook_to_text


def test_percent_format():
    text, lang = notebook_to_text(
        notebook([("markdown", "# Title\n\nSome prose"), ("code", "x = 1\nprint(x)")])
    )
    assert lang == "Python"
    assert text == "# %% [markdown]\n# # Title\n#\n# Some prose\n\n# %%\nx = 1\nprint(x)\n"


def test_outputs_and_empty_cells_are_dropped():
    nb = json.loads(notebook([("code", "a = 2"), ("code", "  \n")]))
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "text": ["SECRET OUTPUT"]}]
    text, _ = notebook_to_text(json.dumps(nb))
    assert "SECRET OUTPUT" not in text
    assert text.count("# %%") == 1


def test_kernel_language():
    assert notebook_to_text(notebook([("code", "x <- 1")], language="R"))[1] == "R"
    assert notebook_to_text(notebook([("code", "x = 1")], language=None))[1] == "Python"
    assert notebook_to_text(notebook([("code", "x")], language="brainfart"))[1] == "Jupyter Notebook"
    text, lang = notebook_to_text(notebook([("markdown", "hi"), ("code", "val x = 1")], language="scala"))
    assert lang == "Scala" and text.startswith("// %% [markdown]\n// hi")


def test_nbformat3():
    nb = {
        "nbformat": 3,
        "metadata": {},
        "worksheets": [{"cells": [{"cell_type": "code", "input": ["y = 3"]}]}],
    }
    assert notebook_to_text(json.dumps(nb)) == ("# %%\ny = 3\n", "Python")


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"cells": 5}', '{"cells": [1]}', '{"metadata": {}}'])
def test_malformed(raw):
    with pytest.raises(MalformedNotebook):
        notebook_to_text(raw)
