"""No false fails: a quick audit of every claim passes at every seed (slow tier).

Each seed is one quick audit (``verify.audit.run_audit``, ``jobs=1``) of the whole
registry; a failing or erroring claim at any seed is reported with its reason and the
reproduction line. ``PTLIMITS_FALSE_FAIL_SEEDS`` chooses the seeds (``"0-499"`` or
``"3,7,13"``; default ``0-39``, a few minutes on two cores).
"""

from __future__ import annotations

import json
import os

import pytest

from properties.registry import all_claims
from verify.audit import AuditOptions, run_audit

pytestmark = pytest.mark.slow


def _seeds(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        out.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
    return out


SEEDS = _seeds(os.environ.get("PTLIMITS_FALSE_FAIL_SEEDS", "0-39"))


def test_seed_spec_parses() -> None:
    assert _seeds("0-2, 7") == [0, 1, 2, 7]


@pytest.mark.parametrize("seed", SEEDS)
def test_quick_audit_of_every_claim_has_no_failures(seed: int) -> None:
    report = run_audit(all_claims(), AuditOptions(seed=seed, quick=True, jobs=1))
    bad = [c for c in report["claims"] if c["status"] in ("fail", "error")]
    assert report["summary"]["fail"] == 0 and report["summary"]["error"] == 0, (
        f"seed {seed}: " + json.dumps(bad, default=str)[:4000])
