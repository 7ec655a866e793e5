"""Measured peak tensor memory on any device, including CPU (where torch keeps no allocator statistics).

``PeakTensorMemory`` is a dispatch mode that sees every tensor an operator creates, forward and backward,
and counts the bytes of each distinct storage while it is alive (a weak reference says when it dies). Tensors
made before the mode was entered (parameters) are added with ``track``. It is what ``opencook lm plan`` is
validated against: real training steps, measured, not the plan's own formula.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class PeakTensorMemory(TorchDispatchMode):
    """``with PeakTensorMemory() as m: ...`` then ``m.peak`` (bytes) and ``m.live`` (bytes still held)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: dict[int, weakref.ref] = {}

    def reset_peak(self) -> None:
        self.peak = self.live

    def track(self, tensors: Iterable[torch.Tensor]) -> None:
        """Count tensors that already exist (parameters, optimizer state made outside the mode)."""
        for t in tensors:
            self._add(t)

    def _add(self, t: object) -> None:
        if not isinstance(t, torch.Tensor) or t.device.type == "meta":
            return
        try:
            st = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return
        key = st._cdata
        if key in self._refs or st.nbytes() == 0:
            return
        size = st.nbytes()

        def _dead(_: object, key: int = key, size: int = size) -> None:
            if self._refs.pop(key, None) is not None:
                self.live -= size

        self._refs[key] = weakref.ref(st, _dead)
        self.live += size
        self.peak = max(self.peak, self.live)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            self._add(t)
        return out
