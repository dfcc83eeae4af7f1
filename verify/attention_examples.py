"""Attention implementations checked by ``ptlimits check-attention``, and the docs table.

Each adapter is ``fn(Q (n, s), K (m, s), V (m, d_v), beta) -> (n, d_v)`` (row-major, float64
in and out), ≈ ``softmax(β Q Kᵀ) V`` row-wise:

- :func:`sdpa_float32`: torch ``scaled_dot_product_attention`` in float32;
- :func:`performer_favor_plus`: the ``performer-pytorch`` package's ``FastAttention``
  (FAVOR+ positive orthogonal random features, Choromanski et al. 2021), a fixed seed;
- :func:`based_taylor2`: a degree-2 Taylor feature map in the style of Based (Arora et al.
  2024), written here: ``exp(x) ≈ 1 + x + x²/2`` through features
  ``[1, x, vec(x xᵀ)/√2]`` of ``x = √β·q`` and ``√β·k`` (not the Based package);
- :func:`polynomial_kernel`: ours, :func:`core.kernels.polynomial_attention` with the
  certified plan for the inputs' own ``B`` at ``δ_F = 1e-6``;
- :func:`normaliser_dropped`: deliberately wrong, ``exp(β Q Kᵀ) V`` without the softmax
  normaliser (it must fail).

:data:`EXAMPLES` pairs each with the error it claims for a regime, and where that claim comes
from; :func:`examples_table` checks them all in :data:`DOCS_REGIME` and prints the markdown
table of the docs (``python -m verify.attention_examples``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
import torch

from core.errors import HarnessError
from core.kernels import KernelRegime, lemma_bound, plan_for, polynomial_attention
from core.kernels.fast_attention import measured_norm
from properties.attention_check import DEFAULT_DELTA_F, AttentionReport, check_attention
from properties.tolerances import tolerance_for

__all__ = [
    "DOCS_REGIME",
    "EXAMPLES",
    "PERFORMER_FEATURES",
    "PERFORMER_SEED",
    "Example",
    "based_claimed_error",
    "based_taylor2",
    "examples_table",
    "normaliser_dropped",
    "performer_available",
    "performer_favor_plus",
    "polynomial_kernel",
    "run_examples",
    "sdpa_claimed_error",
    "sdpa_float32",
]

#: Random features of the Performer adapter (``nb_features``), and the torch seed they are
#: drawn with.
PERFORMER_FEATURES = 256
PERFORMER_SEED = 0


def sdpa_float32(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
                 ) -> torch.Tensor:
    """torch ``scaled_dot_product_attention`` with ``scale=β`` on float32 copies of the
    inputs (4-D ``(1, 1, tokens, features)``: its fused CPU path); output cast to float64."""
    q, k, v = (t.to(torch.float32).contiguous()[None, None] for t in (Q, K, V))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=beta)
    return out[0, 0].to(torch.float64)


def sdpa_claimed_error(B: float, s: int, beta: float) -> float:
    """``torch.testing.assert_close``'s float32 default, ``atol + rtol`` at ``‖V‖_max = 1``
    (1e-5 + 1.3e-6): the accuracy torch's own comparisons grant float32 by default."""
    return tolerance_for(torch.float32).bound(1.0)


def performer_available() -> bool:
    """Whether the ``performer-pytorch`` package imports."""
    try:
        import performer_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=16)
def _performer(s: int) -> Any:
    try:
        from performer_pytorch import FastAttention
    except ImportError:
        raise HarnessError("performer-pytorch is not installed: pip install "
                           "'torch==2.13.0' performer-pytorch") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(PERFORMER_SEED)
        module = FastAttention(dim_heads=s, nb_features=PERFORMER_FEATURES)
    return module.double().eval()


def performer_favor_plus(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
                         ) -> torch.Tensor:
    """performer-pytorch ``FastAttention`` (softmax kernel, :data:`PERFORMER_FEATURES`
    orthogonal features drawn with seed :data:`PERFORMER_SEED`) in float64.

    Its ``softmax_kernel`` scales queries and keys by ``s^{-1/4}``, estimating
    ``exp(qᵀk/√s)``; inputs are scaled by ``√(β√s)`` so that it estimates ``exp(β qᵀk)``.
    It claims no error bound: FAVOR+ is unbiased with relative variance
    ``(e^{‖x+y‖²} − 1)/M`` per weight for ``M`` i.i.d. features (``‖x+y‖² <= 4β·s·B²``;
    orthogonal features do better), a Monte-Carlo scale rather than a guarantee.
    """
    c = math.sqrt(beta * math.sqrt(Q.shape[1]))
    q, k, v = (t.to(torch.float64)[None, None] for t in (c * Q, c * K, V))
    with torch.no_grad():
        return _performer(Q.shape[1])(q, k, v)[0, 0]


def _taylor2_features(X: torch.Tensor) -> torch.Tensor:
    """``[1, x, vec(x xᵀ)/√2]`` of each row ``x`` of ``X`` ``(c, s)``: ``(c, 1 + s + s²)``,
    so that ``φ(x)·φ(y) = 1 + xᵀy + (xᵀy)²/2``."""
    ones = torch.ones(X.shape[0], 1, dtype=X.dtype)
    outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1) / math.sqrt(2.0)
    return torch.cat([ones, X, outer], dim=1)


def based_taylor2(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
                  ) -> torch.Tensor:
    """Linear attention with the degree-2 Taylor feature map, in the style of Based:
    ``out = φ(Q)(φ(K)ᵀ V) / φ(Q)(φ(K)ᵀ 1)`` with ``φ`` of ``√β``-scaled rows, float64.
    ``1 + x + x²/2 > 0`` for every ``x``, so the normaliser is positive."""
    root = math.sqrt(beta)
    fq, fk = _taylor2_features(root * Q.double()), _taylor2_features(root * K.double())
    values = torch.cat([V.double(), torch.ones(V.shape[0], 1, dtype=torch.float64)], dim=1)
    num_den = fq @ (fk.T @ values)                                    # (n, d_v + 1)
    return num_den[:, :-1] / num_den[:, -1:]


def based_claimed_error(B: float, s: int, beta: float) -> float | None:
    """The error lemma at the relative error of ``1 + x + x²/2`` against ``eˣ`` on
    ``[−R, R]``. ``f(x) = (1 + x + x²/2)e^{−x} − 1`` has ``f′(x) = −x²e^{−x}/2 <= 0`` and
    ``f(0) = 0``, so ``sup|f| = max(f(−R), −f(R))``, evaluated at 40 digits and rounded
    up; exact arithmetic (float64 rounding is ~1e-15 against a claim of ~1e-2). ``None``
    when the relative error reaches 1."""
    R = KernelRegime(s=s, beta=beta, B=B).radius
    with mpmath.workdps(40):
        r = mpmath.mpf(R)
        eps = max((1 - r + r**2 / 2) * mpmath.exp(r) - 1, 1 - (1 + r + r**2 / 2) * mpmath.exp(-r))
        eps_up = math.nextafter(float(eps), math.inf)
    return lemma_bound(eps_up, 1.0) if eps_up < 1.0 else None


def polynomial_kernel(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
                      ) -> torch.Tensor:
    """Our kernel, :func:`core.kernels.polynomial_attention` (torch backend), with the
    certified plan for ``(s, β, B = max(‖Q‖_max, ‖K‖_max), δ_F = 1e-6)``."""
    plan = plan_for(KernelRegime(s=Q.shape[1], beta=beta, B=measured_norm(Q, K),
                                 delta_F=DEFAULT_DELTA_F))
    return polynomial_attention(Q.T, K.T, V.T, plan, backend="torch").T


def normaliser_dropped(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
                       ) -> torch.Tensor:
    """Deliberately wrong: ``exp(β Q Kᵀ) V``, the softmax normaliser dropped."""
    return torch.exp(beta * (Q @ K.T)) @ V


@dataclass(frozen=True)
class Example:
    """An implementation, the error it claims in a regime, and where the claim comes from."""

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor]
    claim: Callable[[float, int, float], float | None] | None
    claim_source: str

    def claimed_error(self, B: float, s: int, beta: float) -> float | None:
        return None if self.claim is None else self.claim(B, s, beta)


EXAMPLES: tuple[Example, ...] = (
    Example("sdpa_float32", sdpa_float32, sdpa_claimed_error,
            "torch.testing.assert_close float32 default"),
    Example("performer_favor_plus", performer_favor_plus, None,
            "none: a Monte-Carlo estimate, no deterministic bound"),
    Example("based_taylor2", based_taylor2, based_claimed_error,
            "lemma at the relative error of 1 + x + x²/2 on [−R, R]"),
    Example("polynomial_kernel", polynomial_kernel, None,
            "none: judged against the certified bound"),
    Example("normaliser_dropped", normaliser_dropped, None,
            "none: judged against the certified bound"),
)

#: The regime of the docs table: ``β = 1/√s``, so ``R = β·s·B² = 0.5``.
DOCS_REGIME: dict[str, Any] = {"B": 0.5, "s": 4, "beta": 0.5, "min_n": 1, "max_n": 13,
                               "draws": 3, "seed": 0}


def run_examples(regime: dict[str, Any] | None = None,
                 log: Callable[[str], None] | None = None) -> list[tuple[Example,
                                                                          AttentionReport]]:
    """:func:`~properties.attention_check.check_attention` of every example (Performer
    only where performer-pytorch is installed) in ``regime`` (default
    :data:`DOCS_REGIME`), each against its own claimed error."""
    regime = dict(DOCS_REGIME if regime is None else regime)
    out = []
    for example in EXAMPLES:
        if example.fn is performer_favor_plus and not performer_available():
            continue
        claimed = example.claimed_error(regime["B"], regime["s"], regime["beta"])
        out.append((example, check_attention(example.fn, claimed_error=claimed,
                                              name=example.name, progress=log, **regime)))
    return out


def _sig(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits - 1}e}" if math.isfinite(x) else str(x)


def _span(bounds: list[float]) -> str:
    """The certified bounds of a report's inputs (each at its own ``B``): ``lo … hi``."""
    if not bounds:
        return "no float64 plan"
    lo, hi = _sig(min(bounds), 3), _sig(max(bounds), 3)
    return lo if lo == hi else f"{lo} … {hi}"


def _yes_no(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "**no**")


def examples_table(regime: dict[str, Any] | None = None) -> str:
    """The markdown table of the docs: every example checked in ``regime``.

    Deterministic on one machine (fixed seeds); errors are printed to 2 significant digits
    (float32 and Performer's numbers move in the last digits with torch's kernels), bounds
    and claims to 3.
    """
    regime = dict(DOCS_REGIME if regime is None else regime)
    where = (f"B={regime['B']:g}, s={regime['s']}, β={regime['beta']:g}, "
             f"n, m ∈ [{regime['min_n']}, {regime['max_n']}]")
    lines = ["| implementation | regime | inputs | worst error / ‖V‖_max | our certified bound "
             "| its claimed error | within certified | within claimed | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for example, report in run_examples(regime):
        bounds = report.certified_bounds
        claim = (f"{_sig(report.claimed_error, 3)} ({example.claim_source})"
                 if report.claimed_error is not None else example.claim_source)
        verdict = "pass" if report.passed else "**FAIL**"
        lines.append(
            f"| `{example.name}` | {where} | {len(report.measurements)} "
            f"| {_sig(report.worst_error)} "
            f"| {_span(bounds)} | {claim} "
            f"| {_yes_no(report.within_certified)} | {_yes_no(report.within_claimed)} "
            f"| {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(examples_table())
