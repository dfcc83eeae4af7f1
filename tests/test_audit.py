"""Audit reports: schema-valid, complete, atomic, and honest about failures and errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import HarnessError
from properties.claim import Claim, KnownFailure, Outcome
from properties.registry import all_claims, get_claim
from properties.strategies import ModelInstance, model_instances
from verify.audit import AuditOptions, claim_entry, draw_instances, run_audit, write_audit
from verify.files import write_atomically
from verify.report.load import validate_report


def _toy(measure, **kw) -> Claim:  # type: ignore[no-untyped-def]
    return Claim(id="toy", theory_ref="MODEL", paper_ref="§1", statement="A toy holds.",
                 evidence="sampled", instance_type=ModelInstance, strategy=model_instances,
                 reference_points=lambda: [ModelInstance(seed=1, d=1, s=1, L=1, Lp=0),
                                           ModelInstance(seed=2, d=1, s=1, L=1, Lp=0,
                                                         dtype="float32")],
                 measure=measure, bound_source="test", **kw)


@pytest.fixture(scope="module")
def report() -> dict:  # type: ignore[type-arg]
    return run_audit(all_claims(), AuditOptions(seed=1, quick=True, jobs=1))


def test_real_report_validates_against_the_schema(report: dict) -> None:  # type: ignore[type-arg]
    validate_report(report)
    assert [e["id"] for e in report["claims"]] == [c.id for c in all_claims()]
    for entry in report["claims"]:
        assert entry["status"] in ("pass", "skip"), entry
        if entry["status"] == "pass":
            assert entry["n_checked"] > 0 and entry["n_bad"] == 0
            assert entry["max_error"] <= entry["worst_case"]["bound"] or entry["n_checked"]
    header = report["header"]
    assert header["seed"] == 1 and header["quick"] is True
    assert header["versions"]["torch"] and header["machine"]["cpu_count"]


def test_schema_rejects_a_broken_report(report: dict) -> None:  # type: ignore[type-arg]
    broken = json.loads(json.dumps(report))
    broken["claims"][0]["status"] = "probably"
    with pytest.raises(HarnessError, match="status"):
        validate_report(broken)
    del broken["header"]["seed"]
    with pytest.raises(HarnessError):
        validate_report(broken)


def test_failing_claim_is_reported_with_worst_case() -> None:
    entry = claim_entry(_toy(lambda i: Outcome(2.0 if i.seed == 2 else 0.1, 1.0)),
                        [ModelInstance(seed=s, d=1, s=1, L=1, Lp=0) for s in (1, 2, 3)])
    assert entry["status"] == "fail" and entry["n_bad"] == 1 and entry["n_checked"] == 3
    assert entry["worst_case"]["instance"]["seed"] == 2
    assert entry["margin"] == -1.0
    assert "python -m verify reproduce toy" in entry["worst_case"]["reproduce"]


def test_crashing_claim_is_an_error_and_the_audit_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(instance: object) -> Outcome:
        raise ZeroDivisionError("planted")

    toy = _toy(boom)
    real = get_claim("readout_is_last_l_columns")
    monkeypatch.setattr("verify.audit.get_claim",
                        lambda cid: toy if cid == "toy" else get_claim(cid))
    report = run_audit([toy, real], AuditOptions(quick=True, jobs=1))
    first, second = report["claims"]
    assert first["status"] == "error" and "ZeroDivisionError" in first["traceback"]
    assert second["status"] == "pass"
    assert report["summary"]["error"] == 1


def test_known_failures_are_xfail_with_reason() -> None:
    known = KnownFailure("float32 rounding", lambda i: i.dtype == "float32")
    claim = _toy(lambda i: Outcome(2.0 if i.dtype == "float32" else 0.0, 1.0), known=(known,))
    entry = claim_entry(claim, list(claim.reference_points()))
    assert entry["status"] == "xfail" and entry["reason"] == "float32 rounding"


def test_conditional_claim_is_skipped_with_reason() -> None:
    claim = _toy(lambda i: Outcome(0.0, 1.0), conditional="rests on SETH")
    entry = claim_entry(claim, [])
    assert entry["status"] == "skip" and entry["reason"] == "rests on SETH"


def test_draws_are_deterministic_per_seed() -> None:
    claim = get_claim("model_matches_mp_twin")
    assert draw_instances(claim, 5, seed=4) == draw_instances(claim, 5, seed=4)
    assert draw_instances(claim, 5, seed=4) != draw_instances(claim, 5, seed=5)


def test_write_is_atomic_when_interrupted(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "audit.json"
    target.write_text('{"old": true}')

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, '{"new": ')
    assert target.read_text() == '{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json"]


def test_write_audit_round_trips(report: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    report = {**report, "claims": report["claims"][:4]}     # figures cost ~1 s each
    report["summary"] = {**report["summary"], "total": 4}
    json_path, md_path, html_path = write_audit(report, tmp_path)
    html = html_path.read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert "<script" not in html and "http" not in html.split("<body>")[1].split("ptlimits")[0]
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(report))
    md = md_path.read_text()
    for entry in report["claims"]:
        assert f"`{entry['id']}`" in md


def test_the_audit_schema_embeds_the_regime_schema_unchanged() -> None:
    """``audit --regime-json`` reads files against ``regime.schema.json`` and the report
    embeds them under ``$defs/regime``: one definition, so the two may not drift."""
    schema_dir = Path(__file__).resolve().parents[1] / "verify" / "schema"
    audit = json.loads((schema_dir / "audit.schema.json").read_text())
    regime = json.loads((schema_dir / "regime.schema.json").read_text())
    body = {k: v for k, v in regime.items() if not k.startswith("$") and k != "title"}
    assert audit["$defs"]["regime"] == body
    assert regime["$defs"].items() <= audit["$defs"].items()
