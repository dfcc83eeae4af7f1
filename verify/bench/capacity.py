"""The empirical-capacity benchmark (``ptlimits bench capacity``): prompts trained by gradient
descent to memorise random datasets on the one-layer model, the smallest tried ``L_p`` that
reaches the target error, beside the constructive length and the capacity lower bound of
docs/theory.md §2 (LB). Empirical: not evidence for or against the theorems.

The sweep itself is :func:`core.capacity_sweep.capacity_sweep`; this module chooses its
settings, times it and prints its table (:func:`verify.report.tables.capacity_table`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from core.capacity_sweep import CapacitySetting, SweepConfig, capacity_sweep

from ..report.tables import capacity_table
from ..report.text import text_table

__all__ = ["capacity_settings", "format_capacity_table", "run_capacity_bench"]


def capacity_settings(quick: bool) -> tuple[list[CapacitySetting], SweepConfig]:
    """Settings and training choices of ``bench capacity`` (quick: well under 60 s)."""
    if quick:
        settings = [CapacitySetting(1, 1, N, 0.1) for N in (1, 2, 4)] + [
            CapacitySetting(2, 1, 2, 0.1)]
        return settings, SweepConfig(steps=300, lr=0.1, hidden_factor=16,
                                     prompt_lengths=(1, 2, 4, 8))
    settings = [CapacitySetting(d, L, N, eps) for d, L in ((1, 1), (2, 1), (2, 2))
                for eps in (0.1, 0.25) for N in (1, 2, 4, 8)]
    return settings, SweepConfig(steps=600, lr=0.1, hidden_factor=16,
                                 prompt_lengths=(1, 2, 4, 8, 16, 32))


def run_capacity_bench(quick: bool = False,
                       log: Callable[[str], None] = print) -> dict[str, Any]:
    """The empirical-capacity sweep's JSON (:func:`core.capacity_sweep.capacity_sweep`), its
    ``config`` completed with ``quick``, the wall time and torch's thread count."""
    settings, cfg = capacity_settings(quick)
    start = time.perf_counter()
    report = capacity_sweep(settings, cfg, log)
    report["config"] = {**report["config"], "quick": quick,
                        "seconds": time.perf_counter() - start,
                        "threads": torch.get_num_threads()}
    return report


def format_capacity_table(report: dict[str, Any]) -> str:
    """Printed summary of ``bench capacity``: its label, then the capacity table."""
    return "\n".join([report["label"], *text_table(*capacity_table(report))])
