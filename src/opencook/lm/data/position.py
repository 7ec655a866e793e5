"""The data position a checkpoint carries, and the one error a trainer shows when it no longer fits."""

from __future__ import annotations

RESET_HINT = ("pass --reset-data-position to start the data from the beginning instead "
              "(the model and optimizer still resume)")


class DataPositionError(ValueError):
    """A checkpoint's data position was made for other data, batch size or sequence length."""


def check_batch(global_batch: int, seq_len: int, seed: int) -> None:
    if global_batch < 1:
        raise ValueError(f"global_batch={global_batch} must be >= 1")
    if seq_len < 1:
        raise ValueError(f"seq_len={seq_len} must be >= 1")
    if seed < 0:
        raise ValueError(f"seed={seed} must be >= 0")


def rank_slice(global_batch: int, rank: int, world: int) -> slice:
    """This rank's contiguous share of the global batch (every rank computes the whole batch's plan)."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} of world {world}: need world >= 1 and 0 <= rank < world")
    if global_batch % world:
        raise ValueError(f"global batch {global_batch} is not divisible by world size {world}: "
                         f"choose a global batch that is a multiple of the number of ranks")
    per = global_batch // world
    return slice(rank * per, (rank + 1) * per)


def check_position(saved: dict, now: dict) -> None:
    """Refuse ``saved`` (a loader's ``state_dict``) unless it was made by a loader like this one (``now``),
    naming what differs. ``detail`` (seed, weights, sources) refines the message when the fingerprint differs."""
    if not isinstance(saved, dict) or "kind" not in saved:
        raise DataPositionError(f"the checkpoint's data position {saved!r} is not a data loader state; "
                                f"{RESET_HINT}")
    diffs = []
    if saved["kind"] != now["kind"]:
        diffs.append(f"a {saved['kind']} loader in the checkpoint, a {now['kind']} loader now")
    for key, name in (("global_batch", "global batch"), ("seq_len", "sequence length")):
        if saved.get(key) != now[key]:
            diffs.append(f"{name} {saved.get(key)} in the checkpoint, {now[key]} now")
    if not diffs and saved.get("fingerprint") != now["fingerprint"]:
        old, new = saved.get("detail") or {}, now.get("detail") or {}
        for key in new:
            if key in old and old[key] != new[key]:
                diffs.append(f"{key} {old[key]} in the checkpoint, {new[key]} now")
        if not diffs:
            diffs.append(f"data fingerprint {saved.get('fingerprint')} in the checkpoint, {now['fingerprint']} "
                         "now (the data, weights or seed changed)")
    if diffs:
        raise DataPositionError(f"cannot continue the data position from the checkpoint: {'; '.join(diffs)}; "
                                f"{RESET_HINT}")
