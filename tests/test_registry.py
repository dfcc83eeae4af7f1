"""The registry and the Claim record validate themselves."""

from __future__ import annotations

import dataclasses

import pytest

from core.errors import ClaimViolation, InvalidArgument
from properties.claim import EVIDENCE_LEVELS, THEORY_REFS, Claim, KnownFailure, Outcome
from properties.registry import all_claims, get_claim, select_claims
from properties.strategies import ModelInstance, model_instances


def _claim(**overrides: object) -> Claim:
    fields: dict[str, object] = dict(
        id="toy_claim", theory_ref="MODEL", paper_ref="§1", statement="A toy holds.",
        evidence="sampled", instance_type=ModelInstance, strategy=model_instances,
        reference_points=lambda: [], measure=lambda inst: Outcome(0.0, 1.0),
        bound_source="a formula")
    fields.update(overrides)
    return Claim(**fields)  # type: ignore[arg-type]


def test_ids_are_unique_and_fields_valid() -> None:
    claims = all_claims()
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids))
    for c in claims:
        assert c.theory_ref in THEORY_REFS
        assert c.evidence in EVIDENCE_LEVELS


@pytest.mark.parametrize("override, fragment", [
    ({"id": "Not-Snake"}, "snake_case"),
    ({"theory_ref": "Z9"}, "theory_ref"),
    ({"evidence": "proven"}, "evidence"),
    ({"paper_ref": "  "}, "paper_ref"),
    ({"statement": "no period"}, "one sentence"),
    ({"statement": "Two sentences. Here."}, "one sentence"),
    ({"bound_source": ""}, "bound_source"),
    ({"instance_type": dict}, "frozen dataclass"),
    ({"draws": 0.0}, "draws"),
])
def test_claim_record_refuses_contradictions(override: dict[str, object],
                                             fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        _claim(**override)


def test_check_raises_claim_violation_with_table() -> None:
    claim = _claim(measure=lambda inst: Outcome(2.0, 1.0, {"max_abs": 2.0}))
    inst = ModelInstance(seed=1, d=1, s=1, L=1, Lp=0)
    with pytest.raises(ClaimViolation) as info:
        claim.check(inst)
    text = str(info.value)
    assert "toy_claim" in text and "python -m verify reproduce toy_claim" in text
    assert "max_abs" in text


def test_known_failure_is_scoped_to_its_instances() -> None:
    known = KnownFailure("float32 cannot", lambda inst: inst.dtype == "float32")
    claim = _claim(measure=lambda inst: Outcome(2.0, 1.0), known=(known,))
    claim.check(ModelInstance(seed=1, d=1, s=1, L=1, Lp=0, dtype="float32"))
    with pytest.raises(ClaimViolation):
        claim.check(ModelInstance(seed=1, d=1, s=1, L=1, Lp=0, dtype="float64"))


def test_outcome_nonfinite_error_never_holds() -> None:
    assert not Outcome(float("nan"), 1.0).holds
    assert not Outcome(float("inf"), float("inf")).holds
    assert Outcome(0.0, 0.0).holds


def test_instance_json_round_trip() -> None:
    claim = get_claim("model_matches_mp_twin")
    inst = ModelInstance(seed=3, d=2, s=1, L=2, Lp=1, dtype="float32")
    payload = claim.reproduction(inst).split("'")[1]
    assert claim.instance_from_json(payload) == inst
    assert dataclasses.asdict(claim.instance_from_json(payload)) == dataclasses.asdict(inst)


def test_selection_by_glob_and_theory_ref() -> None:
    assert {c.id for c in select_claims("attention_*")} >= {"attention_matches_mp_oracle"}
    assert all(c.theory_ref == "MODEL" for c in select_claims("MODEL"))
    assert select_claims(None) == all_claims()
    with pytest.raises(InvalidArgument, match="matches no claim"):
        select_claims("no_such_claim_*")
    with pytest.raises(InvalidArgument, match="no such claim"):
        get_claim("nope")
