"""Empirical capacity: how long a soft prompt gradient descent needs to memorise random data.

**Empirical, not evidence for or against the theorems** (docs/theory.md §2, M and LB; paper
labels ``thm:PT_memo`` and the capacity lower bound). For each setting ``(d, L, N, ε)`` a
seeded random dataset (inputs uniform in ``[0, 1]^{d×L}``, labels uniform in
``[0, 1]^{d×L}``) is fitted by :func:`core.prompt_tuning.train_prompt` (Adam, exact
attention) on one fixed frozen model with *random* weights, for increasing ``L_p``; the
smallest ``L_p`` whose trained prompt reaches ``max |τ_P(X_i) − Y_i| <= ε`` on the whole
dataset is reported beside

- ``constructive_Lp``: route B's memoriser length for datasets of shape ``(N, d, L)``
  (:func:`core.constructions.memorise.constructive_length`), when its real-label error
  ``1/(2M) <= ε`` and the construction fits; else ``None``. It memorises *separated*
  datasets; the random datasets here need not be separated.
- ``lower_bound_Lp``: :func:`core.bounds.min_prompt_length_exact` for the C-Lipschitz class
  at ``(d, L, ε, C)`` with ``K = 2^prompt_bits`` levels per prompt coordinate.

Why random frozen weights: the universal construction's τ reads its prompt as packed digits
through a staircase ``FF_pre`` and a deep digit-extracting ``FF_post`` (piecewise constant in
``P`` almost everywhere), so gradient descent on it has zero gradient almost everywhere; a
random one-layer model is the setting where gradient training means something.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .bounds import min_prompt_length_exact, packing_bits
from .constructions.memorise import constructive_length, memorisation_request
from .errors import ConstructionTooLarge, InvalidArgument
from .model import PromptTunedTransformer
from .prompt_tuning import train_prompt
from .validation import check_int, check_real
from .weights import FeedForwardWeights, TransformerWeights

__all__ = [
    "CAPACITY_LABEL",
    "CapacitySetting",
    "SweepConfig",
    "capacity_row",
    "capacity_sweep",
    "constructive_prompt_length",
    "frozen_random_model",
    "lower_bound_prompt_length",
    "random_dataset",
]

CAPACITY_LABEL = ("empirical: gradient descent on the one-layer model; not evidence for or "
                  "against the theorems")


@dataclass(frozen=True)
class CapacitySetting:
    """A dataset shape ``(N, d, L)`` and the target max-abs error ``eps``."""

    d: int
    L: int
    N: int
    eps: float

    def __post_init__(self) -> None:
        check_int("d", self.d, minimum=1, maximum=4)
        check_int("L", self.L, minimum=1, maximum=4)
        check_int("N", self.N, minimum=1)
        check_real("eps", self.eps, low=0.0, high=0.5, low_open=True)


@dataclass(frozen=True)
class SweepConfig:
    """Training and model choices of one sweep (written into the JSON ``config``)."""

    seed: int = 0
    steps: int = 300
    lr: float = 0.05
    optimizer: str = "adam"
    prompt_lengths: tuple[int, ...] = (1, 2, 4, 8, 16)
    hidden_factor: int = 4
    prompt_init_std: float = 0.5
    C: float = 1.0
    prompt_bits: int = 64

    def __post_init__(self) -> None:
        check_int("seed", self.seed, minimum=0)
        check_int("steps", self.steps, minimum=0)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_int("hidden_factor", self.hidden_factor, minimum=1)
        check_real("prompt_init_std", self.prompt_init_std, low=0.0)
        check_real("C", self.C, low=0.0, low_open=True)
        check_int("prompt_bits", self.prompt_bits, minimum=1)
        lengths = tuple(self.prompt_lengths)
        if not lengths or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                              for v in lengths) or list(lengths) != sorted(set(lengths)):
            raise InvalidArgument(f"prompt_lengths={self.prompt_lengths!r}: expected "
                                  "increasing positive ints")


def frozen_random_model(d: int, seed: int, hidden_factor: int = 4) -> PromptTunedTransformer:
    """τ with ``s = d``, ``β = 1/√s``, ``W_Q, W_K, W_V ~ N(0, 1/d)``, ``W_O ~ N(0, 1/s)``,
    no ``FF_pre``, one ReLU ``FF_post`` layer of width ``hidden_factor·d``, no positional
    encoding (which would fix ``n`` and so ``L_p``); float64, seeded."""
    rng = np.random.default_rng([seed, d, 7])
    s, h = d, hidden_factor * d
    ws = [rng.normal(0.0, 1.0 / math.sqrt(d), (s, d)) for _ in range(3)]
    ff = FeedForwardWeights(w1=rng.normal(0.0, 1.0 / math.sqrt(d), (h, d)),
                            b1=rng.normal(0.0, 0.5, h),
                            w2=rng.normal(0.0, 1.0 / math.sqrt(h), (d, h)),
                            b2=rng.normal(0.0, 0.1, d))
    weights = TransformerWeights(w_q=ws[0], w_k=ws[1], w_v=ws[2],
                                 w_o=rng.normal(0.0, 1.0 / math.sqrt(s), (d, s)),
                                 beta=1.0 / math.sqrt(s), ff_post=(ff,))
    return PromptTunedTransformer(weights)


def random_dataset(setting: CapacitySetting, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``X, Y`` of shape ``(N, d, L)``, uniform in ``[0, 1]``, float64, seeded."""
    rng = np.random.default_rng([seed, setting.d, setting.L, setting.N, 11])
    shape = (setting.N, setting.d, setting.L)
    return torch.as_tensor(rng.uniform(0.0, 1.0, shape)), torch.as_tensor(
        rng.uniform(0.0, 1.0, shape))


def constructive_prompt_length(setting: CapacitySetting) -> int | None:
    """Route B's memoriser ``L_p`` for shape ``(N, d, L)`` if its label error ``1/(2M) <= ε``."""
    try:
        sizes = memorisation_request(setting.N, setting.d, setting.L).sizes()
    except ConstructionTooLarge:
        return None
    return constructive_length(sizes) if 1.0 / (2 * sizes.M) <= setting.eps else None


def lower_bound_prompt_length(setting: CapacitySetting, C: float, prompt_bits: int) -> int:
    """Least ``L_p`` with ``(2^bits)^{d·L_p} >= 2^{⌊C/(2ε)⌋^{dL}}`` (core.bounds, exact)."""
    M = packing_bits(setting.d, setting.L, C, setting.eps)
    return min_prompt_length_exact(M, setting.d, 2**prompt_bits)


def capacity_row(setting: CapacitySetting, cfg: SweepConfig,
                 log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Train for each ``L_p`` of ``cfg.prompt_lengths`` until one reaches ``ε``; one JSON row."""
    model = frozen_random_model(setting.d, cfg.seed, cfg.hidden_factor)
    X, Y = random_dataset(setting, cfg.seed)
    tried: list[int] = []
    errors: list[float] = []
    smallest = None
    for lp in cfg.prompt_lengths:
        rng = np.random.default_rng([cfg.seed, lp, 13])
        P0 = torch.as_tensor(rng.normal(0.0, cfg.prompt_init_std, (setting.d, lp)))
        start = time.perf_counter()
        result = train_prompt(model, X, Y, P0, steps=cfg.steps, lr=cfg.lr,
                              optimizer=cfg.optimizer, target_error=setting.eps)
        tried.append(lp)
        errors.append(result.final_max_error)
        log(f"d={setting.d} L={setting.L} N={setting.N} eps={setting.eps} L_p={lp}: max error "
            f"{result.final_max_error:.3g} after {len(result.history) - 1} steps "
            f"({time.perf_counter() - start:.1f} s)")
        if result.final_max_error <= setting.eps:
            smallest = lp
            break
    return {"d": setting.d, "L": setting.L, "N": setting.N, "eps": setting.eps,
            "target_error": setting.eps, "tried_Lp": tried, "final_errors": errors,
            "smallest_Lp": smallest, "constructive_Lp": constructive_prompt_length(setting),
            "lower_bound_Lp": lower_bound_prompt_length(setting, cfg.C, cfg.prompt_bits)}


def capacity_sweep(settings: Sequence[CapacitySetting], cfg: SweepConfig,
                   log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """The sweep's JSON: ``{"kind", "label", "config", "rows"}`` (see module docstring)."""
    if not settings or not all(isinstance(s, CapacitySetting) for s in settings):
        raise InvalidArgument(f"settings={settings!r}: expected CapacitySetting items")
    rows = [capacity_row(s, cfg, log) for s in settings]
    config = {**asdict(cfg), "prompt_lengths": list(cfg.prompt_lengths),
              "model": "one-layer τ, s = d, β = 1/√s, random frozen weights W ~ N(0, 1/d), "
                       "one ReLU FF_post layer of width hidden_factor·d, no FF_pre, no "
                       "positional encoding, float64",
              "data": "inputs and labels uniform in [0, 1]^{d×L}, seeded",
              "training": "exact attention, mean-squared-error loss, stops once max |τ_P(X) − "
                          "Y| <= eps; L_p tried in increasing order until one succeeds",
              "constructive_Lp": "route B memoriser length for shape (N, d, L) "
                                 "(core.constructions.memorise.constructive_length) when its "
                                 "real-label error 1/(2M) <= eps, else null; it needs "
                                 "separated inputs, which these random datasets need not be",
              "lower_bound_Lp": "core.bounds.min_prompt_length_exact(packing_bits(d, L, C, "
                                "eps), d, K = 2^prompt_bits): C-Lipschitz class, K levels per "
                                "prompt coordinate"}
    return {"kind": "capacity", "label": CAPACITY_LABEL, "config": config, "rows": rows}
