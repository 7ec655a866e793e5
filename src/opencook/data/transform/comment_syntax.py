"""Comment syntax per GitHub Linguist language, for finding a file's leading header comment.

Only languages listed here get their header touched: for an unknown language we cannot tell a
comment from code, and leaving a licence header in costs far less than deleting code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommentSyntax:
    line: tuple[str, ...] = ()
    block: tuple[tuple[str, str], ...] = ()
    docstring: bool = False  # Python: a module docstring may hold the notice


_C = CommentSyntax(line=("//",), block=(("/*", "*/"),))
_HASH = CommentSyntax(line=("#",))
_SQL = CommentSyntax(line=("--",), block=(("/*", "*/"),))
_LISP = CommentSyntax(line=(";",), block=(("#|", "|#"),))
_MARKUP = CommentSyntax(block=(("<!--", "-->"),))
_ML = CommentSyntax(block=(("(*", "*)"),))

_TABLE: dict[str, CommentSyntax] = {
    "Python": CommentSyntax(line=("#",), docstring=True),
    "Cython": CommentSyntax(line=("#",), docstring=True),
    "Starlark": _HASH,
    **dict.fromkeys(
        [
            "C", "C++", "C#", "Java", "JavaScript", "TypeScript", "TSX", "Go", "Rust", "Swift", "Kotlin",
            "Scala", "Objective-C", "Objective-C++", "Dart", "Groovy", "Cuda", "Protocol Buffer", "Solidity",
            "D", "GLSL", "HLSL", "Verilog", "SystemVerilog", "Less", "SCSS", "Apex", "Processing",
            "OpenCL", "Metal", "Haxe", "ActionScript", "Ballerina", "JSON with Comments", "Hack", "V",
            "Vala", "Zig", "Gradle", "Jsonnet", "Thrift", "Smali", "Stylus", "Chapel", "Pawn", "Ceylon",
            "Gosu", "Xtend", "AngelScript", "Squirrel", "UnrealScript", "QML", "Mojo", "WGSL",
        ],
        _C,
    ),
    "CSS": CommentSyntax(block=(("/*", "*/"),)),
    "PHP": CommentSyntax(line=("//", "#"), block=(("/*", "*/"),)),
    "F#": CommentSyntax(line=("//",), block=(("(*", "*)"),)),
    **dict.fromkeys(
        [
            "Shell", "Ruby", "Perl", "R", "YAML", "TOML", "Makefile", "Dockerfile", "CMake", "Nim",
            "Julia", "Elixir", "Crystal", "Tcl", "CoffeeScript", "GraphQL", "Raku", "Awk", "Nix", "HCL",
            "Terraform", "Puppet", "Fish", "Zsh", "Bash", "Meson", "Gnuplot", "Git Config", "Dotenv",
            "Ignore List", "Python traceback", "Jupyter Notebook", "Snakemake", "Bicep", "Pod",
        ],
        _HASH,
    ),
    "PowerShell": CommentSyntax(line=("#",), block=(("<#", "#>"),)),
    **dict.fromkeys(["SQL", "PLSQL", "TSQL", "PLpgSQL", "SQLPL"], _SQL),
    "Haskell": CommentSyntax(line=("--",), block=(("{-", "-}"),)),
    "Elm": CommentSyntax(line=("--",), block=(("{-", "-}"),)),
    "PureScript": CommentSyntax(line=("--",), block=(("{-", "-}"),)),
    "Idris": CommentSyntax(line=("--",), block=(("{-", "-}"),)),
    "Agda": CommentSyntax(line=("--",), block=(("{-", "-}"),)),
    "Lua": CommentSyntax(line=("--",), block=(("--[[", "]]"),)),
    "Ada": CommentSyntax(line=("--",)),
    "VHDL": CommentSyntax(line=("--",)),
    **dict.fromkeys(["Common Lisp", "Emacs Lisp", "Clojure", "Scheme", "Racket", "Fennel", "NewLisp"], _LISP),
    **dict.fromkeys(["Assembly", "Unix Assembly", "LLVM", "AutoHotkey", "INI"], CommentSyntax(line=(";",))),
    **dict.fromkeys(["TeX", "Erlang", "PostScript", "BibTeX", "Mercury"], CommentSyntax(line=("%",))),
    "MATLAB": CommentSyntax(line=("%",), block=(("%{", "%}"),)),
    "Prolog": CommentSyntax(line=("%",), block=(("/*", "*/"),)),
    **dict.fromkeys(
        ["HTML", "XML", "Markdown", "Vue", "Svelte", "XSLT", "HTML+ERB", "HTML+PHP", "Astro", "Handlebars"],
        _MARKUP,
    ),
    **dict.fromkeys(["OCaml", "Standard ML", "Coq", "Mathematica", "Wolfram Language"], _ML),
    "Pascal": CommentSyntax(line=("//",), block=(("{", "}"), ("(*", "*)"))),
    **dict.fromkeys(["Visual Basic .NET", "VBA", "VBScript"], CommentSyntax(line=("'",))),
    **dict.fromkeys(["Fortran", "Fortran Free Form"], CommentSyntax(line=("!",))),
}


def comment_syntax(language: str) -> CommentSyntax | None:
    """The comment syntax of a Linguist language, or ``None`` when we do not know it."""
    return _TABLE.get(language)
