"""Forward rounding-error bounds for τ and for exact attention (docs/theory.md §6).

A running error analysis in the style of Higham (*Accuracy and Stability of Numerical
Algorithms*, 2nd ed., §2.2 and §3.1–3.5), evaluated for one instance from its actual weights
and activations. Every intermediate quantity ``x`` (a matrix) is carried as a *center*
``c`` (the same steps evaluated in float64) and an entrywise bound ``e`` with
``|x̂ − x| ≤ e`` for the value ``x̂`` computed in the model's dtype (unit roundoff ``u``) and
the exact value ``x``. The same ``e`` bounds the float64 center (``u64 ≤ u`` and every term
is monotone in ``u``), so ``|c| + 2e`` bounds ``|x̂|`` and ``|x|`` alike.

Rules, with ``γ_k = k·u/(1 − k·u)`` and entrywise absolute values:

- dot products of length ``k`` with exact weights ``W`` (plus a bias ``b``):
  ``e_y = |W| e_x + γ_{k+1} (|W| M_x + |b|)`` (``γ_k`` without a bias);
- a sum of ``k`` terms (the residuals): the errors add, plus ``γ_{k−1}`` times the sum of
  magnitudes;
- ReLU is 1-Lipschitz: errors and magnitudes pass through;
- scores ``β·(KᵀQ)``: ``e_S = β (e_Kᵀ M_Q + M_Kᵀ e_Q) + γ_{s+1} β M_Kᵀ M_Q``;
- softmax of a column with logit errors ``ε_i = e_{S,i}`` (``η = max_i ε_i``): ``p_i`` is
  bounded by ``P_i = p^c_i e^{4η}`` from the center logits; the exact softmax ``p̃`` of
  the computed logits is within ``P_i (e^{ε_i + ζ} − 1)`` of the true ``p``, with
  ``ζ = Σ_k P_k (e^{ε_k} − 1)``; the max-subtracted exp, the ``n``-term
  normaliser and the division add a relative error
  ``Φ_i = (1 + r_i)(1 + u)/(1 − ā) − 1`` with ``r_i = (1 + κ) e^{u T_i} − 1`` (``T_i``
  bounds the shifted logit, ``κ = 2·EXP_ULPS·u`` is the assumed accuracy of ``exp``) and
  ``ā = Σ_i P_i ((1 + r_i)(1 + γ_{n−1}) − 1)``;
- the weighted sum ``V p``: ``e_O = γ_n M_V M_p + e_V M_p + M_V (P∘Φ)
  + Σ_i (|V_i − O^c| + e_{V,i}) P_i (e^{ε_i + ζ} − 1)``: because ``Σ_i (p̃_i − p_i) = 0``,
  the logit error only moves the output by the values' spread about the output ``O^c``;
- the composed ``W_O W_V`` (float64 product, then rounded to the dtype) carries
  ``(u + γ^{(64)}_s (1 + u)) |W_O||W_V|``.

Underflow adds at most ``k·tiny`` per length-``k`` dot product or column (``tiny`` the
smallest normal number of the dtype). The bound itself is evaluated in float64 over
non-negative terms; a relative margin of ``BOUND_MARGIN`` covers that evaluation and the
float64 center probabilities.

**Assumption.** ``exp`` of the dtype (torch's and NumPy's, SLEEF or libm) is accurate to
``EXP_ULPS`` ulps, and ``exp(0) = 1``. Everything else is IEEE 754 round-to-nearest; the
summation order (blocked, pairwise, fused multiply-add) is free, because ``γ_k`` bounds any
order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .errors import InvalidArgument
from .validation import short_repr
from .weights import FeedForwardWeights, TransformerWeights, as_float64_matrix

__all__ = [
    "BOUND_MARGIN",
    "EXP_ULPS",
    "attention_error_bound",
    "forward_error_bound",
    "forward_error_bounds",
    "gamma",
    "unit_roundoff",
]

#: Assumed accuracy of the dtype's ``exp`` in ulps (SLEEF's ``u10`` and glibc promise ≤ 1).
EXP_ULPS = 4

#: Relative margin on the final bound for its own float64 evaluation.
BOUND_MARGIN = 1e-6

_U64 = 2.0 ** -53


def unit_roundoff(dtype: object) -> float:
    """``u = 2^-24`` for float32, ``2^-53`` for float64 (torch or NumPy dtype, or its name)."""
    name = str(dtype).removeprefix("torch.")
    if name in ("float32", "<class 'numpy.float32'>"):
        return 2.0 ** -24
    if name in ("float64", "<class 'numpy.float64'>", "float"):
        return _U64
    raise InvalidArgument(f"dtype={short_repr(dtype)}: expected float32 or float64")


def _tiny(u: float) -> float:
    return float(np.finfo(np.float32 if u > _U64 else np.float64).tiny)


def gamma(k: int, u: float) -> float:
    """Higham's ``γ_k = k·u/(1 − k·u)``; ``inf`` once ``k·u ≥ 1``."""
    ku = k * u
    return math.inf if ku >= 1 else ku / (1.0 - ku)


@dataclass(frozen=True)
class _Bounded:
    """A float64 center ``c`` and an entrywise error bound ``e`` of the same shape."""

    c: np.ndarray
    e: np.ndarray

    @property
    def mag(self) -> np.ndarray:
        """Bounds ``|x̂|`` and ``|x|``: ``|c| + 2e``."""
        return np.abs(self.c) + 2.0 * self.e

    def columns(self, start: int) -> _Bounded:
        return _Bounded(self.c[:, start:], self.e[:, start:])


def _product(W: np.ndarray, x: _Bounded, u: float, *, bias: np.ndarray | None = None,
             w_err: np.ndarray | None = None) -> _Bounded:
    """``W x (+ b 1ᵀ)`` with ``W`` ``(r, k)``: the weights the dtype holds, exact unless
    ``w_err`` bounds their distance to the exact ones (the composed ``W_O W_V``)."""
    k = W.shape[1]
    aW = np.abs(W)
    c = W @ x.c
    mag = aW @ x.mag
    terms = k
    if bias is not None:
        c = c + bias[:, None]
        mag = mag + np.abs(bias)[:, None]
        terms += 1
    e = aW @ x.e + gamma(terms, u) * mag + terms * _tiny(u)
    if w_err is not None:
        e = e + w_err @ (x.mag + x.e) + gamma(terms, u) * (w_err @ x.mag)
    return _Bounded(c, e)


def _sum(parts: list[_Bounded], u: float) -> _Bounded:
    """Entrywise sum of ``len(parts)`` terms, any order."""
    c = sum((p.c for p in parts[1:]), parts[0].c)
    e = sum((p.e for p in parts[1:]), parts[0].e)
    mag = sum((p.mag for p in parts[1:]), parts[0].mag)
    return _Bounded(c, e + gamma(len(parts) - 1, u) * mag)


def _feed_forward(z: _Bounded, layer: FeedForwardWeights, u: float) -> _Bounded:
    """``Z + W_2 ReLU(W_1 Z + b_1 1ᵀ) + b_2 1ᵀ`` (the model's ``feed_forward``)."""
    pre = _product(layer.w1, z, u, bias=layer.b1)
    hidden = _Bounded(np.maximum(pre.c, 0.0), pre.e)          # ReLU: 1-Lipschitz
    lifted = _product(layer.w2, hidden, u)
    b2 = np.broadcast_to(layer.b2[:, None], z.c.shape)
    return _sum([z, lifted, _Bounded(b2, np.zeros_like(b2))], u)


def _attention(Q: _Bounded, K: _Bounded, V: _Bounded, beta: float, u: float, *,
               extra_score_ops: int = 0, extra_output_ops: int = 0) -> _Bounded:
    """``V·softmax_col(β KᵀQ)``: ``Q`` ``(s, m)``, ``K`` ``(s, n)``, ``V`` ``(d_v, n)``.

    ``extra_score_ops`` / ``extra_output_ops``: further roundings per score / per output
    entry, for implementations that scale ``Q`` and ``K`` or normalise after the sum.
    """
    s, n = K.c.shape
    tiny = _tiny(u)
    S_c = beta * (K.c.T @ Q.c)                                     # (n, m)
    score_ops = s + 1 + extra_score_ops
    e_S = (beta * (K.e.T @ Q.mag + K.mag.T @ Q.e)
           + gamma(score_ops, u) * beta * (K.mag.T @ Q.mag) + score_ops * tiny)
    eta = e_S.max(axis=0)                                          # (m,)
    shifted = S_c - S_c.max(axis=0)
    p_c = np.exp(shifted)
    p_c = p_c / p_c.sum(axis=0)
    P = p_c * np.exp(4.0 * eta) * (1.0 + BOUND_MARGIN)             # bounds p and softmax(Ŝ)
    # rounding inside softmax: p̂_i = p̃_i (1 + φ_i), p̃ = softmax(Ŝ) exact
    T = np.abs(shifted) + 4.0 * eta                                # bounds |Ŝ_i − max Ŝ|
    kappa = 2.0 * EXP_ULPS * u
    r = (1.0 + kappa) * np.exp(u * T) - 1.0
    a_bar = np.sum(P * ((1.0 + r) * (1.0 + gamma(n - 1, u)) - 1.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(a_bar < 1.0, (1.0 + r) * (1.0 + u) / (1.0 - a_bar) - 1.0, np.inf)
    e_round = P * phi + 2 * n * tiny                               # |p̂ − p̃|
    M_p = P + e_round                                              # bounds p̂, p̃ and p
    # logit error: p̃_i = p_i e^{δ_i}/Z with |δ_i| <= ε_i and Z = Σ p_k e^{δ_k} within
    # e^{±ζ}, ζ = Σ P_k (e^{ε_k} − 1) (Jensen below; ln(1 + x) <= x above, as Σ p_k = 1);
    # Σ_i (p̃_i − p_i) = 0, so V(p̃ − p) = (V − c 1ᵀ)(p̃ − p)
    zeta = np.sum(P * np.expm1(e_S), axis=0)
    e_logit = P * np.expm1(e_S + zeta)                             # |p̃ − p|, (n, m)
    c = V.c @ p_c                                                  # (d_v, m)
    spread = np.abs(V.c[:, :, None] - c[:, None, :]) + V.e[:, :, None]   # (d_v, n, m)
    e = (gamma(n + extra_output_ops, u) * (V.mag @ M_p) + V.e @ M_p + V.mag @ e_round
         + np.einsum("rim,im->rm", spread, e_logit) + n * tiny)
    return _Bounded(c, e)


def _exact(name: str, value: object, u: float, **shape: int) -> np.ndarray:
    """``value`` as float64, refusing entries the dtype cannot hold exactly."""
    arr = as_float64_matrix(name, value, **shape)
    if u > _U64 and not np.array_equal(arr.astype(np.float32).astype(np.float64), arr):
        raise InvalidArgument(f"{name}: entries are not float32 numbers; round them first "
                              "(TransformerWeights.rounded_to) so the bound is about "
                              "arithmetic only")
    return arr


def _check_weights(weights: TransformerWeights, u: float) -> None:
    for i, arr in enumerate(weights.arrays()):
        _exact(f"weights.arrays()[{i}]", arr, u, ndim=arr.ndim)
    _exact("beta", np.array([[weights.beta]]), u)


def forward_error_bounds(weights: TransformerWeights, X: np.ndarray, P: np.ndarray,
                         dtype: torch.dtype | str, *, full: bool = False) -> np.ndarray:
    """Entrywise bound on ``|τ̂_P(X) − τ_P(X)|``: ``τ̂`` computed by
    :class:`core.model.PromptTunedTransformer` in ``dtype``, ``τ`` exact on the same weights.

    Args:
        weights: the frozen weights, every entry (and ``β``) representable in ``dtype``.
        X: input ``(d, L)``; P: prompt ``(d, L_p)``; both representable in ``dtype``.
        dtype: float32 or float64 (torch or NumPy dtype, or its name).
        full: bound all ``n = L_p + L`` columns instead of the readout.

    Returns:
        ``(d, L)`` (or ``(d, n)``) float64 array of non-negative bounds (module docstring).
    """
    u = unit_roundoff(dtype)
    if not isinstance(weights, TransformerWeights):
        raise InvalidArgument(f"weights={short_repr(weights)}: expected a TransformerWeights")
    _check_weights(weights, u)
    X = _exact("X", X, u, rows=weights.d)
    P = _exact("P", P, u, rows=weights.d)
    lp = P.shape[1]
    Z0 = np.concatenate([P, X], axis=1)
    if weights.pos is not None:
        if weights.pos.shape[1] != Z0.shape[1]:
            raise InvalidArgument(f"L_p + L = {Z0.shape[1]}: the positional encoding fixes "
                                  f"n = {weights.pos.shape[1]}")
        z = _Bounded(Z0 + weights.pos, u * (np.abs(Z0) + np.abs(weights.pos)))
    else:
        z = _Bounded(Z0, np.zeros_like(Z0))
    for layer in weights.ff_pre:
        z = _feed_forward(z, layer, u)
    queries = z if full else z.columns(lp)
    s = weights.s
    w_ov = weights.w_o @ weights.w_v                  # as the model composes it, in float64
    ov_err = (u + gamma(s, _U64) * (1.0 + u)) * (np.abs(weights.w_o) @ np.abs(weights.w_v))
    Q = _product(weights.w_q, queries, u)
    K = _product(weights.w_k, z, u)
    V = _product(w_ov, z, u, w_err=ov_err)
    out = _sum([queries, _attention(Q, K, V, weights.beta, u)], u)
    for layer in weights.ff_post:
        out = _feed_forward(out, layer, u)
    return out.e * (1.0 + BOUND_MARGIN)


def forward_error_bound(weights: TransformerWeights, X: np.ndarray, P: np.ndarray,
                        dtype: torch.dtype | str, *, full: bool = False) -> float:
    """Max-norm bound on ``τ̂_P(X) − τ_P(X)`` (:func:`forward_error_bounds`' largest entry)."""
    return float(forward_error_bounds(weights, X, P, dtype, full=full).max())


def attention_error_bound(Q: np.ndarray, K: np.ndarray, V: np.ndarray, beta: float,
                          dtype: torch.dtype | str = torch.float64, *,
                          extra_score_ops: int = 0, extra_output_ops: int = 0) -> float:
    """Max-norm bound on :func:`core.attention.exact_attention` in ``dtype`` against exact
    ``V·softmax_col(β KᵀQ)``; ``Q`` ``(s, m)``, ``K`` ``(s, n)``, ``V`` ``(d_v, n)`` and
    ``β`` representable in ``dtype``.

    ``extra_score_ops`` / ``extra_output_ops`` count further roundings per score and per
    output entry, for a peer that evaluates the same formula differently (torch's
    ``scaled_dot_product_attention`` scales ``Q`` and ``K`` by ``√β`` and may normalise
    after the weighted sum).
    """
    u = unit_roundoff(dtype)
    q = _exact("Q", Q, u)
    k = _exact("K", K, u, rows=q.shape[0])
    v = _exact("V", V, u, cols=k.shape[1])
    _exact("beta", np.array([[beta]]), u)
    Qb, Kb, Vb = (_Bounded(a, np.zeros_like(a)) for a in (q, k, v))
    out = _attention(Qb, Kb, Vb, float(beta), u, extra_score_ops=extra_score_ops,
                     extra_output_ops=extra_output_ops)
    return float(out.e.max()) * (1.0 + BOUND_MARGIN)
