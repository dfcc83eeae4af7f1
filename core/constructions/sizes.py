"""Sizes of the universal prompt-tuning construction, computed before anything is built.

docs/theory.md §2, claim U (``thm:PT_uni_multi_layer_FF2`` for ``form="deep"``,
``thm:PT_uni_two_layer_FF2`` for ``form="wide"``); route B of docs/theory.md (positional
encodings, digit-block codes, uniform attention, table lookup by digit extraction).

From ``(d, L, C, ε, p)`` the plan picks the coarsest grid ``K = 1/δ`` (a power of two) and
output resolution ``M`` (levels ``t/M``, ``t = 0..M``) whose good-set error
``e = C·δ/2 + 1/(2M)`` meets ``dL·e^p < ε^p``, then the widest boundary strip ``η`` (a power
of two) with ``(dL)²·(K−1)·η ≤ ε^p − dL·e^p``, so that

    d_p(τ_P, f)^p ≤ dL·e^p + dL·(bad-set measure) ≤ dL·e^p + (dL)²(K−1)η < ε^p

(``‖·‖_p^p`` sums ``dL`` entries, each at most ``e`` on the good set and at most 1 on the
bad set because outputs of both maps lie in ``[0,1]``). Every count below is a formula of
these choices; :func:`plan_universal` refuses with :class:`ConstructionTooLarge` (naming the
sizes and the nearest ``ε`` that fits) before allocating anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ConstructionTooLarge, InvalidArgument
from ..validation import check_int, check_real

__all__ = [
    "BITS_PER_PROMPT_ENTRY",
    "FORMS",
    "LIMITS",
    "UniversalSizes",
    "form_cost_table",
    "plan_universal",
    "readout_cost_table",
    "sizes_table",
    "wide_width_lower_bound",
]

FORMS: tuple[str, ...] = ("deep", "wide", "linear")

#: What a build may cost: hidden units over all layers (memory); ``work``, the FF_post layer
#: applications that reading every slot of one channel takes (:attr:`UniversalSizes.work`);
#: precision bits; ``bit_work = work × bits`` (each application costs ``O(bits)``); and the
#: one-layer readout's units (the wide form compiles every knot exactly: about 0.1 ms each).
#: ``bit_work`` is calibrated on 2 cores: a linear plan at the limit, ``(1, 2)`` at
#: ``K = 128`` (32768 slots, 98k bits, bit work 6.4·10⁹), builds in 3 s and certifies one
#: target in about 70 s at 2.4 GiB, so all four families finish in under 10 minutes
#: (docs/universality.md, measured table). The deep form's ``work`` bound binds long before
#: its ``bits`` or ``bit_work`` do.
LIMITS: dict[str, int] = {"units": 3_000_000, "work": 300_000, "bits": 131_072,
                          "bit_work": 8_000_000_000, "wide_units": 200_000}

_ETA_MIN = Fraction(1, 2**40)     # FF_pre knots o_j + b/K ± η/2 stay exact in float64
#: Digits' bits each prompt entry holds: a float64-sized chunk (53-bit significand, margin).
BITS_PER_PROMPT_ENTRY = 48
_MAX_LOG2_K = 8
_MAX_LOG2_M = 10


def _pow2_at_least(x: int) -> int:
    return 1 << max(0, (x - 1).bit_length())


@dataclass(frozen=True)
class UniversalSizes:
    """Every size of one construction (see module docstring for the formulas).

    Attributes:
        d, L, C, eps, p, form: the request.
        K: grid levels per coordinate (``δ = 1/K``); M: output levels ``t/M``.
        eta: boundary strip width; beta: digit base of the prompt table (``≥ M+3``);
        radix: code radix ``R ≥ 2K−1`` of the digit blocks; slots: ``N = L·K^{dL}``
        table entries per channel; prompt_tokens: ``L_p``; n: ``L_p + L``.
        pre_width: FF_pre hidden units; post_depth, post_width: FF_post layers and the
        widest one (``form="linear"``: the index layer, ``2(N+M)+2`` units per channel);
        units: all hidden units; int_bits, precision_bits: bits before the
        binary point of the largest activation, and bits an evaluation needs.
        good_error: ``e``; dp_bound_formula: the a-priori bound ``(dL e^p + (dL)²(K−1)η)^{1/p}``.
    """

    d: int
    L: int
    C: float
    eps: float
    p: int
    form: str
    K: int
    M: int
    eta: Fraction
    beta: int
    radix: int
    slots: int
    prompt_tokens: int
    n: int
    pre_width: int
    post_depth: int
    post_width: int
    units: int
    int_bits: int
    precision_bits: int
    good_error: Fraction
    dp_bound_formula: float

    @property
    def work(self) -> int:
        """FF_post layer applications that reading every slot of one channel takes.

        ``deep``: ``N·depth`` (every slot's trajectory is its own); ``wide``: ``N``;
        ``linear``: ``N + depth``: the layers after the first are one map ``g`` and slot
        ``s``'s state after layer ``t`` is slot ``s+1``'s after layer ``t−1``, so the
        exact evaluator's orbit sharing (:func:`.evaluate.iterate`) visits ``2N − 1``
        distinct states of ``g`` plus ``N`` readouts.
        """
        if self.form == "deep":
            return self.slots * self.post_depth
        if self.form == "linear":
            return self.slots + self.post_depth
        return self.slots

    @property
    def bit_work(self) -> int:
        """``work × precision_bits``: every application acts on ``precision_bits``-bit values."""
        return self.work * self.precision_bits


def _grid_choice(dl: int, C: Fraction, eps: Fraction, p: int) -> tuple[int, int, Fraction] | None:
    """Smallest ``K``, then smallest ``M``, with a strip ``η ≥ 2^-40``; ``None`` if none."""
    target = eps**p
    for lk in range(_MAX_LOG2_K + 1):
        K = 1 << lk
        for lm in range(_MAX_LOG2_M + 1):
            M = 1 << lm
            e_float = float(C) / (2 * K) + 1.0 / (2 * M)
            if dl * e_float**p > float(target) * (1 + 1e-9):
                continue                      # cheap float screen; exact test below
            e = C / (2 * K) + Fraction(1, 2 * M)
            slack = target - dl * e**p
            if slack <= 0:
                continue
            if K == 1:
                return K, M, Fraction(1, 4)
            eta = Fraction(1, 4 * K)
            while dl * dl * (K - 1) * eta > slack:
                eta /= 2
            if eta >= _ETA_MIN:
                return K, M, eta
    return None


def _sizes(d: int, L: int, C: float, eps: float, p: int, form: str, K: int, M: int,
           eta: Fraction, *, ramp_bits: bool = False) -> UniversalSizes:
    dl = d * L
    beta = _pow2_at_least(M + 3)
    lb = beta.bit_length() - 1
    radix = max(2, _pow2_at_least(2 * K - 1))
    slots = L * K**dl
    per_entry = max(1, BITS_PER_PROMPT_ENTRY // lb)
    prompt_tokens = -(-(slots + 1) // per_entry)
    n = prompt_tokens + L
    pre_width = d + 2 * (L - 1) + 2 * dl * (K - 1)
    if form == "deep":
        s_units = 2 * (M + 1) * (slots - 1) + 2 + 2       # regions' knots (+ spare)
        final_units = 2 * (M + 1) + 2
        post_depth = slots
        post_width = d * max(s_units if slots > 1 else 0, final_units)
        units = pre_width + d * (s_units * (slots - 1) + final_units)
    elif form == "linear":
        # index layer: N−1 waiting segments + M+1 digit regions, two knots each (+ spare);
        # g: M+1 digit regions + the translation, two knots each (+ spare); readout: M+1
        first_units = 2 * (slots - 1) + 2 * (M + 1) + 2
        g_units = 2 * (M + 2) + 2
        final_units = 2 * (M + 1) + 2
        post_depth = slots
        if slots == 1:
            post_width = d * final_units
            units = pre_width + d * final_units
        else:
            post_width = d * max(first_units, g_units if slots > 2 else 0, final_units)
            units = pre_width + d * (first_units + g_units * (slots - 2) + final_units)
    else:
        # Σ_{s<N} (M+1)^{s+1} regions, two knots each; beyond 64 slots the count is past
        # every limit (≥ 2^64), so it is capped there instead of building a huge integer.
        regions = sum((M + 1) ** (s + 1) for s in range(min(slots, 64)))
        post_depth = 1
        post_width = d * (2 * regions + 2)
        units = pre_width + post_width
    top = radix**dl
    int_bits = ((L + 1) ** 2 * top * 2 + 8).bit_length()
    if ramp_bits and K > 1:
        # FF_pre's ramps have slope R^{jd+i}/η: their hidden products reach top/η
        int_bits = max(int_bits, (math.ceil(top / eta) * 2 * (L + 1) ** 2 + 8).bit_length())
    guard = (max(post_width, pre_width, 1) * n).bit_length() + 2
    precision_bits = int_bits + (slots + 2) * lb + guard
    e = Fraction(C) / (2 * K) + Fraction(1, 2 * M)
    s_bound = dl * e**p + (dl * dl * (K - 1) * eta if K > 1 else 0)
    dp_formula = float(s_bound) ** (1.0 / p)
    return UniversalSizes(
        d=d, L=L, C=C, eps=eps, p=p, form=form, K=K, M=M, eta=eta, beta=beta, radix=radix,
        slots=slots, prompt_tokens=prompt_tokens, n=n, pre_width=pre_width,
        post_depth=post_depth, post_width=post_width, units=units, int_bits=int_bits,
        precision_bits=precision_bits, good_error=e, dp_bound_formula=dp_formula)


def _fits(s: UniversalSizes, limits: dict[str, int]) -> bool:
    return (s.units <= limits["units"] and s.work <= limits["work"]
            and s.precision_bits <= limits["bits"] and s.bit_work <= limits["bit_work"]
            and (s.form != "wide" or s.units <= limits["wide_units"]))


def _plan(d: int, L: int, C: float, eps: float, p: int, form: str,
          grid: tuple[int, int, Fraction] | None = None) -> UniversalSizes | None:
    if grid is not None:
        return _sizes(d, L, C, eps, p, form, *grid, ramp_bits=True)
    choice = _grid_choice(d * L, Fraction(C), Fraction(eps), p)
    if choice is None:
        return None
    return _sizes(d, L, C, eps, p, form, *choice)


def _is_pow2(x: int) -> bool:
    return x >= 1 and x & (x - 1) == 0


def _check_grid(d: int, L: int, C: float, eps: float, p: int,
                grid: object) -> tuple[int, int, Fraction]:
    """``grid = (K, M, η)``: powers of two, ``K ≤ 2^8``, ``M ≤ 2^10``, ``2^-40 ≤ η ≤ 1/(4K)``,
    meeting the same ``d_p`` inequality ``dL·e^p + (dL)²(K−1)η < ε^p`` as the planner's own."""
    if not (isinstance(grid, tuple) and len(grid) == 3):
        raise InvalidArgument(f"grid={grid!r}: expected a tuple (K, M, eta)")
    K, M, eta = grid
    if isinstance(K, bool) or not isinstance(K, int) or not _is_pow2(K) or K > 1 << _MAX_LOG2_K:
        raise InvalidArgument(f"grid K={K!r}: expected a power of two in 1..{1 << _MAX_LOG2_K}")
    if isinstance(M, bool) or not isinstance(M, int) or not _is_pow2(M) or M > 1 << _MAX_LOG2_M:
        raise InvalidArgument(f"grid M={M!r}: expected a power of two in 1..{1 << _MAX_LOG2_M}")
    top_eta = Fraction(1, 4 * K) if K > 1 else Fraction(1, 4)
    if (not isinstance(eta, Fraction) or eta.numerator != 1 or not _is_pow2(eta.denominator)
            or not _ETA_MIN <= eta <= top_eta):
        raise InvalidArgument(f"grid eta={eta!r}: expected a Fraction 2^-k in "
                              f"[2^-40, {top_eta}] (1/(4K), K={K})")
    dl = d * L
    e = Fraction(C) / (2 * K) + Fraction(1, 2 * M)
    total = dl * e**p + (dl * dl * (K - 1) * eta if K > 1 else 0)
    if total >= Fraction(eps) ** p:
        raise InvalidArgument(
            f"grid={grid!r}: dL·e^p + (dL)²(K−1)η = {float(total):.6g} must be < ε^p = "
            f"{float(Fraction(eps) ** p):.6g} (e = C/(2K) + 1/(2M) = {float(e):.6g})")
    return K, M, eta


def plan_universal(d: int, L: int, C: float, eps: float, p: int = 2, *, form: str = "deep",
                   limits: dict[str, int] | None = None,
                   grid: tuple[int, int, Fraction] | None = None) -> UniversalSizes:
    """Sizes for ``(d, L, C, ε, p)``, or :class:`ConstructionTooLarge` before building.

    Args:
        d, L: token dimension (1..4) and input length (1..4).
        C: Lipschitz constant of the targets, ``0 < C ≤ 64``.
        eps: accuracy in ``d_p``, ``0 < ε < 1``.
        p: exponent of ``d_p``, an integer in ``1..16``.
        form: ``"deep"`` (deep FF_post, width linear in the slots, ``O(M·N²)`` units),
            ``"linear"`` (deep FF_post of ``O(β·N)`` units: an index layer, then one
            constant-width layer ``g`` repeated; docs/universality.md) or ``"wide"`` (one
            FF_post layer, width exponential in the slots).
        limits: overrides of :data:`LIMITS`.
        grid: optional ``(K, M, η)`` replacing the planner's choice (powers of two, still
            meeting the ``d_p`` inequality above; memorisation picks ``K`` from the data's
            separation). The default ``None`` keeps the planner's choice. With an override,
            ``int_bits`` also counts FF_pre's ramp products ``R^{dL}/η`` (slope ``1/η``), and
            a refusal names no nearest request (the caller picked the grid).
    """
    d = check_int("d", d, minimum=1, maximum=4)
    L = check_int("L", L, minimum=1, maximum=4)
    C = check_real("C", C, low=0.0, high=64.0, low_open=True)
    eps = check_real("eps", eps, low=0.0, high=1.0, low_open=True, high_open=True)
    p = check_int("p", p, minimum=1, maximum=16)
    if form not in FORMS:
        raise InvalidArgument(f"form={form!r}: expected one of {FORMS}")
    lim = {**LIMITS, **(limits or {})}
    if grid is not None:
        grid = _check_grid(d, L, C, eps, p, grid)
    sizes = _plan(d, L, C, eps, p, form, grid)
    if sizes is not None and _fits(sizes, lim):
        return sizes
    nearest = None if grid is not None else _nearest(d, L, C, eps, p, form, lim)
    if sizes is None:
        # e ≥ C/(2K) and dL·e^p < ε^p force K > C·(dL)^{1/p}/(2ε): report that lower bound.
        k_min = max(1, math.ceil(C * (d * L) ** (1.0 / p) / (2 * eps)))
        slots_min = L * k_min ** (d * L)
        what = (f"needs K ≥ {k_min} (searched K ≤ 2^{_MAX_LOG2_K}, M ≤ 2^{_MAX_LOG2_M}), "
                f"so slots ≥ {slots_min} and FF_post depth ≥ {slots_min}")
        required = slots_min
    else:
        what = (f"needs K={sizes.K}, M={sizes.M}, slots={sizes.slots}, FF_post depth "
                f"{sizes.post_depth}, {sizes.units} hidden units, work {sizes.work}, "
                f"{sizes.precision_bits} precision bits, bit work {sizes.bit_work}")
        required = sizes.units
    near = "" if grid is not None else f"; nearest that fits: {nearest}"
    raise ConstructionTooLarge(
        f"universal construction (d={d}, L={L}, C={C}, eps={eps}, p={p}, form={form!r}) "
        f"{what}; limits {lim}{near}",
        required=required, limit=lim["units"], nearest=nearest)


def _nearest(d: int, L: int, C: float, eps: float, p: int, form: str,
             lim: dict[str, int]) -> dict[str, object] | None:
    """The smallest ``ε' > ε`` on a 5% ladder (same ``d, L, C, p``) whose plan fits; failing
    that, the largest ``C/2^k`` (same ``ε``) that fits; failing that, a smaller ``(d, L)``."""
    def row(s: UniversalSizes) -> dict[str, object]:
        return {"eps": round(s.eps, 6), "C": s.C, "K": s.K, "M": s.M, "slots": s.slots,
                "units": s.units, "precision_bits": s.precision_bits}

    e = eps
    for _ in range(200):
        e = min(e * 1.05, 0.999)
        s = _plan(d, L, C, e, p, form)
        if s is not None and _fits(s, lim):
            return row(s)
        if e >= 0.999:
            break
    c = C
    for _ in range(30):
        c /= 2
        s = _plan(d, L, c, eps, p, form)
        if s is not None and _fits(s, lim):
            return row(s)
    for d2, L2 in sorted(((a, b) for a in range(1, d + 1) for b in range(1, L + 1)
                          if (a, b) != (d, L)), key=lambda ab: -ab[0] * ab[1]):
        c = C
        for _ in range(30):
            s = _plan(d2, L2, c, eps, p, form)
            if s is not None and _fits(s, lim):
                return {"d": d2, "L": L2, **row(s)}
            c /= 2
    return None


def sizes_table(configs: list[tuple[int, int, float, float, int]], form: str = "deep") -> str:
    """Markdown table of sizes for ``(d, L, C, ε, p)`` rows; too-large rows say so."""
    head = ("| d | L | C | ε | p | K | M | slots N | L_p | FF_pre width | FF_post depth | "
            "FF_post width | bits | e=Cδ/2+1/(2M) | d_p bound formula |")
    lines = [head, "|" + "---|" * 15]
    for d, L, C, eps, p in configs:
        try:
            s = plan_universal(d, L, C, eps, p, form=form)
        except ConstructionTooLarge as exc:
            near = exc.nearest
            lines.append(f"| {d} | {L} | {C} | {eps} | {p} | too large (nearest: {near}) |"
                         + " |" * 9)
            continue
        lines.append(
            f"| {d} | {L} | {C} | {eps} | {p} | {s.K} | {s.M} | {s.slots} | "
            f"{s.prompt_tokens} | {s.pre_width} | {s.post_depth} | {s.post_width} | "
            f"{s.precision_bits} | {float(s.good_error):.4g} | {s.dp_bound_formula:.4g} |")
    return "\n".join(lines)


def wide_width_lower_bound(sizes: UniversalSizes) -> float:
    """log2 of the fewest knots one FF_post layer needs: ``(M+1)^N − 1`` distinct tables."""
    return sizes.slots * math.log2(sizes.M + 1)


def _deep_and(d: int, L: int, C: float, eps: float, p: int, form: str
              ) -> tuple[UniversalSizes, UniversalSizes] | None:
    """The deep sizes and ``form``'s on the same grid, limits ignored (``None``: no grid)."""
    choice = _grid_choice(d * L, Fraction(C), Fraction(eps), p)
    if choice is None:
        return None
    return _sizes(d, L, C, eps, p, "deep", *choice), _sizes(d, L, C, eps, p, form, *choice)


def form_cost_table(configs: list[tuple[int, int, float, float, int]]) -> str:
    """Markdown table: deep versus wide FF_post for the same ``(d, L, C, ε, p)``.

    The wide column counts its units even when over the limits (sizes are arithmetic);
    ``log2 min knots`` is :func:`wide_width_lower_bound`, the fewest knots *any* single
    FF_post layer needs to read ``(M+1)^N`` tables.
    """
    lines = ["| d | L | C | ε | p | slots N | M | deep depth | deep width | deep units | "
             "wide units | log2 min knots (any 1 layer) |", "|" + "---|" * 12]
    for d, L, C, eps, p in configs:
        pair = _deep_and(d, L, C, eps, p, "wide")
        if pair is None:
            lines.append(f"| {d} | {L} | {C} | {eps} | {p} | no grid ≤ 2^8 |" + " |" * 6)
            continue
        deep, wide = pair
        wide_units = (f"{wide.units:.3g}" if wide.slots <= 64 else
                      f"> 10^{int(wide_width_lower_bound(wide) * math.log10(2))}")
        lines.append(
            f"| {d} | {L} | {C} | {eps} | {p} | {deep.slots} | {deep.M} | {deep.post_depth} | "
            f"{deep.post_width} | {deep.units} | {wide_units} | "
            f"{wide_width_lower_bound(wide):.1f} |")
    return "\n".join(lines)


#: Rows of docs/universality.md's deep-versus-linear table (nothing is built).
READOUT_CONFIGS: tuple[tuple[int, int, float, float, int], ...] = (
    (1, 2, 1.0, 0.4, 2), (1, 3, 1.0, 0.3, 4), (2, 2, 1.0, 0.4, 4), (4, 1, 4.0, 0.6, 2),
    (2, 2, 4.0, 0.6, 2), (1, 3, 16.0, 0.9, 2), (1, 4, 4.0, 0.6, 2), (1, 2, 64.0, 0.6, 2),
    (2, 2, 4.0, 0.3, 2),
)

#: Requests at ``(2, 2)`` whose smallest grid is ``K = 8``: ``C ∈ [8ε·4^{−1/p}, 16ε·4^{−1/p})``
#: (``K = 4`` fails since ``e ≥ C/8``; ``K = 8`` needs ``C/16 + 1/(2M) < ε·4^{−1/p}``).
K8_CONFIGS: tuple[tuple[int, int, float, float, int], ...] = (
    (2, 2, 3.0, 0.8, 1), (2, 2, 3.5, 0.9, 1), (2, 2, 4.0, 0.6, 2), (2, 2, 6.0, 0.9, 2),
    (2, 2, 7.0, 0.9, 2), (2, 2, 8.0, 0.8, 4), (2, 2, 8.0, 0.75, 4),
)


def readout_cost_table(configs: tuple[tuple[int, int, float, float, int], ...]
                       = READOUT_CONFIGS) -> str:
    """Markdown table: the deep and the linear FF_post of the same request, from the planner.

    Both forms' sizes are arithmetic (computed without limits); ``fits`` says which form's
    plan :func:`plan_universal` accepts under :data:`LIMITS`.
    """
    lines = ["| d | L | C | ε | p | K | M | slots N | depth | deep units | linear units | "
             "deep work | linear work | bits | fits |", "|" + "---|" * 15]
    for d, L, C, eps, p in configs:
        pair = _deep_and(d, L, C, eps, p, "linear")
        if pair is None:
            lines.append(f"| {d} | {L} | {C} | {eps} | {p} | no grid ≤ 2^8 |" + " |" * 9)
            continue
        deep, lin = pair
        fits = [f for f, sz in (("deep", deep), ("linear", lin)) if _fits(sz, LIMITS)]
        lines.append(
            f"| {d} | {L} | {C} | {eps} | {p} | {lin.K} | {lin.M} | {lin.slots} | "
            f"{lin.post_depth} | {deep.units:.3g} | {lin.units:.3g} | {deep.work:.3g} | "
            f"{lin.work:.3g} | {lin.precision_bits} | {', '.join(fits) or 'neither'} |")
    return "\n".join(lines)
