"""Benchmarks: the polynomial-method kernel (K5, issue 3), prompt-tuning steps through it and
the empirical capacity of gradient-trained prompts (issue 8).

``python -m verify bench kernel [--quick] [--json FILE] [--device cpu|cuda]``,
``python -m verify bench train [--quick] [--json FILE]`` (step time fast vs exact, see
:data:`TRAIN_HONESTY`) and ``python -m verify bench capacity [--quick] [--json FILE]``
(:mod:`core.capacity_sweep`); the CLI calls :func:`main` with the arguments after
``bench``. Paper label ``thm:inference_linear``.

Headline configuration: ``n = 65536`` keys and queries (all ``n`` query columns), ``s = d = 8``,
``B = 0.5``, float64, target ``δ_F = 1e-6`` in max norm, with Alman–Song's ``β = 1/d``
(so ``R = β·s·B² = 0.25``). Inputs: ``Q, K`` uniform in ``[−B, B]``, ``V`` uniform in
``[−1, 1]`` (so ``‖V‖_max <= 1`` and the plan's ``ε = δ_F/(2 + δ_F)``).

Measured in one run: wall time of the fast kernel (best of a few), of each exact peer
(:func:`core.attention.exact_attention` and chunked torch SDPA — SDPA materialises the
``n × n`` block, so both are chunked over queries), the max error against the exact float64
reference, log-log slopes of time over ``n``, the fast path's peak memory, Performer FAVOR+
at equal wall time, and the time of the kernel's two GEMMs alone. The JSON is written
atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.attention import exact_attention
from core.capacity_sweep import CapacitySetting, SweepConfig, capacity_sweep
from core.errors import InvalidArgument
from core.kernels import (
    KernelPlan,
    eps_for_error,
    favor_plus_attention,
    phase_transition_table,
    plan_kernel,
    polynomial_attention_with_info,
    sdpa_attention,
)
from core.kernels.certify import certify_polynomial
from core.kernels.phase import crossing_ratio
from core.model import PromptTunedTransformer
from core.prompt_tuning import prompt_loss
from core.weights import TransformerWeights

from .report import write_atomically

__all__ = ["BenchConfig", "TrainBenchConfig", "main", "run_capacity_bench", "run_kernel_bench",
           "run_train_bench", "write_json_atomically"]

PAPER_REF = "thm:inference_linear"


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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[float, Any]:
    """Best wall time over ``repeats`` calls and the last result."""
    best, result = math.inf, None
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        result = fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def _inputs(n: int, B: float, cfg: BenchConfig, device: torch.device, seed: int
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    Q = (torch.rand(cfg.s, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    K = (torch.rand(cfg.s, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    V = torch.rand(cfg.d, n, generator=gen, dtype=torch.float64) * 2 - 1
    return Q.to(device), K.to(device), V.to(device)


def _plan(cfg: BenchConfig, B: float) -> KernelPlan:
    return plan_kernel(s=cfg.s, B=B, beta=cfg.beta, eps=eps_for_error(cfg.delta_F, 1.0),
                       certifier=certify_polynomial)


_PEAK_SCRIPT = """
import sys
import torch
from verify.bench import BenchConfig, _inputs, _plan, _peak_rss_delta
from core.kernels import polynomial_attention_with_info
cfg = BenchConfig(quick=False)
n, B, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
plan = _plan(cfg, B)
Q, K, V = _inputs(n, B, cfg, torch.device("cpu"), seed)
print(_peak_rss_delta(lambda: polynomial_attention_with_info(Q, K, V, plan)))
"""


def _peak_rss_delta(fn: Callable[[], Any]) -> float | None:
    """Peak resident memory added while ``fn`` runs, in MiB (Linux: resets ``VmHWM``)."""
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
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(n), str(B), str(seed)],
                          capture_output=True, text=True, env=env, cwd=root, check=False)
    text = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "None"
    return None if done.returncode or text == "None" else float(text)


def _slope(ns: list[int], seconds: list[float]) -> float:
    return float(np.polyfit(np.log(ns), np.log(seconds), 1)[0])


def _max_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def _performer_equal_time(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float,
                          target_seconds: float, start_features: int,
                          device: torch.device) -> tuple[int, float, torch.Tensor]:
    """FAVOR+ with the feature count rescaled (three times) until its time matches the target.

    Returns the feature count whose best-of-two time came closest to ``target_seconds``.
    """
    def run(features: int) -> tuple[float, torch.Tensor]:
        return _timed(partial(favor_plus_attention, Q, K, V, beta, num_features=features),
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
        t_fast, (fast, info) = _timed(
            partial(polynomial_attention_with_info, Q, K, V, plan), dev, cfg.fast_repeats)
        t_ref, ref = _timed(partial(exact_attention, Q, K, V, cfg.beta), dev, exact_repeats)
        t_sdpa, sdpa = _timed(partial(sdpa_attention, Q, K, V, cfg.beta), dev, exact_repeats)
        error = _max_error(fast, ref)
        base = {"n": n, "B": cfg.B, "degree": plan.degree, "rank": plan.rank}
        rows += [
            {**base, "method": "polynomial", "seconds": t_fast, "max_error": error,
             "bound": info.bound, "rounding_bound": info.rounding_bound},
            {**base, "method": "exact_reference", "seconds": t_ref, "max_error": 0.0},
            {**base, "method": "sdpa_chunked", "seconds": t_sdpa,
             "max_error": _max_error(sdpa, ref)},
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
                         "max_error": _max_error(perf, ref), "features": features})
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
                "performer_max_error": _max_error(perf, ref),
            }
    headline["slope_fast"] = _slope(ns, fast_times)
    headline["slope_exact"] = _slope(ns, exact_times)
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
        "convention": "beta = 1/d (Alman-Song); B = max(|Q|_max, |K|_max); R = beta*s*B^2",
        "device": _device_name(dev), "torch": torch.__version__,
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
        t_fast, (fast, info) = _timed(partial(polynomial_attention_with_info, Q, K, V, plan),
                                      dev, cfg.fast_repeats)
        features, t_perf, perf = _performer_equal_time(Q, K, V, cfg.beta, t_fast, plan.rank,
                                                       dev)
        base = {"n": n, "B": B, "degree": plan.degree, "rank": plan.rank}
        fast_error, perf_error = _max_error(fast, ref), _max_error(perf, ref)
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

    return _timed(both, dev, 3)[0]


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def write_json_atomically(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON to ``path`` (creating its folder) via the report writer's
    temporary file and ``os.replace``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, json.dumps(payload, indent=2, sort_keys=True, allow_nan=True) + "\n")


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


# --- prompt tuning: training-step benchmark and empirical capacity (issue 8) ----------------

TRAIN_HONESTY = (
    "full-sequence setting: the loss covers all n = L_p + L outputs (as for the first layer "
    "of a deeper stack). With the one-layer model's readout of only the last L columns, "
    "exact attention is already linear in n (only L queries), so the kernel has nothing to "
    "win there; the readout-only rows show it.")


class TrainBenchConfig:
    """Sizes of ``bench train`` (``full``: ``L_p`` in 4096, 16384, 65536)."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.d = self.s = 8
        self.L = 16
        self.B = 0.5
        self.delta_F = 1e-6
        self.beta = 1.0 / self.d
        self.lr = 1e-3
        self.prompt_lengths: tuple[int, ...] = (1024, 4096) if quick else (4096, 16384, 65536)
        self.fast_repeats = 3
        self.query_chunk = 1024


def _train_exact_repeats(n: int) -> int:
    return 2 if n <= 5000 else 1


def train_bench_model(cfg: TrainBenchConfig, seed: int = 0) -> PromptTunedTransformer:
    """Frozen one-layer τ: ``W_Q, W_K`` uniform in ``[−0.05, 0.05]`` (so ``|Q|, |K| <= 0.4``
    for tokens in ``[−1, 1]^8``), ``W_V, W_O ~ N(0, 1/d)``, ``β = 1/d``, no FF layers."""
    rng = np.random.default_rng(seed)
    d = cfg.d
    weights = TransformerWeights(
        w_q=rng.uniform(-0.05, 0.05, (d, d)), w_k=rng.uniform(-0.05, 0.05, (d, d)),
        w_v=rng.normal(0.0, 1.0 / math.sqrt(d), (d, d)),
        w_o=rng.normal(0.0, 1.0 / math.sqrt(d), (d, d)), beta=cfg.beta)
    return PromptTunedTransformer(weights)


def _train_steps(model: PromptTunedTransformer, X: torch.Tensor, Y: torch.Tensor,
                 P0: torch.Tensor, plan: KernelPlan | None, full: bool, repeats: int,
                 query_chunk: int) -> tuple[float, torch.Tensor]:
    """Best wall time of one Adam step (forward + backward + update) over ``repeats``
    consecutive steps from ``P0``, and the gradient of the first step."""
    P = P0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([P], lr=1e-3)
    best, first = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        opt.zero_grad()
        prompt_loss(model, X, Y, P, plan=plan, full=full, query_chunk=query_chunk,
                    exact_method="sdpa").backward()
        opt.step()
        best = min(best, time.perf_counter() - start)
        if first is None:
            assert P.grad is not None
            first = P.grad.detach().clone()
    assert first is not None
    return best, first


def _warm_up(model: PromptTunedTransformer, plan: KernelPlan, cfg: TrainBenchConfig) -> None:
    """One untimed fast and exact full-sequence step at ``L_p = 1024`` (feature tables, the
    allocator's first large blocks), so the first timed size does not pay for them."""
    gen = torch.Generator().manual_seed(1)
    X = torch.rand(1, cfg.d, cfg.L, generator=gen, dtype=torch.float64)
    P0 = torch.rand(cfg.d, 1024, generator=gen, dtype=torch.float64) - 0.5
    Y = torch.rand(1, cfg.d, 1024 + cfg.L, generator=gen, dtype=torch.float64)
    for use in (plan, None):
        _train_steps(model, X, Y, P0, use, True, 1, cfg.query_chunk)


def run_train_bench(quick: bool = False, log: Callable[[str], None] = print,
                    prompt_lengths: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Training-step time, fast vs exact, at long prompts (see :data:`TRAIN_HONESTY`);
    ``prompt_lengths`` overrides the configured ``L_p`` list (tests use tiny ones)."""
    cfg = TrainBenchConfig(quick)
    if prompt_lengths is not None:
        cfg.prompt_lengths = prompt_lengths
    model = train_bench_model(cfg)
    plan = plan_kernel(s=cfg.s, B=cfg.B, beta=cfg.beta, eps=eps_for_error(cfg.delta_F, 1.0),
                       certifier=certify_polynomial)
    rows: list[dict[str, Any]] = []
    _warm_up(model, plan, cfg)
    for lp in cfg.prompt_lengths:
        gen = torch.Generator().manual_seed(lp)
        X = torch.rand(1, cfg.d, cfg.L, generator=gen, dtype=torch.float64)
        P0 = torch.rand(cfg.d, lp, generator=gen, dtype=torch.float64) - 0.5
        n = lp + cfg.L
        for full in (True, False):
            m = n if full else cfg.L
            Y = torch.rand(1, cfg.d, m, generator=gen, dtype=torch.float64)
            exact_repeats = _train_exact_repeats(n) if full else cfg.fast_repeats
            t_fast, g_fast = _train_steps(model, X, Y, P0, plan, full, cfg.fast_repeats,
                                          cfg.query_chunk)
            t_exact, g_exact = _train_steps(model, X, Y, P0, None, full, exact_repeats,
                                            cfg.query_chunk)
            row = {"L_p": lp, "n": n, "setting": "full" if full else "readout",
                   "seconds_fast": t_fast, "seconds_exact": t_exact,
                   "ratio_exact_over_fast": t_exact / t_fast,
                   "fast_repeats": cfg.fast_repeats, "exact_repeats": exact_repeats,
                   "grad_max_abs_diff": float((g_fast - g_exact).abs().max()),
                   "grad_max_abs": float(g_exact.abs().max())}
            rows.append(row)
            log(f"L_p={lp:>6} {row['setting']:<7} fast {t_fast:9.3f} s  exact {t_exact:9.3f} s"
                f" (best of {exact_repeats})  exact/fast {t_exact / t_fast:7.2f}  grad diff "
                f"{row['grad_max_abs_diff']:.2e} (max |grad| {row['grad_max_abs']:.2e})")
    return {
        "benchmark": "train", "quick": quick, "paper_ref": PAPER_REF,
        "honesty": TRAIN_HONESTY,
        "convention": "beta = 1/d (Alman-Song); B = max(|Q|_max, |K|_max); R = beta*s*B^2",
        "config": {"d": cfg.d, "s": cfg.s, "L": cfg.L, "B": cfg.B, "delta_F": cfg.delta_F,
                   "beta": cfg.beta, "optimizer": "adam", "lr": cfg.lr, "dtype": "float64",
                   "N": 1, "loss": "mean squared error vs targets uniform in [0, 1]",
                   "exact": "torch SDPA (core.kernels.peers.sdpa_attention, exact; faster "
                            "than the reference here) in query chunks of "
                            f"{cfg.query_chunk}, checkpointed (memory O(n·chunk))",
                   "model": "one attention layer with residual, no FF layers; W_Q, W_K "
                            "uniform in [-0.05, 0.05], W_V, W_O ~ N(0, 1/d); P uniform in "
                            "[-0.5, 0.5], X uniform in [0, 1]"},
        "plan": plan.summary(), "device": _device_name(torch.device("cpu")),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "rows": rows,
    }


def format_train_table(report: dict[str, Any]) -> str:
    """Printed summary of ``bench train``."""
    p = report["plan"]
    lines = [f"train benchmark ({'quick' if report['quick'] else 'full'}) on "
             f"{report['device']}, torch {report['torch']}, {report['threads']} threads; "
             f"{report['convention']}",
             f"plan: {p['method']} degree {p['degree']}, rank {p['rank']}, certified eps "
             f"{p['certified_eps']:.3g}; one step = forward + backward + Adam update",
             report["honesty"],
             f"{'L_p':>7} {'n':>7} {'setting':<8} {'fast s':>10} {'exact s':>10} "
             f"{'exact/fast':>10} {'grad diff':>10}"]
    for r in report["rows"]:
        lines.append(f"{r['L_p']:>7} {r['n']:>7} {r['setting']:<8} {r['seconds_fast']:>10.3f} "
                     f"{r['seconds_exact']:>10.3f} {r['ratio_exact_over_fast']:>10.2f} "
                     f"{r['grad_max_abs_diff']:>10.2e}")
    return "\n".join(lines)


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
    """The empirical-capacity sweep's JSON (:func:`core.capacity_sweep.capacity_sweep`)."""
    settings, cfg = capacity_settings(quick)
    start = time.perf_counter()
    report = capacity_sweep(settings, cfg, log)
    report["config"] = {**report["config"], "quick": quick,
                        "seconds": time.perf_counter() - start,
                        "threads": torch.get_num_threads()}
    return report


def format_capacity_table(report: dict[str, Any]) -> str:
    """Printed summary of ``bench capacity``."""
    lines = [report["label"],
             f"{'d':>2} {'L':>2} {'N':>3} {'eps':>5} {'smallest L_p':>12} {'constructive':>12} "
             f"{'lower bound':>11}  final errors (per tried L_p)"]
    for r in report["rows"]:
        errors = ", ".join(f"{lp}:{e:.3g}" for lp, e in zip(r["tried_Lp"], r["final_errors"],
                                                             strict=True))
        lines.append(f"{r['d']:>2} {r['L']:>2} {r['N']:>3} {r['eps']:>5} "
                     f"{r['smallest_Lp']!s:>12} {r['constructive_Lp']!s:>12} "
                     f"{r['lower_bound_Lp']:>11}  {errors}")
    return "\n".join(lines)


def _threads(value: int | None, default: int | None) -> int | None:
    """Apply ``--threads`` (or the subcommand's default); ``None`` keeps torch's choice."""
    chosen = value if value is not None else default
    if chosen is not None:
        torch.set_num_threads(chosen)
    return chosen


def main(argv: list[str]) -> int:
    """``bench {kernel,train,capacity} [--quick] [--json FILE] ...``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m verify bench",
                                     description="ptlimits benchmarks")
    sub = parser.add_subparsers(dest="which", required=True)
    kernel = sub.add_parser("kernel", help="polynomial-method kernel vs exact and Performer")
    kernel.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    train = sub.add_parser("train", help="prompt-tuning step time, kernel vs exact")
    capacity = sub.add_parser("capacity", help="empirical capacity of gradient-trained prompts")
    for p, quick_help in ((kernel, "small sizes (well under 1 min)"),
                          (train, "L_p in {1024, 4096} (about a minute)"),
                          (capacity, "four small settings (under 60 s)")):
        p.add_argument("--quick", action="store_true", help=quick_help)
        p.add_argument("--json", metavar="FILE", help="write the report as JSON (atomic)")
        p.add_argument("--threads", type=int, default=None,
                       help="torch intra-op threads (default: torch's choice; capacity: 1)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        print(f"bench: error: --threads={args.threads}: must be >= 1", file=sys.stderr)
        return 2
    before = torch.get_num_threads()
    _threads(args.threads, 1 if args.which == "capacity" else None)

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        if args.which == "kernel":
            report = run_kernel_bench(quick=args.quick, device=args.device, log=log)
            table = format_table(report)
        elif args.which == "train":
            report = run_train_bench(quick=args.quick, log=log)
            table = format_train_table(report)
        else:
            report = run_capacity_bench(quick=args.quick, log=log)
            table = format_capacity_table(report)
    except InvalidArgument as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(before)
    print(table)
    if args.json:
        write_json_atomically(args.json, report)
    return 0
