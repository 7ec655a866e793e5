"""``opencook xc plan``: print memory per device, step time, traffic and graph rebuild for full vs KNN
softmax at a size this machine cannot run (e.g. 100M classes on 256 GPUs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from opencook.xc.plan.model import (
    Calibration,
    PlanInputs,
    comm_bytes,
    memory,
    rebuild_memory,
    rebuild_time,
    step_time,
)


def _gib(x: float) -> str:
    return f"{x / 2**30:10.3f} GiB"


def _ms(x: float) -> str:
    return f"{x * 1e3:10.2f} ms"


def _table(title: str, modes: list[str], rows: dict[str, dict[str, float]], fmt) -> list[str]:
    # the mode with the most rows first, so rows only some modes have keep their place in the order
    keys = list(dict.fromkeys(k for m in sorted(modes, key=lambda m: -len(rows[m])) for k in rows[m]))
    lines = [title, f"  {'':30}" + "".join(f"{m:>16}" for m in modes)]
    for k in keys:
        lines.append(f"  {k:30}" + "".join(f"{fmt(rows[m][k]) if k in rows[m] else '—':>16}" for m in modes))
    lines.append(f"  {'total':30}" + "".join(f"{fmt(sum(rows[m].values())):>16}" for m in modes))
    return lines


def render(p: PlanInputs, modes: list[str], cal: Calibration) -> str:
    """The whole printout: inputs, memory, step time, communication, graph rebuild."""
    lines = [f"xc plan: C={p.classes:,} D={p.dim} N={p.gpus} GPUs, batch {p.batch_per_gpu}/GPU "
             f"(global {p.batch_global:,}), {p.dtype}, {p.optimizer}, KNN active {p.active:g} of C "
             f"({p.active_shard:,} rows/GPU of {p.shard:,}), graph k={p.graph_k} {p.graph_ids}",
             f"calibration: {cal.source}",
             f"  GEMM {cal.flops(p.dtype) / 1e12:.3g} TFLOP/s, bus {cal.bus_bw / 1e9:.3g} GB/s, "
             f"hop latency {cal.latency_s * 1e6:.3g} us, IVF add {cal.ivf_add_vps:.3g} vec/s, "
             f"search {cal.ivf_search_qps:.3g} q/s",
             f"  dense update {cal.mem_bw / 1e9:.3g} GB/s, softmax chain {cal.softmax_bw / 1e9:.3g} GB/s, row path "
             f"{cal.row_bw / 1e9:.3g} GB/s, selection {cal.select_rate:.3g} A·log2A/s, fresh buffers "
             f"{f'{cal.fresh_bw / 1e9:.3g} GB/s' if cal.fresh_bw else 'free'}, fixed overhead "
             f"{cal.step_overhead_s * 1e3:.3g} ms/step", ""]
    lines += _table("== memory per device (head) ==", modes, {m: memory(p, m) for m in modes}, _gib)
    steps = {m: step_time(p, m, cal) for m in modes}
    lines += ["", *_table("== step time (no overlap) ==", modes, steps, _ms)]
    lines.append(f"  {'samples/s (cluster)':30}" + "".join(f"{p.batch_global / sum(steps[m].values()):16,.0f}"
                                                           for m in modes))
    comm = comm_bytes(p)
    lines += ["", "== communication per step per device (full and knn alike) =="]
    lines += [f"  {k:30}{v / 2**20:12.2f} MiB" for k, v in comm.items()]
    lines.append(f"  {'total':30}{sum(comm.values()) / 2**20:12.2f} MiB")
    if "knn" in modes:
        rb = rebuild_time(p, cal)
        lines += ["", "== KNN graph rebuild (per rebuild) =="]
        lines += [f"  {k:30}{v:12.2f} s" for k, v in rb.items()]
        lines.append(f"  {'total':30}{sum(rb.values()):12.2f} s")
        lines.append(f"  {'host RAM, transient':30}{rebuild_memory(p) / 2**30:12.2f} GiB")
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> int:
    from opencook.kit.config import ConfigError

    if args.calibration and not args.calibrate and not Path(args.calibration).is_file():
        raise ConfigError(f"--calibration {args.calibration} does not exist: write one with --calibrate")
    from opencook.xc.plan.calibrate import calibrate, load_calibration, save_calibration

    if args.out and not args.calibrate:
        raise ConfigError("--out is where --calibrate writes its measurements; add --calibrate, "
                         "or read an earlier file with --calibration FILE")
    if args.calibrate:
        cal = calibrate(dim=args.dim)
        out = Path(args.out or args.calibration or "xc_calibration.json")
        save_calibration(cal, out)
        print(f"calibration written to {out}")
    else:
        cal = load_calibration(Path(args.calibration)) if args.calibration else Calibration()
    try:
        p = PlanInputs(classes=args.classes, dim=args.dim, gpus=args.gpus, batch_per_gpu=args.batch_per_gpu,
                       active=args.active, dtype=args.dtype, optimizer=args.optimizer, graph_k=args.graph_k,
                       graph_ids=args.graph_ids, backbone_params=args.backbone_params,
                       backbone_gflops=args.backbone_gflops)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    modes = ["full", "knn"] if args.mode == "both" else [args.mode]
    print(render(p, modes, cal))
    return 0


def add_plan_parser(xc) -> None:
    plan = xc.add_parser("plan", help="cost model: memory, step time, traffic for full vs KNN softmax at scale")
    plan.add_argument("--classes", type=int, required=True)
    plan.add_argument("--dim", type=int, required=True)
    plan.add_argument("--gpus", type=int, required=True)
    plan.add_argument("--batch-per-gpu", type=int, default=256)
    plan.add_argument("--mode", choices=["full", "knn", "both"], default="both")
    plan.add_argument("--active", type=float, default=0.01, help="fraction of C scored per step (knn)")
    plan.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    plan.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd")
    plan.add_argument("--graph-k", type=int, default=10)
    plan.add_argument("--graph-ids", choices=["int32", "int64"], default="int64")
    plan.add_argument("--backbone-params", type=float, default=25.6e6, help="DDP payload (default ResNet-50)")
    plan.add_argument("--backbone-gflops", type=float, default=4.1, help="forward GFLOPs per sample")
    plan.add_argument("--calibration", help="calibration JSON to read (or, with --calibrate, to write); default: "
                                            "the built-in H100 rates")
    plan.add_argument("--out", help="with --calibrate: the calibration JSON to write (default: --calibration, "
                                    "else xc_calibration.json)")
    plan.add_argument("--calibrate", action="store_true", help="measure this machine's rates first (~30 s, ~4 GiB of RAM; at --dim)")
    plan.set_defaults(func=cmd_plan)
