"""What produced a run: interpreter, platform and package versions."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

_PACKAGES = (
    "opencook", "pyarrow", "zstandard", "numpy", "regex", "pygments", "esprima", "beautifulsoup4",
    "matplotlib", "pyyaml", "tqdm", "torch", "ray", "faiss-cpu", "safetensors",
)


def collect_versions() -> dict[str, object]:
    """Versions that can change a run's output (e.g. Pygments decides comment spans)."""
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
    }
