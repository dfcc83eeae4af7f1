"""The generators and helpers the claims rely on do what they promise, at their edges.

A generator that stops short of the corner it names, or a helper off by half a cell, would
let a claim pass without testing what it says; each promise here is checked against its
definition (exact where the definition is exact)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from core.constructions import cell_centre, cell_index, plan_universal
from properties.strategies import (
    AttentionInstance,
    SoftmaxInstance,
    bounded_qkv,
    build_attention_inputs,
    build_softmax_logits,
)
from properties.strategies_kernel import KernelInstance, build_kernel_inputs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("B", [0.0, 0.25, 1.0, 3.0])
def test_sign_patterns_put_every_entry_exactly_at_plus_or_minus_b(seed: int, B: float) -> None:
    Q, K, V = bounded_qkv(np.random.default_rng(seed), s=4, m=5, n=7, d_v=3, B=B,
                          pattern="signs")
    assert np.all(np.abs(Q) == B) and np.all(np.abs(K) == B)
    assert (Q.shape, K.shape, V.shape) == ((4, 5), (4, 7), (3, 7))
    if B > 0:                                    # both signs occur over the draws
        assert {1.0, -1.0} <= set(np.sign(np.concatenate([Q.ravel(), K.ravel()])))
    assert np.all(np.abs(V) <= 1.0)


@pytest.mark.parametrize("seed", range(6))
def test_uniform_inputs_keep_the_norm_promise(seed: int) -> None:
    inst = AttentionInstance(seed=seed, s=3, d_v=2, n=40, m=30, B=1.5, beta=0.5)
    Q, K, V = build_attention_inputs(inst)
    assert max(np.abs(Q).max(), np.abs(K).max()) <= 1.5 and np.abs(V).max() <= 1.0
    assert max(np.abs(Q).max(), np.abs(K).max()) > 0.9 * 1.5      # spread over the range


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("s", "B", "beta"), [(1, 1.0, 1.0), (3, 0.7, 0.5), (4, 0.5, 0.9)])
def test_spike_inputs_reach_the_weight_ratio_they_state(seed: int, s: int, B: float,
                                                         beta: float) -> None:
    """The spike: key 0 along every query's sign pattern, every other key opposite, so key
    0's softmax weight exceeds every other's by at least ``e^{2·0.99·β·s·B²}`` (queries sit
    within 1% of ``±B``) while ``‖Q‖_max, ‖K‖_max <= B``; ``V`` is ``+1`` on key 0 and
    ``−1`` elsewhere."""
    inst = KernelInstance(seed=seed, s=s, d_v=2, n=6, m=5, B=B, beta=beta, eps=1e-6,
                          pattern="spike")
    Q, K, V = build_kernel_inputs(inst)
    assert max(np.abs(Q).max(), np.abs(K).max()) <= B
    scores = beta * K.T @ Q                                  # (n, m)
    log_ratio = scores[0] - scores[1:].max(axis=0)
    assert np.all(log_ratio >= 2 * 0.99 * beta * s * B * B * (1 - 1e-12))
    assert np.all(V[:, 0] == 1.0) and np.all(V[:, 1:] == -1.0)


@pytest.mark.parametrize(("n", "m", "magnitude"), [(1, 1, 5.0), (2, 3, 800.0), (9, 4, 1e4)])
def test_extreme_logits_touch_plus_and_minus_their_magnitude(n: int, m: int,
                                                             magnitude: float) -> None:
    logits = build_softmax_logits(SoftmaxInstance(seed=1, n=n, m=m, magnitude=magnitude))
    assert np.all(logits[0] == magnitude) and np.abs(logits).max() == magnitude
    if n > 1:
        assert np.all(logits[-1] == -magnitude)


def _exact_cell(K: int, x: float) -> int:
    """The definition: ``min(⌊K·x⌋, K−1)`` in exact rationals."""
    return min(math.floor(Fraction(K) * Fraction(x)), K - 1)


@pytest.mark.parametrize(("d", "L", "C", "eps"), [(1, 1, 1.0, 0.3), (1, 2, 1.0, 0.3),
                                                  (1, 1, 4.0, 0.2), (2, 1, 1.0, 0.45)])
def test_cell_lookup_matches_its_definition_on_and_around_every_boundary(
        d: int, L: int, C: float, eps: float) -> None:
    """For every boundary ``b/K`` (0 and 1 included), the point itself and its float64
    neighbours on both sides land in the cell the exact definition gives; cell centres map
    back to their own cell."""
    sizes = plan_universal(d, L, C, eps, 2)
    K = sizes.K
    points = sorted({y for b in range(K + 1) for y in (
        math.nextafter(b / K, -math.inf), b / K, math.nextafter(b / K, math.inf))
        if 0.0 <= y <= 1.0})
    for x in points:
        X = np.full((d, L), x)
        assert cell_index(sizes, X) == (_exact_cell(K, x),) * (d * L), x
    for q in range(K):
        cell = (q,) * (d * L)
        assert cell_index(sizes, cell_centre(sizes, cell)) == cell
    mixed = np.array([[points[1 + i % (len(points) - 2)] for i in range(L)]] * d)
    assert cell_index(sizes, mixed) == tuple(_exact_cell(K, mixed[i, j])
                                             for j in range(L) for i in range(d))
