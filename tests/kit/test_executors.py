
import pytest

from opencook.kit.executors import InProcessExecutor, LocalExecutor, WorkerLostError, make_executor
from worker_faults import always_die, die_once, square


def test_inprocess_and_local_give_the_same_results():
    tasks = list(range(20))
    a = dict(InProcessExecutor().map(square, tasks, "t"))
    b = dict(LocalExecutor(2).map(square, tasks, "t"))
    assert a == b == {i: i * i for i in tasks}


@pytest.mark.slow
def test_killed_worker_is_retried_without_losing_or_duplicating(tmp_path):
    tasks = [(i, str(tmp_path)) for i in range(8)]
    results = list(LocalExecutor(2).map(die_once, tasks, "t"))
    assert sorted(i for i, _ in results) == list(range(8))
    assert dict(results) == {i: i * 10 for i in range(8)}
    assert (tmp_path / "seen-3").exists()


@pytest.mark.slow
def test_worker_that_always_dies_gives_a_clear_error():
    with pytest.raises(WorkerLostError, match="rerun the same command to resume"):
        list(LocalExecutor(1, max_retries=1).map(always_die, [1], "t"))


def test_unknown_executor_is_named():
    with pytest.raises(ValueError, match="unknown executor 'slurm'"):
        make_executor("slurm", 2)
