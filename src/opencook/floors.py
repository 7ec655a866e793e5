"""The floors of the package, lowest first: a module may import its own top-level package and the
packages of lower floors, never a sibling on its own floor or anything above (``tests/test_architecture.py``
enforces it). ``docs/architecture.md`` says what each floor holds."""

FLOORS: tuple[tuple[str, ...], ...] = (
    ("kit", "floors"),
    ("tokenizer", "benchmarks", "sandbox", "completions"),
    ("data", "lm", "xc", "evals", "synth"),
    ("cli",),
    ("__main__",),
)
