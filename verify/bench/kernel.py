"""The kernel benchmark (``ptlimits bench kernel``): the polynomial-method kernel of
docs/theory.md §3 (K5, paper label ``thm:inference_linear``) against exact attention and
Performer FAVOR+.

Headline configuration: ``n = 65536`` keys and queries (all ``n`` query columns), ``s = d = 8``,
``B = 0.5``, float64, target ``δ_F = 1e-6`` in max norm, with Alman–Song's ``β = 1/d``
(so ``R = β·s·B² = 0.25``). Inputs: ``Q, K`` ``(s, n)`` uniform in ``[−B, B]``, ``V``
``(d, n)`` uniform in ``[−1, 1]`` (so ``‖V‖_max <= 1`` and the plan's ``ε = 4δ_F/(4 + δ_F²)``).

Measured in one run, every time the median of repeated calls re-timed while other processes
load the cores (:func:`verify.bench.common.timing`):

- the kernel with the inputs' instance radius (the headline; ``radius="instance"``) and
  with the plan's radius ``β·s·B²``;
- every exact peer: tiled GEMM attention (tile sizes tuned in this run), torch SDPA on
  4-D tensors, KeOps where it is installed, and the repo's reference
  :func:`core.attention.exact_attention` (timed up to ``2^14``); the headline speedup is
  against the fastest of them at the headline ``n``;
- every method's max error against a long-double reference on sampled query columns
  (:func:`_reference_columns`), and against the float64 reference on all columns;
- log-log slopes over 7 sizes, the kernel's achieved GFLOP/s against the machine's float64
  GEMM peak measured here, the time of the kernel's own GEMM passes (its chunks, features
  prebuilt), peak resident memory of one call in a fresh process (default allocator),
  Performer FAVOR+ at equal wall time, and the K6 phase-transition table.
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
from torch.utils._python_dispatch import TorchDispatchMode

from core.attention import exact_attention
from core.errors import InvalidArgument
from core.kernels import (
    KernelPlan,
    KernelRegime,
    favor_plus_attention,
    flop_model,
    keops_attention,
    keops_available,
    native,
    phase_transition_table,
    plan_for,
    polynomial_attention_with_info,
    sdpa_attention,
    tiled_exact_attention,
)
from core.kernels.fast_attention import rerun_native_passes
from core.kernels.op_count import MATRIX_PRODUCTS
from core.kernels.phase import crossing_ratio

from .common import CONVENTION, PAPER_REF, device_name, max_error, slope, timed, timing

__all__ = ["BenchConfig", "format_table", "headline_plan", "run_kernel_bench"]

#: Exact peers the headline speedup is taken against (the fastest measured in the run).
EXACT_PEERS = ("tiled_exact", "sdpa", "keops", "exact_reference")

#: Query columns on which every method is compared with the long-double reference.
REFERENCE_COLUMNS = 32


class BenchConfig:
    """Sizes of one benchmark run (``full`` or ``quick``)."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.s = self.d = 8
        self.B = 0.5
        self.delta_F = 1e-6
        self.beta = 1.0 / self.d
        self.log2_ns = (9, 10, 11, 12) if quick else (12, 13, 14, 15, 16, 17, 18)
        self.headline_n = 2**12 if quick else 2**16
        self.reference_max_n = 2**12 if quick else 2**14     # exact_reference timed up to
        self.keops_max_n = 2**12 if quick else 2**16         # KeOps timed up to
        self.scale_n = 2**13 if quick else 2**20             # the kernel alone, full/readout
        self.readout = 512
        #: β = 1/√d (the real-model convention): (B, sizes) timed against tiled exact
        self.sqrt_d_runs = ((0.5, (2**10,)),) if quick else ((0.5, (2**14, 2**16)),
                                                             (1.0, (2**12, 2**13)))
        #: tiles are tuned at a size near the headline: the best tiles at 2^13 (128 × 4096)
        #: were 14% slower at 2^15 than the best there (256 × 1024)
        self.tile_tune_n = 2**10 if quick else 2**15
        self.tile_grid = ((64, 1024), (128, 2048)) if quick else (
            (128, 1024), (256, 1024), (512, 512), (64, 4096), (128, 4096), (256, 2048))
        self.sweep_n = 2**10 if quick else 2**14
        self.sweep_B = (0.25, 0.5) if quick else (0.25, 0.5, 1.0)
        self.fast_repeats = 3 if quick else 7
        self.exact_repeats = 3
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


def headline_plan(cfg: BenchConfig) -> KernelPlan:
    """The certified plan the headline row runs (``B = cfg.B``)."""
    return _plan(cfg, cfg.B)



_PEAK_SCRIPT = """
import sys
import torch
from verify.bench.common import peak_rss_delta
from verify.bench.kernel import BenchConfig, _inputs, _plan
from core.kernels import polynomial_attention_with_info
cfg = BenchConfig(quick=False)
n, B, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
last = int(sys.argv[4]) or None
plan = _plan(cfg, B)
Q, K, V = _inputs(n, B, cfg, torch.device("cpu"), seed)
polynomial_attention_with_info(Q[:, :64], K[:, :64], V[:, :64], plan, radius="instance")
print(peak_rss_delta(lambda: polynomial_attention_with_info(Q, K, V, plan, last=last,
                                                            radius="instance")))
"""


def _peak_mib_fast(n: int, B: float, seed: int, dev: torch.device,
                   last: int | None = None) -> float | None:
    """Peak extra memory of one headline kernel call at size ``n``, measured, in MiB.

    CPU: a fresh child process (default allocator, as in the timed runs) builds the inputs
    and plans, warms the kernel on 64 columns, resets its peak RSS (``VmHWM``), runs the
    kernel once and reports the rise. CUDA: ``torch.cuda.max_memory_allocated`` around one
    call.
    """
    if dev.type == "cuda":
        cfg = BenchConfig(quick=False)
        plan = _plan(cfg, B)
        Q, K, V = _inputs(n, B, cfg, dev, seed)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        polynomial_attention_with_info(Q, K, V, plan, radius="instance", last=last)
        return (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(n), str(B), str(seed),
                           str(last or 0)],
                          capture_output=True, text=True, env=env, cwd=root, check=False)
    text = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "None"
    return None if done.returncode or text == "None" else float(text)


#: Rescalings of the Performer feature count, and how close its time must come (relative).
PERFORMER_RESCALES = 8
PERFORMER_TIME_TOLERANCE = 0.10


def _performer_equal_time(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float,
                          target_seconds: float, start_features: int,
                          device: torch.device) -> tuple[int, float, torch.Tensor]:
    """FAVOR+ with the feature count searched (up to :data:`PERFORMER_RESCALES` steps:
    rescaled by the ratio of the target to the last time until the target is bracketed,
    then geometric bisection; FAVOR+'s time is not linear in the feature count once its
    blocks leave the cache) until its median time is within
    :data:`PERFORMER_TIME_TOLERANCE` of ``target_seconds``.

    Returns the feature count whose median time came closest to ``target_seconds``.
    """
    def run(features: int) -> tuple[float, torch.Tensor]:
        return timed(partial(favor_plus_attention, Q, K, V, beta, num_features=features),
                     device, 3)

    features = start_features
    seconds, out = run(features)
    best = (abs(math.log(seconds / target_seconds)), features, seconds, out)
    under, over = (features, None) if seconds < target_seconds else (None, features)
    for _ in range(PERFORMER_RESCALES):
        if best[0] <= math.log1p(PERFORMER_TIME_TOLERANCE):
            break
        if under is not None and over is not None:    # bracketed: geometric bisection
            scaled = round(math.sqrt(under * over))
        else:                                         # not yet: proportional rescale
            scaled = round(features * target_seconds / seconds)
        scaled = int(min(max(8, scaled), 1 << 16))
        if scaled == features:                          # at a bound, or the bracket closed
            break
        features = scaled
        seconds, out = run(features)
        if seconds < target_seconds:
            under = features if under is None else max(under, features)
        else:
            over = features if over is None else min(over, features)
        best = min(best, (abs(math.log(seconds / target_seconds)), features, seconds, out),
                   key=lambda item: item[0])
    return best[1], best[2], best[3]


def _reference_columns(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float,
                       columns: np.ndarray) -> np.ndarray:
    """Exact attention ``(d, len(columns))`` at the given query columns in numpy long
    double (x86: 64-bit significand, ``u = 2^-64``; summed pairwise, so its own error is a
    few ``2^-64`` relative, far below any float64 method's)."""
    q = Q[:, columns].cpu().double().numpy().astype(np.longdouble)
    k = K.cpu().double().numpy().astype(np.longdouble)
    v = V.cpu().double().numpy().astype(np.longdouble)
    scores = np.longdouble(beta) * (k.T @ q)                    # (n, c)
    weights = np.exp(scores - scores.max(axis=0, keepdims=True))
    return (v @ weights) / weights.sum(axis=0, keepdims=True)


def _column_error(out: torch.Tensor, reference: np.ndarray, columns: np.ndarray) -> float:
    """``max |out − reference|`` over the sampled columns, in long double."""
    got = out[:, columns].cpu().double().numpy().astype(np.longdouble)
    return float(np.abs(got - reference).max())


def _tune_tiles(cfg: BenchConfig, dev: torch.device, log: Callable[[str], None]
                ) -> tuple[tuple[int, int], list[dict[str, Any]]]:
    """The fastest ``(query_tile, key_tile)`` of ``cfg.tile_grid`` for tiled exact
    attention at ``n = cfg.tile_tune_n`` (median of three), with every measurement."""
    Q, K, V = _inputs(cfg.tile_tune_n, cfg.B, cfg, dev, seed=7)
    tried = []
    for tq, tk in cfg.tile_grid:
        seconds, _ = timed(partial(tiled_exact_attention, Q, K, V, cfg.beta, query_tile=tq,
                                   key_tile=tk), dev, 3)
        tried.append({"query_tile": tq, "key_tile": tk, "seconds": seconds})
    best = min(tried, key=lambda t: t["seconds"])
    times = ", ".join(f"{t['seconds']:.3f}" for t in tried)
    log(f"tiled exact attention at n={cfg.tile_tune_n}: best tiles "
        f"{best['query_tile']} x {best['key_tile']} ({best['seconds']:.3f} s of {times})")
    return (best["query_tile"], best["key_tile"]), tried


#: An exact peer whose first call takes longer than this is not repeated (seconds).
LONG_CALL_SECONDS = 20.0


def _timed_peer(fn: Callable[[], torch.Tensor], dev: torch.device, repeats: int
                ) -> tuple[Any, torch.Tensor]:
    """:func:`timing` of an exact peer, cut to the first call when that call alone took
    over :data:`LONG_CALL_SECONDS` (its median would not change the verdict)."""
    first, out = timing(fn, dev, 1)
    if first.median > LONG_CALL_SECONDS or repeats == 1:
        return first, out
    return timing(fn, dev, repeats)


def _exact_peers(cfg: BenchConfig, n: int, tiles: tuple[int, int]
                 ) -> dict[str, Callable[..., torch.Tensor]]:
    """The exact peers run at size ``n``: tiled (tuned tiles), SDPA, KeOps where installed,
    and the repo's reference up to ``cfg.reference_max_n``."""
    peers: dict[str, Callable[..., torch.Tensor]] = {
        "tiled_exact": partial(tiled_exact_attention, query_tile=tiles[0], key_tile=tiles[1]),
        "sdpa": sdpa_attention}
    if keops_available() and n <= cfg.keops_max_n:
        peers["keops"] = keops_attention
    if n <= cfg.reference_max_n:
        peers["exact_reference"] = exact_attention
    return peers


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
    if keops_available():
        keops_attention(*warm, cfg.beta)                    # compiles the KeOps formula
    tiles, tile_trials = _tune_tiles(cfg, dev, log)
    rows: list[dict[str, Any]] = []
    ns, fast_times, exact_times = [], [], []
    headline: dict[str, Any] = {}
    for k in cfg.log2_ns:
        n = 2**k
        Q, K, V = _inputs(n, cfg.B, cfg, dev, seed=k)
        columns = np.linspace(0, n - 1, min(REFERENCE_COLUMNS, n)).astype(np.int64)
        reference = _reference_columns(Q, K, V, cfg.beta, columns)
        t_fast, (fast, info) = timing(partial(polynomial_attention_with_info, Q, K, V, plan,
                                              radius="instance"), dev, cfg.fast_repeats)
        t_plan, (fast_plan, plan_info) = timing(
            partial(polynomial_attention_with_info, Q, K, V, plan), dev, cfg.fast_repeats)
        peer_times: dict[str, float] = {}
        exact_out = None
        base = {"n": n, "B": cfg.B}
        for name, peer in _exact_peers(cfg, n, tiles).items():
            t_peer, out = _timed_peer(partial(peer, Q, K, V, cfg.beta), dev, cfg.exact_repeats)
            peer_times[name] = t_peer.median
            exact_out = out if exact_out is None else exact_out
            rows.append({**base, "method": name, "seconds": t_peer.median,
                         "timing": t_peer.as_dict(),
                         "max_error": _column_error(out, reference, columns),
                         "error_reference": "long double, sampled columns"})
        for method, t, out, used in (("polynomial", t_fast, fast, info),
                                     ("polynomial_plan_radius", t_plan, fast_plan, plan_info)):
            rows.append({**base, "method": method, "seconds": t.median, "timing": t.as_dict(),
                         "degree": used.degree, "rank": used.rank, "radius": used.radius,
                         "max_error": _column_error(out, reference, columns),
                         "max_error_all_columns": max_error(out, exact_out),
                         "bound": used.bound, "rounding_bound": used.rounding_bound})
        best_exact = min(peer_times, key=peer_times.__getitem__)
        ns.append(n)
        fast_times.append(t_fast.median)
        exact_times.append(peer_times[best_exact])
        error = max(_column_error(fast, reference, columns), max_error(fast, exact_out))
        log(f"n={n:>6}  fast {t_fast.median:8.4f} s (degree {info.degree})  plan radius "
            f"{t_plan.median:8.4f} s (degree {plan_info.degree})  "
            + "  ".join(f"{m} {t:8.3f} s" for m, t in peer_times.items())
            + f"  error {error:.2e} (bound {info.bound:.2e})")
        if n == cfg.headline_n:
            headline = _headline(cfg, dev, plan, Q, K, V, info, t_fast.median, t_plan.median,
                                 plan_info, peer_times, best_exact, error, exact_out, rows, k,
                                 tiles)
    headline["slope_fast"] = slope(ns, fast_times)
    headline["slope_exact"] = slope(ns, exact_times)
    headline["slope_range"] = [ns[0], ns[-1]]
    headline["tiles"] = {"query_tile": tiles[0], "key_tile": tiles[1], "tried": tile_trials,
                         "tuned_at_n": cfg.tile_tune_n}
    rows += _sweep_rows(cfg, dev, log)
    sweep_ratio = [
        min(r["max_error"] for r in rows if r["B"] == B and r["method"] == "performer_equal_time")
        / max(r["max_error"] for r in rows if r["B"] == B and r["method"] == "polynomial_sweep")
        for B in cfg.sweep_B if B <= 0.5]
    headline["performer_error_ratio_min_B_le_half"] = min(sweep_ratio)
    rows += _scale_rows(cfg, dev, plan, tiles, rows, log)
    rows += _sqrt_d_rows(cfg, dev, tiles, log)
    phase = phase_transition_table(cfg.phase_log2_ns, cfg.phase_ratios, s=cfg.s)
    return {
        "benchmark": "kernel", "quick": quick, "paper_ref": PAPER_REF,
        "convention": CONVENTION,
        "device": device_name(dev), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "python": platform.python_version(),
        "platform": platform.platform(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "keops": keops_available(),
        "plan": plan.summary(), "certificate": plan.certificate.as_dict(),
        "headline": headline, "rows": rows,
        "phase_transition": {
            "convention": "beta = 1/s, delta_F = 1/n, |V|_max <= 1, Taylor degree",
            "rows": [row.__dict__ for row in phase],
            "crossing": {str(2**k): crossing_ratio(phase, float(k))
                         for k in cfg.phase_log2_ns}},
    }


def _headline(cfg: BenchConfig, dev: torch.device, plan: KernelPlan, Q: torch.Tensor,
              K: torch.Tensor, V: torch.Tensor, info: Any, t_fast: float, t_plan: float,
              plan_info: Any, peer_times: dict[str, float], best_exact: str, error: float,
              exact_out: torch.Tensor, rows: list[dict[str, Any]], seed: int,
              tiles: tuple[int, int]) -> dict[str, Any]:
    """The headline figures at ``n = cfg.headline_n`` (see the module docstring)."""
    n = Q.shape[1]
    features, t_perf, perf = _performer_equal_time(Q, K, V, cfg.beta, t_fast, info.rank, dev)
    rows.append({"n": n, "B": cfg.B, "method": "performer_equal_time", "seconds": t_perf,
                 "max_error": max_error(perf, exact_out), "features": features})
    gemm, other_ops = _own_op_seconds(Q, K, V, plan, dev, info)
    t_torch, _ = timed(partial(polynomial_attention_with_info, Q, K, V, plan,
                               radius="instance", backend="torch"), dev, cfg.fast_repeats)
    float32 = _float32_rows(cfg, dev, plan, Q, K, V, tiles)
    peak_gflops = gemm_peak_gflops(dev)
    gflops = flop_model(n, n, cfg.d, info.rank) / t_fast / 1e9
    return {
        "n": n, "d": cfg.d, "s": cfg.s, "B": cfg.B, "beta": cfg.beta,
        "delta_F": cfg.delta_F, "method": plan.method, "degree": info.degree,
        "rank": info.rank, "radius": info.radius, "radius_mode": "instance",
        "certified_eps": info.certified_eps, "plan_radius": plan.radius,
        "plan_degree": plan.degree, "plan_rank": plan.rank,
        "seconds_fast": t_fast, "seconds_fast_plan_radius": t_plan,
        "seconds_exact_best": peer_times[best_exact], "exact_best_method": best_exact,
        "seconds_exact": peer_times, "speedup": peer_times[best_exact] / t_fast,
        "speedup_plan_radius": peer_times[best_exact] / t_plan,
        "max_error": error, "bound": info.bound, "rounding_bound": info.rounding_bound,
        "peak_mib_fast": _peak_mib_fast(n, cfg.B, seed, dev),
        "peak_mib_fast_model": info.peak_feature_bytes / 2**20, "chunk": info.chunk,
        "gemm_seconds": gemm, "kernel_over_own_gemm": t_fast / gemm,
        "other_ops_seconds": other_ops, "backend": info.backend,
        "seconds_fast_torch_backend": t_torch,
        "gflops_fast": gflops, "gemm_peak_gflops": peak_gflops,
        "percent_of_gemm_peak": 100.0 * gflops / peak_gflops,
        "float32": float32,
        "performer_features": features, "performer_seconds": t_perf,
        "performer_max_error": max_error(perf, exact_out),
    }


def _float32_rows(cfg: BenchConfig, dev: torch.device, plan: KernelPlan, Q: torch.Tensor,
                  K: torch.Tensor, V: torch.Tensor, tiles: tuple[int, int]
                  ) -> list[dict[str, Any]]:
    """The headline in float32: the inputs rounded to float32, computed in float32
    (``arithmetic="input"``) and in float64 (``arithmetic="float64"``: output rounded once),
    each timed, with its error against float64 tiled exact attention of the *rounded*
    inputs (all columns), its bounds, ``rounding_bound / max_error`` and whether
    ``bound + rounding_bound <= δ_F`` (a certified float32 result)."""
    Q32, K32, V32 = (t.float() for t in (Q, K, V))
    truth = tiled_exact_attention(Q32.double(), K32.double(), V32.double(), cfg.beta,
                                  query_tile=tiles[0], key_tile=tiles[1])
    out = []
    for arithmetic in ("input", "float64"):
        t, (result, info) = timing(partial(polynomial_attention_with_info, Q32, K32, V32,
                                           plan, radius="instance", arithmetic=arithmetic),
                                   dev, cfg.fast_repeats)
        error = max_error(result.double(), truth)
        total = info.bound + info.rounding_bound
        out.append({"arithmetic": info.arithmetic, "seconds": t.median,
                    "timing": t.as_dict(), "degree": info.degree, "max_error": error,
                    "bound": info.bound, "rounding_bound": info.rounding_bound,
                    "rounding_over_error": info.rounding_bound / error if error else None,
                    "total_bound": total, "certified": bool(total <= cfg.delta_F)})
    return out


def _sweep_rows(cfg: BenchConfig, dev: torch.device,
                log: Callable[[str], None]) -> list[dict[str, Any]]:
    """At ``n = sweep_n``: fast kernel and equal-time Performer for each ``B``."""
    rows = []
    n = cfg.sweep_n
    for B in cfg.sweep_B:
        plan = _plan(cfg, B)
        Q, K, V = _inputs(n, B, cfg, dev, seed=1000 + int(100 * B))
        ref = exact_attention(Q, K, V, cfg.beta)
        t_fast, (fast, info) = timed(partial(polynomial_attention_with_info, Q, K, V, plan,
                                             radius="instance"), dev, cfg.fast_repeats)
        features, t_perf, perf = _performer_equal_time(Q, K, V, cfg.beta, t_fast, info.rank,
                                                       dev)
        base = {"n": n, "B": B, "degree": info.degree, "rank": info.rank}
        fast_error, perf_error = max_error(fast, ref), max_error(perf, ref)
        rows += [{**base, "method": "polynomial_sweep", "seconds": t_fast,
                  "max_error": fast_error, "bound": info.bound},
                 {**base, "method": "performer_equal_time", "seconds": t_perf,
                  "max_error": perf_error, "features": features}]
        log(f"B={B:<5} n={n}  fast {t_fast:.3f} s error {fast_error:.2e}  performer "
            f"({features} features) {t_perf:.3f} s error {perf_error:.2e}")
    return rows


def _scale_rows(cfg: BenchConfig, dev: torch.device, plan: KernelPlan, tiles: tuple[int, int],
                rows: list[dict[str, Any]], log: Callable[[str], None]) -> list[dict[str, Any]]:
    """At ``n = cfg.scale_n`` (2^20): the kernel over all ``n`` query columns and over the
    readout's last ``cfg.readout`` columns, with its peak RSS measured in a fresh process;
    tiled exact attention on the readout (``n·512`` scores, linear in ``n``), and for all
    columns an *estimate* from the largest size timed (``t·(n/n_0)²``, labelled)."""
    n = cfg.scale_n
    Q, K, V = _inputs(n, cfg.B, cfg, dev, seed=20)
    columns = np.linspace(n - cfg.readout, n - 1, 8).astype(np.int64)
    reference = _reference_columns(Q, K, V, cfg.beta, columns)
    out_rows = []
    for kind, last in (("full", None), ("readout", cfg.readout)):
        t, (out, info) = timing(partial(polynomial_attention_with_info, Q, K, V, plan,
                                        radius="instance", last=last), dev, 3)
        local = columns - (n - out.shape[1])
        out_rows.append({"n": n, "B": cfg.B, "method": f"polynomial_{kind}",
                         "seconds": t.median, "timing": t.as_dict(), "degree": info.degree,
                         "rank": info.rank, "bound": info.bound,
                         "max_error": _column_error(out, reference, local),
                         "peak_mib": _peak_mib_fast(n, cfg.B, 20, dev, last=last)})
    t, out = _timed_peer(partial(tiled_exact_attention, Q, K, V, cfg.beta, last=cfg.readout,
                                 query_tile=tiles[0], key_tile=tiles[1]), dev, 3)
    out_rows.append({"n": n, "B": cfg.B, "method": "tiled_exact_readout", "seconds": t.median,
                     "timing": t.as_dict(),
                     "max_error": _column_error(out, reference, columns - (n - cfg.readout))})
    largest = max((r for r in rows if r["method"] == "tiled_exact"), key=lambda r: r["n"])
    estimate = largest["seconds"] * (n / largest["n"]) ** 2
    out_rows.append({"n": n, "B": cfg.B, "method": "tiled_exact_full_estimated",
                     "seconds": estimate, "max_error": None,
                     "estimated_from": {"n": largest["n"], "seconds": largest["seconds"],
                                        "rule": "seconds * (n / n0)^2"}})
    log(f"n={n}: " + "  ".join(f"{r['method']} {r['seconds']:.3f} s" for r in out_rows))
    return out_rows


def _sqrt_d_rows(cfg: BenchConfig, dev: torch.device, tiles: tuple[int, int],
                 log: Callable[[str], None]) -> list[dict[str, Any]]:
    """The real-model convention ``β = 1/√d`` at each ``(B, sizes)`` of
    ``cfg.sqrt_d_runs``: the kernel at the plan radius (``R = √d·B²``) against tiled exact
    attention, and the break-even ``n* = n·t_kernel/t_exact`` from the largest size (the
    kernel linear in ``n``, exact quadratic: an extrapolation, labelled)."""
    beta = 1.0 / math.sqrt(cfg.d)
    out = []
    for B, sizes in cfg.sqrt_d_runs:
        plan = plan_for(KernelRegime(s=cfg.s, beta=beta, B=B, delta_F=cfg.delta_F))
        for n in sizes:
            Q, K, V = _inputs(n, B, cfg, dev, seed=3000 + n)
            t_fast, (fast, info) = timing(partial(polynomial_attention_with_info, Q, K, V,
                                                  plan), dev, 3)
            t_exact, exact = _timed_peer(partial(tiled_exact_attention, Q, K, V, beta,
                                                 query_tile=tiles[0], key_tile=tiles[1]),
                                         dev, 3)
            row = {"n": n, "B": B, "beta": beta, "method": "polynomial_beta_1_over_sqrt_d",
                   "seconds": t_fast.median, "timing": t_fast.as_dict(),
                   "degree": info.degree, "rank": info.rank, "radius": info.radius,
                   "bound": info.bound, "max_error": max_error(fast, exact),
                   "exact_seconds": t_exact.median,
                   "kernel_over_exact": t_fast.median / t_exact.median}
            out.append(row)
            log(f"beta=1/sqrt(d) B={B} n={n}: degree {info.degree} rank {info.rank} kernel "
                f"{t_fast.median:.3f} s, tiled exact {t_exact.median:.3f} s")
        last = out[-1]
        last["break_even_n_estimated"] = last["n"] * last["kernel_over_exact"]
    return out


class _OpRecorder(TorchDispatchMode):
    """Records every aten op issued on the calling thread, with its operands, split into
    the matrix products (``mm``, ``addmm``) and everything else, so that each part can be
    replayed alone."""

    PRODUCTS = MATRIX_PRODUCTS

    def __init__(self) -> None:
        super().__init__()
        self.products: list[tuple[Any, Any, dict[str, Any]]] = []
        self.others: list[tuple[Any, Any, dict[str, Any]]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        (self.products if func in self.PRODUCTS else self.others).append((func, args, kwargs))
        return func(*args, **kwargs)


def _own_op_seconds(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, plan: KernelPlan,
                    dev: torch.device, info: Any) -> tuple[float, float]:
    """``(GEMM seconds, other-op seconds)`` of the headline call ``info`` describes.

    Native backend: its passes re-run with the same polynomial, chunk, threads and buffers,
    once with every loop skipped (the matrix products alone: the kernel's own GEMM passes)
    and once with every product skipped (monomials, ``⊙ x_i``, ``⊙ q_i``, division).
    Torch backend: every aten op one one-thread call issues is recorded with its operands
    (same shapes, strides and chunks); its ``mm``/``addmm`` are replayed back to back with
    nothing else, then all its other ops. Medians of five; what the kernel's time has beyond
    both is validation, the instance radius and (torch) Python between the ops."""
    if info.backend == "native":
        return tuple(timed(partial(rerun_native_passes, Q, K, V, plan, info, mode), dev, 5)[0]
                     for mode in (native.PRODUCTS_ONLY, native.LOOPS_ONLY))  # type: ignore[return-value]
    recorder = _OpRecorder()
    with recorder:
        polynomial_attention_with_info(Q, K, V, plan, radius="instance", threads=1)

    def replay(calls: list[tuple[Any, Any, dict[str, Any]]]) -> None:
        for func, args, kwargs in calls:
            func(*args, **kwargs)

    return (timed(partial(replay, recorder.products), dev, 5)[0],
            timed(partial(replay, recorder.others), dev, 5)[0])


def gemm_peak_gflops(dev: torch.device, size: int = 2048) -> float:
    """This machine's float64 GEMM rate in GFLOP/s: ``2·size³`` flops of one square
    ``size × size`` matmul, median of five, at torch's thread count."""
    a = torch.rand(size, size, dtype=torch.float64, device=dev)
    b = torch.rand(size, size, dtype=torch.float64, device=dev)
    a @ b
    return 2.0 * size**3 / timed(lambda: a @ b, dev, 5)[0] / 1e9


def format_table(report: dict[str, Any]) -> str:
    """The printed summary: headline figures, then every row."""
    h = report["headline"]
    lines = [
        f"kernel benchmark ({'quick' if report['quick'] else 'full'}) on {report['device']}, "
        f"torch {report['torch']}, {report['threads']} threads; {report['convention']}",
        f"headline n={h['n']} s=d={h['d']} B={h['B']} delta_F={h['delta_F']}: "
        f"{h['method']} degree {h['degree']}, rank {h['rank']} at the instance radius "
        f"{h['radius']:.4g} (plan radius {h['plan_radius']:.4g}: degree {h['plan_degree']}, "
        f"rank {h['plan_rank']})",
        f"  fast {h['seconds_fast']:.4f} s   exact best {h['seconds_exact_best']:.3f} s "
        f"({h['exact_best_method']})   speedup {h['speedup']:.1f}x "
        f"(plan radius {h['speedup_plan_radius']:.1f}x)",
        "  exact peers: " + ", ".join(f"{m} {t:.3f} s" for m, t in h["seconds_exact"].items()),
        f"  max error {h['max_error']:.3e}   bound {h['bound']:.3e}   slopes fast "
        f"{h['slope_fast']:.3f} exact {h['slope_exact']:.3f} (n {h['slope_range'][0]}.."
        f"{h['slope_range'][1]})",
        f"  {h['gflops_fast']:.1f} GFLOP/s = {h['percent_of_gemm_peak']:.1f}% of this "
        f"machine's float64 GEMM peak {h['gemm_peak_gflops']:.1f} GFLOP/s; kernel / its own "
        f"GEMM passes {h['kernel_over_own_gemm']:.2f} ({h['gemm_seconds']:.4f} s; its other ops "
        f"alone {h['other_ops_seconds']:.4f} s); {h['backend']} backend, chunk {h['chunk']} "
        f"(torch backend {h['seconds_fast_torch_backend']:.4f} s)",
        *(f"  float32 inputs, {r['arithmetic']} arithmetic: {r['seconds']:.4f} s, error "
          f"{r['max_error']:.3e}, rounding bound {r['rounding_bound']:.3e} "
          f"({r['rounding_over_error']:.3g}× the error), bound + rounding "
          f"{r['total_bound']:.3e}: {'certified' if r['certified'] else 'not certified'}"
          for r in h["float32"]),
        f"  peak MiB fast {h['peak_mib_fast']}  (model {h['peak_mib_fast_model']:.1f})   "
        f"performer/fast error at equal time >= "
        f"{h['performer_error_ratio_min_B_le_half']:.3g} (B <= 0.5)",
        f"{'n':>7} {'B':>5} {'method':<26} {'seconds':>10} {'max_error':>11}",
    ]
    for row in report["rows"]:
        error = "—" if row["max_error"] is None else f"{row['max_error']:.3e}"
        lines.append(f"{row['n']:>7} {row['B']:>5} {row['method']:<26} "
                     f"{row['seconds']:>10.4f} {error:>11}")
    return "\n".join(lines)
