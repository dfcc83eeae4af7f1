"""Run the claim registry and write the audit report (atomically, resumably, in parallel).

For every selected claim (the statistical claims of docs/theory.md §2 and the computational
claims of §3) the audit measures its deterministic reference points and a seeded batch of
Hypothesis draws, then records status, evidence level (§4), counts, the error distribution,
every measured instance, the worst case with a reproduction line, and timings. Conditional
claims (T, resting on SETH: §3) are reported as ``skip`` with their reason; a claim that
raises is ``error`` with its traceback, and the audit goes on.

Each finished claim is written at once to ``DIR/.partial/ID.json`` (atomically), so an
audit killed at any moment loses at most the claims in flight; ``resume=True`` reuses the
partial results of a run with the same configuration.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from core.errors import InvalidArgument
from core.proofs import LEMMAS, check_lemma, lemma_path
from core.proofs.coq import coqc_path, coqc_version, lemma_axioms
from core.validation import check_int, short_repr
from properties.claim import Claim, Outcome
from properties.profiles import PROFILE_NAMES, active_profile_name, load_profile
from properties.registry import get_claim

from .executors import MAX_JOBS, describe_executor, open_executor, parse_executor
from .files import write_atomically
from .report.load import load_partial_state, validate_report
from .report.markdown import render_markdown
from .report.write import write_report_files

__all__ = ["MAX_DRAWS", "NO_INSTANCES", "AuditOptions", "audit_claim", "claim_entry",
           "claim_instances", "claim_seed", "draw_instances", "measure_chunk",
           "measure_instances", "run_audit", "summarise", "write_audit"]

SCHEMA_VERSION = 1

#: Printed in every report: T cannot be tested, only illustrated (docs/theory.md §3).
CONDITIONAL_NOTE = (
    "Claim T (hardness above the √log n threshold) is conditional on SETH and is not "
    "testable; K6 only illustrates it. Evidence levels: sampled < oracle < exhaustive < "
    "certified < proved (a proof assistant's kernel checked the statement); sampled "
    "evidence is never a proof.")

#: Why a claim that measured no instance is an ``error`` (nothing checked is never a pass).
NO_INSTANCES = "measured zero instances (no reference points, no draws): nothing was checked"

#: Hypothesis draws per claim (before the claim's ``draws`` factor) in a quick audit.
QUICK_DRAWS = 6

#: Most draws per claim: the claims' factors sum to ~23 and each instance is kept as a ~950
#: byte record, so 10,000 draws make a ~220 MB report and ~15 hours on two cores at the quick
#: audit's ~0.25 s a draw (90 minutes manage ~1,000); 25 times the nightly profile's 400.
MAX_DRAWS = 10_000

PARTIAL_DIR = ".partial"


@dataclass(frozen=True)
class AuditOptions:
    """What to audit and how.

    Attributes:
        seed: base seed; each claim draws with :func:`claim_seed` ``(seed, id)``.
        quick: few draws per claim (:data:`QUICK_DRAWS`).
        pattern: claim selection (see :func:`properties.registry.select_claims`).
        profile: Hypothesis profile (default: from the environment).
        draws: draws per claim before each claim's factor (overrides quick/profile).
        jobs: local worker processes (``None``: CPU count; ``1``: in this process).
        executor: ``"local"`` or ``"dask://HOST:PORT"``.
    """

    seed: int = 0
    quick: bool = False
    pattern: str | None = None
    profile: str | None = None
    draws: int | None = None
    jobs: int | None = None
    executor: str = "local"

    def __post_init__(self) -> None:
        check_int("seed", self.seed)
        if self.draws is not None:
            check_int("draws", self.draws, minimum=0, maximum=MAX_DRAWS)
        if self.profile is not None and self.profile not in PROFILE_NAMES:
            raise InvalidArgument(f"profile={self.profile!r}: expected one of {PROFILE_NAMES}")
        if self.jobs is not None:
            check_int("jobs", self.jobs, minimum=1, maximum=MAX_JOBS)
        parse_executor(self.executor)

    def resolved_profile(self) -> str:
        return self.profile or active_profile_name()

    def draws_per_claim(self) -> int:
        if self.draws is not None:
            return self.draws
        if self.quick:
            return QUICK_DRAWS
        return int(settings.get_profile(self.resolved_profile()).max_examples)

    def fingerprint(self, claim_ids: Sequence[str]) -> str:
        """What must match for partial results to be reused by ``--resume``."""
        payload = json.dumps({"seed": self.seed, "draws": self.draws_per_claim(),
                              "profile": self.resolved_profile(), "claims": list(claim_ids)},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def claim_seed(seed: int, claim_id: str) -> int:
    """The Hypothesis seed of one claim: independent of which other claims are selected."""
    check_int("seed", seed)
    if not isinstance(claim_id, str):
        raise InvalidArgument(f"claim_id={claim_id!r}: expected a claim id (a string)")
    return (seed * 1_000_003 + zlib.crc32(claim_id.encode())) % 2**32


@contextmanager
def _without_local_constants() -> Iterator[None]:
    """Make Hypothesis draws depend on the seed only.

    Hypothesis mixes literal constants mined from every *loaded* local module into its
    draws, so the same seed gives different instances in a process that imported the tests
    than in one that did not. For reproducible audits the draws here use no local constants
    (and a private constants cache). This reaches into Hypothesis internals; if they move,
    the draws still work and ``tests/test_audit_runs.py`` reports lost reproducibility.
    """
    try:
        from hypothesis.internal.conjecture import providers
        saved = (providers._get_local_constants, providers.CONSTANTS_CACHE)
        empty = copy.deepcopy(providers._local_constants)
        for pool in (empty.integers, empty.floats, empty.bytes, empty.strings):
            pool.clear()
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE = type(saved[1])(1024)
    try:
        yield
    finally:
        providers._get_local_constants, providers.CONSTANTS_CACHE = saved


def draw_instances(claim: Claim, count: int, seed: int) -> list[Any]:
    """Up to ``count`` instances drawn from ``claim.strategy()``, deterministically per seed
    (independently of which modules this process has imported)."""
    if count <= 0:
        return []
    drawn: list[Any] = []

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @hypothesis_seed(seed)
    @given(claim.strategy())
    def collect(instance: Any) -> None:
        drawn.append(instance)

    with _without_local_constants():
        collect()
    return drawn


def _num(x: float | None) -> float | None:
    """JSON-safe number: non-finite values become ``None``."""
    return None if x is None or not math.isfinite(x) else float(x)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return repr(value)


def _scalars(detail: Any) -> dict[str, Any]:
    """The small entries of an outcome's detail: numbers, bools, short strings, and lists of
    at most 64 numbers (e.g. a curve for a figure)."""
    out = {}
    for key, value in dict(detail).items():
        small_list = (isinstance(value, (list, tuple)) and len(value) <= 64 and all(
            isinstance(v, (int, float, np.generic)) and not isinstance(v, bool)
            for v in value))
        if small_list or isinstance(value, (bool, int, float, np.generic)) or (
                isinstance(value, str) and len(value) <= 40):
            out[str(key)] = _jsonable(value)
    return out


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    finite = np.array([v for v in values if math.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return {"max": None, "mean": None, "p50": None, "p99": None}
    return {"max": float(finite.max()), "mean": float(finite.mean()),
            "p50": float(np.percentile(finite, 50)), "p99": float(np.percentile(finite, 99))}


Failure = tuple[str, str]          # (one-line reason, traceback)
Results = list[tuple[Any, Outcome]]


def measure_instances(claim: Claim, instances: Sequence[Any],
                      measure: Callable[[Any], Outcome] | None = None,
                      ) -> tuple[Results, Failure | None, float]:
    """Measure ``instances`` in order; stop at the first exception and return it.

    Returns the results so far, the failure (or ``None``) and the seconds spent.
    """
    measure = measure or claim.measure
    started = time.perf_counter()
    results: Results = []
    try:
        for instance in instances:
            results.append((instance, measure(instance)))
    except Exception as exc:  # a claim that crashes is reported, the audit goes on
        failure = (f"{type(exc).__name__}: {exc}", traceback.format_exc())
        return results, failure, time.perf_counter() - started
    return results, None, time.perf_counter() - started


def summarise(claim: Claim, results: Results, failure: Failure | None,
              seconds: float) -> dict[str, Any]:
    """One report entry from measured results (or the failure that stopped them)."""
    base: dict[str, Any] = {
        "id": claim.id, "theory_ref": claim.theory_ref, "paper_ref": claim.paper_ref,
        "statement": claim.statement, "evidence": claim.evidence,
        "declared_evidence": claim.evidence, "evidence_note": None,
        "bound_source": claim.bound_source, "reason": None, "traceback": None,
        "n_checked": 0, "n_bad": 0, "n_expected_failures": 0, "max_error": None,
        "bound": None, "margin": None, "worst_ratio": None, "worst_case": None,
        "error_stats": _stats([]), "ratio_stats": _stats([]), "records": [],
        "seconds": seconds,
    }
    if claim.conditional:
        return {**base, "status": "skip", "reason": claim.conditional}
    if failure is not None:
        return {**base, "status": "error", "n_checked": len(results), "reason": failure[0],
                "traceback": failure[1]}
    if not results:   # nothing measured is no evidence: never a pass
        return {**base, "status": "error", "reason": NO_INSTANCES}
    bad = [(i, o) for i, o in results if not o.holds and claim.expected_to_fail(i) is None]
    expected = [(i, o) for i, o in results if not o.holds and claim.expected_to_fail(i)]
    status = "fail" if bad else ("xfail" if expected else "pass")
    reason = None
    if status == "xfail":
        reason = "; ".join(sorted({k.reason for i, _ in expected
                                   if (k := claim.expected_to_fail(i)) is not None}))
    # the evidence this run reached: below the declared level when some measurement said so
    # (a K1 proof that did not run), with the reason, never silently
    evidence, note = claim.evidence_of([o for _, o in results])
    entry = {**base, "status": status, "reason": reason, "n_checked": len(results),
             "n_bad": len(bad), "n_expected_failures": len(expected), "evidence": evidence,
             "evidence_note": note}
    if results:
        worst_instance, worst = max(results, key=lambda r: r[1].ratio)
        entry.update(
            max_error=_num(max(o.error for _, o in results)),
            bound=_num(worst.bound), worst_ratio=_num(worst.ratio),
            margin=_num(worst.bound - worst.error),
            error_stats=_stats([o.error for _, o in results]),
            ratio_stats=_stats([o.ratio for _, o in results]),
            records=[{"instance": _jsonable(dataclasses.asdict(i)), "error": _num(o.error),
                      "bound": _num(o.bound), "holds": o.holds,
                      "evidence": o.evidence or claim.evidence,
                      "detail": _scalars(o.detail)} for i, o in results],
            worst_case={
                "instance": _jsonable(dataclasses.asdict(worst_instance)),
                "reproduce": claim.reproduction(worst_instance),
                "error": _num(worst.error), "bound": _num(worst.bound),
                "detail": _jsonable(dict(worst.detail)),
            })
    return entry


def claim_entry(claim: Claim, instances: Sequence[Any],
                measure: Callable[[Any], Outcome] | None = None) -> dict[str, Any]:
    """Measure ``instances`` in this process and summarise them as one report entry."""
    if claim.conditional:
        return summarise(claim, [], None, 0.0)
    return summarise(claim, *measure_instances(claim, instances, measure))


def claim_instances(claim: Claim, options: AuditOptions) -> list[Any]:
    """Reference points, then the seeded Hypothesis draws (none for conditional claims)."""
    if claim.conditional:
        return []
    instances = list(claim.reference_points())
    if options.draws_per_claim():
        count = max(1, round(options.draws_per_claim() * claim.draws))
        instances += draw_instances(claim, count, claim_seed(options.seed, claim.id))
    return instances


def measure_chunk(claim_id: str, instances: Sequence[Any],
                  profile: str) -> tuple[Results, Failure | None, float]:
    """Worker task: measure a chunk of one claim's instances (picklable, top level).

    Runs torch single-threaded so that every executor produces bit-identical numbers.
    """
    load_profile(profile)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return measure_instances(get_claim(claim_id), instances)
    finally:
        torch.set_num_threads(threads)


def audit_claim(claim_id: str, options: AuditOptions) -> dict[str, Any]:
    """Audit one claim in this process (what ``--jobs 1`` does for each claim)."""
    claim = get_claim(claim_id)
    if claim.conditional:
        return summarise(claim, [], None, 0.0)
    return summarise(claim, *measure_chunk(claim_id, claim_instances(claim, options),
                                           options.resolved_profile()))


def _chunks(items: Sequence[Any], count: int) -> list[list[Any]]:
    """``items`` split in order into at most ``count`` nearly equal, non-empty chunks."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    out, start = [], 0
    for k in range(count):
        stop = start + size + (k < extra)
        out.append(list(items[start:stop]))
        start = stop
    return out


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
    coqc = coqc_path()
    found["coqc"] = (coqc_version(coqc) or "unknown") if coqc else "not installed"
    return found


def _lemmas() -> list[dict[str, Any]]:
    """The machine-checked lemmas of docs/theory.md §4, each checked by coqc (cached by the
    file's text): file, theorems, what it states, SHA-256, verdict, prover version and the
    axioms (Coq's standard library ones) its theorems rest on."""
    out = []
    for name, (theorems, states) in LEMMAS.items():
        path = lemma_path(name)
        proof = check_lemma(name)
        out.append({"file": f"core/proofs/lemmas/{path.name}", "theorems": list(theorems),
                    "states": states, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "verdict": proof.verdict, "proof": proof.summary(),
                    "coqc_version": proof.coqc_version,
                    "axioms": list(lemma_axioms(name)) if proof.proved else []})
    return out


def _header(options: AuditOptions, seconds: float, started_at: str,
            resumed: int) -> dict[str, Any]:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    versions = _versions()
    return {
        "ptlimits_version": versions["ptlimits"], "versions": versions,
        "seed": options.seed, "hypothesis_profile": options.resolved_profile(),
        "quick": options.quick, "draws_per_claim": options.draws_per_claim(),
        "claims_pattern": options.pattern, "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "executor": describe_executor(options.executor, options.jobs),
        "resumed_claims": resumed,
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "cpu_count": os.cpu_count(), "python": sys.version.split()[0]},
        "started_at": started_at, "seconds": seconds, "conditional_note": CONDITIONAL_NOTE,
        "lemmas": _lemmas(),
    }


Progress = Callable[[int, int, str, float], None]


def run_audit(claims: Sequence[Claim], options: AuditOptions, *, out_dir: Path | None = None,
              resume: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Audit ``claims`` and return the report (a dict matching the JSON schema).

    With ``out_dir``, each finished claim is saved under ``out_dir/.partial/`` as it
    completes; ``resume`` reuses those saved by an interrupted run of the same
    configuration.
    """
    bad = next((c for c in claims if not isinstance(c, Claim)), None)
    if not claims or bad is not None:
        raise InvalidArgument(f"claims={short_repr(bad if claims else claims)}: expected a "
                              "non-empty sequence of Claim records (select_claims, get_claim)")
    ids = [c.id for c in claims]
    started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    partial = out_dir / PARTIAL_DIR if out_dir is not None else None
    done: dict[str, Any] = {}
    if partial is not None:
        fingerprint = options.fingerprint(ids)
        if resume:
            done = load_partial_state(partial, fingerprint, ids)
        elif partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True, exist_ok=True)
        write_atomically(partial / "config.json", json.dumps({"fingerprint": fingerprint}))
    resumed = len(done)
    todo = [i for i in ids if i not in done]
    def record(claim_id: str, entry: dict[str, Any]) -> None:
        done[claim_id] = entry
        if partial is not None:
            write_atomically(partial / f"{claim_id}.json", json.dumps(entry, allow_nan=False))
        if progress is not None:
            progress(len(done), len(ids), claim_id, time.perf_counter() - started)

    by_id = {c.id: c for c in claims}
    workers = 1 if options.executor == "local" and options.jobs == 1 else (
        options.jobs or os.cpu_count() or 1)
    # Each claim's instances (drawn here, cheaply) are split into chunks so that one slow
    # claim's sweep also runs in parallel; results are reassembled in order.
    tasks = {cid: _chunks(claim_instances(by_id[cid], options), workers) for cid in todo}
    ChunkResult = tuple[Results, Failure | None, float]
    pending: dict[str, list[ChunkResult | None]] = {
        cid: [None] * len(chunks) for cid, chunks in tasks.items()}
    profile = options.resolved_profile()
    for cid in [c for c in todo if by_id[c].conditional or not tasks[c][0]]:
        record(cid, summarise(by_id[cid], [], None, 0.0))
        del pending[cid]
    # A worker process that dies takes the pool with it: chunks it left unfinished get one
    # more try in a fresh pool, then their claims are reported as errors.
    lost: list[tuple[str, int, BaseException]] = []
    for _attempt in (1, 2):
        jobs = [(cid, k) for cid, parts in pending.items() for k, part in enumerate(parts)
                if part is None]
        if not jobs:
            break
        lost = []
        with open_executor(options.executor, options.jobs) as executor:
            futures = {executor.submit(measure_chunk, cid, tasks[cid][k], profile): (cid, k)
                       for cid, k in jobs}
            for future in as_completed(futures):
                cid, k = futures[future]
                try:
                    pending[cid][k] = future.result()
                except Exception as exc:
                    lost.append((cid, k, exc))
                    continue
                if all(part is not None for part in pending[cid]):
                    parts = [part for part in pending.pop(cid) if part is not None]
                    results = [r for part in parts for r in part[0]]
                    failure = next((part[1] for part in parts if part[1]), None)
                    record(cid, summarise(by_id[cid], results, failure,
                                          sum(part[2] for part in parts)))
    for cid, _, failure_exc in lost:
        if cid in done:
            continue
        entry = summarise(by_id[cid], [], ("worker failed twice: " + repr(failure_exc),
                                           "".join(traceback.format_exception(failure_exc))),
                          0.0)
        record(cid, entry)
    entries = [done[i] for i in ids]
    statuses = [e["status"] for e in entries]
    summary = {"total": len(entries),
               **{s: statuses.count(s) for s in ("pass", "fail", "xfail", "skip", "error")}}
    report = {"schema_version": SCHEMA_VERSION,
              "header": _header(options, time.perf_counter() - started, started_at, resumed),
              "summary": summary, "claims": entries}
    validate_report(report)
    return report


def write_audit(report: dict[str, Any], out_dir: Path, *,
                html: bool = True) -> list[Path]:
    """Write ``audit.json``, ``audit.md`` (and ``audit.html``) into ``out_dir`` as one
    generation (:func:`verify.report.write.write_report_files`: all replaced together or not
    at all; an earlier run's ``audit.html`` is removed with ``html=False``), then remove the
    partial results."""
    validate_report(report)
    files = {"audit.json": json.dumps(report, indent=2, allow_nan=False) + "\n",
             "audit.md": render_markdown(report)}
    if html:
        from .report.html import render_html

        files["audit.html"] = render_html(report)
    write_report_files(out_dir, files, remove=() if html else ("audit.html",))
    shutil.rmtree(out_dir / PARTIAL_DIR, ignore_errors=True)
    return [out_dir / name for name in files]
