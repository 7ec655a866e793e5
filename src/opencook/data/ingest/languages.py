"""File name -> GitHub Linguist language -> document type.

Detection looks at the *full* base name first ("Makefile", "CMakeLists.txt", ".bashrc"),
then at the last extension, lower-cased. (The OpenCoder reference looked up the file
*stem* first, so ``login.js`` or ``install.py`` could be mapped through a filename entry
like ``login``/``install``; matching the whole base name avoids that.) No content is read:
the language decides whether a file is worth reading at all.

Doc types follow RefineCode: ``code`` (programming and markup languages), ``data``
(configuration, serialisation, lock files), ``text`` (prose). ``excluded`` languages are
machine data with no value for a code model (CSV, SVG, meshes, g-code, keys, subtitles ...)
and are dropped by name (``excluded:<Language>``). Ambiguous extensions are resolved to the
most common language on GitHub (``.h`` -> C, ``.m`` -> Objective-C, ``.v`` -> Verilog,
``.pl`` -> Perl); each extension appears in exactly one row, checked at import.
"""

from __future__ import annotations

import os

UNKNOWN = "unknown"
DOC_TYPES = ("code", "data", "text", "excluded", "unknown")

# Language | doc type | extensions (no dot, lower-case) | exact file names
_TABLE = """
ABAP | code | abap |
ActionScript | code | as |
Ada | code | adb ads ada |
Agda | code | agda |
Alloy | code | als |
ANTLR | code | g4 |
ApacheConf | data | apacheconf vhost | .htaccess apache2.conf httpd.conf
Apex | code | trigger |
AppleScript | code | applescript scpt |
AsciiDoc | text | adoc asciidoc asc |
ASP.NET | code | aspx ascx asmx ashx asax axd |
Assembly | code | asm nasm a51 |
Astro | code | astro |
AutoHotkey | code | ahk |
AutoIt | code | au3 |
Awk | code | awk gawk |
Ballerina | code | bal |
Batchfile | code | bat cmd |
Bicep | code | bicep |
BibTeX | data | bib bibtex |
Bison | code | bison |
BitBake | code | bb bbappend bbclass |
Blade | code | blade |
BrighterScript | code | bs |
C | code | c h |
C# | code | cs csx cake |
C++ | code | cpp cc cxx c++ hpp hh hxx h++ ipp ino tpp inl tcc ixx cppm |
Cabal Config | data | cabal | cabal.project
Cairo | code | cairo |
Cap'n Proto | code | capnp |
Ceylon | code | ceylon |
Chapel | code | chpl |
Clojure | code | clj cljs cljc cljx boot |
CMake | code | cmake | CMakeLists.txt
COBOL | code | cob cbl cpy ccp cobol |
CODEOWNERS | data | | CODEOWNERS
CoffeeScript | code | coffee cson_ |
ColdFusion | code | cfm cfml |
ColdFusion CFC | code | cfc |
Common Lisp | code | lisp lsp cl asd |
Coq | code | coq |
Crystal | code | cr |
CSON | data | cson |
CSS | data | css |
Cuda | code | cu cuh |
CUE | code | cue |
Cython | code | pyx pxd pxi |
D | code | d di |
Dart | code | dart |
Dhall | code | dhall |
Diff | code | diff patch |
Dockerfile | code | dockerfile containerfile | Dockerfile Containerfile dockerfile
Dotenv | data | env | .env .env.example .env.local .env.sample
EditorConfig | data | editorconfig | .editorconfig
edn | data | edn |
Eiffel | code | e |
EJS | code | ejs |
Elixir | code | ex exs |
Elm | code | elm |
Emacs Lisp | code | el | .emacs _emacs
Erlang | code | erl hrl escript | rebar.config
F# | code | fs fsi fsx |
Fennel | code | fnl |
Fish | code | fish |
Forth | code | fth 4th forth |
Fortran | code | f f77 for fpp |
Fortran Free Form | code | f90 f95 f03 f08 |
FreeMarker | code | ftl |
GAP | code | gap gd gi |
GDScript | code | gdscript |
Gemfile.lock | data | | Gemfile.lock
Gettext Catalog | text | po pot |
Gherkin | code | feature |
Git Attributes | data | gitattributes | .gitattributes
Git Config | data | gitconfig | .gitconfig .gitmodules
Gleam | code | gleam |
GLSL | code | glsl vert frag geom comp tesc tese vsh fsh shader |
Gnuplot | code | gp gnuplot plt |
Go | code | go |
Go Checksums | data | | go.sum
Go Module | data | | go.mod
Go Workspace | data | | go.work
Godot Resource | data | tres tscn godot |
Gradle | data | gradle |
GraphQL | data | graphql gql graphqls |
Graphviz (DOT) | data | dot gv |
Groovy | code | groovy gvy gy gsh | Jenkinsfile
Groovy Server Pages | code | gsp |
Hack | code | hack hhi |
Haml | code | haml |
Handlebars | code | hbs handlebars |
Haskell | code | hs hsc hs-boot |
Haxe | code | hx hxsl |
HCL | code | hcl tf tfvars nomad workflow |
HLSL | code | hlsl fx fxh hlsli |
HTML | code | html htm xhtml xht inc_html_ |
HTML+ERB | code | erb rhtml |
HTML+Razor | code | cshtml razor |
Idris | code | idr lidr |
Ignore List | data | gitignore dockerignore npmignore eslintignore prettierignore | .gitignore
Ignore List | data | | .dockerignore .npmignore .eslintignore .prettierignore .hgignore
INI | data | ini cfg cnf prefs lektorproject | .flake8 .pylintrc .coveragerc setup.cfg tox.ini .npmrc_ini_
Inno Setup | code | iss |
Isabelle | code | thy |
Java | code | java jav |
Java Properties | data | properties |
Java Server Pages | code | jsp jspf tag |
JavaScript | code | js jsx mjs cjs es6 jsm jslib pac | Jakefile
Jinja | code | j2 jinja jinja2 |
JSON | data | json geojson topojson webmanifest har avsc mcmeta | .arcconfig composer.lock
JSON | data | | Pipfile.lock .watchmanconfig
JSON with Comments | data | jsonc code-workspace sublime-settings sublime-project | tsconfig.json
JSON with Comments | data | | jsconfig.json .babelrc .eslintrc.json .jshintrc devcontainer.json
JSON with Comments | data | | .swcrc
JSON5 | data | json5 |
JSONLD | data | jsonld |
Jsonnet | code | jsonnet libsonnet |
Julia | code | jl |
Jupyter Notebook | code | ipynb |
Just | code | just | Justfile justfile .justfile
Kotlin | code | kt kts ktm |
Lean | code | lean |
Less | code | less |
Lex | code | l lex flex |
Linker Script | data | ld lds |
Liquid | code | liquid |
Literate Haskell | code | lhs |
LiveScript | code | ls |
LLVM | code | ll |
Lua | code | lua rockspec luau_ | .luacheckrc
M4 | code | m4 |
Makefile | code | mk mak make mkfile | Makefile makefile GNUmakefile Kbuild BSDmakefile
Mako | code | mako mao |
Markdown | text | md markdown mdown mkd mkdn mdwn mkdown ronn workbook | contents.lr
MATLAB | code | matlab |
Mathematica | code | wl wls nb mt wlt mathematica |
Maven POM | data | | pom.xml
MDX | text | mdx |
Mermaid | code | mmd mermaid |
Meson | code | | meson.build meson_options.txt meson.options
Modelica | code | mo |
Mojo | code | mojo |
Motoko | code | mo_ |
Move | code | move |
Mustache | code | mustache |
Nginx | data | nginx nginxconf | nginx.conf
Nim | code | nim nims nimble |
Ninja | data | ninja |
Nix | code | nix |
NSIS | code | nsi nsh |
Nunjucks | code | njk nunjucks |
Objective-C | code | m |
Objective-C++ | code | mm |
OCaml | code | ml mli mll mly eliom |
Odin | code | odin |
OpenCL | code | opencl clh |
OpenSCAD | code | scad |
Org | text | org |
Pascal | code | pas pp dpr lpr dfm |
Perl | code | pl pm t pod_ psgi cgi fcgi | cpanfile Makefile.PL
PHP | code | php phtml php3 php4 php5 phps phpt | .php_cs .php-cs-fixer.php
Pip Requirements | data | | requirements.txt requirements-dev.txt requirements-test.txt constraints.txt
PLpgSQL | code | pgsql plpgsql |
PLSQL | code | pls pck pkb pks plb plsql |
Pod | text | pod |
PostScript | code | ps eps epsf epsi |
PowerShell | code | ps1 psm1 psd1 ps1xml |
Prisma | data | prisma |
Procfile | code | | Procfile
Processing | code | pde |
Prolog | code | pro prolog yap |
Protocol Buffer | data | proto |
Protocol Buffer Text Format | data | textproto pbtxt txtpb |
Pug | code | pug jade |
Puppet | code | pp_ | Modulefile
PureScript | code | purs |
Python | code | py pyw pyi gyp gypi wsgi xpy rpy_ | SConstruct SConscript .pythonrc .gclient wscript
Q# | code | qs |
QML | code | qml qbs |
QMake | code | | .qmake
R | code | r rd rsx | .Rprofile
Racket | code | rkt rktd rktl scrbl |
Raku | code | raku rakumod p6 pl6 pm6 nqp |
RBS | data | rbs |
RDoc | text | rdoc |
Reason | code | re rei |
ReScript | code | res resi |
reStructuredText | text | rst rest |
Rich Text Format | text | rtf |
Ren'Py | code | rpy |
RMarkdown | text | rmd qmd |
Roff | text | roff man 1 2 3 4 5 6 7 8 9 me ms nr mdoc tmac |
RPM Spec | data | spec |
Ruby | code | rb rbw rake gemspec rbx ru podspec jbuilder rabl thor builder | Rakefile Gemfile
Ruby | code | | Vagrantfile Podfile Guardfile Capfile Brewfile Fastfile Appfile Berksfile
Ruby | code | | Dangerfile .irbrc .pryrc Thorfile
Rust | code | rs |
SAS | code | sas |
Sass | code | sass |
Scala | code | scala sc sbt |
Scheme | code | scm ss sld sls sps |
SCSS | data | scss |
Sed | code | sed |
Shell | code | sh bash zsh ksh bats command tmux tool zsh-theme ebuild_ eclass_ | .bashrc
Shell | code | | .bash_profile .bash_logout .bash_aliases .zshrc .zshenv .zprofile .zlogin .zlogout
Shell | code | | .profile .kshrc PKGBUILD gradlew configure
ShellSession | code | sh-session |
Smali | code | smali |
Smalltalk | code | st |
Smarty | code | tpl smarty |
Snakemake | code | smk snakefile | Snakefile
Solidity | code | sol |
SPARQL | data | sparql rq |
SQL | code | sql cql ddl udf viw prc db2 |
SQLPL | code | db2_ |
SSH Config | data | | ssh_config sshd_config .ssh_config
Stan | code | stan |
Standard ML | code | sml sig fun |
Starlark | code | bzl star bazel | BUILD BUILD.bazel WORKSPACE WORKSPACE.bazel BUCK Tiltfile MODULE.bazel
Stata | code | do ado doh ihlp mata matah sthlp |
Stylus | code | styl |
SuperCollider | code | scd |
Svelte | code | svelte |
Swift | code | swift |
SystemVerilog | code | sv svh vh |
Tcl | code | tcl tm itk exp_ tk |
Tcsh | code | tcsh csh |
TeX | text | tex sty cls ltx dtx ins bbx cbx lbx toc_ |
Text | text | txt text fr_ nfo | README LICENSE LICENCE COPYING COPYRIGHT AUTHORS CONTRIBUTORS
Text | text | | CHANGELOG CHANGES NEWS NOTICE INSTALL THANKS TODO HISTORY README.txt_
Textile | text | textile |
Thrift | code | thrift |
TOML | data | toml | Cargo.lock Pipfile poetry.lock Gopkg.lock pdm.lock uv.lock
TSQL | code | tsql_ |
TSX | code | tsx |
Twig | code | twig |
TypeScript | code | ts cts mts |
Typst | code | typ |
Unix Assembly | code | s ms_ |
UnrealScript | code | uc |
V | code | vv_ |
Vala | code | vala vapi |
VBA | code | bas vba |
VBScript | code | vbs |
Velocity Template Language | code | vtl vm |
Verilog | code | v veo |
VHDL | code | vhd vhdl vhf vhi vho vhs vht vhw |
Vim Script | code | vim vimrc vmb | .vimrc _vimrc .gvimrc .exrc vimrc gvimrc
Visual Basic .NET | code | vb vbhtml |
Vue | code | vue |
WebAssembly | code | wat wast |
WebIDL | code | webidl |
WGSL | code | wgsl |
Windows Registry Entries | data | reg |
XML | data | xml xsd wsdl csproj vcxproj vbproj fsproj sln_ props targets nuspec resx xaml xib |
XML | data | storyboard kml gpx rss atom xlf xliff wxs wxi wxl iml plist_ ivy launch pom_ axml |
XML | data | config_ ui glade csl xul zcml tmx_ | .classpath .project packages.config Web.config
XML | data | | App.config
XML Property List | data | plist |
XQuery | code | xq xql xqm xquery xqy |
XSLT | code | xsl xslt |
Xonsh | code | xsh |
YAML | data | yml yaml mir reek rviz syntax yaml-tmlanguage | .clang-format .clang-tidy .gemrc
YAML | data | | CITATION.cff .clangd glide.lock pixi.lock yarn.lock_
YANG | data | yang |
Yacc | code | y yacc yy |
Zig | code | zig zon |
Microsoft Visual Studio Solution | data | sln |
Crontab | data | | crontab
Hosts File | data | | hosts
Checksums | excluded | sha256 sha256sum sha1 md5 md5sum sha512 | SHA256SUMS MD5SUMS SHASUMS256.txt
CSV | excluded | csv |
TSV | excluded | tsv tab |
SVG | excluded | svg |
Pickle | excluded | pkl pickle |
STL | excluded | stl |
Public Key | excluded | pub gpg pem_ key_ |
robots.txt | excluded | | robots.txt
G-code | excluded | gcode gco g nc_ |
KiCad Layout | excluded | kicad_pcb kicad_mod kicad_wks |
KiCad Legacy Layout | excluded | brd |
KiCad Schematic | excluded | kicad_sch sch |
WebVTT | excluded | vtt webvtt |
SubRip Text | excluded | srt |
Wavefront Object | excluded | obj |
Wavefront Material | excluded | mtl |
Gerber Image | excluded | gbr gbl gtl gbo gto gbs gts gbp gtp gko gml |
X PixMap | excluded | xpm pm_ |
X BitMap | excluded | xbm |
Adobe Font Metrics | excluded | afm |
Glyph Bitmap Distribution Format | excluded | bdf |
Spline Font Database | excluded | sfd |
Raw token data | excluded | raw |
Jest Snapshot | excluded | snap |
"""


def _parse(table: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Build (language -> doc type, ext -> language, filename -> language).

    A language may span several rows (long lists). A token ending in ``_`` is a
    deliberately disabled alternative (kept to document an ambiguity resolved elsewhere).
    A repeated extension or file name is a bug in the table, so it fails at import instead
    of silently depending on row order.
    """
    doc_types: dict[str, str] = {}
    by_ext: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for line in table.strip().splitlines():
        lang, doc_type, exts, names = (part.strip() for part in line.split("|"))
        if doc_type not in DOC_TYPES or doc_types.get(lang, doc_type) != doc_type:
            raise ValueError(f"languages table: bad row {line!r}")
        doc_types[lang] = doc_type
        for key, target in ((exts, by_ext), (names, by_name)):
            for token in key.split():
                if token.endswith("_"):
                    continue
                if token in target:
                    raise ValueError(f"languages table: {token!r} is listed for {target[token]} and {lang}")
                target[token] = lang
    return doc_types, by_ext, by_name


DOC_TYPE, EXTENSIONS, FILENAMES = _parse(_TABLE)
_LOWER = {name.lower(): name for name in DOC_TYPE}
_ALIASES = {
    "cpp": "C++",
    "c-sharp": "C#",
    "csharp": "C#",
    "js": "JavaScript",
    "ts": "TypeScript",
    "golang": "Go",
    "bash": "Shell",
    "sh": "Shell",
    "shell script": "Shell",
    "jupyter": "Jupyter Notebook",
    "ipython": "Python",
    "python3": "Python",
    "md": "Markdown",
    "plain text": "Text",
    "yml": "YAML",
    "objective-c++": "Objective-C++",
    "visual basic": "Visual Basic .NET",
    "dockerfile": "Dockerfile",
    "tex": "TeX",
    "latex": "TeX",
}


def detect_language(filename: str) -> str:
    """Linguist language of a file from its name alone, or ``"unknown"``.

    ``filename`` may be a path; only its base name is used.
    """
    name = os.path.basename(filename)
    lang = FILENAMES.get(name)
    if lang is not None:
        return lang
    dot = name.rfind(".")
    if dot <= 0:  # no extension, or a dotfile such as ".bashrc" not in the filename table
        return UNKNOWN
    return EXTENSIONS.get(name[dot + 1 :].lower(), UNKNOWN)


def doc_type_for(language: str) -> str:
    """``"code" | "data" | "text" | "excluded"`` for a known language, else ``"unknown"``."""
    return DOC_TYPE.get(language, UNKNOWN)


def canonical_language(name: str | None) -> str | None:
    """Map a language label from an external dataset ("python", "cpp") to a table name.

    Returns ``None`` when the label is empty or not one we know, so the caller can fall
    back to detecting from the file name.
    """
    if not name:
        return None
    if name in DOC_TYPE:
        return name
    key = name.strip().lower()
    return _LOWER.get(key) or _ALIASES.get(key)
