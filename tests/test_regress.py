"""``regress`` flags each category of regression and passes on identical inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from properties.registry import select_claims
from verify.audit import AuditOptions, run_audit
from verify.cli import main
from verify.regress import compare_reports


@pytest.fixture(scope="module")
def baseline() -> dict:  # type: ignore[type-arg]
    report = run_audit(select_claims("readout_*,softmax_*,lower_bound_*"),
                       AuditOptions(seed=2, quick=True, jobs=1))
    report["benchmarks"] = {"speedup": 40.0, "max_error": 1e-8, "bound": 1e-6}
    return report


def _copy(report: dict) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(report))


def _regressions(base: dict, cur: dict) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(c.claim, c.category) for c in compare_reports(base, cur) if c.regression}


def test_identical_reports_pass(baseline: dict, tmp_path: Path,  # type: ignore[type-arg]
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _regressions(baseline, _copy(baseline)) == set()
    path = tmp_path / "a.json"
    path.write_text(json.dumps(baseline))
    assert main(["regress", "--baseline", str(path), "--current", str(path)]) == 0
    assert "no regression" in capsys.readouterr().out


def test_newly_failing_claim(baseline: dict) -> None:  # type: ignore[type-arg]
    cur = _copy(baseline)
    cur["claims"][0]["status"] = "fail"
    assert (cur["claims"][0]["id"], "status") in _regressions(baseline, cur)


def test_missing_claim(baseline: dict) -> None:  # type: ignore[type-arg]
    cur = _copy(baseline)
    gone = cur["claims"].pop()
    assert (gone["id"], "missing") in _regressions(baseline, cur)


def test_evidence_drop(baseline: dict) -> None:  # type: ignore[type-arg]
    cur = _copy(baseline)
    target = next(e for e in cur["claims"] if e["evidence"] == "certified")
    target["evidence"] = "sampled"
    assert (target["id"], "evidence") in _regressions(baseline, cur)


def test_margin_shrinks_past_threshold(baseline: dict) -> None:  # type: ignore[type-arg]
    cur = _copy(baseline)
    entry = cur["claims"][0]
    entry["worst_ratio"] = 0.9          # relative margin 0.1, baseline's is near 1
    assert (entry["id"], "margin") in _regressions(baseline, cur)
    entry["worst_ratio"] = (baseline["claims"][0]["worst_ratio"] or 0.0) / 2
    assert (entry["id"], "margin") not in _regressions(baseline, cur)


def test_benchmark_slows_beyond_noise(baseline: dict) -> None:  # type: ignore[type-arg]
    cur = _copy(baseline)
    cur["benchmarks"]["speedup"] = 30.0    # within the default 30% noise
    assert _regressions(baseline, cur) == set()
    cur["benchmarks"]["speedup"] = 20.0
    assert ("benchmarks", "speedup") in _regressions(baseline, cur)
    cur["benchmarks"]["max_error"] = 1e-3
    assert ("benchmarks", "error above bound") in _regressions(baseline, cur)


def test_cli_exit_code_and_table(baseline: dict, tmp_path: Path,  # type: ignore[type-arg]
                                 capsys: pytest.CaptureFixture[str]) -> None:
    cur = _copy(baseline)
    cur["claims"][0]["status"] = "error"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(baseline))
    b.write_text(json.dumps(cur))
    assert main(["regress", "--baseline", str(a), "--current", str(b)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and cur["claims"][0]["id"] in out
    b.write_text("{not json")
    assert main(["regress", "--baseline", str(a), "--current", str(b)]) == 2
