"""The Ray executor on a real local Ray instance (one per module): same bytes, killed workers, resume."""

from __future__ import annotations

import functools
import json
import os
import signal
from pathlib import Path

import pytest

from fixtures_code import dataset_bytes, make_repos, pipeline_recipe
from opencook.data.recipe import parse_recipe
from opencook.data.runner import PipelineRunner
from opencook.kit.executors import InProcessExecutor, LocalExecutor, WorkerLostError, make_executor
from opencook.kit.executors import ray as ray_executor_module
from opencook.kit.executors.ray import RayExecutor  # imports Ray only when used
from worker_faults import always_die, die_once, square

pytest.importorskip("ray")  # installed by `make test` (the [ray] extra)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_executor():
    with RayExecutor(workers=2, max_retries=2) as executor:
        executor.start()
        yield executor


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> Path:
    return make_repos(tmp_path_factory.mktemp("repos"))


@pytest.fixture(scope="module")
def clean_run(repos, tmp_path_factory) -> Path:
    """The reference: the recipe run in one process."""
    out = tmp_path_factory.mktemp("clean") / "run"
    PipelineRunner(recipe(repos), out, InProcessExecutor()).run()
    return out


def recipe(root: Path):
    return parse_recipe(pipeline_recipe(root, format="jsonl.zst"))


def stage_stats(out: Path) -> list[dict]:
    return [s["stats"] for s in json.loads((out / "stats.json").read_text())["stages"]]


# ---------------------------------------------------------------- task functions (top level: picklable)


def fail(x: int) -> int:
    raise KeyError(f"no such thing: {x}")


def die_after_first_task(fn, flag: str, job: tuple[int, object]):
    """Run a runner task, then kill the worker before it can return (once): the shard is on disk,
    the result is lost, so Ray runs the task again and it must come out the same."""
    i, task = job
    result = fn(task)
    flag = Path(flag)
    if i == 0 and not flag.exists():
        flag.write_text("1")
        os.kill(os.getpid(), signal.SIGKILL)
    return result


class KillingExecutor:
    """Wraps the Ray executor: in every stage, the worker running task 0 is killed once."""

    def __init__(self, inner: RayExecutor, flag_dir: Path) -> None:
        self.inner, self.flag_dir, self.workers = inner, flag_dir, inner.workers
        self.calls: list[str] = []

    def map(self, fn, tasks, desc):
        self.calls.append(desc)
        wrapped = functools.partial(die_after_first_task, fn, str(self.flag_dir / desc))
        return self.inner.map(wrapped, list(enumerate(tasks)), desc)


class StopAfter:
    """Wraps the Ray executor: after ``n`` results the run stops like a killed driver."""

    def __init__(self, inner: RayExecutor, n: int) -> None:
        self.inner, self.left, self.workers = inner, n, inner.workers

    def map(self, fn, tasks, desc):
        for item in self.inner.map(fn, tasks, desc):
            if self.left == 0:
                raise KeyboardInterrupt("simulated crash")
            self.left -= 1
            yield item


# ---------------------------------------------------------------- the executor alone


def test_same_results_as_the_other_executors(ray_executor):
    tasks = list(range(20))
    results = list(ray_executor.map(square, tasks, "t"))
    assert sorted(i for i, _ in results) == tasks
    assert dict(results) == dict(InProcessExecutor().map(square, tasks, "t")) == {i: i * i for i in tasks}
    assert list(ray_executor.map(square, [], "t")) == []


def test_killed_worker_is_retried_without_losing_or_duplicating(ray_executor, tmp_path):
    tasks = [(i, str(tmp_path)) for i in range(8)]
    results = list(ray_executor.map(die_once, tasks, "t"))
    assert sorted(i for i, _ in results) == list(range(8))
    assert dict(results) == {i: i * 10 for i in range(8)}
    assert (tmp_path / "seen-3").exists()


def test_worker_that_always_dies_gives_a_clear_error(ray_executor):
    executor = RayExecutor(workers=2, max_retries=1)  # joins the running instance, does not own it
    with pytest.raises(WorkerLostError, match="rerun the same command to resume"):
        list(executor.map(always_die, [1], "t"))
    executor.close()
    assert list(ray_executor.map(square, [3], "t")) == [(0, 9)]  # the shared instance is still up


def test_task_exception_is_raised_as_itself(ray_executor):
    with pytest.raises(KeyError, match="no such thing: 2"):
        list(ray_executor.map(fail, [2], "t"))


def test_make_executor_builds_it():
    executor = make_executor("ray", 3, address="ray://nowhere:10001")
    assert isinstance(executor, RayExecutor) and executor.address == "ray://nowhere:10001"
    with pytest.raises(ValueError, match="only for the ray executor"):
        make_executor("local", 2, address="ray://nowhere:10001")


def test_missing_ray_is_a_clear_error_before_any_work(monkeypatch):
    monkeypatch.setattr(ray_executor_module, "_ray_installed", lambda: False)
    with pytest.raises(ray_executor_module.RayNotInstalledError, match=r"pip install 'opencook\[ray\]'"):
        make_executor("ray", 2)


# ---------------------------------------------------------------- a whole recipe


def test_recipe_gives_identical_bytes_on_ray_and_local(ray_executor, repos, clean_run, tmp_path):
    PipelineRunner(recipe(repos), tmp_path / "local", LocalExecutor(2)).run()
    PipelineRunner(recipe(repos), tmp_path / "ray", ray_executor).run()
    assert dataset_bytes(clean_run)
    assert dataset_bytes(tmp_path / "ray") == dataset_bytes(tmp_path / "local") == dataset_bytes(clean_run)
    assert ((tmp_path / "ray" / "manifest.json").read_bytes() == (clean_run / "manifest.json").read_bytes())
    assert stage_stats(tmp_path / "ray") == stage_stats(clean_run)


def test_recipe_survives_killed_workers_without_losing_or_duplicating_records(
        ray_executor, repos, clean_run, tmp_path):
    flags = tmp_path / "flags"
    flags.mkdir()
    out = tmp_path / "ray"
    killing = KillingExecutor(ray_executor, flags)
    PipelineRunner(recipe(repos), out, killing).run()
    assert len(killing.calls) >= 5 and sorted(p.name for p in flags.iterdir()) == sorted(killing.calls)
    assert dataset_bytes(out) == dataset_bytes(clean_run)
    assert stage_stats(out) == stage_stats(clean_run)  # every stage counts each record once


@pytest.mark.parametrize("stop_after", [2, 9])
def test_interrupted_run_resumes_on_ray_and_matches(ray_executor, repos, clean_run, tmp_path, stop_after):
    out = tmp_path / "ray"
    with pytest.raises(KeyboardInterrupt):
        PipelineRunner(recipe(repos), out, StopAfter(ray_executor, stop_after)).run()
    results = PipelineRunner(recipe(repos), out, ray_executor).run()
    assert sum(r.skipped for r in results) >= stop_after
    assert dataset_bytes(out) == dataset_bytes(clean_run)
    assert (out / "manifest.json").read_bytes() == (clean_run / "manifest.json").read_bytes()
    assert stage_stats(out) == stage_stats(clean_run)


def test_the_local_instance_keeps_its_session_folder_private(ray_executor):
    """Issue 20: Ray's default session folder (/tmp/ray) is open to every local user."""
    import stat

    import ray

    session = Path(ray._private.worker._global_node.get_session_dir_path())
    root = Path(ray_executor._session_root)
    assert root in session.parents
    mode = root.stat().st_mode
    assert stat.S_IMODE(mode) == 0o700 and not mode & (stat.S_IWOTH | stat.S_IROTH | stat.S_IXOTH)
