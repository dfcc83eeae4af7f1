"""The training-step benchmark (``ptlimits bench train``): one prompt-tuning step (forward +
backward + optimizer update) through the polynomial-method kernel against the same step with
exact attention, at long prompts (docs/theory.md §3, K5 for gradients).

The frozen model is one attention layer with residual and no feed-forward layers; the
prompt ``P`` is ``(d, L_p)``, the input ``X`` is ``(N, d, L)`` and the targets ``Y`` are
``(N, d, L_p + L)`` (full-sequence loss) or ``(N, d, L)`` (the readout only); see
:data:`TRAIN_HONESTY`. Every field of the reported ``config`` is the one the run used.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from core.kernels import KernelPlan, KernelRegime, plan_for
from core.model import PromptTunedTransformer
from core.prompt_tuning import prompt_loss
from core.weights import TransformerWeights

from .common import CONVENTION, PAPER_REF, device_name

__all__ = ["TRAIN_HONESTY", "TrainBenchConfig", "format_train_table", "run_train_bench",
           "train_bench_model"]

TRAIN_HONESTY = (
    "full-sequence setting: the loss covers all n = L_p + L outputs (as for the first layer "
    "of a deeper stack). With the one-layer model's readout of only the last L columns, "
    "exact attention is already linear in n (only L queries), so the kernel has nothing to "
    "win there; the readout-only rows show it.")


#: Optimizers ``bench train`` can step with, by the name its JSON reports.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {"adam": torch.optim.Adam}

#: What each ``exact_method`` of :func:`core.prompt_tuning.prompt_loss` is, for the JSON.
EXACT_METHODS = {"sdpa": "torch SDPA (core.kernels.peers.sdpa_attention, exact; faster than "
                         "the reference here)"}


class TrainBenchConfig:
    """Sizes and training choices of ``bench train`` (``full``: ``L_p`` in 4096, 16384,
    65536); the JSON's ``config`` reports these fields, and the run uses them."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.d = self.s = 8
        self.L = 16
        self.N = 1                      # examples per batch: X is (N, d, L)
        self.B = 0.5
        self.delta_F = 1e-6
        self.beta = 1.0 / self.d
        self.optimizer = "adam"         # a key of OPTIMIZERS
        self.lr = 1e-3
        self.dtype = torch.float64
        self.exact_method = "sdpa"      # a key of EXACT_METHODS
        self.w_qk = 0.05                # W_Q, W_K uniform in [-w_qk, w_qk]
        self.prompt_half_width = 0.5    # P uniform in [-prompt_half_width, prompt_half_width]
        self.prompt_lengths: tuple[int, ...] = (1024, 4096) if quick else (4096, 16384, 65536)
        self.fast_repeats = 3
        self.query_chunk = 1024


def _train_exact_repeats(n: int) -> int:
    return 2 if n <= 5000 else 1


def train_bench_model(cfg: TrainBenchConfig, seed: int = 0) -> PromptTunedTransformer:
    """Frozen one-layer τ: ``W_Q, W_K`` uniform in ``[−w, w]``, ``w = cfg.w_qk = 0.05`` (so
    ``|Q|, |K| <= 0.4`` for tokens in ``[−1, 1]^8``), ``W_V, W_O ~ N(0, 1/d)``, ``β = 1/d``,
    no FF layers."""
    rng = np.random.default_rng(seed)
    d, w = cfg.d, cfg.w_qk
    weights = TransformerWeights(
        w_q=rng.uniform(-w, w, (d, d)), w_k=rng.uniform(-w, w, (d, d)),
        w_v=rng.normal(0.0, 1.0 / math.sqrt(d), (d, d)),
        w_o=rng.normal(0.0, 1.0 / math.sqrt(d), (d, d)), beta=cfg.beta)
    return PromptTunedTransformer(weights)


def _train_steps(model: PromptTunedTransformer, X: torch.Tensor, Y: torch.Tensor,
                 P0: torch.Tensor, plan: KernelPlan | None, full: bool, repeats: int,
                 cfg: TrainBenchConfig) -> tuple[float, torch.Tensor]:
    """Best wall time of one optimizer step (forward + backward + update, with the config's
    optimizer, learning rate, exact method and query chunk) over ``repeats`` consecutive
    steps from ``P0``, and the gradient of the first step."""
    P = P0.detach().clone().requires_grad_(True)
    opt = OPTIMIZERS[cfg.optimizer]([P], lr=cfg.lr)
    best, first = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        opt.zero_grad()
        prompt_loss(model, X, Y, P, plan=plan, full=full, query_chunk=cfg.query_chunk,
                    exact_method=cfg.exact_method).backward()
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
    X, P0 = _data(cfg, 1024, gen)
    Y = torch.rand(cfg.N, cfg.d, 1024 + cfg.L, generator=gen, dtype=cfg.dtype)
    for use in (plan, None):
        _train_steps(model, X, Y, P0, use, True, 1, cfg)


def _data(cfg: TrainBenchConfig, lp: int, gen: torch.Generator
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ``X`` ``(N, d, L)`` uniform in ``[0, 1]`` and prompt ``P0`` ``(d, lp)`` uniform
    in ``[−h, h]``, ``h = cfg.prompt_half_width``."""
    X = torch.rand(cfg.N, cfg.d, cfg.L, generator=gen, dtype=cfg.dtype)
    P0 = (2 * torch.rand(cfg.d, lp, generator=gen, dtype=cfg.dtype) - 1) * cfg.prompt_half_width
    return X, P0


def run_train_bench(quick: bool = False, log: Callable[[str], None] = print,
                    prompt_lengths: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Training-step time, fast vs exact, at long prompts (see :data:`TRAIN_HONESTY`);
    ``prompt_lengths`` overrides the configured ``L_p`` list (tests use tiny ones)."""
    cfg = TrainBenchConfig(quick)
    if prompt_lengths is not None:
        cfg.prompt_lengths = prompt_lengths
    model = train_bench_model(cfg)
    plan = plan_for(KernelRegime(s=cfg.s, beta=cfg.beta, B=cfg.B, delta_F=cfg.delta_F))
    rows: list[dict[str, Any]] = []
    _warm_up(model, plan, cfg)
    for lp in cfg.prompt_lengths:
        gen = torch.Generator().manual_seed(lp)
        X, P0 = _data(cfg, lp, gen)
        n = lp + cfg.L
        for full in (True, False):
            m = n if full else cfg.L
            Y = torch.rand(cfg.N, cfg.d, m, generator=gen, dtype=cfg.dtype)
            exact_repeats = _train_exact_repeats(n) if full else cfg.fast_repeats
            t_fast, g_fast = _train_steps(model, X, Y, P0, plan, full, cfg.fast_repeats, cfg)
            t_exact, g_exact = _train_steps(model, X, Y, P0, None, full, exact_repeats, cfg)
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
        "convention": CONVENTION,
        "config": {"d": cfg.d, "s": cfg.s, "L": cfg.L, "B": cfg.B, "delta_F": cfg.delta_F,
                   "beta": cfg.beta, "optimizer": cfg.optimizer, "lr": cfg.lr,
                   "dtype": str(cfg.dtype).removeprefix("torch."), "N": cfg.N,
                   "loss": "mean squared error vs targets uniform in [0, 1]",
                   "exact": f"{EXACT_METHODS[cfg.exact_method]} in query chunks of "
                            f"{cfg.query_chunk}, checkpointed (memory O(n·chunk))",
                   "model": "one attention layer with residual, no FF layers; W_Q, W_K "
                            f"uniform in [-{cfg.w_qk}, {cfg.w_qk}], W_V, W_O ~ N(0, 1/d); P "
                            f"uniform in [-{cfg.prompt_half_width}, {cfg.prompt_half_width}], "
                            "X uniform in [0, 1]"},
        "plan": plan.summary(), "device": device_name(torch.device("cpu")),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "rows": rows,
    }


def _optimizer_name(key: str) -> str:
    return str(getattr(OPTIMIZERS.get(key), "__name__", key))


def format_train_table(report: dict[str, Any]) -> str:
    """Printed summary of ``bench train``."""
    p = report["plan"]
    lines = [f"train benchmark ({'quick' if report['quick'] else 'full'}) on "
             f"{report['device']}, torch {report['torch']}, {report['threads']} threads; "
             f"{report['convention']}",
             f"plan: {p['method']} degree {p['degree']}, rank {p['rank']}, certified eps "
             f"{p['certified_eps']:.3g}; one step = forward + backward + "
             f"{_optimizer_name(report['config']['optimizer'])} update",
             report["honesty"],
             f"{'L_p':>7} {'n':>7} {'setting':<8} {'fast s':>10} {'exact s':>10} "
             f"{'exact/fast':>10} {'grad diff':>10}"]
    for r in report["rows"]:
        lines.append(f"{r['L_p']:>7} {r['n']:>7} {r['setting']:<8} {r['seconds_fast']:>10.3f} "
                     f"{r['seconds_exact']:>10.3f} {r['ratio_exact_over_fast']:>10.2f} "
                     f"{r['grad_max_abs_diff']:>10.2e}")
    return "\n".join(lines)
