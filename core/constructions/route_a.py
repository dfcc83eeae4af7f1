"""Route A: universality through a softmax contextual map (docs/universality.md, route A).

docs/theory.md §2, claim U, deep form (``thm:PT_uni_multi_layer_FF2``), built the paper's
way: one softmax head with nonzero rank-one ``W_K, W_Q`` whose non-uniform weights map every
(quantised input, position) context, prompt included, to its own value, and an FF_post that
reads the target's level for that context out of what the prompt contributed. The grid
``K``, output levels ``M``, strip ``η`` and digit base ``β`` are route B's
(:func:`.sizes.plan_universal`), hence the same a-priori ``d_p`` bound. Then:

1. **E, FF_pre** (:func:`.universal.staircase_ff_pre`): input token ``j`` in cell ``q_j``
   becomes, in every channel, the code ``e_j = 1 + j·K^d + Σ_i q_{ji} K^i``
   (``1 ≤ e ≤ e_max = L·K^d``; codes of one sequence are distinct); prompt columns, whose
   entries lie in ``[0, ρ)``, become ``Λ + p`` with ``Λ = e_max + 1``.
2. **Attention**: ``W_Q = W_K = 2^{−k}·e_0ᵀ``, ``W_V = e_0ᵀ``, ``W_O = 1`` (every channel),
   ``β = 1``: scores ``λ z_i z_j`` with ``λ = 4^{−k}``, and query ``i`` outputs
   ``y = e_i + A``, ``A`` the softmax mean of channel 0 at inverse temperature
   ``t = λ e_i``. Context ``c`` (cell, position) has ``y = g_c`` at an all-zero prompt and,
   to first order in the prompt, ``y = g_c + h_c·Σ_r p_r`` with
   ``h_c = α_c (1 + t(Λ − A_c)) > 0`` (``α_c`` one prompt column's weight, ``A_c`` the mean,
   both at ``p = 0``). ``k`` is the smallest in ``0..K_MAX`` — the largest ``λ``, the
   softmax closest to a hardmax — whose contexts' values are at least
   ``γ_need = GAMMA_NEED·Λ`` apart (separation ``γ`` computed in arb), so that float64
   knots fall between contexts. A larger ``λ`` crowds the contexts together (the hardmax
   keeps only the largest code); where uniform weights would merge two contexts (at
   ``(1, 3)``, codes 3 + 6 = 4 + 5), ``γ`` also falls like ``λ`` as ``λ → 0``.
3. **Prompt**: virtual slots ``r = c·N + s`` (channel ``c``, context rank ``s`` in the
   order of ``g``), digits ``D_r = t_r + 1 ∈ [1, β−2]`` and
   ``F = Σ_r D_r β^{−(r+1)} + (β/2) β^{−(Nd+1)}``; the entries are ``ρ`` times float64-sized
   chunks of ``F`` (same row in every channel), so ``Σ_r p_r = ρF``.
4. **FF_post**: an *undo* layer per channel ``c``: on context ``s``'s interval
   ``y ↦ (c·N + s) + (y − ĝ_s)·σ_s``, ``σ_s ≈ 1/(h_s ρ)``, which puts ``F`` on segment
   ``c·N + s``; then route B's deep FF_post over ``Nd`` segments (shift one digit per layer,
   read the leading digit of segment 0). Its constants need more than 53 bits: each is a
   sum of float64 words carried by several units (:func:`._pl.float64_words`).

**Error budget.** Peeling ``Nd − 1`` digits multiplies an error in ``F`` by up to
``β^{Nd−1}``; digits keep a margin ``β^{−3}``, so ``F`` must be read within
``μ = β^{−(Nd+2)}``. The second-order Taylor term of ``A`` in the prompt entries is at most
``2t(1 + tΛ)e^{tρ} α_c (Σp)²`` (docs/universality.md), i.e. an error
``≤ 2t(1+tΛ)e^{tρ}ρ`` in ``F``; ``ρ`` is the largest power of two with
``8 t_max (1 + t_max Λ) ρ ≤ μ`` (half the budget, ``e^{tρ} ≤ 2``). ``ĝ_s`` and ``σ_s`` are
dyadics within ``μ/(8σ_s)`` and ``μ/8`` relative, and each region's value at its left
knot is rounded to ``μ/16``: less than the other half. The certificate does not
rely on this budget: it encloses every cell's output (:mod:`.balls`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import ConstructionTooLarge, InvalidArgument
from ..targets import Target
from ..weights import TransformerWeights
from ._pl import Region, layer_from_channel_regions
from .evaluate import RatMatrix
from .sizes import UniversalSizes, plan_universal
from .universal import (
    Prompt,
    _deep_post,
    digits_per_prompt_entry,
    positional_encoding,
    quantised_levels,
    staircase_ff_pre,
)

__all__ = [
    "GAMMA_NEED",
    "K_MAX",
    "ROUTE_A_LIMITS",
    "RouteAPlan",
    "RouteATransformer",
    "build_prompt_a",
    "build_route_a",
    "context_constants",
    "plan_route_a",
    "route_a_table",
    "token_code",
]

#: ``λ = 4^{−k}`` is searched over ``k = 0..K_MAX``.
K_MAX = 10
#: Contexts must be at least this far apart relative to ``Λ`` (float64 knots between them).
GAMMA_NEED = Fraction(1, 2**32)
#: Route A's own ceilings: contexts enumerated at build, bits of the FF_post constants.
ROUTE_A_LIMITS: dict[str, int] = {"contexts": 1024, "bits": 6000, "log2_slope": 1000}


def token_code(d: int, K: int, j: int, q: tuple[int, ...]) -> int:
    """``e_j = 1 + j·K^d + Σ_i q[j·d + i]·K^i`` for token ``j`` of the cell ``q``."""
    return 1 + j * K**d + sum(q[j * d + i] * K**i for i in range(d))


@dataclass(frozen=True)
class RouteAPlan:
    """Route A's sizes (module docstring); ``base`` is route B's plan for the same request.

    Attributes:
        k: ``λ = 4^{−k}``; anchor: ``Λ``; e_max: largest code; rho_log2: ``ρ = 2^{rho_log2}``.
        contexts: ``N = L·K^{dL}``; virtual_slots: ``N·d``; prompt_tokens: ``L_p``; n.
        gamma: separation of the context values (a lower bound, from arb); post_depth,
        post_width, units, int_bits, precision_bits: as in route B's sizes.
        B: ``max(‖Q‖_max, ‖K‖_max)`` over prompts with entries in ``[0, ρ)``;
        score_radius: ``max |β qᵀk|``.
    """

    base: UniversalSizes
    k: int
    anchor: int
    e_max: int
    rho_log2: int
    contexts: int
    virtual_slots: int
    prompt_tokens: int
    n: int
    gamma: float
    post_depth: int
    post_width: int
    units: int
    int_bits: int
    precision_bits: int
    B: float
    score_radius: float

    @property
    def lam(self) -> Fraction:
        return Fraction(1, 4**self.k)

    @property
    def rho(self) -> Fraction:
        return Fraction(2) ** self.rho_log2


@dataclass(frozen=True)
class ContextConstants:
    """Per context (sorted by ``g``): ``(cell, position)``, ``ĝ``, ``h`` (dyadics)."""

    keys: tuple[tuple[tuple[int, ...], int], ...]
    g: tuple[Fraction, ...]
    h: tuple[Fraction, ...]
    gamma: Fraction


def _contexts(d: int, L: int, K: int) -> list[tuple[tuple[int, ...], int]]:
    return [(q, i) for q in itertools.product(range(K), repeat=d * L) for i in range(L)]


def context_constants(d: int, L: int, K: int, k: int, lp: int, *,
                      prec: int) -> ContextConstants:
    """``g_c``, ``h_c`` (module docstring, step 2) for every context, at ``prec`` bits;
    ``lp`` prompt columns share the normaliser."""
    from flint import arb, ctx

    from .balls import to_fraction

    e_max = L * K**d
    anchor = e_max + 1
    old = ctx.prec
    ctx.prec = prec
    try:
        lam = arb(1) / arb(4) ** k
        rows = []
        for q, i in _contexts(d, L, K):
            codes = [token_code(d, K, j, q) for j in range(L)]
            t = lam * codes[i]
            w = [(t * (e - anchor)).exp() for e in codes]     # scaled by e^{−tΛ}
            share = arb(lp)
            z = sum(w, arb(0)) + share
            mean = (sum((e * wi for e, wi in zip(codes, w, strict=True)), arb(0))
                    + share * anchor) / z
            alpha = arb(1) / z
            g = codes[i] + mean
            h = alpha * (1 + t * (anchor - mean))
            rows.append((g, h, (q, i)))
        rows.sort(key=lambda r: to_fraction(r[0].mid()))
        gaps = [rows[m + 1][0].lower() - rows[m][0].upper() for m in range(len(rows) - 1)]
        gamma = to_fraction(min(gaps).lower()) if gaps else Fraction(anchor)
        return ContextConstants(keys=tuple(r[2] for r in rows),
                                g=tuple(to_fraction(r[0].mid()) for r in rows),
                                h=tuple(to_fraction(r[1].mid()) for r in rows), gamma=gamma)
    finally:
        ctx.prec = old


def plan_route_a(d: int, L: int, C: float, eps: float, p: int = 2, *,
                 k: int | None = None) -> RouteAPlan:
    """Sizes of route A for ``(d, L, C, ε, p)`` or :class:`ConstructionTooLarge` first.

    ``k`` fixes ``λ = 4^{−k}`` instead of searching (the separation is still required).
    """
    base = plan_universal(d, L, C, eps, p, form="deep")
    K, beta = base.K, base.beta
    N = L * K ** (d * L)
    lim = ROUTE_A_LIMITS
    if N > lim["contexts"]:
        raise ConstructionTooLarge(
            f"route A (d={d}, L={L}, K={K}) enumerates {N} contexts at build; limit "
            f"{lim['contexts']}", required=N, limit=lim["contexts"], nearest=None)
    e_max = L * K**d
    anchor = e_max + 1
    nd = N * d
    per_entry = digits_per_prompt_entry(base)
    lp = -(-(nd + 1) // per_entry)
    lb = beta.bit_length() - 1
    margin_log2 = -(nd + 2) * lb
    # the largest λ = 4^{−k} (closest to hardmax) whose contexts float64 knots can separate
    gamma, kk = Fraction(0), -1
    for kk in ([k] if k is not None else range(K_MAX + 1)):
        gamma = context_constants(d, L, K, kk, lp, prec=128).gamma
        if gamma >= GAMMA_NEED * anchor:
            break
    if gamma < GAMMA_NEED * anchor:
        raise InvalidArgument(
            f"route A (d={d}, L={L}, K={K}): λ = 4^-{kk} separates contexts by "
            f"γ = {float(gamma):.3g} < {float(GAMMA_NEED * anchor):.3g} (float64 knots "
            "between contexts): the softmax scale does not give the separation needed")
    t_max = e_max / 4**kk
    rho_log2 = margin_log2 - math.ceil(math.log2(8 * t_max * (1 + t_max * anchor)))
    # smallest h: α ≥ e^{−t_max(Λ−1)}/(L + L_p) and 1 + t(Λ − A) ≥ 1
    h_min_log2 = -(t_max * (anchor - 1)) / math.log(2) - math.log2(L + lp)
    slope_log2 = -h_min_log2 - rho_log2
    if slope_log2 > lim["log2_slope"]:
        raise ConstructionTooLarge(
            f"route A (d={d}, L={L}, K={K}): FF_post slope 2^{slope_log2:.0f} leaves "
            f"float64's exponent range (limit 2^{lim['log2_slope']})",
            required=math.ceil(slope_log2), limit=lim["log2_slope"], nearest=None)
    # float64 words of the undo layer span 2^(slope + 60) down to the resolution μ/32
    finest_log2 = -(nd + 2) * lb - 10
    if slope_log2 + 60 > 1023 or finest_log2 < -1074:
        raise ConstructionTooLarge(
            f"route A (d={d}, L={L}, K={K}): the undo layer's constants span 2^"
            f"{slope_log2 + 60:.0f} down to 2^{finest_log2}, beyond float64 words' range "
            "[2^-1074, 2^1023]", required=math.ceil(slope_log2 - finest_log2),
            limit=2097, nearest=None)
    int_bits = math.ceil(slope_log2) + (2 * anchor + nd + 2).bit_length() + 2
    precision_bits = int_bits + (nd + 2) * lb + 16
    if precision_bits > lim["bits"]:
        raise ConstructionTooLarge(
            f"route A (d={d}, L={L}, K={K}) needs {precision_bits} precision bits; limit "
            f"{lim['bits']}", required=precision_bits, limit=lim["bits"], nearest=None)
    words = -(-(precision_bits + int_bits) // 50)
    undo_units = (2 * N + 2) * words + 2 * words
    shift_units = 2 * (base.M + 1) * (nd - 1) + 4
    final_units = 2 * (base.M + 1) + 2
    post_width = d * max(undo_units, shift_units if nd > 1 else 0, final_units)
    pre_width = 3 * d + 2 * (L - 1) + 2 * d * L * (K - 1)
    units = pre_width + d * (undo_units + shift_units * (nd - 1) + final_units)
    root = 1.0 / 2**kk
    B = root * (anchor + 2.0**rho_log2)
    return RouteAPlan(
        base=base, k=kk, anchor=anchor, e_max=e_max, rho_log2=rho_log2, contexts=N,
        virtual_slots=nd, prompt_tokens=lp, n=lp + L, gamma=float(gamma),
        post_depth=nd + 1, post_width=post_width, units=units, int_bits=int_bits,
        precision_bits=precision_bits, B=B, score_radius=B * B)


def _dyadic(x: Fraction, bits: int) -> Fraction:
    """``x`` rounded to a multiple of ``2^{⌊log2|x|⌋ − bits}`` (relative error ``≤ 2^{−bits}``)."""
    if x == 0:
        return x
    e = x.numerator.bit_length() - x.denominator.bit_length() - bits
    scale = Fraction(2) ** e
    return round(x / scale) * scale


def _floor_log2(x: Fraction) -> int:
    """``⌊log2 x⌋`` for ``x > 0``."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    return e if Fraction(2) ** e <= x else e - 1


@dataclass(frozen=True)
class RouteATransformer:
    """The frozen τ of route A with its plan and context constants."""

    plan: RouteAPlan
    weights: TransformerWeights
    contexts: ContextConstants

    @property
    def sizes(self) -> UniversalSizes:
        """Route B's sizes of the same request (grid, levels, a-priori bound)."""
        return self.plan.base

    def digest(self) -> str:
        return self.weights.digest()

    def enclose(self, X: RatMatrix, prompt: Prompt) -> tuple[RatMatrix, RatMatrix]:
        """Rigorous ``(lo, hi)`` of τ_P(X) (:func:`.balls.enclose_forward`)."""
        from .balls import enclose_forward

        return enclose_forward(self.weights, X, prompt.rational(),
                               prec=self.plan.precision_bits + 64)


def _undo_regions(plan: RouteAPlan, cc: ContextConstants, channel: int) -> list[Region]:
    """Channel ``channel``'s undo map: context ``s`` → segment ``channel·N + s`` holding F."""
    N, rho = plan.contexts, plan.rho
    margin = Fraction(1, plan.base.beta ** (plan.virtual_slots + 2))
    slope_bits = (1 / margin).numerator.bit_length() + 4
    value_bits = slope_bits + 1
    tops = [g + h * rho for g, h in zip(cc.g, cc.h, strict=True)]
    gaps = [cc.g[s + 1] - tops[s] for s in range(N - 1)]
    # knots on one dyadic grid of at most a quarter of the smallest gap: every knot and
    # every power-of-two transition between regions (:func:`._pl._knots`) stays a float64
    unit = Fraction(2) ** (_floor_log2(min(gaps, default=Fraction(1)) / 4))

    def down(x: Fraction) -> Fraction:
        return math.floor(x / unit) * unit

    def up(x: Fraction) -> Fraction:
        return math.ceil(x / unit) * unit

    bounds = [(down((tops[s] + cc.g[s + 1]) / 2 - gaps[s] / 4),
               up((tops[s] + cc.g[s + 1]) / 2 + gaps[s] / 4)) for s in range(N - 1)]
    lo0 = down(cc.g[0] - 1)
    regions = [Region(lo0 - 1, lo0 - 1, Fraction(0), Fraction(0))]     # bias anchor: 0
    for s in range(N):
        lo = lo0 if s == 0 else bounds[s - 1][1]
        hi = up(tops[-1] + 1) if s == N - 1 else bounds[s][0]
        sigma = _dyadic(1 / (cc.h[s] * rho), slope_bits)
        g_hat = _dyadic(cc.g[s], slope_bits + sigma.numerator.bit_length()
                        - sigma.denominator.bit_length()
                        + plan.anchor.bit_length() + 8)
        # the value at lo to μ/16 (one more sixteenth of the budget): without rounding its
        # bits would be those of ĝ and σ together, below float64's smallest word
        start = round((lo - g_hat) * sigma * 2**value_bits) / Fraction(2**value_bits)
        regions.append(Region(lo, hi, sigma, channel * N + s + start))
    return regions


def build_route_a(d: int, L: int, C: float, eps: float, p: int = 2, *,
                  k: int | None = None) -> RouteATransformer:
    """Build route A's τ for ``(d, L, C, ε, p)`` (module docstring). τ never sees a target.

    ``k`` fixes ``λ = 4^{−k}`` (the separation is still required).
    """
    plan = plan_route_a(d, L, C, eps, p, k=k)
    base = plan.base
    cc = context_constants(d, L, base.K, plan.k, plan.prompt_tokens,
                           prec=plan.precision_bits + 64)
    pre = staircase_ff_pre(d, L, base.K, base.eta, lambda j, i: base.K**i, 1,
                           prompt_lift=plan.anchor + 1)
    root = 2.0**-plan.k
    e0 = np.zeros((1, d))
    e0[0, 0] = 1.0
    undo = layer_from_channel_regions([_undo_regions(plan, cc, c) for c in range(d)],
                                      left_slope=Fraction(0), right_slope=Fraction(0),
                                      expand=True)
    post = (undo, *_deep_post(base, Fraction(0), list(range(plan.virtual_slots))))
    weights = TransformerWeights(root * e0, root * e0, e0, np.ones((d, 1)), beta=1.0,
                                 ff_pre=(pre,), ff_post=post,
                                 pos=positional_encoding(d, plan.prompt_tokens, L))
    return RouteATransformer(plan=plan, weights=weights, contexts=cc)


def build_prompt_a(ut: RouteATransformer, target: Target) -> Prompt:
    """``P(f)`` for route A: the levels of ``f`` at every context, as digits of ``ρF``."""
    plan, base = ut.plan, ut.plan.base
    if (target.d, target.L) != (base.d, base.L):
        raise InvalidArgument(f"target has shape (d={target.d}, L={target.L}): τ was built "
                              f"for (d={base.d}, L={base.L})")
    if target.C > base.C:
        raise InvalidArgument(f"target.C={target.C!r}: τ was built for C <= {base.C!r}")
    levels = quantised_levels(ut, target)       # type: ignore[arg-type]
    cells = {q: ci for ci, q in enumerate(itertools.product(range(base.K),
                                                            repeat=base.d * base.L))}
    N, beta = plan.contexts, base.beta
    digits = [0] * plan.virtual_slots
    table = [[0] * N for _ in range(base.d)]
    for s, (q, i) in enumerate(ut.contexts.keys):
        for c in range(base.d):
            table[c][s] = int(levels[cells[q], c, i])
            digits[c * N + s] = table[c][s] + 1
    digits.append(beta // 2)
    per_entry = digits_per_prompt_entry(base)
    row = []
    for col in range(plan.prompt_tokens):
        chunk = range(col * per_entry, min((col + 1) * per_entry, len(digits)))
        row.append(plan.rho * sum((Fraction(digits[r], beta ** (r + 1)) for r in chunk),
                                  Fraction(0)))
    return Prompt(entries=tuple(tuple(row) for _ in range(base.d)),
                  levels=tuple(tuple(r) for r in table),
                  target=target.name)


#: The route-A rows of docs/universality.md: the five default-tier shapes, the slow tier's,
#: (1, 4) and one refusal.
DOC_CONFIGS: tuple[tuple[int, int, float, float, int], ...] = (
    (1, 1, 1.0, 0.3, 2), (1, 2, 1.0, 0.4, 2), (2, 1, 1.0, 0.4, 2), (1, 3, 1.0, 0.5, 4),
    (2, 2, 1.0, 0.5, 4), (1, 1, 2.0, 0.1, 2), (1, 2, 1.0, 0.2, 2), (1, 3, 1.0, 0.3, 4),
    (2, 2, 1.0, 0.4, 4), (1, 4, 1.0, 0.5, 4), (1, 3, 1.0, 0.2, 4))


def route_a_table(configs: tuple[tuple[int, int, float, float, int], ...] = DOC_CONFIGS
                  ) -> str:
    """Markdown table of route A's sizes, norms and separation (docs/universality.md)."""
    lines = ["| d | L | C | ε | p | K | M | contexts N | λ | γ | L_p | ρ | FF_post depth | "
             "FF_post width | units | bits | B | √ln n | B/√ln n | score radius |",
             "|" + "---|" * 20]
    for d, L, C, eps, p in configs:
        try:
            pl = plan_route_a(d, L, C, eps, p)
        except ConstructionTooLarge as exc:
            lines.append(f"| {d} | {L} | {C} | {eps} | {p} | refused: {str(exc)[:90]} |"
                         + " |" * 14)
            continue
        root = math.sqrt(math.log(pl.n))
        lines.append(
            f"| {d} | {L} | {C} | {eps} | {p} | {pl.base.K} | {pl.base.M} | {pl.contexts} | "
            f"4^-{pl.k} | {pl.gamma:.2g} | {pl.prompt_tokens} | 2^{pl.rho_log2} | "
            f"{pl.post_depth} | {pl.post_width} | {pl.units} | {pl.precision_bits} | "
            f"{pl.B:.3g} | {root:.3g} | {pl.B / root:.3g} | {pl.score_radius:.3g} |")
    return "\n".join(lines)


if __name__ == "__main__":      # python -m core.constructions.route_a prints the docs table
    print(route_a_table())
