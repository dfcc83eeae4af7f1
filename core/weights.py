"""Frozen weights of the one-layer, one-head prompt-tuned transformer (docs/theory.md §1).

The weights live here as float64 NumPy arrays so that the torch model
(:mod:`core.model`) and the mpmath twin (:mod:`core.mp_twin`) evaluate *the same* numbers.
Shapes: ``W_Q, W_K, W_V ∈ R^{s×d}``, ``W_O ∈ R^{d×s}``; feed-forward layer
``FF(Z) = Z + W_2 ReLU(W_1 Z + b_1 1ᵀ) + b_2 1ᵀ`` with ``W_1 ∈ R^{h×d}``, ``W_2 ∈ R^{d×h}``;
positional encoding ``E ∈ R^{d×n}`` (optional).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .errors import InvalidArgument
from .validation import check_real

__all__ = ["FeedForwardWeights", "TransformerWeights", "as_float64_matrix"]


def as_float64_matrix(name: str, value: object, *, rows: int | None = None,
                      cols: int | None = None, ndim: int = 2) -> np.ndarray:
    """Return ``value`` as a finite, read-only float64 array of the given shape."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{name}: cannot convert to a float64 array ({exc})") from None
    if arr.ndim != ndim:
        raise InvalidArgument(f"{name} has shape {arr.shape}: expected {ndim} dimensions")
    if not np.isfinite(arr).all():
        raise InvalidArgument(f"{name} contains NaN or inf: all entries must be finite")
    if rows is not None and arr.shape[0] != rows:
        raise InvalidArgument(f"{name} has shape {arr.shape}: expected {rows} rows")
    if cols is not None and arr.shape[-1] != cols:
        raise InvalidArgument(f"{name} has shape {arr.shape}: expected {cols} columns")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class FeedForwardWeights:
    """One token-wise ReLU layer with residual: ``Z + W_2 ReLU(W_1 Z + b_1) + b_2``.

    ``w1``: ``(h, d)``, ``b1``: ``(h,)``, ``w2``: ``(d, h)``, ``b2``: ``(d,)``.
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __post_init__(self) -> None:
        w1 = as_float64_matrix("ff.w1", self.w1)
        h, d = w1.shape
        object.__setattr__(self, "w1", w1)
        object.__setattr__(self, "b1", as_float64_matrix("ff.b1", self.b1, rows=h, ndim=1))
        object.__setattr__(self, "w2", as_float64_matrix("ff.w2", self.w2, rows=d, cols=h))
        object.__setattr__(self, "b2", as_float64_matrix("ff.b2", self.b2, rows=d, ndim=1))

    @property
    def d(self) -> int:
        return int(self.w1.shape[1])

    @property
    def hidden(self) -> int:
        return int(self.w1.shape[0])

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.w1, self.b1, self.w2, self.b2)


@dataclass(frozen=True)
class TransformerWeights:
    """All frozen weights of τ (docs/theory.md §1). Only the prompt ``P`` is free.

    Attributes:
        w_q, w_k, w_v: ``(s, d)`` projections.
        w_o: ``(d, s)`` output projection.
        beta: score scale ``β > 0``.
        ff_pre, ff_post: feed-forward stacks before / after attention (may be empty).
        pos: positional encoding ``E`` of shape ``(d, n)`` or ``None``; when present the
            model only accepts ``L_p + L = n``.
    """

    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray
    beta: float
    ff_pre: tuple[FeedForwardWeights, ...] = field(default=())
    ff_post: tuple[FeedForwardWeights, ...] = field(default=())
    pos: np.ndarray | None = None

    def __post_init__(self) -> None:
        w_q = as_float64_matrix("w_q", self.w_q)
        s, d = w_q.shape
        object.__setattr__(self, "w_q", w_q)
        object.__setattr__(self, "w_k", as_float64_matrix("w_k", self.w_k, rows=s, cols=d))
        object.__setattr__(self, "w_v", as_float64_matrix("w_v", self.w_v, rows=s, cols=d))
        object.__setattr__(self, "w_o", as_float64_matrix("w_o", self.w_o, rows=d, cols=s))
        object.__setattr__(self, "beta", check_real("beta", self.beta, low=0.0,
                                                    low_open=True))
        for stack_name in ("ff_pre", "ff_post"):
            stack = tuple(getattr(self, stack_name))
            for i, layer in enumerate(stack):
                if not isinstance(layer, FeedForwardWeights):
                    raise InvalidArgument(
                        f"{stack_name}[{i}]={type(layer).__name__}: expected "
                        "FeedForwardWeights")
                if layer.d != d:
                    raise InvalidArgument(
                        f"{stack_name}[{i}] acts on dimension {layer.d}: expected d={d}")
            object.__setattr__(self, stack_name, stack)
        if self.pos is not None:
            object.__setattr__(self, "pos", as_float64_matrix("pos", self.pos, rows=d))

    @property
    def d(self) -> int:
        """Token dimension."""
        return int(self.w_q.shape[1])

    @property
    def s(self) -> int:
        """Head (query/key) dimension."""
        return int(self.w_q.shape[0])

    def arrays(self) -> list[np.ndarray]:
        """Every weight array in a fixed order (for hashing and dtype rounding)."""
        out = [self.w_q, self.w_k, self.w_v, self.w_o]
        for layer in (*self.ff_pre, *self.ff_post):
            out.extend(layer.arrays())
        if self.pos is not None:
            out.append(self.pos)
        return out

    def digest(self) -> str:
        """SHA-256 of every weight, shape and β: equal digests mean the same frozen τ."""
        h = hashlib.sha256()
        h.update(repr((self.beta, len(self.ff_pre), len(self.ff_post),
                       self.pos is not None)).encode())
        for arr in self.arrays():
            h.update(repr(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def rounded_to(self, dtype: np.dtype | type) -> TransformerWeights:
        """The same weights rounded through ``dtype`` (e.g. float32) and back to float64.

        The mpmath twin of a float32 model evaluates these, so a comparison measures
        arithmetic error only, not the rounding of the weights themselves.
        """
        def r(a: np.ndarray) -> np.ndarray:
            return a.astype(dtype).astype(np.float64)

        def rff(layer: FeedForwardWeights) -> FeedForwardWeights:
            return FeedForwardWeights(*(r(a) for a in layer.arrays()))

        return TransformerWeights(
            w_q=r(self.w_q), w_k=r(self.w_k), w_v=r(self.w_v), w_o=r(self.w_o),
            beta=float(np.float64(self.beta).astype(dtype)),
            ff_pre=tuple(rff(f) for f in self.ff_pre),
            ff_post=tuple(rff(f) for f in self.ff_post),
            pos=None if self.pos is None else r(self.pos))
