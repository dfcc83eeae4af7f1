"""Run the claim registry and write ``audit.json`` and ``audit.md`` (atomically).

For every selected claim the audit measures its deterministic reference points and a seeded
batch of Hypothesis draws, then records status, evidence level, counts, the worst case with a
reproduction line, and timings. Conditional claims (e.g. those resting on SETH) are reported
as ``skip`` with their reason; a claim that raises an unexpected exception is ``error`` with
its traceback, and the audit goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from core.errors import InvalidArgument
from properties.claim import Claim, Outcome
from properties.profiles import active_profile_name, load_profile

from .report import render_markdown, validate_report, write_atomically

__all__ = ["AuditOptions", "claim_entry", "draw_instances", "run_audit", "write_audit"]

SCHEMA_VERSION = 1

#: Printed in every report: T cannot be tested, only illustrated (THEORY.md §3).
CONDITIONAL_NOTE = (
    "Claim T (hardness above the √log n threshold) is conditional on SETH and is not "
    "testable; K6 only illustrates it. Evidence levels: sampled < oracle < exhaustive < "
    "certified; sampled evidence is never a proof.")

#: Hypothesis draws per claim (before the claim's ``draws`` factor) in a quick audit.
QUICK_DRAWS = 6


@dataclass(frozen=True)
class AuditOptions:
    """What to audit and how hard.

    ``draws`` overrides the number of Hypothesis draws per claim (before each claim's
    ``draws`` factor); by default it is :data:`QUICK_DRAWS` with ``quick`` and the active
    profile's ``max_examples`` otherwise.
    """

    seed: int = 0
    quick: bool = False
    pattern: str | None = None
    profile: str | None = None
    draws: int | None = None


def draw_instances(claim: Claim, count: int, seed: int) -> list[Any]:
    """Up to ``count`` instances drawn from ``claim.strategy()``, deterministically per seed."""
    if count <= 0:
        return []
    drawn: list[Any] = []

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @hypothesis_seed(seed)
    @given(claim.strategy())
    def collect(instance: Any) -> None:
        drawn.append(instance)

    collect()
    return drawn


def _num(x: float | None) -> float | None:
    """JSON-safe number: non-finite values become ``None``."""
    return None if x is None or not math.isfinite(x) else float(x)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return _num(value) if not math.isfinite(value) else value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    return repr(value)


def claim_entry(claim: Claim, instances: Sequence[Any],
                measure: Callable[[Any], Outcome] | None = None) -> dict[str, Any]:
    """Measure ``instances`` and summarise them as one report entry."""
    measure = measure or claim.measure
    started = time.perf_counter()
    base: dict[str, Any] = {
        "id": claim.id, "theory_ref": claim.theory_ref, "paper_ref": claim.paper_ref,
        "statement": claim.statement, "evidence": claim.evidence,
        "bound_source": claim.bound_source, "reason": None, "traceback": None,
        "n_checked": 0, "n_bad": 0, "n_expected_failures": 0, "max_error": None,
        "bound": None, "margin": None, "worst_ratio": None, "worst_case": None,
    }
    if claim.conditional:
        return {**base, "status": "skip", "reason": claim.conditional,
                "seconds": time.perf_counter() - started}
    results: list[tuple[Any, Outcome]] = []
    try:
        for instance in instances:
            results.append((instance, measure(instance)))
    except Exception as exc:  # a claim that crashes is reported, the audit goes on
        return {**base, "status": "error", "n_checked": len(results),
                "reason": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
                "seconds": time.perf_counter() - started}
    bad = [(i, o) for i, o in results if not o.holds and claim.expected_to_fail(i) is None]
    expected = [(i, o) for i, o in results if not o.holds and claim.expected_to_fail(i)]
    status = "fail" if bad else ("xfail" if expected else "pass")
    reason = None
    if status == "xfail":
        reason = "; ".join(sorted({k.reason for i, _ in expected
                                   if (k := claim.expected_to_fail(i)) is not None}))
    entry = {**base, "status": status, "reason": reason, "n_checked": len(results),
             "n_bad": len(bad), "n_expected_failures": len(expected)}
    if results:
        worst_instance, worst = max(results, key=lambda r: r[1].ratio)
        entry.update(
            max_error=_num(max(o.error for _, o in results)),
            bound=_num(worst.bound), worst_ratio=_num(worst.ratio),
            margin=_num(worst.bound - worst.error),
            worst_case={
                "instance": dataclasses.asdict(worst_instance),
                "reproduce": claim.reproduction(worst_instance),
                "error": _num(worst.error), "bound": _num(worst.bound),
                "detail": _jsonable(dict(worst.detail)),
            })
    entry["seconds"] = time.perf_counter() - started
    return entry


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent.parent, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _versions() -> dict[str, str]:
    names = ("ptlimits", "torch", "numpy", "scipy", "mpmath", "hypothesis", "python-flint")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found


def _header(options: AuditOptions, profile: str, seconds: float,
            started_at: str) -> dict[str, Any]:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if commit else None
    versions = _versions()
    return {
        "ptlimits_version": versions["ptlimits"], "versions": versions,
        "seed": options.seed, "hypothesis_profile": profile, "quick": options.quick,
        "claims_pattern": options.pattern, "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
        "started_at": started_at, "seconds": seconds, "conditional_note": CONDITIONAL_NOTE,
    }


def run_audit(claims: Sequence[Claim], options: AuditOptions,
              progress: Callable[[int, int, Claim], None] | None = None) -> dict[str, Any]:
    """Audit ``claims`` and return the report (a dict matching the JSON schema)."""
    profile = load_profile(options.profile) if options.profile else active_profile_name()
    if options.draws is not None and options.draws < 0:
        raise InvalidArgument(f"draws={options.draws!r}: must be >= 0")
    base_draws = options.draws if options.draws is not None else (
        QUICK_DRAWS if options.quick else settings.get_profile(profile).max_examples)
    started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    entries = []
    for index, claim in enumerate(claims):
        if progress is not None:
            progress(index, len(claims), claim)
        instances = list(claim.reference_points())
        if not claim.conditional:
            count = max(1, round(base_draws * claim.draws)) if base_draws else 0
            instances += draw_instances(claim, count, options.seed + index)
        entries.append(claim_entry(claim, instances))
    statuses = [e["status"] for e in entries]
    summary = {"total": len(entries),
               **{s: statuses.count(s) for s in ("pass", "fail", "xfail", "skip", "error")}}
    report = {"schema_version": SCHEMA_VERSION,
              "header": _header(options, profile, time.perf_counter() - started, started_at),
              "summary": summary, "claims": entries}
    validate_report(report)
    return report


def write_audit(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``audit.json`` and ``audit.md`` into ``out_dir``, each atomically."""
    validate_report(report)
    json_path, md_path = out_dir / "audit.json", out_dir / "audit.md"
    write_atomically(json_path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    write_atomically(md_path, render_markdown(report))
    return json_path, md_path
