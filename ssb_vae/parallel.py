"""Running independent jobs at once: serially, in local processes that share the cores, or as Ray
tasks. The runner's grid points and the tuner's cells both go through ``execute``."""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Callable, Iterable

PARENT_CHECK_SECONDS = 1.0


def limit_threads(threads: int) -> None:
    """Limits this process to ``threads`` intra-op threads; call it before TensorFlow starts. Each
    worker runs it, so that N jobs share the cores."""
    for variable in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ[variable] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ssb_vae.backend import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def threads_per_job(jobs: int) -> int:
    """TensorFlow threads each of ``jobs`` local processes gets: the cores shared out, at least one.
    A run's numbers depend on it (the CPU kernels' summation order follows the thread count)."""
    return max(1, (os.cpu_count() or 1) // jobs)


def _start_worker(threads: int, runner_pid: int) -> None:
    """Each worker process: limits its threads, and ends itself once the process that started it
    is gone. A driver killed by a signal never shuts its pool down; without this its workers
    would train on for nobody, holding the cores."""
    limit_threads(threads)

    def exit_with_runner():
        while os.getppid() == runner_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=exit_with_runner, daemon=True, name="exit-with-runner").start()


def execute(function: Callable, items: Iterable, on_result: Callable, jobs: int = 1,
            backend: str = "local", ray_address: str | None = None) -> None:
    """Calls ``on_result(*function(item))`` in this process for every item, as each finishes.

    ``function`` must not raise (return the error instead) and must be importable by name, for
    the worker processes. ``jobs`` local processes share the cores; ``backend="ray"`` runs each
    item as a one-CPU Ray task (on the cluster at ``ray_address``, or a local Ray).
    """
    items = list(items)
    if backend == "ray":
        _execute_ray(function, items, ray_address, on_result)
    elif jobs == 1:
        for item in items:
            on_result(*function(item))
    else:
        threads = threads_per_job(jobs)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                 initializer=_start_worker, initargs=(threads, os.getpid())) as pool:
            futures = [pool.submit(function, item) for item in items]
            for future in as_completed(futures):
                on_result(*future.result())


def _execute_ray(function: Callable, items: list, address: str | None, on_result: Callable) -> None:
    import ray

    if not ray.is_initialized():
        threads = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "TF_CPP_MIN_LOG_LEVEL": "3"}
        ray.init(address=address, runtime_env={"env_vars": threads}, log_to_driver=False)
    task = ray.remote(num_cpus=1)(function)
    pending = [task.remote(item) for item in items]
    while pending:
        finished, pending = ray.wait(pending, num_returns=1)
        on_result(*ray.get(finished[0]))


def check_backend(backend: str) -> None:
    """A ValueError saying how to install Ray when ``backend="ray"`` cannot import it."""
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise ValueError("--backend ray needs Ray: pip install -r requirements-ray.txt")
