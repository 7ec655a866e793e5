"""LM-specific metrics: the device's peak FLOP/s, for MFU. The metrics log itself is ``opencook.kit.rundir``."""

from __future__ import annotations

import torch


def device_peak_flops(device: torch.device) -> float | None:
    """Dense bf16 peak of a known GPU (for MFU); ``None`` on CPU or an unknown card."""
    if device.type != "cuda":
        return None
    from opencook.lm.model import PEAK_FLOPS

    name = torch.cuda.get_device_name(device).lower()
    return next((peak for key, peak in PEAK_FLOPS.items() if key in name), None)
