"""Shared by worker scripts launched under torchrun: init gloo, report JSON per rank."""

import atexit
import json
import os
import sys

import torch.distributed as dist

from opencook.kit.dist import shutdown_distributed

_failed = False


def _note_failure(*exc_info) -> None:
    global _failed
    _failed = True
    sys.__excepthook__(*exc_info)


def _finish() -> None:
    """Leave without the interpreter's teardown: gloo's threads abort a finished rank there now and then
    ('terminate called without an active exception', SIGABRT after the report is written), which turned
    passing checks red on a loaded machine. An uncaught exception still exits 1."""
    shutdown_distributed()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if _failed else 0)


def init() -> tuple[int, int]:
    dist.init_process_group("gloo")
    sys.excepthook = _note_failure
    atexit.register(_finish)  # registered first, so it runs last
    return dist.get_rank(), dist.get_world_size()


def report(payload: dict) -> None:
    rank = dist.get_rank() if dist.is_initialized() else 0
    with open(os.path.join(os.environ["XC_OUT"], f"rank{rank}.json"), "w") as f:
        json.dump(payload, f)
