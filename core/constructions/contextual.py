"""Contextual mapping by one softmax head over a finite vocabulary (docs/theory.md §2, CM).

Our formalisation of the paper's any-rank extension of Kajitsuka–Sato (2024) (the paper
states it inside the proof of ``thm:PT_uni_multi_layer_FF2``): tokens come from a finite
vocabulary — prompt tokens from ``V_p``, input tokens from ``V_x`` — plus a fixed positional
encoding ``E`` (evenly spaced along one direction, spread 0.1); a context is a pair
(sequence ``σ ∈ V_p^{L_p} × V_x^L``, position ``k``).
One head ``y_k = z_k + W_O W_V Z softmax_col(β (W_K Z)ᵀ W_Q z_k)`` (``W_O W_V = I/4``)
with ``W_K, W_Q`` of any rank ``r`` maps distinct contexts to distinct outputs. The check
enumerates *every* context, evaluates each output in mpmath at two precisions and reports
the minimum pairwise separation ``γ`` (2-norm).

Scale: ``W_K = λ·A`` with ``A, W_Q`` fixed; scores grow linearly in ``λ``. Kajitsuka–Sato's
argument needs every query's top-score gap ``Δ(λ) = λ·Δ(1)`` to satisfy
``β Δ ≥ 2 ln n + 3``; we take ``λ`` at that threshold and report the norm
``B = max(‖W_Q Z‖_max, ‖W_K Z‖_max)`` it induces next to ``√(ln n)`` (docs/theory.md §3: the
efficient regime is ``B = o(√log n)``). ``A`` and ``W_Q`` are products of standard normal
``d×r`` and ``r×d`` matrices, drawn 16 times; the draw kept has the least ratio of the
largest per-query score range to the least top-score gap, so it needs the fewest digits at
its threshold ``λ``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import mpmath
import numpy as np

from ..errors import ClaimViolation
from ..validation import check_int

__all__ = ["MAX_DPS", "ContextualResult", "contextual_separation", "contextual_table",
           "vocabulary"]

#: Largest working precision (decimal digits) the enumeration may use.
MAX_DPS = 3000


def vocabulary(d: int, size: int, rng: np.random.Generator, *, min_gap: float = 0.25,
               min_norm: float = 0.5) -> np.ndarray:
    """``size`` tokens in ``[−1, 1]^d`` (columns): pairwise 2-distance ``≥ min_gap`` and
    norm ``≥ min_norm`` (Kajitsuka–Sato's token separation; a query near 0 scores every key
    alike, so no scale could separate its contexts)."""
    toks: list[np.ndarray] = []
    for _ in range(10_000):
        cand = rng.uniform(-1.0, 1.0, d)
        if np.linalg.norm(cand) < min_norm:
            continue
        if all(np.linalg.norm(cand - t) >= min_gap for t in toks):
            toks.append(cand)
            if len(toks) == size:
                return np.stack(toks, axis=1)
    raise ClaimViolation(f"could not draw {size} tokens in d={d} with gap {min_gap}")


@dataclass(frozen=True)
class ContextualResult:
    """What the enumeration found (all floats rounded from the higher precision).

    Attributes:
        contexts: number of (sequence, position) pairs enumerated.
        log10_gamma: ``log10`` of the minimum pairwise 2-distance ``γ`` of outputs (``γ``
            itself often underflows float64); rel_gap: ``|γ_low − γ_high| / γ_high``.
        lam: key scale ``λ``; score_gap: ``Δ(λ)``; B: ``max(‖Q‖_max, ‖K‖_max)`` over all
            sequences; sqrt_log_n: ``√(ln n)``; rank: rank of ``W_K`` and ``W_Q``.
        dps: the two precisions used, chosen from ``spread`` (the largest score range of a
            query): softmax weights reach ``e^{−spread}``, so the working precision is
            ``spread/ln 10 + 25`` digits.
    """

    contexts: int
    log10_gamma: float
    rel_gap: float
    lam: float
    score_gap: float
    B: float
    sqrt_log_n: float
    rank: int
    dps: tuple[int, int]
    spread: float


def _sequences(vp: np.ndarray, vx: np.ndarray, lp: int, L: int) -> list[np.ndarray]:
    out = []
    for pro in itertools.product(range(vp.shape[1]), repeat=lp):
        for inp in itertools.product(range(vx.shape[1]), repeat=L):
            cols = [vp[:, a] for a in pro] + [vx[:, b] for b in inp]
            out.append(np.stack(cols, axis=1))
    return out


def _min_top_gap(scores: np.ndarray) -> float:
    """Smallest (top − second) score gap over query columns of ``scores`` ``(n, m)``."""
    s = np.sort(scores, axis=0)
    return float(np.min(s[-1] - s[-2])) if scores.shape[0] > 1 else math.inf


def contextual_separation(d: int, L: int, Lp: int, vocab_x: int, vocab_p: int, rank: int,
                          seed: int, *, dps: tuple[int, int] = (30, 45)) -> ContextualResult:
    """Enumerate every context and measure the output separation (module docstring)."""
    d = check_int("d", d, minimum=1, maximum=4)
    L = check_int("L", L, minimum=1, maximum=4)
    Lp = check_int("Lp", Lp, minimum=0, maximum=3)
    vocab_x = check_int("vocab_x", vocab_x, minimum=1, maximum=4)
    vocab_p = check_int("vocab_p", vocab_p, minimum=1, maximum=3)
    rank = check_int("rank", rank, minimum=1, maximum=d)
    count = vocab_p**Lp * vocab_x**L * (Lp + L)
    if count > 2000:
        from ..errors import ConstructionTooLarge
        raise ConstructionTooLarge(
            f"{count} contexts (vocab_p^Lp · vocab_x^L · n): at most 2000 are enumerated "
            "pairwise in mpmath", required=count, limit=2000,
            nearest={"L": L - 1} if L > 1 else None)
    rng = np.random.default_rng(seed)
    vx, vp = vocabulary(d, vocab_x, rng), vocabulary(d, vocab_p, rng)
    n = Lp + L
    # positions: evenly spaced along a random unit direction, total spread 0.1, so the same
    # token at two positions differs by ≥ 0.1/(n−1) and distinct tokens by ≥ 0.15
    u = rng.normal(0.0, 1.0, d)
    u /= np.linalg.norm(u)
    E = 0.1 * np.outer(u, np.linspace(-0.5, 0.5, n) if n > 1 else np.zeros(1))
    seqs = [s + E for s in _sequences(vp, vx, Lp, L)]
    beta = 1.0
    best: tuple[float, np.ndarray, np.ndarray, float] | None = None
    for _ in range(16):       # keep the draw whose threshold λ gives the smallest spread
        A = rng.normal(0.0, 1.0, (d, rank)) @ rng.normal(0.0, 1.0, (rank, d))
        WQ = rng.normal(0.0, 1.0, (d, rank)) @ rng.normal(0.0, 1.0, (rank, d))
        gap1 = min(_min_top_gap(beta * (A @ Z).T @ (WQ @ Z)) for Z in seqs)
        if not gap1 > 0:
            continue
        spread1 = max(float(np.ptp(beta * (A @ Z).T @ (WQ @ Z), axis=0).max()) for Z in seqs)
        ratio = spread1 / gap1
        if best is None or ratio < best[0]:
            best = (ratio, A, WQ, gap1)
    if best is None:
        raise ClaimViolation("every draw had a query with tied top scores: the vocabulary "
                             "is not separated for these W_K, W_Q")
    _, A, WQ, gap1 = best
    lam = (2.0 * math.log(n) + 3.0) / gap1 if n > 1 else 1.0
    WK = lam * A
    B = max(max(float(np.max(np.abs(WK @ Z))), float(np.max(np.abs(WQ @ Z)))) for Z in seqs)

    spread = max(float(np.ptp(beta * (WK @ Z).T @ (WQ @ Z), axis=0).max()) for Z in seqs)
    low = max(dps[0], math.ceil(spread / math.log(10)) + 25)
    if low > MAX_DPS:
        from ..errors import ConstructionTooLarge
        raise ConstructionTooLarge(
            f"softmax weights down to e^-{spread:.0f} need {low} digits (limit {MAX_DPS})",
            required=low, limit=MAX_DPS, nearest={"L": L - 1} if L > 1 else None)
    nu = mpmath.mpf(1) / 4                               # W_O W_V = I/4
    precisions = (low, low + dps[1] - dps[0])

    def outputs(prec: int) -> list[list[mpmath.mpf]]:
        with mpmath.workdps(prec):
            wk = mpmath.matrix(WK.tolist())
            wq = mpmath.matrix(WQ.tolist())
            res = []
            for Z in seqs:
                z = mpmath.matrix(Z.tolist())
                K, Q = wk * z, wq * z
                for k in range(n):
                    sc = [beta * sum(K[r, i] * Q[r, k] for r in range(d)) for i in range(n)]
                    top = max(sc)
                    w = [mpmath.exp(x - top) for x in sc]
                    tot = mpmath.fsum(w)
                    res.append([z[r, k] + nu * mpmath.fsum(z[r, i] * w[i] for i in range(n))
                                / tot for r in range(d)])
            return res

    def gamma(prec: int) -> mpmath.mpf:
        ys = outputs(prec)
        with mpmath.workdps(prec):
            best = mpmath.inf
            for a in range(len(ys)):
                for b in range(a + 1, len(ys)):
                    dist = mpmath.sqrt(mpmath.fsum((ys[a][r] - ys[b][r]) ** 2
                                                   for r in range(d)))
                    best = min(best, dist)
            return best

    lo, hi = gamma(precisions[0]), gamma(precisions[1])
    with mpmath.workdps(precisions[1]):
        rel_gap = float(abs(hi - lo) / hi) if hi > 0 else math.inf
        log10_gamma = float(mpmath.log10(hi)) if hi > 0 else -math.inf
    return ContextualResult(
        contexts=count, log10_gamma=log10_gamma, rel_gap=rel_gap, lam=lam, score_gap=lam * gap1,
        B=B, sqrt_log_n=math.sqrt(math.log(n)) if n > 1 else 0.0, rank=rank,
        dps=precisions, spread=spread)


#: Rows of the docs table: ``(d, L, L_p, vocab_x, vocab_p, rank, seed)``.
DOC_ROWS: tuple[tuple[int, int, int, int, int, int, int], ...] = (
    (2, 1, 1, 3, 2, 1, 0), (2, 2, 1, 3, 2, 2, 1), (3, 2, 1, 3, 2, 1, 2), (2, 3, 1, 3, 2, 2, 3),
    (2, 2, 2, 3, 2, 2, 5))


def contextual_table(rows: tuple[tuple[int, int, int, int, int, int, int], ...] = DOC_ROWS,
                     ) -> str:
    """Markdown table of :func:`contextual_separation` results (γ, λ, B against √ln n)."""
    lines = ["| d | L | L_p | vocab x/p | rank | contexts | log10 γ | λ | B | √ln n | "
             "B/√ln n | dps |", "|" + "---|" * 12]
    for d, L, lp, vx, vp, rank, seed in rows:
        r = contextual_separation(d, L, lp, vx, vp, rank, seed)
        lines.append(
            f"| {d} | {L} | {lp} | {vx}/{vp} | {rank} | {r.contexts} | {r.log10_gamma:.1f} | "
            f"{r.lam:.3g} | {r.B:.3g} | {r.sqrt_log_n:.3f} | {r.B / r.sqrt_log_n:.3g} | "
            f"{r.dps[0]}/{r.dps[1]} |")
    return "\n".join(lines)
