"""Exact (rational) evaluation of constructed transformers, and guarded float64 evaluation.

The universal construction packs whole tables into single reals (docs/theory.md §2, U), so a
float64 forward pass is meaningless once an encoding needs more than 53 bits. This module
evaluates the *same* :class:`~core.weights.TransformerWeights` exactly in rationals
(python-flint ``fmpq`` inside, :class:`fractions.Fraction` at the interface; every float64
weight is a dyadic rational, so this is the true real-arithmetic value of τ_P(X)):

- FF_pre layers and attention are evaluated directly from the weights; attention must be
  uniform (``W_K = 0`` or ``W_Q = 0``: every softmax weight is exactly ``1/n``), since
  ``exp`` of a nonzero rational is irrational;
- separable FF_post layers go through their exact :class:`~._pl.PLProfile` (``O(log h)``
  per layer), others through the generic exact formula.

:meth:`ExactProgram.forward_many` evaluates many inputs under one prompt: the prompt's
columns go through FF_pre once, and each run of identical consecutive FF_post layers
(the same map ``g`` repeated ``m`` times) is applied to all queries' values by
:func:`iterate`, which shares orbits: ``g`` is evaluated once per *distinct* state, so
values that lie on one another's orbits (the linear readout's slots, docs/universality.md)
cost ``O(N + m)`` evaluations instead of ``O(N·m)``. Values are ``fmpq``: a table of tens
of thousands of bits costs microseconds per operation where ``Fraction``'s gcd costs
milliseconds.

Shapes: ``X`` is ``d×L``, ``P`` is ``d×L_p``; tokens are columns.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from flint import fmpq, fmpz

from ..errors import InvalidArgument
from ..weights import FeedForwardWeights, TransformerWeights
from ._pl import PLProfile, profiles_of_layer

__all__ = [
    "ExactProgram",
    "Float64Untrusted",
    "RatMatrix",
    "compile_exact",
    "compile_post",
    "exact_forward",
    "iterate",
    "rational_matrix",
    "value_mix",
]

RatMatrix = list[list[Fraction]]


class Float64Untrusted(InvalidArgument):
    """A float64 evaluation was asked of an encoding that needs more bits than float64 has."""


def rational_matrix(a: np.ndarray | Sequence[Sequence[float]]) -> RatMatrix:
    """Exact rationals of a float64 matrix (binary floats convert exactly)."""
    return [[Fraction(float(v)) for v in row] for row in np.asarray(a, dtype=np.float64)]


@dataclass
class _Dense:
    """Nonzero weights of one FF layer as exact rationals (generic path)."""

    rows: list[list[tuple[int, Fraction]]]     # unit -> [(channel, w1)]
    b1: list[Fraction]
    cols: list[list[tuple[int, Fraction]]]     # channel -> [(unit, w2)]
    b2: list[Fraction]

    @classmethod
    def of(cls, layer: FeedForwardWeights) -> _Dense:
        rows = [[(int(c), Fraction(float(layer.w1[u, c]))) for c in np.flatnonzero(layer.w1[u])]
                for u in range(layer.hidden)]
        cols = [[(int(u), Fraction(float(layer.w2[c, u]))) for u in np.flatnonzero(layer.w2[c])]
                for c in range(layer.d)]
        return cls(rows=rows, b1=[Fraction(float(b)) for b in layer.b1], cols=cols,
                   b2=[Fraction(float(b)) for b in layer.b2])

    def apply(self, col: list[Fraction]) -> list[Fraction]:
        h = [max(Fraction(0), b + sum((w * col[c] for c, w in row), Fraction(0)))
             for row, b in zip(self.rows, self.b1, strict=True)]
        return [col[c] + self.b2[c] + sum((w * h[u] for u, w in self.cols[c]), Fraction(0))
                for c in range(len(col))]


def _q(x: Fraction) -> fmpq:
    return fmpq(x.numerator, x.denominator)


def _fraction(x: fmpq) -> Fraction:
    return Fraction(int(x.p), int(x.q))


_ZERO = fmpq(0)


@dataclass
class _DenseQ:
    """:class:`_Dense` in ``fmpq`` (the evaluator's arithmetic)."""

    rows: list[list[tuple[int, fmpq]]]
    b1: list[fmpq]
    cols: list[list[tuple[int, fmpq]]]
    b2: list[fmpq]

    @classmethod
    def of(cls, dense: _Dense) -> _DenseQ:
        return cls(rows=[[(c, _q(w)) for c, w in row] for row in dense.rows],
                   b1=[_q(b) for b in dense.b1],
                   cols=[[(u, _q(w)) for u, w in col] for col in dense.cols],
                   b2=[_q(b) for b in dense.b2])

    def apply(self, col: list[fmpq]) -> list[fmpq]:
        h = []
        for row, b in zip(self.rows, self.b1, strict=True):
            v = b
            for c, w in row:
                v += w * col[c]
            h.append(v if v > 0 else _ZERO)
        out = []
        for c, x in enumerate(col):
            v = x + self.b2[c]
            for u, w in self.cols[c]:
                v += w * h[u]
            out.append(v)
        return out


class _ProfileQ:
    """A :class:`~._pl.PLProfile` in ``fmpq`` with its slopes precomputed; ``g(y)``.

    Breakpoints are located on integers: with ``2^S`` a common denominator of the
    (dyadic, float64) breakpoints, ``X_k = x_k·2^S`` are integers and ``y < x_k`` iff
    ``⌊y·2^S⌋ < X_k``, so one floor replaces a bisection of huge-denominator comparisons.
    """

    __slots__ = ("keys", "left", "right", "scale", "slopes", "xs", "ys")

    def __init__(self, prof: PLProfile) -> None:
        self.xs = [_q(x) for x in prof.xs]
        self.ys = [_q(y) for y in prof.ys]
        self.slopes = [_q((prof.ys[k + 1] - prof.ys[k]) / (prof.xs[k + 1] - prof.xs[k]))
                       for k in range(len(prof.xs) - 1)]
        self.left, self.right = _q(prof.left), _q(prof.right)
        den = max((x.denominator for x in prof.xs), default=1)
        if den & (den - 1):              # not dyadic: fall back to exact bisection
            self.scale, self.keys = None, None
        else:
            self.scale = fmpq(den)
            self.keys = [int(x * den) for x in prof.xs]

    def __call__(self, y: fmpq) -> fmpq:
        xs = self.xs
        if not xs:
            return self.ys[0] + self.left * y
        if self.keys is None or self.scale is None:
            k = bisect.bisect_right(xs, y)
        else:
            k = bisect.bisect_right(self.keys, int((y * self.scale).floor()))
        if k == 0:
            return self.ys[0] + self.left * (y - xs[0])
        if k == len(xs):
            return self.ys[-1] + self.right * (y - xs[-1])
        return self.ys[k - 1] + self.slopes[k - 1] * (y - xs[k - 1])


_FP = fmpz(2**61 - 1)


def _fingerprint(y: fmpq) -> tuple[int, int]:
    """``(numerator mod 2^61−1, bit length of the denominator)``: equal for equal values."""
    return int(y.p % _FP), y.q.bit_length()


class _ExactIndex:
    """A map keyed by exact ``fmpq`` values, bucketed by :func:`_fingerprint` (an ``fmpq``
    hash goes through ``Fraction``'s: tens of µs at tens of thousands of bits; a fingerprint
    of the numerator's residue spreads values that agree in their leading digits) and
    resolved by exact equality within a bucket."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, int], list[tuple[fmpq, object]]] = {}

    def get(self, y: fmpq) -> object:
        for v, val in self._buckets.get(_fingerprint(y), ()):
            if v == y:
                return val
        return None

    def put(self, y: fmpq, val: object) -> None:
        self._buckets.setdefault(_fingerprint(y), []).append((y, val))


def iterate(g: Callable[[fmpq], fmpq], ys: Sequence[fmpq], m: int) -> list[fmpq]:
    """``[g^m(y) for y in ys]``, evaluating ``g`` once per distinct state visited.

    Every state visited is indexed by value on a *chain* (consecutive states of one orbit);
    a chain whose next state is already indexed links there. ``g^m(y)`` is then read off
    ``m`` places along ``y``'s chain and its links. Exact values, so equal states have
    equal images: nothing is assumed about ``g``. Values are taken largest first (a
    heuristic: the linear readout's waiting states then lie on one chain, and each slot
    costs one more state).
    """
    index = _ExactIndex()
    if m == 1:
        out1 = []
        for y in ys:
            v = index.get(y)
            if v is None:
                v = g(y)
                index.put(y, v)
            out1.append(v)
        return out1                                          # type: ignore[return-value]
    chains: list[list[fmpq]] = []
    link: list[tuple[int, int] | None] = []

    def at(c: int, i: int) -> fmpq:
        while True:
            chain = chains[c]
            if i < len(chain):
                return chain[i]
            nxt = link[c]
            if nxt is not None:
                c, i = nxt[0], nxt[1] + i - len(chain)
                continue
            x = g(chain[-1])
            found = index.get(x)
            if found is None:
                index.put(x, (c, len(chain)))
                chain.append(x)
            else:
                link[c] = found                              # type: ignore[call-overload]

    out: list[fmpq] = [_ZERO] * len(ys)
    for k in sorted(range(len(ys)), key=lambda k: float(ys[k]), reverse=True):
        pos = index.get(ys[k])
        if pos is None:
            pos = (len(chains), 0)
            index.put(ys[k], pos)
            chains.append([ys[k]])
            link.append(None)
        out[k] = at(pos[0], pos[1] + m)                      # type: ignore[index]
    return out


@dataclass
class ExactProgram:
    """A compiled exact evaluator of one τ (see module docstring)."""

    d: int
    pos: RatMatrix | None
    pre: list[_Dense]
    mix: RatMatrix                    # W_O W_V, exact
    post: list[list[PLProfile] | _Dense]

    def __post_init__(self) -> None:
        self._pre_q = [_DenseQ.of(layer) for layer in self.pre]
        self._mix_q = [[_q(v) for v in row] for row in self.mix]
        self._pos_q = None if self.pos is None else [[_q(v) for v in row] for row in self.pos]
        fast: dict[int, list[_ProfileQ] | _DenseQ] = {}
        runs: list[tuple[list[_ProfileQ] | _DenseQ, int]] = []
        last = None
        for post in self.post:           # identical layers share one compiled object
            if id(post) not in fast:
                fast[id(post)] = (_DenseQ.of(post) if isinstance(post, _Dense)
                                  else [_ProfileQ(prof) for prof in post])
            if post is last:
                runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            else:
                runs.append((fast[id(post)], 1))
            last = post
        self._runs = runs

    def _columns(self, cols_in: RatMatrix, start: int) -> list[list[fmpq]]:
        """Token columns plus the positional encoding from column ``start``, through
        FF_pre, in ``fmpq``."""
        cols = [[_q(Fraction(v)) for v in col] for col in cols_in]
        if self._pos_q is not None:
            cols = [[v + self._pos_q[c][start + j] for c, v in enumerate(col)]
                    for j, col in enumerate(cols)]
        for layer in self._pre_q:
            cols = [layer.apply(col) for col in cols]
        return cols

    def _check_n(self, n: int) -> None:
        if self.pos is not None and len(self.pos[0]) != n:
            raise InvalidArgument(
                f"L_p + L = {n}: the positional encoding fixes n = {len(self.pos[0])}")

    def _queries(self, prompt: list[list[fmpq]], prompt_sum: list[fmpq], X: RatMatrix,
                 full: bool) -> list[list[fmpq]]:
        """Attention outputs (residual included) of the input columns (all, if ``full``)."""
        d, lp = self.d, len(prompt)
        x_cols = _token_columns("X", X, d, at_least=1)
        n = lp + len(x_cols)
        self._check_n(n)
        cols = self._columns(x_cols, lp)
        total = [prompt_sum[c] for c in range(d)]
        for col in cols:
            for c in range(d):
                total[c] += col[c]
        shift = []
        for r in range(d):
            v = _ZERO
            for c in range(d):
                if self._mix_q[r][c] != 0:
                    v += self._mix_q[r][c] * total[c]
            shift.append(v / n)
        return [[v + shift[c] for c, v in enumerate(col)]
                for col in ((prompt + cols) if full else cols)]

    def _prompt(self, P: RatMatrix, L: int) -> tuple[list[list[fmpq]], list[fmpq]]:
        p_cols = _token_columns("P", P, self.d, at_least=0)
        self._check_n(len(p_cols) + L)
        prompt = self._columns(p_cols, 0)
        sums = [_ZERO] * self.d
        for col in prompt:
            sums = [a + b for a, b in zip(sums, col, strict=True)]
        return prompt, sums

    def _post(self, out: list[list[fmpq]], shared: bool) -> list[list[fmpq]]:
        for layer, m in self._runs:
            if isinstance(layer, _DenseQ):
                for _ in range(m):
                    out = [layer.apply(col) for col in out]
                continue
            for c in range(self.d):
                vals = [col[c] for col in out]
                if shared:
                    vals = iterate(layer[c], vals, m)
                else:
                    for _ in range(m):
                        vals = [layer[c](v) for v in vals]
                for col, v in zip(out, vals, strict=True):
                    col[c] = v
        return out

    def forward(self, X: RatMatrix, P: RatMatrix, *, full: bool = False) -> RatMatrix:
        """τ_P(X) exactly; ``X``: ``d×L``, ``P``: ``d×L_p`` (rationals); returns ``d×L``."""
        _token_columns("X", X, self.d, at_least=1)
        prompt, sums = self._prompt(P, len(X[0]))
        out = self._post(self._queries(prompt, sums, X, full), shared=False)
        return [[_fraction(col[c]) for col in out] for c in range(self.d)]

    def forward_many(self, Xs: Sequence[RatMatrix], P: RatMatrix) -> list[RatMatrix]:
        """``[τ_P(X) for X in Xs]`` exactly, the prompt through FF_pre once and FF_post by
        :func:`iterate` on all queries at once (module docstring); each ``d×L``."""
        if not Xs:
            return []
        _token_columns("X", Xs[0], self.d, at_least=1)
        prompt, sums = self._prompt(P, len(Xs[0][0]))
        queries = [self._queries(prompt, sums, X, False) for X in Xs]
        flat = self._post([col for qs in queries for col in qs], shared=True)
        out, at = [], 0
        for qs in queries:
            cols = flat[at:at + len(qs)]
            at += len(qs)
            out.append([[_fraction(col[c]) for col in cols] for c in range(self.d)])
        return out


def _token_columns(name: str, M: RatMatrix, d: int, *, at_least: int) -> RatMatrix:
    """The token columns of a ``d×k`` rational matrix ``M`` (rows of equal length,
    ``k >= at_least``); anything else is refused by ``name``."""
    lengths = [len(row) for row in M]
    if len(lengths) != d or any(k != lengths[0] for k in lengths) or lengths[0] < at_least:
        raise InvalidArgument(
            f"{name} has row lengths {lengths}: expected {d} rows of one length k >= "
            f"{at_least} (a d×k matrix of rationals)")
    return [[M[c][j] for c in range(d)] for j in range(lengths[0])]


def value_mix(weights: TransformerWeights) -> RatMatrix:
    """``W_O W_V`` exactly, ``d×d``."""
    wo, wv = rational_matrix(weights.w_o), rational_matrix(weights.w_v)
    return [[sum((wo[r][k] * wv[k][c] for k in range(weights.s)), Fraction(0))
             for c in range(weights.d)] for r in range(weights.d)]


_POST_CACHE: dict[str, list[list[PLProfile] | _Dense]] = {}


def compile_post(weights: TransformerWeights) -> list[list[PLProfile] | _Dense]:
    """FF_post layers: exact PL profiles for separable layers (shared when repeated),
    the generic exact formula otherwise (cached by weight digest; do not mutate)."""
    key = weights.digest()
    if key not in _POST_CACHE:
        if len(_POST_CACHE) > 8:
            _POST_CACHE.clear()
        _POST_CACHE[key] = _compile_post(weights)
    return _POST_CACHE[key]


def _compile_post(weights: TransformerWeights) -> list[list[PLProfile] | _Dense]:
    post: list[list[PLProfile] | _Dense] = []
    profile_cache: dict[bytes, list[PLProfile]] = {}
    seen: dict[int, bytes] = {}
    for layer in weights.ff_post:
        if id(layer) not in seen:           # a repeated layer object: hash its bytes once
            seen[id(layer)] = b"".join(a.tobytes() for a in layer.arrays())
        key_layer = seen[id(layer)]
        if key_layer not in profile_cache:
            try:
                profile_cache[key_layer] = profiles_of_layer(layer)
            except InvalidArgument:
                post.append(_Dense.of(layer))
                continue
        post.append(profile_cache[key_layer])
    return post


_CACHE: dict[str, ExactProgram] = {}


def compile_exact(weights: TransformerWeights) -> ExactProgram:
    """Compile (and cache by weight digest) the exact evaluator of ``weights``."""
    if not isinstance(weights, TransformerWeights):
        raise InvalidArgument(f"weights={type(weights).__name__}: expected TransformerWeights")
    key = weights.digest()
    if key in _CACHE:
        return _CACHE[key]
    if np.any(weights.w_k) and np.any(weights.w_q):
        raise InvalidArgument(
            "exact evaluation needs uniform attention (W_K = 0 or W_Q = 0): softmax of "
            "nonzero rational scores is irrational")
    program = ExactProgram(
        d=weights.d, pos=None if weights.pos is None else rational_matrix(weights.pos),
        pre=[_Dense.of(layer) for layer in weights.ff_pre], mix=value_mix(weights),
        post=compile_post(weights))
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[key] = program
    return program


def exact_forward(weights: TransformerWeights, X: RatMatrix | np.ndarray,
                  P: RatMatrix | np.ndarray, *, full: bool = False) -> RatMatrix:
    """τ_P(X) in exact rational arithmetic (float64 arrays are converted exactly)."""
    Xr = rational_matrix(X) if isinstance(X, np.ndarray) else X
    Pr = rational_matrix(P) if isinstance(P, np.ndarray) else P
    return compile_exact(weights).forward(Xr, Pr, full=full)
