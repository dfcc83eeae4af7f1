"""Where audit work runs: in-process, a local process pool, or a Dask cluster.

Every executor is a :class:`concurrent.futures.Executor`; a Dask ``Client`` provides one
through ``client.get_executor()``, so the audit's scheduling code is the same for all three.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from core.errors import InvalidArgument

__all__ = ["SerialExecutor", "describe_executor", "open_executor"]


class SerialExecutor(Executor):
    """Runs each task immediately in this process (``--jobs 1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, like a pool would
            future.set_exception(exc)
        return future


def describe_executor(spec: str, jobs: int | None) -> str:
    """A one-line description for the report header."""
    if spec.startswith("dask://"):
        return spec
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    return "serial" if workers == 1 else f"process pool ({workers} workers)"


@contextmanager
def open_executor(spec: str = "local", jobs: int | None = None) -> Iterator[Executor]:
    """Yield an executor for ``spec``: ``"local"`` or ``"dask://HOST:PORT"``.

    ``jobs`` is the number of local worker processes (default: the CPU count); ``1`` runs
    everything in this process. Worker processes are started with ``spawn`` (safe with
    torch's thread pools).
    """
    if jobs is not None and jobs < 1:
        raise InvalidArgument(f"jobs={jobs!r}: must be >= 1")
    if spec.startswith("dask://"):
        address = spec[len("dask://"):]
        if not address or ":" not in address:
            raise InvalidArgument(f"executor={spec!r}: expected dask://HOST:PORT")
        try:
            from distributed import Client
        except ImportError:
            raise InvalidArgument(
                f"executor={spec!r}: needs the 'distributed' package "
                "(pip install 'ptlimits[dask]')") from None
        try:
            client = Client(f"tcp://{address}", timeout=10)
        except OSError as exc:
            raise InvalidArgument(
                f"executor={spec!r}: cannot reach a Dask scheduler ({exc})") from None
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    if spec != "local":
        raise InvalidArgument(f"executor={spec!r}: expected 'local' or 'dask://HOST:PORT'")
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers == 1:
        yield SerialExecutor()
        return
    pool = ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
