"""C-Lipschitz target families f: [0,1]^{d×L} → [0,1]^{d×L} with known constants.

docs/theory.md §1 and §2 (claim U, paper label ``thm:PT_uni_multi_layer_FF2``): a target is
C-Lipschitz when ``‖f(X) − f(X')‖_max ≤ C ‖X − X'‖_max``. Every family here carries a
constant that is *proved* from its stored float64 parameters (checked in exact rational
arithmetic when the target is built), and a witness pair on which the constant is attained
exactly or nearly (``witness_pair``; ``None`` where no such pair is known).

Families (all frozen, built from ``(d, L, C, seed)``):

- ``relu_mlp``: ``clip(b + W_2 ReLU(W_1 vec(X) + b_1), 0, 1)`` whose first layer reads one
  entry per hidden unit (``_KINKS`` units per entry, kinks in ``[0, 3/4]``, the first at 0)
  and whose ``W_2`` weights for one (output, entry) pair share a sign. Each output puts
  3/4 of its slope budget on a dominant entry (a random permutation) and shares 1/4 among
  the others. ``‖W_2‖_∞ ‖W_1‖_∞ ≤ C`` is the proof (checked exactly); the same-sign rows
  make it attained beyond the last kinks, where no clipping occurs for ``C ≤ 1``. ``b``
  makes ``f = 1/2`` at the centre of the cube (up to float64 rounding). A dense random MLP
  normalised the same way uses only 0.2–0.4 of its bound and is nearly flat in max-norm
  geometry (its best constant predictor is within ``d_p ≈ 0.04``), which no
  universality demonstration can beat; this family spends its budget.
- ``mcshane``: McShane extension ``min(1, min_k Y_k + C ‖X − X_k‖_max)`` of random data;
  exactly C-Lipschitz, attained next to the data point carrying value 0.
- ``sinusoid``: ``1/2 + Σ_r a_r sin(ω_r (u(X) − u_0))`` with ``u`` a convex combination of
  the entries (weight 3/4 on a dominant entry, so ``u`` does not concentrate near its mean)
  and ``Σ_r a_r ω_r = C``; attained in the limit along ``u``.
- ``sawtooth``: ``b + C·dist(x, 2wℤ)`` on one entry per output. The tooth width ``w`` is
  the largest multiple of ``δ = 1/K`` (a grid ``K``) with ``w ≤ min(1/2, 1/C)``, or
  ``min(1/2, 1/C)`` when there is none, so every grid cell sees the full rise ``C·δ`` (or
  the whole range ``[b, b + Cw]`` when ``δ > w``): adversarial for quantisers on that
  grid, while the teeth stay as high as the range allows (a constant cannot fit them).

Values: ``values(X)`` in float64 for ``X`` of shape ``(..., d, L)``; ``enclose(Xq)`` gives a
rigorous enclosure ``(lo, hi)`` of ``f`` at a point with rational entries, as nested lists
of :class:`fractions.Fraction` (exact for the piecewise-linear families, arb balls from
python-flint for ``sinusoid``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .errors import InvalidArgument
from .validation import check_int, check_real

__all__ = [
    "FAMILIES",
    "LipschitzTarget",
    "RatMatrix",
    "make_target",
    "max_norm_ratio",
    "tooth_width",
]

FAMILIES: tuple[str, ...] = ("relu_mlp", "mcshane", "sinusoid", "sawtooth")

RatMatrix = list[list[Fraction]]

#: Parameter arrays each family's evaluation reads.
_PARAMS: dict[str, tuple[str, ...]] = {
    "relu_mlp": ("w1", "b1", "w2", "b2"), "mcshane": ("xs", "ys", "zero_point"),
    "sinusoid": ("w", "omega", "a", "u0"), "sawtooth": ("perm", "sign", "base")}

_POINTS = 6          # mcshane data points
_TERMS = 3           # sinusoid terms
_ARB_PREC = 128      # bits for arb enclosures
_KINKS = 3           # relu_mlp hidden units per entry


def tooth_width(grid: int, C: float) -> Fraction:
    """The sawtooth's tooth width ``w`` (module docstring), exactly."""
    cap = min(Fraction(1, 2), 1 / _frac(C))
    m = (cap * grid).__floor__()
    return Fraction(m, grid) if m >= 1 else cap


def _frac(x: float) -> Fraction:
    return Fraction(float(x))


def _clip01(x: Fraction) -> Fraction:
    return min(max(x, Fraction(0)), Fraction(1))


def max_norm_ratio(f_a: np.ndarray, f_b: np.ndarray, x_a: np.ndarray, x_b: np.ndarray) -> float:
    """``‖f_a − f_b‖_max / ‖x_a − x_b‖_max`` (``inf`` if the inputs coincide and outputs not)."""
    num = float(np.max(np.abs(np.asarray(f_a) - np.asarray(f_b))))
    den = float(np.max(np.abs(np.asarray(x_a) - np.asarray(x_b))))
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return num / den


@dataclass(frozen=True)
class LipschitzTarget:
    """A frozen C-Lipschitz target on ``[0,1]^{d×L}`` (see module docstring).

    Attributes:
        family: one of :data:`FAMILIES`.
        d, L: token dimension and number of tokens.
        C: the proved Lipschitz constant (max norm to max norm).
        seed: seed of the parameters.
        grid: ``K`` for ``sawtooth`` (its teeth align with that grid), else ``0``.
        params: the float64 parameter arrays (read-only).
    """

    family: str
    d: int
    L: int
    C: float
    seed: int
    grid: int = 0
    params: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise InvalidArgument(f"family={self.family!r}: expected one of {FAMILIES}")
        if self.family == "sawtooth" and (not isinstance(self.grid, int) or self.grid < 1):
            raise InvalidArgument(f"grid={self.grid!r}: the sawtooth needs a grid K >= 1")
        missing = [k for k in _PARAMS[self.family] if k not in self.params]
        if missing:
            raise InvalidArgument(f"params: family {self.family!r} needs {missing} (build "
                                  "targets with make_target)")

    @property
    def name(self) -> str:
        """``family:seed:C``, the label reports use."""
        return f"{self.family}:{self.seed}:{self.C}"

    @property
    def proved(self) -> bool:
        """``C``, the range ``[0, 1]`` and :meth:`enclose` are proved (module docstring)."""
        return True

    # --- float64 -----------------------------------------------------------------------

    def values(self, X: np.ndarray) -> np.ndarray:
        """``f(X)`` in float64; ``X``: ``(..., d, L)`` → ``(..., d, L)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim < 2 or X.shape[-2:] != (self.d, self.L):
            raise InvalidArgument(
                f"X has shape {X.shape}: expected (..., d={self.d}, L={self.L})")
        lead = X.shape[:-2]
        x = X.reshape(*lead, self.d * self.L)
        p = self.params
        if self.family == "relu_mlp":
            h = np.maximum(x @ p["w1"].T + p["b1"], 0.0)
            out = np.clip(h @ p["w2"].T + p["b2"], 0.0, 1.0)
        elif self.family == "mcshane":
            dist = np.max(np.abs(x[..., None, :] - p["xs"]), axis=-1)        # (..., m)
            out = np.minimum(1.0, np.min(p["ys"] + self.C * dist[..., :, None], axis=-2))
        elif self.family == "sinusoid":
            u = x @ p["w"].T                                                  # (..., dL)
            arg = p["omega"] * (u[..., :, None] - p["u0"][:, None])
            out = 0.5 + np.sum(p["a"] * np.sin(arg), axis=-1)
        else:
            src = x[..., p["perm"].astype(np.int64)]
            width = float(tooth_width(self.grid, self.C))
            period = 2.0 * width
            tooth = np.abs(src - period * np.round(src / period))
            rise = self.C * tooth
            out = np.where(p["sign"] > 0, p["base"] + rise, p["base"] + self.C * width - rise)
            out = np.clip(out, 0.0, 1.0)
        return out.reshape(*lead, self.d, self.L)

    # --- rigorous ----------------------------------------------------------------------

    def enclose(self, Xq: Sequence[Sequence[Fraction]]) -> tuple[RatMatrix, RatMatrix]:
        """Rigorous ``(lo, hi)`` with ``lo ≤ f(Xq) ≤ hi`` entrywise; ``Xq``: ``d×L`` rationals."""
        if len(Xq) != self.d or any(len(row) != self.L for row in Xq):
            raise InvalidArgument(f"Xq: expected a {self.d}×{self.L} nested sequence")
        x = [Fraction(v) for row in Xq for v in row]
        p = self.params
        if self.family == "sinusoid":
            lo_flat, hi_flat = self._enclose_sinusoid(x)
        else:
            if self.family == "relu_mlp":
                w1, b1, w2, b2 = (p[k] for k in ("w1", "b1", "w2", "b2"))
                h = [max(Fraction(0), _frac(b1[r]) + sum(
                    (_frac(w1[r, c]) * x[c] for c in range(len(x))), Fraction(0)))
                    for r in range(w1.shape[0])]
                flat = [_clip01(_frac(b2[i]) + sum(
                    (_frac(w2[i, r]) * h[r] for r in range(len(h))), Fraction(0)))
                    for i in range(len(x))]
            elif self.family == "mcshane":
                C = _frac(self.C)
                dists = [max(abs(x[c] - _frac(pt[c])) for c in range(len(x)))
                         for pt in p["xs"]]
                flat = [min(Fraction(1), min(_frac(p["ys"][k, i]) + C * dists[k]
                                             for k in range(len(dists))))
                        for i in range(len(x))]
            else:
                C, K = _frac(self.C), self.grid
                width = tooth_width(K, self.C)
                period = 2 * width
                flat = []
                for i in range(len(x)):
                    src = x[int(p["perm"][i])]
                    m = src / period
                    nearest = (m + Fraction(1, 2)).__floor__()
                    rise = C * abs(src - period * nearest)
                    base = _frac(p["base"][i])
                    val = base + rise if p["sign"][i] > 0 else base + C * width - rise
                    flat.append(_clip01(val))
            lo_flat = hi_flat = flat
        def shape(v: list[Fraction]) -> RatMatrix:
            return [v[r * self.L:(r + 1) * self.L] for r in range(self.d)]
        return shape(lo_flat), shape(hi_flat)

    def _enclose_sinusoid(self, x: list[Fraction]) -> tuple[list[Fraction], list[Fraction]]:
        from flint import arb, ctx, fmpq

        def to_arb(q: Fraction) -> arb:
            return arb(fmpq(q.numerator, q.denominator))

        def to_frac(a: arb) -> Fraction:
            man, exp = a.man_exp()
            return Fraction(int(man)) * (Fraction(2) ** int(exp))

        p = self.params
        old = ctx.prec
        ctx.prec = _ARB_PREC
        try:
            xa = [to_arb(v) for v in x]
            lo, hi = [], []
            for i in range(len(x)):
                u = sum((to_arb(_frac(p["w"][i, c])) * xa[c] for c in range(len(x))), arb(0))
                val = arb(fmpq(1, 2))
                for r in range(p["a"].shape[1]):
                    arg = to_arb(_frac(p["omega"][i, r])) * (u - to_arb(_frac(p["u0"][i])))
                    val += to_arb(_frac(p["a"][i, r])) * arg.sin()
                lo.append(to_frac(val.lower()))
                hi.append(to_frac(val.upper()))
        finally:
            ctx.prec = old
        return lo, hi

    def witness_pair(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Inputs ``(X, X')`` on which the ratio is ``C`` or nearly; ``None`` if unknown."""
        p, n = self.params, self.d * self.L
        if self.family == "relu_mlp":
            return None
        if self.family == "mcshane":
            k = int(p["zero_point"])
            x0 = p["xs"][k].copy()
            h = min(0.125 / self.C, 0.25)
            step = h if x0[0] <= 0.5 else -h
            x1 = x0.copy()
            x1[0] += step
        elif self.family == "sinusoid":
            u0 = float(p["u0"][0])
            h = 1e-4 / float(np.max(p["omega"]))
            x0 = np.full(n, u0)
            x1 = np.full(n, u0 + h)
        else:
            j = int(p["perm"][0])
            x0 = np.zeros(n)
            x1 = np.zeros(n)
            x1[j] = 0.5 * float(tooth_width(self.grid, self.C))
        return x0.reshape(self.d, self.L), x1.reshape(self.d, self.L)


def _frozen(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in arrays.items():
        a = np.array(v, dtype=np.float64)
        a.setflags(write=False)
        out[k] = a
    return out


def _shrink_until(value: np.ndarray, holds: object) -> np.ndarray:
    """Multiply ``value`` by ``1 − 2^-40`` until ``holds(value)`` (exact check) is true."""
    for _ in range(64):
        if holds(value):  # type: ignore[operator]
            return value
        value = value * (1.0 - 2.0**-40)
    raise InvalidArgument("could not round parameters so that the Lipschitz bound holds")


def _build_relu_mlp(rng: np.random.Generator, n: int, C: float) -> dict[str, np.ndarray]:
    kinks = rng.uniform(0.0, 0.75, (n, _KINKS))
    kinks[:, 0] = 0.0                            # unit (j, 0) is x_j itself on [0, 1]
    w1 = np.repeat(np.eye(n), _KINKS, axis=0)    # hidden unit (j, m) reads entry j
    b1 = -kinks.reshape(-1)
    budget = np.full((n, n), 0.25 / max(n - 1, 1))
    budget[np.arange(n), rng.permutation(n)] = 0.75 if n > 1 else 1.0
    split = rng.uniform(0.25, 1.0, (n, n, _KINKS))
    split /= split.sum(axis=-1, keepdims=True)
    sign = rng.choice([-1.0, 1.0], (n, n, 1))
    w2 = (C * budget[:, :, None] * split * sign).reshape(n, n * _KINKS)

    def ok(w: np.ndarray) -> bool:               # ‖W_1‖_∞ = 1 exactly (one-hot rows)
        return max(sum(abs(_frac(v)) for v in row) for row in w) <= _frac(C)

    w2 = _shrink_until(w2, ok)
    centre = np.full(n, 0.5)
    g = w2 @ np.maximum(w1 @ centre + b1, 0.0)
    return {"w1": w1, "b1": b1, "w2": w2, "b2": 0.5 - g}


def _build_mcshane(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    xs = rng.uniform(0.0, 1.0, (_POINTS, n))
    ys = rng.uniform(0.25, 1.0, (_POINTS, n))
    zero_point = int(rng.integers(_POINTS))
    ys[zero_point, 0] = 0.0       # strict minimum: slope C is attained next to this point
    return {"xs": xs, "ys": ys, "zero_point": np.array(zero_point)}


def _build_sinusoid(rng: np.random.Generator, n: int, C: float) -> dict[str, np.ndarray]:
    w = rng.uniform(0.0, 1.0, (n, n))
    w = w / w.sum(axis=1, keepdims=True) * (0.25 if n > 1 else 1.0)
    w[np.arange(n), rng.permutation(n)] += 0.75 if n > 1 else 0.0   # a dominant entry
    w = _shrink_until(w, lambda m: all(sum(_frac(v) for v in row) <= 1 for row in m))
    base = max(2.0 * C, 1.0)      # ω_r ≥ 2C keeps Σ|a_r| ≤ C/ω_min ≤ 1/2, outputs in [0,1]
    omega = base * (1.0 + rng.uniform(0.0, 0.5, (n, _TERMS)))
    weights = rng.uniform(0.1, 1.0, (n, _TERMS))
    a = weights / (weights * omega).sum(axis=1, keepdims=True) * C

    def ok(m: np.ndarray) -> bool:
        return all(sum(_frac(m[i, r]) * _frac(omega[i, r]) for r in range(_TERMS)) <= _frac(C)
                   for i in range(n))

    a = _shrink_until(a, ok)
    u0 = rng.uniform(0.0, 1.0, n)
    return {"w": w, "omega": omega, "a": a, "u0": u0}


def _build_sawtooth(rng: np.random.Generator, n: int, C: float, K: int) -> dict[str, np.ndarray]:
    rise = C * float(tooth_width(K, C))       # tooth height C·w ≤ 1: no clipping needed
    return {"perm": rng.permutation(n).astype(np.float64),
            "sign": rng.choice([-1.0, 1.0], n),
            "base": rng.uniform(0.0, 1.0 - rise, n)}


def make_target(family: str, d: int, L: int, C: float, seed: int, *,
                grid: int = 0) -> LipschitzTarget:
    """Build the frozen target of ``family`` with proved constant ``C`` from ``seed``.

    Args:
        family: one of :data:`FAMILIES`.
        d, L: shape of inputs and outputs ``(d, L)``.
        C: Lipschitz constant, ``0 < C ≤ 64``.
        seed: NumPy PCG64 seed.
        grid: ``K ≥ 1`` (required for ``sawtooth``: its teeth align with the grid of side
            ``1/K``; ignored otherwise).
    """
    if family not in FAMILIES:
        raise InvalidArgument(f"family={family!r}: expected one of {FAMILIES}")
    d = check_int("d", d, minimum=1, maximum=8)
    L = check_int("L", L, minimum=1, maximum=8)
    C = check_real("C", C, low=0.0, high=64.0, low_open=True)
    seed = check_int("seed", seed, minimum=0, maximum=2**63 - 1)
    rng = np.random.default_rng(seed)
    n = d * L
    if family == "relu_mlp":
        params = _build_relu_mlp(rng, n, C)
    elif family == "mcshane":
        params = _build_mcshane(rng, n)  # C enters at evaluation only
    elif family == "sinusoid":
        params = _build_sinusoid(rng, n, C)
    else:
        grid = check_int("grid", grid, minimum=1, maximum=2**20)
        params = _build_sawtooth(rng, n, C, grid)
    return LipschitzTarget(family=family, d=d, L=L, C=C, seed=seed,
                           grid=grid if family == "sawtooth" else 0, params=_frozen(params))
