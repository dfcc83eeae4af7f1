"""Hypothesis strategies and builders for the kernel claims K1–K7 (docs/theory.md §3).

Instances are frozen dataclasses of JSON-able parameters plus a seed; arrays are built from
the seed (docs/design.md). Every strategy stays inside the regime the float64 kernel is built for
(``R = β·s·B² <= R_MAX``) so that a failure means a bug, not an out-of-regime input; the
out-of-regime refusals are unit-tested separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from core.kernels.regime import KernelRegime

from .strategies import ModelInstance, bounded_qkv, seeds

__all__ = [
    "KERNEL_PATTERNS",
    "R_MAX",
    "CostInstance",
    "GrowthInstance",
    "KernelInstance",
    "ModelKernelInstance",
    "PhaseInstance",
    "PolynomialInstance",
    "RankInstance",
    "build_kernel_inputs",
    "cost_instances",
    "growth_instances",
    "kernel_instances",
    "model_kernel_instances",
    "phase_instances",
    "polynomial_instances",
    "rank_instances",
]

#: Largest score radius drawn: float64 cancellation e^{2R}·u stays below 1e-13.
R_MAX = 2.0

#: Input patterns: uniform entries, ±B sign patterns, and a near-degenerate softmax spike.
KERNEL_PATTERNS: tuple[str, ...] = ("uniform", "signs", "spike")

_METHODS = st.sampled_from(("taylor", "chebyshev"))


def _log_uniform(low_exp: float, high_exp: float) -> st.SearchStrategy[float]:
    """``10**x`` for ``x`` uniform in ``[low_exp, high_exp]`` (finite, no NaN)."""
    return st.floats(low_exp, high_exp, allow_nan=False, allow_infinity=False).map(
        lambda x: float(10.0**x))


# --- K1: polynomials ------------------------------------------------------------------------


@dataclass(frozen=True)
class PolynomialInstance:
    """A target: relative error ``eps`` of ``exp`` on ``[−radius, radius]`` by ``method``."""

    method: str
    radius: float
    eps: float


def polynomial_instances() -> st.SearchStrategy[PolynomialInstance]:
    """Radii in ``[0, R_MAX]`` and ``eps`` in ``[1e-11, 1e-2]``."""
    return st.builds(
        PolynomialInstance, method=_METHODS,
        radius=st.floats(0.0, R_MAX, allow_nan=False, allow_infinity=False),
        eps=_log_uniform(-11.0, -2.0))


# --- K2/K3: kernel inputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class KernelInstance:
    """``Q`` ``(s, m)``, ``K`` ``(s, n)`` with entries in ``[−B, B]``, ``V`` ``(d_v, n)`` in
    ``[−1, 1]``; the plan targets relative error ``eps`` with ``method``; ``last`` (0 = all)
    selects the prompt-tuning readout.

    Patterns: ``"uniform"``; ``"signs"`` (every entry ``±B``: every score at ``±β s B²``);
    ``"spike"`` (all queries ``≈ Bσ``, key 0 ``= Bσ``, the other keys ``= −Bσ``, ``V`` row
    signs aligned with it: the softmax puts the extreme weight ratio ``e^{2R}`` on one key).
    """

    seed: int
    s: int
    d_v: int
    n: int
    m: int
    B: float
    beta: float
    eps: float
    method: str = "chebyshev"
    pattern: str = "uniform"
    last: int = 0
    dtype: str = "float64"
    arithmetic: str = "input"

    @property
    def radius(self) -> float:
        """``R = β·s·B²`` of the drawn regime (rounded up, as the plan has it)."""
        return KernelRegime(s=self.s, beta=self.beta, B=self.B).radius


@st.composite
def kernel_instances(draw: st.DrawFn, *, max_n: int = 10, eps_exp: tuple[float, float] = (
        -10.0, -3.0), dtypes: tuple[str, ...] = ("float64",)) -> KernelInstance:
    """Kernel inputs with ``R = β s B² <= R_MAX`` (``B`` is shrunk into the regime)."""
    s = draw(st.integers(1, 4))
    beta = draw(st.floats(0.05, 1.0, allow_nan=False, allow_infinity=False))
    B = draw(st.floats(0.0, 1.5, allow_nan=False, allow_infinity=False))
    B = KernelRegime(s=s, beta=beta, B=B).B_within(R_MAX)
    m = draw(st.integers(1, max_n))
    return KernelInstance(
        seed=draw(seeds()), s=s, d_v=draw(st.integers(1, 3)), n=draw(st.integers(1, max_n)),
        m=m, B=B, beta=beta, eps=draw(_log_uniform(*eps_exp)), method=draw(_METHODS),
        pattern=draw(st.sampled_from(KERNEL_PATTERNS)), last=draw(st.integers(0, m)),
        dtype=(dtype := draw(st.sampled_from(dtypes))),
        arithmetic=draw(st.sampled_from(("input", "float64"))) if dtype == "float32"
        else "input")


def build_kernel_inputs(inst: KernelInstance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(Q, K, V)`` float64 arrays of shapes ``(s, m), (s, n), (d_v, n)`` for ``inst``."""
    rng = np.random.default_rng(inst.seed)
    s, n, m, B = inst.s, inst.n, inst.m, inst.B
    if inst.pattern == "spike":
        sigma = rng.choice([-1.0, 1.0], (s, 1))
        Q = np.clip(B * sigma + rng.uniform(-0.01, 0.01, (s, m)) * B, -B, B)
        K = np.repeat(-B * sigma, n, axis=1)
        K[:, :1] = B * sigma
        V = -np.ones((inst.d_v, n))
        V[:, 0] = 1.0
    else:
        Q, K, V = bounded_qkv(rng, s=s, m=m, n=n, d_v=inst.d_v, B=B, pattern=inst.pattern)
    return Q, K, V


# --- K4: rank and its growth ---------------------------------------------------------------


@dataclass(frozen=True)
class RankInstance:
    """Monomials of degree ``<= g`` in ``s`` variables at ``r + extra`` random integer points."""

    seed: int
    s: int
    g: int
    extra: int = 3


def rank_instances() -> st.SearchStrategy[RankInstance]:
    return st.builds(RankInstance, seed=seeds(), s=st.integers(1, 4), g=st.integers(0, 4),
                     extra=st.integers(0, 5))


@dataclass(frozen=True)
class GrowthInstance:
    """``B_n = scale·(ln n)^exponent`` with ``exponent < 1/2`` (so ``B_n = o(√log n)``)."""

    s: int
    exponent: float
    scale: float


def growth_instances() -> st.SearchStrategy[GrowthInstance]:
    return st.builds(
        GrowthInstance, s=st.integers(1, 16),
        exponent=st.floats(0.0, 0.45, allow_nan=False, allow_infinity=False),
        scale=st.floats(0.25, 2.0, allow_nan=False, allow_infinity=False))


# --- K5: cost -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostInstance:
    """A kernel call of ``n`` keys, ``m`` queries in blocks of ``chunk`` token columns."""

    seed: int
    s: int
    d_v: int
    n: int
    m: int
    chunk: int
    degree_eps: float = 1e-6


def cost_instances() -> st.SearchStrategy[CostInstance]:
    return st.builds(
        CostInstance, seed=seeds(), s=st.integers(1, 6), d_v=st.integers(1, 4),
        n=st.integers(1, 1500), m=st.integers(1, 1500), chunk=st.integers(1, 1024),
        degree_eps=_log_uniform(-9.0, -3.0))


# --- K6: phase transition -------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseInstance:
    """``n = 2^log2_n``; ``B/√ln n`` swept over ``steps`` values in ``[0.05, 1.5]``."""

    log2_n: int
    s: int = 8
    steps: int = 30


def phase_instances() -> st.SearchStrategy[PhaseInstance]:
    return st.builds(PhaseInstance, log2_n=st.integers(10, 16), s=st.integers(4, 16),
                     steps=st.integers(8, 40))


# --- K7: the whole model with the kernel inside ----------------------------------------------


@dataclass(frozen=True)
class ModelKernelInstance(ModelInstance):
    """A small model draw (a :class:`~properties.strategies.ModelInstance`, float64) run with
    the kernel; ``beta`` is lowered after measuring ``B`` if needed so that ``R <= R_MAX``."""

    eps: float = 1e-8
    method: str = "chebyshev"


def model_kernel_instances() -> st.SearchStrategy[ModelKernelInstance]:
    return st.builds(
        ModelKernelInstance, seed=seeds(), d=st.integers(1, 4), s=st.integers(1, 4),
        L=st.integers(1, 5), Lp=st.integers(0, 5), n_pre=st.integers(0, 2),
        n_post=st.integers(0, 2), hidden=st.integers(1, 6), positional=st.booleans(),
        beta=st.floats(0.05, 2.0, allow_nan=False, allow_infinity=False),
        weight_scale=st.floats(0.1, 1.5, allow_nan=False, allow_infinity=False),
        eps=_log_uniform(-10.0, -3.0), method=_METHODS)
