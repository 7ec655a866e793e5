"""Training metrics, named for what people read: loss, lr, tokens/s per device, MFU, memory.

Every step goes to ``metrics.jsonl`` (the report and the resume tests read it); every ``log_every``
steps also to TensorBoard when it is installed. Only rank 0 writes.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

import torch


def peak_memory_mib(device: torch.device) -> float:
    """Peak allocated GPU memory, or the process's peak resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def device_peak_flops(device: torch.device) -> float | None:
    """Dense bf16 peak of a known GPU (for MFU); ``None`` on CPU or an unknown card."""
    if device.type != "cuda":
        return None
    from opencook.lm.model import PEAK_FLOPS

    name = torch.cuda.get_device_name(device).lower()
    return next((peak for key, peak in PEAK_FLOPS.items() if key in name), None)


def truncate_after(path: Path, step: int) -> None:
    """Drop records past ``step`` (written by a run that crashed after its last checkpoint), so a resumed run's
    file reads as if it had never stopped."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line from the crash
        if isinstance(rec, dict) and rec.get("step", 0) <= step:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept))


class MetricsWriter:
    """Appends JSON lines; mirrors scalars to TensorBoard (``tb/``) if ``tensorboard`` is importable."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool) -> None:
        self.enabled = enabled
        self.path = out / "metrics.jsonl"
        self._file = self.path.open("a", encoding="utf-8") if enabled else None
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                print("lm: tensorboard is not installed; metrics go to metrics.jsonl only", file=sys.stderr)
            else:
                self._tb = SummaryWriter(str(out / "tb"))

    def write(self, record: dict[str, Any], to_tensorboard: bool = True) -> None:
        if not self.enabled:
            return
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None and to_tensorboard:
            step = record.get("step", 0)
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                    self._tb.add_scalar(f"{record.get('kind', 'train')}/{key}", value, step)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()
