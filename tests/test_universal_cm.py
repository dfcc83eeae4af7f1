"""Contextual mapping (claim CM): exhaustive softmax enumeration, bad inputs, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.constructions.contextual import contextual_separation, vocabulary
from core.errors import ConstructionTooLarge, InvalidArgument


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
       ({"vocab_p": 4}, "vocab_p=4"), ({"rank": 3}, "rank=3")]


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
    header, rule, row = ([c.strip() for c in line.split("|")[1:-1]] for line in rows)
    assert header == ["d", "L", "L_p", "vocab x/p", "rank", "contexts", "log10 γ", "λ", "B",
                      "√ln n", "B/√ln n", "dps"]
    assert rule == ["---"] * 12
    r = contextual_separation(2, 1, 1, 3, 2, 1, 0)
    assert row == ["2", "1", "1", "3/2", "1", str(r.contexts), f"{r.log10_gamma:.1f}",
                   f"{r.lam:.3g}", f"{r.B:.3g}", f"{r.sqrt_log_n:.3f}",
                   f"{r.B / r.sqrt_log_n:.3g}", f"{r.dps[0]}/{r.dps[1]}"]
