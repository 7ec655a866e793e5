from opencook.data.ingest import detect_language, doc_type_for
from opencook.data.ingest.languages import DOC_TYPE, EXTENSIONS, FILENAMES, canonical_language


def test_full_base_name_wins_over_extension():
    assert detect_language("CMakeLists.txt") == "CMake"
    assert detect_language("notes.txt") == "Text"
    assert detect_language("src/Makefile") == "Makefile"
    assert detect_language("Dockerfile") == "Dockerfile"
    assert detect_language(".bashrc") == "Shell"


def test_stem_is_not_looked_up_as_a_filename():
    # The reference looked up the stem: "login" / "Makefile" stems must not decide the language.
    assert detect_language("login.js") == "JavaScript"
    assert detect_language("Makefile.py") == "Python"
    assert detect_language("Dockerfile.md") == "Markdown"


def test_common_extensions():
    expected = {
        "a.py": "Python",
        "a.h": "C",
        "a.c": "C",
        "a.cc": "C++",
        "a.HPP": "C++",
        "a.cs": "C#",
        "a.ts": "TypeScript",
        "a.jsx": "JavaScript",
        "a.go": "Go",
        "a.rs": "Rust",
        "a.sh": "Shell",
        "a.md": "Markdown",
        "a.json": "JSON",
        "a.yml": "YAML",
        "a.ipynb": "Jupyter Notebook",
        "a.sql": "SQL",
    }
    assert {f: detect_language(f) for f in expected} == expected


def test_unknown_names():
    assert detect_language("LICENSE.unknownext") == "unknown"
    assert detect_language("noextension") == "unknown"
    assert detect_language(".hiddenthing") == "unknown"
    assert doc_type_for("unknown") == "unknown"
    assert doc_type_for("NotALanguage") == "unknown"


def test_doc_types():
    assert doc_type_for("Python") == "code"
    assert doc_type_for("JSON") == "data"
    assert doc_type_for("Markdown") == "text"
    for lang in ("CSV", "TSV", "SVG", "Pickle", "STL", "Public Key", "robots.txt", "G-code", "WebVTT"):
        assert doc_type_for(lang) == "excluded", lang
    assert detect_language("robots.txt") == "robots.txt"
    assert detect_language("board.kicad_pcb").startswith("KiCad")


def test_table_is_broad_and_consistent():
    assert len(DOC_TYPE) >= 250
    assert set(EXTENSIONS.values()) <= set(DOC_TYPE)
    assert set(FILENAMES.values()) <= set(DOC_TYPE)
    assert all(ext == ext.lower() and not ext.startswith(".") for ext in EXTENSIONS)


def test_canonical_language_for_external_labels():
    assert canonical_language("python") == "Python"
    assert canonical_language("cpp") == "C++"
    assert canonical_language("Jupyter Notebook") == "Jupyter Notebook"
    assert canonical_language("klingon") is None
    assert canonical_language(None) is None
