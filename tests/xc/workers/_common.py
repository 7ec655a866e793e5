"""Shared by worker scripts launched under torchrun: init gloo, report JSON per rank."""

import json
import os

import torch.distributed as dist


def init() -> tuple[int, int]:
    dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def report(payload: dict) -> None:
    rank = dist.get_rank() if dist.is_initialized() else 0
    with open(os.path.join(os.environ["XC_OUT"], f"rank{rank}.json"), "w") as f:
        json.dump(payload, f)
