"""Copyright-header removal: only the leading notice goes; code and later comments stay."""

from __future__ import annotations

import pytest

from opencook.data.transform.copyright import looks_like_notice, remove_copyright_header

MIT = "Copyright (c) 2021 Jane Roe\n\nPermission is hereby granted, free of charge, to any person"


def test_python_hash_header_after_shebang_and_encoding() -> None:
    src = (
        "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n# Copyright 2020 Foo Inc.\n"
        "# Licensed under the Apache License, Version 2.0\n\n\"\"\"Tool.\"\"\"\nimport os\n"
    )
    assert remove_copyright_header(src, "Python") == (
        "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n\"\"\"Tool.\"\"\"\nimport os\n"
    )


def test_python_licence_docstring_removed_but_plain_docstring_kept() -> None:
    assert remove_copyright_header(f'"""\n{MIT}\n"""\nx = 1\n', "Python") == "x = 1\n"
    plain = '"""Parse copyright strings found in PDF metadata."""\nx = 1\n'
    assert remove_copyright_header(plain, "Python") == plain


def test_c_block_comment_and_later_comments_untouched() -> None:
    src = "/*\n * Copyright (C) 2010 Acme\n * All rights reserved.\n */\n\n#include <stdio.h>\n/* Copyright 2020 X */\n"
    assert remove_copyright_header(src, "C") == "#include <stdio.h>\n/* Copyright 2020 X */\n"


def test_go_build_tag_after_header_survives() -> None:
    src = "// Copyright 2019 The Go Authors. All rights reserved.\n// Use of this source code...\n\n//go:build linux\n\npackage x\n"
    assert remove_copyright_header(src, "Go") == "//go:build linux\n\npackage x\n"


def test_non_notice_block_kept_and_notice_after_it_removed() -> None:
    src = "// utils.js - helpers\n\n// SPDX-License-Identifier: MIT\n\nexport const a = 1;\n"
    assert remove_copyright_header(src, "JavaScript") == "// utils.js - helpers\n\nexport const a = 1;\n"


@pytest.mark.parametrize(
    ("language", "src", "expected"),
    [
        ("HTML", "<!DOCTYPE html>\n<!-- Copyright 2020 Foo -->\n<html></html>\n", "<!DOCTYPE html>\n<html></html>\n"),
        ("SQL", "-- Copyright (c) 2018 Foo\n-- Licensed under MIT\nSELECT 1;\n", "SELECT 1;\n"),
        ("Shell", "#!/bin/sh\n# Copyright 2001 Bob\nls\n", "#!/bin/sh\nls\n"),
        ("Emacs Lisp", ";;; Copyright (C) 2009 FSF\n(defun f ())\n", "(defun f ())\n"),
        ("TeX", "% Copyright 2015 Ann\n\\documentclass{article}\n", "\\documentclass{article}\n"),
        ("PHP", "<?php\n/**\n * @copyright 2014 X\n * Copyright 2014 X\n */\necho 1;\n", "<?php\necho 1;\n"),
    ],
)
def test_comment_syntaxes(language: str, src: str, expected: str) -> None:
    assert remove_copyright_header(src, language) == expected


def test_code_before_comment_stops_the_walk() -> None:
    src = "import os\n# Copyright 2020 Foo\n"
    assert remove_copyright_header(src, "Python") == src


def test_unknown_language_and_unterminated_block_untouched() -> None:
    assert remove_copyright_header("# Copyright 2020 X\nfoo\n", "unknown") == "# Copyright 2020 X\nfoo\n"
    src = "/* Copyright 2020 X\nint main() {}\n"
    assert remove_copyright_header(src, "C") == src


def test_notice_detection_negatives() -> None:
    assert looks_like_notice("Copyright 2020 Foo")
    assert looks_like_notice("(c) 2019 someone")
    assert not looks_like_notice("handles copyright strings")
    assert not looks_like_notice("options (a), (b), (c) are valid")
