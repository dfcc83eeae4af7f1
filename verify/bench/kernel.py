"""The kernel benchmark (``ptlimits bench kernel``): the polynomial-method kernel of
docs/theory.md §3 (K5, paper label ``thm:inference_linear``) against exact attention and
Performer FAVOR+.

Headline configuration: ``n = 65536`` keys and queries (all ``n`` query columns), ``s = d = 8``,
``B = 0.5``, float64, target ``δ_F = 1e-6`` in max norm, with Alman–Song's ``β = 1/d``
(so ``R = β·s·B² = 0.25``). Inputs: ``Q, K`` ``(s, n)`` uniform in ``[−B, B]``, ``V``
``(d, n)`` uniform in ``[−1, 1]`` (so ``‖V‖_max <= 1`` and the plan's ``ε = δ_F/(2 + δ_F)``).

Measured in one run: wall time of the fast kernel (best of a few), of each exact peer
(:func:`core.attention.exact_attention` and chunked torch SDPA — SDPA materialises the
``n × n`` block, so both are chunked over queries), the max error against the exact float64
reference, log-log slopes of time over ``n``, the fast path's peak memory, Performer FAVOR+
at equal wall time (at the headline ``n`` and in a sweep over ``B``), the time of the
kernel's two GEMMs alone, and the K6 phase-transition table.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.attention import exact_attention
from core.errors import InvalidArgument
from core.kernels import (
    KernelPlan,
    KernelRegime,
    favor_plus_attention,
    phase_transition_table,
    plan_for,
    polynomial_attention_with_info,
    sdpa_attention,
)
from core.kernels.phase import crossing_ratio

from .common import CONVENTION, PAPER_REF, device_name, max_error, slope, timed

__all__ = ["BenchConfig", "format_table", "run_kernel_bench"]


class BenchConfig:
    """Sizes of one benchmark run (``full`` or ``quick``)."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.s = self.d = 8
        self.B = 0.5
        self.delta_F = 1e-6
        self.beta = 1.0 / self.d
        self.log2_ns = (9, 10, 11) if quick else (12, 13, 14, 15, 16)
        self.headline_n = 2 ** self.log2_ns[-1]
        self.sweep_n = 2**10 if quick else 2**14
        self.sweep_B = (0.25, 0.5) if quick else (0.25, 0.5, 1.0)
        self.fast_repeats = 2 if quick else 5
        self.phase_log2_ns = tuple(range(10, 17))
        self.phase_ratios = tuple(float(c) for c in np.linspace(0.05, 1.5, 30))



def _inputs(n: int, B: float, cfg: BenchConfig, device: torch.device, seed: int
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    Q = (torch.rand(cfg.s, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    K = (torch.rand(cfg.s, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    V = torch.rand(cfg.d, n, generator=gen, dtype=torch.float64) * 2 - 1
    return Q.to(device), K.to(device), V.to(device)


def _plan(cfg: BenchConfig, B: float) -> KernelPlan:
    return plan_for(KernelRegime(s=cfg.s, beta=cfg.beta, B=B, delta_F=cfg.delta_F))



_PEAK_SCRIPT = """
import sys
import torch
from verify.bench.common import peak_rss_delta
from verify.bench.kernel import BenchConfig, _inputs, _plan
from core.kernels import polynomial_attention_with_info
cfg = BenchConfig(quick=False)
n, B, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
plan = _plan(cfg, B)
Q, K, V = _inputs(n, B, cfg, torch.device("cpu"), seed)
print(peak_rss_delta(lambda: polynomial_attention_with_info(Q, K, V, plan)))
"""


def _peak_mib_fast(n: int, B: float, seed: int, dev: torch.device) -> float | None:
    """Peak extra memory of one fast call at size ``n``, measured in a fresh process.

    CPU: a child process with glibc's mmap threshold pinned at 128 KiB (so freed blocks are
    returned to the system and never silently reused) resets its peak RSS, runs the kernel
    once and reports the rise. CUDA: ``torch.cuda.max_memory_allocated`` around one call.
    """
    if dev.type == "cuda":
        cfg = BenchConfig(quick=False)
        plan = _plan(cfg, B)
        Q, K, V = _inputs(n, B, cfg, dev, seed)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        polynomial_attention_with_info(Q, K, V, plan)
        return (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(n), str(B), str(seed)],
                          capture_output=True, text=True, env=env, cwd=root, check=False)
    text = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "None"
    return None if done.returncode or text == "None" else float(text)


def _performer_equal_time(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float,
                          target_seconds: float, start_features: int,
                          device: torch.device) -> tuple[int, float, torch.Tensor]:
    """FAVOR+ with the feature count rescaled (three times) until its time matches the target.

    Returns the feature count whose best-of-two time came closest to ``target_seconds``.
    """
    def run(features: int) -> tuple[float, torch.Tensor]:
        return timed(partial(favor_plus_attention, Q, K, V, beta, num_features=features),
                      device, 2)

    features = start_features
    seconds, out = run(features)
    best = (abs(math.log(seconds / target_seconds)), features, seconds, out)
    for _ in range(3):
        features = int(min(max(8, round(features * target_seconds / seconds)), 1 << 16))
        seconds, out = run(features)
        best = min(best, (abs(math.log(seconds / target_seconds)), features, seconds, out),
                   key=lambda item: item[0])
    return best[1], best[2], best[3]


def run_kernel_bench(quick: bool = False, device: str = "cpu",
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark and return the JSON-able report (see the module docstring)."""
    cfg = BenchConfig(quick)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(f"device={device!r}: CUDA is not available on this machine")
    plan = _plan(cfg, cfg.B)
    warm = _inputs(64, cfg.B, cfg, dev, seed=0)
    polynomial_attention_with_info(*warm, plan)             # builds the monomial tables
    rows: list[dict[str, Any]] = []
    ns, fast_times, exact_times = [], [], []
    headline: dict[str, Any] = {}
    for k in cfg.log2_ns:
        n = 2**k
        Q, K, V = _inputs(n, cfg.B, cfg, dev, seed=k)
        exact_repeats = 3 if n <= 2**13 else (2 if n <= 2**14 else 1)
        t_fast, (fast, info) = timed(
            partial(polynomial_attention_with_info, Q, K, V, plan), dev, cfg.fast_repeats)
        t_ref, ref = timed(partial(exact_attention, Q, K, V, cfg.beta), dev, exact_repeats)
        t_sdpa, sdpa = timed(partial(sdpa_attention, Q, K, V, cfg.beta), dev, exact_repeats)
        error = max_error(fast, ref)
        base = {"n": n, "B": cfg.B, "degree": plan.degree, "rank": plan.rank}
        rows += [
            {**base, "method": "polynomial", "seconds": t_fast, "max_error": error,
             "bound": info.bound, "rounding_bound": info.rounding_bound},
            {**base, "method": "exact_reference", "seconds": t_ref, "max_error": 0.0},
            {**base, "method": "sdpa_chunked", "seconds": t_sdpa,
             "max_error": max_error(sdpa, ref)},
        ]
        ns.append(n)
        fast_times.append(t_fast)
        exact_times.append(min(t_ref, t_sdpa))
        log(f"n={n:>6}  fast {t_fast:8.3f} s  exact {t_ref:8.3f} s  sdpa {t_sdpa:8.3f} s  "
            f"error {error:.2e} (bound {info.bound:.2e})")
        if n == cfg.headline_n:
            features, t_perf, perf = _performer_equal_time(Q, K, V, cfg.beta, t_fast,
                                                           plan.rank, dev)
            rows.append({**base, "method": "performer_equal_time", "seconds": t_perf,
                         "max_error": max_error(perf, ref), "features": features})
            peak = _peak_mib_fast(n, cfg.B, k, dev)
            gemm = _gemm_seconds(n, plan.rank, cfg.d, dev)
            headline = {
                "n": n, "d": cfg.d, "s": cfg.s, "B": cfg.B, "beta": cfg.beta,
                "delta_F": cfg.delta_F, "method": plan.method, "degree": plan.degree,
                "rank": plan.rank, "certified_eps": plan.certified_eps,
                "seconds_fast": t_fast, "seconds_exact_best": min(t_ref, t_sdpa),
                "exact_best_method": "exact_reference" if t_ref <= t_sdpa else "sdpa_chunked",
                "speedup": min(t_ref, t_sdpa) / t_fast, "max_error": error,
                "bound": info.bound, "rounding_bound": info.rounding_bound,
                "peak_mib_fast": peak, "peak_mib_fast_model": info.peak_feature_bytes / 2**20,
                "chunk": info.chunk, "gemm_seconds": gemm, "gemm_ratio": t_fast / gemm,
                "performer_features": features, "performer_seconds": t_perf,
                "performer_max_error": max_error(perf, ref),
            }
    headline["slope_fast"] = slope(ns, fast_times)
    headline["slope_exact"] = slope(ns, exact_times)
    headline["slope_range"] = [ns[0], ns[-1]]
    rows += _sweep_rows(cfg, dev, log)
    sweep_ratio = [
        min(r["max_error"] for r in rows if r["B"] == B and r["method"] == "performer_equal_time")
        / max(r["max_error"] for r in rows if r["B"] == B and r["method"] == "polynomial_sweep")
        for B in cfg.sweep_B if B <= 0.5]
    headline["performer_error_ratio_min_B_le_half"] = min(sweep_ratio)
    phase = phase_transition_table(cfg.phase_log2_ns, cfg.phase_ratios, s=cfg.s)
    return {
        "benchmark": "kernel", "quick": quick, "paper_ref": PAPER_REF,
        "convention": CONVENTION,
        "device": device_name(dev), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "python": platform.python_version(),
        "platform": platform.platform(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "plan": plan.summary(), "certificate": plan.certificate.as_dict(),
        "headline": headline, "rows": rows,
        "phase_transition": {
            "convention": "beta = 1/s, delta_F = 1/n, |V|_max <= 1, Taylor degree",
            "rows": [row.__dict__ for row in phase],
            "crossing": {str(2**k): crossing_ratio(phase, float(k))
                         for k in cfg.phase_log2_ns}},
    }


def _sweep_rows(cfg: BenchConfig, dev: torch.device,
                log: Callable[[str], None]) -> list[dict[str, Any]]:
    """At ``n = sweep_n``: fast kernel and equal-time Performer for each ``B``."""
    rows = []
    n = cfg.sweep_n
    for B in cfg.sweep_B:
        plan = _plan(cfg, B)
        Q, K, V = _inputs(n, B, cfg, dev, seed=1000 + int(100 * B))
        ref = exact_attention(Q, K, V, cfg.beta)
        t_fast, (fast, info) = timed(partial(polynomial_attention_with_info, Q, K, V, plan),
                                      dev, cfg.fast_repeats)
        features, t_perf, perf = _performer_equal_time(Q, K, V, cfg.beta, t_fast, plan.rank,
                                                       dev)
        base = {"n": n, "B": B, "degree": plan.degree, "rank": plan.rank}
        fast_error, perf_error = max_error(fast, ref), max_error(perf, ref)
        rows += [{**base, "method": "polynomial_sweep", "seconds": t_fast,
                  "max_error": fast_error, "bound": info.bound},
                 {**base, "method": "performer_equal_time", "seconds": t_perf,
                  "max_error": perf_error, "features": features}]
        log(f"B={B:<5} n={n}  fast {t_fast:.3f} s error {fast_error:.2e}  performer "
            f"({features} features) {t_perf:.3f} s error {perf_error:.2e}")
    return rows


def _gemm_seconds(n: int, rank: int, d: int, dev: torch.device) -> float:
    """Best time of the kernel's two GEMMs alone: ``(d+1, n)·(n, r)`` and ``(d+1, r)·(r, n)``."""
    a = torch.rand(d + 1, n, dtype=torch.float64, device=dev)
    b = torch.rand(n, rank, dtype=torch.float64, device=dev)
    c = torch.rand(d + 1, rank, dtype=torch.float64, device=dev)
    e = torch.rand(rank, n, dtype=torch.float64, device=dev)
    def both() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.matmul(a, b), torch.matmul(c, e)

    return timed(both, dev, 3)[0]


def format_table(report: dict[str, Any]) -> str:
    """The printed summary: headline figures, then every row."""
    h = report["headline"]
    lines = [
        f"kernel benchmark ({'quick' if report['quick'] else 'full'}) on {report['device']}, "
        f"torch {report['torch']}, {report['threads']} threads; {report['convention']}",
        f"headline n={h['n']} s=d={h['d']} B={h['B']} delta_F={h['delta_F']}: "
        f"{h['method']} degree {h['degree']}, rank {h['rank']}",
        f"  fast {h['seconds_fast']:.3f} s   exact best {h['seconds_exact_best']:.3f} s "
        f"({h['exact_best_method']})   speedup {h['speedup']:.1f}x",
        f"  max error {h['max_error']:.3e}   bound {h['bound']:.3e}   slopes fast "
        f"{h['slope_fast']:.3f} exact {h['slope_exact']:.3f}",
        f"  peak MiB fast {h['peak_mib_fast']}  (model {h['peak_mib_fast_model']:.1f})   "
        f"GEMM ratio {h['gemm_ratio']:.2f}   performer/fast error at equal time >= "
        f"{h['performer_error_ratio_min_B_le_half']:.3g} (B <= 0.5)",
        f"{'n':>7} {'B':>5} {'method':<22} {'seconds':>10} {'max_error':>11}",
    ]
    for row in report["rows"]:
        lines.append(f"{row['n']:>7} {row['B']:>5} {row['method']:<22} "
                     f"{row['seconds']:>10.4f} {row['max_error']:>11.3e}")
    return "\n".join(lines)

