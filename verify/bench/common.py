"""What every benchmark shares: timing with device synchronisation, the device's name,
log-log slopes, peak resident memory, torch's thread count, and the atomic JSON write."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..files import write_atomically

__all__ = ["device_name", "json_safe", "max_error", "peak_rss_delta", "slope", "sync", "timed",
           "torch_threads", "write_json_atomically"]

#: Paper label of the kernel and training benchmarks (docs/theory.md §3, K5).
PAPER_REF = "thm:inference_linear"

#: How the kernel and training benchmarks relate the inputs to the score radius.
CONVENTION = "beta = 1/d (Alman-Song); B = max(|Q|_max, |K|_max); R = beta*s*B^2"


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[float, Any]:
    """Best wall time over ``repeats`` calls and the last result."""
    best, result = math.inf, None
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        result = fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best, result


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
