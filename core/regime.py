"""The soft-prompt-induced norm regime ``B`` against ``√log n`` (docs/theory.md §3).

Paper labels ``thm:inference_linear`` (below the threshold) and
``thm:forward_efficiency_threshold`` (at it). For a frozen model τ, prompt ``P`` and input
``X``, attention sees ``Z = FF_pre([P, X] + E)``, queries ``Q = W_Q Z`` and keys
``K = W_K Z``. The regime is

    B = max(‖Q‖_max, ‖K‖_max),       compared with √log n,   n = L_p + L,

and every score ``β kᵀq`` lies in ``[−R, R]`` with ``R = β·s·B²``. Almost-linear inference
is possible for ``B = o(√log n)`` and impossible (under SETH) for ``B = Θ(√log n)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import InvalidArgument
from .kernels.regime import KernelRegime
from .model import PromptTunedTransformer
from .validation import short_repr

__all__ = ["RegimeReport", "measure_regime"]

PAPER_REF = "thm:inference_linear"


@dataclass(frozen=True)
class RegimeReport:
    """The measured regime of one (model, prompt, input).

    Attributes:
        n: sequence length ``L_p + L``.
        B: ``max(‖Q‖_max, ‖K‖_max)``; ``B_query``, ``B_key`` its two parts.
        sqrt_log_n: ``√(ln n)`` (natural log; ``0`` for ``n = 1``).
        ratio: ``B / √log n`` (``inf`` when ``n = 1``); the phase-transition coordinate.
        radius: ``R = β·s·B²`` (rounded up, :func:`core.kernels.score_radius`), the bound on
            every score.
        beta, s: the model's scale and head dimension.
    """

    n: int
    B: float
    B_query: float
    B_key: float
    sqrt_log_n: float
    ratio: float
    radius: float
    beta: float
    s: int
    paper_ref: str = PAPER_REF

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def measure_regime(model: PromptTunedTransformer, X: torch.Tensor,
                   P: torch.Tensor) -> RegimeReport:
    """Measure ``B`` of ``model`` on prompt ``P`` and one input ``X`` ``(d, L)`` (all ``n``
    queries)."""
    if not isinstance(model, PromptTunedTransformer):
        raise InvalidArgument(f"model={short_repr(model)}: expected a PromptTunedTransformer")
    if isinstance(X, torch.Tensor) and X.ndim != 2:
        raise InvalidArgument(f"X={short_repr(X)}: expected one (d, L) input, not a batch")
    with torch.no_grad():
        inputs = model.attention_inputs(X, P, full=True)
    bq = float(inputs.Q.abs().max())
    bk = float(inputs.K.abs().max())
    n = int(inputs.K.shape[1])
    regime = KernelRegime(s=int(inputs.Q.shape[0]), beta=model.beta, B=max(bq, bk), n=n)
    return RegimeReport(n=n, B=regime.B, B_query=bq, B_key=bk,
                        sqrt_log_n=regime.sqrt_log_n, ratio=regime.ratio,
                        radius=regime.radius, beta=model.beta, s=regime.s)
