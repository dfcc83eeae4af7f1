"""Route A (softmax contextual map): construction, certificate and its planted bugs."""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import numpy as np
import pytest

from core.constructions import balls, route_a
from core.constructions import certify as certify_module
from core.constructions._pl import (
    Region,
    float64_words,
    layer_from_channel_regions,
    profiles_of_layer,
)
from core.constructions.certify import certify_universal
from core.constructions.route_a import (
    build_prompt_a,
    build_route_a,
    context_constants,
    plan_route_a,
)
from core.constructions.universal import build_prompt, build_universal
from core.errors import ClaimViolation, InvalidArgument
from core.lipschitz import FAMILIES, make_target
from core.weights import TransformerWeights

SIZES = [(1, 1, 1.0, 0.3, 2), (1, 2, 1.0, 0.4, 2), (2, 1, 1.0, 0.4, 2), (1, 3, 1.0, 0.5, 4),
         (2, 2, 1.0, 0.5, 4)]


@functools.lru_cache(maxsize=8)
def _tau(d: int, L: int, C: float, eps: float, p: int):
    return build_route_a(d, L, C, eps, p)


def _target(ut, fam="sawtooth", seed=0):
    s = ut.sizes
    return make_target(fam, s.d, s.L, s.C, seed, grid=s.K)


@pytest.mark.parametrize("cfg", SIZES)
def test_route_a_certified_like_route_b_on_every_family(cfg):
    ua, ub = _tau(*cfg), build_universal(*cfg)
    assert np.any(ua.weights.w_k) and np.any(ua.weights.w_q)      # a real softmax head
    for fam in FAMILIES:
        f = _target(ua, fam)
        ca = certify_universal(ua, build_prompt_a(ua, f), f)
        cb = certify_universal(ub, build_prompt(ub, f), f)
        assert ca.holds and ca.context_gap > 0
        assert ca.dp_power_sum == cb.dp_power_sum      # the same levels, exactly


def test_attention_is_far_from_uniform():
    ut = _tau(2, 2, 1.0, 0.5, 4)
    # weights of one query differ by e^{t(Λ − 1)} between the prompt and the smallest code
    t_max = float(ut.plan.lam) * ut.plan.e_max
    assert t_max * (ut.plan.anchor - 1) > 10
    assert ut.plan.B / np.sqrt(np.log(ut.plan.n)) > 1


def test_tau_never_depends_on_the_target():
    a, b = build_route_a(1, 2, 1.0, 0.4, 2), build_route_a(1, 2, 1.0, 0.4, 2)
    assert a.digest() == b.digest()
    pa = build_prompt_a(a, _target(a, "mcshane", 1))
    pb = build_prompt_a(a, _target(a, "sinusoid", 2))
    assert pa.entries != pb.entries


def test_planted_lambda_below_the_separation_is_refused():
    # at (1, 3) uniform weights merge contexts (codes 3 + 6 = 4 + 5): γ falls like λ
    with pytest.raises(InvalidArgument, match="separation needed"):
        plan_route_a(1, 3, 1.0, 0.5, 4, k=20)


def test_planted_lambda_written_too_small_fails_the_certificate():
    ut = _tau(1, 3, 1.0, 0.5, 4)
    w = ut.weights
    bad = TransformerWeights(w.w_q / 2, w.w_k, w.w_v, w.w_o, beta=w.beta, ff_pre=w.ff_pre,
                             ff_post=w.ff_post, pos=w.pos)       # λ/2: FF_post undoes λ
    f = _target(ut)
    cert = certify_universal(type(ut)(plan=ut.plan, weights=bad, contexts=ut.contexts),
                             build_prompt_a(ut, f), f)
    assert not cert.holds


def test_planted_two_contexts_same_value_is_named(monkeypatch):
    ut = _tau(1, 2, 1.0, 0.4, 2)
    f = _target(ut)
    first: dict = {}

    def merged(weights, X, P, *, prec):
        out = balls.attention_enclosure(weights, X, P, prec=prec)
        first.setdefault("cell0", out)
        return first["cell0"] if X[0][0] > Fraction(1, 2) else out   # cells (1, ·) ≡ (0, ·)

    monkeypatch.setattr(certify_module, "attention_enclosure", merged)
    with pytest.raises(ClaimViolation, match="does not separate"):
        certify_universal(ut, build_prompt_a(ut, f), f)


def test_planted_prompt_share_ignored_fails_the_certificate(monkeypatch):
    def without_prompt(d, L, K, k, lp, *, prec):
        return context_constants(d, L, K, k, 0, prec=prec)    # the prompt's share left out

    monkeypatch.setattr(route_a, "context_constants", without_prompt)
    bad = build_route_a(2, 1, 1.0, 0.4, 2)
    f = _target(bad, "relu_mlp")
    assert not certify_universal(bad, build_prompt_a(bad, f), f).holds


def _float64_attention(weights, X, P, *, prec):
    """The softmax in float64 instead of balls (a planted bug)."""
    cols = balls._columns(weights, X, P)
    Z = np.array([[float(v) for v in col] for col in cols]).T
    q = weights.w_q @ Z
    k = weights.w_k @ Z
    lp = len(P[0])
    out = []
    for i in range(lp, Z.shape[1]):
        s = weights.beta * (k.T @ q[:, i])
        a = np.exp(s - s.max())
        a /= a.sum()
        y = Z[:, i] + weights.w_o @ (weights.w_v @ (Z @ a))
        out.append([(Fraction(float(v)), Fraction(float(v))) for v in y])
    return out


def test_planted_float64_softmax_fails_the_certificate(monkeypatch):
    ut = _tau(2, 2, 1.0, 0.5, 4)
    f = _target(ut, "mcshane")
    prompt = build_prompt_a(ut, f)
    assert certify_universal(ut, prompt, f).holds
    monkeypatch.setattr(certify_module, "attention_enclosure", _float64_attention)
    assert not certify_universal(ut, prompt, f).holds


def test_float64_words_sum_exactly():
    x = Fraction(3, 2**200) + Fraction(2**90 + 1, 2**7)
    words = float64_words("x", x)
    assert len(words) > 1 and sum((Fraction(w) for w in words), Fraction(0)) == x
    with pytest.raises(InvalidArgument, match="not dyadic"):
        float64_words("x", Fraction(1, 3))


def test_expanded_layer_reads_back_its_regions_exactly():
    slope = Fraction(2**80 + 3, 2**20)
    regs = [Region(Fraction(0), Fraction(0), Fraction(0), Fraction(0)),
            Region(Fraction(2), Fraction(3), slope, Fraction(2**70 + 1, 2**60))]
    layer = layer_from_channel_regions([regs], left_slope=Fraction(0),
                                       right_slope=Fraction(0), expand=True)
    g = profiles_of_layer(layer)[0]
    for y in (Fraction(2), Fraction(5, 2), Fraction(3)):
        assert g(y) == regs[1].value_at_lo + slope * (y - 2)
    lo, hi = g.image(Fraction(2), Fraction(3))
    assert (lo, hi) == (g(Fraction(2)), g(Fraction(3)))


def test_every_context_lands_on_its_own_segment():
    ut = _tau(1, 3, 1.0, 0.5, 4)
    assert len(set(ut.contexts.keys)) == ut.plan.contexts
    assert all(a < b for a, b in itertools.pairwise(ut.contexts.g))
    assert all(h > 0 for h in ut.contexts.h)


@pytest.mark.parametrize("cfg", SIZES)
def test_planned_sizes_bound_the_built_ones(cfg):
    ut = _tau(*cfg)
    w, pl = ut.weights, ut.plan
    assert sum(layer.hidden for layer in (*w.ff_pre, *w.ff_post)) <= pl.units
    assert max(layer.hidden for layer in w.ff_post) <= pl.post_width
    assert len(w.ff_post) == pl.post_depth


@pytest.mark.slow
@pytest.mark.parametrize("cfg", [(1, 2, 1.0, 0.2, 2), (1, 3, 1.0, 0.3, 4), (2, 2, 1.0, 0.4, 4),
                                 (1, 1, 2.0, 0.1, 2)])
def test_route_a_larger_shapes_certified_like_route_b(cfg):
    ua, ub = build_route_a(*cfg), build_universal(*cfg)
    for fam in FAMILIES:
        f = _target(ua, fam)
        ca = certify_universal(ua, build_prompt_a(ua, f), f)
        assert ca.holds
        assert ca.dp_power_sum == certify_universal(ub, build_prompt(ub, f), f).dp_power_sum


def test_too_large_route_a_is_refused_before_building():
    import time

    from core.errors import ConstructionTooLarge

    for cfg, what in (((2, 2, 2.0, 0.2, 4), "slots="),          # route B's grid refused
                      ((1, 3, 1.0, 0.2, 4), "FF_post slope 2")):  # route A's own limit
        t0 = time.perf_counter()
        with pytest.raises(ConstructionTooLarge, match=what):
            plan_route_a(*cfg)
        assert time.perf_counter() - t0 < 1.0


def test_docs_table_is_the_generated_one():
    from pathlib import Path

    from core.constructions.route_a import route_a_table

    docs = (Path(__file__).parents[1] / "docs" / "universality.md").read_text()
    assert route_a_table() in docs
