"""Runs tasks on Ray: a local instance it starts itself, or an existing cluster (``address``).

The interface is the one every executor has: ``map(fn, tasks, desc)`` yields ``(task index,
result)`` as tasks finish. A task whose worker process dies (killed, out of memory, node lost) is
retried by Ray up to ``max_retries`` times; this is safe because the runner's tasks write each shard
atomically with a completion marker, so running a task twice gives the same bytes. An exception
raised by the task itself is not retried: it is re-raised here as the original exception.

On a cluster, every node must see the paths in the recipe and the run directory (a shared
filesystem) and have opencook installed. Ray is imported lazily; ``pip install 'opencook[ray]'``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from opencook.kit.executors.base import WorkerLostError, progress_bar

#: Memory for a local instance's object store: tasks and results are small (paths and markers).
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    """The one remote function: any picklable callable (``functools.partial`` too) runs through it."""
    return fn(task)


def _driver_pythonpath(existing: str | None) -> str:
    """This process's import path minus what every interpreter of this environment has anyway."""
    prefixes = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    entries = [p for p in (existing or "").split(os.pathsep) if p]
    for p in sys.path:
        if p and os.path.isdir(p) and not os.path.realpath(p).startswith(prefixes) and p not in entries:
            entries.append(p)
    return os.pathsep.join(entries)


class RayNotInstalledError(ImportError):
    """The Ray executor was asked for where Ray is not installed."""


_NOT_INSTALLED = "the ray executor needs Ray: pip install 'opencook[ray]' (or pip install 'ray>=2.9')"


def _ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def _import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage-stats prompt or upload
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RayNotInstalledError(_NOT_INSTALLED) from exc
    return ray


class RayConnectError(RuntimeError):
    """The Ray cluster at ``--address`` cannot be reached."""


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a ``host:port`` that does not answer (Ray itself keeps retrying for minutes)."""
    if address == "auto" or "://" in address:
        return  # "auto" reads the local cluster's address; ray:// (Ray Client) has its own timeout
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayConnectError(f"no Ray cluster answers at {address} ({exc}); start one with "
                              "`ray start --head` or leave out --address to start a local one") from exc


def private_temp_dir() -> str:
    """A fresh folder only this user can enter (0700), short enough for Ray's Unix socket paths. Ray opens
    its own temp folder to everyone (0777), so the session lives one level below it, in ``r``."""
    return tempfile.mkdtemp(prefix="oc-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)


class RayExecutor:
    """Tasks as Ray tasks; with no ``address`` a light local Ray instance is started on first use.

    ``workers`` is the number of CPUs of a local instance (default: all); with an ``address`` the
    cluster decides, and ``workers`` becomes its CPU count once connected. Ray is started lazily by
    the first ``map`` and stays up for the next stages; ``close()`` (or leaving a ``with`` block)
    shuts down an instance this executor started, never one it only connected to.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, max_retries: int = 2) -> None:
        if not _ray_installed():
            raise RayNotInstalledError(_NOT_INSTALLED)  # before any work, not at the first stage
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.address = address
        self.workers = workers or os.cpu_count() or 1
        self._requested_workers = workers
        self.max_retries = max_retries
        self._started = False  # True when this executor started the Ray instance it uses

    # -------------------------------------------------------- lifetime

    def start(self) -> None:
        """Connect to Ray (starting a local instance if needed); called by ``map``."""
        ray = _import_ray()
        if ray.is_initialized():
            self._update_workers(ray)
            return
        common = dict(
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=True,
        )
        if self.address:
            _check_reachable(self.address)
            ray.init(address=self.address, **common)
        else:
            # Ray workers are spawned by the raylet and inherit its environment: give them the driver's
            # import path, as the local executor's processes have it (tasks may come from any module).
            self._session_root = private_temp_dir()
            saved = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = _driver_pythonpath(saved)
            try:
                # "local": a new instance even where `ray start` left one running on this machine
                # a private session folder (0700): Ray's default /tmp/ray is open to every local user
                ray.init(address="local", num_cpus=self.workers if self._requested_workers else None,
                         object_store_memory=LOCAL_OBJECT_STORE_BYTES, _temp_dir=os.path.join(self._session_root, "r"), **common)
            finally:
                if saved is None:
                    del os.environ["PYTHONPATH"]
                else:
                    os.environ["PYTHONPATH"] = saved
            self._started = True
        self._update_workers(ray)

    def _update_workers(self, ray) -> None:
        if self.address or not self._requested_workers:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        """Shut down the Ray instance this executor started (a no-op otherwise)."""
        if self._started:
            ray = _import_ray()
            ray.shutdown()
            self._started = False
            shutil.rmtree(self._session_root, ignore_errors=True)

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------- the executor interface

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any], desc: str) -> Iterator[tuple[int, Any]]:
        if not tasks:
            return
        self.start()
        ray = _import_ray()
        from ray.exceptions import RayError, RayTaskError

        remote = ray.remote(_call).options(max_retries=self.max_retries, retry_exceptions=False)
        fn_ref = ray.put(fn)  # shipped once, not with every task
        index = {remote.remote(fn_ref, task): i for i, task in enumerate(tasks)}
        refs = list(index)
        try:
            with progress_bar(len(tasks), desc) as bar:
                while refs:
                    ready, refs = ray.wait(refs, num_returns=1)  # block for one, then take all done
                    if refs:
                        more, refs = ray.wait(refs, num_returns=len(refs), timeout=0)
                        ready += more
                    for ref in ready:
                        try:
                            result = ray.get(ref)
                        except RayTaskError as exc:  # the task raised: give the caller its own exception
                            cause = getattr(exc, "cause", None)
                            if isinstance(cause, BaseException):
                                raise cause from exc
                            raise
                        except RayError as exc:  # the worker or node died too often, out of memory, ...
                            raise WorkerLostError(
                                f"{desc}: task {index[ref]} failed after {self.max_retries} retries "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                                "finished shards are kept, rerun the same command to resume"
                            ) from exc
                        bar.update()
                        yield index[ref], result
        finally:
            for ref in refs:  # interrupted or failed: do not leave work running on the cluster
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - already finished or gone
                    pass
