"""Compare two audit reports and flag regressions (``ptlimits regress``).

A regression is any of:

* **newly failing** — a claim whose status was ``pass``/``xfail``/``skip`` is now ``fail`` or
  ``error``, or a claim of the baseline is missing;
* **evidence dropped** — the evidence level (docs/theory.md §4) is lower than before;
* **margin shrank** — the relative margin ``1 − error/bound`` of the worst case fell by more
  than ``margin_threshold`` (a fraction, default 0.5) of the baseline's margin;
* **benchmark worse** — an embedded benchmark's speedup fell by more than ``bench_noise``
  (default 0.3: these machines are shared and noisy), or its error rose past its bound.

Everything else that changed for the better is listed as an improvement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.validation import check_real
from properties.claim import EVIDENCE_LEVELS

from .report.load import check_against_schema, load_json_input

__all__ = ["Change", "comparable", "compare_reports", "load_report", "run_regress"]

_BAD = ("fail", "error")
_VOLATILE_HEADER = ("seconds", "started_at", "executor", "resumed_claims", "git_commit",
                    "git_dirty", "machine", "versions", "ptlimits_version")


@dataclass(frozen=True)
class Change:
    claim: str
    category: str
    before: Any
    after: Any
    regression: bool


def load_report(name: str, path: Path) -> dict[str, Any]:
    """Read and schema-check an audit report (``verify/schema/audit.schema.json``), naming
    the argument, the file and the first bad field on failure."""
    report: dict[str, Any] = load_json_input(
        name, Path(path), "audit", expected="an audit.json that 'ptlimits audit' writes")
    return report


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without timings, timestamps and machine facts (for reproducibility)."""
    out = json.loads(json.dumps(report))
    for key in _VOLATILE_HEADER:
        out["header"].pop(key, None)
    for entry in out["claims"]:
        entry.pop("seconds", None)
    return out


def _relative_margin(entry: dict[str, Any]) -> float | None:
    ratio = entry.get("worst_ratio")
    return None if ratio is None else 1.0 - ratio


def compare_reports(baseline: dict[str, Any], current: dict[str, Any], *,
                    margin_threshold: float = 0.5, bench_noise: float = 0.3) -> list[Change]:
    """Every change between two reports, each flagged as regression or improvement."""
    check_real("margin_threshold", margin_threshold, low=0.0, high=1.0, low_open=True,
               high_open=True)
    check_real("bench_noise", bench_noise, low=0.0, high=1.0, high_open=True)
    check_against_schema("baseline", None, baseline, "audit")
    check_against_schema("current", None, current, "audit")
    changes: list[Change] = []
    now = {e["id"]: e for e in current["claims"]}
    for old in baseline["claims"]:
        cid = old["id"]
        new = now.get(cid)
        if new is None:
            changes.append(Change(cid, "missing", old["status"], None, True))
            continue
        if new["status"] != old["status"]:
            worse = new["status"] in _BAD and old["status"] not in _BAD
            changes.append(Change(cid, "status", old["status"], new["status"], worse))
        before, after = (EVIDENCE_LEVELS.index(e["evidence"]) for e in (old, new))
        if after != before:
            changes.append(Change(cid, "evidence", old["evidence"], new["evidence"],
                                  after < before))
        m0, m1 = _relative_margin(old), _relative_margin(new)
        if m0 is not None and m1 is not None and m1 != m0:
            shrank = m0 > 0 and m1 < m0 * (1 - margin_threshold)
            if shrank or m1 > m0:
                changes.append(Change(cid, "margin", round(m0, 6), round(m1, 6), shrank))
    for cid in now.keys() - {e["id"] for e in baseline["claims"]}:
        changes.append(Change(cid, "new claim", None, now[cid]["status"], False))
    changes += _compare_benchmarks(baseline.get("benchmarks"), current.get("benchmarks"),
                                   bench_noise)
    return changes


def _compare_benchmarks(old: dict[str, Any] | None, new: dict[str, Any] | None,
                        noise: float) -> list[Change]:
    if not old:
        return []
    if not new:
        return [Change("benchmarks", "missing", "present", None, True)]
    changes = []
    s0, s1 = old.get("speedup"), new.get("speedup")
    if s0 and s1 and s1 != s0:
        changes.append(Change("benchmarks", "speedup", s0, s1, s1 < s0 * (1 - noise)))
    e1, b1 = new.get("max_error"), new.get("bound")
    if e1 is not None and b1 is not None and e1 > b1:
        changes.append(Change("benchmarks", "error above bound", old.get("max_error"), e1, True))
    return changes


def _table(changes: Sequence[Change]) -> str:
    width = max([len(c.claim) for c in changes] + [5])
    lines = [f"{'claim':<{width}}  {'what':<18}  {'before':<14}  {'after':<14}  verdict"]
    for c in changes:
        verdict = "REGRESSION" if c.regression else "improved" if c.category != "new claim" \
            else "new"
        lines.append(f"{c.claim:<{width}}  {c.category:<18}  {c.before!s:<14}  "
                     f"{c.after!s:<14}  {verdict}")
    return "\n".join(lines)


def run_regress(baseline: Path, current: Path, *, margin_threshold: float = 0.5,
                bench_noise: float = 0.3) -> int:
    """``ptlimits regress``: compare the audit at ``current`` with the one at ``baseline``,
    print the regressions (or the changes for the better) and return the exit status: 1 on
    any regression, else 0."""
    changes = compare_reports(load_report("--baseline", baseline),
                              load_report("--current", current),
                              margin_threshold=margin_threshold, bench_noise=bench_noise)
    regressions = [c for c in changes if c.regression]
    if regressions:
        print(f"{len(regressions)} regression(s):")
        print(_table(regressions))
        return 1
    improved = [c for c in changes if not c.regression]
    print(f"no regression ({len(improved)} change(s) for the better or new)")
    if improved:
        print(_table(improved))
    return 0
