"""Contextual mapping (claim CM): exhaustive softmax enumeration, bad inputs, refusals."""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import mpmath
import numpy as np
import pytest

from core.constructions.contextual import contextual_separation, vocabulary
from core.errors import ClaimViolation, ConstructionTooLarge, InvalidArgument
from properties import claims_universal
from properties.claims_universal import REFUSED_CM_POINT, measure_contextual
from properties.registry import get_claim
from properties.strategies_universal import ContextualInstance


def test_vocabulary_is_separated() -> None:
    V = vocabulary(2, 4, np.random.default_rng(0), min_gap=0.5)
    assert V.shape == (2, 4)
    gaps = [np.linalg.norm(V[:, a] - V[:, b]) for a in range(4) for b in range(a + 1, 4)]
    assert min(gaps) >= 0.5


def test_separation_is_positive_resolved_and_needs_large_norm() -> None:
    r = contextual_separation(2, 2, 1, 3, 2, 2, 1)
    assert r.contexts == 2 * 9 * 3
    assert math.isfinite(r.log10_gamma)
    assert r.rel_gap < 1e-6
    # the Kajitsuka–Sato threshold puts the keys far outside B = O(√log n)
    assert r.B > r.sqrt_log_n
    assert r.score_gap == pytest.approx(2 * math.log(3) + 3)


def test_single_context_has_nothing_to_separate_from() -> None:
    r = contextual_separation(1, 1, 0, 1, 1, 1, 0)
    assert r.contexts == 1
    assert r.log10_gamma == math.inf


def test_too_many_contexts_refused_before_enumerating() -> None:
    with pytest.raises(ConstructionTooLarge, match="contexts"):
        contextual_separation(2, 4, 3, 4, 3, 1, 0)


BAD = [({"d": 0}, "d=0"), ({"L": 5}, "L=5"), ({"Lp": 4}, "Lp=4"), ({"vocab_x": 0}, "vocab_x=0"),
       ({"vocab_p": 4}, "vocab_p=4"), ({"rank": 3}, "rank=3"), ({"d": 5}, "^d=5"),
       ({"L": 0}, "^L=0"), ({"vocab_x": 5}, "^vocab_x=5"), ({"vocab_p": 0}, "^vocab_p=0")]


@pytest.mark.parametrize(("change", "named"), BAD)
def test_bad_arguments_refused_by_name(change: dict, named: str) -> None:
    args = {"d": 2, "L": 1, "Lp": 1, "vocab_x": 2, "vocab_p": 1, "rank": 1, "seed": 0,
            **change}
    with pytest.raises(InvalidArgument, match=named):
        contextual_separation(args["d"], args["L"], args["Lp"], args["vocab_x"],
                              args["vocab_p"], args["rank"], args["seed"])


def test_docs_table_rows_are_the_separation_results() -> None:
    """``contextual_table`` (which generates the table in docs/universality.md) prints, per
    row, exactly the fields of :func:`contextual_separation` for the same arguments."""
    from core.constructions.contextual import contextual_table

    rows = contextual_table(((2, 1, 1, 3, 2, 1, 0),)).splitlines()
    assert len(rows) == 3 and all(line.startswith("|") and line.endswith("|") for line in rows)
    header, rule, row = ([c.strip() for c in line.split("|")[1:-1]] for line in rows)
    assert header == ["d", "L", "L_p", "vocab x/p", "rank", "contexts", "log10 γ", "λ", "B",
                      "√ln n", "B/√ln n", "dps"]
    assert rule == ["---"] * 12
    r = contextual_separation(2, 1, 1, 3, 2, 1, 0)
    assert row == ["2", "1", "1", "3/2", "1", str(r.contexts), f"{r.log10_gamma:.1f}",
                   f"{r.lam:.3g}", f"{r.B:.3g}", f"{r.sqrt_log_n:.3f}",
                   f"{r.B / r.sqrt_log_n:.3g}", f"{r.dps[0]}/{r.dps[1]}"]


class _ScriptedDraws:
    """Stands in for ``np.random.default_rng``: a vector draw is all 1/2 (so ``u`` is
    ``(1,…,1)/√d``); matrix draws come from ``matrices`` in order, then zeros (a zero ``A``
    ties every score, so such a draw is skipped)."""

    matrices: ClassVar[list[np.ndarray]] = []

    def __init__(self, seed: object = None) -> None:
        self.queue = list(self.matrices)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size=None):
        if not isinstance(size, tuple):
            return loc + scale * (0.5 if size is None else np.full(size, 0.5))
        return self.queue.pop(0) if self.queue else np.zeros(size)


# (A, W_Q) pairs found by search: draw 2 has the smaller ratio (largest per-query score range)
# / (least top gap), 9.13 against 14.15; by the range over a whole score matrix, over keys,
# or of reciprocal scores, draw 1 would look better. Draw 3 (ratio 4.54) beats both.
_DRAW_1 = (np.array([[-2.7, 0.3], [0.9, -1.7]]), np.array([[0.6, 1.0], [-0.4, 0.3]]))
_DRAW_2 = (np.array([[-0.6, -1.2], [-0.5, -0.7]]), np.array([[0.9, -0.6], [0.7, 0.9]]))
_DRAW_3 = (np.array([[0.4, 0.4], [-0.9, -0.3]]), np.array([[-0.2, 0.8], [0.3, 0.6]]))


@pytest.mark.parametrize(("draws", "kept"), [
    ([_DRAW_1, _DRAW_2], _DRAW_2),
    ([_DRAW_2, _DRAW_1], _DRAW_2),
    ([_DRAW_1, _DRAW_2] + [None] * 14 + [_DRAW_3], _DRAW_2),    # a 17th draw is never made
])
def test_the_kept_draw_has_the_least_score_range_per_top_gap(monkeypatch, draws,
                                                               kept) -> None:
    """Of the 16 draws of ``(A, W_Q)`` the one with the least (largest per-query score range)
    / (least top-score gap) is kept, and λ, ``B``, the spread and γ are those of that draw."""
    import core.constructions.contextual as cm

    xs, ps = [(0.6, -0.3), (-0.7, 0.5), (0.9, 0.8)], [(0.2, 0.9)]
    eye, zero = np.eye(2), np.zeros((2, 2))
    script = []
    for pair in draws:           # A = N1 @ N2 and W_Q = N3 @ N4, with N2 = N4 = I
        a, w = pair if pair is not None else (zero, zero)
        script += [a, eye, w, eye]
    monkeypatch.setattr(_ScriptedDraws, "matrices", script)
    monkeypatch.setattr(cm, "vocabulary", lambda d, size, rng, **kw: np.array(
        {3: xs, 1: ps}[size], dtype=float).reshape(size, d).T)
    monkeypatch.setattr(np.random, "default_rng", _ScriptedDraws)
    r = contextual_separation(2, 1, 1, 3, 1, 2, 0)
    want = _reference(2, 2, xs, ps, 1, 1, A=kept[0], W=kept[1])
    assert r.lam == pytest.approx(want["lam"], rel=1e-12)
    assert r.B == pytest.approx(want["B"], rel=1e-12)
    assert r.spread == pytest.approx(want["spread"], rel=1e-12)
    assert r.log10_gamma == pytest.approx(want["log10_gamma"], rel=1e-9)


# --- the pieces: score gaps and the vocabulary --------------------------------------------------


def test_min_top_gap_is_per_query_column() -> None:
    """Top minus second score in each query column (keys along axis 0), least over columns;
    a single key has no competitor (``inf``)."""
    from core.constructions.contextual import _min_top_gap

    scores = np.array([[3.0, 0.0], [2.9, 5.0], [0.0, 1.0]])    # columns: gaps 0.1 and 4
    assert _min_top_gap(scores) == pytest.approx(0.1)
    assert _min_top_gap(np.array([[1.0, 4.0], [3.0, 0.5]])) == pytest.approx(2.0)
    assert _min_top_gap(np.array([[1.0, 2.0, 3.0]])) == math.inf


@pytest.mark.parametrize("seed", range(4))
def test_vocabulary_meets_its_documented_defaults(seed: int) -> None:
    """Tokens lie in ``[−1, 1]^d`` with norm ≥ 0.5 and pairwise gap ≥ 0.25 by default; in
    ``d = 1`` four such tokens fit (two per half-line), so the defaults must allow it."""
    for d, size in [(1, 4), (2, 8), (3, 6)]:
        V = vocabulary(d, size, np.random.default_rng(seed))
        assert V.shape == (d, size)
        assert np.all(np.abs(V) <= 1.0)
        assert np.all(np.linalg.norm(V, axis=0) >= 0.5)
        gaps = [np.linalg.norm(V[:, a] - V[:, b]) for a in range(size)
                for b in range(a + 1, size)]
        assert min(gaps) >= 0.25


# --- the whole map on weights we choose: γ, λ, B, spread and precision by hand ---------------


class _KnownDraws:
    """Stands in for ``np.random.default_rng``: every standard-normal draw is 1/2, except the
    first matrix-shaped one, which is 0 (so the first ``A, W_Q`` draw is degenerate)."""

    def __init__(self, seed: object = None) -> None:
        self.first_matrix = True

    def normal(self, loc: float = 0.0, scale: float = 1.0, size=None):
        z = 0.5
        if isinstance(size, tuple) and self.first_matrix:
            self.first_matrix, z = False, 0.0
        return loc + scale * (z if size is None else np.full(size, z))


def _with_known_weights(monkeypatch, tokens: dict[int, list]) -> None:
    """The vocabulary of each size is ``tokens[size]`` (one token per entry) and the draws
    are :class:`_KnownDraws`: ``u = (1,…,1)/√d`` and ``A = W_Q = (r/4)·J`` (all-ones ``J``)."""
    import core.constructions.contextual as cm

    monkeypatch.setattr(cm, "vocabulary", lambda d, size, rng, **kw: np.array(
        tokens[size], dtype=float).reshape(size, d).T)
    monkeypatch.setattr(np.random, "default_rng", _KnownDraws)


def _reference(d: int, rank: int, xs: list, ps: list, L: int, Lp: int,
               A: np.ndarray | None = None, W: np.ndarray | None = None) -> dict:
    """The documented map on those weights: positions ``0.1·u·(j/(n−1) − 1/2)``, scores
    ``λ (A z_i)·(W_Q z_k)`` with ``λ`` at the threshold ``2 ln n + 3``, outputs
    ``z_k + (1/4) Σ_i z_i softmax_i`` in mpmath, 60 digits beyond ``e^{−spread}``.
    ``A = W_Q = (r/4)·J`` unless given."""
    n = L + Lp
    u = np.ones(d) / math.sqrt(d)
    pos = [0.1 * u * (j / (n - 1) - 0.5) if n > 1 else np.zeros(d) for j in range(n)]
    if A is None or W is None:
        A = W = np.full((d, d), rank / 4)
    seqs = [[np.array(t, dtype=float).reshape(d) + e for t, e in zip(p + x, pos, strict=True)]
            for p in itertools.product(ps, repeat=Lp) for x in itertools.product(xs, repeat=L)]

    def scores(z, k, lam=1.0):
        return [float((lam * A @ z[i]) @ (W @ z[k])) for i in range(n)]

    def gap(z, k):
        s = sorted(scores(z, k))
        return s[-1] - s[-2] if n > 1 else math.inf

    lam = (2 * math.log(n) + 3) / min(gap(z, k) for z in seqs for k in range(n)) \
        if n > 1 else 1.0
    spread = max(max(scores(z, k, lam)) - min(scores(z, k, lam))
                 for z in seqs for k in range(n))
    with mpmath.workdps(math.ceil(spread / math.log(10)) + 60):
        ys = []
        for z in seqs:
            zm = [mpmath.matrix(list(v)) for v in z]
            for k in range(n):
                w = [mpmath.exp(mpmath.mpf(lam) * sum(
                    (A @ z[i])[r] * mpmath.mpf((W @ z[k])[r]) for r in range(d)))
                    for i in range(n)]
                ys.append(zm[k] + sum((zm[i] * w[i] for i in range(1, n)), zm[0] * w[0])
                          / (4 * sum(w)))
        gamma = min(mpmath.norm(a - b) for a, b in itertools.combinations(ys, 2)) \
            if len(ys) > 1 else mpmath.inf
        log10_gamma = float(mpmath.log10(gamma))
    low = max(30, math.ceil(spread / math.log(10)) + 25)
    B = max(max(np.max(np.abs(lam * A @ v)), np.max(np.abs(W @ v))) for z in seqs for v in z)
    return {"contexts": len(seqs) * n, "lam": lam, "log10_gamma": log10_gamma, "B": B,
            "spread": spread, "dps": (low, low + 15), "sqrt_log_n": math.sqrt(math.log(n))}


KNOWN = [  # (d, rank, input tokens, prompt tokens, L, Lp)
    (1, 1, [0.6, -0.9], [0.8], 1, 0), (1, 1, [0.6, -0.9], [0.8], 1, 1),
    (1, 1, [0.6, -0.9], [0.8, -0.55, 0.95], 2, 1),
    (2, 1, [(0.6, -0.3), (-0.7, 0.5)], [(0.2, 0.9)], 1, 1),
    (2, 2, [(0.6, -0.3), (-0.7, 0.5), (0.9, 0.8)], [(0.2, 0.9)], 1, 1)]


@pytest.mark.parametrize(("d", "rank", "xs", "ps", "L", "Lp"), KNOWN)
def test_separation_on_known_weights_matches_a_hand_computation(monkeypatch, d, rank, xs, ps,
                                                                L, Lp) -> None:
    """With the vocabulary and every draw fixed (a degenerate first draw is skipped), each
    reported field equals its definition computed independently: the threshold λ, the norm
    ``B``, the largest score range, the precisions it implies and the separation ``γ``."""
    _with_known_weights(monkeypatch, {len(xs): xs, len(ps): ps})
    r = contextual_separation(d, L, Lp, len(xs), len(ps), rank, 0)
    want = _reference(d, rank, xs, ps, L, Lp)
    assert r.contexts == want["contexts"] and r.rank == rank
    assert r.lam == pytest.approx(want["lam"], rel=1e-12)
    assert r.B == pytest.approx(want["B"], rel=1e-12)
    assert r.spread == pytest.approx(want["spread"], rel=1e-12, abs=1e-12)
    assert r.dps == want["dps"]
    assert r.sqrt_log_n == want["sqrt_log_n"]
    assert r.log10_gamma == pytest.approx(want["log10_gamma"], rel=1e-12)
    n = L + Lp
    if n > 1:
        assert r.score_gap == pytest.approx(2 * math.log(n) + 3, rel=1e-12)
        assert 0 < r.rel_gap < 1e-20          # two different precisions, both resolved
    else:
        assert r.score_gap == math.inf        # one key: no competitor at any scale


def test_precision_pair_follows_the_requested_dps(monkeypatch) -> None:
    """``dps=(a, b)``: the low precision is ``max(a, ⌈spread/ln 10⌉ + 25)``, the high one
    ``b − a`` digits above it."""
    _with_known_weights(monkeypatch, {2: [0.6, -0.9], 1: [0.8]})
    for dps in [(30, 45), (50, 57), (5, 6)]:
        r = contextual_separation(1, 1, 1, 2, 1, 1, 0, dps=dps)
        low = max(dps[0], math.ceil(r.spread / math.log(10)) + 25)
        assert r.dps == (low, low + dps[1] - dps[0])


def test_tied_top_scores_in_every_draw_are_refused(monkeypatch) -> None:
    """A token at the position offset's negative makes a query ``z_k = 0``: every key scores
    alike in every draw, so no scale separates; refused with ClaimViolation."""
    _with_known_weights(monkeypatch, {1: [0.05], 2: [0.6, -0.9]})
    with pytest.raises(ClaimViolation, match="tied top scores"):
        contextual_separation(1, 1, 1, 2, 1, 1, 0)


def test_coinciding_contexts_are_reported_as_gamma_zero(monkeypatch) -> None:
    """A repeated token (separation violated) makes two contexts coincide: ``γ = 0`` is
    reported as ``log10 γ = −inf`` (and an infinite relative gap), not as a crash."""
    _with_known_weights(monkeypatch, {2: [0.6, 0.6], 1: [0.8]})
    r = contextual_separation(1, 1, 0, 2, 1, 1, 0)
    assert r.contexts == 2
    assert r.log10_gamma == -math.inf and r.rel_gap == math.inf


def test_max_dps_is_the_largest_precision_used(monkeypatch) -> None:
    """A map whose softmax weights need exactly ``MAX_DPS`` digits is enumerated; one digit
    more is refused before enumerating (a query ``z ≈ 0.0012`` next to ``z ≈ 0.85`` makes
    the largest score range ~1560 times the threshold gap)."""
    from core.constructions.contextual import MAX_DPS

    _with_known_weights(monkeypatch, {2: [-0.9, -0.0488367], 1: [0.8]})
    r = contextual_separation(1, 1, 1, 2, 1, 1, 0)
    assert r.dps[0] == MAX_DPS == math.ceil(r.spread / math.log(10)) + 25
    assert math.isfinite(r.log10_gamma)
    _with_known_weights(monkeypatch, {2: [-0.9, -0.0488372], 1: [0.8]})
    with pytest.raises(ConstructionTooLarge, match=f"limit {MAX_DPS}") as info:
        contextual_separation(1, 1, 1, 2, 1, 1, 0)
    assert info.value.required == MAX_DPS + 1


def test_relative_gap_is_relative_to_gamma(monkeypatch) -> None:
    """Tokens of size 10⁶ give a well-conditioned ``γ ≈ 144``: the two precisions then agree
    to about ``dps[0]`` significant digits of ``γ`` (``|γ_low − γ_high| / γ_high``)."""
    _with_known_weights(monkeypatch, {2: [0.6e6, -0.9e6], 1: [0.8e6]})
    r = contextual_separation(1, 1, 1, 2, 1, 1, 0)
    assert 2 < r.log10_gamma < 3
    assert 0 < r.rel_gap < 10.0 ** (4 - r.dps[0])


# --- the claim reports a refusal as a refusal ----------------------------------------------


def test_the_refused_dev_draw_is_pinned_and_reported_as_a_refusal() -> None:
    claim = get_claim("contextual_mapping_separates_all_contexts")
    assert REFUSED_CM_POINT in claim.reference_points()
    with pytest.raises(ConstructionTooLarge, match="need 25607 digits") as info:
        contextual_separation(1, 1, 1, 3, 2, 1, 0)
    assert info.value.required == 25607 and info.value.limit == 3000
    out = claim.measure(REFUSED_CM_POINT)
    assert out.holds
    assert out.detail["refused"] is True
    assert out.detail["required"] == 25607 and out.detail["limit"] == 3000


def test_an_accepted_instance_is_not_marked_refused() -> None:
    out = measure_contextual(ContextualInstance(seed=0, d=2, L=1, Lp=1, vocab_x=3, vocab_p=2,
                                                rank=1))
    assert out.holds and out.detail["refused"] is False


def test_a_refusal_that_names_no_excess_size_is_a_failure(monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ConstructionTooLarge("too large", required=10, limit=3000)

    monkeypatch.setattr(claims_universal, "contextual_separation", refuse)
    out = measure_contextual(ContextualInstance(seed=0, d=2, L=1, Lp=1, vocab_x=3,
                                                   vocab_p=2, rank=1))
    assert not out.holds and out.detail["refused"] is True
