"""One frozen τ for all C-Lipschitz targets, and the prompt ``P(f)`` that tunes it.

docs/theory.md §2, claim U: ``thm:PT_uni_multi_layer_FF2`` (``form="deep"``) and
``thm:PT_uni_two_layer_FF2`` (``form="wide"``). Route B (our construction; the paper's
route A uses softmax contextual maps). With ``K, M, η, β, R`` from :mod:`.sizes`:

1. **Positional encoding** ``E``: prompt columns get ``−1`` (all channels), input column
   ``j`` gets ``o_j = 2j + 2``; input entries then lie in ``[o_j, o_j + 1]``, prompt
   entries (in ``[0, 1)``) in ``[−1, 0)``.
2. **FF_pre** (one separable-read layer): per channel, ``−ReLU(z − 1)`` removes the input
   value (leaving the constant 1); for each position ``j``, coordinate ``i`` and interior
   boundary ``b/K`` a ramp of width ``η`` (two ReLUs) adds ``R^{jd+i}`` to *every* channel;
   position steps between the ranges add ``T = R^{dL}`` per position. All units are off on
   prompt columns, so FF_pre is the identity there. On the good set (every entry at least
   ``η/2`` from every interior boundary) it is exactly the staircase: token ``j`` becomes
   ``1 + jT + Σ_{j'<j,i}(K−1)R^{j'd+i} + Σ_i q_{ji} R^{jd+i}`` with ``q_{ji} = ⌊K x_{ij}⌋``.
3. **Attention**: ``W_K = W_Q = 0`` (uniform weights ``1/n``, exact), ``W_V = I``,
   ``W_O = n·I``: every query gets the *sum* of all columns added to its residual. At input
   position ``k`` every channel then holds ``y = Const + V_k(q) + F_c`` where
   ``V_k(q) = kT + Σ_{j,i} digit_{ji} R^{jd+i}`` with digits ``(K−1)[j<k] + q_{ji}(1+[j=k])``
   (all ``< R``, so ``V`` is injective in ``(k, q)``), and ``F_c ∈ (0, 1)`` is the sum of
   prompt row ``c``.
4. **Prompt**: slots ``s = 0..N−1`` are the used values ``v_0 < … < v_{N−1}`` of ``V``;
   ``F_c = Σ_s D_s β^{−(s+1)} + (β/2) β^{−(N+1)}`` with ``D_s = t_s + 1`` and ``t_s/M`` the
   quantised ``f_{c,k}`` at the centre of cell ``q`` for slot ``s = rank(V_k(q))``. Digits lie
   in ``[1, β−2]``, so the tail after any digit keeps a margin ``β^{−2}`` from digit edges.
   The digits are split over ``L_p`` prompt columns, ≤ 48 bits each.
5. **FF_post, deep**: ``N−1`` identical separable layers ``S`` (identity on slot 0's
   segment; slot ``s ≥ 1`` segment → slot ``s−1`` segment while shifting ``F`` one digit:
   ``y ↦ v_{s−1} + βF − D``), then a readout layer mapping segment 0's leading digit ``D`` to
   ``(D−1)/M`` with flat ends (outputs in ``[0, 1]`` for *every* real input).
   **linear** (``O(β·N)`` units): an index layer sends slot ``s``'s segment to the
   waiting segment ``c_s = N−2−s`` (``y ↦ c_s + F``; slot ``N−1`` peels at once:
   ``y ↦ βF − D``); ``N−2`` copies of one constant-width layer ``g`` follow, the
   translation ``y ↦ y − 1`` on ``[1, N)`` and the peel ``x ↦ βx − D`` on ``[0, 1)``; so
   slot ``s`` waits ``N−2−s`` layers and peels ``s`` digits; the readout is the deep one's
   on ``[0, 1)``.
   **wide**: one layer mapping every (slot, digit prefix) interval straight to its level;
   it needs ``Σ_s (M+1)^{s+1}`` regions (at least ``(M+1)^N − 1`` knots for any one-layer
   readout: each table needs its own linear piece).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InvalidArgument
from ..targets import Target
from ..weights import FeedForwardWeights, TransformerWeights
from ._pl import Region, layer_from_regions
from .evaluate import Float64Untrusted, RatMatrix, compile_exact, exact_forward
from .sizes import BITS_PER_PROMPT_ENTRY, UniversalSizes, plan_universal

__all__ = [
    "Prompt",
    "UniversalTransformer",
    "build_from_sizes",
    "build_prompt",
    "build_universal",
    "cell_centre",
    "cell_index",
    "code_value",
    "digits_per_prompt_entry",
    "prompt_from_levels",
    "quantised_levels",
]


def code_value(sizes: UniversalSizes, k: int, q: tuple[int, ...]) -> int:
    """``V_k(q)``: the integer every channel of query ``k`` carries for cell ``q``.

    ``q[j*d + i] = ⌊K x_{ij}⌋`` (block ``jd+i`` for coordinate ``i`` of token ``j``).
    """
    d, L, K, R = sizes.d, sizes.L, sizes.K, sizes.radix
    v = k * R ** (d * L)
    for j in range(L):
        for i in range(d):
            qi = q[j * d + i]
            digit = (K - 1) * (j < k) + qi * (1 + (j == k))
            v += digit * R ** (j * d + i)
    return v


def cell_index(sizes: UniversalSizes, X: np.ndarray) -> tuple[int, ...]:
    """``q`` with ``q[j*d + i] = min(⌊K X[i, j]⌋, K−1)`` for ``X`` of shape ``(d, L)``."""
    K = sizes.K
    return tuple(min(int(np.floor(K * X[i, j])), K - 1)
                 for j in range(sizes.L) for i in range(sizes.d))


def cell_centre(sizes: UniversalSizes, q: tuple[int, ...]) -> np.ndarray:
    """Centre of cell ``q`` as a ``(d, L)`` float64 array (exact: dyadic)."""
    X = np.empty((sizes.d, sizes.L))
    for j in range(sizes.L):
        for i in range(sizes.d):
            X[i, j] = (q[j * sizes.d + i] + 0.5) / sizes.K
    return X


@dataclass(frozen=True)
class Prompt:
    """The soft prompt ``P(f)``: ``entries`` is ``d×L_p`` exact dyadic rationals.

    ``levels[c][s]`` is the quantised level ``t_s`` of channel ``c`` at slot ``s``.
    """

    entries: tuple[tuple[Fraction, ...], ...]
    levels: tuple[tuple[int, ...], ...]
    target: str

    def rational(self) -> RatMatrix:
        return [list(row) for row in self.entries]

    def float64(self) -> np.ndarray:
        """The prompt as float64, or :class:`Float64Untrusted` if any entry would round."""
        out = np.array([[float(v) for v in row] for row in self.entries], dtype=np.float64)
        for row, frow in zip(self.entries, out, strict=True):
            for v, f in zip(row, frow, strict=True):
                if Fraction(float(f)) != v:
                    raise Float64Untrusted(
                        f"prompt entry {float(v)!r} needs more than float64's 53 bits / "
                        "exponent range")
        return out


@dataclass(frozen=True)
class UniversalTransformer:
    """The frozen τ with its sizes and the constants its prompt builder needs."""

    sizes: UniversalSizes
    weights: TransformerWeights
    const: Fraction
    slot_values: tuple[int, ...]

    def digest(self) -> str:
        return self.weights.digest()

    def forward_exact(self, X: np.ndarray | RatMatrix, prompt: Prompt) -> RatMatrix:
        """τ_P(X) exactly (rationals); ``X``: ``(d, L)``."""
        return exact_forward(self.weights, X, prompt.rational())

    def float64_trusted(self) -> bool:
        """Whether float64 (53 bits) covers the precision this construction needs."""
        return self.sizes.precision_bits <= 53

    def forward_float64(self, X: np.ndarray, prompt: Prompt) -> np.ndarray:
        """τ_P(X) by the torch model in float64, refused when float64 cannot hold the code.

        Raises :class:`Float64Untrusted` when the construction needs more than 53 bits
        (``sizes.precision_bits``) or the prompt has entries float64 cannot represent.
        """
        if not self.float64_trusted():
            raise Float64Untrusted(
                f"precision_bits={self.sizes.precision_bits}: the encoding needs more than "
                "float64's 53 bits; evaluate exactly (forward_exact) or in mpmath")
        return _torch_forward(self.weights, X, prompt.float64())


def _torch_forward(weights: TransformerWeights, X: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Unguarded float64 torch evaluation (used by the guard and by planted-bug tests)."""
    import torch

    from ..model import PromptTunedTransformer

    model = PromptTunedTransformer(weights, dtype=torch.float64)
    with torch.no_grad():
        out = model(torch.tensor(np.asarray(X, np.float64)), torch.tensor(P))
    return out.numpy()


def staircase_ff_pre(d: int, L: int, K: int, eta: Fraction,
                     block_weight: Callable[[int, int], int], position_step: int,
                     prompt_lift: int = 0) -> FeedForwardWeights:
    """The one FF_pre layer both routes use (inputs at ``[o_j, o_j + 1]``, prompt at ``[−1, 0)``).

    Per channel ``−ReLU(z − 1)`` removes the input value (leaving 1); a step of height
    ``position_step`` per position; for position ``j``, coordinate ``i`` and interior boundary
    ``b/K`` a ramp of width ``η`` adding ``block_weight(j, i)`` to every channel. With
    ``prompt_lift = Λ'`` two more units per channel, ``Λ'(ReLU(1 − z) − ReLU(−z))``, add
    ``Λ'`` on the prompt range and nothing on inputs (``z ≥ 2``). Every knot is checked
    exact in float64.
    """
    units: list[tuple[int, float, float, list[float]]] = []    # (read channel, w1, b1, w2)
    for c in range(d):
        w2 = [0.0] * d
        w2[c] = -1.0
        units.append((c, 1.0, -1.0, w2))
        if prompt_lift:
            lift = [0.0] * d
            lift[c] = float(prompt_lift)
            units.append((c, -1.0, 1.0, lift))
            units.append((c, -1.0, 0.0, [-v for v in lift]))
    T = float(position_step)
    for j in range(1, L):
        start = 2 * j + 2
        units.append((0, 1.0, -(start - 0.75), [2 * T] * d))   # step of height T across
        units.append((0, 1.0, -(start - 0.25), [-2 * T] * d))  # [o − 3/4, o − 1/4]
    for j in range(L):
        o = Fraction(2 * j + 2)
        for i in range(d):
            w = Fraction(block_weight(j, i)) / eta
            for b in range(1, K):
                t = o + Fraction(b, K)
                for edge, sign in ((t - eta / 2, 1), (t + eta / 2, -1)):
                    if Fraction(float(edge)) != edge or Fraction(float(w)) != w:
                        raise InvalidArgument(f"FF_pre knot {edge} not exact in float64")
                    units.append((i, 1.0, -float(edge), [sign * float(w)] * d))
    h = len(units)
    w1 = np.zeros((h, d))
    b1 = np.zeros(h)
    w2m = np.zeros((d, h))
    for u, (c, a, bias, w_out) in enumerate(units):
        w1[u, c] = a
        b1[u] = bias
        w2m[:, u] = w_out
    return FeedForwardWeights(w1=w1, b1=b1, w2=w2m, b2=np.zeros(d))


def _ff_pre(s: UniversalSizes) -> FeedForwardWeights:
    R = s.radix
    return staircase_ff_pre(s.d, s.L, s.K, s.eta, lambda j, i: R ** (j * s.d + i),
                            R ** (s.d * s.L))


def positional_encoding(d: int, prompt_tokens: int, L: int) -> np.ndarray:
    """``E``: ``−1`` on prompt columns, ``o_j = 2j + 2`` on input column ``j``; ``(d, L_p + L)``."""
    E = np.empty((d, prompt_tokens + L))
    E[:, :prompt_tokens] = -1.0
    for j in range(L):
        E[:, prompt_tokens + j] = 2 * j + 2
    return E


def _attention(s: UniversalSizes) -> dict[str, np.ndarray]:
    d, n = s.d, s.n
    return {"w_q": np.zeros((d, d)), "w_k": np.zeros((d, d)), "w_v": np.eye(d),
            "w_o": n * np.eye(d)}


def _pos(s: UniversalSizes) -> np.ndarray:
    return positional_encoding(s.d, s.prompt_tokens, s.L)


def _digit_regions(const: Fraction, v: int, beta: int, M: int) -> list[tuple[int, Fraction,
                                                                              Fraction]]:
    """``(D, lo, hi)`` of the leading-digit intervals of segment ``v`` (absolute ``y``)."""
    inv, inv2 = Fraction(1, beta), Fraction(1, beta * beta)
    return [(D, const + v + D * inv + inv2, const + v + (D + 1) * inv - inv2)
            for D in range(1, M + 2)]


def _deep_post(s: UniversalSizes, const: Fraction, vs: list[int]) -> tuple[
        FeedForwardWeights, ...]:
    beta, M = s.beta, s.M
    layers: list[FeedForwardWeights] = []
    if len(vs) > 1:
        regions = [Region(const + vs[0], const + vs[0] + 1, Fraction(1), const + vs[0])]
        for idx in range(1, len(vs)):
            for _digit, lo, hi in _digit_regions(const, vs[idx], beta, M):
                # y' = v_s + F ↦ v_{s−1} + βF − D, at lo: v_{s−1} + 1/β
                regions.append(Region(lo, hi, Fraction(beta),
                                      const + vs[idx - 1] + Fraction(1, beta)))
        shift = layer_from_regions(s.d, regions, left_slope=Fraction(1),
                                   right_slope=Fraction(beta))
        layers = [shift] * (len(vs) - 1)
    readout = [Region(lo, hi, Fraction(0), Fraction(D - 1, M))
               for D, lo, hi in _digit_regions(const, vs[0], beta, M)]
    layers.append(layer_from_regions(s.d, readout, left_slope=Fraction(0),
                                     right_slope=Fraction(0)))
    return tuple(layers)


def _linear_counter(slots: int, slot: int) -> int:
    """Waiting layers of slot ``slot`` after the index layer: ``N−2−s`` (``−1``: peel now).

    ``N−2`` copies of ``g`` follow the index layer; slot ``s`` must peel ``s`` digits in
    all, one in the index layer when ``c_s = −1``, one per copy of ``g`` after its wait.
    """
    return slots - 2 - slot


def _slot_ranks(s: UniversalSizes, vs: list[int]) -> list[int]:
    """Slot of each segment ``vs[r]``: its rank ``r`` (``v_r = V_k(q)`` for slot ``r``)."""
    return list(range(len(vs)))


def _linear_post(s: UniversalSizes, const: Fraction, vs: list[int]) -> tuple[
        FeedForwardWeights, ...]:
    """FF_post of ``form="linear"`` (``thm:PT_uni_multi_layer_FF2``), ``O(β·N)`` units.

    States after the index layer: ``c + F'`` with ``c ∈ 0..N−2`` layers still to wait and
    ``F' ∈ (0, 1)`` the digits not yet peeled (leading digit in ``1..M+1``, tail margin
    ``β^{−2}``: the deep form's digit margins). Layers (each the same on every channel):

    1. index: segment ``v_r`` of slot ``r = rank`` ↦ ``c_r + F`` (slope 1) for
       ``c_r = N−2−r ≥ 0``; for ``c_r = −1`` its digit-``D`` regions ↦ ``βF − D``.
       ``2(N−1) + 2(M+1)`` knots.
    2. ``N−2`` copies of ``g``: ``[1 + 1/β, N]`` ↦ ``y − 1`` (one piece: a wait) and digit
       ``D``'s region of ``[0, 1)`` ↦ ``βx − D`` (a peel). ``2(M+2)`` knots.
    3. readout: digit ``D`` of ``[0, 1)`` ↦ ``(D−1)/M``, flat outside (values in ``[0, 1]``).

    Slot ``r`` waits ``c_r`` copies of ``g`` and peels ``N−2−c_r`` more (``r`` in all), so
    the readout sees ``D_r`` leading. ``N = 1``: the readout alone, on segment ``v_0``.
    """
    beta, M, N = s.beta, s.M, len(vs)
    inv = Fraction(1, beta)
    readout = [Region(lo, hi, Fraction(0), Fraction(D - 1, M))
               for D, lo, hi in _digit_regions(const if N == 1 else Fraction(0),
                                               vs[0] if N == 1 else 0, beta, M)]
    last = layer_from_regions(s.d, readout, left_slope=Fraction(0), right_slope=Fraction(0))
    if N == 1:
        return (last,)
    index: list[Region] = []
    for v, r in zip(vs, _slot_ranks(s, vs), strict=True):
        c = _linear_counter(N, r)
        if c >= 0:      # F ∈ [1/β + β^{-2}, (M+2)/β − β^{-2}] ⊂ [1/β, 1 − 1/β]: wait
            index.append(Region(const + v + inv, const + v + 1 - inv, Fraction(1), c + inv))
        else:           # peel now: v + F ↦ βF − D, at lo: 1/β
            index += [Region(lo, hi, Fraction(beta), inv)
                      for _D, lo, hi in _digit_regions(const, v, beta, M)]
    first = layer_from_regions(s.d, index, left_slope=Fraction(1), right_slope=Fraction(1))
    peel = [Region(lo, hi, Fraction(beta), inv)
            for _D, lo, hi in _digit_regions(Fraction(0), 0, beta, M)]
    wait = Region(1 + inv, Fraction(N), Fraction(1), inv)
    g = layer_from_regions(s.d, [*peel, wait], left_slope=Fraction(1),
                           right_slope=Fraction(1))
    return (first, *([g] * (N - 2)), last)


def _wide_post(s: UniversalSizes, const: Fraction, vs: list[int]) -> tuple[
        FeedForwardWeights, ...]:
    beta, M = s.beta, s.M
    regions: list[Region] = []
    for idx, v in enumerate(vs):
        scale = Fraction(1, beta ** (idx + 1))
        for prefix in itertools.product(range(1, M + 2), repeat=idx + 1):
            start = sum((Fraction(D, beta ** (r + 1)) for r, D in enumerate(prefix)),
                        Fraction(0))
            lo = const + v + start + scale / beta
            hi = const + v + start + scale - scale / beta
            regions.append(Region(lo, hi, Fraction(0), Fraction(prefix[-1] - 1, M)))
    return (layer_from_regions(s.d, regions, left_slope=Fraction(0),
                               right_slope=Fraction(0)),)


def build_universal(d: int, L: int, C: float, eps: float, p: int = 2, *,
                    form: str = "deep") -> UniversalTransformer:
    """Build τ for ``(d, L, C, ε, p)`` (sizes planned first; may raise ConstructionTooLarge).

    τ depends on these arguments only, never on a target.
    """
    return build_from_sizes(plan_universal(d, L, C, eps, p, form=form))


def build_from_sizes(s: UniversalSizes) -> UniversalTransformer:
    """τ for planned sizes ``s`` (from :func:`~.sizes.plan_universal`, a grid override
    included); :func:`build_universal` plans and calls this."""
    d, L = s.d, s.L
    pre = _ff_pre(s)
    att = _attention(s)
    pos = _pos(s)
    partial = TransformerWeights(att["w_q"], att["w_k"], att["w_v"], att["w_o"], beta=1.0,
                                 ff_pre=(pre,), pos=pos)
    zero_prompt = [[Fraction(0)] * s.prompt_tokens for _ in range(d)]
    centre0 = [[Fraction(1, 2 * s.K)] * L for _ in range(d)]
    const = compile_exact(partial).forward(centre0, zero_prompt)[0][0]
    vs = sorted({code_value(s, k, q) for k in range(L)
                 for q in itertools.product(range(s.K), repeat=d * L)})
    post = {"deep": _deep_post, "wide": _wide_post, "linear": _linear_post}[s.form](
        s, const, vs)
    weights = TransformerWeights(att["w_q"], att["w_k"], att["w_v"], att["w_o"], beta=1.0,
                                 ff_pre=(pre,), ff_post=post, pos=pos)
    return UniversalTransformer(sizes=s, weights=weights, const=const, slot_values=tuple(vs))


def quantised_levels(ut: UniversalTransformer, target: Target) -> np.ndarray:
    """Levels ``t ∈ 0..M`` of ``f`` at every cell centre: shape ``(K^{dL}, d, L)``.

    Cells are enumerated in ``itertools.product(range(K), repeat=dL)`` order.
    """
    s = ut.sizes
    cells = list(itertools.product(range(s.K), repeat=s.d * s.L))
    centres = np.stack([cell_centre(s, q) for q in cells])
    vals = target.values(centres)
    return np.clip(np.rint(vals * s.M), 0, s.M).astype(np.int64)


def build_prompt(ut: UniversalTransformer, target: Target, *,
                 slot_of: Callable[[UniversalSizes, int, tuple[int, ...]], int] | None = None,
                 ) -> Prompt:
    """``P(f)`` for ``target`` (same ``d, L``; its constant must not exceed τ's ``C``)."""
    s = ut.sizes
    if (target.d, target.L) != (s.d, s.L):
        raise InvalidArgument(f"target has shape (d={target.d}, L={target.L}): τ was built "
                              f"for (d={s.d}, L={s.L})")
    if target.C > s.C:
        raise InvalidArgument(f"target.C={target.C!r}: τ was built for C <= {s.C!r}")
    code = slot_of or code_value
    rank = {v: r for r, v in enumerate(ut.slot_values)}
    levels = quantised_levels(ut, target)
    table = [[0] * s.slots for _ in range(s.d)]
    for ci, q in enumerate(itertools.product(range(s.K), repeat=s.d * s.L)):
        for k in range(s.L):
            slot = rank[code(s, k, q)]
            for c in range(s.d):
                table[c][slot] = int(levels[ci, c, k])
    return prompt_from_levels(ut, table, name=target.name)


def digits_per_prompt_entry(sizes: UniversalSizes) -> int:
    """Table digits packed into one prompt entry: ``⌊48 / log₂β⌋`` (at least 1)."""
    return max(1, BITS_PER_PROMPT_ENTRY // (sizes.beta.bit_length() - 1))


def prompt_from_levels(ut: UniversalTransformer, table: list[list[int]] | tuple[
        tuple[int, ...], ...], *, name: str) -> Prompt:
    """The prompt whose table holds ``table[c][s] = t_s ∈ 0..M`` (channel ``c``, slot ``s``).

    ``table`` is ``d × N`` (``N = sizes.slots``); digits ``t_s + 1`` and the sentinel
    ``β/2`` are packed ``⌊48/log₂β⌋`` per entry into ``d × L_p`` exact dyadic entries.
    """
    s = ut.sizes
    if len(table) != s.d or any(len(row) != s.slots for row in table):
        raise InvalidArgument(f"table has shape {[len(r) for r in table]}: expected "
                              f"d={s.d} rows of slots={s.slots} levels")
    bad = next(((c, r, t) for c, row in enumerate(table) for r, t in enumerate(row)
                if isinstance(t, bool) or not isinstance(t, (int, np.integer))
                or not 0 <= t <= s.M), None)
    if bad is not None:
        raise InvalidArgument(f"table[{bad[0]}][{bad[1]}]={bad[2]!r}: levels must be "
                              f"integers in 0..M={s.M}")
    per_entry = digits_per_prompt_entry(s)
    entries = []
    for c in range(s.d):
        digits = [int(t) + 1 for t in table[c]] + [s.beta // 2]      # sentinel digit β/2
        row = []
        for col in range(s.prompt_tokens):
            chunk = range(col * per_entry, min((col + 1) * per_entry, len(digits)))
            row.append(sum((Fraction(digits[r], s.beta ** (r + 1)) for r in chunk),
                           Fraction(0)))
        entries.append(tuple(row))
    return Prompt(entries=tuple(entries), levels=tuple(tuple(int(t) for t in r)
                                                       for r in table), target=name)
