"""Running independent pieces of a kernel on the CPU's cores (docs/design.md, "Kernels").

The kernels' inner operations are small (a feature block, a score tile): split over OpenMP
threads each op ends in a barrier, and one descheduled thread (another job on a shared
core) stalls them all — measured 10–40× slower on a loaded 2-core machine. Instead, whole
pieces of work (key chunks, query tiles) go to Python threads, each running torch at one
intra-op thread; torch releases the GIL inside its ops, so the threads use the cores.

:func:`run_jobs` runs a list of callables that way and returns their results in order;
:func:`cpu_workers` says how many threads a piece of work should use. torch's intra-op
thread count is global, so it is set to 1 for the duration and restored afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

__all__ = ["cpu_workers", "run_jobs", "split_range"]

T = TypeVar("T")


def cpu_workers(device: torch.device, pieces: int) -> int:
    """Threads for ``pieces`` independent pieces on ``device``: torch's intra-op thread
    count on a CPU (at most one per piece, at least 1), and 1 elsewhere (a GPU parallelises
    each op itself)."""
    if device.type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), pieces))


def split_range(count: int, parts: int) -> list[range]:
    """``range(count)`` cut into ``parts`` contiguous, nearly equal ranges (the first
    ``count % parts`` one longer); empty ranges dropped. Static, so every run sums in the
    same order."""
    size, extra = divmod(count, parts)
    out, start = [], 0
    for p in range(parts):
        stop = start + size + (1 if p < extra else 0)
        if stop > start:
            out.append(range(start, stop))
        start = stop
    return out


def run_jobs(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Each job's result, in order. One job runs in the calling thread; several run in as
    many threads with torch at one intra-op thread (restored on return). The first job
    that raises has its exception re-raised after all have finished."""
    if len(jobs) == 1:
        return [jobs[0]()]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = [pool.submit(job) for job in jobs]
            return [f.result() for f in futures]
    finally:
        torch.set_num_threads(before)
