"""A teacher on this machine: start ``opencook lm serve MODEL_DIR`` for the length of one command.

Synthetic-data commands talk to any OpenAI-compatible endpoint; ``--serve DIR`` saves a user (and the demo)
from starting and stopping a server by hand for a local model such as the imported SmolLM2.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def local_endpoint(model_dir: str | Path, timeout_s: float = 300.0) -> Iterator[str]:
    """Yield the ``.../v1`` base URL of a server for ``model_dir`` on a free localhost port; stop it on exit."""
    proc = subprocess.Popen([sys.executable, "-m", "opencook", "lm", "serve", str(model_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the server prints its URL first, once the model is loaded
        match = re.search(r"http://[\d.]+:\d+/v1", line)
        if not match:
            proc.kill()
            err = proc.stderr.read()[-2000:]
            raise RuntimeError(f"could not start a teacher server for {model_dir}: {err.strip() or line.strip()}")
        yield match.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
