"""Certificate for the universal construction over the whole domain (docs/theory.md §2, U).

:func:`certify_universal` proves, in exact rational arithmetic (targets' values at cell
centres enclosed exactly or by arb balls), an upper bound on ``d_p(τ_P, f)`` and on the
sup error off the boundary strips, for one frozen τ, one prompt and one target:

1. *Structure* (checked from the weights, not assumed): one FF_pre layer whose units each
   read one channel; on every good piece of every input entry's range (``[0,1]`` minus the
   strips ``|x − b/K| < η/2``, shifted by the positional encoding) no unit has a breakpoint
   inside and the output's slope in that entry is exactly zero in every channel — so FF_pre
   is constant on the good part of each cell; attention is uniform (``W_K = 0`` or
   ``W_Q = 0``) for route B and non-uniform for route A; every FF_post layer is separable
   and the last one maps *all* of ℝ into ``[0, 1]``.
2. Hence τ_P is a constant ``c`` on the good part of each cell (the attention's inputs are
   the same on all of it), computed at the centre — exactly for route B; for route A
   enclosed in ``[c_lo, c_hi]`` (softmax in arb balls, FF_post on exact intervals,
   :mod:`.balls`); ``sup_cell ‖f − c‖_max ≤ max_ij max(f_hi − c_lo, c_hi − f_lo) + C·δ/2``.
3. ``d_p^p ≤ Σ_cells δ^{dL} Σ_ij (|f_ij(centre) − c_ij| + Cδ/2)^p + dL·(dL(K−1)η)`` (good
   parts have volume at most ``δ^{dL}``; the bad set at most ``dL(K−1)η``, where every
   entry of ``f − τ_P`` lies in ``[−1, 1]``). The sum is exact; the reported ``d_p`` bound
   is a float ``r`` checked to satisfy ``r^p ≥ sum`` exactly.

Import discipline: this module imports only :mod:`core`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..errors import ClaimViolation, ConstructionTooLarge, InvalidArgument
from ..lipschitz import FAMILIES, make_target
from ..targets import Target
from .assumptions import Assumption, check_target, evidence_label
from .balls import Interval, attention_enclosure, post_image
from .evaluate import compile_exact, compile_post
from .route_a import RouteATransformer
from .universal import Prompt, UniversalTransformer, build_prompt, build_universal

__all__ = ["UniversalCertificate", "certify_universal", "check_structure", "float_upper"]

PAPER_REF = "thm:PT_uni_multi_layer_FF2"


@dataclass(frozen=True)
class UniversalCertificate:
    """Rigorous bounds for one (τ, P, f).

    Attributes:
        dp_upper: float with ``dp_upper ≥ d_p(τ_P, f)`` (checked exactly).
        sup_good_upper: float ``≥`` the sup of ``‖τ_P − f‖_max`` off the strips.
        dp_power_sum: the exact rational bound on ``d_p^p``.
        eps: the accuracy asked; ``holds`` iff ``dp_power_sum < ε^p``.
        cells: grid cells enumerated; worst_cell: where the good-set bound is largest.
        cell_bounds: per-cell sup bounds (floats rounded up), keyed by cell index.
        context_gap: route A only: smallest certified gap between two contexts' attention
            outputs (the contextual map's separation on this prompt).
        assumptions: what the bound rests on about the target, each proved, checked or
            assumed (:mod:`.assumptions`); :attr:`evidence` words it.
        cell_errors: per cell, the exact per-entry bounds ``e_ij`` (``i`` outer, ``j``
            inner) whose sum the power sum is: the data a replayable certificate carries.
    """

    dp_upper: float
    sup_good_upper: float
    dp_power_sum: Fraction
    eps: float
    p: int
    cells: int
    worst_cell: tuple[int, ...]
    cell_bounds: dict[tuple[int, ...], float] = field(repr=False)
    context_gap: float | None = None
    assumptions: tuple[Assumption, ...] = ()
    cell_errors: dict[tuple[int, ...], tuple[Fraction, ...]] = field(default_factory=dict,
                                                                    repr=False)

    @property
    def holds(self) -> bool:
        return self.dp_power_sum < Fraction(self.eps) ** self.p

    @property
    def evidence(self) -> str:
        """``certified``, or ``certified (assuming C = 1.5, ...)`` for a user's target."""
        return evidence_label(self.assumptions)


def float_upper(x: Fraction) -> float:
    """The smallest float64 ``≥ x``."""
    f = float(x)
    while Fraction(f) < x:
        f = math.nextafter(f, math.inf)
    return f


def _root_upper(s: Fraction, p: int) -> float:
    r = float_upper(s) ** (1.0 / p)
    while Fraction(r) ** p < s:
        r = math.nextafter(r, math.inf)
    return r


def _good_pieces(K: int, eta: Fraction) -> list[tuple[Fraction, Fraction]]:
    cuts = [Fraction(0)]
    pieces = []
    for b in range(1, K):
        pieces.append((cuts[-1], Fraction(b, K) - eta / 2))
        cuts.append(Fraction(b, K) + eta / 2)
    pieces.append((cuts[-1], Fraction(1)))
    return pieces


def check_structure(ut: UniversalTransformer | RouteATransformer) -> None:
    """Raise :class:`ClaimViolation` unless step 1 of the module docstring holds."""
    w, s = ut.weights, ut.sizes
    prompt_tokens = ut.plan.prompt_tokens if isinstance(ut, RouteATransformer) else \
        s.prompt_tokens
    if len(w.ff_pre) != 1:
        raise ClaimViolation(f"certificate needs exactly one FF_pre layer, got {len(w.ff_pre)}")
    uniform = not (np.any(w.w_k) and np.any(w.w_q))
    if isinstance(ut, RouteATransformer) == uniform:
        raise ClaimViolation(
            "route A needs a non-uniform softmax (W_K and W_Q nonzero)" if uniform else
            "attention is not uniform: W_K and W_Q are both nonzero (route B is exact "
            "only with uniform weights)")
    if w.pos is None:
        raise ClaimViolation("certificate needs the positional encoding E")
    layer = w.ff_pre[0]
    reads = []
    for u in range(layer.hidden):
        nz = np.flatnonzero(layer.w1[u])
        if len(nz) != 1:
            raise ClaimViolation(f"FF_pre unit {u} reads channels {nz.tolist()}: one expected")
        c = int(nz[0])
        a, b = Fraction(float(layer.w1[u, c])), Fraction(float(layer.b1[u]))
        reads.append((c, a, b, [Fraction(float(v)) for v in layer.w2[:, u]]))
    for j in range(s.L):
        o = Fraction(float(w.pos[0, prompt_tokens + j]))
        if any(Fraction(float(w.pos[c, prompt_tokens + j])) != o for c in range(s.d)):
            raise ClaimViolation(f"positional encoding of input {j} differs across channels")
        for i in range(s.d):
            for lo, hi in _good_pieces(s.K, s.eta):
                mid = o + (lo + hi) / 2
                slopes = [Fraction(int(c == i)) for c in range(s.d)]
                for c, a, b, w2 in reads:
                    if c != i:
                        continue
                    t = -b / a
                    if o + lo < t < o + hi:
                        raise ClaimViolation(
                            f"FF_pre breakpoint {float(t)!r} lies inside the good piece "
                            f"[{float(lo)}, {float(hi)}] of entry (i={i}, j={j}): the "
                            "quantiser is not constant off its boundary strips")
                    if a * mid + b > 0:
                        for r in range(s.d):
                            slopes[r] += w2[r] * a
                if any(v != 0 for v in slopes):
                    raise ClaimViolation(
                        f"FF_pre output depends on entry (i={i}, j={j}) on the good piece "
                        f"[{float(lo)}, {float(hi)}] (slopes {[float(v) for v in slopes]})")
    if not w.ff_post:
        raise ClaimViolation("certificate needs an FF_post readout layer")
    post = compile_post(w)
    for idx, compiled in enumerate(post):
        if not isinstance(compiled, list):
            raise ClaimViolation(f"FF_post layer {idx} is not separable (one channel per unit)")
    last = post[-1]
    assert isinstance(last, list)
    for c, prof in enumerate(last):
        rng = prof.value_range()
        if rng is None or rng[0] < 0 or rng[1] > 1:
            raise ClaimViolation(
                f"last FF_post layer, channel {c}: range {rng} is not inside [0, 1] on all "
                "of ℝ; the bad-set term of the certificate needs it")


def _contexts_separated(att: dict[tuple[tuple[int, ...], int], Interval]) -> Fraction:
    """Smallest gap between the contexts' attention intervals (channel 0); raises
    :class:`ClaimViolation` naming two contexts whose intervals meet."""
    ordered = sorted(att.items(), key=lambda kv: kv[1][0])
    gap = Fraction(10**9)
    for (ka, a), (kb, b) in itertools.pairwise(ordered):
        if b[0] <= a[1]:
            raise ClaimViolation(
                f"contexts (cell {ka[0]}, position {ka[1]}) and (cell {kb[0]}, position "
                f"{kb[1]}) reach overlapping attention outputs [{float(a[0])!r}, "
                f"{float(a[1])!r}] and [{float(b[0])!r}, {float(b[1])!r}]: the contextual "
                "map does not separate them")
        gap = min(gap, b[0] - a[1])
    return gap


def certify_universal(ut: UniversalTransformer | RouteATransformer, prompt: Prompt,
                      target: Target) -> UniversalCertificate:
    """Enumerate every cell and bound ``d_p(τ_P, f)`` rigorously (module docstring).

    Route A: each cell's output is enclosed (:mod:`.balls`) and the contexts' attention
    outputs must be pairwise disjoint (the contextual map separates them; the smallest gap
    is reported).
    """
    s = ut.sizes
    if (target.d, target.L) != (s.d, s.L):
        raise InvalidArgument(f"target shape (d={target.d}, L={target.L}) differs from τ's "
                              f"(d={s.d}, L={s.L})")
    check_structure(ut)
    assumptions = check_target(target, s.K, float(s.eta))
    route_a = isinstance(ut, RouteATransformer)
    P = prompt.rational()
    if isinstance(ut, RouteATransformer):
        post = compile_post(ut.weights)
        prec = ut.plan.precision_bits + 64
    else:
        program = compile_exact(ut.weights)
    K, dl, p = s.K, s.d * s.L, s.p
    half_rise = Fraction(target.C) / (2 * K)
    vol = Fraction(1, K**dl)
    total = Fraction(0)
    sup = Fraction(0)
    worst: tuple[int, ...] = ()
    bounds: dict[tuple[int, ...], float] = {}
    seen: dict[tuple[tuple[int, ...], int], Interval] = {}
    errors: dict[tuple[int, ...], tuple[Fraction, ...]] = {}
    cells = list(itertools.product(range(K), repeat=dl))
    centres = [[[Fraction(2 * q[j * s.d + i] + 1, 2 * K) for j in range(s.L)]
                for i in range(s.d)] for q in cells]
    # route B: every centre at once (prompt through FF_pre once, FF_post orbits shared)
    exact = None if route_a else program.forward_many(centres, P)
    for ci, (q, Xq) in enumerate(zip(cells, centres, strict=True)):
        if route_a:
            att = attention_enclosure(ut.weights, Xq, P, prec=prec)
            out_lo = [[post_image(post, i, att[j][i])[0] for j in range(s.L)]
                      for i in range(s.d)]
            out_hi = [[post_image(post, i, att[j][i])[1] for j in range(s.L)]
                      for i in range(s.d)]
            seen.update({(q, j): att[j][0] for j in range(s.L)})
        else:
            assert exact is not None
            out_lo = out_hi = exact[ci]
        lo, hi = target.enclose(Xq)
        errs = tuple(max(hi[i][j] - out_lo[i][j], out_hi[i][j] - lo[i][j]) + half_rise
                     for i in range(s.d) for j in range(s.L))
        cell_sup = max(errs)
        total += vol * sum((e**p for e in errs), Fraction(0))
        errors[q] = errs
        bounds[q] = float_upper(cell_sup)
        if cell_sup >= sup:
            sup, worst = cell_sup, q
    gap = float(_contexts_separated(seen)) if route_a else None
    bad = dl * (K - 1) * s.eta if K > 1 else Fraction(0)
    total += dl * bad
    return UniversalCertificate(
        dp_upper=_root_upper(total, p), sup_good_upper=float_upper(sup), dp_power_sum=total,
        eps=s.eps, p=p, cells=K**dl, worst_cell=worst, cell_bounds=bounds,
        context_gap=gap, assumptions=assumptions, cell_errors=errors)


#: Configurations of the docs table: the claimed shapes, deep form, plus wide where it fits.
DOC_CONFIGS: tuple[tuple[int, int, float, float, int, str], ...] = (
    (1, 1, 1.0, 0.3, 2, "deep"), (1, 1, 1.0, 0.3, 2, "wide"), (1, 1, 2.0, 0.1, 2, "deep"),
    (1, 2, 1.0, 0.4, 2, "deep"), (1, 2, 1.0, 0.2, 2, "deep"), (2, 1, 1.0, 0.4, 2, "deep"),
    (2, 1, 0.5, 0.5, 2, "wide"), (2, 1, 1.0, 0.47, 2, "wide"), (1, 3, 1.0, 0.5, 4, "deep"),
    (1, 3, 1.0, 0.3, 4, "deep"), (2, 2, 1.0, 0.5, 4, "deep"), (2, 2, 1.0, 0.4, 4, "deep"),
    (2, 2, 8.0, 0.05, 1, "deep"), (1, 2, 1.0, 0.2, 2, "linear"), (1, 3, 1.0, 0.3, 4, "linear"),
    (2, 2, 1.0, 0.4, 4, "linear"), (2, 2, 4.0, 0.3, 2, "linear"),
)

#: The measured table's rows (docs/universality.md): the largest linear plans, each built and
#: certified for all four families in its own process (``python -m
#: core.constructions.certify --measure``); timings make this table nondeterministic.
MEASURED_CONFIGS: tuple[tuple[int, int, float, float, int, str], ...] = (
    (1, 3, 1.0, 0.3, 4, "deep"), (1, 3, 1.0, 0.3, 4, "linear"),
    (4, 1, 4.0, 0.6, 2, "linear"), (2, 2, 4.0, 0.6, 2, "linear"),
    (1, 3, 16.0, 0.9, 2, "linear"), (1, 4, 4.0, 0.6, 2, "linear"),
    (1, 2, 64.0, 0.6, 2, "linear"),
    (1, 3, 1.0, 0.1, 8, "linear"), (4, 1, 1.0, 0.1, 8, "linear"),
    (2, 2, 1.0, 0.1, 8, "linear"),
)


def docs_table(configs: tuple[tuple[int, int, float, float, int, str], ...] = DOC_CONFIGS,
               *, seed: int = 0) -> str:
    """Markdown table: sizes, precision and the worst certified ``d_p`` over the families.

    Every row is built, a prompt is made for one target of each family (seed ``seed``) and
    certified; refused rows show the refusal's required size and nearest fit.
    """
    head = ("| d | L | C | ε | p | form | K | M | slots N | L_p | FF_pre width | FF_post depth"
            " | FF_post width | bits | a-priori d_p bound | certified d_p (worst family) |"
            " certified sup off strips |")
    lines = [head, "|" + "---|" * 17]
    for d, L, C, eps, p, form in configs:
        try:
            ut = build_universal(d, L, C, eps, p, form=form)
        except ConstructionTooLarge as exc:
            lines.append(f"| {d} | {L} | {C} | {eps} | {p} | {form} | refused: required "
                         f"{exc.required}, nearest {exc.nearest} |" + " |" * 10)
            continue
        s = ut.sizes
        worst_dp, worst_sup = 0.0, 0.0
        for fam in FAMILIES:
            f = make_target(fam, d, L, C, seed, grid=s.K)
            cert = certify_universal(ut, build_prompt(ut, f), f)
            worst_dp, worst_sup = max(worst_dp, cert.dp_upper), max(worst_sup,
                                                                     cert.sup_good_upper)
        lines.append(
            f"| {d} | {L} | {C} | {eps} | {p} | {form} | {s.K} | {s.M} | {s.slots} | "
            f"{s.prompt_tokens} | {s.pre_width} | {s.post_depth} | {s.post_width} | "
            f"{s.precision_bits} | {s.dp_bound_formula:.4f} | {worst_dp:.4f} | "
            f"{worst_sup:.4f} |")
    return "\n".join(lines)


def measured_row(config: tuple[int, int, float, float, int, str], *, seed: int = 0) -> str:
    """One row of the measured table: sizes, build and certify wall time (all four
    families), the worst certified ``d_p``, the smallest rigorous lower bound of a family's
    best constant ``d_p`` (:func:`.baseline.best_constant_lower` on the demonstration grid;
    the row is non-vacuous when it exceeds ``ε``), and this process's peak resident memory."""
    import resource
    import time

    from .baseline import demonstration_baseline

    d, L, C, eps, p, form = config
    t0 = time.perf_counter()
    ut = build_universal(d, L, C, eps, p, form=form)
    build_s = time.perf_counter() - t0
    s = ut.sizes
    worst, cert_s, trivial = 0.0, 0.0, math.inf
    for fam in FAMILIES:
        f = make_target(fam, d, L, C, seed, grid=s.K)
        t0 = time.perf_counter()
        cert = certify_universal(ut, build_prompt(ut, f), f)
        cert_s += time.perf_counter() - t0
        if not cert.holds:
            raise ClaimViolation(f"{config}: {fam} not certified (d_p ≤ {cert.dp_upper})")
        worst = max(worst, cert.dp_upper)
        trivial = min(trivial, demonstration_baseline(f, p).dp_lower)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20      # KiB → GiB
    return (f"| {d} | {L} | {C} | {eps} | {p} | {form} | {s.K} | {s.M} | {s.slots} | "
            f"{s.units} | {s.precision_bits} | {worst:.4f} | {trivial:.4f} | "
            f"{'yes' if eps < trivial else 'no'} | {build_s:.1f} | {cert_s:.1f} | {peak:.2f} |")


MEASURED_HEAD = ("| d | L | C | ε | p | form | K | M | slots N | units | bits | certified d_p "
                 "(worst of 4) | best constant d_p ≥ (least of 4) | ε below it | build s | "
                 "certify s (4 families) | peak RSS GiB |\n" + "|" + "---|" * 17)


if __name__ == "__main__":       # python -m core.constructions.certify prints the docs table
    import subprocess
    import sys

    if sys.argv[1:2] == ["--measure"]:
        if len(sys.argv) == 8:           # one row, in this process: d L C eps p form
            a = sys.argv[2:]
            print(measured_row((int(a[0]), int(a[1]), float(a[2]), float(a[3]), int(a[4]),
                                a[5])))
        else:                            # every row, each in a fresh process (its own peak)
            print(MEASURED_HEAD)
            for cfg in MEASURED_CONFIGS:
                subprocess.run([sys.executable, "-m", "core.constructions.certify",
                                "--measure", *map(str, cfg)], check=True)
    else:
        print(docs_table())
