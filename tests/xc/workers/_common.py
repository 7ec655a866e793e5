"""Shared by worker scripts launched under torchrun: init gloo, report JSON per rank."""

import atexit
import json
import os

import torch.distributed as dist

from opencook.kit.dist import shutdown_distributed


def init() -> tuple[int, int]:
    dist.init_process_group("gloo")
    atexit.register(shutdown_distributed)
    return dist.get_rank(), dist.get_world_size()


def report(payload: dict) -> None:
    rank = dist.get_rank() if dist.is_initialized() else 0
    with open(os.path.join(os.environ["XC_OUT"], f"rank{rank}.json"), "w") as f:
        json.dump(payload, f)
