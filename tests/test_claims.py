"""Generic templates over the registry: every claim is exercised without a per-claim file.

Two tests per claim: its deterministic reference points, and Hypothesis draws from its
strategy (budget: the active profile's ``max_examples`` times the claim's ``draws``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, target

from properties.claim import Claim
from properties.registry import all_claims

CLAIMS = all_claims()
IDS = [c.id for c in CLAIMS]


def _skip_if_conditional(claim: Claim) -> None:
    if claim.conditional:
        pytest.skip(f"conditional claim: {claim.conditional}")


@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
def test_claim_holds_on_reference_points(claim: Claim) -> None:
    _skip_if_conditional(claim)
    points = list(claim.reference_points())
    assert points, f"claim {claim.id} has no reference points"
    for instance in points:
        claim.check(instance)


@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
def test_claim_holds_on_hypothesis_draws(claim: Claim) -> None:
    _skip_if_conditional(claim)
    budget = max(1, round(settings.default.max_examples * claim.draws))

    @settings(max_examples=budget)
    @given(claim.strategy())
    def check(instance: object) -> None:
        outcome = claim.check(instance)
        # Steers the nightly profile's targeted phase towards the worst error/bound.
        target(min(outcome.ratio, 1e300), label=f"{claim.id} error/bound")

    check()
