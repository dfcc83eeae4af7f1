"""What every benchmark shares: timing with device synchronisation and a check for foreign
load, the device's name, log-log slopes, peak resident memory, torch's thread count, and the
atomic JSON write."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..files import write_atomically

__all__ = ["Timing", "device_name", "foreign_load", "json_safe", "max_error", "peak_rss_delta",
           "slope", "sync", "timed", "timing", "torch_threads", "write_json_atomically"]

#: Paper label of the kernel and training benchmarks (docs/theory.md §3, K5).
PAPER_REF = "thm:inference_linear"

#: How the kernel and training benchmarks relate the inputs to the score radius.
CONVENTION = "beta = 1/d (Alman-Song); B = max(|Q|_max, |K|_max); R = beta*s*B^2"


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


#: A timed call is re-timed when other processes kept more than this share of the cores
#: busy during it (:func:`foreign_load`), at most :data:`MAX_RETIMES` times per call.
FOREIGN_LOAD_LIMIT = 0.10
MAX_RETIMES = 3


def _busy_jiffies() -> tuple[int, int] | None:
    """``(all CPUs' busy ticks, this process's ticks)`` from ``/proc``; ``None`` elsewhere."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        with open("/proc/self/stat") as handle:
            own = handle.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)   # minus idle, iowait
    return busy, int(own[11]) + int(own[12])                                # utime + stime


def foreign_load(before: tuple[int, int] | None, after: tuple[int, int] | None,
                 seconds: float) -> float | None:
    """Share of all cores that *other* processes kept busy between two
    :func:`_busy_jiffies` readings ``seconds`` apart (``None`` without ``/proc``, or for
    calls shorter than four clock ticks, which ``/proc`` cannot resolve)."""
    ticks = os.sysconf("SC_CLK_TCK")
    if before is None or after is None or seconds * ticks < 4:
        return None
    other = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, other / (seconds * ticks * (os.cpu_count() or 1)))


@dataclass(frozen=True)
class Timing:
    """Wall times of repeated calls: ``median`` (the figure reported), ``best``, every
    accepted ``seconds``, how many calls were re-timed for foreign load, and the largest
    foreign load accepted (``None`` where it could not be measured)."""

    median: float
    best: float
    seconds: tuple[float, ...]
    retimed: int
    max_foreign_load: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "best": self.best, "seconds": list(self.seconds),
                "retimed": self.retimed, "max_foreign_load": self.max_foreign_load}


def timing(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[Timing, Any]:
    """Median wall time of ``repeats`` calls (each re-timed up to :data:`MAX_RETIMES`
    times while other processes load the cores above :data:`FOREIGN_LOAD_LIMIT`), and the
    last result. CUDA calls are synchronised before and after."""
    accepted: list[float] = []
    loads: list[float] = []
    retimed, result = 0, None
    for _ in range(repeats):
        for attempt in range(MAX_RETIMES + 1):
            sync(device)
            before, start = _busy_jiffies(), time.perf_counter()
            result = fn()
            sync(device)
            seconds = time.perf_counter() - start
            load = foreign_load(before, _busy_jiffies(), seconds)
            if load is None or load <= FOREIGN_LOAD_LIMIT or attempt == MAX_RETIMES:
                break
            retimed += 1
        accepted.append(seconds)
        if load is not None:
            loads.append(load)
    return Timing(median=float(np.median(accepted)), best=min(accepted),
                  seconds=tuple(accepted), retimed=retimed,
                  max_foreign_load=max(loads) if loads else None), result


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[float, Any]:
    """:func:`timing`'s median and the last result."""
    stats, result = timing(fn, device, repeats)
    return stats.median, result


def slope(ns: list[int], seconds: list[float]) -> float:
    """Least-squares slope of ``log seconds`` against ``log n``."""
    return float(np.polyfit(np.log(ns), np.log(seconds), 1)[0])


def max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max |a − b|`` over all entries."""
    return float((a - b).abs().max())


def device_name(dev: torch.device) -> str:
    """``cuda: NAME`` or ``cpu: PROCESSOR, N cores``."""
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def peak_rss_delta(fn: Callable[[], Any]) -> float | None:
    """Peak resident memory added while ``fn`` runs, in MiB (Linux: resets ``VmHWM``);
    ``None`` where the kernel offers no reset."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return None

    def field(name: str) -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(name):
                    return int(line.split()[1])
        raise OSError(name)

    before = field("VmRSS:")
    fn()
    return (field("VmHWM:") - before) / 1024


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads (``None``: torch's choice), then
    restore the previous count."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON has no such
    numbers, and ``audit --bench-json``/``--capacity-json`` refuse them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json_atomically(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as strict JSON (non-finite numbers as ``null``, :func:`json_safe`)
    to ``path`` (creating its folder) via a temporary file and ``os.replace``
    (:func:`verify.files.write_atomically`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_safe(payload), indent=2, sort_keys=True, allow_nan=False)
    write_atomically(target, text + "\n")
