"""Runs a recipe into a run directory, shard by shard, resumably.

Every shard of every stage is written atomically with a completion marker that records
its checksum and the checksum of the input it came from (for the first stage: the sizes and
mtimes of the files it read). A rerun skips a shard whose marker is valid and whose input has
not changed, so a crashed run resumes where it stopped and a finished run is a no-op that still
ends with the same bytes. The final dataset's parts are checked against the checksums recorded
when they were written; a damaged one makes the sink run again.

The output directory is claimed with a marker (``kit/rundir.py``): a folder holding anything
opencook did not write is refused, never cleaned, and a run holds the directory's lock while it
writes, so a second run into the same ``--out`` fails at once.

``--out`` may be an fsspec URL (``s3://bucket/run``): the run then works in a local copy and mirrors it to
the remote (``kit/io/remote.py``): each shard is uploaded before its marker as it finishes, a rerun first
downloads what the remote holds and skips what is finished there, and the end of the run leaves the
remote equal to the local copy. The lock stays local (an object store cannot ``flock``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from opencook.data.recipe import Recipe
from opencook.data.rejects import rejects_path, write_rejects
from opencook.kit.executors import Executor
from opencook.kit.io import atomic_write, remote
from opencook.kit.io.shards import (
    marker_path,
    read_marker,
    read_records,
    sha256_file,
    write_marker,
    write_parquet_atomic,
    write_records,
)
from opencook.kit.rundir import LOCK, MARKER, RunDirError, RunLock, claim
from opencook.kit.stats import StageStats
from opencook.kit.step import Global, Map, Sink, Source, Step
from opencook.kit.versions import collect_versions

__all__ = ["PipelineRunner", "RunDirError", "StageResult"]

RUN_KIND = "data"


@dataclass
class StageResult:
    index: int
    name: str
    kind: str
    shards: list[Path]
    stats: StageStats
    seconds: float
    skipped: int


# ---------------------------------------------------------------- tasks run by executors
# Top-level functions with picklable arguments: any executor can run them.


def _counting(records, stats: StageStats):
    for r in records:
        stats.add("in")
        yield r


def _finish_shard(records: list[dict], out: Path, stats: StageStats, key: dict, step: Step) -> dict:
    stats.counters["out"] = len(records)  # the runner owns "out"; a step may have counted it too
    schema = step.schema()
    if schema is None:
        write_records(records, out)
    else:
        write_parquet_atomic(pa.Table.from_pylist(records, schema=schema), out)
    return write_marker(out, len(records), {"key": key, "stats": stats.to_dict()})


def source_task(job: tuple[type[Source], Any, Any, Path, dict]) -> dict:
    step_cls, config, task, out, key = job
    stats = StageStats()
    step = step_cls(config)
    records = list(step.read(task, stats))
    return _finish_shard(records, out, stats, key, step)


def map_task(job: tuple[type[Map], Any, Path, Path, dict]) -> dict:
    step_cls, config, src, out, key = job
    stats = StageStats(rejects=[] if key.get("rejects") else None)
    step = step_cls(config)
    records = list(step.process(_counting(read_records(src), stats), stats))
    write_rejects(stats.rejects, out)
    return _finish_shard(records, out, stats, key, step)


def summarize_task(job: tuple[type[Global], Any, Path, Path, dict]) -> dict:
    step_cls, config, src, out, key = job
    stats = StageStats()
    table = step_cls(config).summarize(read_records(src), stats)
    write_parquet_atomic(table, out)
    return write_marker(out, table.num_rows, {"key": key, "stats": stats.to_dict()})


def apply_task(job: tuple[type[Global], Any, Path, Path, Path, dict]) -> dict:
    step_cls, config, src, decision_path, out, key = job
    stats = StageStats(rejects=[] if key.get("rejects") else None)
    decision = pq.read_table(decision_path)
    step = step_cls(config)
    records = list(step.apply(_counting(read_records(src), stats), decision, stats))
    write_rejects(stats.rejects, out)
    return _finish_shard(records, out, stats, key, step)


# ---------------------------------------------------------------- the runner


def _task_key(task: Any) -> str:
    return hashlib.sha256(repr(task).encode()).hexdigest()[:16]


def local_dir(out: str | Path) -> Path:
    """Where a run into ``out`` keeps its files on this machine: ``out`` itself, or a remote run's local copy."""
    return remote.cache_dir(str(out)) if remote.is_remote(out) else Path(remote.local(out))


def publish(out: str | Path, *paths: Path) -> None:
    """Upload files written into a remote run's local copy after the run (the report); no-op for a local run."""
    if remote.is_remote(out):
        remote.Mirror.for_url(str(out)).publish(*paths)


class PipelineRunner:
    def __init__(self, recipe: Recipe, out: str | Path, executor: Executor) -> None:
        self.recipe = recipe
        self.mirror = remote.Mirror.for_url(str(out), skip=(LOCK,)) if remote.is_remote(out) else None
        self.out = local_dir(out)
        self.executor = executor
        # shard -> sha256, verified or written by its own stage: the next stage keys on it without
        # hashing the file again
        self._checksums: dict[Path, str] = {}
        self._parts: dict[Path, dict] = {}  # final dataset part -> rows, bytes, sha256 as written

    def run(self) -> list[StageResult]:
        claim(self.out, RUN_KIND, adopt=_run_from_before_markers)
        with RunLock(self.out):
            if self.mirror is not None:
                try:  # refuses a location holding someone else's files, before downloading anything
                    self.mirror.pull(required=MARKER)
                except remote.ForeignFiles as exc:
                    raise RunDirError(str(exc)) from None
                claim(self.out, RUN_KIND)  # the remote's own marker, now local: the same kind of run?
            self._prepare_out_dir()
            self._publish(self.out / MARKER, self.out / "config.yaml")  # before any shard: the remote is a run's
            results = self._run_stages()
            if self.mirror is not None:
                self.mirror.push()
            return results

    @property
    def _rejects(self) -> dict:
        """In a shard's key only when on, so a run's keys stay as they were without it."""
        return {"rejects": True} if self.recipe.rejects else {}

    def _run_stages(self) -> list[StageResult]:
        started = time.time()
        results: list[StageResult] = []
        shards: list[Path] = []
        for index, (spec, config) in enumerate(self.recipe.stages):
            stage_dir = self.out / "stages" / f"{index:02d}_{spec.name}"
            t0 = time.time()
            if issubclass(spec, Source):
                shards, stats, skipped = self._run_source(spec, config, stage_dir)
            elif issubclass(spec, Map):
                shards, stats, skipped = self._run_map(spec, config, shards, stage_dir)
            elif issubclass(spec, Global):
                shards, stats, skipped = self._run_global(spec, config, shards, stage_dir)
            elif issubclass(spec, Sink):
                shards, stats, skipped = self._run_sink(spec, config, shards)
            else:
                raise TypeError(f"stage '{spec.name}': {spec.__qualname__} is not a Source, Map, Global or Sink")
            result = StageResult(index, spec.name, spec.kind, shards, stats, time.time() - t0, skipped)
            self._write_stage_stats(stage_dir, result)
            results.append(result)
        self._write_run_stats(results, time.time() - started)
        self._write_manifest(results[-1].shards if results[-1].kind == "sink" else shards)
        return results

    # -------------------------------------------------------- run directory

    def _prepare_out_dir(self) -> None:
        resolved = yaml.safe_dump(self.recipe.resolved(), sort_keys=False)
        config_path = self.out / "config.yaml"
        if config_path.exists() and config_path.read_text() != resolved:
            raise RunDirError(
                f"{self.out} holds a run of a different recipe (see {config_path}); "
                "use a new --out directory, or delete it to start over"
            )
        config_path.write_text(resolved)
        (self.out / "versions.json").write_text(json.dumps(collect_versions(), indent=1, sort_keys=True))

    def _write_stage_stats(self, stage_dir: Path, result: StageResult) -> None:
        stage_dir.mkdir(parents=True, exist_ok=True)
        payload = {"name": result.name, "kind": result.kind, "seconds": round(result.seconds, 3),
                   "shards": len(result.shards), "shards_skipped": result.skipped, **result.stats.to_dict()}
        (stage_dir / "stats.json").write_text(json.dumps(payload, indent=1, sort_keys=True))

    def _write_run_stats(self, results: list[StageResult], seconds: float) -> None:
        payload = {
            "recipe": self.recipe.name,
            "seconds": round(seconds, 3),
            "stages": [
                {"index": r.index, "name": r.name, "kind": r.kind, "seconds": round(r.seconds, 3),
                 "shards": len(r.shards), "shards_skipped": r.skipped, "stats": r.stats.to_dict()}
                for r in results
            ],
        }
        (self.out / "stats.json").write_text(json.dumps(payload, indent=1, sort_keys=True))

    def _write_manifest(self, files: list[Path]) -> None:
        entries = []
        for path in files:
            known = self._parts.get(path)  # a sink part checked against its recorded checksum this run
            if known is None:
                known = {"rows": _count_rows(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            entries.append({"path": str(path.relative_to(self.out)), "rows": known["rows"],
                            "bytes": known["bytes"], "sha256": known["sha256"]})
        manifest = {"files": entries, "total_rows": sum(e["rows"] for e in entries),
                    "total_bytes": sum(e["bytes"] for e in entries)}
        (self.out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))

    # -------------------------------------------------------- stage kinds

    def _run(self, fn, jobs: list[tuple[Path, Any]], desc: str) -> tuple[dict[Path, dict], int]:
        """Run jobs whose output is not already valid; returns markers by output path and the skip count."""
        markers: dict[Path, dict] = {}
        todo = []
        for out, job in jobs:
            marker = read_marker(out)
            if marker is not None and marker.get("key") == job[-1]:
                markers[out] = marker
            else:
                todo.append((out, job))
        for i, marker in self.executor.map(fn, [job for _, job in todo], desc):
            out = todo[i][0]
            markers[out] = marker
            rejects = rejects_path(out)  # a shard's rejects go up with it, before its marker
            self._publish(out, *([rejects] if self.recipe.rejects and rejects.is_file() else []), marker_path(out))
        self._checksums.update((out, marker["sha256"]) for out, marker in markers.items())
        return markers, len(jobs) - len(todo)

    def _publish(self, *paths: Path) -> None:
        if self.mirror is not None:
            self.mirror.publish(*paths)

    def _merge(self, markers: dict[Path, dict]) -> StageStats:
        stats = StageStats()
        for out in sorted(markers):
            stats.merge(StageStats.from_dict(markers[out]["stats"]))
        return stats

    def _run_source(self, spec: type[Source], config: Any, stage_dir: Path):
        step = spec(config)
        tasks = step.plan()
        jobs = []
        for k, task in enumerate(tasks):
            out = stage_dir / f"shard-{k:05d}.parquet"
            key = {"task": _task_key(task)}
            fingerprint = step.fingerprint(task)
            if fingerprint is not None:  # the files as they are now: an edited input is read again
                key["input"] = fingerprint
            jobs.append((out, (spec, config, task, out, key)))
        _remove_stale_shards(stage_dir, {out for out, _ in jobs})
        markers, skipped = self._run(source_task, jobs, spec.name)
        return [out for out, _ in jobs], self._merge(markers), skipped

    def _run_map(self, spec: type[Map], config: Any, inputs: list[Path], stage_dir: Path):
        jobs = []
        for src in inputs:
            out = stage_dir / src.name
            jobs.append((out, (spec, config, src, out, {"input": self._checksums[src], **self._rejects})))
        _remove_stale_shards(stage_dir, {out for out, _ in jobs})
        markers, skipped = self._run(map_task, jobs, spec.name)
        return [out for out, _ in jobs], self._merge(markers), skipped

    def _run_global(self, spec: type[Global], config: Any, inputs: list[Path], stage_dir: Path):
        sum_dir = stage_dir / "summaries"
        jobs = []
        for src in inputs:
            out = sum_dir / src.name
            jobs.append((out, (spec, config, src, out, {"input": self._checksums[src]})))
        markers, skipped = self._run(summarize_task, jobs, f"{spec.name}:summarize")
        stats = self._merge(markers)

        decision_path = stage_dir / "decision.parquet"
        decision_key = {"inputs": [markers[out]["sha256"] for out, _ in jobs]}
        decision_marker = read_marker(decision_path)
        if decision_marker is None or decision_marker.get("key") != decision_key:
            decide_stats = StageStats()
            decision = spec(config).decide([out for out, _ in jobs], decide_stats, stage_dir / "work")
            write_parquet_atomic(decision, decision_path)
            decision_marker = write_marker(decision_path, decision.num_rows,
                                           {"key": decision_key, "stats": decide_stats.to_dict()})
            self._publish(decision_path, marker_path(decision_path))
        stats.merge(StageStats.from_dict(decision_marker["stats"]))

        apply_jobs = []
        for src in inputs:
            out = stage_dir / src.name
            key = {"input": self._checksums[src], "decision": decision_marker["sha256"], **self._rejects}
            apply_jobs.append((out, (spec, config, src, decision_path, out, key)))
        markers, skipped_apply = self._run(apply_task, apply_jobs, f"{spec.name}:apply")
        stats.merge(self._merge(markers))
        return [out for out, _ in apply_jobs], stats, skipped + skipped_apply

    def _run_sink(self, spec: type[Sink], config: Any, inputs: list[Path]):
        dataset = self.out / "dataset"
        success = dataset / SUCCESS
        key = {"inputs": [self._checksums[src] for src in inputs], "config": repr(config)}
        info = _read_json(success)
        if info is not None and info.get("key") == key:
            parts = _verified_parts(dataset, info.get("files"))
            if parts is not None:
                self._parts.update(parts)
                return list(parts), StageStats.from_dict(info["stats"]), 1
        _remove_own_parts(dataset, info)
        stats = StageStats()

        def records():
            for src in inputs:
                yield from read_records(src)

        written = spec(config).write(records(), dataset, stats)
        files = [{"name": p.name, "rows": _count_rows(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
                 for p in written]
        with atomic_write(success) as fh:
            fh.write(json.dumps({"key": key, "files": files, "stats": stats.to_dict()}, indent=1, sort_keys=True))
        self._publish(*written, success)
        self._parts.update((dataset / f["name"], f) for f in files)
        return written, stats, 0


SUCCESS = "_SUCCESS.json"


def _run_from_before_markers(path: Path) -> bool:
    """A data run directory written before run directories had a marker: its own config and versions files."""
    return (path / "config.yaml").is_file() and (path / "versions.json").is_file()


def _read_json(path: Path) -> dict | None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _verified_parts(dataset: Path, files: Any) -> dict[Path, dict] | None:
    """The parts recorded when the dataset was written, if every one still has its size and sha256."""
    if not isinstance(files, list) or not files:
        return None  # a dataset written before checksums were recorded: written again, once
    parts = {}
    for entry in files:
        if not isinstance(entry, dict):
            return None
        path = dataset / str(entry.get("name"))
        try:
            if path.stat().st_size != entry.get("bytes") or sha256_file(path) != entry.get("sha256"):
                return None
        except OSError:
            return None
        parts[path] = entry
    return parts


def _remove_own_parts(dataset: Path, info: dict | None) -> None:
    """Delete what an earlier write of this run put in ``dataset/``: the parts it recorded and any ``part-*``
    (a write cut short records nothing). Anything else in the folder is not the run's and stays."""
    if not dataset.is_dir():
        return
    (dataset / SUCCESS).unlink(missing_ok=True)  # first: a crash below leaves no claim of a finished dataset
    info = info or {}
    files, legacy = info.get("files"), info.get("parts")  # "parts": the record from before checksums
    names = {str(f.get("name")) for f in files if isinstance(f, dict)} if isinstance(files, list) else set()
    names.update(str(n) for n in legacy) if isinstance(legacy, list) else None
    for path in dataset.iterdir():
        if path.is_file() and (path.name in names or path.name.startswith("part-")):
            path.unlink()


def _remove_stale_shards(stage_dir: Path, keep: set[Path]) -> None:
    """Shards left over from a bigger earlier plan would otherwise linger in the run directory."""
    if not stage_dir.exists():
        return
    keep_names = {p.name for p in keep} | {p.name.split(".")[0] + ".done.json" for p in keep}
    for path in stage_dir.glob("shard-*"):
        if path.name not in keep_names:
            path.unlink()


def _count_rows(path: Path) -> int:
    if path.name.endswith(".parquet"):
        return pq.ParquetFile(path).metadata.num_rows
    if path.name.endswith(".jsonl"):
        return path.read_bytes().count(b"\n")
    import zstandard

    return zstandard.ZstdDecompressor().decompress(path.read_bytes()).count(b"\n")

